"""Stage 1: parse an lme4-style mixed-model formula.

The fixed part is handed to patsy; the random-effect terms ``(expr | group)`` are taken
out and expanded as lme4 does (``lme4::findbars`` / ``expandDoubleVerts``, lme4 1.1-31):

* ``(1 + x || g)`` becomes ``(1 | g) + (0 + x | g)`` (one term per column block);
* ``(expr | a/b)`` becomes ``(expr | b:a) + (expr | a)`` (lme4's order and naming);
* ``(expr | a:b)`` groups by the observed combinations of ``a`` and ``b``.

Examples
--------
>>> from sleeppain.mixed import parse_formula
>>> pf = parse_formula("y ~ x + (1 + x || g) + (1 | person/day)")
>>> pf.fixed
'x'
>>> [t.label for t in pf.re_terms]
['(1 | g)', '(0 + x | g)', '(1 | day:person)', '(1 | person)']
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sleeppain.errors import SpecificationError

if TYPE_CHECKING:
    from sleeppain.mixed.design import Design

__all__ = [
    "DottedNames",
    "ParsedFormula",
    "ReTermSpec",
    "dotted_columns",
    "parse_formula",
    "split_top_level",
]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


@dataclass(frozen=True)
class ReTermSpec:
    """One random-effect term ``(expr | group)`` after expansion.

    Attributes
    ----------
    expr : str
        Right-hand side of the term's model matrix in patsy syntax (``"1"``, ``"1 + x"``,
        ``"0 + x"``); an intercept is implied unless ``0`` or ``-1`` is given, as in R.
    factors : tuple of str
        Column names whose interaction defines the grouping factor (``("person", "day")``
        for ``person:day``).
    """

    expr: str
    factors: tuple[str, ...]

    @property
    def group(self) -> str:
        """Name of the grouping factor as lme4 prints it (``"person:day"``)."""
        return ":".join(self.factors)

    @property
    def label(self) -> str:
        """The term as lme4 would deparse it, e.g. ``"(1 + x | g)"``."""
        return f"({self.expr} | {self.group})"


@dataclass(frozen=True)
class ParsedFormula:
    """A mixed-model formula split into response, fixed part and random-effect terms.

    Attributes
    ----------
    formula : str
        The formula as given.
    response : str
        Left-hand side (a column name or a patsy expression such as ``np.log(y)``).
    fixed : str
        Right-hand side of the fixed-effects part in patsy syntax (``"1"`` when only an
        intercept).
    re_terms : tuple of ReTermSpec
        Random-effect terms in formula order, after ``||`` and ``/`` expansion (the design
        stage reorders them as lme4 does).
    """

    formula: str
    response: str
    fixed: str
    re_terms: tuple[ReTermSpec, ...]


def split_top_level(text: str, sep: str) -> list[str]:
    """Split ``text`` on the one-character separator ``sep`` outside brackets.

    Examples
    --------
    >>> split_top_level("a + I(b + c) + (1 | g)", "+")
    ['a ', ' I(b + c) ', ' (1 | g)']
    """
    parts: list[str] = []
    depth = 0
    start = 0
    quote: str | None = None
    for i, ch in enumerate(text):
        if quote is not None:
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                raise SpecificationError(
                    f"unbalanced parentheses in {text!r}: a ')' at position {i} closes "
                    "nothing; check the formula's brackets."
                )
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth != 0 or quote is not None:
        raise SpecificationError(
            f"unbalanced parentheses or quotes in {text!r}; check the formula's brackets."
        )
    parts.append(text[start:])
    return parts


def _strip_outer_parens(term: str) -> str | None:
    """Return the inside of ``(...)`` when the parentheses enclose the whole term."""
    term = term.strip()
    if not (term.startswith("(") and term.endswith(")")):
        return None
    depth = 0
    for i, ch in enumerate(term):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0 and i != len(term) - 1:
                return None
    return term[1:-1]


def _has_top_level_bar(inner: str) -> bool:
    return len(split_top_level(inner, "|")) > 1


def _parse_group(group: str, term: str) -> list[tuple[str, ...]]:
    """Grouping factors of a term, expanded as ``lme4::findbars`` does.

    ``a/b/c`` -> [(c, b, a), (b, a), (a,)] (lme4: ``c:(b:a)``, ``b:a``, ``a``);
    ``a:b`` -> [(a, b)].
    """
    pieces: list[tuple[str, ...]] = []
    for piece in (g.strip() for g in group.split("/")):
        factors = tuple(f.strip() for f in piece.split(":"))
        for f in factors:
            if not _IDENT.match(f):
                raise SpecificationError(
                    f"random-effect term {term!r}: grouping factor {f!r} is not a column "
                    "name. Write the grouping side as a column name, 'a:b' (interaction) or "
                    "'a/b' (b nested in a), e.g. '(1 | person/day)'."
                )
        pieces.append(factors)
    out: list[tuple[str, ...]] = []
    for k in range(len(pieces), 0, -1):
        combined: tuple[str, ...] = ()
        for piece_factors in reversed(pieces[:k]):
            combined = combined + piece_factors
        out.append(combined)
    return out


def _split_expr_terms(expr: str) -> tuple[bool, list[str]]:
    """Split a random-effect expression into (has_intercept, non-intercept terms)."""
    pieces = [p.strip() for p in split_top_level(expr, "+")]
    intercept = True
    terms: list[str] = []
    for piece in pieces:
        if piece == "":
            continue
        # handle "x - 1" style removals
        sub = [s.strip() for s in split_top_level(piece, "-")]
        head, removals = sub[0], sub[1:]
        for r in removals:
            if r in ("1", "0"):
                intercept = False
            elif r:
                raise SpecificationError(
                    f"random-effect expression {expr!r}: removing {r!r} is not supported; "
                    "write the columns you want, e.g. '(0 + x | g)'."
                )
        if head in ("0", "-1"):
            intercept = False
        elif head == "1":
            intercept = True
        elif head:
            terms.append(head)
    return intercept, terms


def parse_formula(formula: str) -> ParsedFormula:
    """Parse an lme4-style formula (stage 1 of the engine).

    Parameters
    ----------
    formula : str
        ``"response ~ fixed + (expr | group) + ..."``. Fixed part: patsy syntax
        (``C(x)``, ``a:b``, ``a*b``, ``I(x**2)``, ``np.log(x)``). Random part: lme4 syntax
        ``(1 | g)``, ``(1 + x | g)``, ``(x | g)``, ``(0 + x | g)``, ``(1 + x || g)``,
        ``(1 | a/b)``, ``(1 | a:b)``.

    Returns
    -------
    ParsedFormula

    Raises
    ------
    SpecificationError
        No ``~``, no random-effect term, or a malformed random-effect term.

    Examples
    --------
    >>> pf = parse_formula("Reaction ~ Days + (Days | Subject)")
    >>> pf.response, pf.fixed, pf.re_terms[0].label
    ('Reaction', 'Days', '(Days | Subject)')
    """
    if not isinstance(formula, str):
        raise SpecificationError(
            f"formula must be a string such as 'y ~ x + (1 | g)', got {type(formula).__name__}."
        )
    sides = split_top_level(formula, "~")
    if len(sides) != 2 or not sides[0].strip():
        raise SpecificationError(
            f"formula {formula!r} must have exactly one '~' with the response on its left, "
            "e.g. 'pain ~ sleep + (1 | id)'."
        )
    response = sides[0].strip()
    rhs = sides[1].strip()
    if not rhs:
        raise SpecificationError(f"formula {formula!r} has nothing right of '~'.")
    fixed_parts: list[str] = []
    re_terms: list[ReTermSpec] = []
    for raw in split_top_level(rhs, "+"):
        piece = raw.strip()
        if not piece:
            raise SpecificationError(
                f"formula {formula!r} has an empty term (two '+' in a row or a trailing '+')."
            )
        inner = _strip_outer_parens(piece)
        if inner is None or not _has_top_level_bar(inner):
            if "|" in piece:
                raise SpecificationError(
                    f"malformed random-effect term {piece.strip()!r} in {formula!r}: random "
                    "effects must be written in their own parentheses, e.g. '(1 + x | g)'."
                )
            fixed_parts.append(piece)
            continue
        bars = split_top_level(inner, "|")
        if len(bars) == 3 and bars[1] == "":
            double = True
            expr, group = bars[0].strip(), bars[2].strip()
        elif len(bars) == 2:
            double = False
            expr, group = bars[0].strip(), bars[1].strip()
        else:
            raise SpecificationError(
                f"malformed random-effect term {piece!r} in {formula!r}: use '(expr | group)' "
                "or '(expr || group)'."
            )
        if not expr or not group:
            raise SpecificationError(
                f"malformed random-effect term {piece!r} in {formula!r}: both sides of '|' "
                "are needed, e.g. '(1 | person)'."
            )
        intercept, terms = _split_expr_terms(expr)
        if not intercept and not terms:
            raise SpecificationError(
                f"random-effect term {piece!r} in {formula!r} has no columns; write e.g. "
                "'(1 | g)' or '(0 + x | g)'."
            )
        groups = _parse_group(group, piece)
        if double:
            exprs = (["1"] if intercept else []) + [f"0 + {t}" for t in terms]
        else:
            exprs = [expr]
        for g in groups:
            for e in exprs:
                re_terms.append(ReTermSpec(expr=e, factors=g))
    if not re_terms:
        raise SpecificationError(
            f"formula {formula!r} has no random-effect term; add one such as '(1 | id)', or "
            "use an ordinary regression (statsmodels OLS) for a model without random effects."
        )
    fixed = " + ".join(p.strip() for p in fixed_parts) if fixed_parts else "1"
    return ParsedFormula(formula=formula, response=response, fixed=fixed, re_terms=tuple(re_terms))


# ----------------------------------------------------------------------- R-style names
#: A quoted column name: patsy's ``Q('pain score')`` / ``Q("pain score")`` or R's backticks
#: `` `pain score` `` (formulaic too).
_QUOTED = re.compile(r"""(?<![\w.])Q\(\s*(['"])(.*?)\1\s*\)|`([^`]+)`""")

#: A dotted name as R writes it (``Informed.liking``); not followed by ``(`` (a call such as
#: ``np.log(x)``) and not preceded by a quote, dot or word character.
_DOTTED = re.compile(r"(?<![\w.'\"])([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)+)(?![\w.(])")


@dataclass(frozen=True)
class DottedNames:
    """Dotted column names (R style) renamed to identifiers for the formula machinery.

    Attributes
    ----------
    pairs : tuple of (dotted, safe)
        Each dotted column and the identifier it was read under.

    Examples
    --------
    >>> names = DottedNames((("Informed.liking", "Informed_liking"),))
    >>> names.restore("Informed_liking:C(Product)[T.b]")
    'Informed.liking:C(Product)[T.b]'
    """

    pairs: tuple[tuple[str, str], ...] = ()

    def restore(self, text: str) -> str:
        """``text`` with every safe identifier written back as its dotted name."""
        for dotted, safe in self.pairs:
            text = re.sub(rf"(?<![\w.]){re.escape(safe)}(?![\w])", dotted, text)
        return text

    def _all(self, items: Iterable[str]) -> tuple[str, ...]:
        return tuple(self.restore(str(x)) for x in items)

    def restore_design(self, design: Design, formula: str) -> Design:
        """The design with its formula, term and coefficient names in the dotted form.

        The patsy information used to rebuild the model matrices for new data keeps the
        safe names (``predict(newdata)`` on such a model needs the renamed columns).
        """
        if not self.pairs:
            return design
        pf = design.parsed
        parsed = ParsedFormula(
            formula=formula,
            response=self.restore(pf.response),
            fixed=self.restore(pf.fixed),
            re_terms=tuple(
                ReTermSpec(self.restore(t.expr), self._all(t.factors)) for t in pf.re_terms
            ),
        )
        terms = tuple(
            dataclasses.replace(
                t,
                spec=ReTermSpec(self.restore(t.spec.expr), self._all(t.spec.factors)),
                names=self._all(t.names),
            )
            for t in design.terms
        )
        accounting = dataclasses.replace(
            design.accounting,
            dropped=tuple((self.restore(r), c) for r, c in design.accounting.dropped),
        )
        return dataclasses.replace(
            design,
            parsed=parsed,
            fixef_names=self._all(design.fixef_names),
            dropped_fixef=self._all(design.dropped_fixef),
            terms=terms,
            accounting=accounting,
            renamed=self.pairs,
        )


def dotted_columns(formula: Any, data: Any) -> tuple[Any, Any, DottedNames]:
    """Accept column names that are not identifiers: R-style dotted names
    (``Informed.liking ~ Product``) and quoted names, patsy's ``Q('pain score')`` or R's
    (and formulaic's) backticks `` `pain score` ``, anywhere in the formula: response,
    fixed part, random-effect expressions and grouping factors.

    A quoted name is read under an identifier (spaces and other characters ->
    underscores, made unique), as is a dotted name in the formula that is a column of ``data`` (and not a call such as
    ``np.log(x)``) is read under an identifier (dots -> underscores, made unique), in the
    formula and in a renamed shallow copy of ``data``; :meth:`DottedNames.restore_design`
    writes the names back after the design is built. A table with ``to_pandas()``
    (polars, pyarrow) is converted first, and pyarrow-backed columns become numpy-backed
    ones (patsy cannot read them).

    Parameters
    ----------
    formula : str
    data : DataFrame

    Returns
    -------
    formula, data, DottedNames
        Unchanged (and an empty DottedNames) when no dotted or quoted column is named.

    Raises
    ------
    SpecificationError
        A quoted name is not a column of ``data`` (close matches are suggested).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"Informed.liking": [1.0], "Product": ["a"]})
    >>> f, d, names = dotted_columns("Informed.liking ~ Product + (1 | Product)", df)
    >>> f, list(d.columns), names.pairs
    ('Informed_liking ~ Product + (1 | Product)', ['Informed_liking', 'Product'], (('Informed.liking', 'Informed_liking'),))
    >>> df = pd.DataFrame({"pain score": [1.0], "person id": [1]})
    >>> dotted_columns("Q('pain score') ~ 1 + (1 | `person id`)", df)[0]
    'pain_score ~ 1 + (1 | person_id)'
    """
    import pandas as pd

    if isinstance(data, pd.DataFrame) or callable(getattr(data, "to_pandas", None)):
        # polars / pyarrow tables, pyarrow-backed columns, integer column labels
        from sleeppain.diary._frames import as_pandas

        data = as_pandas(data, "sp.lmm")
    if not isinstance(formula, str) or not isinstance(data, pd.DataFrame):
        return formula, data, DottedNames()
    columns = {str(c) for c in data.columns}
    quoted = _quoted_columns(formula, [str(c) for c in data.columns])
    # identifiers quoted without need (Q('x'), `x`) are written plainly
    unquoted = _QUOTED.sub(lambda m: _quoted_name(m), formula) if quoted else formula
    found = [m for m in dict.fromkeys(_DOTTED.findall(_QUOTED.sub("", formula))) if m in columns]
    if not found and all(_IDENT.match(q) and "." not in q for q in quoted):
        return unquoted, data, DottedNames()
    taken = set(columns) | set(re.findall(r"[A-Za-z_]\w*", formula))
    pairs: list[tuple[str, str]] = []
    for name in found:
        pairs.append((name, _safe_name(name, taken)))
    for name in quoted:
        if (not _IDENT.match(name) or "." in name) and name not in found:
            pairs.append((name, _safe_name(name, taken)))
    safe_of = dict(pairs)
    quote: Callable[[re.Match[str]], str] = lambda m: safe_of.get(_quoted_name(m), _quoted_name(m))  # noqa: E731
    rename: Callable[[re.Match[str]], str] = lambda m: safe_of.get(m[1], m[0])  # noqa: E731
    new_formula = _DOTTED.sub(rename, _QUOTED.sub(quote, formula)) if pairs else unquoted
    new_data = data.rename(columns=safe_of) if pairs else data
    return new_formula, new_data, DottedNames(tuple(pairs))


def _safe_name(name: str, taken: set[str]) -> str:
    """An identifier for the column ``name`` not in ``taken`` (which it joins)."""
    safe = re.sub(r"\W", "_", name)
    if not safe or not (safe[0].isalpha() or safe[0] == "_"):
        safe = "_" + safe
    while safe in taken:
        safe += "_"
    taken.add(safe)
    return safe


def _quoted_name(m: re.Match[str]) -> str:
    return m[2] if m[2] is not None else m[3]


def _quoted_columns(formula: str, columns: list[str]) -> list[str]:
    """Column names quoted as ``Q('name')`` or `` `name` `` in ``formula`` (in order).

    Raises SpecificationError (with close matches) for a quoted name that is no column.
    """
    names = list(dict.fromkeys(_quoted_name(m) for m in _QUOTED.finditer(formula)))
    for name in names:
        if name not in columns:
            close = difflib.get_close_matches(name, columns, n=3, cutoff=0.6)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise SpecificationError(
                f"formula {formula!r} quotes {name!r}, which is not a column of the data."
                f"{hint} Quote the column's exact name, e.g. Q('pain score') or "
                "`pain score`."
            )
    return names
