"""The design search's form (``nephrosim trial-design``), generated from its schema as the trial form is.

A design search (:class:`~nephrosim.trials.search.DesignSearch`) varies the treated arm of a two-arm
base trial: every combination of its candidate entry rules, timings, treatments (or multi-arm sets of
them, ``candidates.multi_arm``, a JSON list of position lists), arm sizes and endpoints is one design, and each design's power is computed over replicate trials (and over draws of
uncertain therapy parameters). On the app's *Design search* page the base trial is the one in the
trial form (the session's trial draft), so a design is built once and searched around; this module
draws the rest of the spec with :mod:`nephrosim.app.trial_form`'s schema walk — lists of entry rules
and timings with *add* / *remove*, a list of treatments each with a product selector (``none``: a
placebo arm, the zero-effect control), arm sizes as a list, endpoints as boxes, the optional
uncertainty block — so a field added to the search schema appears here without a change.
"""

from __future__ import annotations

import copy
from pydantic import ValidationError

from nephrosim.app.forms import Group, nested_form
from nephrosim.app.trial_form import _PRODUCT_TAGS, _attach, _clean_tree, _model_group, applied
from nephrosim.inputs import format_validation_error
from nephrosim.trials.design import TrialDesign
from nephrosim.trials.search import DesignSearch, SearchError, _not_two_arms

#: Where the page starts: the trial form's design as run, against a 48-h dose and a placebo control,
#: at two arm sizes, on the recovery endpoint (a search of 2 timings × 2 treatments × 2 sizes).
DEFAULT_SEARCH: dict = {
    "name": "my design search",
    "candidates": {
        "timing": [{"relative_to": "diagnosis", "delay_h": 6}, {"relative_to": "diagnosis", "delay_h": 48}],
        "treatment": [{"product": "msc", "dose": 2.0e6, "dose_unit": "cells/kg", "route": "intra_arterial_aorta"},
                      None],
        "n_per_arm": [34, 68],
        "endpoint": ["recovery"],
    },
    "replicates": 200,
    "pool_limit": 400,
}

#: What *add* puts into each list or optional block.
_NEW = {"inclusion": {"kind": "scr_rise"}, "timing": {"relative_to": "diagnosis", "delay_h": 0},
        "treatment": {"product": "msc", "dose": 2.0e6, "dose_unit": "cells/kg", "route": "iv"},
        "uncertainty": {"parameters": ["paracrine_ec50_cell_h_per_kg"], "draws": 2}}


def build_form(draft: dict, errors: dict[str, str] | None = None) -> list[Group]:
    """The design search's groups for ``draft`` (its ``base`` is the trial form's design, not drawn)."""
    top = _model_group(DesignSearch, draft, "", "Design search", skip=("base",))
    groups = [Group("Design search", top.inputs, name="search", actions=top.actions,
                    help="the search's name, its replicate trials per design and draw, and the eligible patients "
                         "simulated per condition; add uncertainty to draw therapy parameters")] + top.children
    if errors:
        _attach(groups, errors)
    return groups


def draft_from_form(items) -> dict:
    """A draft search from the posted ``(name, value)`` pairs of its form. A list of boxes left
    empty (no endpoint ticked) is left out: the base trial's own is used, as the schema says."""
    draft = _clean_tree(DesignSearch, nested_form(items))
    candidates = draft.get("candidates")
    if isinstance(candidates, dict) and candidates.get("endpoint") == []:
        candidates.pop("endpoint")
    return draft


def _add(parent, last) -> None:
    if isinstance(parent, dict) and last in _NEW:
        if last == "uncertainty":
            parent[last] = copy.deepcopy(_NEW[last])
        else:
            items = parent.get(last)
            parent[last] = (items if isinstance(items, list) else []) + [copy.deepcopy(_NEW[last])]


def apply_action(draft: dict, action: str) -> dict:
    """``add:<path>`` / ``remove:<path>``: add an entry rule, a timing, a treatment (each with
    defaults) or the uncertainty block, or remove one, as the form's buttons ask."""
    return applied(draft, action, _add)


def _input_name(loc: tuple) -> str:
    """The form input a pydantic error location points at (a treatment's product tag dropped)."""
    return ".".join(str(item) for item in loc if not (isinstance(item, str) and item in _PRODUCT_TAGS
                                                      and "treatment" in loc))


def validate_draft(draft: dict, base: TrialDesign | None) -> tuple[DesignSearch | None, list[str], dict[str, str]]:
    """The search of ``draft`` around the trial form's design ``base`` (``None``: that design is not
    valid), or ``None`` with the problems (one line each) and, by input name, the message beside each input."""
    problems, by_input = [], {}
    if base is None:
        problems.append("base: the design in the trial form is not valid; fix it on the Virtual trial page")
    elif len(base.arms) != 2:
        problems.append(f"base: {_not_two_arms(base)}")
    try:
        spec = DesignSearch.model_validate({**draft, "base": base.model_dump(mode="json", exclude_unset=True)
                                            if base is not None else {}})
    except ValidationError as exc:
        errors = [e for e in exc.errors() if e["loc"][:1] != ("base",)]
        if errors:
            problems += [p for p in format_validation_error(exc, "", SearchError).problems
                         if not p.startswith("base")]
            for err in errors:
                by_input.setdefault(_input_name(tuple(err["loc"])), err["msg"].removeprefix("Value error, "))
        spec = None
    return (spec, [], {}) if spec is not None and not problems else (None, problems, by_input)
