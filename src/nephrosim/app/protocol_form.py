"""The protocol search's form (``nephrosim optimize-protocol``), generated from its schema as the trial form is.

A protocol search (:class:`~nephrosim.analysis.protocol_search.ProtocolSearchSpec`) looks for the
cultivation and administration protocols with the best robust efficacy against the product's risks
in one experiment. On the app's *Protocol search* page the experiment is the scenario in the builder
(its species, injury, body weight, sex, parameter overrides, parameter set and solver: what the spec's
``scenario`` may hold); this module draws the rest with :mod:`nephrosim.app.trial_form`'s schema
walk: the outcome and the efficacy's quantile and scale, the risks as boxes, the search space (lists
of choices as boxes or comma-separated numbers; the per-product dose ranges, priming combinations,
O2 choices and serum-free choices as JSON, their YAML written inline), the uncertainty and the
optimizer. The reference protocols of a spec (``compare``) name protocol files beside a spec file,
which a page does not have: the command line compares them.
"""

from __future__ import annotations

import copy

from pydantic import ValidationError

from nephrosim.analysis.attribution import OUTCOMES
from nephrosim.analysis.protocol_search import RISKS, ProtocolSearchSpec
from nephrosim.app.forms import Group, _keep_unknown_choice, nested_form
from nephrosim.app.trial_form import _attach, _clean_tree, _model_group
from nephrosim.inputs import InputFileError, format_validation_error

#: The scenario fields a protocol search keeps from the builder's scenario (its arms, readouts and
#: times are the search's own).
SCENARIO_FIELDS = ("name", "species", "sex", "body_weight_g", "injury", "parameters", "parameter_set", "solver")

#: Where the page starts: the search of ``examples/protocols/optimize.yaml`` (MSC and EV, three
#: tissue sources, hypoxia, priming, culture, dose, route, timing) at an app's scale: 24 trials in
#: generations of 8, 4 parameter sets per candidate (the example: 60, 12 and 8).
DEFAULT_PROTOCOL_SEARCH: dict = {
    "name": "my protocol search",
    "outcome": "scr_auc",
    "efficacy_quantile": 0.1,
    "efficacy_scale": "relative",
    "risks": ["thrombosis_index", "microembolism_peak", "tumorigenicity_exposure_cell_days"],
    "search": {
        "product": ["msc", "ev"],
        "tissue_source": ["bone_marrow", "adipose", "umbilical_cord"],
        "passage": [2, 8],
        "hypoxia_o2_percent": [None, 1],
        "priming": [[], ["ifn_gamma"]],
        "culture": ["2d", "spheroid"],
        "serum_free": [False],
        "dose": {"msc": {"low": 1.0e5, "high": 2.0e6, "unit": "cells"},
                 "ev": {"low": 1.0e5, "high": 5.0e6, "unit": "cell_equivalents"}},
        "route": ["iv", "renal_artery"],
        "time_h": [0, 24],
        "doses_given": [1],
    },
    "uncertainty": {"samples": 4, "prior": "lognormal", "cv": 0.3},
    "optimizer": {"trials": 24, "population": 8, "seed": 0},
}

_SKIP = ("scenario", "compare")


def build_form(draft: dict, errors: dict[str, str] | None = None) -> list[Group]:
    """The protocol search's groups for ``draft`` (its scenario is the builder's, not drawn)."""
    top = _model_group(ProtocolSearchSpec, draft, "", "Protocol search", skip=_SKIP)
    groups = [Group("Protocol search", top.inputs, help=top.help, name="search-top", actions=top.actions)]
    groups += top.children
    for g in groups:
        for i in g.inputs:
            if i.name == "outcome":  # validated against the attribution's outcomes: offer them
                i.kind, i.options = "select", [(k, f"{k}: {o.description}") for k, o in OUTCOMES.items()]
                _keep_unknown_choice(i)
            elif i.name == "risks":
                listed = draft.get("risks") if isinstance(draft.get("risks"), (list, tuple)) else ()
                i.kind, i.options, i.value = "checkboxes", [(r, r) for r in RISKS], [str(r) for r in listed]
            elif i.kind == "json":  # typed here as JSON (the builder only shows such fields)
                i.kind = "json_edit"
                i.help = i.help.replace("; edit it in the scenario YAML (load/save)", "") + \
                    " (JSON: the spec's YAML written inline, null for none)"
    if errors:
        _attach(groups, _to_inputs(groups, errors))
    return groups


def _to_inputs(groups: list[Group], errors: dict[str, str]) -> dict[str, str]:
    """Each error at the input it concerns: a value inside a JSON field (``search.dose.msc``) at that
    field (``search.dose``), the longest input name that begins its location."""
    names = set()

    def walk(gs):
        for g in gs:
            names.update(i.name for i in g.inputs)
            walk(g.children)

    walk(groups)
    out: dict[str, str] = {}
    for where, message in errors.items():
        parts = where.split(".")
        for k in range(len(parts), 0, -1):
            if ".".join(parts[:k]) in names:
                out.setdefault(".".join(parts[:k]), message)
                break
    return out


def draft_from_form(items) -> dict:
    """A draft search from the posted ``(name, value)`` pairs of its form."""
    return _clean_tree(ProtocolSearchSpec, nested_form(items))


def experiment(scenario) -> dict:
    """The spec's ``scenario`` from a validated builder scenario: the fields it may hold, as given."""
    data = scenario.model_dump(mode="json", exclude_unset=True)
    return {k: v for k, v in data.items() if k in SCENARIO_FIELDS}


def validate_draft(draft: dict, scenario) -> tuple[ProtocolSearchSpec | None, list[str], dict[str, str]]:
    """The search of ``draft`` in the builder's ``scenario`` (``None``: that scenario is not valid), or
    ``None`` with the problems (one line each) and, by input name, the message beside each input."""
    if scenario is None:
        return None, ["scenario: the scenario in the builder is not valid; fix it in the scenario builder"], {}
    data = {k: v for k, v in copy.deepcopy(draft).items() if k not in _SKIP}
    try:
        return ProtocolSearchSpec.model_validate({**data, "scenario": experiment(scenario)}), [], {}
    except ValidationError as exc:
        problems = format_validation_error(exc, "", InputFileError).problems
        by_input = {}
        for err in exc.errors():
            by_input.setdefault(".".join(str(x) for x in err["loc"]), err["msg"].removeprefix("Value error, "))
        return None, problems, by_input
