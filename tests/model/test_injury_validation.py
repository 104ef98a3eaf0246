"""The model-check report machinery (the full check runs in `nephrosim check-model`)."""

from __future__ import annotations

from nephrosim.analysis.model_check import TargetResult, _write_report, sham_targets


def test_sham_targets_pass_and_report_is_written(tmp_path):
    results = sham_targets(tmp_path)
    assert len(results) == 12 and all(r.passed for r in results), [r for r in results if not r.passed]
    miss = TargetResult("demo", "mouse", "IRI", "x", "src", "y", False, reason="because")
    _write_report(tmp_path / "report.md", [*results, miss])
    text = (tmp_path / "report.md").read_text()
    assert "12 of 13 targets met" in text and "why it misses: because" in text
