"""Model specification of :func:`sleeppain.dsem`: coefficients, random effects, priors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sleeppain.errors import SpecificationError

__all__ = [
    "COEFS",
    "COEF_LABELS",
    "DIRECTION_OF",
    "RANDOM_CHOICES",
    "DsemPriors",
    "DsemSpec",
    "random_indices",
]

#: Person-level coefficients of the within-person model, in the sampler's order.
#: ``mu_*`` are the latent person means; ``phi_*`` the autoregressions; ``b_sp`` the effect
#: of sleep (night n) on pain (day n + 1); ``b_ps`` the effect of pain (day n) on sleep
#: (night n); ``logvar_*`` the log residual (innovation) variances.
COEFS: tuple[str, ...] = (
    "mu_pain",
    "mu_sleep",
    "phi_pain",
    "b_sp",
    "phi_sleep",
    "b_ps",
    "logvar_pain",
    "logvar_sleep",
)
COEF_LABELS: dict[str, str] = {
    "mu_pain": "person mean of pain",
    "mu_sleep": "person mean of sleep",
    "phi_pain": "pain (day n) -> pain (day n+1)",
    "b_sp": "sleep (night n) -> pain (day n+1)",
    "phi_sleep": "sleep (night n-1) -> sleep (night n)",
    "b_ps": "pain (day n) -> sleep (night n)",
    "logvar_pain": "log residual variance of pain",
    "logvar_sleep": "log residual variance of sleep",
}
#: effects() rows: direction -> coefficient
DIRECTION_OF: dict[str, str] = {
    "sleep->pain": "b_sp",
    "pain->sleep": "b_ps",
    "pain->pain": "phi_pain",
    "sleep->sleep": "phi_sleep",
}
RANDOM_CHOICES: dict[str, tuple[int, ...]] = {
    "intercept": (0, 1),
    "autoregression": (2, 4),
    "crosslag": (3, 5),
    "residual_variance": (6, 7),
}


@dataclass(frozen=True)
class DsemPriors:
    """Priors of :func:`sleeppain.dsem`, on the internal scale (each variable divided by
    its pooled within-person SD and centred at its grand mean).

    Weakly informative and proper:

    * population means of the random effects (and their regressions on person covariates):
      flat (Mplus: N(0, 10^10));
    * coefficients that are not random: N(0, ``fixed_var``) with ``fixed_var`` = 100;
    * covariance of the random effects, ``covariance="huang-wand"`` (default): an inverse
      Wishart with ``hw_df + q - 1`` degrees of freedom (q random effects, ``hw_df`` = 2)
      whose scale is diag(2 ``hw_df`` / a_k). For the two person means a_k is random,
      a_k ~ IG(1/2, 1/A^2) with A = ``hw_scale_mean`` = 10 within-SD units (Huang & Wand
      2013, Bayesian Analysis 8:439): their SDs get half-t priors with 2 degrees of freedom
      and scale A, which do not pull a weakly identified variance towards a chosen value.
      With 7 days per person the person-mean variance is weakly identified and trades off
      against the autoregressions: a fixed scale of 1 pulled it down and the pain
      autoregression up by 0.02 (see ``benchmarks/RESULTS.md``). For slopes and log
      variances a_k is fixed so that the scale is ``iw_scale_slope`` = 0.01 (a slope SD of
      about 0.05-0.1) and ``iw_scale_logvar`` = 0.1: a proper, fixed-scale prior that keeps
      a slope SD off an exact zero (a half-t there lets the Gibbs sampler collapse a
      near-zero slope variance numerically);
    * ``hw_scale_slope`` (default None: the fixed slope scales above): a number A gives
      the four slope SDs half-t priors of scale A as well, with a floor: each a_k is
      truncated so that its inverse-Wishart scale 2 ``hw_df`` / a_k stays at or above
      ``hw_floor_slope`` = 0.001, which keeps a truly zero slope variance from collapsing
      numerically. A prior-sensitivity option for short diaries: at 100 x 7 it moved the
      pain autoregression by -0.007 and the sleep autoregression by -0.005 (paired, 200
      datasets; ``benchmarks/RESULTS.md``), so it is not the default;
    * ``covariance="inverse-wishart"``: a fixed inverse Wishart for all random effects,
      ``q + iw_df_extra`` degrees of freedom (``iw_df_extra`` = 2) and scale
      diag(``iw_scale_mean`` = 1, ``iw_scale_slope``, ``iw_scale_logvar``);
    * residual variances (when not random): inverse gamma (``ig_shape``, ``ig_rate``) =
      (0.001, 0.001);
    * the two pre-sample values of each person (pain on day f - 1 and sleep in night
      f - 1, f the first diary day): latent, N(person mean, ``init_var`` = 1), i.e. one
      pooled within-person variance, close to the stationary variance;
    * missing values inside a person's span: latent, given only the model (flat).

    Examples
    --------
    >>> DsemPriors().covariance
    'huang-wand'
    >>> DsemPriors(covariance="inverse-wishart").iw_scale_slope
    0.01
    >>> DsemPriors(hw_scale_slope=1.0).hw_floor_slope
    0.001
    """

    fixed_var: float = 100.0
    covariance: str = "huang-wand"
    hw_df: float = 2.0
    hw_scale_mean: float = 10.0
    hw_scale_slope: float | None = None
    hw_floor_slope: float = 0.001
    iw_df_extra: float = 2.0
    iw_scale_mean: float = 1.0
    iw_scale_slope: float = 0.01
    iw_scale_logvar: float = 0.1
    ig_shape: float = 0.001
    ig_rate: float = 0.001
    init_var: float = 1.0

    def __post_init__(self) -> None:
        if self.covariance not in ("huang-wand", "inverse-wishart"):
            raise SpecificationError(
                f"DsemPriors(covariance={self.covariance!r}): choose 'huang-wand' (default) "
                "or 'inverse-wishart'."
            )
        positive = (
            "fixed_var",
            "hw_df",
            "hw_scale_mean",
            "hw_floor_slope",
            "iw_scale_mean",
            "iw_scale_slope",
            "iw_scale_logvar",
            "ig_shape",
            "ig_rate",
            "init_var",
        )
        bad = [f"{n}={getattr(self, n)!r}" for n in positive if not getattr(self, n) > 0]
        if bad:
            raise SpecificationError(
                f"DsemPriors: {', '.join(bad)} must be positive numbers; e.g. leave them at "
                "their defaults."
            )
        if self.hw_scale_slope is not None and not (
            isinstance(self.hw_scale_slope, (int, float))
            and not isinstance(self.hw_scale_slope, bool)
            and self.hw_scale_slope > 0
        ):
            raise SpecificationError(
                f"DsemPriors: hw_scale_slope={self.hw_scale_slope!r} must be None (fixed "
                "slope scales, the default) or a positive number such as 1.0."
            )
        if not self.iw_df_extra > -1:
            raise SpecificationError(
                f"DsemPriors(iw_df_extra={self.iw_df_extra!r}) must exceed -1 (a proper "
                "inverse Wishart needs more than q - 1 degrees of freedom)."
            )


@dataclass(frozen=True)
class DsemSpec:
    """What :func:`sleeppain.dsem` estimates (column names and model options)."""

    sleep: str
    pain: str
    sleep_timing: str
    covariates: tuple[str, ...]
    person_covariates: tuple[str, ...]
    random: tuple[str, ...]
    chains: int
    warmup: int
    draws: int
    priors: DsemPriors = DsemPriors()

    @property
    def random_idx(self) -> tuple[int, ...]:
        """Indices into :data:`COEFS` of the random coefficients."""
        return random_indices(self.random)

    def describe(self) -> str:
        """One-line model description.

        Examples
        --------
        >>> spec = DsemSpec(sleep="sq", pain="pain", sleep_timing="previous_night",
        ...                 covariates=("stress",), person_covariates=(),
        ...                 random=("intercept",), chains=2, warmup=10, draws=10)
        >>> "day-level covariates: stress" in spec.describe()
        True
        """
        rnd = ", ".join(self.random) or "none"
        cov = (
            f"; day-level covariates: {', '.join(self.covariates)} (day n -> sleep night n "
            "and pain day n+1, centred within person)"
            if self.covariates
            else ""
        )
        cov += (
            f"; person covariates: {', '.join(self.person_covariates)}"
            if self.person_covariates
            else ""
        )
        return (
            f"two-level VAR(1), alternating pain (day n) -> sleep (night n) -> pain (day n+1); "
            f"latent person means; random: {rnd}{cov}"
        )


def random_indices(random: Sequence[str]) -> tuple[int, ...]:
    """Sorted coefficient indices of the ``random=`` choices."""
    out: list[int] = []
    for r in random:
        out.extend(RANDOM_CHOICES[r])
    return tuple(sorted(out))


def check_random(random: object) -> tuple[str, ...]:
    """Validate ``random=`` (a subset of :data:`RANDOM_CHOICES`)."""
    if isinstance(random, str):
        random = (random,)
    try:
        items = tuple(random)  # type: ignore[arg-type]
    except TypeError:
        raise SpecificationError(
            f"random={random!r} must be a list of {list(RANDOM_CHOICES)}."
        ) from None
    bad = [r for r in items if r not in RANDOM_CHOICES]
    if bad:
        raise SpecificationError(
            f"random= has unknown entries {bad}; choose among {list(RANDOM_CHOICES)}, e.g. "
            "random=('intercept', 'autoregression', 'crosslag')."
        )
    if len(set(items)) != len(items):
        raise SpecificationError(f"random= lists an entry twice: {list(items)}.")
    return tuple(r for r in RANDOM_CHOICES if r in items)
