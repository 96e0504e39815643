"""From a :class:`~sleeppain.Diary` to the sampler's arrays, with the row accounting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sleeppain.dynamics._gibbs import DsemArrays
from sleeppain.errors import DataStructureError

if TYPE_CHECKING:  # pragma: no cover
    from sleeppain.diary import Diary

__all__ = ["MIN_DAYS", "DsemAccounting", "Prepared", "prepare"]

#: Persons need at least this many days with a pain or sleep value.
MIN_DAYS = 3


@dataclass(frozen=True)
class DsemAccounting:
    """Where every canonical diary row and value went.

    Attributes
    ----------
    persons : int
        Persons in the diary.
    persons_used : int
    persons_too_short : int
        Persons excluded for having fewer than ``MIN_DAYS`` days: both their number of pain
        values and their number of sleep values are below ``MIN_DAYS``.
    persons_missing_covariate : int
        Persons excluded because a person covariate is missing.
    rows : int
        Canonical rows (person-days) of the diary.
    rows_used : int
        Canonical rows of the persons used, within each person's first to last observed
        value.
    rows_dropped : tuple of (reason, count)
        The other canonical rows, by reason.
    span_days : int
        Calendar days of the persons used (first to last observed value, gaps included).
    observed_pain, observed_sleep : int
        Observed values entering the likelihood.
    imputed_pain, imputed_sleep : int
        Missing values inside the persons' spans, imputed as latent values by the sampler.
    presample : int
        Latent pre-sample values (two per person: pain on the day and sleep in the night
        before the first diary day), drawn from their prior.
    presample_covariate : int
        Latent pre-sample values of the day-level covariates: a covariate missing on a day
        before the person's first pain day (always the day before the first diary day,
        whose covariate enters the first pain equation; in a morning diary also the
        covariate before its first night). Like the pre-sample pain and sleep values they
        are latent, drawn by the sampler from N(0, the covariate's pooled within-person
        variance) and the equations they enter; their outcomes are kept.
    values_missing_covariate : int
        Observed pain or sleep values whose equation lacks a day-level covariate value
        (the covariate of day n for sleep in night n and for pain on day n + 1): they are
        treated as missing and imputed (with the covariate at the person's mean), so they
        are not in ``observed_*`` but in ``imputed_*``.
    missing_covariate_by : tuple of (covariate, count)
        The same values by covariate (a value lacking two covariates counts under both).
    """

    persons: int
    persons_used: int
    persons_too_short: int
    persons_missing_covariate: int
    rows: int
    rows_used: int
    rows_dropped: tuple[tuple[str, int], ...]
    span_days: int
    observed_pain: int
    observed_sleep: int
    imputed_pain: int
    imputed_sleep: int
    presample: int
    presample_covariate: int = 0
    values_missing_covariate: int = 0
    missing_covariate_by: tuple[tuple[str, int], ...] = ()

    def to_dict(self) -> dict[str, object]:
        """The accounting as a plain dict."""
        out: dict[str, object] = dict(self.__dict__)
        out["rows_dropped"] = dict(self.rows_dropped)
        out["missing_covariate_by"] = dict(self.missing_covariate_by)
        return out

    def to_frame(self) -> pd.DataFrame:
        """Two columns, ``item`` and ``count``."""
        pairs = ("rows_dropped", "missing_covariate_by")
        items = [(k, v) for k, v in self.__dict__.items() if k not in pairs]
        items += [(f"rows dropped: {r}", c) for r, c in self.rows_dropped]
        items += [(f"values missing covariate: {r}", c) for r, c in self.missing_covariate_by]
        return pd.DataFrame(items, columns=["item", "count"])


@dataclass(frozen=True, eq=False)
class Prepared:
    """Sampler arrays plus what is needed to map results back to the data's units."""

    arrays: DsemArrays
    ids: pd.Index
    centre: np.ndarray  # (2,) pain, sleep
    scale: np.ndarray  # (2,) pooled within-person SDs
    cov_centre: np.ndarray
    accounting: DsemAccounting
    excluded_ids: tuple[object, ...]


def _pooled_within_sd(vals: np.ndarray, codes: np.ndarray, n: int) -> tuple[float, float]:
    ok = ~np.isnan(vals)
    cnt = np.bincount(codes[ok], minlength=n).astype(float)
    tot = np.bincount(codes[ok], weights=vals[ok], minlength=n)
    pm = np.divide(tot, cnt, out=np.zeros(n), where=cnt > 0)
    dev = vals[ok] - pm[codes[ok]]
    dof = ok.sum() - (cnt > 0).sum()
    var = float((dev**2).sum() / dof) if dof > 0 else 0.0
    return float(np.sqrt(var)), float(vals[ok].mean())


def _day_covariates(
    vals: dict[str, np.ndarray],
    rows: np.ndarray,
    pos_p: np.ndarray,
    use_rows: np.ndarray,
    eq: np.ndarray,
    first_pain: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Day-level covariates attached to the equation positions, centred within person.

    ``vals``: each covariate on the kept persons' canonical rows; ``rows``, ``pos_p``: the
    person (row of the arrays) and pain position of each of those rows; ``use_rows``: rows
    inside the person's span; ``eq``: (N, L) equation positions; ``first_pain``: (N,)
    position of each person's first observed pain value. The covariate of day n (pain
    position k) enters the sleep equation at k + 1 and the pain equation at k + 2 (as
    ``sp.crosslag`` enters it: on the predictor's day, before both outcomes; the first
    pain equation, at 2, takes the covariate of day position 0, the day before the first
    diary day). Days before the person's first pain day are pre-sample: a covariate
    missing there is a latent value of the sampler. Returns the attached covariates
    (N, L, p): NaN where an equation's covariate is missing (outside the pre-sample),
    0 at latent values and off the equation positions; the latent mask (N, L, p) at the
    day positions (even k); and the prior variance of the latent values (N, p): the
    covariate's pooled within-person variance times 1 + 1 / (the person's observed values).

    Raises
    ------
    DataStructureError
        A covariate without within-person variance, or collinear covariates.
    """
    n, length = eq.shape
    p = len(vals)
    x = np.full((n, length, p), np.nan)
    posn = np.arange(length)
    # a day position enters the equations one and two positions later
    feeds = np.zeros((n, length), dtype=bool)
    feeds[:, : length - 1] |= eq[:, 1:]
    feeds[:, : length - 2] |= eq[:, 2:]
    pre_day = (posn[None, :] < first_pain[:, None]) & (posn % 2 == 0)[None, :] & feeds
    latent = np.zeros((n, length, p), dtype=bool)
    var = np.empty((n, p))
    for j, (c, v) in enumerate(vals.items()):
        use = use_rows & ~np.isnan(v)
        cnt = np.bincount(rows[use], minlength=n).astype(float)
        tot = np.bincount(rows[use], weights=v[use], minlength=n)
        pm = np.divide(tot, cnt, out=np.full(n, np.nan), where=cnt > 0)
        dev = v[use] - pm[rows[use]]
        dof = int(use.sum() - (cnt > 0).sum())
        sd = float(np.sqrt((dev**2).sum() / dof)) if dof > 0 else 0.0
        scale = max(1.0, float(np.abs(v[use]).max())) if use.any() else 1.0
        if not sd > 1e-9 * scale:
            raise DataStructureError(
                f"dsem: day-level covariate {c!r} has no within-person variance on the "
                "persons' diary days (each person reports one value throughout, or at most "
                "one value); its within-person effect cannot be estimated. A person-level "
                f"variable belongs in person_covariates=[{c!r}]."
            )
        # a value not among the person's observed ones deviates from their mean with
        # variance sigma2 (1 + 1 / n_i)
        var[:, j] = sd**2 * (1.0 + 1.0 / np.maximum(cnt, 1.0))
        day_x = np.full((n, length), np.nan)
        day_x[rows[use], pos_p[use]] = dev
        latent[:, :, j] = pre_day & np.isnan(day_x)
        day_x[latent[:, :, j]] = 0.0
        x[:, 2::2, j] = day_x[:, 0 : length - 2 : 2]
        x[:, 3::2, j] = day_x[:, 2 : length - 1 : 2]
    x[:, :2, :] = 0.0  # pre-sample positions: no equation
    x[~eq] = 0.0
    full = eq & ~np.isnan(x).any(axis=2)
    xf = x[full]
    if len(vals) > 1 and np.linalg.matrix_rank(xf.T @ xf) < len(vals):
        raise DataStructureError(
            f"dsem: the day-level covariates {list(vals)} are collinear within person (one "
            "is a combination of the others once each person's mean is removed); drop one."
        )
    return x, latent, var


def prepare(
    diary: Diary,
    sleep: str,
    pain: str,
    person_covariates: tuple[str, ...],
    covariates: tuple[str, ...] = (),
) -> Prepared:
    """Build the alternating (N, L) array of each person's span and count every row.

    Raises
    ------
    DataStructureError
        An all-missing or non-numeric column, a variable without within-person variance,
        no person with enough days, a person covariate varying within person, collinear
        day-level covariates.
    """
    data = diary.data
    ids = data["id"].to_numpy()
    day = data["day"].to_numpy(dtype=np.int64)
    codes, uniq = pd.factorize(ids, sort=False)
    n_all = len(uniq)
    cols: dict[str, np.ndarray] = {}
    roles = {pain: "pain", sleep: "sleep"}
    roles.update({c: "person covariate" for c in person_covariates})
    roles.update({c: "day-level covariate" for c in covariates})
    for c in (pain, sleep, *person_covariates, *covariates):
        try:
            cols[c] = data[c].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise DataStructureError(
                f"dsem: column {c!r} ({roles[c]}) is not numeric; convert it (e.g. "
                f"pd.to_numeric(df[{c!r}], errors='coerce')) before fitting."
            ) from exc
        if np.isnan(cols[c]).all():
            raise DataStructureError(
                f"dsem: column {c!r} ({roles[c]}) has no observed value (all missing); "
                "check the column name and the diary's missing-value codes."
            )
    p_val, s_val = cols[pain], cols[sleep]
    # days per person: the larger of its numbers of pain values and sleep values (a
    # morning diary of k days gives k of each, spread over k + 1 canonical rows)
    days_per = np.maximum(
        np.bincount(codes[~np.isnan(p_val)], minlength=n_all),
        np.bincount(codes[~np.isnan(s_val)], minlength=n_all),
    )
    short = days_per < MIN_DAYS

    # person covariates: constant within person; persons missing one are excluded
    cov_vals = np.zeros((n_all, len(person_covariates)))
    miss_cov = np.zeros(n_all, dtype=bool)
    for j, c in enumerate(person_covariates):
        v = cols[c]
        ok = ~np.isnan(v)
        lo = np.full(n_all, np.inf)
        hi = np.full(n_all, -np.inf)
        np.minimum.at(lo, codes[ok], v[ok])
        np.maximum.at(hi, codes[ok], v[ok])
        varies = np.nonzero(hi - lo > 1e-9 * np.maximum(1.0, np.abs(hi)))[0]
        if len(varies):
            raise DataStructureError(
                f"dsem: person covariate {c!r} varies within person ({len(varies)} persons, "
                f"e.g. id={uniq[varies[0]]!r} from {lo[varies[0]]:g} to {hi[varies[0]]:g}); "
                "a person covariate must be constant within person."
            )
        cov_vals[:, j] = np.where(np.isfinite(lo), lo, np.nan)
        miss_cov |= np.isnan(cov_vals[:, j])
    miss_cov &= ~short
    keep = ~short & ~miss_cov
    if not keep.any():
        raise DataStructureError(
            f"dsem: no person has {MIN_DAYS} or more days with a {pain!r} or {sleep!r} value"
            + (" and every person covariate observed" if person_covariates else "")
            + f" ({n_all} persons in the data). The model needs repeated days per person."
        )
    row_keep = keep[codes]
    # within-person scale (on the persons kept)
    new_code = np.cumsum(keep) - 1
    kc = new_code[codes[row_keep]]
    n = int(keep.sum())
    centre = np.empty(2)
    scale = np.empty(2)
    for k, (name, v) in enumerate(((pain, p_val), (sleep, s_val))):
        sd, mean = _pooled_within_sd(v[row_keep], kc, n)
        if not sd > 1e-12 * max(1.0, abs(mean)):
            raise DataStructureError(
                f"dsem: {name!r} has no within-person variance (every person reports the "
                "same value on every day); a dynamic model of it cannot be estimated. Check "
                "the column, or model it as a person covariate."
            )
        centre[k], scale[k] = mean, sd

    # spans: first to last observed value of each kept person
    pk = codes[row_keep]
    dk = day[row_keep]
    pv = (p_val[row_keep] - centre[0]) / scale[0]
    sv = (s_val[row_keep] - centre[1]) / scale[1]
    obs_k = ~np.isnan(pv) | ~np.isnan(sv)
    big = np.iinfo(np.int64).max
    first = np.full(n_all, big)
    np.minimum.at(first, pk[obs_k], dk[obs_k])
    # position of each value: 2 + 2 (day - first) (+1 for sleep)
    rel = dk - first[pk]
    in_span = obs_k.copy()
    last_pos = np.full(n_all, -1)
    pos_p = 2 + 2 * rel
    pos_s = pos_p + 1
    np.maximum.at(last_pos, pk[~np.isnan(pv)], pos_p[~np.isnan(pv)])
    np.maximum.at(last_pos, pk[~np.isnan(sv)], pos_s[~np.isnan(sv)])
    last_day = first + (last_pos - 2) // 2
    in_span = (rel >= 0) & (dk <= last_day[pk])
    length = int(last_pos[keep].max()) + 1
    y = np.full((n, length), np.nan)
    rows_k = new_code[pk]
    okp = in_span & ~np.isnan(pv)
    oks = in_span & ~np.isnan(sv)
    y[rows_k[okp], pos_p[okp]] = pv[okp]
    y[rows_k[oks], pos_s[oks]] = sv[oks]
    observed = ~np.isnan(y)
    end = last_pos[keep].astype(np.int64)
    posn = np.arange(length)
    active = (posn[None, :] <= end[:, None]) & (posn[None, :] >= 2)
    even = posn % 2 == 0
    x = None
    by_cov: list[tuple[str, int]] = []
    lost = np.zeros_like(observed)
    x_latent = x_var = None
    if covariates:
        vals = {c: cols[c][row_keep] for c in covariates}
        pain_pos = np.where(observed & even, posn, length)
        x, x_latent, x_var = _day_covariates(
            vals, rows_k, pos_p, in_span, active, pain_pos.min(axis=1)
        )
        miss = np.isnan(x)
        by_cov = [(c, int((miss[:, :, j] & observed).sum())) for j, c in enumerate(covariates)]
        # an observed value whose equation lacks a covariate: treated as missing (imputed)
        lost = miss.any(axis=2) & observed
        observed &= ~lost
        y[lost] = np.nan
        x = np.where(miss, 0.0, x)
    lost_pain = int((lost & even).sum())
    imputed_pain = int((active & even & ~observed).sum())
    imputed_sleep = int((active & ~even & ~observed).sum())

    cov = cov_vals[keep]
    cov_centre = cov.mean(axis=0) if len(person_covariates) else np.zeros(0)
    w = (
        np.column_stack([np.ones(n), cov - cov_centre])
        if len(person_covariates)
        else np.ones((n, 1))
    )
    if len(person_covariates) and np.linalg.matrix_rank(w) < w.shape[1]:
        raise DataStructureError(
            f"dsem: the person covariates {list(person_covariates)} are constant or collinear "
            "across the persons used; drop one."
        )

    rows_short = int(short[codes].sum())
    rows_cov = int(miss_cov[codes].sum())
    rows_out = int((~in_span).sum())
    dropped = tuple(
        (r, c)
        for r, c in (
            (f"person has fewer than {MIN_DAYS} days with {pain} or {sleep}", rows_short),
            ("person covariate missing", rows_cov),
            (f"no {pain} or {sleep} value before/after the person's span", rows_out),
        )
        if c
    )
    acc = DsemAccounting(
        persons=n_all,
        persons_used=n,
        persons_too_short=int(short.sum()),
        persons_missing_covariate=int(miss_cov.sum()),
        rows=len(data),
        rows_used=int(in_span.sum()),
        rows_dropped=dropped,
        span_days=int(((end - 2) // 2 + 1).sum()),
        observed_pain=int(okp.sum()) - lost_pain,
        observed_sleep=int(oks.sum()) - (int(lost.sum()) - lost_pain),
        imputed_pain=imputed_pain,
        imputed_sleep=imputed_sleep,
        presample=2 * n,
        presample_covariate=0 if x_latent is None else int(x_latent.sum()),
        values_missing_covariate=int(lost.sum()),
        missing_covariate_by=tuple(by_cov),
    )
    excluded = tuple(uniq[~keep].tolist())
    arrays = DsemArrays(y=y, observed=observed, end=end, w=w, x=x, x_latent=x_latent, x_var=x_var)
    return Prepared(
        arrays=arrays,
        ids=pd.Index(uniq[keep]),
        centre=centre,
        scale=scale,
        cov_centre=cov_centre,
        accounting=acc,
        excluded_ids=excluded,
    )
