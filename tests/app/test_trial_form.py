"""The trial page's form, generated from the trial schema (no browser): every example design
round-trips through it, its buttons add and remove what they say, and a refused value is named
beside its input."""

from __future__ import annotations

import pytest

from nephrosim.app import trial_form
from nephrosim.app.server import _trial_examples
from nephrosim.trials import load_trial, trial_from_dict
from tests.app.conftest import posted

EXAMPLES = _trial_examples()


def _inputs(groups) -> dict:
    out = {}
    for g in groups:
        out.update({i.name: i for i in g.inputs})
        out.update(_inputs(g.children))
    return out


def _actions(groups) -> set[str]:
    return {a for g in groups for a, _ in g.actions} | {a for g in groups for a in _actions(g.children)}


def test_the_examples_offered_are_the_trial_designs_not_the_design_search():
    assert set(EXAMPLES) == {"act_aki.yaml", "act_aki_90d.yaml", "act_aki_dose_ranging.yaml"}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_design_survives_the_form(name):
    design = load_trial(EXAMPLES[name])
    draft = design.model_dump(mode="json", exclude_unset=True)
    back, problems, _ = trial_form.validate_draft(trial_form.draft_from_form(posted(trial_form.build_form(draft))))
    assert problems == []
    assert back.model_dump() == design.model_dump()


def test_the_form_is_the_schema():
    """Units, ranges and help come from the trial schema; a treatment hides time_h (the arm's timing
    sets the dose time); optional parts are add/remove buttons."""
    groups = trial_form.build_form(trial_form.DEFAULT_TRIAL)
    inputs = _inputs(groups)
    assert inputs["inclusion.rise_mg_dl"].unit == "mg/dL" and inputs["inclusion.rise_mg_dl"].range == "> 0, ≤ 10"
    assert inputs["inclusion.baseline_egfr_min"].unit == "mL/min/1.73 m²"
    assert inputs["endpoints.horizon_days"].unit == "days"
    assert inputs["arms.1.n"].help == "patients per replicate trial in this arm" and inputs["arms.1.n"].required
    assert inputs["arms.1.treatment.dose"].unit == "in dose_unit (cells/kg)"
    assert "arms.1.treatment.time_h" not in inputs
    assert inputs["arms.1.treatment.product"].refresh and inputs["endpoints.primary"].kind == "select"
    # nested defaults are filled in: the population's log-normal bypass time
    assert inputs["population.bypass_min.median"].value == "100"
    assert {"add:arms", "remove:arms.1", "add:arms.0.treatment", "remove:arms.1.treatment", "add:interim",
            "add:endpoints.measurement"} <= _actions(groups)


def test_the_buttons_add_and_remove_what_they_say():
    draft = trial_form.apply_action(trial_form.DEFAULT_TRIAL, "add:arms")
    assert [a["name"] for a in draft["arms"]] == ["placebo", "msc", "arm_3"] and draft["arms"][2]["n"] == 67
    draft = trial_form.apply_action(draft, "add:arms.2.treatment")
    design = trial_from_dict(draft)
    assert design.arms[2].treatment.product == "msc" and design.arms[2].treatment.dose == 2.0e6
    draft = trial_form.apply_action(trial_form.apply_action(draft, "remove:arms.1"), "add:endpoints.measurement")
    design = trial_from_dict(draft)
    assert [a.name for a in design.arms] == ["placebo", "arm_3"] and design.endpoints.measurement is not None
    draft = trial_form.apply_action(draft, "add:interim")
    assert trial_from_dict(draft).interim.information == (0.5,)
    # the interim looks' own optional part: beta-spending futility boundaries, with gsDesign's defaults
    assert "add:interim.futility_beta" in _actions(trial_form.build_form(draft))
    spent = trial_from_dict(trial_form.apply_action(draft, "add:interim.futility_beta")).interim.futility_beta
    assert (spent.beta, spent.spending, spent.spending_gamma) == (0.1, "hwang_shih_decani", -2.0)
    draft = trial_form.apply_action(trial_form.apply_action(draft, "remove:interim"), "remove:arms.1.treatment")
    design = trial_from_dict(draft)
    assert design.interim is None and all(a.treatment is None for a in design.arms)
    assert trial_form.DEFAULT_TRIAL["arms"][1]["treatment"]["dose"] == 2.0e6  # the default is never edited
    assert trial_form.apply_action(draft, "remove:arms.9") == draft  # a stale button does nothing


def test_a_refused_value_is_named_beside_its_input_and_in_the_problems():
    groups = trial_form.build_form(trial_form.DEFAULT_TRIAL)
    pairs = [(k, "-3" if k == "arms.1.treatment.dose" else "1" if k == "arms.0.n" else v) for k, v in posted(groups)]
    design, problems, by_input = trial_form.validate_draft(trial_form.draft_from_form(pairs))
    assert design is None
    assert any(p.startswith("arms.1.treatment.msc.dose: '-3'") for p in problems)
    assert by_input["arms.1.treatment.dose"] == "Input should be greater than 0"
    assert by_input["arms.0.n"] == "Input should be greater than or equal to 2"
    assert "arms" not in by_input  # the arm list is not "too short": its items failed
    drawn = _inputs(trial_form.build_form(trial_form.draft_from_form(pairs), by_input))
    assert drawn["arms.1.treatment.dose"].error and drawn["arms.1.treatment.dose"].value == "-3"
    # a rule of the whole design (with three arms, interim looks drop arms and need futility_z) is a problem
    # of the design
    three = trial_form.apply_action(trial_form.apply_action(trial_form.DEFAULT_TRIAL, "add:arms"), "add:interim")
    _, problems, _ = trial_form.validate_draft(three)
    assert any("drops the treated arms whose signed z is below a futility" in p for p in problems), problems


def test_switching_the_product_redraws_the_treatment():
    """MSC → EV: the EV's own fields and units appear; nothing typed is silently changed."""
    draft = trial_form.draft_from_form(
        [(k, "ev" if k == "arms.1.treatment.product" else v) for k, v in posted(trial_form.build_form(
            trial_form.DEFAULT_TRIAL))])
    inputs = _inputs(trial_form.build_form(draft))
    assert inputs["arms.1.treatment.product"].value == "ev"
    units = dict(inputs["arms.1.treatment.dose_unit"].options)
    # EV units are offered; the cell unit typed for MSC stays visible, marked, and is refused by name
    assert "ug_protein" in units and units["cells/kg"] == "cells/kg (not allowed)"
    _, problems, by_input = trial_form.validate_draft(draft)
    assert "arms.1.treatment.dose_unit" in by_input and any("dose_unit" in p for p in problems)


def test_a_multi_arm_design_with_an_arm_dropping_look_survives_the_form():
    """The spending select always posts a value; a three-arm design refuses alpha spending, so the
    schema judges the setting by value: the default left there passes (the browser could not run such a
    design before), and so does a full dump of the design, while a spending the user chose is refused
    with its reason."""
    design = load_trial(EXAMPLES["act_aki_dose_ranging.yaml"])
    draft = design.model_dump(mode="json", exclude_unset=True)
    draft["interim"] = {"information": [0.5], "futility_z": 0.0}
    items = posted(trial_form.build_form(draft))
    assert ("interim.spending", "obrien_fleming") in items  # what the browser posts
    back, problems, _ = trial_form.validate_draft(trial_form.draft_from_form(items))
    assert problems == [] and back.interim.futility_z == 0.0 and back.interim.information == (0.5,)
    assert trial_from_dict(back.model_dump(mode="json")).model_dump() == back.model_dump()
    chosen = [(k, "pocock" if k == "interim.spending" else v) for k, v in items]
    back, problems, _ = trial_form.validate_draft(trial_form.draft_from_form(chosen))
    assert back is None and len(problems) == 1 and "interim.spending" in problems[0] and "spend no alpha" in problems[0]
    two_arm = load_trial(EXAMPLES["act_aki.yaml"]).model_dump(mode="json", exclude_unset=True)
    two_arm["interim"] = {"information": [0.5]}
    kept = trial_form.draft_from_form(posted(trial_form.build_form(two_arm)))
    assert kept["interim"]["spending"] == "obrien_fleming"  # two arms: the select's value is the design's
