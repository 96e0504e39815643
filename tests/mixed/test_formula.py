"""Stage 1: parsing lme4-style formulas (expansion rules of lme4 1.1-31's findbars)."""

from __future__ import annotations

import pytest

from sleeppain.errors import SpecificationError
from sleeppain.mixed import parse_formula


def labels(formula: str) -> list[str]:
    return [t.label for t in parse_formula(formula).re_terms]


def test_basic_split():
    pf = parse_formula("y ~ x + C(g) + I(x**2) + (1 + x | id)")
    assert pf.response == "y"
    assert pf.fixed == "x + C(g) + I(x**2)"
    assert labels("y ~ x + (1 + x | id)") == ["(1 + x | id)"]


def test_only_random_gives_intercept_fixed_part():
    assert parse_formula("y ~ (1 | g)").fixed == "1"


def test_parenthesised_fixed_terms_and_removals_stay_fixed():
    pf = parse_formula("np.log(y) ~ (x + z):w - 1 + (1 | g)")
    assert pf.response == "np.log(y)"
    assert pf.fixed == "(x + z):w - 1"


def test_double_bar_expands_like_lme4():
    # lme4::expandDoubleVerts: (1 + x || g) -> (1 | g) + (0 + x | g)
    assert labels("y ~ (1 + x || g)") == ["(1 | g)", "(0 + x | g)"]
    assert labels("y ~ (x + z || h)") == ["(1 | h)", "(0 + x | h)", "(0 + z | h)"]
    assert labels("y ~ (0 + x + z || h)") == ["(0 + x | h)", "(0 + z | h)"]


def test_nesting_expands_like_lme4_findbars():
    # findbars(y ~ (1 | a/b/c)) -> 1 | c:(b:a), 1 | b:a, 1 | a
    assert labels("y ~ (1 | person/day)") == ["(1 | day:person)", "(1 | person)"]
    terms = parse_formula("y ~ (1 | a/b/c)").re_terms
    assert [t.factors for t in terms] == [("c", "b", "a"), ("b", "a"), ("a",)]


def test_interaction_grouping():
    (t,) = parse_formula("y ~ (x | a:b)").re_terms
    assert t.factors == ("a", "b")
    assert t.group == "a:b"


@pytest.mark.parametrize(
    ("formula", "match"),
    [
        ("y ~ x + (1 | )", "both sides"),
        ("y ~ x + ( | g)", "both sides"),
        ("y ~ x + (1 | g | h)", "malformed"),
        ("y ~ x + 1 | g", "own parentheses"),
        ("y ~ x + (0 | g)", "no columns"),
        ("y ~ x + (1 | g + h)", "not a column name"),
        ("y ~ x + (1 | g", "unbalanced"),
        ("y ~ x + (1 | g))", "unbalanced"),
        ("y ~ x", "no random-effect term"),
        ("y x + (1 | g)", "exactly one '~'"),
        ("y ~ x + + (1 | g)", "empty term"),
        ("y ~ (x - z | g)", "not supported"),
    ],
)
def test_malformed_formulas_raise(formula, match):
    with pytest.raises(SpecificationError, match=match):
        parse_formula(formula)


def test_non_string_formula():
    with pytest.raises(SpecificationError, match="must be a string"):
        parse_formula(None)  # type: ignore[arg-type]
