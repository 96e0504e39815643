"""Properties of the model frames (no fitting): every term is the value of the exact
calendar day or night it names, for the same person, recounted from the raw rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sleeppain as sp
from sleeppain.analysis import FrameOptions, build_frames


@st.composite
def diaries(draw: st.DrawFn) -> pd.DataFrame:
    n_persons = draw(st.integers(2, 4))
    rows = []
    for pid in range(n_persons):
        days = draw(st.lists(st.integers(0, 12), min_size=2, max_size=10, unique=True))
        for d in days:
            pain = draw(st.one_of(st.none(), st.integers(0, 10)))
            sq = draw(st.one_of(st.none(), st.integers(0, 10)))
            rows.append({"id": 100 + pid, "day": d, "pain": pain, "sq": sq})
    df = pd.DataFrame(rows).astype({"pain": float, "sq": float})
    return df.sample(frac=1.0, random_state=draw(st.integers(0, 99)))  # any row order


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=diaries(), following=st.booleans())
def test_terms_are_the_named_days_of_the_same_person(df: pd.DataFrame, following: bool) -> None:
    timing = "following_night" if following else "previous_night"
    if df["pain"].notna().sum() == 0 or df["sq"].notna().sum() == 0:
        return
    diary = sp.Diary.from_frame(df, id="id", day="day", sleep="sq", sleep_timing=timing)
    main, _ = build_frames(diary, "sq", "pain", FrameOptions())
    shift = 0 if following else 1
    pain = {(r.id, r.day): r.pain for r in df.itertuples() if not np.isnan(r.pain)}
    night = {(r.id, r.day - shift): r.sq for r in df.itertuples() if not np.isnan(r.sq)}
    pm_p = {k: np.mean([v for (i, _), v in pain.items() if i == k]) for k in {i for i, _ in pain}}
    pm_s = {k: np.mean([v for (i, _), v in night.items() if i == k]) for k in {i for i, _ in night}}
    # sleep -> pain: sleep night n, pain day n+1 and day n, same person
    want = sorted((i, n) for (i, n) in night if (i, n + 1) in pain and (i, n) in pain)
    f = main["sleep->pain"].frame
    assert diary.day_kind == "integer"  # the calendar index is the study day itself
    assert sorted(zip(f["id"], f["day"].astype(int), strict=True)) == want
    for r in f.itertuples():
        i, n = r.id, int(r.day)
        assert r.pain_next == pain[(i, n + 1)]
        assert np.isclose(r.sleep_w, night[(i, n)] - pm_s[i])
        assert np.isclose(r.pain_w, pain[(i, n)] - pm_p[i])
    # pain -> sleep: pain day n, sleep night n and night n-1
    want_ps = [(i, n) for (i, n) in pain if (i, n) in night and (i, n - 1) in night]
    g = main["pain->sleep"].frame
    assert len(g) == len(want_ps)
    for r in g.itertuples():
        i, n = r.id, int(r.day)
        assert r.sleep == night[(i, n)]
        assert np.isclose(r.sleep_w_prev, night[(i, n - 1)] - pm_s[i])
    acc = main["sleep->pain"].accounting
    assert acc.rows_used + acc.rows_dropped == acc.rows_available == len(diary.data)
