"""Creatinine kinetics against Waikar & Bonventre 2009 (J Am Soc Nephrol 20:672).

Abstract: "Twenty-four hours after a 90% reduction in creatinine clearance, the rise in
SCr was 246% with normal baseline kidney function, 174% in stage 2 CKD, 92% in stage 3
CKD, and only 47% in stage 4 CKD. By contrast, the absolute increase was nearly
identical (1.8 to 2.0 mg/dl) ... From 4 h (normal baseline) up to 27 h for stage 4 CKD."

Human defaults used: V = 0.6 × 70 kg = 42 L, GFR 100 mL/min (creatinine clearance =
GFR, secretion share 0), generation 44 mg/h. CKD stages 2/3/4 are baselines with 1/1.5,
1/3 and 1/6 of normal function (67, 33, 17 mL/min: inside each stage's GFR band).
"""

import numpy as np
import pytest

from nephrosim import simulate

TOL = 0.15
STAGES = {  # baseline function, % rise at 24 h
    "normal": (1.0, 246.0),
    "ckd2": (1 / 1.5, 174.0),
    "ckd3": (1 / 3, 92.0),
    "ckd4": (1 / 6, 47.0),
}


def _scr(function: float, times):
    result = simulate({
        "species": "human",
        "injury": {"model": "clearance_change", "fraction": 0.9, "onset_h": 0},
        "parameters": {"baseline_kidney_function": function},
        "readouts": ["serum_creatinine", "gfr"],
        "times_h": list(times),
    })
    assert result.ok
    return result.get("vehicle", "serum_creatinine")


@pytest.mark.parametrize("stage", STAGES)
def test_rise_at_24h(stage):
    function, expected = STAGES[stage]
    scr = _scr(function, [0, 24])
    rise_pct = 100 * (scr[1] / scr[0] - 1)
    assert rise_pct == pytest.approx(expected, rel=TOL)
    absolute = scr[1] - scr[0]
    assert 1.8 * (1 - TOL) <= absolute <= 2.0 * (1 + TOL)


@pytest.mark.parametrize("stage,expected_h", [("normal", 4.0), ("ckd4", 27.0)])
def test_time_to_50_percent_rise(stage, expected_h):
    times = np.arange(0, 48.01, 0.05)
    scr = _scr(STAGES[stage][0], times)
    t50 = np.interp(1.5 * scr[0], scr, times)
    assert t50 == pytest.approx(expected_h, rel=TOL)


def test_percent_rise_falls_with_baseline_function_but_absolute_rise_does_not():
    rises = [_scr(STAGES[s][0], [0, 24]) for s in STAGES]
    pct = [100 * (r[1] / r[0] - 1) for r in rises]
    absolute = [r[1] - r[0] for r in rises]
    assert pct == sorted(pct, reverse=True)
    assert max(absolute) / min(absolute) < 1.25


def test_baseline_is_steady_state_and_recovers():
    result = simulate({
        "species": "human",
        "injury": {"model": "clearance_change", "fraction": 0.5, "onset_h": 24, "duration_h": 48, "recovery_h": 24},
        "readouts": ["serum_creatinine", "bun", "gfr"],
        "times_h": [0, 12, 23.9, 48, 84, 96, 400, 800],
    })
    scr = result.get("vehicle", "serum_creatinine")
    gfr = result.get("vehicle", "gfr")
    assert scr[2] == pytest.approx(scr[0], rel=1e-6)  # nothing happens before onset
    assert gfr[3] == pytest.approx(0.5 * gfr[0], rel=1e-9)  # halved during the insult
    assert gfr[4] == pytest.approx(0.75 * gfr[0], rel=1e-9)  # half-way up the linear recovery
    assert gfr[5] == pytest.approx(gfr[0], rel=1e-9)
    assert scr[4] > 1.3 * scr[0]
    assert scr[7] == pytest.approx(scr[0], rel=1e-3)  # back to baseline after recovery
