"""The therapy potency problem generated from the evidence store (scripts/build_therapy_calibration.py)."""

from __future__ import annotations

import math

from nephrosim.calibration.config import config_from_dict
from nephrosim.calibration.held_out import load_held_out
from nephrosim.evidence import shipped_records

from project_scripts import load_script



def _script():
    return load_script("build_therapy_calibration")


def test_generated_problem_uses_in_sample_contrasts_read_off_the_rows():
    script = _script()
    records = shipped_records()
    registry = load_held_out()
    config, excluded, summary = script.build(records, registry)
    cfg = config_from_dict(config)  # a valid calibration config
    ids = {s.tags["evidence_id"] for s in cfg.studies}
    assert not ids & registry.study_ids  # nothing held out is fitted
    assert {"Cai 2014", "Bruno2009_JASN"} <= ids
    cai = next(s for s in cfg.studies if s.tags["evidence_id"] == "Cai 2014")
    [c] = cai.contrasts  # one control per treated arm: the PBS vehicle, not the untreated arm as well
    assert "pbs" in c.control and math.isclose(c.estimate, math.log(3.71 / 5.01), abs_tol=1e-4)
    # SE: the two SEMs by the delta method, widened by the heterogeneity tau (assumed 0.5 with < 3 studies)
    sampling = math.hypot(0.96 / 3.71, 0.87 / 5.01)
    assert math.isclose(c.se, math.hypot(sampling, 0.5), rel_tol=1e-3)
    reasons = {e["study"]: e["reason"] for e in excluded}
    assert "ADRCfreshcryo_RatIRI" in reasons  # its arms' route names no artery
    assert [p.name for p in cfg.parameters] == ["ev_kidney_ec50_reference_doses", "paracrine_ec50_cell_h_per_kg"]
    assert all(p.across_species for p in cfg.parameters)  # mouse and rat studies, one row for all species
    assert any("tau = 0.5 (assumed" in line for line in summary)
