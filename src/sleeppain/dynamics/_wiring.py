"""Glue for the rest of the library: the manifest estimates side by side, and the
delegate behind ``sp.crosslag(..., estimator="dsem")``."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["crosslag_via_dsem", "manifest_effects"]

#: lagged-outcome terms of sp.crosslag's two models (autoregressions)
_AR_TERMS = {
    "pain->pain": ("sleep->pain", "pain_w"),
    "sleep->sleep": ("pain->sleep", "sleep_w_prev"),
}


def manifest_effects(crosslag_result: Any) -> pd.DataFrame:
    """The four within-person effects of a ``CrossLagResult`` (one sleep measure).

    The cross-lags come from ``effects()``, the autoregressions from the lagged-outcome
    term of each model in ``tidy()``. Columns ``estimate, std_error, conf_low,
    conf_high``, indexed like :meth:`DsemResult.effects`.
    """
    eff = crosslag_result.effects()
    if isinstance(eff.index, pd.MultiIndex):
        eff = eff.xs(eff.index.get_level_values(0)[0], level=0)
    cols = ["estimate", "std_error", "conf_low", "conf_high"]
    out = eff.loc[["sleep->pain", "pain->sleep"], cols]
    tid = crosslag_result.tidy()
    rows = {}
    for d, (model, term) in _AR_TERMS.items():
        sel = tid[(tid["direction"] == model) & (tid["term"] == term)]
        if len(sel):
            rows[d] = sel.iloc[0][cols].astype(float)
    if rows:
        out = pd.concat([out, pd.DataFrame(rows).T[cols]])
    out.index.name = "direction"
    return out.astype(float)


def crosslag_via_dsem(data: Any, **kwargs: Any) -> Any:
    """What ``sp.crosslag(data, ..., estimator="dsem")`` should call.

    Passes the arguments ``sp.dsem`` shares with ``sp.crosslag`` (``id, day, sleep, pain,
    sleep_timing, covariates, person_covariates``; day-level covariates mean the same in
    both: the value of day *n* before sleep in night *n* and pain on day *n + 1*) and the
    sampler's (``random, chains,
    warmup, draws, seed, n_jobs, progress``); a ``random_slopes=False`` maps to
    ``random=("intercept",)``. Options of the manifest models (``reml``, ``quadratic``,
    ``asymmetric``, ``moderator``, ``time_of_day``, ``lagged_outcome=False``) have no
    DSEM counterpart and raise :class:`~sleeppain.errors.SpecificationError`.
    """
    from sleeppain.dynamics._api import dsem
    from sleeppain.errors import SpecificationError

    kw = dict(kwargs)
    kw.pop("estimator", None)
    if kw.pop("random_slopes", True) is False:
        kw.setdefault("random", ("intercept",))
    if kw.pop("lagged_outcome", True) is False:
        raise SpecificationError(
            "estimator='dsem' always includes the autoregressions (the model is a VAR(1)); "
            "drop lagged_outcome=False."
        )
    kw.pop("reml", None)
    unsupported = [
        k for k in ("quadratic", "asymmetric", "moderator", "time_of_day") if kw.pop(k, None)
    ]
    if unsupported:
        raise SpecificationError(
            f"estimator='dsem' does not support {unsupported}; fit those extensions with "
            "estimator='lmm'. For cross-level moderation pass person_covariates=."
        )
    sleep = kw.get("sleep")
    if not isinstance(sleep, str):
        if sleep is not None and len(sleep) == 1:
            kw["sleep"] = sleep[0]
        else:
            raise SpecificationError(
                "estimator='dsem' takes one sleep column; call it once per sleep measure."
            )
    kw.setdefault("seed", None)
    return dsem(data, **kw)
