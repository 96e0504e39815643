"""Two-sample bidirectional Mendelian randomization from GWAS summary statistics (``sp.mr``).

Offline and auditable: read summary statistics (:func:`read_sumstats`), choose instruments
(:func:`select_instruments`), harmonise alleles with TwoSampleMR's rules (:func:`harmonise`),
estimate with TwoSampleMR / MendelianRandomization conventions (:func:`estimate`), run the full
sensitivity report (:func:`analyze`; ``analyse`` is an alias) or both directions at once
(:func:`bidirectional`). Results follow sleeppain's result contract: ``tidy()`` in the house
schema (``tidy(schema="mr")`` for TwoSampleMR's names), ``glance()``, ``summary()``, escaped
HTML, read-only outputs. The sensitivity functions take harmonised data as ``estimate`` does.

Examples
--------
>>> import sleeppain as sp
>>> sim = sp.mr.simulate_sumstats(n_variants=25, n_variants_b=8, n_null=200, seed=4)
>>> inst = sp.mr.select_instruments(sim.exposure)
>>> h = sp.mr.harmonise(inst, sim.outcome)
>>> sp.mr.estimate(h, methods=["ivw"])["method"].tolist()
['ivw']
"""

from __future__ import annotations

from sleeppain.mr._api import DEFAULT_METHODS, analyse, analyze, bidirectional, estimate
from sleeppain.mr._estimators import METHODS, MREstimate
from sleeppain.mr._harmonise import HarmonisedData, harmonise
from sleeppain.mr._instruments import rsq_from_bsen, rsq_from_lor, select_instruments
from sleeppain.mr._io import STANDARD_COLUMNS, read_sumstats
from sleeppain.mr._results import BidirectionalMRResult, MRResult
from sleeppain.mr._sensitivity import Heterogeneity, PressoResult, SteigerResult
from sleeppain.mr._sensitivity_api import (
    heterogeneity,
    leave_one_out,
    mr_presso,
    single_snp,
    steiger,
)
from sleeppain.mr._simulate import SimulatedSumstats, simulate_sumstats

__all__ = [
    "DEFAULT_METHODS",
    "METHODS",
    "STANDARD_COLUMNS",
    "BidirectionalMRResult",
    "HarmonisedData",
    "Heterogeneity",
    "MREstimate",
    "MRResult",
    "PressoResult",
    "SimulatedSumstats",
    "SteigerResult",
    "analyse",
    "analyze",
    "bidirectional",
    "estimate",
    "harmonise",
    "heterogeneity",
    "leave_one_out",
    "mr_presso",
    "read_sumstats",
    "rsq_from_bsen",
    "rsq_from_lor",
    "select_instruments",
    "simulate_sumstats",
    "single_snp",
    "steiger",
]
