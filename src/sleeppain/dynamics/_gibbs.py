"""The Gibbs sampler of the latent-centred bivariate VAR(1): pure functions of arrays.

Data layout (see :class:`DsemArrays`): each person's diary is one row of an ``(N, L)``
array that alternates pain and sleep on the canonical night index,

    position 0, 1          pain day f-1, sleep night f-1 (pre-sample values, latent)
    position 2 + 2j        pain on day f + j
    position 3 + 2j        sleep in night f + j (the night after day f + j)

with f the person's first canonical day. Positions ``2..end_i`` carry an equation; later
positions are padding. With ``D = Y - mu`` (the person's latent mean of that variable),
every equation position k reads

    D[k] = A_k D[k-2] + C_k D[k-1] + e_k,    e_k ~ N(0, sigma2_k)

where for pain (k even) A = phi_pain, C = b_sp (sleep of the night before) and for sleep
(k odd) A = phi_sleep, C = b_ps (pain of the day before the night). Positions 0 and 1
have the prior N(mu, init_var). Day-level covariates add ``g'x_k`` to the equation at k
(``g_pain`` or ``g_sleep`` by parity, common to all persons): handled as an offset
subtracted from the outcome of each equation, and drawn in a pooled Gaussian block
after the slopes; missing pre-sample covariate values (days before a person's first pain
day) are latent, N(0, within-person variance), drawn right after.

Blocks of one iteration (each conjugate or exact given the others):

1. missing values: three-colour blocked Gibbs over positions (k mod 3): values three
   apart are conditionally independent because each value enters only the equations at
   k, k+1 and k+2;
2. the latent means (2 per person): Gaussian given the slopes;
3. the four slopes: Gaussian, two regressions with a joint random-effect prior;
4. residual variances: inverse gamma (fixed across persons) or, as random log-variances,
   an independence Metropolis-Hastings step from the Laplace approximation of each
   person's conditional (Newton on a concave log density);
5. the population means (and person-covariate regressions) of the random effects:
   matrix normal under a flat prior; their covariance: inverse Wishart, and (with the
   default Huang & Wand prior) the auxiliary scales a_k of its half-t SD priors:
   inverse gamma.

Non-random coefficients are common to all persons and drawn from their pooled
conditional in the same blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from sleeppain.dynamics import _linalg as la
from sleeppain.dynamics._spec import DsemPriors

__all__ = ["ChainDraws", "DsemArrays", "run_chain"]

N_COEF = 8


@dataclass(frozen=True, eq=False)
class DsemArrays:
    """The sampler's input (internal scale: centred and divided by the within-person SD).

    Attributes
    ----------
    y : ndarray (N, L)
        Values; NaN where missing (always at positions 0, 1) and on padding.
    observed : ndarray of bool (N, L)
    end : ndarray of int (N,)
        Last active position of each person (its last observed value).
    w : ndarray (N, r)
        Person design: a column of ones, then the centred person covariates.
    x : ndarray (N, L, p), optional
        Day-level covariates attached to each equation position (the covariate of day
        n at the sleep equation of night n and at the pain equation of day n + 1),
        centred within person; 0 off the equation positions and at latent values.
        None: no covariates.
    x_latent : ndarray of bool (N, L, p), optional
        Latent pre-sample covariate values, marked at the day position k (even) of their
        day: that value enters the equations at k + 1 and k + 2 (where they exist).
    x_var : ndarray (N, p), optional
        Prior variance of each person's latent covariate values: N(0, x_var).
    """

    y: np.ndarray
    observed: np.ndarray
    end: np.ndarray
    w: np.ndarray
    x: np.ndarray | None = None
    x_latent: np.ndarray | None = None
    x_var: np.ndarray | None = None

    @property
    def n_persons(self) -> int:
        return self.y.shape[0]

    @property
    def n_cov(self) -> int:
        """Number of day-level covariates."""
        return 0 if self.x is None else self.x.shape[2]


@dataclass(frozen=True, eq=False)
class ChainDraws:
    """Kept draws of one chain.

    Attributes
    ----------
    coef : ndarray (S, 8)
        Population value of each coefficient (the mean of a random one at average person
        covariates, the common value of a fixed one; for random log-variances the mean).
    beta : ndarray (S, r, q)
        Regressions of the q random effects on the person design (row 0 = intercepts).
    sigma : ndarray (S, q, q)
        Covariance of the random effects.
    person : ndarray (S_p, N, 8)
        Thinned draws of each person's coefficients.
    accept : float
        Mean acceptance rate of the log-variance Metropolis step (NaN if not used).
    gamma : ndarray (S, 2, p), optional
        Day-level covariate coefficients (row 0: pain equations, row 1: sleep
        equations), internal scale; None without covariates.
    """

    coef: np.ndarray
    beta: np.ndarray
    sigma: np.ndarray
    person: np.ndarray
    accept: float
    gamma: np.ndarray | None = None


# --------------------------------------------------------------------- helpers
def mvn_canonical(lam: np.ndarray, h: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw x ~ N(lam^-1 h, lam^-1) for a precision ``lam (k, k)`` or stacked ``(N, k, k)``.

    With lam = L L': x = L'^-1 (L^-1 h + z), z standard normal. The stacked case factors
    and solves by substitution over the k columns (k <= 8), vectorised over the N persons
    (:mod:`sleeppain.dynamics._linalg`).
    """
    z = rng.standard_normal(h.shape)
    if lam.ndim == 2:
        from scipy.linalg import solve_triangular

        chol = np.linalg.cholesky(lam)
        u = solve_triangular(chol, h, lower=True, check_finite=False) + z
        return solve_triangular(chol, u, lower=True, trans="T", check_finite=False)
    low = la.cholesky(la.to_person_last(lam))
    u = la.solve_lower(low, la.to_person_last(h)) + z.T
    return la.solve_upper_t(low, u).T


def truncated_inv_gamma(
    shape: float, rate: np.ndarray, upper: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Draws of IG(shape, rate) truncated to (0, upper], elementwise (``upper`` may be inf).

    a = rate / g with g ~ Gamma(shape, 1) truncated to g >= rate / upper, drawn by the
    inverse CDF of the upper tail: Q(g) = Q(g_min) V with V ~ U(0, 1]. Far in the tail,
    where Q(g_min) underflows, the truncated gamma is g_min + Exp(1) to first order.

    Examples
    --------
    >>> import numpy as np
    >>> a = truncated_inv_gamma(2.0, np.array([1.0, 1.0]), np.array([0.5, np.inf]),
    ...                         np.random.default_rng(1))
    >>> bool(a[0] <= 0.5), bool(a[1] > 0)
    (True, True)
    """
    rate = np.asarray(rate, dtype=float)
    gmin = rate / np.asarray(upper, dtype=float)
    qmin = special.gammaincc(shape, gmin)
    v = 1.0 - rng.random(rate.shape)
    with np.errstate(all="ignore"):
        g = special.gammainccinv(shape, qmin * v)
    tail = ~np.isfinite(g) | (qmin < 1e-250)
    if tail.any():
        g = np.where(tail, gmin + rng.exponential(size=rate.shape), g)
    return np.minimum(rate / np.maximum(g, gmin), upper)


def inv_wishart(df: float, scale: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw from the inverse Wishart IW(df, scale) (Bartlett decomposition)."""
    q = scale.shape[0]
    c = np.linalg.cholesky(np.linalg.inv(scale))
    a = np.zeros((q, q))
    a[np.diag_indices(q)] = np.sqrt(rng.chisquare(df - np.arange(q)))
    if q > 1:
        a[np.tril_indices(q, -1)] = rng.standard_normal(q * (q - 1) // 2)
    ca = c @ a  # W = ca ca'
    inv = np.linalg.inv(ca)
    return inv.T @ inv


@dataclass
class _State:
    y: np.ndarray  # (N, L + 4) completed values, two zero columns padded each side
    theta: np.ndarray  # (N, 8) person coefficients
    beta: np.ndarray  # (r, q)
    sigma: np.ndarray  # (q, q)
    g: np.ndarray | None = None  # (2, p) day-level covariate coefficients (pain, sleep)
    x: np.ndarray | None = None  # (N, L, p) covariates at the equations, latent ones drawn


class _Layout:
    """Masks, counts and missing-value coordinates that do not change during sampling."""

    def __init__(self, arr: DsemArrays) -> None:
        n, length = arr.y.shape
        pos = np.arange(length)
        self.n, self.length = n, length
        self.even = pos % 2 == 0
        active = pos[None, :] <= arr.end[:, None]
        eq = active & (pos[None, :] >= 2)
        self.eq = eq
        # equation positions by parity: pain at 2, 4, ...; sleep at 3, 5, ...
        self.w_pain = eq[:, 2::2].astype(float)
        self.w_sleep = eq[:, 3::2].astype(float)
        self.n_pain = self.w_pain.sum(axis=1)
        self.n_sleep = self.w_sleep.sum(axis=1)
        # day-level covariates at the equation positions (zero elsewhere), and the latent
        # pre-sample ones by covariate: person, day position, whether the sleep equation
        # after it (k + 1) and the pain equation (k + 2) exist, their residual columns
        self.x: np.ndarray | None = None
        self.latent: list[dict[str, np.ndarray]] = []
        if arr.n_cov:
            self.x = np.where(eq[:, :, None], arr.x, 0.0)
            lat = np.zeros(arr.x.shape, dtype=bool) if arr.x_latent is None else arr.x_latent
            n_p, n_s = self.w_pain.shape[1], self.w_sleep.shape[1]
            for j in range(arr.n_cov):
                ii, kd = np.nonzero(lat[:, :, j])
                ks, kp = kd + 1, kd + 2
                has_s = (ks >= 3) & (ks <= arr.end[ii])
                has_p = kp <= arr.end[ii]
                self.latent.append(
                    {
                        "i": ii,
                        "ks": np.where(has_s, ks, 3),
                        "kp": np.where(has_p, kp, 2),
                        "col_s": np.clip((ks - 3) // 2, 0, n_s - 1),
                        "col_p": np.clip((kp - 2) // 2, 0, n_p - 1),
                        "has_s": has_s.astype(float),
                        "has_p": has_p.astype(float),
                        "var": np.ones(len(ii)) if arr.x_var is None else arr.x_var[ii, j],
                    }
                )
        missing = active & ~arr.observed
        self.missing = missing
        # missing entries by colour (position mod 3): conditionally independent within
        width = length + 4
        self.colours = []
        for col in range(3):
            ii, kk = np.nonzero(missing & (pos[None, :] % 3 == col))
            par = kk % 2
            self.colours.append(
                {
                    "i": ii,
                    "flat": ii * width + kk + 2,
                    "eq0": (kk >= 2).astype(float),
                    "init": (kk < 2).astype(float),
                    "eq1": ((kk + 1 >= 2) & (kk + 1 <= arr.end[ii])).astype(float),
                    "eq2": (kk + 2 <= arr.end[ii]).astype(float),
                    # row of the parity's parameter table (see impute)
                    "row": ii + n * par,
                }
            )


def impute(
    yp: np.ndarray,
    theta: np.ndarray,
    lay: _Layout,
    init_var: float,
    rng: np.random.Generator,
    off: np.ndarray | None = None,
) -> None:
    """Block 1: draw every missing value from its full conditional, in place.

    ``yp`` is the padded ``(N, L + 4)`` array (position k at column k + 2). A value at
    position k enters its own equation (or its pre-sample prior), the equation at k + 1
    (through C) and the one at k + 2 (through A); positions three apart share no
    equation, so each colour (k mod 3) is drawn at once. ``off`` (N, L): the covariate
    part ``g'x_k`` of each equation's mean, subtracted from that equation's outcome.
    """
    flat = yp.reshape(-1)
    offp = None if off is None else np.pad(off, ((0, 0), (2, 2))).reshape(-1)
    # per person and parity of the missing value: (mu_same, mu_other, A_same, C_same,
    # A_other, C_other, 1/sigma2_same, 1/sigma2_other); one row gather per colour
    t = theta
    inv_v = np.exp(-t[:, 6:8])
    table = np.concatenate(
        [
            np.column_stack([t[:, 0], t[:, 1], t[:, 2], t[:, 3], t[:, 4], t[:, 5], inv_v]),
            np.column_stack([t[:, 1], t[:, 0], t[:, 4], t[:, 5], t[:, 2], t[:, 3], inv_v[:, ::-1]]),
        ]
    )
    for e in lay.colours:
        i = e["i"]
        if not len(i):
            continue
        f = e["flat"]
        pr = table[e["row"]]
        mu_s, mu_o, a_s, c_s, a_o, c_o, is2_s, is2_o = pr.T
        d_m2 = flat[f - 2] - mu_s
        d_m1 = flat[f - 1] - mu_o
        d_p1 = flat[f + 1] - mu_o
        d_p2 = flat[f + 2] - mu_s
        own = a_s * d_m2 + c_s * d_m1
        d_p1_out = d_p1
        if offp is not None:
            # own equation's mean gains g'x_k; the outcomes at k + 1, k + 2 lose theirs
            own = own + offp[f]
            d_p1_out = d_p1 - offp[f + 1]
            d_p2 = d_p2 - offp[f + 2]
        w0 = e["eq0"] * is2_s
        i1 = e["eq1"] * is2_o
        i2 = e["eq2"] * is2_s
        prec = w0 + e["init"] / init_var + i1 * c_o**2 + i2 * a_s**2
        lin = w0 * own + i1 * c_o * (d_p1_out - a_o * d_m1) + i2 * a_s * (d_p2 - c_s * d_p1)
        flat[f] = mu_s + lin / prec + rng.standard_normal(len(i)) / np.sqrt(prec)


def _parity_slices(y: np.ndarray, off: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """(outcome, lag 2, lag 1) at pain equations, then at sleep equations.

    ``off`` (N, L), the covariate part of each equation's mean, is subtracted from the
    outcomes only (the lagged predictors are the values themselves).
    """
    length = y.shape[1]
    p0, s0 = y[:, 2::2], y[:, 3::2]
    if off is not None:
        p0, s0 = p0 - off[:, 2::2], s0 - off[:, 3::2]
    return (
        p0,
        y[:, 0 : length - 2 : 2],
        y[:, 1 : length - 1 : 2],
        s0,
        y[:, 1 : length - 2 : 2],
        y[:, 2 : length - 1 : 2],
    )


def means_likelihood(
    y: np.ndarray,
    theta: np.ndarray,
    lay: _Layout,
    init_var: float,
    off: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Block 2: precision (N, 2, 2) and linear term (N, 2) of the data about (mu_p, mu_s).

    ``y`` is the unpadded ``(N, L)`` view. Each equation reads ``y_k - off_k - A y_{k-2}
    - C y_{k-1} = x'(mu_p, mu_s) + e`` with x = (1 - phi_p, -b_sp) for pain and
    (-b_ps, 1 - phi_s) for sleep (``off``: the covariate part, 0 without covariates).
    """
    p0, p2, p1, s0, s2, s1 = _parity_slices(y, off)
    t = theta
    sp2, ss2 = np.exp(t[:, 6]), np.exp(t[:, 7])
    rp = (lay.w_pain * (p0 - t[:, 2:3] * p2 - t[:, 3:4] * p1)).sum(axis=1) / sp2
    rs = (lay.w_sleep * (s0 - t[:, 4:5] * s2 - t[:, 5:6] * s1)).sum(axis=1) / ss2
    return _means_system(t, rp, rs, lay.n_pain / sp2, lay.n_sleep / ss2, y, init_var)


def _means_system(
    t: np.ndarray,
    rp: np.ndarray,
    rs: np.ndarray,
    wp: np.ndarray,
    ws: np.ndarray,
    y: np.ndarray,
    init_var: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Precision and linear term about (mu_p, mu_s) from the weighted residual sums."""
    xp = np.stack([1.0 - t[:, 2], -t[:, 3]], axis=1)
    xs = np.stack([-t[:, 5], 1.0 - t[:, 4]], axis=1)
    lam = wp[:, None, None] * xp[:, :, None] * xp[:, None, :]
    lam += ws[:, None, None] * xs[:, :, None] * xs[:, None, :]
    lam[:, 0, 0] += 1.0 / init_var
    lam[:, 1, 1] += 1.0 / init_var
    h = xp * rp[:, None] + xs * rs[:, None] + y[:, :2] / init_var
    return lam, h


def slopes_likelihood(
    y: np.ndarray, theta: np.ndarray, lay: _Layout, off: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Block 3: precision (N, 4, 4) and linear term (N, 4) about (phi_p, b_sp, phi_s, b_ps)."""
    p0, p2, p1, s0, s2, s1 = _parity_slices(y, off)
    mp, ms = theta[:, 0:1], theta[:, 1:2]
    lam = np.zeros((lay.n, 4, 4))
    h = np.zeros((lay.n, 4))
    parts = (
        (lay.w_pain / np.exp(theta[:, 6:7]), p0 - mp, p2 - mp, p1 - ms),
        (lay.w_sleep / np.exp(theta[:, 7:8]), s0 - ms, s2 - ms, s1 - mp),
    )
    for j, (w, d0, d2, d1) in enumerate(parts):
        wd2, wd1 = w * d2, w * d1
        o = 2 * j
        lam[:, o, o] = (wd2 * d2).sum(axis=1)
        lam[:, o, o + 1] = lam[:, o + 1, o] = (wd2 * d1).sum(axis=1)
        lam[:, o + 1, o + 1] = (wd1 * d1).sum(axis=1)
        h[:, o] = (wd2 * d0).sum(axis=1)
        h[:, o + 1] = (wd1 * d0).sum(axis=1)
    return lam, h


class Gram:
    """Per-person cross-products of (outcome, lag 2, lag 1, 1) over the equation positions,
    one set for pain and one for sleep equations, from one pass over the data.

    The data change only in the imputation block, so one pass per iteration serves the
    means, slopes and residual-variance blocks: each needs sums of products of deviations
    from the current person means, and ``sum m (x - a)(z - b) = S_xz - b S_x1 - a S_z1 +
    a b S_11`` shifts the raw sums to any means. Used without day-level covariates (whose
    offsets change within an iteration). On the internal scale (centred, unit within-SD)
    the shift loses no meaningful precision.
    """

    def __init__(self, y: np.ndarray, lay: _Layout) -> None:
        p0, p2, p1, s0, s2, s1 = _parity_slices(y)
        self.pain = self._sums(lay.w_pain, p0, p2, p1, lay.n_pain)
        self.sleep = self._sums(lay.w_sleep, s0, s2, s1, lay.n_sleep)

    @staticmethod
    def _sums(m: np.ndarray, y0: np.ndarray, y2: np.ndarray, y1: np.ndarray, cnt: np.ndarray):
        out = np.empty((4, 4, m.shape[0]))
        cols = (y0, y2, y1)
        for a, x in enumerate(cols):
            mx = m * x
            out[a, 3] = out[3, a] = mx.sum(axis=1)
            for b in range(a, 3):
                out[a, b] = out[b, a] = np.einsum("ij,ij->i", mx, cols[b])
        out[3, 3] = cnt
        return out

    @staticmethod
    def shifted(g: np.ndarray, shifts: tuple[np.ndarray, ...]) -> np.ndarray:
        """3 x 3 x N sums of products of (outcome, lag 2, lag 1) minus ``shifts``."""
        out = np.empty((3, 3, g.shape[2]))
        for a in range(3):
            for b in range(a, 3):
                out[a, b] = out[b, a] = (
                    g[a, b]
                    - shifts[b] * g[a, 3]
                    - shifts[a] * g[b, 3]
                    + shifts[a] * shifts[b] * g[3, 3]
                )
        return out

    def deviations(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sums of products of deviations from the person means: pain and sleep, (3, 3, N)."""
        mp, ms = theta[:, 0], theta[:, 1]
        return self.shifted(self.pain, (mp, mp, ms)), self.shifted(self.sleep, (ms, ms, mp))

    def means_likelihood(self, theta: np.ndarray, y: np.ndarray, init_var: float):
        """As :func:`means_likelihood` (no covariates), from the sums."""
        t = theta
        sp2, ss2 = np.exp(t[:, 6]), np.exp(t[:, 7])
        gp, gs = self.pain, self.sleep
        rp = (gp[0, 3] - t[:, 2] * gp[1, 3] - t[:, 3] * gp[2, 3]) / sp2
        rs = (gs[0, 3] - t[:, 4] * gs[1, 3] - t[:, 5] * gs[2, 3]) / ss2
        return _means_system(t, rp, rs, gp[3, 3] / sp2, gs[3, 3] / ss2, y, init_var)

    def slopes_likelihood(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """As :func:`slopes_likelihood` (no covariates), from the sums."""
        n = theta.shape[0]
        lam = np.zeros((n, 4, 4))
        h = np.zeros((n, 4))
        for j, dev in enumerate(self.deviations(theta)):
            inv = np.exp(-theta[:, 6 + j])
            o = 2 * j
            lam[:, o, o] = dev[1, 1] * inv
            lam[:, o, o + 1] = lam[:, o + 1, o] = dev[1, 2] * inv
            lam[:, o + 1, o + 1] = dev[2, 2] * inv
            h[:, o] = dev[0, 1] * inv
            h[:, o + 1] = dev[0, 2] * inv
        return lam, h

    def residual_sums(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """As :func:`residual_sums` (no covariates), from the sums."""
        out = []
        for j, dev in enumerate(self.deviations(theta)):
            a, c = theta[:, 2 + 2 * j], theta[:, 3 + 2 * j]
            out.append(
                dev[0, 0]
                + a * a * dev[1, 1]
                + c * c * dev[2, 2]
                - 2.0 * a * dev[0, 1]
                - 2.0 * c * dev[0, 2]
                + 2.0 * a * c * dev[1, 2]
            )
        return out[0], out[1]


def _residuals(
    y: np.ndarray, theta: np.ndarray, off: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Residuals at every pain and every sleep position (padding included: mask them)."""
    p0, p2, p1, s0, s2, s1 = _parity_slices(y, off)
    t = theta
    mp, ms = t[:, 0:1], t[:, 1:2]
    ep = (p0 - mp) - t[:, 2:3] * (p2 - mp) - t[:, 3:4] * (p1 - ms)
    es = (s0 - ms) - t[:, 4:5] * (s2 - ms) - t[:, 5:6] * (s1 - mp)
    return ep, es


def residual_sums(
    y: np.ndarray, theta: np.ndarray, lay: _Layout, off: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Squared residuals per person, (N,) for pain and for sleep equations."""
    ep, es = _residuals(y, theta, off)
    return (lay.w_pain * ep * ep).sum(axis=1), (lay.w_sleep * es * es).sum(axis=1)


class _Sampler:
    def __init__(self, arr: DsemArrays, random_idx: tuple[int, ...], priors: DsemPriors) -> None:
        self.arr = arr
        self.lay = _Layout(arr)
        self.pr = priors
        self.rand = np.array(random_idx, dtype=int)
        self.q = len(random_idx)
        self.pos_r = {c: j for j, c in enumerate(random_idx)}
        self.fixed = np.array([c for c in range(N_COEF) if c not in self.pos_r], dtype=int)
        self.random_var = 6 in self.pos_r
        w = arr.w
        self.wtw = w.T @ w
        s0 = np.empty(self.q)
        for j, cidx in enumerate(random_idx):
            s0[j] = (
                priors.iw_scale_mean
                if cidx < 2
                else priors.iw_scale_logvar
                if cidx >= 6
                else priors.iw_scale_slope
            )
        # start value of Sigma: five times these fixed scales (old inverse-Wishart scale)
        self.sigma_start = np.diag(s0) * 5.0
        self.hw = priors.covariance == "huang-wand"
        if self.hw:
            # Huang & Wand (2013) for the person means: Sigma | a ~ IW(nu + q - 1,
            # 2 nu diag(1/a)), a_k ~ IG(1/2, 1/A^2), a starting at 1/A^2. The slopes keep
            # fixed scales (a_k = 2 nu / s_k, never redrawn) unless priors.hw_scale_slope is
            # set: then their a_k are redrawn too, truncated above so that the scale
            # 2 nu / a_k stays at or above hw_floor_slope (no numerical collapse at zero).
            # The log variances always keep fixed scales.
            nu = priors.hw_df
            is_mean = np.array([c < 2 for c in random_idx], dtype=bool)
            is_slope = np.array([2 <= c < 6 for c in random_idx], dtype=bool)
            slope_a = priors.hw_scale_slope
            self.hw_mask = is_mean | (is_slope if slope_a is not None else False)
            self.hw_scale = np.where(is_mean, priors.hw_scale_mean, slope_a or 1.0)
            self.hw_amax = np.where(is_mean, np.inf, 2.0 * nu / priors.hw_floor_slope)
            self.nu0 = nu + self.q - 1
            self.hw_a = np.where(is_mean, 1.0 / self.hw_scale**2, 2.0 * nu / s0)
            self.s0 = np.diag(2.0 * nu / self.hw_a)
        else:
            self.s0 = np.diag(s0)
            self.nu0 = self.q + priors.iw_df_extra
        self.accept: list[float] = []
        self.step_sd = np.full(self.q, 0.3)
        self.scale_accept: list[list[float]] = [[] for _ in range(self.q)]

    def adapt(self) -> None:
        """Warm-up only: tune the scale-move step sizes towards 30-50 % acceptance."""
        for j, acc in enumerate(self.scale_accept):
            if len(acc) >= 50:
                rate = float(np.mean(acc))
                if rate < 0.25:
                    self.step_sd[j] *= 0.7
                elif rate > 0.55:
                    self.step_sd[j] *= 1.4
                acc.clear()

    # ---------------------------------------------------------------- blocks
    def draw_block(
        self,
        st: _State,
        block: tuple[int, ...],
        lam: np.ndarray,
        h: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        """Draw the coefficients ``block`` (fixed ones pooled, random ones per person)."""
        lr = [i for i, c in enumerate(block) if c in self.pos_r]
        lf = [i for i, c in enumerate(block) if c not in self.pos_r]
        br = [block[i] for i in lr]
        bf = [block[i] for i in lf]
        theta = st.theta
        if bf:
            lam_ff = lam[:, lf][:, :, lf].sum(axis=0) + np.eye(len(lf)) / self.pr.fixed_var
            h_f = h[:, lf].sum(axis=0)
            if br:
                h_f -= np.einsum("nij,nj->i", lam[:, lf][:, :, lr], theta[:, br])
            theta[:, bf] = mvn_canonical(lam_ff, h_f, rng)[None, :]
        if br:
            jr = [self.pos_r[c] for c in br]
            jc = [j for j in range(self.q) if j not in jr]
            lam_r = lam[:, lr][:, :, lr]
            h_r = h[:, lr].copy()
            if bf:
                h_r -= lam[:, lr][:, :, lf] @ theta[0, bf]
            prec = np.linalg.inv(st.sigma)
            self.draw_beta_collapsed(st, jr, prec, lam_r, h_r, rng)
            m = self.arr.w @ st.beta
            p_bb = prec[np.ix_(jr, jr)]
            h_prior = m[:, jr] @ p_bb.T
            if jc:
                p_bc = prec[np.ix_(jr, jc)]
                h_prior -= (theta[:, self.rand[jc]] - m[:, jc]) @ p_bc.T
            theta[:, br] = mvn_canonical(lam_r + p_bb, h_r + h_prior, rng)

    def draw_beta_collapsed(
        self,
        st: _State,
        jr: list[int],
        prec: np.ndarray,
        lam: np.ndarray,
        h: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        """Draw the population regressions B with this block's random effects integrated out.

        Person i's block coefficients have the Gaussian likelihood (``lam``, ``h``) and the
        prior N(B'w_i, Sigma) jointly with the other random effects (held at their current
        values). Integrating them out leaves a Gaussian in u_i = B'w_i with precision
        ``Q_i = P - P_.b K_i^-1 P_b.`` and linear term ``l_i = P t_i + P_.b K_i^-1 (h_i -
        (P t_i)_b)``, where ``P = Sigma^-1``, ``K_i = P_bb + lam_i`` and ``t_i`` the
        current random effects with the block's entries set to 0. Drawing B from this
        marginal and then the block from its conditional is one exact joint draw, which
        mixes far better than alternating the two when the random-effect variance is
        small relative to each person's information.
        """
        th = st.theta[:, self.rand].copy()
        th[:, jr] = 0.0
        pt = th @ prec
        k = lam + prec[np.ix_(jr, jr)]
        n, nb = lam.shape[0], len(jr)
        rhs = np.empty((nb, 1 + self.q, n))  # person-last: (b, 1 + q, N)
        rhs[:, 0, :] = (h - pt[:, jr]).T
        rhs[:, 1:, :] = prec[jr, :][:, :, None]
        low = la.cholesky(la.to_person_last(k))
        sol = la.solve_upper_t(low, la.solve_lower(low, rhs))
        s0, s1 = sol[:, 0, :], sol[:, 1:, :]  # K_i^-1 (h_i - (P t_i)_b), K_i^-1 P_b.
        p_cb = prec[:, jr]
        w = self.arr.w
        r = w.shape[1]
        # Q_i = P - P_.b K_i^-1 P_b. and l_i = P t_i + P_.b K_i^-1 (...), summed with weights
        if r == 1:  # no person covariates: w is a column of ones
            big = n * prec - p_cb @ s1.sum(axis=-1)
            lin = pt.sum(axis=0) + p_cb @ s0.sum(axis=-1)
        else:
            ws1 = np.einsum("nk,nl,bcn->klbc", w, w, s1)
            big = np.einsum("kl,ac->kalc", self.wtw, prec) - np.einsum("ab,klbc->kalc", p_cb, ws1)
            big = big.reshape(r * self.q, r * self.q)
            lin = (w.T @ pt + (s0 @ w).T @ p_cb.T).reshape(-1)
        big += np.eye(r * self.q) * 1e-10
        st.beta = mvn_canonical(big, lin, rng).reshape(r, self.q)

    def log_marginal(
        self,
        st: _State,
        jr: list[int],
        prec: np.ndarray,
        logdet_sigma: float,
        lam: np.ndarray,
        h: np.ndarray,
    ) -> float:
        """log p(data, other random effects | Sigma, B) with the block ``jr`` integrated out,
        plus the inverse-Wishart log prior of Sigma (up to a constant)."""
        th = st.theta[:, self.rand].copy()
        th[:, jr] = 0.0
        dlt = th - self.arr.w @ st.beta
        pd_ = dlt @ prec
        g = h - pd_[:, jr]
        k = lam + prec[np.ix_(jr, jr)]
        low = la.cholesky(la.to_person_last(k))
        v = la.solve_lower(low, la.to_person_last(g))
        logdet_k = la.log_det_from_cholesky(low).sum()
        n = self.lay.n
        loglik = -0.5 * (n * logdet_sigma + logdet_k + (dlt * pd_).sum() - (v * v).sum())
        logprior = -0.5 * (self.nu0 + self.q + 1) * logdet_sigma - 0.5 * np.sum(self.s0 * prec)
        return float(loglik + logprior)

    def scale_moves(
        self,
        st: _State,
        block: tuple[int, ...],
        lam: np.ndarray,
        h: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        """Metropolis moves Sigma -> D Sigma D (D rescales one random effect's SD), with the
        block's random effects integrated out (partially collapsed Gibbs; the block is drawn
        right after). Breaks the strong dependence between a small random-effect variance
        and the person effects it shrinks. Jacobian of the move: exp((q + 1) eps). The
        moved SDs are the slopes', whose inverse-Wishart scale is fixed under both priors."""
        lr = [i for i, c in enumerate(block) if c in self.pos_r]
        if not lr or self.fixed_in(block):
            return
        jr = [self.pos_r[block[i]] for i in lr]
        lam_r = lam[:, lr][:, :, lr]
        h_r = h[:, lr]
        prec = np.linalg.inv(st.sigma)
        logdet = float(np.linalg.slogdet(st.sigma)[1])
        cur = self.log_marginal(st, jr, prec, logdet, lam_r, h_r)
        for j in jr:
            eps = self.step_sd[j] * rng.standard_normal()
            d = np.ones(self.q)
            d[j] = np.exp(eps)
            prec_new = prec / np.outer(d, d)
            logdet_new = logdet + 2.0 * eps
            new = self.log_marginal(st, jr, prec_new, logdet_new, lam_r, h_r)
            ok = np.log(rng.random()) < new - cur + (self.q + 1) * eps
            if ok:
                st.sigma = st.sigma * np.outer(d, d)
                prec, logdet, cur = prec_new, logdet_new, new
            self.scale_accept[j].append(float(ok))

    def fixed_in(self, block: tuple[int, ...]) -> bool:
        return any(c not in self.pos_r for c in block)

    def draw_variances(
        self,
        st: _State,
        rng: np.random.Generator,
        ssr: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        if ssr is None:
            ssr = residual_sums(st.y[:, 2:-2], st.theta, self.lay, self.offset(st))
        counts = (self.lay.n_pain, self.lay.n_sleep)
        if not self.random_var:
            for k in range(2):
                shape = self.pr.ig_shape + counts[k].sum() / 2.0
                rate = self.pr.ig_rate + ssr[k].sum() / 2.0
                st.theta[:, 6 + k] = np.log(rate / rng.gamma(shape))
            return
        prec = np.linalg.inv(st.sigma)
        m = self.arr.w @ st.beta
        for k in range(2):
            j = self.pos_r[6 + k]
            others = [i for i in range(self.q) if i != j]
            p = prec[j, j]
            mean = m[:, j] - (st.theta[:, self.rand[others]] - m[:, others]) @ prec[j, others] / p
            n, s = counts[k], ssr[k]

            def logf(lv: np.ndarray, n=n, s=s, mean=mean, p=p) -> np.ndarray:
                return -0.5 * n * lv - 0.5 * s * np.exp(-lv) - 0.5 * p * (lv - mean) ** 2

            mode = st.theta[:, 6 + k].copy()
            for _ in range(4):
                g = -0.5 * n + 0.5 * s * np.exp(-mode) - p * (mode - mean)
                hess = -0.5 * s * np.exp(-mode) - p
                mode = mode - np.clip(g / hess, -2.0, 2.0)
            sd = 1.0 / np.sqrt(0.5 * s * np.exp(-mode) + p)
            old = st.theta[:, 6 + k]
            prop = mode + sd * rng.standard_normal(self.lay.n)
            log_q_ratio = -0.5 * ((old - mode) / sd) ** 2 + 0.5 * ((prop - mode) / sd) ** 2
            log_a = logf(prop) - logf(old) + log_q_ratio
            ok = np.log(rng.random(self.lay.n)) < log_a
            st.theta[:, 6 + k] = np.where(ok, prop, old)
            self.accept.append(float(ok.mean()))

    def draw_hyper(self, st: _State, rng: np.random.Generator) -> None:
        """Covariance of the random effects given them and B (inverse Wishart), then the
        Huang & Wand auxiliary scales given the covariance (inverse gamma)."""
        if self.q == 0:
            return
        e = st.theta[:, self.rand] - self.arr.w @ st.beta
        st.sigma = inv_wishart(self.nu0 + self.lay.n, e.T @ e + self.s0, rng)
        if self.hw:
            # a_k | Sigma ~ IG((nu + q) / 2, nu (Sigma^-1)_kk + 1 / A_k^2); the scale of
            # Sigma's inverse Wishart (used by the next iteration) follows a
            nu = self.pr.hw_df
            m = self.hw_mask
            if m.any():
                rate = nu * np.diag(np.linalg.inv(st.sigma))[m] + 1.0 / self.hw_scale[m] ** 2
                shape = (nu + self.q) / 2.0
                amax = self.hw_amax[m]
                if np.isinf(amax).all():
                    self.hw_a[m] = rate / rng.gamma(shape, size=int(m.sum()))
                else:
                    self.hw_a[m] = truncated_inv_gamma(shape, rate, amax, rng)
                self.s0 = np.diag(2.0 * nu / self.hw_a)

    def offset(self, st: _State) -> np.ndarray | None:
        """The covariate part ``g'x_k`` of every equation's mean, (N, L); None without
        covariates (pain positions use the pain coefficients, sleep positions the sleep
        ones; zero off the equation positions)."""
        x = st.x
        if x is None or st.g is None:
            return None
        xg = x @ st.g.T  # (N, L, 2)
        return np.where(self.lay.even, xg[:, :, 0], xg[:, :, 1])

    def draw_covariates(self, st: _State, rng: np.random.Generator) -> None:
        """Block 3b: the day-level covariate coefficients, common to all persons.

        Given the other parameters, the residuals ``r_k = D_k - A D_{k-2} - C D_{k-1}``
        of the pain equations are ``g_pain'x_k + e_k`` with ``e_k ~ N(0, sigma2_i)``, and
        likewise for sleep: a weighted least squares over all persons (weights 1 /
        sigma2 of the person and equation) under the prior N(0, ``fixed_var``). The two
        equations' coefficients are a posteriori independent; they are drawn together.
        """
        p = self.arr.n_cov
        ep, es = _residuals(st.y[:, 2:-2], st.theta)
        lam = np.zeros((2 * p, 2 * p))
        h = np.zeros(2 * p)
        x = st.x  # zero off the equation positions
        for j, (xj, r) in enumerate(((x[:, 2::2], ep), (x[:, 3::2], es))):
            wt = np.exp(-st.theta[:, 6 + j])
            sl = slice(j * p, (j + 1) * p)
            lam[sl, sl] = np.einsum("n,nkp,nkq->pq", wt, xj, xj) + np.eye(p) / self.pr.fixed_var
            h[sl] = np.einsum("n,nkp,nk->p", wt, xj, r)
        st.g = mvn_canonical(lam, h, rng).reshape(2, p)

    def draw_latent_covariates(self, st: _State, rng: np.random.Generator) -> None:
        """Block 3c: the latent pre-sample covariate values (days before a person's first
        pain day whose covariate is missing, at least the day before the first diary day).

        A value of day position k has the prior N(0, v) (v: the covariate's pooled
        within-person variance) and enters the sleep equation at k + 1 (coefficient
        g_sleep) and the pain equation at k + 2 (g_pain) where they exist; given the
        residuals of those equations without it, its conditional is Gaussian. Values of
        different days share no equation (drawn at once); covariates of the same day do,
        so they are drawn one covariate after the other.
        """
        y = st.y[:, 2:-2]
        s2 = np.exp(st.theta[:, 6:8])  # (N, 2) pain, sleep
        for j, e in enumerate(self.lay.latent):
            i = e["i"]
            if not len(i):
                continue
            ep, es = _residuals(y, st.theta, self.offset(st))
            gp, gs = st.g[0, j], st.g[1, j]
            xs, xp = st.x[i, e["ks"], j], st.x[i, e["kp"], j]
            # residuals with this value's own part added back (0 where no equation)
            rs = e["has_s"] * (es[i, e["col_s"]] + gs * xs)
            rp = e["has_p"] * (ep[i, e["col_p"]] + gp * xp)
            ws, wp = e["has_s"] / s2[i, 1], e["has_p"] / s2[i, 0]
            prec = 1.0 / e["var"] + ws * gs**2 + wp * gp**2
            lin = ws * gs * rs + wp * gp * rp
            val = lin / prec + rng.standard_normal(len(i)) / np.sqrt(prec)
            for has, k in ((e["has_s"] > 0, e["ks"]), (e["has_p"] > 0, e["kp"])):
                st.x[i[has], k[has], j] = val[has]

    def step(self, st: _State, rng: np.random.Generator) -> None:
        init_var = self.pr.init_var
        off = self.offset(st)
        impute(st.y, st.theta, self.lay, init_var, rng, off)
        y = st.y[:, 2:-2]
        gram = Gram(y, self.lay) if off is None else None
        if gram is None:
            lam, h = means_likelihood(y, st.theta, self.lay, init_var, off)
        else:
            lam, h = gram.means_likelihood(st.theta, y, init_var)
        self.draw_block(st, (0, 1), lam, h, rng)
        if gram is None:
            lam, h = slopes_likelihood(y, st.theta, self.lay, off)
        else:
            lam, h = gram.slopes_likelihood(st.theta)
        self.scale_moves(st, (2, 3, 4, 5), lam, h, rng)
        self.draw_block(st, (2, 3, 4, 5), lam, h, rng)
        if off is not None:
            self.draw_covariates(st, rng)
            self.draw_latent_covariates(st, rng)
        self.draw_variances(st, rng, None if gram is None else gram.residual_sums(st.theta))
        self.draw_hyper(st, rng)

    # ------------------------------------------------------------ start, run
    def start(self, rng: np.random.Generator) -> _State:
        arr, lay = self.arr, self.lay
        n = lay.n
        y = arr.y.copy()
        obs = arr.observed
        theta = np.zeros((n, N_COEF))
        for k in range(2):
            cols = lay.even if k == 0 else ~lay.even
            vals = np.where(obs & cols, y, 0.0).sum(axis=1)
            cnt = (obs & cols).sum(axis=1)
            pm = np.divide(vals, cnt, out=np.zeros(n), where=cnt > 0)
            theta[:, k] = pm + 0.2 * rng.standard_normal(n)
        theta[:, 2:6] = rng.uniform(-0.3, 0.3, 4)[None, :]
        theta[:, 6:8] = np.log(rng.uniform(0.5, 1.5, 2))[None, :]
        for c in self.fixed:
            theta[:, c] = theta[:, c].mean()
        for c in self.rand:
            if 2 <= c < 6:
                theta[:, c] += 0.05 * rng.standard_normal(n)
        mu = np.where(lay.even, theta[:, 0:1], theta[:, 1:2])
        y = np.where(obs, y, mu + 0.5 * rng.standard_normal(y.shape))
        y = np.where(np.isnan(y), 0.0, y)
        y = np.pad(y, ((0, 0), (2, 2)))
        beta = np.zeros((arr.w.shape[1], self.q))
        if self.q:
            beta[0] = theta[:, self.rand].mean(axis=0)
        sigma = self.sigma_start.copy()
        # covariate coefficients: dispersed like the slopes (drawn last, so that a model
        # without covariates draws exactly what it drew before they existed)
        g = rng.uniform(-0.3, 0.3, (2, arr.n_cov)) if arr.n_cov else None
        x = None if self.lay.x is None else self.lay.x.copy()
        return _State(y=y, theta=theta, beta=beta, sigma=sigma, g=g, x=x)


def run_chain(
    arr: DsemArrays,
    random_idx: tuple[int, ...],
    priors: DsemPriors,
    warmup: int,
    draws: int,
    seed: np.random.SeedSequence,
    keep_person: int,
) -> ChainDraws:
    """Run one chain: ``warmup`` discarded iterations, then ``draws`` kept ones.

    ``keep_person`` of the kept draws (evenly spaced) store every person's coefficients.
    """
    rng = np.random.default_rng(seed)
    smp = _Sampler(arr, random_idx, priors)
    st = smp.start(rng)
    q, r = smp.q, arr.w.shape[1]
    coef = np.empty((draws, N_COEF))
    beta = np.empty((draws, r, q))
    sigma = np.empty((draws, q, q))
    keep_at = set(np.linspace(0, draws - 1, keep_person).round().astype(int).tolist())
    person = np.empty((len(keep_at), arr.n_persons, N_COEF))
    gamma = np.empty((draws, 2, arr.n_cov)) if arr.n_cov else None
    kp = 0
    for _ in range(warmup):
        smp.step(st, rng)
        smp.adapt()
    smp.accept.clear()
    for s in range(draws):
        smp.step(st, rng)
        c = st.theta[0].copy()
        if q:
            c[smp.rand] = st.beta[0]
        coef[s] = c
        beta[s] = st.beta
        sigma[s] = st.sigma
        if gamma is not None:
            gamma[s] = st.g
        if s in keep_at:
            person[kp] = st.theta
            kp += 1
    acc = float(np.mean(smp.accept)) if smp.accept else float("nan")
    return ChainDraws(coef=coef, beta=beta, sigma=sigma, person=person, accept=acc, gamma=gamma)
