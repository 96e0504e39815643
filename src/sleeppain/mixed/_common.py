"""Pieces shared by the mixed-model results (lmm, glmm, clmm).

The variance-component rows of ``varcorr`` (lme4's ``as.data.frame(VarCorr(fit))`` in
wide form), the random effects ``b = Lambda(theta) u`` per term of a GLMM or CLMM, and
their information criteria.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sleeppain.mixed.pirls import lambda_block

VARCORR_COLUMNS = ["group", "re_term", "term1", "term2", "variance", "sd", "corr"]


def varcorr_rows(terms: Iterable[Any], covs: Iterable[np.ndarray]) -> list[tuple[Any, ...]]:
    """One row per variance and per correlation of each term, in :data:`VARCORR_COLUMNS`.

    A variance row has ``term2`` None and the sd; a correlation row holds the covariance
    in ``variance`` and the correlation in ``corr`` (NaN when an sd is 0).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> import numpy as np
    >>> t = SimpleNamespace(group="id", label="(1 + x | id)", names=("Intercept", "x"), ncols=2)
    >>> rows = varcorr_rows([t], [np.array([[4.0, 1.0], [1.0, 1.0]])])
    >>> [(r[2], r[3], float(r[5]), float(r[6])) for r in rows][-1]
    ('Intercept', 'x', nan, 0.5)
    """
    rows: list[tuple[Any, ...]] = []
    for t, S in zip(terms, covs, strict=True):
        sd = np.sqrt(np.diag(S))
        for a in range(t.ncols):
            rows.append((t.group, t.label, t.names[a], None, S[a, a], sd[a], np.nan))
        for a in range(t.ncols):
            for b in range(a + 1, t.ncols):
                den = sd[a] * sd[b]
                corr = S[a, b] / den if den > 0 else np.nan
                rows.append((t.group, t.label, t.names[a], t.names[b], S[a, b], np.nan, corr))
    return rows


def varcorr_frame(terms: Iterable[Any], covs: Iterable[np.ndarray]) -> pd.DataFrame:
    """:func:`varcorr_rows` as a DataFrame.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> import numpy as np
    >>> t = SimpleNamespace(group="id", label="(1 | id)", names=("Intercept",), ncols=1)
    >>> varcorr_frame([t], [np.array([[4.0]])])["sd"].tolist()
    [2.0]
    """
    return pd.DataFrame(varcorr_rows(terms, covs), columns=VARCORR_COLUMNS)


def term_covariances(terms: Iterable[Any], theta: np.ndarray) -> list[np.ndarray]:
    """Each term's ``Lambda Lambda'`` from its slice of ``theta`` (GLMM and CLMM scale).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> import numpy as np
    >>> t = SimpleNamespace(ntheta=1, ncols=1)
    >>> term_covariances([t], np.array([3.0]))[0].tolist()
    [[9.0]]
    """
    covs, k = [], 0
    for t in terms:
        nt = t.ntheta
        lam = lambda_block(theta[k : k + nt], (t.ncols,))
        k += nt
        covs.append(lam @ lam.T)
    return covs


def modes_by_term(terms: Sequence[Any], theta: np.ndarray, u: np.ndarray) -> list[np.ndarray]:
    """Random effects ``b = Lambda(theta) u`` per term, each (nlevels, ncols).

    ``u`` is (G, k) for a block problem (one grouping factor) or the flat spherical
    modes, term by term and level-major within a term, for a sparse problem.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> import numpy as np
    >>> t = SimpleNamespace(ntheta=1, ncols=1, nlevels=2)
    >>> modes_by_term([t], np.array([2.0]), np.array([1.0, -1.0]))[0].ravel().tolist()
    [2.0, -2.0]
    """
    out = []
    if u.ndim == 2:  # block problem: (G, k)
        k_off = 0
        b = u @ lambda_block(theta, tuple(t.ncols for t in terms)).T
        for t in terms:
            out.append(b[:, k_off : k_off + t.ncols].copy())
            k_off += t.ncols
    else:
        off, pos = 0, 0
        for t in terms:
            nl, p = t.nlevels, t.ncols
            lam = lambda_block(theta[pos : pos + t.ntheta], (p,))
            pos += t.ntheta
            out.append(u[off : off + nl * p].reshape(nl, p) @ lam.T)
            off += nl * p
    return out


class LaplaceCriteria:
    """``nobs``, ``aic`` and ``bic`` of a fit with ``objective = -2 log L``, ``y`` and
    ``npar`` (the GLMM and CLMM results).

    Examples
    --------
    >>> import numpy as np
    >>> class Fit(LaplaceCriteria):
    ...     objective, y, npar = 100.0, np.zeros(10), 3
    >>> Fit().nobs, Fit().aic
    (10, 106.0)
    """

    objective: float
    y: np.ndarray
    npar: int

    @property
    def nobs(self) -> int:
        """Number of observations used."""
        return int(self.y.size)

    @property
    def aic(self) -> float:
        """Akaike's information criterion."""
        return self.objective + 2 * self.npar

    @property
    def bic(self) -> float:
        """Bayesian information criterion."""
        return self.objective + math.log(self.nobs) * self.npar
