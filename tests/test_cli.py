"""The `nephrosim` command: each verb does its job and writes complete files."""

import pandas as pd
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
