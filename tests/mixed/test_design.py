"""Stage 2: the design -- term order (lme4's mkReTrms), row accounting, input checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sleeppain.errors import (
    DataDropWarning,
    DataStructureError,
    SleepPainWarning,
    SpecificationError,
)
from sleeppain.mixed import build_design, theta_layout
from sleeppain.mixed.design import _lme4_order


def test_shapes_and_names(diary):
    d = build_design("y ~ x * z + C(cat) + I(x**2) + np.log(pos) + (1 + x | person)", diary)
    assert d.fixef_names == (
        "Intercept",
        "C(cat)[T.b]",
        "C(cat)[T.c]",
        "x",
        "z",
        "x:z",
        "I(x ** 2)",
        "np.log(pos)",
    )
    assert d.X.shape == (300, 8)
    (t,) = d.terms
    assert t.names == ("Intercept", "x")
    assert (t.nlevels, t.ncols, d.ntheta, d.q) == (25, 2, 3, 50)
    np.testing.assert_array_equal(d.theta_lower, [0.0, -np.inf, 0.0])
    np.testing.assert_array_equal(d.theta_start, [1.0, 0.0, 1.0])
    np.testing.assert_allclose(d.X[:, -1], np.log(diary["pos"]), rtol=1e-15)


def test_fast_numeric_path_equals_patsy(diary):
    fast = build_design("y ~ x + z + (1 + x | person)", diary)
    slow = build_design("y ~ I(x) + I(z) + (1 + I(x) | person)", diary)
    np.testing.assert_array_equal(fast.X, slow.X)
    np.testing.assert_array_equal(fast.terms[0].Xi, slow.terms[0].Xi)


def test_theta_layout_is_column_major_lower_triangle():
    assert theta_layout([3]) == [(0, 0, 0), (0, 1, 0), (0, 2, 0), (0, 1, 1), (0, 2, 1), (0, 2, 2)]


@pytest.mark.parametrize(
    ("nl", "order"),
    [
        ([10, 5, 5], [0, 1, 2]),  # already non-increasing: formula order
        ([5, 5, 10], [2, 1, 0]),  # R: rev(order(nl)) reverses ties
        ([4, 8, 30], [2, 1, 0]),
        ([8, 30, 8], [1, 2, 0]),
    ],
)
def test_lme4_term_order(nl, order):
    assert _lme4_order(nl) == order


def test_terms_reordered_by_levels(diary):
    d = build_design("y ~ x + (1 | item) + (1 | person/day)", diary)
    assert [t.group for t in d.terms] == ["day:person", "person", "item"]
    assert [t.nlevels for t in d.terms] == [100, 25, 7]
    assert not d.single_factor
    assert build_design("y ~ (1 | person) + (0 + x | person)", diary).single_factor


def test_interaction_levels(diary):
    d = build_design("y ~ (1 | person:day)", diary)
    (t,) = d.terms
    assert t.nlevels == 100
    assert t.levels[0] == "0:0"
    assert len(set(zip(diary.person, diary.day, strict=True))) == t.nlevels


def test_missing_rows_dropped_and_counted(diary):
    df = diary.copy()
    df.loc[[0, 1, 2], "x"] = np.nan
    df.loc[[2, 3], "y"] = np.inf
    df.loc[[10], "person"] = np.nan
    df.loc[[11, 12], "unused"] = 1.0  # NaN elsewhere in a column the model does not use
    # row 2 lacks both y and x: counted once, under the first variable in formula order
    with pytest.warns(DataDropWarning, match="dropped 5 of 300 rows"):
        d = build_design("y ~ x + (1 | person)", df)
    acc = d.accounting
    assert (acc.n_input, acc.n_used, acc.n_dropped) == (300, 295, 5)
    assert dict(acc.dropped) == {
        "missing or non-finite 'y'": 2,
        "missing or non-finite 'x'": 2,
        "missing or non-finite 'person'": 1,
    }
    assert sum(c for _, c in acc.dropped) == acc.n_dropped
    assert acc.to_frame().set_index("item").loc["rows used", "value"] == 295
    assert acc.glance()["stage"].iloc[0] == "model rows"
    acc.check()  # the reasons add up to the rows dropped
    assert list(d.index[:3]) == [4, 5, 6]


def test_transformation_producing_inf_is_dropped(diary):
    df = diary.copy()
    df.loc[[5, 6], "pos"] = 0.0
    with pytest.warns(DataDropWarning, match="non-finite value after transformation"):
        d = build_design("y ~ np.log(pos) + (1 | person)", df)
    assert d.n == 298


def test_unknown_column_suggests_close_match(diary):
    with pytest.raises(SpecificationError, match=r"names 'slep'.*Did you mean 'sleep'"):
        build_design("y ~ slep + (1 | person)", diary.rename(columns={"x": "sleep"}))
    with pytest.raises(SpecificationError, match=r"'persn'.*Did you mean 'person'"):
        build_design("y ~ x + (1 | persn)", diary)
    with pytest.raises(SpecificationError, match="'w'"):
        build_design("y ~ x + (1 + w | person)", diary)


def test_single_level_grouping_factor(diary):
    df = diary.assign(one="a")
    with pytest.raises(DataStructureError, match="must have > 1 sampled level"):
        build_design("y ~ x + (1 | one)", df)


def test_as_many_levels_as_observations(diary):
    df = diary.assign(row=np.arange(len(diary)))
    with pytest.raises(DataStructureError, match="must be < number of observations"):
        build_design("y ~ x + (1 | row)", df)


def test_more_random_effects_than_observations(diary):
    df = diary.iloc[:60].assign(pair=np.arange(60) // 2)
    with pytest.raises(DataStructureError, match=r"number of observations \(=60\) <= number"):
        build_design("y ~ x + (1 + x + z | pair)", df)


def test_constant_outcome(diary):
    with pytest.raises(DataStructureError, match="is constant"):
        build_design("y ~ x + (1 | person)", diary.assign(y=3.0))


def test_non_numeric_response(diary):
    with pytest.raises(DataStructureError, match="must be numeric"):
        build_design("cat ~ x + (1 | person)", diary)


def test_not_a_dataframe(diary):
    with pytest.raises(DataStructureError, match="pandas DataFrame"):
        build_design("y ~ x + (1 | person)", diary.to_dict())


def test_rank_deficient_fixed_effects_dropped_with_warning(diary):
    df = diary.assign(x2=2 * diary["x"] + 1)
    with pytest.warns(
        SleepPainWarning, match="rank deficient so dropping 1 column / coefficient: x2"
    ):
        d = build_design("y ~ x + x2 + z + (1 | person)", df)
    assert d.fixef_names == ("Intercept", "x", "z")
    assert d.dropped_fixef == ("x2",)


def test_no_rows_left(diary):
    with pytest.warns(DataDropWarning), pytest.raises(DataStructureError, match="no complete rows"):
        build_design("y ~ x + (1 | person)", diary.assign(x=np.nan))


def test_patsy_error_becomes_specification_error(diary):
    with pytest.raises(SpecificationError, match="cannot build the fixed-effects matrix"):
        build_design("y ~ C(x, Nonsense) + (1 | person)", diary.assign(Nonsense=1))


def test_sparse_z_matches_terms(diary):
    d = build_design("y ~ x + (1 + x | person) + (1 | item)", diary)
    Z = d.Z().toarray()
    assert Z.shape == (300, 25 * 2 + 7)
    rows = np.arange(300)
    t0 = d.terms[0]
    np.testing.assert_array_equal(Z[rows, 2 * t0.codes], 1.0)
    np.testing.assert_array_equal(Z[rows, 2 * t0.codes + 1], diary["x"].to_numpy())
    assert (
        pd.Series(Z.sum(axis=1)).round(12).equals(pd.Series(2.0 + diary["x"].to_numpy()).round(12))
    )


@pytest.mark.parametrize(
    "values",
    [[1, 1, 2, 5, 5, 9], [3, 3, 3], [2, 1, 1, 3], [7], np.array([4, 4, 6], dtype=np.uint16)],
)
def test_sorted_integer_codes_equal_factorize(values):
    from sleeppain.mixed.design import _factorize_sorted

    col = pd.Series(values)
    codes, uniques = _factorize_sorted(col)
    ref_codes, ref_uniques = pd.factorize(col, sort=True)
    np.testing.assert_array_equal(codes, ref_codes)
    assert (
        np.asarray(uniques, dtype=object).tolist() == np.asarray(ref_uniques, dtype=object).tolist()
    )
