"""What a new user typed wrong gets one clear line and exit status 2, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from nephrosim.cli import app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = str(ROOT / "examples" / "mouse_clearance_drop.yaml")
SMALL = {"species": "mouse", "injury": {"model": "clearance_change", "fraction": 0.5},
         "readouts": ["serum_creatinine"], "times_h": [0, 24]}


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def refused(result, *phrases):
    assert result.exit_code == 2, (result.exit_code, result.output[-1500:], repr(result.exception))
    assert result.output.lstrip().startswith("error:"), result.output[:300]
    assert "Traceback" not in result.output
    for p in phrases:
        assert p in result.output, (p, result.output[:600])


def test_empty_file(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("")
    refused(run("simulate", p), "empty")


def test_binary_file_names_the_file(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    refused(run("simulate", p), "s.yaml", "binary")


def test_a_folder_as_the_scenario(tmp_path):
    refused(run("simulate", tmp_path), "folder")


def test_an_empty_path():
    refused(run("simulate", ""), "no scenario file")


def test_samples_without_uncertainty_is_refused():
    refused(run("simulate", EXAMPLE, "--samples", 50), "--uncertainty")


def test_plot_with_uncertainty_is_refused(tmp_path):
    refused(run("simulate", EXAMPLE, "--uncertainty", "shipped", "--plot", tmp_path / "p.png"), "--plot")


def test_unwritable_check_model_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o500)
    if os.access(ro, os.W_OK):  # running as a user whom permissions do not bind (root): use a file in the way
        os.chmod(ro, 0o700)
        blocker = tmp_path / "blocker"
        blocker.write_text("a file, not a folder")
        refused(run("check-model", "--report", blocker / "report"))
    else:
        refused(run("check-model", "--report", ro / "report"))


def test_output_into_a_folder_in_the_way(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(SMALL))
    (tmp_path / "out.csv").mkdir()
    refused(run("simulate", p, "-o", tmp_path / "out.csv"), "folder")


def test_output_under_a_file_instead_of_a_folder(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(SMALL))
    (tmp_path / "afile").write_text("x")
    refused(run("simulate", p, "-o", tmp_path / "afile" / "out.csv"), "cannot write")


def test_missing_arms_is_said_in_the_output(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(SMALL))
    result = run("simulate", p)
    assert result.exit_code == 0, result.output
    assert "lists no arms" in result.output and "vehicle" in result.output


def test_units_survive_the_terminal_table(tmp_path):
    """rich used to read '[mg/dL]' as markup and drop it: SCr in µmol/L and mg/dL looked alike."""
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump({**SMALL, "units": {"serum_creatinine": "mg/dL"}}))
    result = run("simulate", p)
    assert result.exit_code == 0, result.output
    assert "[mg/dL]" in result.output


def test_formula_cells_are_neutralised_in_csv_output(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump({**SMALL, "name": "=HYPERLINK(\"http://x\")", "arms": [{"name": "+SUM(1)"}]}))
    out = tmp_path / "out.csv"
    result = run("simulate", p, "-o", out)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "'+SUM(1)" in text and "\n+SUM" not in text and ",+SUM" not in text


@pytest.mark.parametrize("mode", [0o644, 0o640])
def test_outputs_follow_the_umask(tmp_path, mode):
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(SMALL))
    old = os.umask(0o777 & ~mode)
    try:
        result = run("simulate", p, "-o", tmp_path / "out.csv")
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.csv").stat().st_mode & 0o777 == mode
