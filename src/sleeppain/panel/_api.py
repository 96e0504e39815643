"""The public verbs sp.clpm and sp.riclpm."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sleeppain.errors import (
    BoundaryFitWarning,
    ConvergenceWarning,
    DataStructureError,
    EstimationError,
    SpecificationError,
)
from sleeppain.mixed._blas import single_threaded_blas
from sleeppain.panel._data import prepare_panel, variables_from_args
from sleeppain.panel._engine import fit_h1, make_patterns
from sleeppain.panel._fit import fit_measures, fit_ram, start_values
from sleeppain.panel._model import PanelModel, build_model
from sleeppain.panel._result import PanelResult, PanelSpec

__all__ = ["check_solution", "clpm", "riclpm"]

_MISSING = {"fiml": "fiml", "ml": "fiml", "listwise": "listwise"}


def riclpm(
    data: pd.DataFrame,
    *,
    x: str | Sequence[str] | None = None,
    y: str | Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    variables: Sequence[Any] | Mapping[str, Any] | None = None,
    constrained: bool = False,
    missing: str = "fiml",
    id: str | None = None,
    wave: str | None = None,
    covariates: Sequence[str] | None = None,
) -> PanelResult:
    """Random-intercept cross-lagged panel model (Hamaker, Kuiper & Grasman 2015).

    The basic RI-CLPM of Mulder & Hamaker (2021, Structural Equation Modeling 28:638):
    random intercepts with loadings 1 and free (co)variances; within-person components
    with loadings 1 and observed residual variances fixed at 0; free observed means per
    wave; lagged paths between consecutive within-components; free first-wave and
    per-wave residual (co)variances. Fitted by maximum likelihood (full-information ML
    for missing waves) with analytic gradients, as lavaan 0.6 does.

    Parameters
    ----------
    data : DataFrame
        Wide (one row per person; ``x`` and ``y`` are lists of columns, one per wave, in
        wave order) or long (one row per person and wave; give ``id=`` and ``wave=``,
        and ``x``/``y`` as single column names).
    x, y : str or list of str
        The two variables. For more variables use ``variables=``.
    names : sequence of str, optional
        Variable names used in labels (default ``("x", "y")``), e.g.
        ``names=("sleep", "pain")`` gives effects ``"sleep->pain"``.
    variables : list or mapping, optional
        Two or more variables instead of ``x``/``y``: a list of column lists (wide) or
        column names (long), with ``names=``; or a mapping name -> columns.
    constrained : bool
        Constrain each lagged path to be equal over waves.
    missing : {"fiml", "listwise"}
        Full-information ML over missing-data patterns (lavaan's ``missing = "ml"``), or
        listwise deletion. Persons without any observed value are always left out and
        counted.
    id : str, optional
        Person column (required for long data; optional for wide data).
    wave : str, optional
        Wave column of long data.
    covariates : list of str, optional
        Person-level covariates predicting the random intercepts (exogenous, with moments
        fixed at their sample values as lavaan's ``fixed.x = TRUE``).

    Returns
    -------
    PanelResult

    Raises
    ------
    SpecificationError
        Fewer than 3 waves, unequal numbers of wave columns, bad arguments.
    DataStructureError
        Unknown or non-numeric columns, a constant wave, duplicated person-waves.

    Notes
    -----
    Checked against lavaan 0.6.14 (``tests/reference/lavaan``): parameters within 1e-4,
    standard errors within 1e-3 relative, chi-square within 1e-3, CFI and RMSEA within
    1e-4.

    Examples
    --------
    >>> import numpy as np, pandas as pd, sleeppain as sp
    >>> rng = np.random.default_rng(1)
    >>> ri = rng.normal(size=(300, 1))
    >>> df = pd.DataFrame(rng.normal(size=(300, 8)) + ri,
    ...                   columns=[f"{v}{t}" for v in "xy" for t in range(1, 5)])
    >>> res = sp.riclpm(df, x=["x1", "x2", "x3", "x4"], y=["y1", "y2", "y3", "y4"],
    ...                 names=("sleep", "pain"), constrained=True)
    >>> res.effects().index.tolist()
    ['sleep->sleep', 'pain->sleep', 'sleep->pain', 'pain->pain']
    >>> int(res.glance()["df"].iloc[0])
    17
    """
    from sleeppain._distributed import require_pandas

    require_pandas(data, "sp.riclpm")  # a Dask frame: typed error, no .compute()
    return _fit_panel(
        "riclpm", data, x, y, names, variables, constrained, missing, id, wave, covariates
    )


def clpm(
    data: pd.DataFrame,
    *,
    x: str | Sequence[str] | None = None,
    y: str | Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    variables: Sequence[Any] | Mapping[str, Any] | None = None,
    constrained: bool = False,
    missing: str = "fiml",
    id: str | None = None,
    wave: str | None = None,
    covariates: Sequence[str] | None = None,
) -> PanelResult:
    """Traditional cross-lagged panel model (CLPM).

    The observed variables of each wave are regressed on all variables of the previous
    wave; first-wave (co)variances and per-wave residual (co)variances are free, and so
    are the observed means. It is the RI-CLPM with the random-intercept (co)variances
    fixed at zero, so ``sp.panel.anova_panel(clpm_fit, riclpm_fit)`` tests the random
    intercepts as the RI-CLPM tutorial does. Arguments as :func:`riclpm`; ``covariates``
    raises :class:`~sleeppain.SpecificationError` (there are no random intercepts for them
    to predict). Needs at least two waves.

    Examples
    --------
    >>> import numpy as np, pandas as pd, sleeppain as sp
    >>> rng = np.random.default_rng(2)
    >>> long = pd.DataFrame({"id": np.repeat(np.arange(200), 3), "wave": np.tile([1, 2, 3], 200),
    ...                      "dep": rng.normal(size=600), "pain": rng.normal(size=600)})
    >>> res = sp.clpm(long, x="dep", y="pain", id="id", wave="wave", names=("dep", "pain"))
    >>> res.effects()["wave"].tolist()
    [2, 3, 2, 3, 2, 3, 2, 3]
    """
    from sleeppain._distributed import require_pandas

    require_pandas(data, "sp.clpm")  # a Dask frame: typed error, no .compute()
    return _fit_panel(
        "clpm", data, x, y, names, variables, constrained, missing, id, wave, covariates
    )


def _fit_panel(
    kind: str,
    data: pd.DataFrame,
    x: Any,
    y: Any,
    names: Any,
    variables: Any,
    constrained: Any,
    missing: Any,
    id: str | None,
    wave: str | None,
    covariates: Any,
) -> PanelResult:
    if not isinstance(constrained, bool | np.bool_):
        raise SpecificationError(f"constrained={constrained!r} must be True or False.")
    if missing not in _MISSING:
        raise SpecificationError(
            f"missing={missing!r}; use 'fiml' (full-information ML) or 'listwise'."
        )
    miss = _MISSING[missing]
    if covariates and kind == "clpm":
        raise SpecificationError(
            "covariates= predict the random intercepts, which the CLPM does not have; use "
            "sp.riclpm(..., covariates=...)."
        )
    varlist, nm = variables_from_args(x, y, variables, names)
    pdata = prepare_panel(
        data,
        varlist,
        nm,
        id=id,
        wave=wave,
        covariates=covariates or (),
        missing=miss,
        min_waves=3 if kind == "riclpm" else 2,
        stacklevel=4,
    )
    c = len(pdata.covariates)
    Z = pdata.Y[:, pdata.Y.shape[1] - c :]
    cov_mean = Z.mean(axis=0)
    cov_cov = (Z - cov_mean).T @ (Z - cov_mean) / len(Z) if c else np.zeros((0, 0))
    model = build_model(
        kind,
        pdata.names,
        [list(o) for o in pdata.obs_names],
        list(pdata.wave_labels),
        pdata.covariates,
        bool(constrained),
        cov_mean,
        cov_cov,
    )
    patterns = make_patterns(pdata.Y)
    from dataclasses import replace

    acc = replace(pdata.accounting, patterns=patterns.n_patterns)
    p_obs = pdata.Y.shape[1]
    if model.spec.n_par > p_obs * (p_obs + 3) // 2:
        raise SpecificationError(
            f"the model has {model.spec.n_par} free parameters but {p_obs} observed "
            f"variables give only {p_obs * (p_obs + 3) // 2} means and (co)variances; use "
            "constrained=True or fewer variables."
        )
    if patterns.complete and patterns.n_persons <= p_obs:
        raise DataStructureError(
            f"only {patterns.n_persons} complete persons for {p_obs} observed variables: the "
            "sample covariance matrix is singular. Use missing='fiml' or fewer waves."
        )
    with single_threaded_blas():
        h1 = fit_h1(patterns)
        start = start_values(model.spec, model.table, h1.mu, h1.sigma, kind == "riclpm")
        fit = fit_ram(model.spec, patterns, start, listwise=miss == "listwise" or patterns.complete)
    if not np.isfinite(h1.loglik):
        raise EstimationError(
            f"the unrestricted model (means and covariances of the {p_obs} observed "
            f"variables) cannot be estimated from {patterns.n_persons} persons: its "
            "covariance matrix is singular. Use fewer waves or variables, or more persons."
        )
    if not np.isfinite(fit.loglik):
        raise EstimationError(
            "the likelihood could not be evaluated at the solution (implied covariance "
            "matrix not positive definite); check the data for near-duplicate waves."
        )
    measures = fit_measures(model.spec, patterns, fit, h1, c)
    messages = check_solution(model, fit.theta, fit.vcov)
    if not h1.converged:
        messages.insert(
            0,
            (
                "convergence",
                f"EM for the unrestricted model stopped after {h1.iterations} iterations "
                "without converging; the chi-square and the fit indices may be inexact.",
            ),
        )
    if not fit.converged:
        messages.insert(
            0,
            (
                "convergence",
                f"the optimiser did not converge (largest gradient "
                f"{np.max(np.abs(fit.gradient)):.2g}); estimates may be unreliable. Check "
                "the data (scales, outliers) or simplify the model (constrained=True).",
            ),
        )
    for cat, msg in messages:
        warnings.warn(
            msg,
            ConvergenceWarning if cat == "convergence" else BoundaryFitWarning,
            stacklevel=3,
        )
    spec = PanelSpec(
        kind=kind,
        names=pdata.names,
        obs_names=pdata.obs_names,
        wave_labels=pdata.wave_labels,
        covariates=pdata.covariates,
        constrained=bool(constrained),
        missing=miss,
        long=pdata.long,
    )
    return PanelResult(
        spec=spec,
        model=model,
        fit=fit,
        measures=measures,
        accounting_record=acc,
        h1_loglik=h1.loglik,
        fit_warnings=tuple(msg for _, msg in messages),
    )


def check_solution(
    model: PanelModel, theta: np.ndarray, vcov: np.ndarray | None = None
) -> list[tuple[str, str]]:
    """Identification and admissibility checks of a solution, naming the parameters.

    Returns ``(category, message)`` pairs: negative variances, covariance blocks of the
    latent variables that are not positive definite, and standard errors that could not
    be computed (a sign of an unidentified model). :func:`riclpm` and :func:`clpm` issue
    them as warnings; the result keeps them in ``fit_warnings``.

    Examples
    --------
    >>> import numpy as np, pandas as pd, sleeppain as sp
    >>> rng = np.random.default_rng(5)
    >>> df = pd.DataFrame(rng.normal(size=(200, 6)) + rng.normal(size=(200, 1)),
    ...                   columns=["x1", "x2", "x3", "y1", "y2", "y3"])
    >>> res = sp.clpm(df, x=["x1", "x2", "x3"], y=["y1", "y2", "y3"])
    >>> theta = res.fit.theta.copy()
    >>> k = res.model.free_names.index("x1 ~~ x1")
    >>> theta[k] = -0.5
    >>> check_solution(res.model, theta)[0][1][:46]
    'negative variance estimate: x1 ~~ x1 = -0.5. T'
    """
    out: list[tuple[str, str]] = []
    spec = model.spec
    _, S, _ = spec.matrices(theta)
    for r in model.table:
        if r["op"] == "~~" and r["lhs"] == r["rhs"] and r["par"] >= 0 and theta[r["par"]] < 0:
            out.append(
                (
                    "boundary",
                    f"negative variance estimate: {r['lhs']} ~~ {r['rhs']} = "
                    f"{theta[r['par']]:.4g}. The model is misspecified or the variance is "
                    "near zero (for a random intercept: little stable between-person "
                    "variance; compare with sp.clpm).",
                )
            )
    # blocks of (residual) covariances among the latent or exogenous variables
    blocks: dict[tuple, set[int]] = {}
    for r in model.table:
        if r["op"] == "~~" and r["par"] >= 0:
            key = ("RI",) if r["lhs"].startswith("RI_") else ("wave", r["wave"])
            blocks.setdefault(key, set()).update((r["row"], r["col"]))
    names = model.node_names
    for key, idx_set in blocks.items():
        idx = sorted(idx_set)
        if len(idx) < 2:
            continue
        sub = S[np.ix_(idx, idx)]
        if np.min(np.linalg.eigvalsh(sub)) <= 0:
            d = np.sqrt(np.abs(np.diag(sub)))
            with np.errstate(divide="ignore", invalid="ignore"):
                corr = sub / np.outer(d, d)
            np.fill_diagonal(corr, 0.0)
            i, j = np.unravel_index(np.nanargmax(np.abs(corr)), corr.shape)
            what = "random intercepts" if key == ("RI",) else f"wave {key[1]} (residuals)"
            out.append(
                (
                    "boundary",
                    f"the covariance matrix of the {what} is not positive definite: "
                    f"{names[idx[min(i, j)]]} ~~ {names[idx[max(i, j)]]} implies a "
                    f"correlation of {corr[i, j]:.3g}. The solution is inadmissible; "
                    "consider constrained=True or the CLPM.",
                )
            )
    if vcov is not None:
        diag = np.diag(vcov)
        bad = [
            model.free_names[k]
            for k in range(len(diag))
            if not np.isfinite(diag[k]) or diag[k] <= 0
        ]
        if bad:
            out.append(
                (
                    "boundary",
                    f"standard errors could not be computed for {bad[:5]}"
                    f"{' and others' if len(bad) > 5 else ''}: the information matrix is "
                    "singular, so the model may not be identified with these data.",
                )
            )
    return out
