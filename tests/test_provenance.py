"""Every number in the model is evidence or says it is not (the provenance rules).

source (quote), derived (computation), fitted (a shipped calibration run: interval and
identifiability verdict), assumed (reason and a range that enters the uncertainty bands).
Nothing is tuned by hand and presented as calibrated: a hand-tuned value is 'assumed'.
"""

import collections
import csv
import io
from importlib import resources

from nephrosim.biology.parameters import PROVENANCE_KINDS, ParameterTable


def _csv_rows():
    folder = resources.files("nephrosim.biology")
    for f in sorted(folder.iterdir()):
        if f.name.startswith("parameters") and f.name.endswith(".csv"):
            for row in csv.DictReader(io.StringIO(f.read_text("utf-8"), newline="")):
                yield f.name, row


def test_no_row_claims_calibrated_or_fitted_by_hand():
    """'fitted' is set only by a shipped calibration run; the CSVs never say 'calibrated'."""
    bad = [(f, r["name"], r["provenance"]) for f, r in _csv_rows() if r["provenance"] not in ("source", "derived",
                                                                                                  "assumed")]
    assert bad == []


def test_hand_tuned_rows_say_so():
    tuned = [r for _, r in _csv_rows() if "hand-tuned" in r["reason"] or "hand-calibrated" in r["reason"]]
    assert tuned, "the hand-tuned rows should be labelled"
    for r in tuned:
        assert r["provenance"] == "assumed" and r["reason"].startswith("hand-tuned, not formally fitted"), r["name"]


def test_every_row_keeps_the_rules():
    table = ParameterTable.default()
    assert table.problems() == []
    kinds = collections.Counter(r.provenance for r in table.records)
    assert set(kinds) <= set(PROVENANCE_KINDS)


def test_fitted_rows_carry_their_run_interval_and_verdict():
    fitted = [r for r in ParameterTable.default().records if r.provenance == "fitted"]
    assert fitted, "simulate uses the shipped calibration"
    for r in fitted:  # the evidence calibration (profile) or a target calibration (posterior)
        assert ("config digest" in r.reason and "95 % profile interval" in r.reason) or (
            "target calibration" in r.reason and "spec digest" in r.reason and "95 % posterior interval" in r.reason)
        assert "identifiable" in r.reason


def test_an_estimate_applies_to_the_species_it_was_fitted_on():
    """The shipped calibration fitted rat studies only; its temperature coefficient used to
    apply to mouse and human too."""
    from nephrosim.biology.parameters import shipped_calibration

    species = {s["scenario"]["species"] for s in shipped_calibration()["config_data"]["studies"]}
    assert species == {"rat"}
    fitted, table = ParameterTable.default(), ParameterTable.default(calibrated=False)
    assert fitted.record("iri_q10", "rat").provenance == "fitted"
    for other in ("mouse", "human"):
        assert fitted.record("iri_q10", other) == table.record("iri_q10", other)


def test_no_value_the_package_uses_was_tuned_by_hand():
    """Issue 14's rule: every value once tuned by hand to a target is replaced by a shipped formal fit
    (``biology/fitted/*.json``) or carried over from one as a stated assumption. The CSV keeps the hand's
    label for the record (the fit says what it replaced), but no row of the table the package simulates
    with still carries it."""
    table = ParameterTable.default()
    left = [f"{r.name}[{r.species}]" for r in table.records if "hand-tuned, not formally fitted" in (r.reason or "")]
    assert left == [], f"hand-tuned rows still in use: {left}; fit them (nephrosim calibrate-targets) or state an assumption"
    # the fits that replaced them say so, with the value the hand had set
    cited = ParameterTable.default(calibrated=False, target_fits=False)
    once = [r for r in cited.records if "hand-tuned, not formally fitted" in (r.reason or "")]
    assert len(once) > 60
    for r in once:
        now = table.record(r.name, r.species)
        assert ("formally fitted by" in now.reason or now.provenance == "fitted"
                or r.name == "iri_q10"), r.name
