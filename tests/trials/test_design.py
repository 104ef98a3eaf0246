from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from nephrosim.trials import TrialError, load_trial, trial_from_dict

ROOT = Path(__file__).resolve().parents[2]
ARM = {"name": "msc", "n": 20, "treatment": {"product": "msc", "dose": 2e6, "dose_unit": "cells/kg"}}


def test_example_act_aki_loads():
    d = load_trial(ROOT / "examples/trials/act_aki.yaml")
    assert [a.name for a in d.arms] == ["placebo", "AC607"]
    assert (d.arms[0].n, d.arms[1].n) == (68, 67)
    assert d.arms[1].treatment.route == "intra_arterial_aorta"
    assert d.inclusion.rise_mg_dl == 0.5 and d.inclusion.within_h == 48


def test_example_act_aki_followed_90_days_is_act_aki_with_a_90_day_horizon():
    """examples/trials/act_aki_90d.yaml: the same trial, only its follow-up differs (docs/trials.md §3)."""
    short, long = load_trial(ROOT / "examples/trials/act_aki.yaml"), load_trial(ROOT / "examples/trials/act_aki_90d.yaml")
    assert long.endpoints.horizon_days == 90 and long.output_times_h[-1] == 48 + 90 * 24
    same = {"name", "endpoints"}
    assert short.model_dump(exclude=same) == long.model_dump(exclude=same)
    assert short.endpoints.model_dump(exclude={"horizon_days"}) == long.endpoints.model_dump(exclude={"horizon_days"})


@pytest.mark.parametrize("data, words", [
    ({"arms": [{"name": "placebo", "n": 20}]}, ["arms"]),
    ({"arms": [{"name": "a", "n": 20}, {"name": "a", "n": 20}]}, ["arm names must differ"]),
    ({"arms": [{"name": "placebo", "n": 20}, ARM], "colour": "red"}, ["colour", "Extra inputs"]),
    ({"arms": [{"name": "placebo", "n": 1}, ARM]}, ["arms.0.n"]),
    ({"arms": [{"name": "placebo", "n": 20}, {**ARM, "treatment": {**ARM["treatment"], "time_h": 5}}]},
     ["timing", "time_h"]),
    ({"inclusion": {"kind": "all"}, "arms": [{"name": "placebo", "n": 20}, ARM]}, ["relative_to: surgery"]),
    ({"arms": [{"name": "placebo", "n": 20}, {**ARM, "timing": {"relative_to": "surgery", "delay_h": 6}}]},
     ["before the diagnosis"]),
    ({"arms": [{"name": "placebo", "n": 20}, {**ARM, "treatment": {**ARM["treatment"], "route": "nose"}}]},
     ["route"]),
    ({"arms": [{"name": "placebo", "n": 20}, ARM], "virtual_patients": True}, ["virtual_patients", "number"]),
])
def test_bad_designs_name_the_field(data, words):
    with pytest.raises(TrialError) as err:
        trial_from_dict(data, "t.yaml")
    for w in words:
        assert w in str(err.value)


def test_a_written_out_design_loads_again():
    """Every field written out (as the web app saves a design) reads back as the same design;
    the treatment's default time_h = 0 was refused as 'the dose time goes in timing'."""
    d = load_trial(ROOT / "examples/trials/act_aki.yaml")
    again = trial_from_dict(d.model_dump(mode="json"), "dumped.yaml")
    assert again == d


def test_cli_reports_a_bad_design_on_one_line(app, tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump({"arms": [{"name": "placebo", "n": 20}]}))
    res = CliRunner().invoke(app, ["trial", str(p), "--json"])
    assert res.exit_code == 2
    err = res.stderr if hasattr(res, "stderr") else res.output
    assert err.startswith("error: ") and err.count("\n") == 1 and "arms" in err


def test_cli_missing_file_exit_2(app, tmp_path):
    res = CliRunner().invoke(app, ["trial", str(tmp_path / "nope.yaml")])
    assert res.exit_code == 2
