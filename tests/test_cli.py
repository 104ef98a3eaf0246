"""The `nephrosim` command: each verb does its job and writes complete files."""

import pandas as pd
import pytest
from typer.testing import CliRunner

from nephrosim.cli import app

SCENARIO = "examples/mouse_clearance_drop.yaml"
runner = CliRunner()


def test_simulate_writes_table_and_plot(tmp_path):
    out, fig = tmp_path / "o.parquet", tmp_path / "o.svg"
    result = runner.invoke(app, ["simulate", SCENARIO, "-o", str(out), "--plot", str(fig)])
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    assert set(frame.arm) == {"vehicle", "msc_iv"}
    assert set(frame.unit[frame.readout == "serum_creatinine"]) == {"umol/L"}
    assert fig.read_text().lstrip().startswith("<?xml")
    assert "serum_creatinine" in result.output


def test_export_sbml_writes_consistent_model(tmp_path):
    out = tmp_path / "m.xml"
    result = runner.invoke(app, ["export", "sbml", SCENARIO, "--arm", "msc_iv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    import libsbml

    doc = libsbml.readSBMLFromFile(str(out))
    assert doc.getModel().getNumEvents() == 1  # the MSC dose
    bad = runner.invoke(app, ["export", "sbml", SCENARIO, "--arm", "nope", "-o", str(tmp_path / "x.xml")])
    assert bad.exit_code == 2 and "nope" in bad.output and not (tmp_path / "x.xml").exists()


def test_params_lists_sources(tmp_path):
    result = runner.invoke(app, ["params", "--species", "mouse", "-o", str(tmp_path / "p.csv")])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "p.csv")
    row = table[table.name == "creatinine_secretion_fraction"].iloc[0]
    assert row.value == 0.45 and row.provenance == "source" and "PMID:22338083" in row.pmid_or_doi
    bad = runner.invoke(app, ["params", "--species", "dog"])
    assert bad.exit_code == 2 and "mouse, rat, human" in bad.output


def test_ensemble_command(tmp_path):
    out = tmp_path / "e.parquet"
    result = runner.invoke(app, ["ensemble", SCENARIO, "-n", "30", "--cv", "0.2", "--seed", "4", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "ok 60" in result.output
    assert pd.read_parquet(out)["sample"].nunique() == 30
    bad = runner.invoke(app, ["ensemble", SCENARIO, "-n", "0", "-o", str(tmp_path / "z.parquet")])
    assert bad.exit_code == 2 and "samples" in bad.output


def test_export_petab_of_the_default_calibration(tmp_path):
    import petab.v1 as petab

    out = tmp_path / "petab"
    result = runner.invoke(app, ["export", "petab", "calibration/default.yaml", "-o", str(out)])
    assert result.exit_code == 0, result.output
    problem = petab.Problem.from_yaml(str(out / "problem.yaml"))
    assert not petab.lint_problem(problem)  # lint_problem returns True when it finds errors
    assert len(problem.measurement_df) == 6  # Zager 1989 (4) + Cai 2014 (2)
    assert problem.parameter_df.objectivePriorType.eq("normal").sum() == 2  # one lab effect per publication


def test_bad_calibration_config_is_a_clear_error(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("name: x\nparameters: [{name: nope}]\nstudies: []\n")
    result = runner.invoke(app, ["calibrate", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "studies" in result.output and "Traceback" not in result.output


def test_compare_prints_efficacy_and_risk(tmp_path):
    import json

    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps({
        "species": "mouse", "injury": {"model": "ischemia_reperfusion", "clamp_min": 30, "bilateral": True},
        "arms": [{"name": "vehicle"},
                 {"name": "msc", "treatments": [{"product": "msc", "dose": 5e5, "route": "iv", "time_h": 0}]}],
        "readouts": ["serum_creatinine"], "times_h": [0, 24, 72]}))
    result = runner.invoke(app, ["compare", str(scenario), "-o", str(tmp_path / "c.csv")])
    assert result.exit_code == 0, result.output
    efficacy = pd.read_csv(tmp_path / "c_efficacy.csv").set_index("arm")
    risk = pd.read_csv(tmp_path / "c_risk.csv").set_index("arm")
    assert efficacy.loc["msc", "serum_creatinine_auc_reduction_pct"] > 0  # MSC protect
    assert risk.loc["msc", "dsa_probability_per_course"] == pytest.approx(0.1151, abs=1e-4)
    assert risk.loc["vehicle", "cells_given"] == 0
    assert "no solid evidence of spontaneous transformation" in result.output
    # the files it names are the files it wrote (it used to say "wrote c.csv")
    named = [line.removeprefix("wrote ") for line in result.output.splitlines() if line.startswith("wrote ")]
    assert sorted(named) == sorted(str(tmp_path / f"c_{part}.csv") for part in ("efficacy", "effects", "risk"))


def test_protocol_lists_attributes_with_sources():
    result = runner.invoke(app, ["protocol", "examples/protocols/hypoxic_adipose_msc.yaml"])
    assert result.exit_code == 0, result.output
    assert "potency_vegf" in result.output and "Rehman" in result.output
    bad = runner.invoke(app, ["protocol", "no_such_protocol.yaml"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_protocol_yaml_syntax_error_is_named(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("tissue_source: [adipose\n")
    result = runner.invoke(app, ["protocol", str(path)])
    assert result.exit_code == 2 and "YAML syntax error" in result.output and "line" in result.output
