import json

import numpy as np
from typer.testing import CliRunner

from nephrosim.trials import run_trial, trial_from_dict


def _run(app, path, *args):
    res = CliRunner().invoke(app, ["trial", str(path), *args])
    assert res.exit_code == 0, res.output
    return res


def test_small_trial_json_is_complete_and_deterministic(app, small_yaml):
    a = json.loads(_run(app, small_yaml, "--replicates", "5", "--seed", "7", "--json").stdout)
    for key in ("power", "hazard_ratio", "median_recovery_days", "population", "death_by_horizon",
                "scr_auc_mg_dl_day", "primary_endpoint"):
        assert key in a
    assert set(a["hazard_ratio"]) == {"median", "lo", "hi"}
    assert set(a["median_recovery_days"]) == {"placebo", "msc"}
    assert 0.0 <= a["power"] <= 1.0 and a["replicates"] == 5
    b = json.loads(_run(app, small_yaml, "--replicates", "5", "--seed", "7", "--json").stdout)
    assert a == b
    text = _run(app, small_yaml, "--replicates", "2", "--seed", "7").stdout
    assert "power" in text and "aki_incidence" in text


def test_placebo_vs_placebo_power_is_alpha():
    """Two identical arms: the share of replicates with p < 0.05 must be near 0.05."""
    d = trial_from_dict({
        "virtual_patients": 800, "inclusion": {"kind": "scr_rise", "rise_mg_dl": 0.3, "within_h": 48},
        "arms": [{"name": "placebo", "n": 20}, {"name": "placebo_2", "n": 20}]})
    res = run_trial(d, replicates=200, seed=7)
    p = np.array([r["p_logrank"] for r in res.replicates])
    assert 0.01 <= res.summary["power"] <= 0.10, res.summary["power"]
    assert p.min() < 0.2 and p.max() > 0.8  # p spread over (0, 1), not stuck
    assert 0.5 < res.summary["hazard_ratio"]["median"] < 2.0


def test_too_small_pool_is_a_user_error(small_yaml):
    import pytest

    from nephrosim.errors import UserInputError
    from nephrosim.trials import load_trial

    d = load_trial(small_yaml).model_copy(update={"virtual_patients": 50})
    with pytest.raises(UserInputError, match="raise virtual_patients"):
        run_trial(d, replicates=2, seed=1)


def test_chunk_patients_reaches_the_run_and_a_bad_value_names_the_option(app, small_yaml):
    """--chunk-patients sets the simulation task size: the same seed gives the same trial at any size
    (every chunk is a pure function of the spec and seed), and 0 is refused naming the option."""
    from typer.testing import CliRunner

    a = json.loads(_run(app, small_yaml, "--replicates", "3", "--seed", "5", "--json").stdout)
    b = json.loads(_run(app, small_yaml, "--replicates", "3", "--seed", "5", "--json", "--chunk-patients", "1000").stdout)
    assert a == b
    res = CliRunner().invoke(app, ["trial", str(small_yaml), "--chunk-patients", "0", "--json"])
    assert res.exit_code == 2 and "chunk_patients" in res.output


def test_a_recovery_mcp_mod_reads_as_such_in_the_json_and_the_text(app, tmp_path):
    """MCP-Mod on time to recovery with a target effect, end to end through the CLI: the JSON names what the
    contrasts act on and the scale of the target effect; the text says the same. The per-replicate numbers
    are checked against their recomputation in tests/trials/test_mcpmod.py."""
    import yaml

    from .conftest import SMALL

    design = yaml.safe_load(SMALL)
    high = {**design["arms"][1], "name": "msc_high",
            "treatment": {**design["arms"][1]["treatment"], "dose": 1.0e7}}
    design["arms"].append(high)
    design["mcp_mod"] = {"doses": [0, 2.0e6, 1.0e7], "shapes": [{"shape": "linear"}, {"shape": "emax", "ed50": 2.0e6}],
                         "endpoint": "recovery", "target_effect": 0.223}
    path = tmp_path / "mcp.yaml"
    path.write_text(yaml.safe_dump(design))
    out = json.loads(_run(app, path, "--replicates", "8", "--seed", "3", "--json").stdout)["mcp_mod"]
    assert out["contrasts_on"] == "recovery" and out["endpoint"].startswith("time to recovery")
    assert out["covariance"] == "estimated" and out["critical_value"] is None  # each trial's own (the default)
    assert out["rule"].startswith("smallest multiplicity-adjusted p <= 0.025")
    assert all(len(c) == 2 for c in out["contrasts"].values())  # shape x treated arm
    fit = out["modelling"]
    assert fit["target_effect"] == 0.223 and fit["scale"].startswith("log hazard ratio")
    assert set(fit["effect_by_arm"]) == {"msc", "msc_high"}
    assert 0.0 <= fit["target_dose_estimated"] <= out["power"] <= 1.0  # estimated only in significant trials
    text = _run(app, path, "--replicates", "2", "--seed", "3").stdout
    assert "MCP-Mod contrast test on time to recovery (log hazard ratios) (smallest multiplicity-adjusted p" in text
    assert "MCP-Mod target dose for an effect of 0.223 (log hazard ratio of recovery" in text
