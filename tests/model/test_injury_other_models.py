"""Cisplatin, UUO, 5/6 nephrectomy and every other insult (non-negative, runs)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.model.conftest import run

DAYS = [0, 24, 48, 72, 96, 120, 168, 336]


def test_cisplatin_rat_peak_day_3_to_5_and_dose_response():
    peaks = []
    for dose in (1.0, 2.5, 5.0, 7.5):
        d = run("rat", {"model": "cisplatin", "dose_mg_per_kg": dose}, ["serum_creatinine", "mda", "gsh"], DAYS)
        scr = d["serum_creatinine"]
        peaks.append(scr.max())
        if dose >= 2.5:
            assert 72 <= DAYS[int(np.argmax(scr))] <= 120, (dose, scr)
        if dose == 5.0:
            assert d["mda"][DAYS.index(96)] > 1.1 and d["gsh"][DAYS.index(96)] < 0.97
    assert all(b > a for a, b in zip(peaks, peaks[1:])), peaks


def test_uuo_fibrosis_rises_while_scr_near_normal():
    t = [0, 24, 72, 168, 336]
    d = run("mouse", {"model": "uuo"}, ["serum_creatinine", "fibrosis_area"], t)
    assert d["fibrosis_area"][3] > 1.5 * d["fibrosis_area"][0]
    assert d["fibrosis_area"][4] > 1.5 * d["fibrosis_area"][3]
    assert np.all(d["serum_creatinine"] <= 0.21)  # mouse normal upper 0.2 mg/dL


def test_five_sixths_nephrectomy_progressive_decline():
    t = [0, 504, 1008, 2016]
    d = run("rat", {"model": "nephrectomy_5_6"}, ["gfr", "serum_creatinine"], t)
    assert d["gfr"][0] < 0.3 * 1.6                         # 1/6 of normal at surgery
    assert d["gfr"][3] < d["gfr"][2] < d["gfr"][1]          # weeks 3 → 6 → 12: progressive


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


def test_sepsis_clp_mouse_survival_about_half():
    d = run("mouse", {"model": "sepsis_clp", "severity": 1.0}, ["survival"], [0, 168])
    assert 30 <= d["survival"][1] <= 70  # Drechsler 2015: 48 % at day 7


def test_clearance_change_unchanged():
    d = run("mouse", {"model": "clearance_change", "fraction": 0.9}, ["gfr"], [0, 24])
    healthy = run("mouse", {"model": "sham"}, ["gfr"], [0, 24])["gfr"]
    assert d["gfr"] == pytest.approx(0.1 * healthy, rel=1e-6)
