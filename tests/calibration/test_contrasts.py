"""Summary-statistic targets: a treatment effect between two arms (e.g. a pooled meta-analytic
log ratio of means) enters the likelihood with an exact gradient."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nephrosim.calibration import CalibrationConfigError, CalibrationProblem, as_config, calibrate

TRUE_T50 = 50.0  # rat effective clamp time (min) that generates the synthetic effect


def _config(estimate: float, nominal: float | None = None, **contrast) -> dict:
    return {
        "name": "ev_effect_synthetic", "likelihood": "lognormal", "parameter_set": "table",
        "parameters": [{"name": "iri_t50_min", "species": "rat", "nominal": nominal}],
        "studies": [{
            "id": "pooled_rat_iri", "citation": "synthetic", "mapping": "synthetic pooled effect",
            "scenario": {"species": "rat", "injury": {"model": "ischemia_reperfusion", "clamp_min": 40},
                         "arms": [{"name": "vehicle"},
                                  {"name": "ev", "treatments": [{"product": "ev", "dose": 5e5,
                                                                 "dose_unit": "cell_equivalents",
                                                                 "route": "iv", "time_h": 0}]}]},
            "contrasts": [{"treated": "ev", "control": "vehicle", "readout": "serum_creatinine", "time_h": 24,
                           "measure": "log_ratio", "estimate": estimate, "se": 0.01, **contrast}],
        }],
        "fit": {"n_starts": 1, "seed": 0},
        "solver": {"rtol": 1e-8, "atol": 1e-10, "max_steps": 50000},
    }


@pytest.fixture(scope="module")
def problem():
    return CalibrationProblem(as_config(_config(-0.2)))


def test_contrast_gradient_matches_central_differences(problem):
    x = problem.x_nominal
    nll, g = problem.nll_and_grad(x)
    h = 1e-5
    fd = (problem.nll(x + h) - problem.nll(x - h)) / (2 * h)
    assert abs(fd - g[0]) <= 1e-4 * abs(fd), (fd, g)
    # the likelihood is the normal density of the model's log ratio around the estimate
    frame = problem.data_frame(x)
    model = float(frame.model.iloc[0])
    assert frame.readout.iloc[0] == "log_ratio(serum_creatinine: ev vs vehicle)"
    # (the frame's model value is a second solve: its ~1e-8 solver noise, times (model + 0.2) / se² ≈ 460,
    # is ~1e-6 of the NLL)
    assert nll == pytest.approx(0.5 * math.log(2 * math.pi * 0.01 ** 2) + 0.5 * ((model + 0.2) / 0.01) ** 2,
                                rel=1e-5)
    assert problem.n_observations == 1  # the arms' means are not data, only the contrast is


def test_contrast_recovers_the_severity_that_generated_the_effect(problem):
    """The EV effect on 24-h SCr depends on how deep the injury is (largest near t50 = 40 min,
    fading towards milder and towards more severe injury), so an effect generated at t50 = 50 min,
    fitted from a start at 45 min on the same side of the peak, pins t50 — with no arm mean in the
    data, only the contrast. (The same effect also occurs near 30 min, on the severe side: a
    contrast alone identifies severity only within one branch.)"""
    effects = [float(problem.data_frame(np.array([math.log10(t)])).model.iloc[0]) for t in (40, 50, 60)]
    assert all(e < 0 for e in effects)  # EVs lower 24-h SCr
    assert effects[0] < effects[1] < effects[2]  # ... less so after milder injury
    cal = calibrate(as_config(_config(effects[1], nominal=45.0)))
    assert cal.parameters_["iri_t50_min[rat]"] == pytest.approx(TRUE_T50, rel=0.02)


def test_smd_needs_a_stated_cv_and_arms_must_exist():
    with pytest.raises(CalibrationConfigError, match="cv"):
        as_config(_config(-0.2, measure="smd"))
    smd = CalibrationProblem(as_config(_config(-1.5, measure="smd", cv=0.25)))
    frame = smd.data_frame(smd.x_nominal)
    log_ratio = float(CalibrationProblem(as_config(_config(-0.2))).data_frame(smd.x_nominal).model.iloc[0])
    assert float(frame.model.iloc[0]) == pytest.approx((math.exp(log_ratio) - 1) / 0.25)
    bad = _config(-0.2)
    bad["studies"][0]["contrasts"][0]["treated"] = "msc"
    with pytest.raises(CalibrationConfigError, match="arm 'msc' is not an arm"):
        CalibrationProblem(as_config(bad))


def test_petab_export_refuses_contrasts(tmp_path):
    from nephrosim.calibration import export_petab

    with pytest.raises(CalibrationConfigError, match="contrasts"):
        export_petab(_config(-0.2), tmp_path)
