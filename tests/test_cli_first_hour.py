"""The first hour of a new user: names to choose from, a template, validation without a run."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from nephrosim.biology.readouts import available_readouts
from nephrosim.cli import app
from nephrosim.scenarios.injuries import INJURY_MODELS


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_list_injuries_and_readouts_cover_the_schema():
    injuries = run("list", "injuries")
    assert injuries.exit_code == 0
    for name in INJURY_MODELS:
        assert name in injuries.output
    readouts = run("list", "readouts")
    for name, r in available_readouts().items():
        assert name in readouts.output
    assert "[mg/dL" in readouts.output  # units are shown, not eaten as markup
    assert run("list", "routes").output.split() == ["iv", "intra_arterial_aorta", "renal_artery", "intraparenchymal",
                                                    "subcapsular", "intraperitoneal"]
    bad = run("list", "colours")
    assert bad.exit_code == 2 and "injuries" in bad.output


def test_template_is_a_valid_scenario_with_treatment(tmp_path):
    out = tmp_path / "s.yaml"
    assert run("template", "-o", out).exit_code == 0
    data = yaml.safe_load(out.read_text())
    assert any(a.get("treatments") for a in data["arms"])
    checked = run("check", out)
    assert checked.exit_code == 0 and checked.output.startswith("ok:"), checked.output


def test_check_refuses_without_running(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("species: mouse\nreadouts: [serum_creatinin]\n")
    result = run("check", p)
    assert result.exit_code == 2 and "did you mean 'serum_creatinine'" in result.output


def test_log_time_axis(tmp_path):
    import nephrosim

    r = nephrosim.simulate({"species": "mouse", "injury": {"model": "clearance_change", "fraction": 0.5},
                            "readouts": ["serum_creatinine"], "times_h": [0, 6, 24, 336]})
    fig = r.plot(log_time=True)
    assert fig.axes[0].get_xscale() == "symlog"
    assert r.plot().axes[0].get_xscale() == "linear"


def test_compare_shows_units_and_says_what_a_reduction_is():
    scenario = {"species": "mouse", "injury": {"model": "clearance_change", "fraction": 0.8, "duration_h": 24,
                                               "recovery_h": 24},
                "arms": [{"name": "vehicle"}, {"name": "ev", "treatments": [{"product": "ev", "dose": 10,
                                                                              "dose_unit": "ug_protein"}]}],
                "readouts": ["serum_creatinine"], "times_h": [0, 24, 72]}
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "s.yaml"
        p.write_text(yaml.safe_dump(scenario))
        result = run("compare", p)
    assert result.exit_code == 0, result.output
    assert "peak_serum_creatinine [mg/dL]" in result.output
    assert "rise of the readout above its own t = 0 value" in result.output and "reference arm" in result.output
