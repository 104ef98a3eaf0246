"""The builder's form round-trips every example scenario (no browser: the form's inputs, posted
as a browser posts them, read back into the same scenario)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nephrosim.app import forms
from nephrosim.scenarios.schema import load_scenario
from tests.app.conftest import posted

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_survives_the_form(path):
    scenario = load_scenario(path)
    draft = scenario.model_dump(mode="json", exclude_none=True)
    back, problems, _ = forms.validate_draft(forms.draft_from_form(posted(forms.build_form(draft))))
    assert problems == []
    assert back.model_dump() == scenario.model_dump()


def test_a_value_the_schema_refuses_stays_visible_in_its_select():
    groups = forms.build_form({**forms.DEFAULT_DRAFT, "species": "dog"})
    species = next(i for i in groups[0].inputs if i.name == "species")
    assert species.value == "dog" and species.options[0] == ("dog", "dog (not allowed)")
    _, problems, by_input = forms.validate_draft(forms.draft_from_form(posted(groups)))
    assert any(p.startswith("species: 'dog'") for p in problems) and "species" in by_input


def test_every_kind_of_field_survives_the_form():
    """Repeat doses, a cultivation protocol inline (kept as JSON), yes/no/automatic, knockouts,
    overrides, reporting units and solver settings."""
    from nephrosim.scenarios.schema import scenario_from_dict

    scenario = scenario_from_dict({
        "name": "every_field", "species": "rat", "body_weight_g": 250, "parameter_set": "table",
        "injury": {"model": "ischemia_reperfusion", "clamp_min": 45, "bilateral": False,
                   "contralateral_nephrectomy": True, "temperature_c": 36.5},
        "arms": [{"name": "vehicle"}, {"name": "repeat", "treatments": [
            {"product": "msc", "dose": 2e6, "dose_unit": "cells/kg", "time_h": -24, "repeat_every_h": 24,
             "repeat_count": 3, "sensitized": False, "donor_potency": 1.5, "knockouts": ["vegf", "il10"],
             "protocol": {"name": "hypoxic adipose MSC", "tissue_source": "adipose", "passage": 4,
                          "hypoxia_o2_percent": 1, "hypoxia_hours": 48}},
            {"product": "ev", "dose": 3e9, "dose_unit": "particles", "particles_per_ug": 1e9, "route": "renal_artery"},
            {"product": "conditioned_medium", "dose": 2, "dose_unit": "mL", "cells_per_ml": 1e6,
             "concentration_factor": 10}]}],
        "readouts": ["gfr", "serum_creatinine", "bun"],
        "units": {"serum_creatinine": "umol/L", "gfr": "uL/min"},
        "times_h": [0, 12.5, 24, 72],
        "parameters": {"gfr_ml_min_per_kg": 5.5},
        "solver": {"rtol": 1e-7, "max_steps": 50000},
    })
    draft = scenario.model_dump(mode="json", exclude_none=True)
    back, problems, _ = forms.validate_draft(forms.draft_from_form(posted(forms.build_form(draft))))
    assert problems == []
    assert back.model_dump() == scenario.model_dump()


def test_the_default_draft_and_a_jaffe_scenario_survive_the_form():
    """A draft without an observation block (the builder's default) posts a valid scenario: the
    observation's assay is a select of its own group, not a JSON box filled with pydantic's
    'undefined' default (which refused every run from the builder)."""
    from nephrosim.scenarios.schema import scenario_from_dict

    back, problems, _ = forms.validate_draft(forms.draft_from_form(posted(forms.build_form(forms.DEFAULT_DRAFT))))
    assert problems == [] and back.observation.creatinine_assay == "enzymatic"
    jaffe = scenario_from_dict({**forms.DEFAULT_DRAFT, "observation": {"creatinine_assay": "jaffe"}})
    draft = jaffe.model_dump(mode="json", exclude_none=True)
    back, problems, _ = forms.validate_draft(forms.draft_from_form(posted(forms.build_form(draft))))
    assert problems == [] and back.model_dump() == jaffe.model_dump()
