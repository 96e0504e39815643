"""The public sensitivity analyses: harmonised data (as ``estimate`` takes) or plain arrays.

``sp.mr.heterogeneity(h)``, ``sp.mr.leave_one_out(h)``, ``sp.mr.single_snp(h)``,
``sp.mr.mr_presso(h)`` and ``sp.mr.steiger(h)`` accept the output of :func:`harmonise` (or a
DataFrame with TwoSampleMR's columns; ``mr_keep`` False rows are left out), like
:func:`estimate` and :func:`analyze`. They also accept the four arrays ``bx, by, sx, sy``
(Steiger: per-variant R^2 and sample sizes). The numbers come from the pure functions of
:mod:`sleeppain.mr._sensitivity`; tables come back as DataFrames, tests as frozen results.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

import sleeppain.mr._sensitivity as S
from sleeppain.errors import SpecificationError
from sleeppain.mr._api import _arrays, _rsq_side, _trait_name
from sleeppain.mr._harmonise import HarmonisedData, as_table
from sleeppain.mr._results import check_schema, estimates_frame
from sleeppain.results import check_conf_level

__all__ = ["heterogeneity", "leave_one_out", "mr_presso", "single_snp", "steiger"]


def _inputs(
    data: Any, by: Any, sx: Any, sy: Any, where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[str, ...], dict[str, str]]:
    """Arrays, variant names and trait names from harmonised data or from four arrays."""
    if isinstance(data, HarmonisedData | pd.DataFrame):
        if not (by is None and sx is None and sy is None):
            raise SpecificationError(
                f"{where}: pass either harmonised data alone or the four arrays bx, by, sx, sy."
            )
        bx, by_, sx_, sy_, kept = _arrays(
            as_table(data), "beta.exposure", "se.exposure", "beta.outcome", "se.outcome"
        )
        k = bx.size
        snps = (
            tuple(kept["SNP"].astype(str)) if "SNP" in kept.columns else tuple(map(str, range(k)))
        )
        names = {r: _trait_name(kept, r, None) for r in ("exposure", "outcome")}
        return bx, by_, sx_, sy_, snps, names
    if by is None or sx is None or sy is None:
        raise SpecificationError(
            f"{where}: give the output of sp.mr.harmonise, or all four arrays bx, by, sx, sy."
        )
    bx, by_, sx_, sy_ = S._check_arrays(where, None, bx=data, by=by, sx=sx, sy=sy)
    return bx, by_, sx_, sy_, tuple(str(i) for i in range(bx.size)), {}


def heterogeneity(
    data: HarmonisedData | pd.DataFrame | np.ndarray,
    by: np.ndarray | None = None,
    sx: np.ndarray | None = None,
    sy: np.ndarray | None = None,
) -> S.Heterogeneity:
    """Cochran's Q (IVW) and Rucker's Q (MR-Egger), as TwoSampleMR's ``mr_heterogeneity``.

    Parameters
    ----------
    data : HarmonisedData, DataFrame or ndarray
        Harmonised data, or ``bx`` (then give ``by``, ``sx``, ``sy`` too).

    Returns
    -------
    Heterogeneity
        On the result contract (``tidy()``, ``glance()``, ``summary()``).

    Examples
    --------
    >>> import pandas as pd, sleeppain as sp
    >>> h = pd.DataFrame({"SNP": list("abcd"), "beta.exposure": [.1, .2, .3, .4],
    ...                   "beta.outcome": [.05, .1, .16, .19], "se.exposure": .01, "se.outcome": .01})
    >>> sp.mr.heterogeneity(h).Q_ivw_df
    3
    """
    bx, by_, sx_, sy_, _, _ = _inputs(data, by, sx, sy, "heterogeneity")
    if bx.size < 3:
        raise SpecificationError(
            f"heterogeneity needs at least 3 variants (Rucker's Q has k - 2 df); got {bx.size}."
        )
    return S.heterogeneity(bx, by_, sx_, sy_)


def leave_one_out(
    data: HarmonisedData | pd.DataFrame | np.ndarray,
    by: np.ndarray | None = None,
    sx: np.ndarray | None = None,
    sy: np.ndarray | None = None,
    *,
    schema: str = "mr",
) -> pd.DataFrame:
    """IVW leaving out each variant in turn (TwoSampleMR ``mr_leaveoneout``), as a table.

    Returns
    -------
    DataFrame
        One row per variant left out (its id in ``SNP``). ``schema="mr"`` (default, like
        :func:`estimate`): ``[exposure, outcome,] SNP, method, nsnp, b, se, pval, conf_low,
        conf_high``; ``schema="house"``: ``term, estimate, std_error, ...``.

    Examples
    --------
    >>> import pandas as pd, sleeppain as sp
    >>> h = pd.DataFrame({"SNP": list("abcd"), "beta.exposure": [.1, .2, .3, .4],
    ...                   "beta.outcome": [.05, .1, .16, .19], "se.exposure": .01, "se.outcome": .01})
    >>> sp.mr.leave_one_out(h)[["SNP", "nsnp"]].values.tolist()
    [['a', 3], ['b', 3], ['c', 3], ['d', 3]]
    """
    check_schema(schema)
    bx, by_, sx_, sy_, snps, names = _inputs(data, by, sx, sy, "leave_one_out")
    rows = S.leave_one_out(bx, by_, sx_, sy_)
    return estimates_frame(rows, schema=schema, snps=snps, **names)


def single_snp(
    data: HarmonisedData | pd.DataFrame | np.ndarray,
    by: np.ndarray | None = None,
    sx: np.ndarray | None = None,
    sy: np.ndarray | None = None,
    *,
    conf_level: float = 0.95,
    schema: str = "mr",
) -> pd.DataFrame:
    """Wald ratio of each variant (TwoSampleMR ``mr_singlesnp``; SE ``sy/|bx|``), as a table.

    Returns
    -------
    DataFrame
        One row per variant, columns as :func:`leave_one_out`.

    Examples
    --------
    >>> import pandas as pd, sleeppain as sp
    >>> h = pd.DataFrame({"SNP": ["a", "b"], "beta.exposure": [.1, .2],
    ...                   "beta.outcome": [.05, .2], "se.exposure": .01, "se.outcome": .01})
    >>> sp.mr.single_snp(h)["b"].round(2).tolist()
    [0.5, 1.0]
    """
    check_schema(schema)
    alpha = 1.0 - check_conf_level(conf_level)
    bx, by_, sx_, sy_, snps, names = _inputs(data, by, sx, sy, "single_snp")
    rows = S.single_snp(bx, by_, sx_, sy_, alpha=alpha)
    return estimates_frame(rows, schema=schema, snps=snps, **names)


def mr_presso(
    data: HarmonisedData | pd.DataFrame | np.ndarray,
    by: np.ndarray | None = None,
    sx: np.ndarray | None = None,
    sy: np.ndarray | None = None,
    *,
    n_dist: int = 1000,
    signif: float = 0.05,
    seed: int | np.random.SeedSequence | None = None,
) -> S.PressoResult:
    """MR-PRESSO global, outlier and distortion tests (see :func:`sleeppain.mr._sensitivity.mr_presso`).

    Missing or infinite associations and non-positive SEs are refused with the variants named
    (never a silent ``p = 0``); ``n_dist`` must be at least 10.

    Examples
    --------
    >>> import numpy as np, pandas as pd, sleeppain as sp
    >>> rng = np.random.default_rng(1); bx = rng.uniform(.05, .2, 20)
    >>> h = pd.DataFrame({"SNP": [f"rs{i}" for i in range(20)], "beta.exposure": bx,
    ...                   "beta.outcome": .5 * bx + rng.normal(0, .01, 20),
    ...                   "se.exposure": .005, "se.outcome": .01})
    >>> h.loc[3, "beta.outcome"] += 0.3
    >>> res = sp.mr.mr_presso(h, n_dist=200, seed=2)
    >>> "rs3" in [res.snps[i] for i in res.outliers]
    True
    """
    bx, by_, sx_, sy_, snps, _ = _inputs(data, by, sx, sy, "mr_presso")
    return S.mr_presso(bx, by_, sx_, sy_, n_dist=n_dist, signif=signif, seed=seed, snps=snps)


def steiger(
    data: HarmonisedData | pd.DataFrame | np.ndarray,
    r2_outcome: np.ndarray | None = None,
    n_exposure: float | None = None,
    n_outcome: float | None = None,
    *,
    exposure_binary: bool = False,
    outcome_binary: bool = False,
    exposure_prevalence: float | None = None,
    outcome_prevalence: float | None = None,
) -> S.SteigerResult:
    """Steiger directionality test (TwoSampleMR ``directionality_test``).

    Give harmonised data (R^2 from ``samplesize.*`` for continuous traits, or from
    ``eaf.*``, ``ncase.*``, ``ncontrol.*`` and a prevalence for binary traits), or the
    per-variant R^2 of each trait and the two sample sizes.

    Examples
    --------
    >>> import numpy as np, sleeppain as sp
    >>> sp.mr.steiger(np.full(10, 1e-3), np.full(10, 1e-5), 1e5, 1e5).correct_direction
    True
    """
    if isinstance(data, HarmonisedData | pd.DataFrame):
        if not (r2_outcome is None and n_exposure is None and n_outcome is None):
            raise SpecificationError(
                "steiger: pass either harmonised data alone or r2_exposure, r2_outcome, "
                "n_exposure, n_outcome."
            )
        *_, kept = _arrays(
            as_table(data), "beta.exposure", "se.exposure", "beta.outcome", "se.outcome"
        )
        r2e, ne = _rsq_side(kept, "exposure", exposure_binary, exposure_prevalence)
        r2o, no = _rsq_side(kept, "outcome", outcome_binary, outcome_prevalence)
        return S.steiger(r2e, r2o, ne, no)
    if r2_outcome is None or n_exposure is None or n_outcome is None:
        raise SpecificationError(
            "steiger: give harmonised data, or r2_exposure, r2_outcome, n_exposure, n_outcome."
        )
    return S.steiger(np.asarray(data, float), np.asarray(r2_outcome, float), n_exposure, n_outcome)
