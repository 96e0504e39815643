"""Networks and within-person mediation of three or more diary variables.

* :func:`network` -- temporal, contemporaneous and between-person networks (mlVAR's lmer
  estimator; an N-of-1 VAR for a single person);
* :func:`mediation` -- the stacked 1-1-1 lagged within-person mediation model of Bauer,
  Preacher & Gil (2006) with Monte Carlo intervals.

Examples
--------
>>> from sleeppain.multivariate import network, mediation
>>> callable(network) and callable(mediation)
True
"""

from sleeppain.multivariate._mediate import mediation
from sleeppain.multivariate._medresult import MediationResult
from sleeppain.multivariate._netresult import NetworkResult
from sleeppain.multivariate._var import network

__all__ = ["MediationResult", "NetworkResult", "mediation", "network"]
