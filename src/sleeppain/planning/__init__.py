"""Monte Carlo power for lagged diary studies of sleep and pain (``sp.power``).

Examples
--------
>>> import sleeppain as sp
>>> res = sp.power(n_persons=30, n_days=7, sleep_to_pain=-0.3, pain_to_sleep=0.0,
...                n_sims=20, seed=1, n_jobs=1, progress=False)
>>> res.table.shape[0]
2
"""

from __future__ import annotations

from sleeppain.planning._montecarlo import power
from sleeppain.planning._result import PowerResult

__all__ = ["PowerResult", "power"]
