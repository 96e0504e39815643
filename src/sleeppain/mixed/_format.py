"""R's printing conventions for the text summary of a fit (private helpers).

Ports of the pieces of base R and lme4 that ``summary(lmer(...))`` prints with: ``round``
(R >= 4.0.0: the nearer of the two decimal candidates, ties to even), ``format(x, digits)``
(``formatReal``: a common number of significant digits, fixed or scientific notation for
the whole vector), ``format.pval``, ``abbreviate``, ``printCoefmat`` and ``print`` of a
character matrix. Reference: R 4.2.2 (``src/main/format.c``, ``src/library/stats/R/lm.R``,
``src/library/base/R/format.R``); lme4 1.1-31 (``print.summary.merMod``, ``formatVC``).
Checked against R's output in tests/mixed/test_summary.py (exact strings).

Examples
--------
>>> format_real([251.405, 6.825, 10.467, 1.546], digits=4)
['251.405', '  6.825', ' 10.467', '  1.546']
>>> format_pval([1e-20, 3.26e-06], digits=3)
['< 2e-16', '3.26e-06']
>>> abbreviate(["(Intercept)", "Days"], 6)
['(Intr)', 'Days']
>>> plain(np.float64(3.0)), plain(np.int64(7)), plain("a")
('3', '7', "'a'")
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

__all__ = [
    "SIGNIF_LEGEND",
    "abbreviate",
    "coefmat_cells",
    "coefmat_lines",
    "format_pval",
    "format_real",
    "make_unique",
    "matrix_lines",
    "named_vector_lines",
    "plain",
    "r_round",
    "signif_stars",
]

#: ``.Machine$double.eps``: p-values below it print as ``< 2e-16`` (``format.pval``).
EPS = float(np.finfo(float).eps)
#: printCoefmat's legend (R prints typographic quotes in a UTF-8 locale, these in others).
SIGNIF_LEGEND = "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"
_KP_MAX = 22


def r_round(x: float, digits: float) -> float:
    """R's ``round(x, digits)``: the nearer of the two decimal candidates, ties to even."""
    if not math.isfinite(x) or x == 0.0:
        return x
    dig = math.floor(digits + 0.5)
    if dig == 0:
        return float(round(x))
    sgn = -1.0 if x < 0 else 1.0
    ax = abs(x)
    if dig > 0 and math.log10(ax) + dig > 15:
        return x
    if dig < 0:
        p10 = 10.0 ** (-dig)
        x10 = ax / p10
        i10 = math.floor(x10)
        xd, xu = i10 * p10, math.ceil(x10) * p10
    else:
        p10 = 10.0**dig
        x10 = p10 * ax
        i10 = math.floor(x10)
        xd, xu = i10 / p10, math.ceil(x10) / p10
    du, dd = xu - ax, ax - xd
    return sgn * (xu if (du < dd or (du == dd and i10 % 2 == 1)) else xd)


def _scientific(x: float, digits: int) -> tuple[bool, int, int, bool]:
    """``scientific()`` of R's format.c: (negative, exponent, significant digits, widens)."""
    if x == 0.0:
        return False, 0, 1, False
    neg = x < 0
    r = abs(x)
    kp = math.floor(math.log10(r)) - digits + 1
    r_prec = Fraction(r) / Fraction(10) ** kp
    if r_prec < Fraction(10) ** (digits - 1):
        r_prec *= 10
        kp -= 1
    alpha = round(r_prec)  # ties to even, as nearbyintl
    nsig = digits
    for _ in range(digits):
        if alpha % 10 == 0:
            nsig -= 1
            alpha //= 10
        else:
            break
    if nsig == 0 and digits > 0:
        nsig = 1
        kp += 1
    kpower = kp + digits - 1
    rgt = min(max(digits - kpower, 0), _KP_MAX)
    fuzz = 0.5 / 10.0**rgt
    widens = 0 < kpower <= _KP_MAX and r < 10.0**kpower - fuzz
    return neg, kpower, nsig, widens


def format_real(values: Sequence[float], digits: int = 7, nsmall: int = 0) -> list[str]:
    """R's ``format(x, digits = digits, nsmall = nsmall)`` for a numeric vector.

    One format for all elements (``formatReal``): enough significant digits (at most
    ``digits``) to show each element, fixed notation unless scientific is narrower;
    common width, right-justified. NaN prints as ``NaN``, infinities as ``Inf``/``-Inf``.
    """
    vals = [float(v) for v in values]
    rgt = mxl = mxsl = mxns = -(10**9)
    mnl = 10**9
    neg = 0
    finite = [v for v in vals if math.isfinite(v)]
    for v in finite:
        neg_i, kpower, nsig, widens = _scientific(v, digits)
        left = kpower + 1 - (1 if widens else 0)
        sleft = int(neg_i) + (1 if left <= 0 else left)
        right = nsig - left
        neg = max(neg, int(neg_i))
        rgt, mxl, mnl = max(rgt, right), max(mxl, left), min(mnl, left)
        mxsl, mxns = max(mxsl, sleft), max(mxns, nsig)
    w = d = e = 0
    if finite:
        if mxl < 0:
            mxsl = 1 + neg
        rgt = max(rgt, 0)
        wF = mxsl + rgt + (rgt != 0)
        e = 2 if (mxl > 100 or mnl <= -99) else 1
        d = mxns - 1
        w = neg + (d > 0) + d + 4 + e
        if wF <= w:
            e = 0
            if nsmall > rgt:
                rgt = nsmall
                wF = mxsl + rgt + (rgt != 0)
            d, w = rgt, wF
    out = []
    for v in vals:
        v = 0.0 if v == 0 else v  # R prints negative zero as 0
        if math.isnan(v):
            s = "NaN"
        elif math.isinf(v):
            s = "Inf" if v > 0 else "-Inf"
        elif e:
            s = f"{v:#.{d}e}" if d > 0 else f"{v:.0e}"
        else:
            s = f"{v:.{d}f}"
        out.append(s)
    width = max([w, *(len(s) for s in out)])
    return [s.rjust(width) for s in out]


def format_pval(pv: Sequence[float], digits: int = 3, eps: float = EPS) -> list[str]:
    """R's ``format.pval(pv, digits, eps)``: ``< 2e-16`` (or ``<2e-16``) below ``eps``."""
    pv = [float(p) for p in pv]
    out = [""] * len(pv)
    idx = [i for i, p in enumerate(pv) if not math.isnan(p)]
    is0 = [i for i in idx if pv[i] < eps]
    rest = [i for i in idx if pv[i] >= eps]
    expo = {i: math.floor(math.log10(pv[i] if pv[i] > 0 else 1e-50)) for i in rest}
    fixp = [i for i in rest if expo[i] >= -3 or (expo[i] == -4 and digits > 1)]
    sci = [i for i in rest if i not in fixp]
    for group in (fixp, sci):
        if group:
            for i, s in zip(group, format_real([pv[i] for i in group], digits), strict=True):
                out[i] = s
    if is0:
        dig = max(1, digits - 2)
        if rest:
            nc = max(len(out[i]) for i in rest)
            if dig > 1 and dig + 6 > nc:
                dig = max(1, nc - 7)
            sep = "" if (dig == 1 and nc <= 6) else " "
        else:
            sep = "" if dig == 1 else " "
        txt = "<" + sep + format_real([eps], dig)[0]
        for i in is0:
            out[i] = txt
    for i, p in enumerate(pv):
        if math.isnan(p):
            out[i] = "NA"
    return out


def signif_stars(pv: Sequence[float]) -> list[str]:
    """``symnum`` codes of printCoefmat (``***`` for p <= 0.001 ...), padded to one width."""
    codes = []
    for p in pv:
        if math.isnan(p):
            codes.append("")
        elif p <= 0.001:
            codes.append("***")
        elif p <= 0.01:
            codes.append("**")
        elif p <= 0.05:
            codes.append("*")
        elif p <= 0.1:
            codes.append(".")
        else:
            codes.append(" ")
    width = max((len(c) for c in codes), default=0)
    return [c.ljust(width) for c in codes]


def _strip_chars(s: str, minlen: int) -> str:
    """``stripchars`` of R's character.c (``abbreviate`` with ``use.classes = TRUE``)."""
    b = list(s)
    if len(b) < minlen:
        return s
    nspace = 0
    trailing = True
    for i in range(len(b) - 1, 0, -1):
        if b[i].isspace():
            if trailing:
                del b[i:]
            else:
                nspace += 1
        else:
            trailing = False
        if len(b) - nspace <= minlen:
            return _drop_spaces(b, minlen)

    def first(i: int) -> bool:
        return b[i - 1].isspace()

    def last(i: int) -> bool:
        return not b[i - 1].isspace() and (i + 1 >= len(b) or b[i + 1].isspace())

    tests = [
        lambda i: b[i] in "aeiou" and last(i),
        lambda i: b[i] in "aeiou" and not first(i),
        lambda i: b[i].islower() and last(i),
        lambda i: b[i].islower() and not first(i),
        lambda i: not first(i) and not b[i].isspace(),
    ]
    for test in tests:
        for i in range(len(b) - 1, 0, -1):
            if i < len(b) and test(i):
                del b[i]
            if len(b) - nspace <= minlen:
                return _drop_spaces(b, minlen)
    return _drop_spaces(b, minlen)


def _drop_spaces(b: list[str], minlen: int) -> str:
    if len(b) > minlen:
        b = [b[0]] + [c for c in b[1:] if not c.isspace()]
    return "".join(b)


def abbreviate(names: Sequence[str], minlength: int) -> list[str]:
    """R's ``abbreviate(names, minlength)`` (method ``"left.kept"``, unique results)."""
    old = [n.strip(" ") for n in names]
    uniq = list(dict.fromkeys(old))
    x = list(uniq)
    todo = [True] * len(uniq)
    m = minlength
    while True:
        for i, flag in enumerate(todo):
            if flag:
                x[i] = _strip_chars(uniq[i], m) if len(uniq[i]) > m else uniq[i]
        seen: set[str] = set()
        dup = []
        for v in x:
            dup.append(v in seen)
            seen.add(v)
        if not any(dup):
            break
        m += 1
        dupvals = {v for v, d in zip(x, dup, strict=True) if d}
        todo = [d or v in dupvals for v, d in zip(x, dup, strict=True)]
    lookup = dict(zip(uniq, x, strict=True))
    return [lookup[n] for n in old]


def make_unique(names: Sequence[str]) -> list[str]:
    """R's ``make.unique``: later duplicates get ``.1``, ``.2``..."""
    seen: set[str] = set(names)
    counts: dict[str, int] = {}
    out = []
    used: set[str] = set()
    for n in names:
        if n not in used:
            out.append(n)
            used.add(n)
            continue
        k = counts.get(n, 0)
        while True:
            k += 1
            cand = f"{n}.{k}"
            if cand not in seen and cand not in used:
                break
        counts[n] = k
        out.append(cand)
        used.add(cand)
    return out


def matrix_lines(
    cells: Sequence[Sequence[str]],
    colnames: Sequence[str],
    rownames: Sequence[str] | None = None,
    right: bool = True,
) -> list[str]:
    """R's ``print(<character matrix>, quote = FALSE, right = right)``, lines right-stripped.

    Row names are left-justified; each column is as wide as its widest entry or label and
    preceded by one space. ``right`` justifies entries and labels.
    """
    nrow = len(cells)
    rn = list(rownames) if rownames is not None else [""] * nrow
    rw = max([0, *(len(r) for r in rn)])
    widths = [max([len(c), *(len(row[j]) for row in cells)]) for j, c in enumerate(colnames)]

    def just(s: str, w: int) -> str:
        return s.rjust(w) if right else s.ljust(w)

    lines = [" " * rw + "".join(" " + just(c, w) for c, w in zip(colnames, widths, strict=True))]
    for r, row in zip(rn, cells, strict=True):
        lines.append(
            r.ljust(rw) + "".join(" " + just(s, w) for s, w in zip(row, widths, strict=True))
        )
    return [ln.rstrip() for ln in lines]


def named_vector_lines(values: Sequence[str], names: Sequence[str]) -> list[str]:
    """R's ``print`` of a named vector (formatted entries): names over values, right-justified."""
    w = max([*(len(v) for v in values), *(len(n) for n in names)])
    return [
        " ".join(n.rjust(w) for n in names).rstrip(),
        " ".join(v.rjust(w) for v in values).rstrip(),
    ]


def coefmat_cells(
    x: np.ndarray, colnames: Sequence[str], digits: int = 4
) -> tuple[list[list[str]], list[str], bool]:
    """The formatted cells of R's ``printCoefmat(x, digits)`` as lmerTest and lme4 call it.

    Columns before the test statistic (estimate, standard error and, for lmerTest, df) are
    rounded to one number of decimals and formatted together with ``digits`` significant
    digits; the statistic is rounded to ``digits - 1`` decimals; the p-value column (a last
    column named ``Pr(...``) goes through :func:`format_pval` with ``digits - 1`` digits and
    gets a column of significance stars when any p-value is below 0.1.

    Returns
    -------
    cells, colnames, stars
        Cells row by row; the column labels (``""`` for the stars column); whether the
        stars (and so the legend) are shown.
    """
    xm = np.asarray(x, dtype=float)
    nr, nc = xm.shape
    has_p = nc >= 4 and colnames[-1][:3] in ("Pr(", "p-v")
    k = nc - int(has_p) - 1
    dig_tst = max(1, min(5, digits - 1))
    cf = [["" for _ in range(nc)] for _ in range(nr)]
    ok = ~np.isnan(xm)
    if k > 0:
        cs = xm[:, :k]
        acs = np.abs(cs)
        ia = np.isfinite(acs)
        if ia.any():
            nz = acs[ia & (acs != 0)]
            digmin = 1 + (math.floor(math.log10(nz.min())) if nz.size else 0)
            rnd = max(1, digits - digmin)
            txt = format_real([r_round(v, rnd) for v in cs.T.ravel()], digits)
            for j in range(k):
                for i in range(nr):
                    cf[i][j] = txt[j * nr + i]
    for i, s in enumerate(format_real([r_round(v, dig_tst) for v in xm[:, k]], digits)):
        cf[i][k] = s
    # a non-zero number shown as zero gets one digit fewer, in its own format (printCoefmat)
    cells = [(i, j) for j in range(k) for i in range(nr) if ok[i, j]]
    fix = [(i, j) for i, j in cells if (xm[i, j] == 0) != (float(cf[i][j]) == 0)]
    if fix:
        txt = format_real([xm[i, j] for i, j in fix], max(1, digits - 1))
        for (i, j), s in zip(fix, txt, strict=True):
            cf[i][j] = s
    for i in range(nr):
        for j in range(nc - int(has_p)):
            if np.isnan(xm[i, j]):
                cf[i][j] = "NaN"
    names = list(colnames)
    stars = False
    if has_p:
        pv = xm[:, -1]
        for i, s in enumerate(format_pval(pv, dig_tst)):
            cf[i][-1] = s
        okp = ~np.isnan(pv)
        stars = bool(okp.any() and (pv[okp] < 0.1).any())
        if stars:
            for row, s in zip(cf, signif_stars(pv), strict=True):
                row.append(s)
            names.append("")
    return cf, names, stars


def coefmat_lines(
    x: np.ndarray, rownames: Sequence[str], colnames: Sequence[str], digits: int = 4
) -> list[str]:
    """R's ``printCoefmat(x, digits)``: the table and, with stars, the legend.

    Examples
    --------
    >>> x = np.array([[251.405, 6.825, 17.0, 36.838, 1e-17],
    ...               [10.467, 1.546, 17.0, 6.771, 3.26e-6]])
    >>> lines = coefmat_lines(x, ["(Intercept)", "Days"],
    ...     ["Estimate", "Std. Error", "df", "t value", "Pr(>|t|)"])
    >>> for line in lines[:3]:
    ...     print(line)
                Estimate Std. Error      df t value Pr(>|t|)
    (Intercept)  251.405      6.825  17.000  36.838  < 2e-16 ***
    Days          10.467      1.546  17.000   6.771 3.26e-06 ***
    """
    cells, names, stars = coefmat_cells(x, colnames, digits)
    lines = matrix_lines(cells, names, list(rownames), right=True)
    if stars:
        lines += ["---", SIGNIF_LEGEND]
    return lines


def plain(value: object) -> str:
    """A value as a user wrote it, for error messages (never a NumPy repr).

    NumPy scalars become Python ones, whole floats print without ``.0`` (``3``, not
    ``np.float64(3.0)``), other floats with up to 6 significant digits, strings quoted,
    dates as ``2024-03-02``.

    Examples
    --------
    >>> plain(np.float64(2.5)), plain(np.bool_(True)), plain(np.datetime64("2024-03-02"))
    ('2.5', 'True', '2024-03-02')
    """
    if isinstance(value, np.generic):
        if isinstance(value, np.datetime64):
            return str(value)
        value = value.item()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value == round(value) and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.6g}"
    if isinstance(value, str):
        return repr(value)
    if hasattr(value, "isoformat") and hasattr(value, "normalize"):  # pandas Timestamp
        ts = value.normalize()  # type: ignore[attr-defined]
        return str(ts.date()) if ts == value else str(value)
    return str(value)
