"""`nephrosim validate --held-out` scoring, on one study whose numbers are known (Cai 2014).

Cai 2014 is in-sample in the project's split; here a registry that holds it out is used only to
check the scoring: the observed ratios are the store's own numbers (SCr 24 h: 3.71 treated vs
5.22 untreated and 5.01 PBS, mg/dL), MSC into the renal artery lower SCr in the model (the
direction the paper reports), and the summary is the share and median of the rows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nephrosim.calibration.fit import Calibration
from nephrosim.calibration.held_out import HeldOutRegistry, HeldOutStudy
from nephrosim.calibration.held_out_report import validate_held_out


@pytest.fixture(scope="module")
def scored():
    registry = HeldOutRegistry(path="test", seed=0, date="2026-12-06", rule="test", studies=(
        HeldOutStudy("doi:10.1371/journal.pone.0092347", ("Cai 2014",), "ischemia_reperfusion", "msc", "rat"),
        HeldOutStudy("study:Xiao 2006", ("Xiao 2006",), "ischemia_reperfusion", "msc", "rabbit")))
    cal = Calibration.from_shipped()
    # the posterior at its mode (no Laplace draws: they need the sensitivity system, and this test
    # checks the scoring, not the posterior); assumed parameters and the lab effect are still drawn
    return validate_held_out(cal, registry, samples=np.tile(cal.x_, (6, 1)), seed=1)


def test_contrasts_are_the_stores_numbers_and_the_direction_is_scored(scored):
    c = scored.contrasts.sort_values("observed_ratio")
    assert list(c["observed_ratio"]) == pytest.approx([3.71 / 5.22, 3.71 / 5.01])
    assert (c["predicted_ratio"] < 1).all() and c["direction_right"].all()
    assert list(c["abs_log_error"]) == pytest.approx(
        [abs(math.log(p / o)) for p, o in zip(c["predicted_ratio"], c["observed_ratio"])], rel=1e-9)
    assert (c["pi_lower"] <= c["predicted_ratio"]).all() and (c["predicted_ratio"] <= c["pi_upper"]).all()


def test_summary_and_the_study_that_cannot_be_scored(scored):
    s = scored.summary()
    c, o = scored.contrasts, scored.observations
    assert s["contrasts"] == 2 and s["direction_right_share"] == 1.0
    assert s["median_abs_log_ratio_error"] == pytest.approx(c["abs_log_error"].median())
    assert s["pi95_coverage"] == pytest.approx((c["covered"].sum() + o["covered"].sum()) / (len(c) + len(o)))
    assert len(o) == 3 and set(o["readout"]) == {"serum_creatinine"}  # three arms' absolute SCr at 24 h
    assert [r["study"] for r in scored.not_evaluable] == ["Xiao 2006"]
    assert "rabbit" in scored.not_evaluable[0]["reason"]


def test_standard_error_of_a_reported_mean_from_the_store_fields():
    import pandas as pd

    from nephrosim.calibration.held_out_report import _se

    row = {"dispersion": 2.0, "dispersion_type": "SD", "n": 4}
    assert _se(pd.Series(row)) == 1.0  # SD / sqrt(n)
    assert _se(pd.Series({**row, "dispersion_type": "SEM"})) == 2.0
    assert _se(pd.Series({**row, "n": pd.NA})) is None  # an SD without n gives no SE (the store's nullable n)
    assert _se(pd.Series({**row, "dispersion_type": None})) is None  # ± of unstated kind: no SE
    assert _se(pd.Series({**row, "dispersion": float("nan")})) is None


@pytest.fixture(scope="module")
def zager():
    """Zager 1989's two untreated groups (40-min clamp at 37 °C, and at 32-33 °C during the occlusion),
    held out here only to check the severity contrasts (the project's split has the study in-sample)."""
    registry = HeldOutRegistry(path="test", seed=0, date="2026-12-07", rule="test", studies=(
        HeldOutStudy("study:Zager1989_hypothermia_rat", ("Zager1989_hypothermia_rat",), "ischemia_reperfusion",
                     "none", "rat"),))
    cal = Calibration.from_shipped()
    return validate_held_out(cal, registry, samples=np.tile(cal.x_, (6, 1)), seed=1)


def test_severity_contrasts_pair_untreated_arms_of_two_designs_of_one_study(zager):
    s = zager.severity.set_index("readout")
    assert set(s.index) == {"serum_creatinine", "bun"} and (s["time_h"] == 24.0).all()
    # the store's numbers: SCr 2.20 (37 °C) vs 0.62 mg/dL (32-33 °C), BUN 95 vs 33 mg/dL, each pair once,
    # the ratio of one design's group over the other's
    cold_over_warm = {"serum_creatinine": 0.62 / 2.20, "bun": 33.0 / 95.0}
    for readout, row in s.iterrows():
        observed = row["observed_ratio"] if "32" in row["design"] else 1.0 / row["observed_ratio"]
        assert observed == pytest.approx(cold_over_warm[readout])
        assert {row["design"], row["reference"]} == {"clamp_min 40, temperature_c 37",
                                                     "clamp_min 40, temperature_c 32.5"}
    # the model's temperature rule protects the cooled kidney: the direction is right
    assert s["direction_right"].all()
    assert list(s["abs_log_error"]) == pytest.approx(
        [abs(math.log(p / o)) for p, o in zip(s["predicted_ratio"], s["observed_ratio"])], rel=1e-9)
    summary = zager.summary()
    assert summary["severity_contrasts"] == 2 and summary["severity_direction_right_share"] == 1.0
    assert summary["contrasts"] == 0  # no treated arm: no treated-vs-vehicle contrast
    assert summary["studies_scored"] == 1


def test_an_observed_ratio_of_one_has_no_direction_and_is_left_out_of_the_share():
    import pandas as pd

    from nephrosim.calibration.held_out_report import _ratio_row, _share

    a = pd.Series({"mean": 100.0, "dispersion": float("nan"), "dispersion_type": None, "n": pd.NA})
    v = np.array([99.0, 98.0, 97.0])
    row = _ratio_row(a, a, v, v * 1.01, np.ones(3, bool), np.random.default_rng(0), 0.025)
    assert row["observed_ratio"] == 1.0 and row["direction_right"] is None
    assert row["abs_log_error"] == pytest.approx(math.log(1.01))  # still scored for its error
    assert _share([True, None, False, True]) == pytest.approx(2 / 3)
    assert math.isnan(_share([None]))
