"""Scenario validation: every bad input names its field, and no partial output is written."""

import json

import pytest
from typer.testing import CliRunner

from nephrosim import ScenarioError, load_scenario
from nephrosim.cli import app
from nephrosim.scenarios.schema import scenario_from_dict

GOOD = {
    "species": "mouse",
    "injury": {"model": "clearance_change", "fraction": 0.9, "onset_h": 0},
    "arms": [{"name": "vehicle"}, {"name": "treated", "treatments": [
        {"product": "msc", "source": "bone_marrow", "donor": "allogeneic", "dose": 1.0e6,
         "dose_unit": "cells", "route": "iv", "time_h": 0}]}],
    "readouts": ["serum_creatinine", "bun", "gfr"],
    "times_h": [0, 6, 24, 48, 72, 120, 168],
}


def _with(**changes):
    data = json.loads(json.dumps(GOOD))
    data.update(changes)
    return data


@pytest.mark.parametrize("data,field,words", [
    (_with(species="dog"), "species", "'mouse', 'rat' or 'human'"),
    (_with(readouts=["serum_creatinine", "creatine"]), "readouts", "unknown readout"),
    (_with(times_h=[0, 24, 6]), "times_h", "strictly increasing"),
    (_with(units={"serum_creatinine": "mg/L"}), "units", "umol/L"),
    (_with(arms=[{"name": "t", "treatments": [{"product": "msc", "dose": -1e6}]}]), "arms.0.treatments.0.msc.dose", "greater than 0"),
    (_with(arms=[{"name": "t", "treatments": [{"product": "msc", "dose": 1e6, "dose_unit": "cells/g"}]}]), "dose_unit", "cells/kg"),
    (_with(injury={"model": "clearance_change", "fraction": 1.5}), "injury.clearance_change.fraction", "less than or equal"),
    (_with(parameters={"not_a_parameter": 1.0}), "parameters", "nephrosim params"),
])
def test_bad_field_is_named_with_the_fix(data, field, words):
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, "s.yaml")
    text = str(info.value)
    assert field in text
    assert words in text


def test_good_scenario_is_immutable():
    from pydantic import ValidationError

    s = scenario_from_dict({**GOOD, "parameters": {"tbw_fraction": 0.6}, "units": {"serum_creatinine": "umol/L"}})
    with pytest.raises(ValidationError, match="frozen"):
        s.species = "rat"
    with pytest.raises(TypeError):
        s.parameters["tbw_fraction"] = 0.7
    with pytest.raises(TypeError):
        s.units["serum_creatinine"] = "mg/dL"
    assert s.parameters["tbw_fraction"] == 0.6
    # the mappings survive a round trip through JSON (how ensemble workers receive a scenario)
    assert type(s).model_validate_json(s.model_dump_json()) == s


def test_yaml_syntax_error_gives_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("species: mouse\n  readouts: [a\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert "line 2" in str(info.value) and "YAML syntax error" in str(info.value)


@pytest.mark.parametrize("data", [
    _with(species="dog"),
    _with(times_h=[5, 1]),
    _with(readouts=["nope"]),
    _with(arms=[{"name": "t", "treatments": [{"product": "msc", "dose": -1}]}]),
    _with(units={"gfr": "furlongs"}),
])
def test_cli_rejects_bad_scenario_without_partial_output(tmp_path, data):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    out, fig = tmp_path / "out.csv", tmp_path / "out.png"
    result = CliRunner().invoke(app, ["simulate", str(path), "-o", str(out), "--plot", str(fig)])
    assert result.exit_code == 2
    assert "error:" in result.output
    assert "Traceback" not in result.output
    assert not out.exists() and not fig.exists()
    assert list(tmp_path.iterdir()) == [path]


def test_cli_yaml_syntax_error(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("species: [mouse\n")
    result = CliRunner().invoke(app, ["simulate", str(path)])
    assert result.exit_code == 2 and "YAML syntax error" in result.output
