"""Observations read from the evidence store."""

from __future__ import annotations

import pytest

from nephrosim.calibration import CalibrationConfigError, CalibrationProblem, as_config

STUDY = "PMC6148315_tubular_pressure"
ARM = "iri_untreated_normal_renal_artery_pressu"


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    from nephrosim.evidence import EvidenceStore

    path = tmp_path_factory.mktemp("evidence") / "store.duckdb"
    EvidenceStore(path).ensure()
    return str(path)


def _config(store_path, **evidence):
    return {
        "name": "evidence_source",
        "parameters": [{"name": "iri_t50_min", "species": "mouse"}],
        "studies": [{
            "id": "tubular_pressure", "citation": STUDY, "mapping": "18-min bilateral clamp at 37 °C",
            "scenario": {"species": "mouse", "injury": {"model": "ischemia_reperfusion", "clamp_min": 18}},
            "evidence": {"study_id": STUDY, "db": store_path, "readouts": ["serum_creatinine"], **evidence},
        }],
    }


def test_reads_store_rows_with_stated_assumption(store_path):
    from nephrosim.calibration.observations import study_observations

    cfg = as_config(_config(store_path, arm_id=ARM, dispersion_type_default="SEM"))
    obs = study_observations(cfg.studies[0])
    assert len(obs) == 1
    o = obs[0]
    assert (o.readout, o.time_h, o.mean, o.sem) == ("serum_creatinine", 24.0, 2.48, 0.23)
    assert "dispersion taken as SEM" in o.note


def test_missing_dispersion_type_is_refused_with_the_fix(store_path):
    from nephrosim.calibration.observations import study_observations

    cfg = as_config(_config(store_path, arm_id=ARM))
    with pytest.raises(CalibrationConfigError, match="dispersion_type_default"):
        study_observations(cfg.studies[0])


def test_ambiguous_rows_are_refused(store_path):
    with pytest.raises(CalibrationConfigError, match="two rows"):
        CalibrationProblem(as_config(_config(store_path, dispersion_type_default="SEM")))
