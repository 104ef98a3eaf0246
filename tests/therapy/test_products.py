"""Treatment and protocol validation: doses keep their units; errors name the field and the fix."""

import pytest

from nephrosim.biology.parameters import ParameterTable
from nephrosim.scenarios.errors import ScenarioError
from nephrosim.scenarios.products import EV, MSC, ConditionedMedium
from nephrosim.run.simulation import as_scenario
from nephrosim.units import UnitError


def test_ev_dose_units_never_silently_converted():
    ev = EV(dose=30, dose_unit="ug_protein")
    with pytest.raises(UnitError, match="particles_per_ug"):
        ev.dose_in("particles")
    assert EV(dose=30, dose_unit="ug_protein", particles_per_ug=1e9).dose_in("particles") == pytest.approx(3e10)
    with pytest.raises(UnitError):
        EV(dose=1e9, dose_unit="particles").dose_in("cell_equivalents")


def test_ev_dose_in_particles_and_ug_use_their_own_references():
    """Simulating particles and µg never converts one into the other (each has its own reference dose)."""
    from nephrosim.biology.therapy import build_therapy

    spec = build_therapy([EV(dose=1e9, dose_unit="particles")], "mouse", 0.025, ParameterTable.default())
    events = [e for p in spec.processes for e in p.events]
    text = " ".join(v for e in events for v in e.assignments.values())
    assert "ev_reference_dose_particles_per_kg" in text and "ug_protein" not in text


def test_conditioned_medium_in_ml_needs_cell_density():
    with pytest.raises(ValueError, match="cells_per_ml"):
        ConditionedMedium(dose=1, dose_unit="mL")
    cm = ConditionedMedium(dose=0.5, dose_unit="mL", cells_per_ml=1e6, concentration_factor=10)
    assert cm.dose_cell_equivalents(0.025) == pytest.approx(5e6)


def test_knockouts_are_checked():
    with pytest.raises(ValueError):
        MSC(dose=1e5, knockouts=["vegfr2"])
    with pytest.raises(ValueError):
        EV(dose=1, dose_unit="ug_protein", knockouts=["hgf"])  # EVs carry RNA and VEGF only
    assert MSC(dose=1e5, knockouts=["vegf", "tsg6"]).knockouts == ("vegf", "tsg6")


def test_protocol_inline_or_file_and_source_agreement(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("tissue_source: adipose\nhypoxia_o2_percent: 1\nhypoxia_hours: 48\n")
    m = MSC(dose=1e5, protocol=str(path))
    assert m.effective_protocol().tissue_source == "adipose"
    with pytest.raises(ValueError, match="tissue_source"):
        MSC(dose=1e5, source="bone_marrow", protocol=str(path))
    with pytest.raises(ValueError, match="not found"):
        MSC(dose=1e5, protocol=str(tmp_path / "missing.yaml"))
    with pytest.raises(ValueError, match="hypoxia_hours"):
        MSC(dose=1e5, protocol={"hypoxia_o2_percent": 1})


def test_scenario_error_names_the_treatment_field():
    with pytest.raises(ScenarioError, match="dose_unit"):
        as_scenario({"species": "mouse", "arms": [{"name": "a", "treatments": [
            {"product": "ev", "dose": 10, "dose_unit": "mg"}]}]})


def test_protocol_sets_source_and_scenario_round_trips():
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / "protocols" / "hypoxic_adipose_msc.yaml"
    sc = as_scenario({"species": "mouse", "arms": [{"name": "a", "treatments": [
        {"product": "msc", "dose": 1e5, "protocol": str(path)}]}]})
    assert sc.arms[0].treatments[0].source == "adipose"
    assert as_scenario(json.loads(sc.model_dump_json())) == sc
