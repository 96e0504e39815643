"""The Gibbs blocks against dense Gaussian algebra (closed forms: rtol 1e-10)."""

from __future__ import annotations

import numpy as np
import pytest

import sleeppain as sp
from sleeppain.dynamics._gibbs import (
    DsemArrays,
    _Layout,
    impute,
    means_likelihood,
    mvn_canonical,
    residual_sums,
    slopes_likelihood,
)

#: closed forms computed two ways: only rounding differs
RTOL = 1e-10


class ZeroRng:
    """A generator whose normal draws are all zero: a draw becomes its conditional mean."""

    def standard_normal(self, size=None):
        return np.zeros(size)


def _person(rng, length=13, missing=(0, 1, 4, 7, 8)):
    y = rng.standard_normal((1, length))
    obs = np.ones((1, length), dtype=bool)
    obs[0, list(missing)] = False
    y[~obs] = np.nan
    return DsemArrays(y=y, observed=obs, end=np.array([length - 1]), w=np.ones((1, 1)))


def _theta():
    # mu_p, mu_s, phi_p, b_sp, phi_s, b_ps, logvar_p, logvar_s
    return np.array([[0.3, -0.2, 0.5, -0.25, 0.3, 0.15, np.log(0.8), np.log(1.3)]])


def _dense_precision(theta, length, end, init_var):
    """Precision of the deviations D under e = B D (equations) and the pre-sample priors."""
    t = theta[0]
    b = np.zeros((length, length))
    prec_e = np.zeros(length)
    for k in range(length):
        b[k, k] = 1.0
        if k < 2:
            prec_e[k] = 1.0 / init_var
            continue
        if k > end:
            continue
        pain = k % 2 == 0
        a_k, c_k = (t[2], t[3]) if pain else (t[4], t[5])
        b[k, k - 2] = -a_k
        b[k, k - 1] = -c_k
        prec_e[k] = 1.0 / np.exp(t[6] if pain else t[7])
    return b.T @ np.diag(prec_e) @ b


def test_impute_draws_each_full_conditional_mean() -> None:
    rng = np.random.default_rng(0)
    arr = _person(rng)
    lay = _Layout(arr)
    theta = _theta()
    length = arr.y.shape[1]
    start = np.where(arr.observed, arr.y, 0.4)
    yp = np.pad(start, ((0, 0), (2, 2)))
    impute(yp, theta, lay, 1.0, ZeroRng())
    got = yp[0, 2:-2]
    # replay the three colours with the dense precision
    mu = np.where(np.arange(length) % 2 == 0, theta[0, 0], theta[0, 1])
    q = _dense_precision(theta, length, length - 1, 1.0)
    d = start[0] - mu
    for col in range(3):
        for k in range(length):
            if k % 3 == col and not arr.observed[0, k]:
                others = np.arange(length) != k
                d[k] = -q[k, others] @ d[others] / q[k, k]
    np.testing.assert_allclose(got, d + mu, rtol=RTOL)
    np.testing.assert_array_equal(got[arr.observed[0]], arr.y[0, arr.observed[0]])


def test_means_likelihood_is_the_gaussian_in_mu() -> None:
    rng = np.random.default_rng(1)
    arr = _person(rng, missing=())
    arr = DsemArrays(
        y=np.where(np.isnan(arr.y), 0.0, arr.y), observed=arr.observed, end=arr.end, w=arr.w
    )
    lay = _Layout(arr)
    theta = _theta()
    length = arr.y.shape[1]
    lam, h = means_likelihood(arr.y, theta, lay, 1.0)
    q = _dense_precision(theta, length, length - 1, 1.0)
    # D = y - M mu with M the indicator of pain/sleep positions: quadratic in mu
    m = np.zeros((length, 2))
    m[0::2, 0] = 1.0
    m[1::2, 1] = 1.0
    np.testing.assert_allclose(lam[0], m.T @ q @ m, rtol=RTOL)
    np.testing.assert_allclose(h[0], m.T @ q @ arr.y[0], rtol=RTOL)


def test_slopes_likelihood_is_least_squares() -> None:
    rng = np.random.default_rng(2)
    y = rng.standard_normal((3, 16))
    end = np.array([15, 12, 9])
    obs = np.ones_like(y, dtype=bool)
    arr = DsemArrays(y=y, observed=obs, end=end, w=np.ones((3, 1)))
    lay = _Layout(arr)
    theta = np.repeat(_theta(), 3, axis=0)
    lam, h = slopes_likelihood(y, theta, lay)
    for i in range(3):
        d = y[i] - np.where(np.arange(16) % 2 == 0, theta[i, 0], theta[i, 1])
        for j, (par, lv) in enumerate(((0, theta[i, 6]), (1, theta[i, 7]))):
            ks = [k for k in range(2, end[i] + 1) if k % 2 == par]
            x = np.array([[d[k - 2], d[k - 1]] for k in ks])
            yy = d[ks]
            o = 2 * j
            np.testing.assert_allclose(
                lam[i, o : o + 2, o : o + 2], x.T @ x / np.exp(lv), rtol=RTOL
            )
            np.testing.assert_allclose(h[i, o : o + 2], x.T @ yy / np.exp(lv), rtol=RTOL)
        np.testing.assert_allclose(lam[i, :2, 2:], 0.0)
    sp, ss = residual_sums(y, theta, lay)
    t = theta[0]
    d = y[0] - np.where(np.arange(16) % 2 == 0, t[0], t[1])
    e_p = [d[k] - t[2] * d[k - 2] - t[3] * d[k - 1] for k in range(2, 16, 2)]
    assert sp[0] == pytest.approx(np.sum(np.square(e_p)), rel=RTOL)
    assert ss[2] > 0


def test_mvn_canonical_mean_and_covariance() -> None:
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5, 4, 4))
    lam = a @ np.swapaxes(a, 1, 2) + 4 * np.eye(4)
    h = rng.standard_normal((5, 4))
    np.testing.assert_allclose(
        mvn_canonical(lam, h, ZeroRng()), np.linalg.solve(lam, h[..., None])[..., 0], rtol=RTOL
    )
    np.testing.assert_allclose(
        mvn_canonical(lam[0], h[0], ZeroRng()), np.linalg.solve(lam[0], h[0]), rtol=RTOL
    )
    draws = np.stack([mvn_canonical(lam[:1], h[:1], rng)[0] for _ in range(4000)])
    cov = np.linalg.inv(lam[0])
    # Monte Carlo: 4000 draws, entries within 4 MC SEs (SE of a covariance ~ sd_i sd_j / sqrt(n))
    se = np.sqrt(np.outer(np.diag(cov), np.diag(cov)) / 4000)
    assert np.all(np.abs(np.cov(draws.T) - cov) < 4 * se + 1e-12)


def test_gram_blocks_equal_the_direct_sums() -> None:
    """The one-pass cross-products (Gram) give the same means, slopes and residual sums as
    the direct passes over the data, at any person means and slopes."""
    from sleeppain.dynamics._api import _diary
    from sleeppain.dynamics._arrays import prepare
    from sleeppain.dynamics._gibbs import (
        Gram,
        _Sampler,
        means_likelihood,
        residual_sums,
        slopes_likelihood,
    )
    from sleeppain.dynamics._spec import DsemPriors, random_indices

    sim = sp.simulate.diary(30, 9, seed=4, round_to_scale=False, missing_day_share=0.2)
    d = _diary(sim.data, "id", "day", "sleep_quality", None, ["pain", "sleep_quality"])
    prep = prepare(d, "sleep_quality", "pain", ())
    smp = _Sampler(prep.arrays, random_indices(("intercept", "crosslag")), DsemPriors())
    rng = np.random.default_rng(3)
    st = smp.start(rng)
    y = st.y[:, 2:-2]
    theta = st.theta.copy()
    theta[:, :6] += rng.normal(0, 0.3, (theta.shape[0], 6))
    theta[:, 6:] = rng.normal(0, 0.3, (theta.shape[0], 2))
    g = Gram(y, smp.lay)
    for got, want in zip(
        (*g.means_likelihood(theta, y, 1.3), *g.slopes_likelihood(theta), *g.residual_sums(theta)),
        (
            *means_likelihood(y, theta, smp.lay, 1.3),
            *slopes_likelihood(y, theta, smp.lay),
            *residual_sums(y, theta, smp.lay),
        ),
        strict=True,
    ):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def _covariate_study_fit(**kw):
    """The 100 x 14 fit with a covariate whose common slopes once collapsed (seed 1006)."""
    from tests.dynamics._helpers import fit_quietly
    from tests.dynamics.test_dsem_covariates import simulate

    args = dict(id="id", day="day", sleep="sleep", pain="pain", covariates=["stress"])
    args.update(chains=2, warmup=300, draws=300, seed=6, n_jobs=1)
    return fit_quietly(simulate(n=100, t=14, seed=1006), args, **kw)


def test_slope_variance_with_true_zero_does_not_collapse() -> None:
    """Slopes common to all persons in truth, fitted as random: their variances stay on the
    fixed-scale prior's support. With half-t priors on the slope SDs this fit (from a
    covariate study) collapsed a slope variance to 1e-17 and failed with LinAlgError."""
    sd = _covariate_study_fit().draws["sd(pain->pain)"]
    assert np.isfinite(sd).all() and sd.min() > 1e-3


def test_truncated_inv_gamma_matches_the_truncated_cdf() -> None:
    """Draws of IG(shape, rate) truncated to (0, upper] against scipy's inverse-gamma CDF
    renormalised on (0, upper] (Kolmogorov-Smirnov, 20,000 draws), and the far tail."""
    from scipy import stats

    from sleeppain.dynamics._gibbs import truncated_inv_gamma

    rng = np.random.default_rng(3)
    shape, rate, upper = 4.0, 2.0, 0.6
    a = truncated_inv_gamma(shape, np.full(20_000, rate), np.full(20_000, upper), rng)
    dist = stats.invgamma(shape, scale=rate)
    assert a.max() <= upper
    ks = stats.kstest(a, lambda x: dist.cdf(x) / dist.cdf(upper))
    assert ks.pvalue > 0.001
    # untruncated (upper = inf) is the plain inverse gamma
    b = truncated_inv_gamma(shape, np.full(20_000, rate), np.full(20_000, np.inf), rng)
    assert stats.kstest(b, dist.cdf).pvalue > 0.001
    # far in the tail (Q underflows): finite, at most upper, within a few 1/rate of it
    c = truncated_inv_gamma(shape, np.full(100, 1e6), np.full(100, 1e-4), rng)
    assert np.isfinite(c).all() and (c <= 1e-4).all() and (c > 0.9e-4).all()


def test_half_t_slopes_with_a_floor_do_not_collapse() -> None:
    """The fit that collapsed with the earlier unfloored half-t slope SDs runs under the
    floored option, every slope SD finite and above 1e-3 (the floor itself is checked
    below, on the auxiliary draws)."""
    res = _covariate_study_fit(priors=sp.DsemPriors(hw_scale_slope=1.0))
    for name in ("pain->pain", "sleep->sleep", "sleep->pain", "pain->sleep"):
        sd = res.draws[f"sd({name})"]
        assert np.isfinite(sd).all() and sd.min() > 1e-3, name


def test_half_t_slope_scales_stop_at_the_floor() -> None:
    """With the slopes' variances at 1e-12 (a collapsing chain), the auxiliary draws keep
    every slope's inverse-Wishart scale at or above hw_floor_slope; the person means' scales
    stay free (untruncated)."""
    from sleeppain.dynamics._api import _diary
    from sleeppain.dynamics._arrays import prepare
    from sleeppain.dynamics._gibbs import _Sampler
    from sleeppain.dynamics._spec import DsemPriors, random_indices

    sim = sp.simulate.diary(30, 9, seed=4, round_to_scale=False)
    d = _diary(sim.data, "id", "day", "sleep_quality", None, ["pain", "sleep_quality"])
    prep = prepare(d, "sleep_quality", "pain", ())
    rnd = random_indices(("intercept", "autoregression", "crosslag"))
    pri = DsemPriors(hw_scale_slope=1.0, hw_floor_slope=0.002)
    smp = _Sampler(prep.arrays, rnd, pri)
    rng = np.random.default_rng(8)
    st = smp.start(rng)
    st.theta[:, 2:6] = st.beta[0, 2:6]  # every person at the mean slopes: e'e = 0 there
    scales = []
    for _ in range(200):
        smp.draw_hyper(st, rng)
        scales.append(np.diag(smp.s0).copy())
        st.sigma[2:6, 2:6] = np.diag(np.full(4, 1e-12))
    scales = np.array(scales)
    assert scales[:, 2:6].min() >= 0.002 * (1 - 1e-12)
    # the floor binds: the scales sit just above it (unfloored they would follow the
    # slope variances, about 1e-4 here, down towards zero)
    assert np.median(scales[:, 2:6]) < 0.004
    assert np.isfinite(scales).all() and scales[:, :2].min() > 0


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"covariance": "wishart"}, "choose 'huang-wand'"),
        ({"hw_scale_slope": 0.0}, "hw_scale_slope=0.0"),
        ({"hw_scale_slope": "1"}, "hw_scale_slope='1'"),
        ({"hw_floor_slope": -1.0}, "hw_floor_slope=-1.0"),
        ({"iw_scale_slope": 0.0}, "iw_scale_slope=0.0"),
    ],
)
def test_priors_refuse_bad_values(kwargs, fragment) -> None:
    with pytest.raises(sp.errors.SpecificationError, match=fragment.replace("(", r"\(")):
        sp.DsemPriors(**kwargs)


def test_priors_are_exported_and_checked_by_dsem() -> None:
    """sp.DsemPriors is the dynamics class; sp.dsem refuses anything else as priors=."""
    from sleeppain.dynamics import DsemPriors

    assert sp.DsemPriors is DsemPriors
    sim = sp.simulate.diary(20, 7, seed=1, round_to_scale=False)
    with pytest.raises(sp.errors.SpecificationError, match=r"must be a sleeppain\.DsemPriors"):
        sp.dsem(
            sim.data, id="id", day="day", sleep="sleep_quality", pain="pain", seed=1,
            priors={"covariance": "inverse-wishart"},
        )  # fmt: skip
