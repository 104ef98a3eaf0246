"""What a run's page is drawn from, without a browser: a failed trajectory is a gap, never NaN
(which JSON cannot carry: the page's plots would not draw at all)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from nephrosim.app.runs import Run
from nephrosim.app.server import _plot_data
from nephrosim.scenarios.schema import scenario_from_dict


def test_a_failed_trajectory_is_a_gap_in_strict_json():
    scenario = scenario_from_dict({"name": "x", "species": "mouse", "arms": [{"name": "vehicle"}],
                                   "readouts": ["serum_creatinine"], "times_h": [0, 24]})
    frame = pd.DataFrame({"arm": "vehicle", "sample": 0, "time_h": [0.0, 24.0], "readout": "serum_creatinine",
                          "value": [0.1, np.nan], "unit": "mg/dL", "status": "solver_failure"})
    run = Run(id="r", number=1, session="s", kind="simulate", scenario=scenario.model_dump(mode="json"),
              scenario_name="x", arms=("vehicle",),
              payload={"frame": frame, "statuses": {"vehicle": ("solver_failure", "CV_TOO_MUCH_WORK")}})
    data = json.loads(json.dumps(_plot_data(run), allow_nan=False))
    arm = data["panels"][0]["arms"][0]
    assert arm["y"] == [0.1, None] and arm["status"] == "solver_failure"


def _trial_page(result: dict, arms: tuple[str, ...]) -> str:
    """The run page of a finished trial, drawn by the app's own templates (no browser)."""
    from types import SimpleNamespace

    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("nephrosim.app", "templates"), autoescape=select_autoescape(),
                      trim_blocks=True, lstrip_blocks=True)
    run = Run(id="t", number=1, session="s", kind="trial", scenario={}, scenario_name="three arms", arms=arms,
              state="done", done=3, total=3, payload={"trial": result}, options={"replicates": 5, "seed": 0})
    request = SimpleNamespace(url=SimpleNamespace(path="/runs/t"))
    return env.get_template("trial_run.html").render(request=request, active_runs=0, n_runs=1, run=run,
                                                     result=result, resume_plan="")


def test_a_three_arm_trial_page_shows_each_comparison_with_its_adjusted_power():
    """The page of a trial with two treated arms: the family-wise power, then per treated arm its
    Holm-adjusted power and hazard ratio, and the MAKE30 power against the control on its own row;
    every number as the summary (nephrosim.trials.analysis.summarise_trial) gives it."""
    import re

    from nephrosim.trials.analysis import summarise_trial

    base = {"p_auc": 0.9, "p_make": 0.9, "median_control": 10.0, "median_treatment": 9.0, "recovered_control": 0.5,
            "recovered_treatment": 0.6, "death_control": 0.1, "death_treatment": 0.1, "auc_control": 5.0,
            "auc_treatment": 4.0, "death_stage_control": 0.2, "death_stage_treatment": 0.1, "dialysis_control": 0.1,
            "dialysis_treatment": 0.0, "death_dialysis_control": 0.3, "death_dialysis_treatment": 0.1,
            "make_control": 0.4, "make_treatment": 0.2}
    reps = [{**{f"arm1:{k}": v for k, v in {**base, "p_logrank": p1, "hr": 1.2}.items()},
             **{f"arm2:{k}": v for k, v in {**base, "p_logrank": p2, "hr": 1.5, "p_make": 0.01}.items()}}
            for p1, p2 in ((0.01, 0.04), (0.03, 0.04), (0.6, 0.001), (0.5, 0.7))]
    result = summarise_trial(reps, ("placebo", "low", "high"), 0.05)
    result.update(primary_endpoint="time to recovery", notes=[], population={"eligible_pool": 9, "accepted_patients": 9})
    html = _trial_page(result, ("placebo", "low", "high"))

    def cells(cls):
        return {m.group(1): m.group(2) for m in
                re.finditer(rf'class="num {cls}" data-arm="([^"]+)"[^>]*>([^<]*)<', html)}

    assert re.search(r'id="trial-power">([^<]*)<', html).group(1) == str(result["power"]) == "0.5"
    assert "after holm adjustment" in html
    assert cells("trial-arm-power") == {"low": "0.25", "high": "0.5"}
    assert cells("trial-hr") == {"low": "1.2", "high": "1.5"}
    assert cells("trial-median") == {"placebo": "10.0", "low": "9.0", "high": "9.0"}
    # the MAKE30 power of each treated arm against the control, on that arm's row only
    for arm, power in (("low", 0.0), ("high", 1.0)):
        assert result["comparisons"][arm]["make30_power"] == power
        assert re.search(rf'data-arm="{arm}">0.2</td><td>[^<]*power vs control {power}', html), arm
    assert not re.search(r'data-arm="placebo">0.4</td><td>[^<]*power vs control', html)


def test_a_trial_page_with_an_interim_look_shows_the_group_sequential_power():
    """A two-arm trial with a look at half the patients: the page adds the group-sequential power,
    boundaries, early-stop share and expected n as nephrosim.trials.sequential summarises them."""
    import re

    from nephrosim.trials.analysis import summarise_trial
    from nephrosim.trials.sequential import sequential_summary

    base = {"p_auc": 0.9, "p_make": 0.9, "median_control": 10.0, "median_treatment": 9.0, "recovered_control": 0.5,
            "recovered_treatment": 0.6, "death_control": 0.1, "death_treatment": 0.1, "auc_control": 5.0,
            "auc_treatment": 4.0, "death_stage_control": 0.2, "death_stage_treatment": 0.1, "dialysis_control": 0.1,
            "dialysis_treatment": 0.0, "death_dialysis_control": 0.3, "death_dialysis_treatment": 0.1,
            "make_control": 0.4, "make_treatment": 0.2, "hr": 1.3}
    p = [(0.001, 0.0001), (0.2, 0.01), (0.5, 0.3), (0.04, 0.06)]  # (interim, final)
    reps = [{**base, "p_logrank": final} for _, final in p]
    result = summarise_trial(reps, ("placebo", "msc"), 0.05)
    result["group_sequential"] = sequential_summary(np.array(p), (0.5, 1.0), (20, 20), 0.05, "obrien_fleming")
    result.update(primary_endpoint="time to recovery", notes=[], population={"eligible_pool": 9, "accepted_patients": 9})
    html = _trial_page(result, ("placebo", "msc"))
    g = result["group_sequential"]
    assert g["power"] == 0.5 and g["early_stop_share"] == 0.25  # the first replicate stops at the look
    assert re.search(r'id="trial-gs-power">([^<]*)<', html).group(1) == "0.5"
    assert f"boundaries |z| {g['boundaries_z'][0]}, {g['boundaries_z'][1]} at 0.5, 1.0" in html
    assert "stopped early in 0.25 of replicates; expected n per arm 17.5, 17.5" in html
