"""Every insult runs and stays non-negative; structural properties of the injury models.

The literature targets of cisplatin, UUO, 5/6 nephrectomy, CLP and LPS are rows of
src/nephrosim/analysis/targets/literature_targets.yaml, checked in tests/validation/.
"""

from __future__ import annotations

import numpy as np
import pytest

from nephrosim.biology.parameters import ParameterTable
from tests.model.conftest import run


def test_five_sixths_nephrectomy_leaves_a_sixth_at_surgery():
    table = ParameterTable.default()
    healthy = table.record("gfr_ml_min_per_kg", "rat").value * table.record("body_weight_kg", "rat").value
    d = run("rat", {"model": "nephrectomy_5_6"}, ["gfr"], [0, 24])
    assert d["gfr"][0] == pytest.approx(healthy / 6, rel=0.02)


ALL = [
    ("mouse", {"model": "sham"}),
    ("mouse", {"model": "ischemia_reperfusion", "clamp_min": 35}),
    ("rat", {"model": "cisplatin", "dose_mg_per_kg": 7.5}),
    ("mouse", {"model": "cisplatin", "dose_mg_per_kg": 20}),
    ("rat", {"model": "glycerol", "dose_ml_per_kg": 10}),
    ("mouse", {"model": "sepsis_clp", "severity": 1.0}),
    ("mouse", {"model": "lps", "dose_mg_per_kg": 10}),
    ("mouse", {"model": "uuo"}),
    ("rat", {"model": "nephrectomy_5_6"}),
    ("mouse", {"model": "adriamycin", "dose_mg_per_kg": 10}),
    ("rat", {"model": "stz_diabetes", "dose_mg_per_kg": 60}),
    ("human", {"model": "cardiac_surgery", "bypass_min": 150, "baseline_egfr": 75}),
]
READOUTS = ["serum_creatinine", "bun", "gfr", "tubular_injury_score", "necrosis", "casts", "proliferation",
            "ptc_density", "neutrophils", "m1", "m2", "tnf", "il10", "tgfb", "myofibroblasts", "fibrosis_area",
            "ros", "mda", "gsh", "kim1", "ngal", "survival"]


@pytest.mark.parametrize("species,injury", ALL, ids=[i["model"] for _, i in ALL])
def test_every_insult_runs_non_negative(species, injury):
    d = run(species, injury, READOUTS, [0, 6, 24, 72, 168, 672])
    for k, v in d.items():
        assert np.all(np.isfinite(v)), k
        assert np.all(v >= -1e-6), (k, v)


def test_clearance_change_unchanged():
    d = run("mouse", {"model": "clearance_change", "fraction": 0.9}, ["gfr"], [0, 24])
    healthy = run("mouse", {"model": "sham"}, ["gfr"], [0, 24])["gfr"]
    assert d["gfr"] == pytest.approx(0.1 * healthy, rel=1e-6)
