"""The linear mixed-model engine behind ``sp.lmm`` (lme4's design, in Python).

A pipeline of small public stages, as lme4 and MixedModels.jl (Bates et al. 2015,
J Stat Softw 67(1)):

1. :func:`parse_formula` -- split the lme4 formula (``||`` and ``/`` expanded);
2. :func:`build_design` -- fixed ``X``, response ``y``, random-effect terms (lme4 order),
   rows with missing values dropped and counted;
3. :func:`block_stats` -- per-group cross-products for one grouping factor (computed once);
4. :func:`deviance_from_design` / :func:`make_deviance` -- the profiled deviance
   ``d(theta)`` (REML criterion or -2 logLik), lme4's ``devfun``;
5. :func:`optimize_theta` -- bounded TNC (or L-BFGS-B) from a moment-based or lme4's start;
6. :func:`check_convergence`, :func:`is_singular` -- lme4's checks;
7. :class:`LmmResult` -- the frozen result (:func:`lmm` runs them all).

Deviance evaluators: :class:`BlockDeviance` (one grouping factor, per-group
cross-products, analytic gradient; cost per evaluation independent of the number of rows),
:class:`GeneralDeviance` (small multi-factor designs, dense, analytic gradient) and
:class:`SchurDeviance` (larger nested or crossed designs: the first term is eliminated
in closed form, finite-difference gradient). All give lme4's ``devfun(theta)``.

Conventions: theta in lme4's order (terms by ``rev(order(nlevels))`` when the numbers of
levels are not already non-increasing -- ties then come in reverse formula order, as in R;
within a term the lower triangle of the relative Cholesky factor, column-major). Names of
fixed effects and random-effect columns are patsy's (``"Intercept"``, ``"C(g)[T.b]"``).

Residual structures (``lmm(..., correlation="ar1" | "car1", time=, weights="group:COL")``,
nlme's corAR1 / corCAR1 / varIdent): :func:`~sleeppain.mixed.residual.residual_stats` is
the statistics stage (cell sums of the tridiagonal precision) and
:class:`~sleeppain.mixed.residual.CorrelatedDeviance` the evaluator (module
:mod:`sleeppain.mixed.residual`).

Limitations: residual structures need a single grouping factor; no Kenward-Roger df; ``ranef`` conditional variances are omitted (NaN) for very large
multi-factor designs; the Schur path's gradient is by finite differences.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from sleeppain.mixed import lmm
>>> rng = np.random.default_rng(0)
>>> g = np.repeat(np.arange(15), 8)
>>> df = pd.DataFrame({"x": rng.normal(size=120), "g": g})
>>> df["y"] = 1 + df.x + rng.normal(size=15)[g] + rng.normal(size=120)
>>> lmm("y ~ x + (1 | g)", df).theta.shape
(1,)
"""

from sleeppain.mixed.design import Design, ReTerm, RowAccounting, build_design, theta_layout
from sleeppain.mixed.deviance import (
    BlockDeviance,
    BlockStats,
    GeneralDeviance,
    PlsSolution,
    block_stats,
    deviance_from_design,
)
from sleeppain.mixed.fitting import anova, fit_design, lmm, make_deviance
from sleeppain.mixed.formula import ParsedFormula, ReTermSpec, parse_formula
from sleeppain.mixed.generalized import GlmmControl, GlmmResult, glmm
from sleeppain.mixed.inference import SatterthwaiteParts, satterthwaite_df, satterthwaite_parts
from sleeppain.mixed.optimize import (
    ConvergenceRecord,
    LmmControl,
    check_convergence,
    is_singular,
    optimize_theta,
)
from sleeppain.mixed.ordinal import ClmmResult, clmm
from sleeppain.mixed.residual import (
    CorrelatedDeviance,
    ResidualSpec,
    ResidualStats,
    VarIdent,
    residual_stats,
)
from sleeppain.mixed.result import LmmResult
from sleeppain.mixed.schur import SchurDeviance

__all__ = [
    "BlockDeviance",
    "BlockStats",
    "ClmmResult",
    "ConvergenceRecord",
    "CorrelatedDeviance",
    "Design",
    "GeneralDeviance",
    "GlmmControl",
    "GlmmResult",
    "LmmControl",
    "LmmResult",
    "ParsedFormula",
    "PlsSolution",
    "ReTerm",
    "ReTermSpec",
    "ResidualSpec",
    "ResidualStats",
    "RowAccounting",
    "SatterthwaiteParts",
    "SchurDeviance",
    "VarIdent",
    "anova",
    "block_stats",
    "build_design",
    "check_convergence",
    "clmm",
    "deviance_from_design",
    "fit_design",
    "glmm",
    "is_singular",
    "lmm",
    "make_deviance",
    "optimize_theta",
    "parse_formula",
    "residual_stats",
    "satterthwaite_df",
    "satterthwaite_parts",
    "theta_layout",
]
