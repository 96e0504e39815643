"""Bidirectional designs on the diary: :func:`crosslag` and its results.

:func:`crosslag` fits the two within-person cross-lagged models of the sleep-pain loop
(sleep -> next-day pain, pain -> that night's sleep) as linear mixed models
(:func:`sleeppain.lmm`) or GEE, with named extensions from the literature (U-shaped hours
slept, asymmetric good/bad nights, cross-level moderation, sleep effect by time of day).

Examples
--------
>>> import sleeppain as sp
>>> sim = sp.simulate.diary(60, 14, seed=4)
>>> res = sp.crosslag(sim.data, id="id", day="day", sleep="sleep_quality", pain="pain",
...                   estimator="gee")
>>> res.effects().columns.tolist()[:3]
['estimate', 'std_error', 'df']
"""

from sleeppain.analysis._api import crosslag
from sleeppain.analysis._compare import DirectionComparison
from sleeppain.analysis._frames import (
    DIRECTIONS,
    FrameOptions,
    ModelAccounting,
    ModelFrame,
    build_frames,
)
from sleeppain.analysis._models import GeeFit, holm
from sleeppain.analysis._result import CrossLagResult, CrossLagSpec, PersonSlopes

__all__ = [
    "DIRECTIONS",
    "CrossLagResult",
    "CrossLagSpec",
    "DirectionComparison",
    "FrameOptions",
    "GeeFit",
    "ModelAccounting",
    "ModelFrame",
    "PersonSlopes",
    "build_frames",
    "crosslag",
    "holm",
]
