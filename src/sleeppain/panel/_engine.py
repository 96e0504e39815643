"""The numerical core: a RAM-form structural equation model fitted by (FI)ML.

Pure functions of numpy arrays; no pandas. A model in reticular action model (RAM) form
(McArdle & McDonald 1984) has ``n`` variables, the first ``p`` of them observed:

* ``A`` (n x n): directed paths, ``A[i, j]`` is the effect of variable j on variable i;
* ``S`` (n x n): symmetric (residual) variances and covariances;
* ``m`` (n,): intercepts.

With ``B = (I - A)^{-1}`` the implied moments are ``Sigma = (B S B')[:p, :p]`` and
``mu = (B m)[:p]``. Free parameters map onto one or more entries of ``A``, ``S`` and ``m``
(several entries for an equality constraint).

The objective is minus the multivariate-normal log-likelihood over missing-data patterns
(full-information ML; complete data are one pattern), with its analytic gradient. The
unrestricted (H1) model of incomplete data is fitted by EM, as lavaan does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "H1Fit",
    "PatternData",
    "RamSpec",
    "expected_information",
    "fit_h1",
    "implied",
    "loglik_and_grad",
    "make_patterns",
    "numerical_hessian",
]

_LOG2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class RamSpec:
    """A RAM model: fixed values and the map from free parameters to matrix entries.

    Attributes
    ----------
    n_obs, n_all : int
        Observed variables (first ``n_obs``) and all variables.
    A0, S0, m0 : ndarray
        Fixed values (zeros where a free parameter sits).
    a_par, a_row, a_col : ndarray of int
        Entry ``A[a_row, a_col]`` holds free parameter ``a_par``.
    s_par, s_row, s_col : ndarray of int
        Entry ``S[s_row, s_col]`` (and its mirror) holds ``s_par``; ``s_row >= s_col``.
    m_par, m_row : ndarray of int
        Entry ``m[m_row]`` holds ``m_par``.
    n_par : int
        Number of free parameters.
    """

    n_obs: int
    n_all: int
    A0: np.ndarray
    S0: np.ndarray
    m0: np.ndarray
    a_par: np.ndarray
    a_row: np.ndarray
    a_col: np.ndarray
    s_par: np.ndarray
    s_row: np.ndarray
    s_col: np.ndarray
    m_par: np.ndarray
    m_row: np.ndarray
    n_par: int

    def __post_init__(self) -> None:
        for f in (
            "A0",
            "S0",
            "m0",
            "a_par",
            "a_row",
            "a_col",
            "s_par",
            "s_row",
            "s_col",
            "m_par",
            "m_row",
        ):
            getattr(self, f).flags.writeable = False

    def matrices(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``A, S, m`` at the parameter vector ``theta``."""
        A = self.A0.copy()
        S = self.S0.copy()
        m = self.m0.copy()
        A[self.a_row, self.a_col] = theta[self.a_par]
        S[self.s_row, self.s_col] = theta[self.s_par]
        S[self.s_col, self.s_row] = theta[self.s_par]
        m[self.m_row] = theta[self.m_par]
        return A, S, m


def implied(spec: RamSpec, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model-implied ``(Sigma, mu, C)``; ``C`` is the covariance of all ``n`` variables."""
    A, S, m = spec.matrices(theta)
    B = np.linalg.inv(np.eye(spec.n_all) - A)
    C = B @ S @ B.T
    mean_all = B @ m
    p = spec.n_obs
    return C[:p, :p].copy(), mean_all[:p].copy(), C


@dataclass(frozen=True)
class PatternGroup:
    """Missing-data patterns with the same number of observed variables, stacked.

    ``obs`` (g x k) are the observed indices of each pattern, ``n`` (g,) persons per
    pattern, ``mean`` (g x k) and ``cov`` (g x k x k, divisor n) their sample moments.
    """

    obs: np.ndarray
    n: np.ndarray
    mean: np.ndarray
    cov: np.ndarray


@dataclass(frozen=True)
class PatternData:
    """Data prepared for the likelihood (persons with no observed value excluded).

    Complete data keep their sample moments (one pattern in ``groups``); incomplete data
    keep the values with a mask and, per number of missing values, the distinct patterns.
    """

    groups: tuple[PatternGroup, ...]
    n_persons: int
    n_obs: int
    n_patterns: int
    complete: bool
    #: persons x variables, missing values set to 0 (for the per-person evaluation)
    values: np.ndarray | None = None
    #: persons x variables, True where observed
    mask: np.ndarray | None = None
    #: for each number m >= 1 of missing values: (rows, missing indices (rows x m),
    #: distinct patterns (u x m), pattern of each row, persons per pattern)
    by_missing: tuple[tuple[np.ndarray, ...], ...] = ()


def make_patterns(Y: np.ndarray) -> PatternData:
    """Group the rows of ``Y`` (persons x variables, NaN = missing) by missingness pattern.

    Rows without any observed value must be removed by the caller.

    Examples
    --------
    >>> Y = np.array([[1.0, 2.0], [2.0, np.nan], [3.0, 5.0]])
    >>> pd_ = make_patterns(Y)
    >>> pd_.n_patterns, pd_.complete
    (2, False)
    """
    Y = np.asarray(Y, dtype=float)
    N, p = Y.shape
    mask = ~np.isnan(Y)
    if N and not mask.any(axis=1).all():
        raise ValueError("rows without observed values must be removed before make_patterns")
    packed = np.packbits(mask, axis=1)
    n_pat = len(np.unique(packed, axis=0)) if N else 0
    groups: list[PatternGroup] = []
    if N and mask.all():
        mu = Y.mean(axis=0)
        Yc = Y - mu
        groups.append(
            PatternGroup(
                obs=np.arange(p)[None, :],
                n=np.array([float(N)]),
                mean=mu[None, :],
                cov=(Yc.T @ Yc / N)[None],
            )
        )
    n_mis = p - mask.sum(axis=1)
    by_missing = []
    for m in np.unique(n_mis[n_mis > 0]):
        rows = np.flatnonzero(n_mis == m)
        mis = np.nonzero(~mask[rows])[1].reshape(len(rows), int(m))
        upat, pidx, counts = np.unique(mis, axis=0, return_inverse=True, return_counts=True)
        flat = rows[:, None] * p + mis
        by_missing.append((rows, mis, upat, pidx.ravel(), counts.astype(float), flat))
    values = np.where(mask, Y, 0.0)
    return PatternData(
        tuple(groups), N, p, n_pat, bool(mask.all()), values, mask, tuple(by_missing)
    )


def _scatter(
    total: np.ndarray, rows: np.ndarray, cols: np.ndarray | None, vals: np.ndarray
) -> None:
    """``total[rows, cols] += vals`` with repeated indices summed (bincount, fast)."""
    if cols is None:
        total += np.bincount(rows.ravel(), weights=vals.ravel(), minlength=total.size)
        return
    p = total.shape[1]
    flat = (rows * p + cols).ravel()
    total += np.bincount(flat, weights=vals.ravel(), minlength=total.size).reshape(total.shape)


def _precision(Sigma: np.ndarray) -> tuple[np.ndarray, float] | None:
    """``(Sigma^-1, log|Sigma|)``, or None when ``Sigma`` is not positive definite."""
    try:
        L = np.linalg.cholesky(Sigma)
    except np.linalg.LinAlgError:
        return None
    Linv = np.linalg.inv(L)
    return Linv.T @ Linv, 2.0 * float(np.sum(np.log(np.diag(L))))


def _small_inverse(
    M: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray | None, float]:
    """Inverses of a stack of small SPD matrices and the (weighted) sum of log-determinants.

    Closed forms up to 3 x 3 (the common cases of one to three missing values), batched
    LAPACK otherwise. Returns ``(None, nan)`` if one is not positive definite.
    """
    m = M.shape[1]
    w = np.ones(len(M)) if weights is None else weights
    if m == 1:
        d = M[:, 0, 0]
        if np.any(d <= 0):
            return None, np.nan
        return (1.0 / d)[:, None, None], float(np.sum(w * np.log(d)))
    if m == 2:
        a, b, c = M[:, 0, 0], M[:, 0, 1], M[:, 1, 1]
        det = a * c - b * b
        if np.any(det <= 0) or np.any(a <= 0):
            return None, np.nan
        inv = np.empty_like(M)
        inv[:, 0, 0] = c / det
        inv[:, 1, 1] = a / det
        inv[:, 0, 1] = inv[:, 1, 0] = -b / det
        return inv, float(np.sum(w * np.log(det)))
    if m == 3:
        a, b, c = M[:, 0, 0], M[:, 0, 1], M[:, 0, 2]
        d, e, f = M[:, 1, 1], M[:, 1, 2], M[:, 2, 2]
        A = d * f - e * e
        B = c * e - b * f
        C = b * e - c * d
        det = a * A + b * B + c * C
        if np.any(det <= 0) or np.any(a <= 0) or np.any(a * d - b * b <= 0):
            return None, np.nan
        inv = np.empty_like(M)
        inv[:, 0, 0] = A / det
        inv[:, 0, 1] = inv[:, 1, 0] = B / det
        inv[:, 0, 2] = inv[:, 2, 0] = C / det
        inv[:, 1, 1] = (a * f - c * c) / det
        inv[:, 1, 2] = inv[:, 2, 1] = (b * c - a * e) / det
        inv[:, 2, 2] = (a * d - b * b) / det
        return inv, float(np.sum(w * np.log(det)))
    try:
        L = np.linalg.cholesky(M)
    except np.linalg.LinAlgError:
        return None, np.nan
    ld = 2.0 * float(np.sum(w * np.sum(np.log(np.diagonal(L, axis1=1, axis2=2)), axis=1)))
    return np.linalg.inv(M), ld


def _sigma_loglik_grad(
    data: PatternData, Sigma: np.ndarray, mu: np.ndarray, want_grad: bool = True
) -> tuple[float, np.ndarray | None, np.ndarray | None]:
    """Minus the log-likelihood and its derivatives with respect to ``Sigma`` and ``mu``.

    Returns ``(f, dF/dSigma, dF/dmu)``; ``f`` is ``inf`` when ``Sigma`` is not positive
    definite. Complete data use the sample moments. Incomplete data are evaluated person
    by person through the precision matrix ``K = Sigma^-1``: for a person missing the
    set ``m``, the inverse of the observed block, embedded in ``p x p``, is
    ``K - K[:, m] K_mm^-1 K[m, :]`` and ``log|Sigma_oo| = log|Sigma| + log|K_mm|``, so only
    small ``m x m`` systems are solved, batched over persons with the same number of
    missing values.
    """
    pre = _precision(Sigma)
    if pre is None:
        return np.inf, None, None
    K, logdet = pre
    p = data.n_obs
    N = float(data.n_persons)
    if data.complete:
        g = data.groups[0]
        d = g.mean[0] - mu
        M = g.cov[0] + np.outer(d, d)
        f = 0.5 * N * (p * _LOG2PI + logdet + float(np.sum(K * M)))
        if not want_grad:
            return f, None, None
        return f, 0.5 * N * (K - K @ M @ K), -N * (K @ d)
    assert data.values is not None and data.mask is not None
    E = data.values - mu * data.mask
    U0 = E @ K
    U0_flat = U0.ravel()
    C = np.zeros_like(U0)
    C_flat = C.ravel()
    logdet_sum = N * logdet
    corr = np.zeros((p, p))
    for _rows, _mis, upat, pidx, counts, flat in data.by_missing:
        Cu, ld = _small_inverse(K[upat[:, :, None], upat[:, None, :]], counts)
        if Cu is None:
            return np.inf, None, None
        logdet_sum += ld
        C_flat[flat] = (Cu[pidx] @ U0_flat[flat][:, :, None])[:, :, 0]
        if want_grad:
            Vu = K[upat]  # u x m x p
            Wu = (Cu @ Vu) * counts[:, None, None]
            n_u, m = upat.shape
            corr += Vu.reshape(n_u * m, p).T @ Wu.reshape(n_u * m, p)
    U = U0 - C @ K
    n_values = float(data.mask.sum())
    f = 0.5 * (n_values * _LOG2PI + logdet_sum + float(np.sum(E * U)))
    if not want_grad:
        return f, None, None
    G = 0.5 * (N * K - corr - U.T @ U)
    return f, 0.5 * (G + G.T), -U.sum(axis=0)


def loglik_and_grad(
    spec: RamSpec, data: PatternData, theta: np.ndarray, want_grad: bool = True
) -> tuple[float, np.ndarray | None]:
    """Minus the (FI)ML log-likelihood at ``theta`` and its analytic gradient.

    The gradient follows from ``dF/dSigma`` and ``dF/dmu`` by the chain rule through
    ``Sigma = F B S B' F'`` and ``mu = F B m`` with ``dB = B dA B``.
    """
    A, S, m = spec.matrices(theta)
    try:
        B = np.linalg.inv(np.eye(spec.n_all) - A)
    except np.linalg.LinAlgError:
        return np.inf, None
    p = spec.n_obs
    FB = B[:p]
    Sigma = FB @ S @ FB.T
    mu = FB @ m
    f, G, gmu = _sigma_loglik_grad(data, Sigma, mu, want_grad)
    if not want_grad or not np.isfinite(f):
        return f, None
    H = FB.T @ G @ FB
    dm = FB.T @ gmu
    dA = 2.0 * H @ S @ B.T + np.outer(dm, B @ m)
    grad = np.zeros(spec.n_par)
    np.add.at(grad, spec.a_par, dA[spec.a_row, spec.a_col])
    hs = np.where(spec.s_row == spec.s_col, 1.0, 2.0) * H[spec.s_row, spec.s_col]
    np.add.at(grad, spec.s_par, hs)
    np.add.at(grad, spec.m_par, dm[spec.m_row])
    return f, grad


def _moment_jacobian(spec: RamSpec, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Derivatives of ``Sigma`` (q x p x p) and ``mu`` (q x p) with respect to ``theta``."""
    A, S, m = spec.matrices(theta)
    B = np.linalg.inv(np.eye(spec.n_all) - A)
    p, q = spec.n_obs, spec.n_par
    FB = B[:p]
    CF = (B @ S @ B.T)[:, :p]
    Bm = B @ m
    dS = np.zeros((q, p, p))
    dmu = np.zeros((q, p))
    for k, i, j in zip(spec.a_par, spec.a_row, spec.a_col, strict=True):
        u, v = FB[:, i], CF[j]
        dS[k] += np.outer(u, v) + np.outer(v, u)
        dmu[k] += FB[:, i] * Bm[j]
    for k, i, j in zip(spec.s_par, spec.s_row, spec.s_col, strict=True):
        uv = np.outer(FB[:, i], FB[:, j])
        dS[k] += uv if i == j else uv + uv.T
    for k, i in zip(spec.m_par, spec.m_row, strict=True):
        dmu[k] += FB[:, i]
    return dS, dmu


def expected_information(spec: RamSpec, theta: np.ndarray, n: float) -> np.ndarray:
    """Expected (Fisher) information of ``n`` complete observations (lavaan's "expected").

    ``I_kl = n [ tr(Sigma^-1 dSigma_k Sigma^-1 dSigma_l) / 2 + dmu_k' Sigma^-1 dmu_l ]``.
    """
    Sigma, _, _ = implied(spec, theta)
    Sinv = np.linalg.inv(Sigma)
    dS, dmu = _moment_jacobian(spec, theta)
    V = Sinv @ dS  # q x p x p
    info = 0.5 * np.einsum("kij,lji->kl", V, V) + dmu @ Sinv @ dmu.T
    return n * info


def numerical_hessian(
    spec: RamSpec, data: PatternData, theta: np.ndarray, h: float = 1e-6
) -> np.ndarray:
    """Hessian of minus the log-likelihood by differences of the analytic gradient.

    Forward differences ``(g(theta + h e_k) - g(theta)) / h`` with a step relative to
    each parameter's size, symmetrised. lavaan uses a four-point rule; the truncation
    error here (order ``h``, about 1e-6 relative) is far below the 1e-3 relative
    tolerance on standard errors and halves the number of gradient evaluations.
    """
    q = len(theta)
    Hm = np.empty((q, q))
    g0 = loglik_and_grad(spec, data, theta)[1]
    if g0 is None:
        return np.full((q, q), np.nan)
    for k in range(q):
        e = np.zeros(q)
        step = h * max(1.0, abs(theta[k]))
        e[k] = step
        g_hi = loglik_and_grad(spec, data, theta + e)[1]
        if g_hi is None:
            g_lo = loglik_and_grad(spec, data, theta - e)[1]
            Hm[k] = np.nan if g_lo is None else (g0 - g_lo) / step
            continue
        Hm[k] = (g_hi - g0) / step
    return 0.5 * (Hm + Hm.T)


def available_case_moments(data: PatternData) -> tuple[np.ndarray, np.ndarray]:
    """Each variable's mean and (divisor n) variance over the persons observed on it."""
    assert data.values is not None and data.mask is not None
    cnt = data.mask.sum(axis=0)
    mu = data.values.sum(axis=0) / cnt
    var = (data.values**2).sum(axis=0) / cnt - mu**2
    return mu, var


@dataclass(frozen=True)
class H1Fit:
    """The unrestricted (saturated) model: ``mu``, ``Sigma``, log-likelihood, EM record."""

    mu: np.ndarray
    sigma: np.ndarray
    loglik: float
    iterations: int
    converged: bool


def fit_h1(data: PatternData, *, tol: float = 1e-10, max_iter: int = 5000) -> H1Fit:
    """Maximum-likelihood mean vector and covariance matrix of (incomplete) normal data.

    Closed form for complete data; EM (Dempster, Laird & Rubin 1977) over missing-data
    patterns otherwise, started as lavaan starts it and iterated until the largest change
    in any moment is below ``tol``.
    """
    p = data.n_obs
    N = float(data.n_persons)
    if data.complete:
        g = data.groups[0]
        mu, sigma = g.mean[0].copy(), g.cov[0].copy()
        f, _, _ = _sigma_loglik_grad(data, sigma, mu, want_grad=False)
        return H1Fit(mu, sigma, -f, 0, True)
    # start: available-case means and variances, diagonal covariance
    mu, var = available_case_moments(data)
    sigma = np.diag(var)
    converged = False
    it = 0
    assert data.values is not None and data.mask is not None
    Y = data.values
    for it in range(1, max_iter + 1):  # noqa: B007
        pre = _precision(sigma)
        if pre is None:
            break
        K, _ = pre
        # E-step: conditional means of the missing values, and their covariance K_mm^-1
        Yhat = Y.copy()
        extra = np.zeros((p, p))
        KE = (Y - mu * data.mask) @ K
        KE_flat = KE.ravel()
        Yhat_flat = Yhat.ravel()
        for _rows, mis, upat, pidx, counts, flat in data.by_missing:
            Cu, _ = _small_inverse(K[upat[:, :, None], upat[:, None, :]])
            if Cu is None:
                break
            shift = (Cu[pidx] @ KE_flat[flat][:, :, None])[:, :, 0]
            Yhat_flat[flat] = mu[mis] - shift
            _scatter(extra, upat[:, :, None], upat[:, None, :], Cu * counts[:, None, None])
        mu_new = Yhat.mean(axis=0)
        sigma_new = (Yhat.T @ Yhat + extra) / N - np.outer(mu_new, mu_new)
        sigma_new = 0.5 * (sigma_new + sigma_new.T)
        delta = max(np.max(np.abs(mu_new - mu)), np.max(np.abs(sigma_new - sigma)))
        mu, sigma = mu_new, sigma_new
        if delta < tol:
            converged = True
            break
    f, _, _ = _sigma_loglik_grad(data, sigma, mu, want_grad=False)
    return H1Fit(mu, sigma, -f, it, converged)


def analytic_hessian(spec: RamSpec, data: PatternData, theta: np.ndarray) -> np.ndarray:
    """Hessian of minus the FIML log-likelihood (lavaan's observed information), analytic.

    Two parts. The data part ``J' H_m J`` uses the second derivatives of each person's
    ``f_i = (log|Sigma_oo| + e' P e) / 2`` with respect to ``(Sigma, mu)``
    (``P`` the embedded inverse of the observed block, ``u = P e``)::

        d2 f_i = -tr(P dS2 P dS1) / 2 + u' dS1 P dS2 u + u' dS1 P dm2 + u' dS2 P dm1
                 + dm2' P dm1,

    summed over persons through per-pattern sums (``sum n P (x) P``, ``sum P (x) u u'``,
    ``sum u (x) P``). The model part contracts ``dF/dSigma`` and ``dF/dmu`` with the second
    derivatives of ``Sigma = F B S B' F'`` and ``mu = F B m`` (``dB = B dA B``).
    Returns a NaN matrix if ``Sigma`` is not positive definite.
    """
    from scipy import sparse

    q = spec.n_par
    A, S, m = spec.matrices(theta)
    B = np.linalg.inv(np.eye(spec.n_all) - A)
    p = spec.n_obs
    FB = B[:p]
    Sigma = FB @ S @ FB.T
    mu = FB @ m
    pre = _precision(Sigma)
    if pre is None or data.values is None or data.mask is None:
        return np.full((q, q), np.nan)
    K, _ = pre
    N = data.n_persons
    E = data.values - mu * data.mask
    U0 = E @ K
    U0_flat = U0.ravel()
    C = np.zeros_like(U0)
    C_flat = C.ravel()
    corr = np.zeros((p, p))
    pid = np.zeros(N, dtype=np.intp)
    P_list = [K[None]]
    n_list = [np.array([float(N - sum(len(b[0]) for b in data.by_missing))])]
    offset = 1
    for rows, _mis, upat, pidx, counts, flat in data.by_missing:
        Cu, _ = _small_inverse(K[upat[:, :, None], upat[:, None, :]])
        if Cu is None:
            return np.full((q, q), np.nan)
        C_flat[flat] = (Cu[pidx] @ U0_flat[flat][:, :, None])[:, :, 0]
        Vu = K[upat]
        Wu = Cu @ Vu
        n_u, mm = upat.shape
        corr += Vu.reshape(n_u * mm, p).T @ (Wu * counts[:, None, None]).reshape(n_u * mm, p)
        P_list.append(K[None] - np.transpose(Vu, (0, 2, 1)) @ Wu)
        n_list.append(counts)
        pid[rows] = offset + pidx
        offset += n_u
    U = U0 - C @ K
    P_all = np.concatenate(P_list)
    n_all = np.concatenate(n_list)
    n_pat = len(n_all)
    ind = sparse.csr_matrix((np.ones(N), (pid, np.arange(N))), shape=(n_pat, N))
    r = np.asarray(ind @ U)  # n_pat x p
    R = np.asarray(ind @ (U[:, :, None] * U[:, None, :]).reshape(N, p * p))  # n_pat x p^2
    Pf = P_all.reshape(n_pat, p * p)
    dS, dmu = _moment_jacobian(spec, theta)
    # A: -1/2 sum_g n_g tr(P dS_k P dS_l)
    kron = ((Pf * n_all[:, None]).T @ Pf).reshape(p, p, p, p)  # [a, b, c, d] = sum n P_ab P_cd
    T = np.einsum("abcd,kbc->kad", kron, dS)
    H = -0.5 * np.einsum("kad,lda->kl", T, dS)
    # B: sum_i u' dS_k P dS_l u = sum dS_k[a, b] dS_l[c, d] sum_g P_g[a, c] R_g[b, d]
    Z = (Pf.T @ R).reshape(p, p, p, p)  # [a, c, b, d]
    T2 = np.einsum("kab,acbd->kcd", dS, Z)
    H += np.einsum("kcd,lcd->kl", T2, dS)
    # C: u' dS_k P dmu_l (both orders)
    Y = (r.T @ Pf).reshape(p, p, p)  # [a, b, d] = sum_g r_g[a] P_g[b, d]
    C1 = np.einsum("kab,abd->kd", dS, Y) @ dmu.T
    H += C1 + C1.T
    # D: dmu_k' (sum n P) dmu_l
    H += dmu @ (n_all[:, None, None] * P_all).sum(axis=0) @ dmu.T
    # model curvature: G : d2 Sigma + gmu . d2 mu
    G = 0.5 * (N * K - corr - U.T @ U)
    G = 0.5 * (G + G.T)
    gmu = -U.sum(axis=0)
    Hm = FB.T @ G @ FB
    Phi = B @ S @ B.T
    BSH = B @ S @ Hm
    nu = FB.T @ gmu
    beta = B @ m
    ak, ai, aj = spec.a_par, spec.a_row, spec.a_col
    if len(ak):
        i1, j1 = ai[:, None], aj[:, None]
        r2, s2 = ai[None, :], aj[None, :]
        caa = (
            2.0 * (BSH[j1, r2] * B[s2, i1] + BSH[s2, i1] * B[j1, r2])
            + 2.0 * Hm[r2, i1] * Phi[j1, s2]
            + nu[r2] * B[s2, i1] * beta[j1]
            + nu[i1] * B[j1, r2] * beta[s2]
        )
        np.add.at(H, (ak[:, None], ak[None, :]), caa)
        sk, sr, ss = spec.s_par, spec.s_row, spec.s_col
        if len(sk):
            r2, s2 = sr[None, :], ss[None, :]
            cas = 2.0 * (Hm[s2, i1] * B[j1, r2] + np.where(r2 != s2, Hm[r2, i1] * B[j1, s2], 0.0))
            np.add.at(H, (ak[:, None], sk[None, :]), cas)
            np.add.at(H, (sk[None, :], ak[:, None]), cas)
        mk, mr = spec.m_par, spec.m_row
        if len(mk):
            cam = nu[i1] * B[j1, mr[None, :]]
            np.add.at(H, (ak[:, None], mk[None, :]), cam)
            np.add.at(H, (mk[None, :], ak[:, None]), cam)
    return 0.5 * (H + H.T)
