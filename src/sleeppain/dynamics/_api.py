"""The verb :func:`dsem`: the latent-centred dynamic model of sleep and pain."""

from __future__ import annotations

import numbers
import os
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from sleeppain.analysis._api import _names, _timing
from sleeppain.dynamics import _diagnostics as diag
from sleeppain.dynamics._arrays import Prepared, prepare
from sleeppain.dynamics._gibbs import N_COEF, ChainDraws, run_chain
from sleeppain.dynamics._result import DsemResult
from sleeppain.dynamics._spec import COEF_LABELS, COEFS, DsemPriors, DsemSpec, check_random
from sleeppain.errors import (
    ConvergenceWarning,
    DataDropWarning,
    SpecificationError,
    user_stacklevel,
)
from sleeppain.results import check_seed

__all__ = ["dsem"]

#: R-hat above this raises a ConvergenceWarning (Vehtari et al. 2021, section 4)
RHAT_MAX = 1.01
#: bulk/tail ESS below this many per chain raises a ConvergenceWarning (Vehtari et al. 2021)
ESS_PER_CHAIN_MIN = 100
#: at most this many person-coefficient values are kept (thinning the person draws)
PERSON_VALUES_MAX = 20_000_000


def _count(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise SpecificationError(
            f"{name}={value!r} must be a whole number >= {minimum}, e.g. {name}="
            f"{4 if name == 'chains' else 1000}."
        )
    return int(value)


def _workers(n_jobs: Any, chains: int) -> int:
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise SpecificationError(
            f"n_jobs={n_jobs!r} is not a number of worker processes; pass a positive "
            "integer, or -1 for all cores."
        )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    n = int(n_jobs) if n_jobs > 0 else max(1, cores + 1 + int(n_jobs))
    return max(1, min(n, chains))


def _priors(priors: Any) -> DsemPriors:
    if priors is None:
        return DsemPriors()
    if not isinstance(priors, DsemPriors):
        raise SpecificationError(
            f"priors= must be a sleeppain.DsemPriors, got {type(priors).__name__}; "
            "e.g. priors=sp.DsemPriors(covariance='inverse-wishart')."
        )
    return priors


def _column(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise SpecificationError(f"{name}= must be one column name (a string), got {value!r}.")
    return value


def _diary(
    data: Any, id: str | None, day: str | None, sleep: str, timing: str | None, needed: list[str]
) -> Any:
    from sleeppain.diary import Diary

    if isinstance(data, Diary):
        for arg, given, own in (("id", id, data.id_column), ("day", day, data.day_column)):
            if given is not None and given != own:
                raise SpecificationError(
                    f"dsem: {arg}={given!r} differs from the Diary's {arg} column {own!r}; "
                    f"drop {arg}= when passing a Diary."
                )
        data.require(needed, "dsem")
        want = timing or data.sleep_timing
        if sleep not in data.sleep or want != data.sleep_timing:
            extra = () if sleep in data.sleep else (sleep,)
            data = data.with_sleep((*data.sleep, *extra), want)
        return data
    if isinstance(data, pd.DataFrame):
        absent = [f"{n}=" for n, v in (("id", id), ("day", day)) if v is None]
        if absent:
            raise SpecificationError(
                f"dsem: {' and '.join(absent)} required when data is a DataFrame (the person "
                "id and day columns), e.g. dsem(df, id='id', day='date', sleep='sleep_quality', "
                "pain='pain', seed=1); or pass a sp.Diary."
            )
        return Diary.from_frame(
            data,
            id=str(id),
            day=str(day),
            sleep=(sleep,),
            sleep_timing=timing or "previous_night",
            columns=needed,
        )
    raise SpecificationError(
        f"dsem: data must be a sp.Diary or a pandas DataFrame, got {type(data).__name__}."
    )


def _chain_job(args: tuple[Any, ...]) -> ChainDraws:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return run_chain(*args)


def _run_chains(
    prep: Prepared, spec: DsemSpec, root: np.random.SeedSequence, workers: int, progress: bool
) -> tuple[list[ChainDraws], float]:
    n = prep.arrays.n_persons
    keep = int(min(spec.draws, max(1, PERSON_VALUES_MAX // (n * N_COEF * spec.chains)), 1000))
    jobs = [
        (prep.arrays, spec.random_idx, spec.priors, spec.warmup, spec.draws, s, keep)
        for s in root.spawn(spec.chains)
    ]
    from sleeppain.report._progress import ProgressBar

    t0 = time.perf_counter()
    out: list[ChainDraws] = []
    # the library's one progress bar (report/_progress.py), as sp.power and compare use
    with ProgressBar(spec.chains, "dsem", enabled=progress, unit="chains") as bar:
        if workers == 1:
            for j in jobs:
                out.append(_chain_job(j))
                bar.update(1)
        else:
            with ProcessPoolExecutor(max_workers=workers) as ex:
                for res in ex.map(_chain_job, jobs):
                    out.append(res)
                    bar.update(1)
    return out, time.perf_counter() - t0


def _assemble(
    chains: list[ChainDraws], prep: Prepared, spec: DsemSpec
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, tuple[str, str]], np.ndarray]:
    """Population draws in the data's units, with term names and kinds."""
    sp_, ss = prep.scale
    mult = np.array([sp_, ss, 1.0, sp_ / ss, 1.0, ss / sp_, 1.0, 1.0])
    offset = np.array([prep.centre[0], prep.centre[1], 0, 0, 0, 0, 2 * np.log(sp_), 2 * np.log(ss)])
    coef = np.stack([c.coef for c in chains])  # (C, S, 8)
    names = {
        "mu_pain": f"mean({spec.pain})",
        "mu_sleep": f"mean({spec.sleep})",
        "phi_pain": "pain->pain",
        "b_sp": "sleep->pain",
        "phi_sleep": "sleep->sleep",
        "b_ps": "pain->sleep",
        "logvar_pain": f"logvar({spec.pain})",
        "logvar_sleep": f"logvar({spec.sleep})",
    }
    rnd = spec.random_idx
    draws: dict[str, np.ndarray] = {}
    info: dict[str, tuple[str, str]] = {}
    for c in (3, 5, 2, 4, 0, 1):
        t = names[COEFS[c]]
        draws[t] = offset[c] + mult[c] * coef[:, :, c]
        kind = "population mean of a random coefficient" if c in rnd else "common to all persons"
        info[t] = ("fixed", f"{COEF_LABELS[COEFS[c]]} ({kind})")
    if spec.covariates:
        # internal outcome = (value - centre) / scale, covariates not rescaled: the data's
        # units multiply by the outcome's scale
        gam = np.stack([c.gamma for c in chains])  # (C, S, 2, p)
        for j, cov in enumerate(spec.covariates):
            for k, (outcome, when) in enumerate((("pain", "day n+1"), ("sleep", "night n"))):
                t = f"{outcome} ~ {cov}"
                draws[t] = gam[:, :, k, j] * prep.scale[k]
                info[t] = (
                    "fixed",
                    f"{cov} (day n, centred within person) -> {outcome} ({when}) "
                    "(common to all persons)",
                )
    for k, c in enumerate((6, 7)):
        var = spec.pain if k == 0 else spec.sleep
        if c in rnd:
            t = names[COEFS[c]]
            draws[t] = offset[c] + coef[:, :, c]
            info[t] = ("residual", f"mean of the person log residual variances of {var}")
        else:
            t = f"residual_var({var})"
            draws[t] = np.exp(offset[c] + coef[:, :, c])
            info[t] = ("residual", f"residual (innovation) variance of {var}")
    if rnd:
        sig = np.stack([c.sigma for c in chains])  # (C, S, q, q)
        beta = np.stack([c.beta for c in chains])  # (C, S, r, q)
        m = mult[list(rnd)]
        sd = np.sqrt(np.maximum(np.diagonal(sig, axis1=2, axis2=3), 0.0)) * m
        for j, c in enumerate(rnd):
            t = f"sd({names[COEFS[c]]})"
            draws[t] = sd[:, :, j]
            info[t] = ("random", f"between-person SD of {COEF_LABELS[COEFS[c]]}")
        raw_sd = np.sqrt(np.maximum(np.diagonal(sig, axis1=2, axis2=3), 1e-300))
        for a in range(len(rnd)):
            for b in range(a + 1, len(rnd)):
                t = f"cor({names[COEFS[rnd[a]]]}, {names[COEFS[rnd[b]]]})"
                draws[t] = sig[:, :, a, b] / (raw_sd[:, :, a] * raw_sd[:, :, b])
                info[t] = ("random", "correlation of the random effects")
        for k, cov in enumerate(spec.person_covariates):
            for j, c in enumerate(rnd):
                t = f"{names[COEFS[c]]} ~ {cov}"
                draws[t] = beta[:, :, k + 1, j] * m[j]
                info[t] = ("cross-level", f"change in {COEF_LABELS[COEFS[c]]} per unit of {cov}")
    internal = {names[COEFS[c]]: coef[:, :, c].copy() for c in (3, 5, 2, 4)}
    person = np.stack([c.person for c in chains])  # (C, K, N, 8)
    person = offset + mult * person
    return draws, internal, info, person


def dsem(
    data: Any,
    *,
    id: str | None = None,
    day: str | None = None,
    sleep: str,
    pain: str,
    sleep_timing: str | None = None,
    covariates: Sequence[str] = (),
    person_covariates: Sequence[str] = (),
    random: Sequence[str] = ("intercept", "autoregression", "crosslag"),
    chains: int = 4,
    warmup: int = 1000,
    draws: int = 1000,
    seed: int | np.random.SeedSequence | None,
    n_jobs: int = -1,
    progress: bool | None = None,
    priors: DsemPriors | None = None,
) -> DsemResult:
    """Dynamic SEM of sleep and pain: a two-level bivariate VAR(1) with latent person means.

    On the canonical night index (night *n* follows day *n*) the within-person process
    alternates pain on day *n*, sleep in night *n*, pain on day *n + 1*. For person *i*,
    with latent means ``mu_p``, ``mu_s``::

        sleep[n]   - mu_s = phi_s (sleep[n-1] - mu_s) + b_ps (pain[n]  - mu_p) + e_s
        pain[n+1]  - mu_p = phi_p (pain[n]    - mu_p) + b_sp (sleep[n] - mu_s) + e_p

    ``e_s ~ N(0, sigma2_s)``, ``e_p ~ N(0, sigma2_p)``. Day-level ``covariates`` x add
    ``g_s'x[n]`` to the sleep equation and ``g_p'x[n]`` to the pain equation (x of day
    *n*, centred within person; Mplus: ``sleep ON x; pain ON x&1;`` at the within
    level). The coefficients named in
    ``random`` vary over persons, jointly normal with a full covariance and means that
    may depend on ``person_covariates`` (cross-level moderation); the others are common.
    Person means are estimated, not observed averages, so short diaries do not bias the
    autoregressions or the cross-lags (Nickell 1981; Hamaker & Grasman 2015). This is the
    model of Mplus DSEM (Asparouhov, Hamaker & Muthen 2018, Struct Equ Modeling 25:359)
    with the alternating day/night order; missing days are latent values imputed in the
    sampler, so a gap breaks nothing.

    Estimated by a Gibbs sampler vectorised over persons (see
    :mod:`sleeppain.dynamics._gibbs`); priors in :class:`~sleeppain.DsemPriors`.
    Checked against the truth in simulations (``benchmarks/bench_dsem.py``) and against a
    PyMC NUTS fit of the same model (``tests/reference/dsem``).

    Parameters
    ----------
    data : Diary or DataFrame
        As for :func:`sleeppain.crosslag`.
    id, day : str, optional
        Person and day columns (required with a DataFrame).
    sleep, pain : str
        The sleep (night) and pain (day) columns.
    sleep_timing : {"previous_night", "following_night"}, optional
        Which night a sleep value of day *d* describes (default: the Diary's, or
        ``"previous_night"`` for a DataFrame).
    covariates : list of str
        Day-level (time-varying) numeric covariates, entered as ``sp.crosslag`` enters
        them: the value of day *n* predicts sleep in night *n* and pain on day *n + 1*
        (the predictor's day, before both outcomes), with one coefficient per equation,
        common to all persons (``tidy()`` terms ``pain ~ x`` and ``sleep ~ x``, in the
        outcome's units per unit of x). Each covariate is centred at the person's mean of
        its observed values over the person's diary span, so the coefficients are
        within-person effects. An observed pain or sleep value whose covariate is missing
        is treated as missing (imputed, counted in ``res.accounting`` and warned about).
        Covariate values of days before the person's first pain day (the day before the
        diary, whose value enters the first pain equation, and in a morning diary the day
        before the first night) are pre-sample: latent where missing, drawn from N(0,
        the covariate's within-person variance) and the equations they enter
        (``res.accounting.presample_covariate``).
    person_covariates : list of str
        Person-level columns (constant within person, centred at their mean) predicting
        every random effect. Persons missing one are excluded and counted.
    random : list of str
        Subset of ``"intercept"`` (the two latent means), ``"autoregression"``,
        ``"crosslag"`` and ``"residual_variance"`` (person-specific log residual
        variances, correlated with the other random effects, as Mplus's ``psi | X``).
    chains, warmup, draws : int
        Chains, warm-up iterations (discarded) and kept draws per chain.
    seed : int, SeedSequence or None
        Keyword-only. Chains are seeded with ``SeedSequence(seed).spawn(chains)``, so the
        result is identical for any ``n_jobs``; None draws fresh entropy (recorded in
        ``seed_entropy``).
    n_jobs : int
        Worker processes for the chains (-1: all cores).
    progress : bool, optional
        Print a line per finished chain on stderr (default: when stderr is a terminal).
    priors : DsemPriors, optional
        The priors (default ``DsemPriors()``: weakly informative; half-t priors on the
        person-mean SDs, Huang & Wand 2013). ``sp.DsemPriors(covariance="inverse-wishart")``
        gives the fixed inverse-Wishart prior of Mplus-style setups, and
        ``sp.DsemPriors(hw_scale_slope=1.0)`` half-t priors on the slope SDs as well.

    Returns
    -------
    DsemResult

    Raises
    ------
    SpecificationError
        Bad arguments (chains or draws < 1, invalid seed, unknown ``random`` entry, a
        covariate that is the pain or sleep column or in both ``covariates`` and
        ``person_covariates``).
    DataStructureError
        Missing, non-numeric or all-missing columns; a variable (or day-level covariate)
        without within-person variance; collinear day-level covariates; no person with 3
        or more days.

    Warns
    -----
    DataDropWarning
        Persons with fewer than 3 days, or missing a person covariate, are excluded;
        observed values whose day-level covariate is missing are imputed instead (both
        counted in ``res.accounting``).
    ConvergenceWarning
        Some R-hat > 1.01 or bulk/tail ESS < 100 per chain; the message names them. The
        check covers the effects, means, residual variances, random-effect SDs and
        cross-level terms. Correlations between random effects are left out of it: when a
        random slope's SD is near zero its correlations are barely identified and mix
        slowly; their R-hat and ESS are in ``res.diagnostics()`` and ``res.tidy()``.

    Examples
    --------
    >>> import sleeppain as sp
    >>> sim = sp.simulate.diary(60, 14, seed=2, phi_sleep=0.3)
    >>> res = sp.dsem(sim.data, id="id", day="day", sleep="sleep_quality", pain="pain",
    ...               random=("intercept",), chains=2, warmup=200, draws=800, seed=1, n_jobs=1)
    >>> res.effects().index.tolist()
    ['sleep->pain', 'pain->sleep', 'pain->pain', 'sleep->sleep']
    >>> bool(res.effects().loc["sleep->pain", "conf_high"] < 0)
    True
    """
    from sleeppain._distributed import require_pandas

    require_pandas(data, "sp.dsem")  # a Dask frame: typed error, no .compute()
    sleep = _column(sleep, "sleep")
    pain = _column(pain, "pain")
    if sleep == pain:
        raise SpecificationError(
            f"sleep= and pain= name the same column {pain!r}; name different columns."
        )
    covs = _names(covariates, "covariates")
    pcovs = _names(person_covariates, "person_covariates")
    for arg, names_ in (("covariates", covs), ("person_covariates", pcovs)):
        clash = [c for c in names_ if c in (sleep, pain)]
        if clash:
            raise SpecificationError(
                f"dsem: {arg}={clash} names the pain or sleep column, which the model already "
                f"has (as outcome and lagged predictor); remove it from {arg}=."
            )
    both = [c for c in covs if c in pcovs]
    if both:
        raise SpecificationError(
            f"dsem: {both} is in both covariates= (day-level) and person_covariates= "
            "(person-level); keep it in one: covariates= for a variable that changes from "
            "day to day, person_covariates= for one constant within person."
        )
    rnd = check_random(random)
    n_chains = _count(chains, "chains", 1)
    n_warm = _count(warmup, "warmup", 0)
    n_draws = _count(draws, "draws", 1)
    if n_draws < 4:
        raise SpecificationError(f"draws={draws} is too few to summarise; pass e.g. draws=1000.")
    seed_ok = check_seed(seed)
    workers = _workers(n_jobs, n_chains)
    from sleeppain.report._progress import show_progress

    show = show_progress(progress)
    diary = _diary(data, id, day, sleep, _timing(sleep_timing), [pain, sleep, *pcovs, *covs])
    spec = DsemSpec(
        sleep=sleep,
        pain=pain,
        sleep_timing=diary.sleep_timing,
        covariates=covs,
        person_covariates=pcovs,
        random=rnd,
        chains=n_chains,
        warmup=n_warm,
        draws=n_draws,
        priors=_priors(priors),
    )
    prep = prepare(diary, sleep, pain, pcovs, covs)
    fit_warnings: list[tuple[str, str]] = []
    acc = prep.accounting
    if acc.values_missing_covariate:
        per = ", ".join(f"{c}: {k}" for c, k in acc.missing_covariate_by if k)
        msg = (
            f"dsem: {acc.values_missing_covariate} observed {pain}/{sleep} values are treated "
            "as missing (imputed) because a day-level covariate is missing on their "
            f"predictor day (day n for sleep in night n and pain on day n+1; values per "
            f"covariate: {per}). See res.accounting.values_missing_covariate; fill in the "
            "covariate or leave it out of covariates= to use those values."
        )
        fit_warnings.append(("DataDropWarning", msg))
        warnings.warn(msg, DataDropWarning, stacklevel=user_stacklevel())
    if acc.persons_used < acc.persons:
        ex = ", ".join(map(repr, prep.excluded_ids[:5]))
        msg = (
            f"dsem: {acc.persons - acc.persons_used} of {acc.persons} persons excluded "
            f"({acc.persons_too_short} with fewer than 3 days with {pain} or {sleep}"
            + (f", {acc.persons_missing_covariate} missing a person covariate" if pcovs else "")
            + f"), e.g. id {ex}. See res.accounting."
        )
        fit_warnings.append(("DataDropWarning", msg))
        warnings.warn(msg, DataDropWarning, stacklevel=user_stacklevel())
    root = (
        seed_ok if isinstance(seed_ok, np.random.SeedSequence) else np.random.SeedSequence(seed_ok)
    )
    out, seconds = _run_chains(prep, spec, root, workers, show)
    draws_d, internal, info, person = _assemble(out, prep, spec)
    bad = []
    for term, x in draws_d.items():
        if term.startswith("cor("):
            continue  # see the Warns section: reported in diagnostics(), not warned about
        r, eb, et = diag.rhat(x), diag.ess_bulk(x), diag.ess_tail(x)
        lim = ESS_PER_CHAIN_MIN * n_chains
        if not (np.isfinite(r) and np.isfinite(eb) and np.isfinite(et)):
            # too few draws (or constant draws): the diagnostics cannot be estimated
            bad.append(f"{term} (R-hat and ESS not estimable from {n_draws} draws per chain)")
        elif r > RHAT_MAX or eb < lim or et < lim:
            bad.append(f"{term} (R-hat {r:.3f}, ESS bulk {eb:.0f}, tail {et:.0f})")
    if bad:
        msg = (
            f"dsem: the chains have not converged or mixed enough for {len(bad)} parameter(s): "
            + "; ".join(bad[:6])
            + ("; ..." if len(bad) > 6 else "")
            + f". Wanted R-hat <= {RHAT_MAX} and ESS >= {ESS_PER_CHAIN_MIN} per chain. Run "
            f"longer chains (e.g. warmup={max(2 * n_warm, 1000)}, draws={max(2 * n_draws, 2000)}) "
            "or make fewer coefficients random (random=...)."
        )
        fit_warnings.append(("ConvergenceWarning", msg))
        warnings.warn(msg, ConvergenceWarning, stacklevel=user_stacklevel())
    acc_rate = float(np.nanmean([c.accept for c in out])) if 6 in spec.random_idx else float("nan")
    return DsemResult(
        spec=spec,
        draws=draws_d,
        internal=internal,
        person_draws=person,
        ids=prep.ids,
        accounting=acc,
        diary_accounting=diary.accounting_for(pain),
        seed_entropy=int(root.entropy) if isinstance(root.entropy, int) else 0,
        seconds=seconds,
        sampler={
            "chains": n_chains,
            "warmup": n_warm,
            "draws": n_draws,
            "n_jobs": workers,
            "person_draws_kept": person.shape[1],
            "logvar_accept": acc_rate,
            "centre": tuple(prep.centre.tolist()),
            "scale": tuple(prep.scale.tolist()),
        },
        fit_warnings=tuple(fit_warnings),
        term_info=info,
        _diary=diary,
    )
