"""The latent-centred dynamic model behind :func:`sleeppain.dsem`.

Pipeline: model spec (:mod:`._spec`) -> arrays from a Diary (:mod:`._arrays`) -> Gibbs
blocks as pure functions of arrays (:mod:`._gibbs`) -> diagnostics (:mod:`._diagnostics`,
Vehtari et al. 2021) -> :class:`DsemResult`.

Examples
--------
>>> from sleeppain.dynamics import COEFS
>>> COEFS[:4]
('mu_pain', 'mu_sleep', 'phi_pain', 'b_sp')
"""

from __future__ import annotations

from sleeppain.dynamics._api import dsem
from sleeppain.dynamics._arrays import DsemAccounting
from sleeppain.dynamics._diagnostics import ess_bulk, ess_tail, mcse_mean, rhat
from sleeppain.dynamics._result import DsemResult
from sleeppain.dynamics._spec import COEFS, DsemPriors, DsemSpec
from sleeppain.dynamics._wiring import crosslag_via_dsem, manifest_effects

__all__ = [
    "COEFS",
    "DsemAccounting",
    "DsemPriors",
    "DsemResult",
    "DsemSpec",
    "crosslag_via_dsem",
    "dsem",
    "ess_bulk",
    "ess_tail",
    "manifest_effects",
    "mcse_mean",
    "rhat",
]
