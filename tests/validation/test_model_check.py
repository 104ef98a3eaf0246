"""The model-check machinery: the targets file, the evaluation and the report (the full check
runs in `nephrosim check-model` and in tests/validation/<kind>/)."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from nephrosim.analysis.model_check import (KINDS, CheckResult, TargetResult, _write_report, check_model,
                                            evaluate, load_targets)
from nephrosim.inputs import InputFileError

SHAM = """
scenarios:
  sham: {species: mouse, injury: {model: sham}}
targets:
- id: demo
  species: mouse
  design: sham
  statement: baseline SCr
  source: {citation: test}
  kind: held_out
  kind_reason: test
  %s
  checks:
  - {what: baseline SCr, scenarios: [sham], readout: serum_creatinine, quantity: value_at, time_h: 0,
     %s, unit: mg/dL}
"""


def _targets(tmp_path, window="window: [0.05, 0.2]", extra=""):
    path = tmp_path / "targets.yaml"
    path.write_text(SHAM % (extra, window), encoding="utf-8")
    return load_targets(str(path))


def test_every_target_has_one_kind_and_the_packaged_file_is_used():
    ts = load_targets()
    assert sum(len(ts.of_kind(k)) for k in KINDS) == len(ts.targets) == 59  # +6 CKD (proteinuria) targets, issue 14 items 7-8; +1 cisplatin GSH course, item 5; +2 survival (uraemic fit); +1 renal-artery dose ceiling (microembolism fit); +7 adriamycin and STZ (5 in-sample, 2 held out), +1 pooled EV effect (session 13)
    assert len({t.id for t in ts.targets}) == len(ts.targets)
    assert all(t.kind_reason for t in ts.targets)


def test_normal_range_windows_come_from_the_one_csv():
    ts = load_targets()
    text = resources.files("nephrosim.biology").joinpath("normal_ranges.csv").read_text("utf-8")
    row = next(r for r in csv.DictReader(text.splitlines())
               if (r["species"], r["readout"]) == ("rat", "serum_creatinine"))
    lo, hi, bounds, basis = ts.window(ts.get("rat_iri45_time_course"), 3)
    assert (lo, hi, bounds) == (float(row["lower"]), float(row["upper"]), "[]")
    assert "normal_ranges.csv" in basis
    above = ts.window(ts.get("rat_adult_iri_peak_day3"), 1)
    assert above[:3] == (float(row["upper"]), None, "(]")


def test_evaluation_can_fail_and_a_new_miss_is_named(tmp_path):
    met = evaluate("demo", _targets(tmp_path))
    assert met.passed and met.status == "met"
    (tmp_path / "b").mkdir()
    missed = evaluate("demo", _targets(tmp_path / "b", window="window: [1.9, 3.2]"))
    assert not missed.passed and missed.status == "NEW MISS"
    assert "NEW MISS" in missed.reason and "baseline SCr" in missed.reason
    assert missed.checks[0].passed is False and "(target 1.9–3.2) ✗" in missed.checks[0].text()


def test_a_known_miss_that_is_met_is_flagged(tmp_path):
    result = evaluate("demo", _targets(tmp_path, extra='known_miss: "it used to miss"'))
    assert result.passed and result.status == "known miss now met"


@pytest.mark.parametrize("window,extra,message", [
    ("window: [0.2, 0.05]", "", "low is above high"),
    ("window: [0.05, 0.2], time_h: null", "", "add `time_h`"),
    ("window: [0.05, 0.2]", "kind: validated", "kind"),
    ("window: [0.05, 0.2], reference: nowhere", "", "'nowhere' is not defined"),
])
def test_a_malformed_targets_file_names_the_problem(tmp_path, window, extra, message):
    text = SHAM % ("", window)
    if extra:
        text = text.replace("kind: held_out", extra)
    if "time_h: null" in window:
        text = text.replace("time_h: 0,", "")
    path = tmp_path / "targets.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputFileError, match=message):
        load_targets(str(path))


def test_report_has_one_section_per_kind_with_counts(tmp_path):
    check = CheckResult("x", (("s", 1.0),), 0.0, 2.0, "[]", "u", "", True)
    results = [
        TargetResult("a", "mouse", "IRI", "x", "src", "y", True, kind="in_sample", checks=(check,)),
        TargetResult("b", "mouse", "IRI", "x", "src", "y", False, reason="because", kind="in_sample",
                     known_miss="because"),
        TargetResult("c", "rat", "IRI", "x", "src", "y", True, kind="held_out"),
        TargetResult("d", "rat", "IRI", "x", "src", "y", False, reason="new", kind="held_out"),
        TargetResult("e", "rat", "sham", "x", "src", "y", True, kind="by_construction"),
    ]
    _write_report(tmp_path / "report.md", results)
    text = (tmp_path / "report.md").read_text()
    assert "3 of 5 targets met" in text
    assert "| in-sample | 2 | 1 | 1 | 0 | 0 |" in text
    assert "| held-out | 2 | 1 | 0 | 1 | 0 |" in text
    assert "## In-sample targets: 1 of 2 met" in text and "## Held-out targets: 1 of 2 met" in text
    assert "## By-construction targets: 1 of 1 met" in text
    assert "why it misses: because" in text and "### d — NEW MISS" in text


def test_check_model_writes_report_and_only_plots_it_can(tmp_path):
    results = check_model(tmp_path / "out", _targets(tmp_path))
    assert [r.name for r in results] == ["demo"] and results[0].passed
    assert "1 of 1 targets met" in (tmp_path / "out" / "report.md").read_text()
    assert not list((tmp_path / "out").glob("*.png"))  # no plot's targets are in this file
