"""Model frames of the two cross-lagged directions (and their extensions) from a Diary.

Every model row is one canonical diary row *n* (night *n* is the night after day *n*).
Terms are looked up on the exact calendar day (or night) they name with
:meth:`Diary.lag` / :meth:`Diary.lead`; a row enters a model only when every term is
observed. Within-person (``_w``) and between-person (``_m``) parts come from
:meth:`Diary.within` and :meth:`Diary.between`, i.e. over all of a person's available
observations, not only the rows a model uses.

Internal column names are fixed, formula-safe identifiers (``pain_next``, ``sleep_w`` ...);
the user's column names appear only in :attr:`ModelFrame.labels`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from sleeppain.accounting import Accounting
from sleeppain.diary._lagged import LaggedFrame, lagged_frame
from sleeppain.errors import DataStructureError, SpecificationError

if TYPE_CHECKING:  # pragma: no cover
    from sleeppain.diary import Diary

__all__ = ["DIRECTIONS", "ModelAccounting", "ModelFrame", "build_frames"]

#: The two directions, in the order used throughout.
DIRECTIONS = ("sleep->pain", "pain->sleep")
#: Most distinct prompt values accepted as time-of-day slots.
MAX_PROMPT_SLOTS = 12


@dataclass(frozen=True)
class ModelAccounting(Accounting):
    """Which canonical diary rows a model uses, and why the others are left out.

    The lagged frame's accounting (:class:`~sleeppain.diary.LaggedFrame`) in the user's
    column names, for one direction; the per-term counts overlap (a row can miss several).

    Attributes
    ----------
    direction : str
        ``"sleep->pain"`` or ``"pain->sleep"``.
    sleep, pain : str
        The user's sleep and pain columns.
    rows_available : int
        Canonical rows (person-days) of the diary (prompt rows for the time-of-day model).
    rows_used : int
        Rows with every term observed (the model's observations).
    missing_by_term : tuple of (label, count)
        Rows on which each term is missing (a row can miss several terms).
    persons, persons_used : int
        Persons in the diary, and persons with at least one usable row.
    """

    direction: str
    sleep: str
    pain: str
    rows_available: int
    rows_used: int
    missing_by_term: tuple[tuple[str, int], ...]
    persons: int
    persons_used: int

    stage: ClassVar[str] = "model rows"
    title: ClassVar[str] = "Model accounting"
    reasons_exclusive: ClassVar[bool] = False

    def _counts(self) -> tuple[int, int, tuple[tuple[str, int], ...]]:
        return (
            self.rows_available,
            self.rows_used,
            tuple((f"missing {label}", n) for label, n in self.missing_by_term),
        )

    @property
    def rows_dropped(self) -> int:
        """Rows left out because some term is missing."""
        return self.rows_available - self.rows_used

    @classmethod
    def from_lagged(
        cls,
        lagged: LaggedFrame,
        *,
        direction: str,
        sleep: str,
        pain: str,
        labels: dict[str, str],
    ) -> ModelAccounting:
        """A lagged frame's accounting, with each term described in the user's names."""
        return cls(
            direction=direction,
            sleep=sleep,
            pain=pain,
            rows_available=lagged.rows_available,
            rows_used=lagged.rows_used,
            missing_by_term=tuple((labels.get(n, n), k) for n, k in lagged.missing_by_term),
            persons=lagged.persons,
            persons_used=lagged.persons_used,
        )

    def to_dict(self) -> dict[str, object]:
        """The accounting as a plain dict."""
        return {
            "direction": self.direction,
            "sleep": self.sleep,
            "pain": self.pain,
            "rows_available": self.rows_available,
            "rows_used": self.rows_used,
            "rows_dropped": self.rows_dropped,
            "missing_by_term": dict(self.missing_by_term),
            "persons": self.persons,
            "persons_used": self.persons_used,
        }


@dataclass(frozen=True, eq=False)
class ModelFrame:
    """The complete rows of one model and what each column means.

    Attributes
    ----------
    direction : str
    sleep, pain : str
        The user's columns.
    extension : str or None
        None for a main cross-lagged model, else the extension's name.
    frame : DataFrame
        ``id``, ``day``, the outcome and every term column (complete rows only); a copy.
    outcome : str
        Outcome column.
    fixed : tuple of str
        Fixed-effect columns (an intercept is added by the fitter).
    random : tuple of str
        Random-slope columns (empty: random intercept only).
    focal : tuple of str
        The coefficients this model is about (cross-lagged and extension terms).
    labels : mapping
        Column -> description with the user's names and the day or night it refers to
        (read-only).
    outcome_within : ndarray
        The outcome's within-person deviation on the rows used (for standardised effects;
        read-only).
    accounting : ModelAccounting
    """

    direction: str
    sleep: str
    pain: str
    extension: str | None
    _frame: pd.DataFrame = field(repr=False)
    outcome: str
    fixed: tuple[str, ...]
    random: tuple[str, ...]
    focal: tuple[str, ...]
    labels: Mapping[str, str] = field(repr=False)
    outcome_within: np.ndarray = field(repr=False)
    accounting: ModelAccounting = field(repr=False)

    def __post_init__(self) -> None:
        ow = np.array(self.outcome_within, dtype=np.float64)
        ow.flags.writeable = False
        object.__setattr__(self, "outcome_within", ow)
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))

    @property
    def frame(self) -> pd.DataFrame:
        """The model's complete rows (a copy: changing it never changes the result)."""
        return self._frame.copy()

    @property
    def nrows(self) -> int:
        """Number of rows (the model's observations)."""
        return len(self._frame)

    def formula(self, random_slopes: bool = True, slope_correlation: bool = False) -> str:
        """lme4-style formula of the model (its fixed part is the GEE mean model).

        The random intercept and slope are uncorrelated (``||``) unless
        ``slope_correlation``.

        Examples
        --------
        >>> mf.formula()  # doctest: +SKIP
        'pain_next ~ sleep_w + pain_w + sleep_m + (1 + sleep_w || id)'
        """
        re = " + ".join(("1", *self.random)) if random_slopes else "1"
        bar = "|" if slope_correlation or not random_slopes else "||"
        return f"{self.outcome} ~ {' + '.join(self.fixed)} + ({re} {bar} id)"

    def fixed_formula(self) -> str:
        """The fixed part only (``outcome ~ terms``)."""
        return f"{self.outcome} ~ {' + '.join(self.fixed)}"


# --------------------------------------------------------------------------- helpers
#: a term of a model: a diary column or a Series aligned with diary.data, and a lag in days
Spec = tuple[str | pd.Series, int]


def _values(series: pd.Series) -> np.ndarray:
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _series(diary: Diary, values: np.ndarray, name: str) -> pd.Series:
    return pd.Series(values, index=diary.data.index, name=name)


def _evaluate(diary: Diary, spec: Spec) -> np.ndarray:
    """A term's values on every canonical row (the Diary's calendar lag)."""
    col, k = spec
    return _values(diary.lag(col, k))


def _centre(diary: Diary, values: np.ndarray, name: str) -> pd.Series:
    """Deviation of a derived night variable from its person mean (over all nights).

    Derived terms (the square or the below/above parts of ``sleep_w``) have person means
    that differ between persons; left uncentred, that between-person part would be
    confounded with the outcome's person level in the model.
    """
    return diary.within(_series(diary, values, name))


def person_constant(diary: Diary, column: str, arg: str) -> np.ndarray:
    """A person-level column's value on every canonical row, grand-mean centred over persons.

    Raises DataStructureError when the column varies within a person.
    """
    data = diary.data
    vals = _values(data[column])
    ids = data["id"].to_numpy()
    codes, uniq = pd.factorize(ids)
    ok = ~np.isnan(vals)
    lo = np.full(len(uniq), np.inf)
    hi = np.full(len(uniq), -np.inf)
    np.minimum.at(lo, codes[ok], vals[ok])
    np.maximum.at(hi, codes[ok], vals[ok])
    varies = np.nonzero(hi - lo > 1e-9 * np.maximum(1.0, np.abs(hi)))[0]
    if len(varies):
        example = uniq[varies[0]]
        raise DataStructureError(
            f"{arg}: column {column!r} varies within person ({len(varies)} persons, e.g. "
            f"id={example!r} has values from {lo[varies[0]]:g} to {hi[varies[0]]:g}). A "
            "person-level covariate must be constant within person; pass a day-level "
            "variable in covariates= instead."
        )
    per_person = np.where(np.isfinite(lo), lo, np.nan)
    if np.all(np.isnan(per_person)):
        raise DataStructureError(f"{arg}: column {column!r} has no observed value.")
    centred = per_person - np.nanmean(per_person)
    return centred[codes]


def _accounting(
    direction: str,
    sleep: str,
    pain: str,
    cols: dict[str, np.ndarray],
    labels: dict[str, str],
    ids: np.ndarray,
    complete: np.ndarray,
) -> ModelAccounting:
    missing = tuple((labels.get(name, name), int(np.isnan(v).sum())) for name, v in cols.items())
    return ModelAccounting(
        direction=direction,
        sleep=sleep,
        pain=pain,
        rows_available=len(complete),
        rows_used=int(complete.sum()),
        missing_by_term=missing,
        persons=len(pd.unique(ids)),
        persons_used=len(pd.unique(ids[complete])),
    )


def _make(
    diary: Diary,
    *,
    direction: str,
    sleep: str,
    pain: str,
    extension: str | None,
    outcome: str,
    cols: dict[str, Spec],
    fixed: tuple[str, ...],
    random: tuple[str, ...],
    focal: tuple[str, ...],
    labels: dict[str, str],
    outcome_within: Spec,
    extra: dict[str, Spec] | None = None,
) -> ModelFrame:
    """The model's rows from the Diary's lagged-frame stage (every model term observed)."""
    needed = [n for n in cols if n in {outcome, *fixed, *random}]
    carried = {n: cols[n] for n in cols if n not in needed}
    carried.update(extra or {})
    carried["_outcome_within"] = outcome_within
    lagged = lagged_frame(diary, {n: cols[n] for n in needed}, extra=carried)
    frame = lagged.frame.reset_index(drop=True)
    ow = frame.pop("_outcome_within").to_numpy(dtype=np.float64)
    return ModelFrame(
        direction=direction,
        sleep=sleep,
        pain=pain,
        extension=extension,
        _frame=frame,
        outcome=outcome,
        fixed=fixed,
        random=random,
        focal=focal,
        labels=labels,
        outcome_within=ow,
        accounting=ModelAccounting.from_lagged(
            lagged, direction=direction, sleep=sleep, pain=pain, labels=labels
        ),
    )


# --------------------------------------------------------------------------- builders
@dataclass(frozen=True)
class FrameOptions:
    """What the frames need from the crosslag specification."""

    covariates: tuple[str, ...] = ()
    person_covariates: tuple[str, ...] = ()
    random_slopes: bool = True
    lagged_outcome: bool = True
    quadratic: bool = False
    asymmetric: bool = False
    moderator: str | None = None
    time_of_day: bool = False
    #: include the outcome's own person mean among the predictors (the former default; the
    #: default leaves the outcome's between-person level to the random intercept, as
    #: Bolger & Laurenceau 2013, ch. 4 and 9, do; see crosslag's ``outcome_mean``)
    outcome_mean: bool = False
    #: directions whose outcome is binary (0/1): their autoregressive term is the
    #: outcome's own previous value as observed (0/1), not its within-person deviation
    binary: tuple[str, ...] = ()


def _parts(diary: Diary, sleep: str, pain: str, opts: FrameOptions) -> dict[str, object]:
    """Every term the two directions need, as (column or Series, calendar lag)."""
    s_w = diary.within(sleep)
    p_w = diary.within(pain)
    return {
        "s": (sleep, 0),
        "s_w": (s_w, 0),
        "p_w": (p_w, 0),
        "s_m": (diary.between(sleep), 0),
        "p_m": (diary.between(pain), 0),
        "p_next": (pain, -1),
        "p_w_next": (p_w, -1),
        "s_w_prev": (s_w, 1),
        "p": (pain, 0),
        "s_prev": (sleep, 1),
        "cov": {c: (c, 0) for c in opts.covariates},
        "pcov": {
            c: (_series(diary, person_constant(diary, c, "person_covariates"), c), 0)
            for c in opts.person_covariates
        },
    }


def _covariate_terms(
    parts: dict[str, object], opts: FrameOptions
) -> tuple[dict[str, Spec], dict[str, str]]:
    cols: dict[str, Spec] = {}
    labels: dict[str, str] = {}
    for i, c in enumerate(opts.covariates, 1):
        cols[f"cov_{i}"] = parts["cov"][c]  # type: ignore[index]
        labels[f"cov_{i}"] = f"{c} (covariate, day n)"
    for i, c in enumerate(opts.person_covariates, 1):
        cols[f"pcov_{i}"] = parts["pcov"][c]  # type: ignore[index]
        labels[f"pcov_{i}"] = f"{c} (person-level, grand-mean centred)"
    return cols, labels


def _finish_terms(
    cols: dict[str, Spec],
    labels: dict[str, str],
    parts: dict[str, object],
    opts: FrameOptions,
    outcome: str,
    lagged_outcome: str,
    own_mean: str,
) -> tuple[str, ...]:
    """Complete one direction's terms in place and return its fixed effects.

    Both directions are the same model with the roles of sleep and pain swapped: drop the
    lagged outcome unless ``opts.lagged_outcome``, append the covariates, and take every term
    but the outcome (and the outcome's person mean unless ``opts.outcome_mean``) as fixed.
    """
    if not opts.lagged_outcome:
        del cols[lagged_outcome], labels[lagged_outcome]
    if not opts.outcome_mean:
        del cols[own_mean], labels[own_mean]
    cc, cl = _covariate_terms(parts, opts)
    cols.update(cc)
    labels.update(cl)
    return tuple(n for n in cols if n != outcome)


def _sleep_to_pain(
    sleep: str, pain: str, opts: FrameOptions, parts: dict[str, object]
) -> tuple[dict[str, Spec], dict[str, str], tuple[str, ...], Spec]:
    cols = {
        "pain_next": parts["p_next"],
        "sleep_w": parts["s_w"],
        "pain_w": parts["p_w"],
        "sleep_m": parts["s_m"],
        "pain_m": parts["p_m"],
    }
    labels = {
        "pain_next": f"{pain}, day n+1",
        "sleep_w": f"{sleep}, night n (within-person)",
        "pain_w": f"{pain}, day n (within-person)",
        "sleep_m": f"{sleep}, person mean (grand-mean centred)",
        "pain_m": f"{pain}, person mean (grand-mean centred)",
    }
    lagged = "pain_w"
    if "sleep->pain" in opts.binary:
        # a binary outcome's autoregression: yesterday's 0/1 value itself (the dynamic
        # random-intercept logit), not its deviation from the person's share of 1s
        cols = {k if k != "pain_w" else "pain_lag": v for k, v in cols.items()}
        cols["pain_lag"] = parts["p"]  # type: ignore[assignment]
        del labels["pain_w"]
        labels["pain_lag"] = f"{pain}, day n (0/1, the outcome's previous day)"
        lagged = "pain_lag"
    fixed = _finish_terms(cols, labels, parts, opts, "pain_next", lagged, "pain_m")  # type: ignore[arg-type]
    return cols, labels, fixed, parts["p_w_next"]  # type: ignore[return-value]


def _pain_to_sleep(
    sleep: str, pain: str, opts: FrameOptions, parts: dict[str, object]
) -> tuple[dict[str, Spec], dict[str, str], tuple[str, ...], Spec]:
    cols = {
        "sleep": parts["s"],
        "pain_w": parts["p_w"],
        "sleep_w_prev": parts["s_w_prev"],
        "pain_m": parts["p_m"],
        "sleep_m": parts["s_m"],
    }
    labels = {
        "sleep": f"{sleep}, night n",
        "pain_w": f"{pain}, day n (within-person)",
        "sleep_w_prev": f"{sleep}, night n-1 (within-person)",
        "pain_m": f"{pain}, person mean (grand-mean centred)",
        "sleep_m": f"{sleep}, person mean (grand-mean centred)",
    }
    lagged = "sleep_w_prev"
    if "pain->sleep" in opts.binary:
        cols = {k if k != "sleep_w_prev" else "sleep_lag": v for k, v in cols.items()}
        cols["sleep_lag"] = parts["s_prev"]  # type: ignore[assignment]
        del labels["sleep_w_prev"]
        labels["sleep_lag"] = f"{sleep}, night n-1 (0/1, the outcome's previous night)"
        lagged = "sleep_lag"
    fixed = _finish_terms(cols, labels, parts, opts, "sleep", lagged, "sleep_m")  # type: ignore[arg-type]
    return cols, labels, fixed, parts["s_w"]  # type: ignore[return-value]


def build_frames(
    diary: Diary, sleep: str, pain: str, opts: FrameOptions
) -> tuple[dict[str, ModelFrame], dict[tuple[str, str], ModelFrame]]:
    """Model frames for one sleep measure, from the Diary's lagged-frame stage.

    Returns
    -------
    main : dict
        direction -> ModelFrame of the two cross-lagged models.
    extensions : dict
        (extension, direction) -> ModelFrame for each requested extension.

    Examples
    --------
    >>> import sleeppain as sp
    >>> sim = sp.simulate.diary(10, 7, seed=1)
    >>> d = sp.Diary.from_frame(sim.data, id="id", day="day", sleep="sleep_quality")
    >>> main, ext = build_frames(d, "sleep_quality", "pain", FrameOptions())
    >>> main["sleep->pain"].formula()
    'pain_next ~ sleep_w + pain_w + sleep_m + (1 + sleep_w || id)'
    >>> build_frames(d, "sleep_quality", "pain", FrameOptions(outcome_mean=True))[0][
    ...     "sleep->pain"].formula(slope_correlation=True)
    'pain_next ~ sleep_w + pain_w + sleep_m + pain_m + (1 + sleep_w | id)'
    """
    parts = _parts(diary, sleep, pain, opts)
    main: dict[str, ModelFrame] = {}
    ext: dict[tuple[str, str], ModelFrame] = {}
    builders = {"sleep->pain": _sleep_to_pain, "pain->sleep": _pain_to_sleep}
    for direction in DIRECTIONS:
        cols, labels, fixed, ow = builders[direction](sleep, pain, opts, parts)
        outcome = "pain_next" if direction == "sleep->pain" else "sleep"
        focal_term = "sleep_w" if direction == "sleep->pain" else "pain_w"
        common = {"direction": direction, "sleep": sleep, "pain": pain, "outcome": outcome}
        main[direction] = _make(
            diary,
            **common,
            extension=None,
            cols=cols,
            fixed=fixed,
            random=(focal_term,),
            focal=(focal_term,),
            labels=labels,
            outcome_within=ow,
        )
        focal_values = _evaluate(diary, cols[focal_term])
        if opts.moderator is not None:
            mod = person_constant(diary, opts.moderator, "moderator")
            c2 = dict(cols)
            l2 = dict(labels)
            f2 = list(fixed)
            if opts.moderator not in opts.person_covariates:
                c2["moderator"] = (_series(diary, mod, "moderator"), 0)
                l2["moderator"] = f"{opts.moderator} (moderator, person-level, centred)"
                f2.append("moderator")
            inter = f"{focal_term}_x_moderator"
            c2[inter] = (_series(diary, focal_values * mod, inter), 0)
            l2[inter] = f"{labels[focal_term]} x {opts.moderator}"
            f2.append(inter)
            ext[("moderation", direction)] = _make(
                diary,
                **common,
                extension="moderation",
                cols=c2,
                fixed=tuple(f2),
                random=(focal_term,),
                focal=(focal_term, inter),
                labels=l2,
                outcome_within=ow,
            )
        if direction != "sleep->pain":
            continue
        if opts.quadratic:
            c2 = {**cols, "sleep_w_sq": (_centre(diary, focal_values**2, "sleep_w_sq"), 0)}
            l2 = {
                **labels,
                "sleep_w_sq": f"{sleep}, night n (within-person), squared (person-centred)",
            }
            ext[("quadratic", direction)] = _make(
                diary,
                **common,
                extension="quadratic",
                cols=c2,
                fixed=(*fixed, "sleep_w_sq"),
                random=("sleep_w",),
                focal=("sleep_w", "sleep_w_sq"),
                labels=l2,
                outcome_within=ow,
                extra={"sleep_pm": (diary.person_mean(sleep), 0)},
            )
        if opts.asymmetric:
            c2 = dict(cols)
            c2["sleep_w_below"] = (
                _centre(diary, np.minimum(focal_values, 0.0), "sleep_w_below"),
                0,
            )
            c2["sleep_w_above"] = (
                _centre(diary, np.maximum(focal_values, 0.0), "sleep_w_above"),
                0,
            )
            l2 = {
                **labels,
                "sleep_w_below": f"{sleep}, night n, below the person's mean (within-person)",
                "sleep_w_above": f"{sleep}, night n, above the person's mean (within-person)",
            }
            f2 = tuple(t for t in ("sleep_w_below", "sleep_w_above", *fixed) if t != "sleep_w")
            ext[("asymmetry", direction)] = _make(
                diary,
                **common,
                extension="asymmetry",
                cols=c2,
                fixed=f2,
                random=("sleep_w",),
                focal=("sleep_w_below", "sleep_w_above"),
                labels=l2,
                outcome_within=ow,
            )
        if opts.time_of_day:
            evaluated = {n: _evaluate(diary, cols[n]) for n in cols}
            ext[("time_of_day", direction)] = _time_of_day_frame(
                diary, sleep, pain, evaluated, labels, fixed
            )
    return main, ext


def prompt_slots(prompts: pd.DataFrame) -> tuple[np.ndarray, list[object]]:
    """Time-of-day slot (0..k-1) of each prompt row, and the prompt values in slot order.

    Slots are ordered by where the value falls within the day on average (the diary keeps
    each day's prompts in prompt order), so numbers, clock times and labels such as
    "morning"/"evening" all come out morning-first. Raises SpecificationError when there
    are more than :data:`MAX_PROMPT_SLOTS` values.

    Examples
    --------
    >>> df = pd.DataFrame({"id": [1, 1, 1, 1], "day": [1, 1, 2, 2],
    ...                    "prompt": ["morning", "evening", "morning", "evening"]})
    >>> prompt_slots(df)
    (array([0, 1, 0, 1]), ['morning', 'evening'])
    """
    col = prompts["prompt"]
    values = col.dropna().unique()
    if len(values) > MAX_PROMPT_SLOTS:
        raise SpecificationError(
            f"time_of_day=True: the prompt column has {len(values)} distinct values (e.g. "
            f"{list(values[:3])}); the sleep effect by time of day needs a few prompt slots. "
            "Recode the prompt column to a slot number (1 = morning ... k = evening)."
        )
    position = prompts.groupby(["id", "day"], sort=False).cumcount()
    mean_pos = position.groupby(col.to_numpy()).mean()
    order = list(mean_pos.sort_values(kind="stable").index)
    codes = pd.Index(order).get_indexer(col.to_numpy())
    return codes, order


def _time_of_day_frame(
    diary: Diary,
    sleep: str,
    pain: str,
    cols: dict[str, np.ndarray],
    labels: dict[str, str],
    fixed: tuple[str, ...],
) -> ModelFrame:
    """Sleep -> pain at each prompt of day n+1: one slope of sleep_w per prompt slot."""
    prompts = diary.prompts
    if prompts is None or "prompt" not in prompts.columns:
        raise SpecificationError(
            "time_of_day=True needs pain rated several times a day: build the diary with "
            "prompt= (the prompt or beep column) and aggregate= (e.g. aggregate='mean'), so "
            "that the daily models use the day's mean pain and this model each prompt."
        )
    if pain not in prompts.columns:
        raise DataStructureError(f"time_of_day=True: the prompt-level data lack {pain!r}.")
    codes, slots = prompt_slots(prompts)
    k = len(slots)
    if k < 2:
        raise DataStructureError(
            f"time_of_day=True: the prompt column has {k} distinct value(s); the sleep "
            "effect by time of day needs at least two prompts a day."
        )
    canon = diary.data[["id", "day"]]
    # prompt rows of day n+1 look up the canonical row of day n
    key = pd.MultiIndex.from_arrays([canon["id"].to_numpy(), canon["day"].to_numpy()])
    want = pd.MultiIndex.from_arrays([prompts["id"].to_numpy(), prompts["day"].to_numpy() - 1])
    pos = key.get_indexer(want)
    found = pos >= 0
    take = np.where(found, pos, 0)

    def row_values(arr: np.ndarray) -> np.ndarray:
        return np.where(found, arr[take], np.nan)

    p_prompt = _values(prompts[pain])
    p_prompt = np.where(codes >= 0, p_prompt, np.nan)
    new_cols: dict[str, np.ndarray] = {"pain_prompt": p_prompt}
    new_labels = {"pain_prompt": f"{pain} at each prompt of day n+1"}
    slope_terms = []
    for j, value in enumerate(slots):
        name = f"sleep_w_at_{j + 1}"
        new_cols[name] = row_values(cols["sleep_w"]) * (codes == j)
        new_labels[name] = f"{sleep}, night n (within-person), at prompt {value}"
        slope_terms.append(name)
    dummies = []
    for j, value in enumerate(slots[1:], 2):
        name = f"slot_{j}"
        new_cols[name] = (codes == j - 1).astype(float)
        new_labels[name] = f"prompt {value} (vs {slots[0]})"
        dummies.append(name)
    other = [t for t in fixed if t != "sleep_w"]
    for t in other:
        new_cols[t] = row_values(cols[t])
        new_labels[t] = labels[t]
    new_cols["sleep_w"] = row_values(cols["sleep_w"])
    base = prompts[["id", "day"]].assign(prompt=prompts["prompt"].to_numpy())
    needed = {"pain_prompt", *dummies, *slope_terms, *other, "sleep_w"}
    complete = np.ones(len(base), dtype=bool)
    for name in needed:
        complete &= ~np.isnan(new_cols[name])
    ids = base["id"].to_numpy()
    acct = _accounting(
        "sleep->pain",
        sleep,
        pain,
        {n: new_cols[n] for n in new_cols if n in needed},
        new_labels,
        ids,
        complete,
    )
    frame = pd.concat(
        [base.reset_index(drop=True), pd.DataFrame(new_cols, index=range(len(base)))], axis=1
    )
    mf = ModelFrame(
        direction="sleep->pain",
        sleep=sleep,
        pain=pain,
        extension="time_of_day",
        _frame=frame.loc[complete].reset_index(drop=True),
        outcome="pain_prompt",
        fixed=(*dummies, *slope_terms, *other),
        random=("sleep_w",),
        focal=tuple(slope_terms),
        labels=new_labels,
        outcome_within=np.full(int(complete.sum()), np.nan),
        accounting=acct,
    )
    return mf
