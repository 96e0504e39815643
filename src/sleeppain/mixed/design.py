"""Stage 2: build the mixed-model design from a parsed formula and a DataFrame.

Produces the fixed-effects matrix ``X``, the response ``y`` and one :class:`ReTerm` per
random-effect term (its model matrix and grouping-factor codes), after dropping rows with a
missing or non-finite value in any variable the formula uses (counted in
:class:`RowAccounting`). Terms are ordered as ``lme4::mkReTrms`` orders them (lme4 1.1-31):
when the numbers of levels are not already non-increasing, by ``rev(order(nlevels))`` --
decreasing number of levels, and, for ties, *reverse* formula order (that is what R's
``rev(order(.))`` does). This order defines the order of ``theta``.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from sleeppain.mixed import build_design
>>> rng = np.random.default_rng(1)
>>> df = pd.DataFrame({"y": rng.normal(size=40), "x": rng.normal(size=40),
...                    "g": np.repeat(np.arange(8), 5)})
>>> d = build_design("y ~ x + (1 + x | g)", df)
>>> d.X.shape, d.terms[0].ncols, d.terms[0].nlevels, d.ntheta
((40, 2), 2, 8, 3)
"""

from __future__ import annotations

import builtins
import difflib
import io
import itertools
import tokenize
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import patsy
import scipy.sparse as sparse

from sleeppain.accounting import Accounting
from sleeppain.errors import (
    DataDropWarning,
    DataStructureError,
    SleepPainWarning,
    SpecificationError,
)
from sleeppain.mixed._format import plain
from sleeppain.mixed.formula import ParsedFormula, ReTermSpec, parse_formula, split_top_level

__all__ = ["Design", "ReTerm", "RowAccounting", "build_design", "theta_layout"]

#: Relative tolerance for declaring a fixed-effects column aliased, as R's ``qr()``
#: (LINPACK dqrdc2, ``tol = 1e-7``) used by lme4's ``chkRank.drop.cols``.
RANK_TOL = 1e-7

_PATSY_NAMES = {
    "np",
    "numpy",
    "log",
    "exp",
    "sqrt",
    "C",
    "I",
    "Q",
    "center",
    "standardize",
    "scale",
    "Treatment",
    "Poly",
    "Sum",
    "Helmert",
    "Diff",
    "bs",
    "cr",
    "cc",
    "te",
    "True",
    "False",
    "None",
}

_EVAL_ENV = patsy.EvalEnvironment(
    [{"np": np, "numpy": np, "log": np.log, "exp": np.exp, "sqrt": np.sqrt}]
)


@dataclass(frozen=True)
class RowAccounting(Accounting):
    """Which rows a fit used and why the others were dropped.

    An :class:`~sleeppain.accounting.Accounting` record (stage ``"model rows"``): it has
    ``tidy()``, ``glance()``, ``summary()`` and ``to_frame()`` as every accounting record.

    Attributes
    ----------
    n_input : int
        Rows in the data passed in.
    n_used : int
        Rows used by the fit.
    dropped : tuple of (reason, count)
        Each dropped row is counted once, under the first variable (in formula order) that
        made it unusable; the counts add up to ``n_input - n_used``.

    Examples
    --------
    >>> acc = RowAccounting(10, 8, (("missing or non-finite 'y'", 2),))
    >>> acc.glance()[["stage", "rows_input", "rows_used", "rows_dropped"]].values.tolist()
    [['model rows', 10, 8, 2]]
    """

    stage: ClassVar[str] = "model rows"
    title: ClassVar[str] = "Model-row accounting"

    n_input: int
    n_used: int
    dropped: tuple[tuple[str, int], ...] = ()

    def _counts(self) -> tuple[int, int, tuple[tuple[str, int], ...]]:
        return self.n_input, self.n_used, self.dropped

    @property
    def n_dropped(self) -> int:
        """Number of rows dropped."""
        return self.n_input - self.n_used


@dataclass(frozen=True, eq=False)
class ReTerm:
    """One random-effect term after building: ``Z_i`` in factored form.

    Attributes
    ----------
    spec : ReTermSpec
        The parsed term.
    names : tuple of str
        Column names of the term's model matrix (patsy names, e.g. ``"Intercept"``, ``"x"``).
    Xi : ndarray, shape (n, p_i)
        The term's model matrix (lme4's "raw" random-effects model matrix).
    codes : ndarray of intp, shape (n,)
        Level index (0..nlevels-1) of each row.
    levels : ndarray, shape (nlevels,)
        Level labels, sorted as ``factor()`` sorts them.
    info : patsy.DesignInfo or None
        How to rebuild ``Xi`` for new data (None when built from plain numeric columns).
    """

    spec: ReTermSpec
    names: tuple[str, ...]
    Xi: np.ndarray
    codes: np.ndarray
    levels: np.ndarray
    info: Any = None

    @property
    def group(self) -> str:
        """Grouping factor name (``"person:day"`` for an interaction)."""
        return self.spec.group

    @property
    def label(self) -> str:
        """lme4 label of the term, e.g. ``"(1 + x | g)"``."""
        return self.spec.label

    @property
    def nlevels(self) -> int:
        """Number of levels of the grouping factor."""
        return len(self.levels)

    @property
    def ncols(self) -> int:
        """Number of random effects per level (p_i)."""
        return self.Xi.shape[1]

    @property
    def ntheta(self) -> int:
        """Number of covariance parameters: p_i (p_i + 1) / 2."""
        p = self.ncols
        return p * (p + 1) // 2


def theta_layout(ncols: tuple[int, ...] | list[int]) -> list[tuple[int, int, int]]:
    """Positions of theta: ``(term, row, col)`` of each element, in lme4 order.

    Each term contributes the lower triangle of its relative Cholesky factor in
    column-major order, terms in design order (lme4's ``getME(fit, "theta")``).

    Examples
    --------
    >>> theta_layout([2, 1])
    [(0, 0, 0), (0, 1, 0), (0, 1, 1), (1, 0, 0)]
    """
    out = []
    for t, p in enumerate(ncols):
        for c in range(p):
            for r in range(c, p):
                out.append((t, r, c))
    return out


@dataclass(frozen=True, eq=False)
class Design:
    """The model's design (output of stage 2).

    Attributes
    ----------
    parsed : ParsedFormula
    y : ndarray, shape (n,)
    X : ndarray, shape (n, p)
        Fixed-effects model matrix after dropping aliased columns.
    fixef_names : tuple of str
        patsy names of the columns of ``X``.
    dropped_fixef : tuple of str
        Aliased columns dropped (lme4's ``check.rankX = "message+drop.cols"``).
    terms : tuple of ReTerm
        Random-effect terms in lme4 order.
    rows : ndarray of intp
        Positions (0-based) in the input data of the rows used.
    index : pandas.Index
        Index labels of the rows used.
    accounting : RowAccounting
    fixed_info : patsy.DesignInfo or None
        Used to rebuild ``X`` for new data (``None`` when the fast numeric path built X).
    renamed : tuple of (column, identifier)
        Columns the formula named in a form patsy cannot read (``Q('pain score')``,
        `` `pain score` ``, ``Informed.liking``) and the identifier the patsy information
        uses for each (see :func:`sleeppain.mixed.formula.dotted_columns`).
    """

    parsed: ParsedFormula
    y: np.ndarray
    X: np.ndarray
    fixef_names: tuple[str, ...]
    dropped_fixef: tuple[str, ...]
    terms: tuple[ReTerm, ...]
    rows: np.ndarray
    index: pd.Index
    accounting: RowAccounting
    fixed_info: Any = None
    renamed: tuple[tuple[str, str], ...] = ()
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def with_safe_columns(self, newdata: pd.DataFrame) -> pd.DataFrame:
        """``newdata`` plus the identifier copies of :attr:`renamed` columns (for predict)."""
        extra = {safe: newdata[name] for name, safe in self.renamed if name in newdata.columns}
        return newdata.assign(**extra) if extra else newdata

    @property
    def n(self) -> int:
        """Number of observations used."""
        return self.y.shape[0]

    @property
    def p(self) -> int:
        """Number of fixed effects."""
        return self.X.shape[1]

    @property
    def q(self) -> int:
        """Total number of random effects (columns of Z)."""
        return sum(t.nlevels * t.ncols for t in self.terms)

    @property
    def ntheta(self) -> int:
        """Length of theta."""
        return sum(t.ntheta for t in self.terms)

    @property
    def layout(self) -> list[tuple[int, int, int]]:
        """``(term, row, col)`` of each theta element (see :func:`theta_layout`)."""
        return theta_layout([t.ncols for t in self.terms])

    @property
    def theta_lower(self) -> np.ndarray:
        """Lower bounds of theta: 0 for diagonal elements, -inf otherwise (lme4's ``lower``)."""
        return np.array([0.0 if r == c else -np.inf for _, r, c in self.layout])

    @property
    def theta_start(self) -> np.ndarray:
        """lme4's starting value: 1 on the diagonal, 0 off it."""
        return np.array([1.0 if r == c else 0.0 for _, r, c in self.layout])

    @property
    def single_factor(self) -> bool:
        """True when every term has the same grouping factor (block-diagonal fast path)."""
        first = self.terms[0]
        return all(
            t.spec.factors == first.spec.factors and np.array_equal(t.codes, first.codes)
            for t in self.terms[1:]
        )

    @property
    def ngroups(self) -> dict[str, int]:
        """Number of levels of each grouping factor."""
        out: dict[str, int] = {}
        for t in self.terms:
            out[t.group] = t.nlevels
        return out

    def Z(self) -> sparse.csc_matrix:
        """The sparse random-effects model matrix ``Z`` (n x q), lme4 column order.

        Within a term, columns are level-major: level 1's p_i effects, then level 2's...
        """
        if "Z" not in self._cache:
            n = self.n
            rows, cols, vals = [], [], []
            off = 0
            for t in self.terms:
                p = t.ncols
                for j in range(p):
                    rows.append(np.arange(n))
                    cols.append(off + t.codes * p + j)
                    vals.append(t.Xi[:, j])
                off += t.nlevels * p
            self._cache["Z"] = sparse.csc_matrix(
                (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                shape=(n, off),
            )
        return self._cache["Z"]


# ----------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------


def _names_in(expr: str) -> list[str]:
    """Identifiers an expression refers to (not attributes, not keyword names)."""
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(expr).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError) as exc:
        raise SpecificationError(f"cannot read the formula expression {expr!r}: {exc}") from exc
    out: list[str] = []
    for i, tok in enumerate(toks):
        if tok.type != tokenize.NAME:
            continue
        prev = toks[i - 1].string if i > 0 else ""
        nxt = toks[i + 1].string if i + 1 < len(toks) else ""
        if prev == "." or nxt == "=":
            continue
        out.append(tok.string)
    return out


def _check_columns(parsed: ParsedFormula, columns: list[str]) -> list[str]:
    """Referenced data columns in formula order; SpecificationError for unknown names."""
    colset = set(columns)
    exprs = [parsed.response, parsed.fixed]
    for t in parsed.re_terms:
        exprs.append(t.expr)
    used: list[str] = []
    for expr in exprs:
        for name in _names_in(expr):
            if name in colset:
                if name not in used:
                    used.append(name)
            elif name in _PATSY_NAMES or hasattr(builtins, name):
                continue
            else:
                _raise_missing(name, parsed.formula, columns)
    for t in parsed.re_terms:
        for f in t.factors:
            if f not in colset:
                _raise_missing(f, parsed.formula, columns)
            if f not in used:
                used.append(f)
    return used


def _raise_missing(name: str, formula: str, columns: list[str]) -> None:
    close = difflib.get_close_matches(name, [str(c) for c in columns], n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise SpecificationError(
        f"formula {formula!r} names {name!r}, which is not a column of the data.{hint} "
        f"Available columns: {', '.join(map(str, columns[:20]))}"
        f"{' ...' if len(columns) > 20 else ''}."
    )


def _is_plain_numeric(name: str, data: pd.DataFrame) -> bool:
    if name not in data.columns:
        return False
    dt = data[name].dtype
    return pd.api.types.is_numeric_dtype(dt) and not pd.api.types.is_bool_dtype(dt)


def _simple_columns(expr: str, data: pd.DataFrame) -> tuple[bool, list[str]] | None:
    """Parse ``"1 + a + b"`` / ``"0 + a"`` with plain numeric columns; None otherwise."""
    intercept = True
    cols: list[str] = []
    for raw in split_top_level(expr, "+"):
        piece = raw.strip()
        if piece == "1":
            continue
        if piece in ("0", "-1"):
            intercept = False
            continue
        if not _is_plain_numeric(piece, data) or piece in cols:
            return None
        cols.append(piece)
    return intercept, cols


def _as_float(values: pd.Series) -> np.ndarray:
    return values.to_numpy(dtype=float, na_value=np.nan)


def _model_matrix(
    expr: str,
    data: pd.DataFrame,
    where: str,
    cache: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, tuple[str, ...], Any]:
    """Model matrix of a right-hand side, fast for plain numeric columns, else patsy.

    The fast path returns a Fortran-ordered matrix (contiguous columns) built from the
    float columns in ``cache`` when given.
    """
    simple = _simple_columns(expr, data)
    n = len(data)
    if simple is not None:
        intercept, cols = simple
        names = (["Intercept"] if intercept else []) + cols
        out = np.empty((n, len(names)), order="F")
        j = 0
        if intercept:
            out[:, 0] = 1.0
            j = 1
        for c in cols:
            out[:, j] = cache[c] if cache is not None and c in cache else _as_float(data[c])
            j += 1
        return out, tuple(names), None
    try:
        # non-finite results (np.log(0)) are dropped and counted by build_design
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            mat = patsy.dmatrix(expr, data, eval_env=_EVAL_ENV, NA_action="raise")
    except SpecificationError:
        raise
    except Exception as exc:  # patsy raises PatsyError but also IndexError, TypeError...
        msg = exc.message if isinstance(exc, patsy.PatsyError) else f"{type(exc).__name__}: {exc}"
        raise SpecificationError(
            f"cannot build the {where} from {expr!r}: {msg}. Check the term's syntax "
            "(patsy: C(x), a:b, a*b, I(x**2), np.log(x))."
        ) from exc
    return (
        np.asfortranarray(mat, dtype=float),
        tuple(mat.design_info.column_names),
        mat.design_info,
    )


def _response(
    expr: str, data: pd.DataFrame, cache: dict[str, np.ndarray] | None = None
) -> np.ndarray:
    if _is_plain_numeric(expr, data):
        if cache is not None and expr in cache:
            return cache[expr]
        return _as_float(data[expr])
    if expr in data.columns:
        raise DataStructureError(
            f"the response {expr!r} must be numeric, but its dtype is {data[expr].dtype}. "
            "Convert it (e.g. pd.to_numeric) before fitting."
        )
    mat, names, _ = _model_matrix(f"0 + {expr}", data, "response")
    if mat.shape[1] != 1:
        raise SpecificationError(
            f"the response {expr!r} must be one numeric column; it expands to {list(names)}."
        )
    return mat[:, 0]


def _matrices(
    parsed: Any, sub: pd.DataFrame, cache: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], Any, list[Any], np.ndarray]:
    """Response, fixed-effects matrix (with names and patsy info), the random-effect
    terms' matrices and the mask of rows whose values are all finite after the
    transformations (e.g. not ``np.log(0)``); shared by the in-memory and Dask designs.
    """
    y = _response(parsed.response, sub, cache)
    X, names, info = _model_matrix(parsed.fixed, sub, "fixed-effects matrix", cache)
    mats = [
        _model_matrix(t.expr, sub, f"random-effect term {t.label}", cache) for t in parsed.re_terms
    ]
    finite = np.isfinite(y) & np.isfinite(X).all(axis=1)
    for m, _, _ in mats:
        finite &= np.isfinite(m).all(axis=1)
    return y, X, names, info, mats, finite


def _factorize_sorted(col: pd.Series) -> tuple[np.ndarray, Any]:
    """``pd.factorize(col, sort=True)``, without hashing for sorted integer columns.

    Diary data usually come sorted by an integer person id; then the codes are a running
    count of the changes of value (the same codes and levels as ``pd.factorize``).
    """
    dtype = col.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iu" and len(col) > 1:
        vals = col.to_numpy()
        if bool(np.all(vals[1:] >= vals[:-1])):
            brk = vals[1:] != vals[:-1]
            codes = np.empty(vals.size, dtype=np.intp)
            codes[0] = 0
            np.cumsum(brk, out=codes[1:])
            return codes, vals[np.concatenate([[0], np.flatnonzero(brk) + 1])]
    return pd.factorize(col, sort=True)


def _group_codes(data: pd.DataFrame, factors: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0..L-1 and labels of the (interaction of the) grouping factor(s)."""
    codes_list, uniq_list = [], []
    for f in factors:
        codes, uniques = _factorize_sorted(data[f])
        codes_list.append(codes.astype(np.intp))
        uniq_list.append(np.asarray(uniques, dtype=object))
    if len(factors) == 1:
        return codes_list[0], uniq_list[0]
    combined = np.zeros(len(data), dtype=np.int64)
    for codes, uniques in zip(codes_list, uniq_list, strict=True):
        combined = combined * len(uniques) + codes
    codes, uniques = pd.factorize(combined, sort=True)
    # decode labels
    parts = []
    rem = np.asarray(uniques, dtype=np.int64)
    for uniques_f in reversed(uniq_list):
        parts.append(uniques_f[rem % len(uniques_f)])
        rem = rem // len(uniques_f)
    parts.reverse()
    labels = np.array([":".join(str(v) for v in vals) for vals in zip(*parts, strict=True)])
    return codes.astype(np.intp), labels.astype(object)


def _drop_aliased(X: np.ndarray, names: tuple[str, ...]) -> tuple[np.ndarray, tuple, tuple]:
    """Drop aliased columns as R's ``qr()`` (dqrdc2) would in lme4's ``chkRank.drop.cols``.

    Columns are visited in order; a column whose residual after projection on the kept
    columns has norm below ``RANK_TOL`` times its own norm is dropped.
    """
    p = X.shape[1]
    if p == 0:
        return X, names, ()
    xtx = X.T @ X
    d = np.sqrt(np.diag(xtx))
    if np.all(d > 0):
        corr = xtx / np.outer(d, d)
        if np.linalg.eigvalsh(corr)[0] > 1e-8:
            return X, names, ()
    keep: list[int] = []
    Q = np.empty((X.shape[0], 0))
    for k in range(p):
        v = X[:, k]
        nv = np.linalg.norm(v)
        r = v - Q @ (Q.T @ v)
        r = r - Q @ (Q.T @ r)
        nr = np.linalg.norm(r)
        if nv == 0 or nr < RANK_TOL * nv:
            continue
        keep.append(k)
        Q = np.column_stack([Q, r / nr])
    dropped = tuple(names[k] for k in range(p) if k not in keep)
    return X[:, keep], tuple(names[k] for k in keep), dropped


def _lme4_order(nl: list[int]) -> list[int]:
    """lme4::mkReTrms term order: ``if (any(diff(nl) > 0)) ord <- rev(order(nl))``."""
    if any(b > a for a, b in itertools.pairwise(nl)):
        asc = sorted(range(len(nl)), key=lambda i: nl[i])  # R's order(): stable
        return asc[::-1]
    return list(range(len(nl)))


# ----------------------------------------------------------------------------------------
# stage entry
# ----------------------------------------------------------------------------------------


def build_design(
    formula: str | ParsedFormula,
    data: pd.DataFrame,
    *,
    stacklevel: int = 2,
    response_levels: tuple[Any, ...] | None = None,
) -> Design:
    """Build the design of a linear mixed model (stage 2 of the engine).

    Parameters
    ----------
    formula : str or ParsedFormula
        lme4-style formula (see :func:`sleeppain.mixed.parse_formula`).
    data : pandas.DataFrame
        One row per observation.
    stacklevel : int
        Passed to the warnings this stage issues, so they point at the user's call.
    response_levels : tuple, optional
        The user's values behind a coded response (``sp.clmm`` codes categories 0, 1, ...),
        so that messages name the value the user has, not its code.

    Returns
    -------
    Design

    Raises
    ------
    SpecificationError
        A formula names a column the data do not have (with close matches), or a term
        cannot be built.
    DataStructureError
        After dropping unusable rows: no rows left, a constant response, a grouping factor
        with a single level, as many levels as observations, or no more observations than
        random effects of a term (lme4's ``check.nlev.gtr.1``, ``check.nobs.vs.nlev`` and
        ``check.nobs.vs.nRE`` checks, which stop by default).

    Warns
    -----
    DataDropWarning
        Rows with a missing or non-finite value in a variable of the model were dropped
        (counted in ``Design.accounting``).
    SleepPainWarning
        The fixed-effects model matrix is rank deficient; the aliased columns are dropped
        (named in the message and in ``Design.dropped_fixef``).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1., 2, 4, 3, 5, 7], "g": list("aabbcc")})
    >>> build_design("y ~ 1 + (1 | g)", df).terms[0].levels.tolist()
    ['a', 'b', 'c']
    """
    parsed = formula if isinstance(formula, ParsedFormula) else parse_formula(formula)
    if not isinstance(data, pd.DataFrame):
        raise DataStructureError(
            f"data must be a pandas DataFrame, got {type(data).__name__}; wrap arrays with "
            "pd.DataFrame({...})."
        )
    columns = [str(c) for c in data.columns]
    used = _check_columns(parsed, columns)
    n_input = len(data)

    # --- rows with missing / non-finite values in used variables ---------------------
    ok = np.ones(n_input, dtype=bool)
    reasons: list[tuple[str, int]] = []
    cache: dict[str, np.ndarray] = {}
    for name in used:
        col = data[name]
        if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
            arr = _as_float(col)
            cache[name] = arr
            good = np.isfinite(arr)
        else:
            good = col.notna().to_numpy()
        newly = ok & ~good
        k = int(newly.sum())
        if k:
            reasons.append((f"missing or non-finite {name!r}", k))
            ok &= good
    if ok.all():
        sub = data
        rows = np.arange(n_input)
    else:
        rows = np.flatnonzero(ok)
        sub = data[used].iloc[rows]
        cache = {k: v[rows] for k, v in cache.items()}

    # --- response, fixed part, random parts --------------------------------------------
    y, X, fixef_names, fixed_info, mats, finite = _matrices(parsed, sub, cache)

    # non-finite values produced by transformations (e.g. np.log(0))
    if not finite.all():
        k = int((~finite).sum())
        reasons.append(("non-finite value after transformation (e.g. log of 0)", k))
        rows = rows[finite]
        sub = sub.iloc[np.flatnonzero(finite)]
        y, X = y[finite], X[finite]
        mats = [(m[finite], nm, info) for m, nm, info in mats]

    n = len(y)
    accounting = RowAccounting(n_input=n_input, n_used=n, dropped=tuple(reasons))
    if reasons:
        detail = "; ".join(f"{c} row(s): {r}" for r, c in reasons)
        warnings.warn(
            f"dropped {n_input - n} of {n_input} rows ({detail}); the fit's `accounting` "
            "lists them. Impute or clean the data to keep them.",
            DataDropWarning,
            stacklevel=stacklevel + 1,
        )
    if n == 0:
        raise DataStructureError(
            f"no complete rows left for {parsed.formula!r}: every row has a missing value in "
            f"a model variable ({', '.join(used)})."
        )
    if np.ptp(y) == 0:
        value = y[0] if response_levels is None else response_levels[int(y[0])]
        raise DataStructureError(
            f"the response {parsed.response!r} is constant (every one of the {n} rows used "
            f"is {plain(value)}); a mixed model needs variation in the outcome. Check the "
            "response column and any filtering of the rows, or model another outcome."
        )

    X, fixef_names, dropped = _drop_aliased(X, fixef_names)
    if dropped:
        warnings.warn(
            f"fixed-effect model matrix is rank deficient so dropping {len(dropped)} "
            f"column{'s' if len(dropped) > 1 else ''} / coefficient"
            f"{'s' if len(dropped) > 1 else ''}: {', '.join(dropped)} (aliased with earlier "
            "columns; remove or recode them to silence this).",
            SleepPainWarning,
            stacklevel=stacklevel + 1,
        )

    # --- grouping factors ----------------------------------------------------------
    built: list[ReTerm] = []
    for spec, (m, names, info) in zip(parsed.re_terms, mats, strict=True):
        codes, levels = _group_codes(sub, spec.factors)
        built.append(ReTerm(spec=spec, names=names, Xi=m, codes=codes, levels=levels, info=info))
    for t in built:
        if t.nlevels < 2:
            raise DataStructureError(
                f"grouping factor {t.group!r} of term {t.label} has {t.nlevels} level in the "
                f"{n} rows used; grouping factors must have > 1 sampled level (lme4 "
                "check.nlev.gtr.1). Drop the term or use more groups."
            )
        if t.nlevels >= n:
            raise DataStructureError(
                f"grouping factor {t.group!r} of term {t.label} has {t.nlevels} levels for "
                f"{n} observations; the number of levels of each grouping factor must be < "
                "number of observations (lme4 check.nobs.vs.nlev). Each group needs repeated "
                "observations."
            )
        if n <= t.nlevels * t.ncols:
            raise DataStructureError(
                f"number of observations (={n}) <= number of random effects "
                f"(={t.nlevels * t.ncols}) for term {t.label}; the random-effects parameters "
                "and the residual variance are probably unidentifiable (lme4 "
                "check.nobs.vs.nRE). Simplify the term, e.g. drop a random slope."
            )
    order = _lme4_order([t.nlevels for t in built])
    terms = tuple(built[i] for i in order)
    return Design(
        parsed=parsed,
        y=np.ascontiguousarray(y),
        X=X,
        fixef_names=fixef_names,
        dropped_fixef=dropped,
        terms=terms,
        rows=rows,
        index=data.index[rows],
        accounting=accounting,
        fixed_info=fixed_info,
    )
