"""Stages 3-4: sufficient statistics and the profiled deviance.

References: Bates, Maechler, Bolker & Walker (2015, J Stat Softw 67(1)) eqs. 34 and 41,
checked here against an independent dense evaluation of the marginal likelihood
(``V = I + Z Lambda Lambda' Z'``) to rtol 1e-10; the block-diagonal path against the general
sparse path to rtol 1e-10; the analytic gradient against central differences (rtol 1e-5, the
accuracy of a step-1e-6 difference). Agreement with lme4's ``devfun`` itself (rtol 1e-8) is
tested in test_lme4_reference.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sleeppain.mixed import (
    BlockDeviance,
    GeneralDeviance,
    SchurDeviance,
    block_stats,
    build_design,
    deviance_from_design,
    make_deviance,
)

RTOL_CLOSED = 1e-10  # two exact evaluations of the same closed form
RTOL_FD = 1e-5  # central difference with step 1e-6 on a criterion of size ~1e3

BLOCK_FORMULAS = [
    "y ~ x + (1 | person)",
    "y ~ x + z + (1 + x | person)",
    "y ~ x + (1 | person) + (0 + x | person)",
    "y ~ x + C(cat) + (1 + x + z | person)",
    "y ~ 0 + x + (1 + x | person)",
]
GENERAL_FORMULAS = [
    "y ~ x + (1 | person/day)",
    "y ~ x + (1 + x | person) + (1 | item)",
    "y ~ x + (1 | person) + (1 | item) + (1 | person:day)",
]


def dense_deviance(design, theta, reml):
    """-2 log-likelihood (or REML criterion) from the marginal model, dense and direct."""
    X, y, n, p = design.X, design.y, design.n, design.p
    Z = design.Z().toarray()
    Lam = GeneralDeviance(design, reml).Lambda(theta).toarray()
    V = np.eye(n) + Z @ Lam @ Lam.T @ Z.T
    Vi = np.linalg.inv(V)
    A = X.T @ Vi @ X
    beta = np.linalg.solve(A, X.T @ Vi @ y)
    r = y - X @ beta
    rss = float(r @ Vi @ r)
    ld = np.linalg.slogdet(V)[1]
    if reml:
        return ld + np.linalg.slogdet(A)[1] + (n - p) * (1 + np.log(2 * np.pi * rss / (n - p)))
    return ld + n * (1 + np.log(2 * np.pi * rss / n))


def random_theta(design, rng):
    th = rng.uniform(-0.8, 0.8, size=design.ntheta)
    diag = design.theta_lower == 0
    th[diag] = rng.uniform(0.0, 2.0, size=diag.sum())
    return th


@pytest.mark.parametrize("formula", BLOCK_FORMULAS + GENERAL_FORMULAS)
@pytest.mark.parametrize("reml", [True, False])
def test_deviance_matches_dense_marginal_likelihood(diary, formula, reml):
    design = build_design(formula, diary)
    dev = deviance_from_design(design, reml=reml)
    rng = np.random.default_rng(1)
    for _ in range(3):
        th = random_theta(design, rng)
        np.testing.assert_allclose(dev(th), dense_deviance(design, th, reml), rtol=RTOL_CLOSED)


@pytest.mark.parametrize("formula", BLOCK_FORMULAS)
@pytest.mark.parametrize("reml", [True, False])
def test_block_path_equals_general_path(diary, formula, reml):
    design = build_design(formula, diary)
    block = deviance_from_design(design, reml=reml, method="block")
    general = deviance_from_design(design, reml=reml, method="general")
    assert isinstance(block, BlockDeviance) and isinstance(general, GeneralDeviance)
    rng = np.random.default_rng(2)
    for th in [design.theta_start, np.zeros(design.ntheta)] + [
        random_theta(design, rng) for _ in range(3)
    ]:
        np.testing.assert_allclose(block(th), general(th), rtol=RTOL_CLOSED)
        sb, sg = block.solve(th), general.solve(th)
        np.testing.assert_allclose(sb.beta, sg.beta, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(sb.A_inv, sg.A_inv, rtol=1e-9, atol=1e-14)
        for bb, bg, vb, vg in zip(sb.b, sg.b, sb.b_var, sg.b_var, strict=True):
            np.testing.assert_allclose(bb, bg, rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(vb, vg, rtol=1e-8, atol=1e-12)


def test_block_method_refuses_crossed_design(diary):
    design = build_design("y ~ x + (1 | person) + (1 | item)", diary)
    with pytest.raises(ValueError, match="same grouping factor"):
        deviance_from_design(design, method="block")
    with pytest.raises(ValueError, match="method must be"):
        deviance_from_design(design, method="dense")


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    k=st.integers(0, len(BLOCK_FORMULAS) - 1),
    reml=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_analytic_gradient_matches_finite_differences(diary, k, reml, seed):
    design = build_design(BLOCK_FORMULAS[k], diary)
    dev = deviance_from_design(design, reml=reml)
    th = random_theta(design, np.random.default_rng(seed))
    f, g = dev.value_and_grad(th)
    assert f == pytest.approx(dev(th), rel=1e-14)
    fd = np.empty_like(th)
    for i in range(th.size):
        e = np.zeros_like(th)
        e[i] = 1e-6
        fd[i] = (dev(th + e) - dev(th - e)) / 2e-6
    np.testing.assert_allclose(g, fd, rtol=RTOL_FD, atol=1e-4)


@pytest.mark.parametrize("reml", [True, False])
def test_varpar_gradient_matches_finite_differences(diary, reml):
    dev = deviance_from_design(build_design("y ~ x + z + (1 + x | person)", diary), reml=reml)
    th, sigma = np.array([0.9, 0.1, 0.3]), 1.1
    g = dev.varpar_grad(th, sigma)
    vp = np.append(th, sigma)
    fd = np.empty_like(vp)
    for i in range(vp.size):
        e = np.zeros_like(vp)
        e[i] = 1e-6
        fd[i] = (
            dev.varpar_deviance((vp + e)[:-1], (vp + e)[-1])
            - dev.varpar_deviance((vp - e)[:-1], (vp - e)[-1])
        ) / 2e-6
    np.testing.assert_allclose(g, fd, rtol=RTOL_FD, atol=1e-4)


def test_varpar_deviance_at_profiled_sigma_is_the_criterion(diary):
    for reml in (True, False):
        design = build_design("y ~ x + (1 + x | person)", diary)
        dev = deviance_from_design(design, reml=reml)
        th = np.array([0.7, -0.2, 0.4])
        sol = dev.solve(th)
        sigma = np.sqrt(sol.r2 / (design.n - (design.p if reml else 0)))
        np.testing.assert_allclose(dev.varpar_deviance(th, sigma), dev(th), rtol=RTOL_CLOSED)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**31 - 1))
def test_row_order_does_not_change_the_deviance(diary, seed):
    perm = np.random.default_rng(seed).permutation(len(diary))
    shuffled = diary.iloc[perm]
    th = np.array([0.8, 0.1, 0.5])
    for reml in (True, False):
        a = make_deviance("y ~ x + z + (1 + x | person)", diary, reml=reml)(th)
        b = make_deviance("y ~ x + z + (1 + x | person)", shuffled, reml=reml)(th)
        np.testing.assert_allclose(a, b, rtol=RTOL_CLOSED)
    th2 = np.array([0.5, 0.7])
    a = make_deviance("y ~ x + (1 | person/day)", diary)(th2)
    b = make_deviance("y ~ x + (1 | person/day)", shuffled)(th2)
    np.testing.assert_allclose(a, b, rtol=RTOL_CLOSED)


def test_block_stats_sorted_and_unsorted_agree():
    rng = np.random.default_rng(4)
    codes = np.repeat(np.arange(30), rng.integers(2, 6, size=30))
    n = codes.size
    Z = np.column_stack([np.ones(n), rng.normal(size=n)])
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = rng.normal(size=n)
    perm = rng.permutation(n)
    s1 = block_stats(Z, codes, 30, X, y)
    s2 = block_stats(Z[perm], codes[perm], 30, X[perm], y[perm])
    for a, b in [(s1.ZtZ, s2.ZtZ), (s1.ZtX, s2.ZtX), (s1.Zty, s2.Zty), (s1.XtX, s2.XtX)]:
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # direct per-group cross-products (centred X, y as documented)
    g = 3
    rows = codes == g
    Xc = X - np.r_[0.0, X[:, 1].mean()]
    np.testing.assert_allclose(s1.ZtX[g], Z[rows].T @ Xc[rows], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s1.Zty[g], Z[rows].T @ (y[rows] - y.mean()), rtol=1e-12, atol=1e-12)


def test_large_mean_outcome_keeps_precision(diary):
    # centring protects r^2 = y'y - ... from cancellation: shifting y by 1e6 changes nothing
    th = np.array([0.8, 0.1, 0.5])
    a = make_deviance("y ~ x + (1 + x | person)", diary)(th)
    b = make_deviance("y ~ x + (1 + x | person)", diary.assign(y=diary.y + 1e6))(th)
    np.testing.assert_allclose(a, b, rtol=1e-9)


def test_theta_length_checked(diary):
    dev = make_deviance("y ~ x + (1 | person)", diary)
    with pytest.raises(ValueError, match="length 1"):
        dev(np.array([1.0, 2.0]))


@pytest.mark.parametrize("formula", GENERAL_FORMULAS)
@pytest.mark.parametrize("reml", [True, False])
def test_general_dense_and_sparse_modes_agree(diary, formula, reml):
    design = build_design(formula, diary)
    dense = GeneralDeviance(design, reml)
    sparse_ = GeneralDeviance(design, reml, dense_max=0)
    assert dense.dense and not sparse_.dense
    rng = np.random.default_rng(5)
    for _ in range(3):
        th = random_theta(design, rng)
        np.testing.assert_allclose(dense(th), sparse_(th), rtol=RTOL_CLOSED)
        fd, gd = dense.value_and_grad(th)
        fs, gs = sparse_.value_and_grad(th)  # central differences
        np.testing.assert_allclose(gd, gs, rtol=RTOL_FD, atol=1e-4)
        assert fd == pytest.approx(fs, rel=RTOL_CLOSED)
        a, b = dense.solve(th), sparse_.solve(th)
        np.testing.assert_allclose(a.beta, b.beta, rtol=1e-9, atol=1e-12)
        for va, vb in zip(a.b_var, b.b_var, strict=True):
            np.testing.assert_allclose(va, vb, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("formula", [*GENERAL_FORMULAS, "y ~ x + (1 + x | item) + (1 | person)"])
@pytest.mark.parametrize("dense_max", [2000, 0])
@pytest.mark.parametrize("reml", [True, False])
def test_schur_path_equals_general_path(diary, formula, dense_max, reml):
    design = build_design(formula, diary)
    schur = SchurDeviance(design, reml, dense_max=dense_max)
    general = GeneralDeviance(design, reml)
    rng = np.random.default_rng(6)
    for _ in range(2):
        th = random_theta(design, rng)
        np.testing.assert_allclose(schur(th), general(th), rtol=RTOL_CLOSED)
        np.testing.assert_allclose(
            schur.varpar_deviance(th, 1.3), general.varpar_deviance(th, 1.3), rtol=RTOL_CLOSED
        )
        a, b = schur.solve(th), general.solve(th)
        np.testing.assert_allclose(a.beta, b.beta, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(a.A_inv, b.A_inv, rtol=1e-9, atol=1e-14)
        for ba, bb, va, vb in zip(a.b, b.b, a.b_var, b.b_var, strict=True):
            np.testing.assert_allclose(ba, bb, rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(va, vb, rtol=1e-8, atol=1e-12)


def test_auto_method_choice(diary):
    small = build_design("y ~ x + (1 | person) + (1 | item)", diary)
    assert isinstance(deviance_from_design(small), GeneralDeviance)
    assert isinstance(deviance_from_design(small, method="schur"), SchurDeviance)
    assert isinstance(
        deviance_from_design(build_design("y ~ x + (1 | person)", diary)), BlockDeviance
    )
    with pytest.raises(ValueError, match="at least two"):
        SchurDeviance(build_design("y ~ x + (1 | person)", diary), True)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**31 - 1))
def test_column_sign_flips_leave_the_deviance_unchanged(diary, seed):
    # the criterion depends on Lambda Lambda' only: the basis of unbounded optimisation
    from sleeppain.mixed.optimize import canonical_theta

    design = build_design("y ~ x + (1 + x + z | person) + (1 | item)", diary)
    dev = deviance_from_design(design)
    rng = np.random.default_rng(seed)
    th = random_theta(design, rng)
    flipped = th.copy()
    starts = np.flatnonzero(design.theta_lower == 0)
    ends = np.append(starts[1:], th.size)
    for a, b in zip(starts, ends, strict=True):
        if rng.random() < 0.5:
            flipped[a:b] *= -1
    np.testing.assert_allclose(dev(flipped), dev(th), rtol=RTOL_CLOSED)
    canon = canonical_theta(flipped, design.theta_lower)
    np.testing.assert_allclose(canon, th, rtol=0, atol=0)


def test_schur_scalar_first_term_branches(diary):
    # nested: few nonzeros per row of Z1'Z2 -> fixed-pattern products; crossed -> sparse product
    nested = SchurDeviance(build_design("y ~ x + (1 + x | person) + (1 | person:day)", diary), True)
    crossed = SchurDeviance(build_design("y ~ x + (1 | person) + (1 | item)", diary), True)
    assert nested._scalar and nested._pairs_ok
    assert crossed._scalar and not crossed._pairs_ok
    for dev, th in [(nested, np.array([0.4, 0.9, 0.1, 0.3])), (crossed, np.array([0.9, 0.5]))]:
        np.testing.assert_allclose(dev(th), GeneralDeviance(dev.design, True)(th), rtol=RTOL_CLOSED)


@pytest.mark.parametrize("chunk", [5, 64])
def test_block_stats_chunks_equal_one_pass(monkeypatch, chunk):
    # sorted rows are summed in chunks of whole groups; any chunking (and the bincount
    # path for unsorted rows) gives the same statistics to rounding
    from sleeppain.mixed import blockstats
    from sleeppain.mixed import deviance as dv

    rng = np.random.default_rng(4)
    sizes = rng.integers(1, 12, size=60)
    codes = np.repeat(np.arange(60), sizes)
    n = codes.size
    x = rng.normal(size=n) + 3.0
    X = np.asfortranarray(np.column_stack([np.ones(n), x, rng.normal(size=n)]))
    Zc = np.asfortranarray(np.column_stack([np.ones(n), x]))
    y = rng.normal(size=n) + 10.0
    one = dv.block_stats(Zc, codes, 60, X, y)
    perm = rng.permutation(n)
    shuffled = dv.block_stats(Zc[perm], codes[perm], 60, X[perm], y[perm])
    monkeypatch.setattr(blockstats, "_CHUNK_ROWS", chunk)
    chunked = dv.block_stats(Zc, codes, 60, X, y)
    for other in (chunked, shuffled):
        for name in ("ZtZ", "ZtX", "Zty", "XtX", "Xty", "yty"):
            np.testing.assert_allclose(
                getattr(other, name), getattr(one, name), rtol=1e-12, atol=1e-10
            )


def test_every_evaluator_implements_the_protocol():
    """BlockDeviance, GeneralDeviance, SchurDeviance and CorrelatedDeviance are all
    DevianceEvaluator (sleeppain.mixed._pls), and the evaluator modules do not import
    one another in a cycle."""
    import ast
    import pathlib

    import pandas as pd

    from sleeppain.mixed import CorrelatedDeviance, SchurDeviance, build_design
    from sleeppain.mixed._pls import DevianceEvaluator
    from sleeppain.mixed.fitting import correlated_deviance, residual_data
    from sleeppain.mixed.residual import residual_spec

    rng = np.random.default_rng(5)
    df = pd.DataFrame(
        {
            "y": rng.normal(size=120),
            "g": np.repeat(np.arange(12), 10),
            "h": np.tile(np.arange(6), 20),
            "t": np.tile(np.arange(10), 12),
        }
    )
    d1 = build_design("y ~ 1 + (1 | g)", df)
    d2 = build_design("y ~ 1 + (1 | g) + (1 | h)", df)
    evaluators = [
        deviance_from_design(d1, method="block"),
        deviance_from_design(d2, method="general"),
        SchurDeviance(d2, True),
        correlated_deviance(d1, residual_data(residual_spec("ar1", "t"), d1, df), reml=True),
    ]
    assert isinstance(evaluators[-1], CorrelatedDeviance)
    for dev in evaluators:
        assert isinstance(dev, DevianceEvaluator), type(dev).__name__
        x = np.where(np.isfinite(dev.lower), 0.5, 0.1)
        assert np.isfinite(dev(x)) and dev.solve(x).beta.shape == (1,)
    root = pathlib.Path(__file__).resolve().parents[2] / "src" / "sleeppain" / "mixed"
    deps = {}
    for name in ("_pls", "blockstats", "deviance", "schur", "residual"):
        tree = ast.parse((root / f"{name}.py").read_text())
        deps[name] = {
            n.module.rsplit(".", 1)[1]
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("sleeppain.mixed.")
        }
    assert "deviance" not in deps["schur"] and deps["_pls"] == set()
    for a, da in deps.items():
        for b in da:
            assert a not in deps.get(b, set()), f"import cycle {a} <-> {b}"
