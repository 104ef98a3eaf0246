"""The virtual trial's form, generated from the pydantic trial schema (:mod:`nephrosim.trials.design`).

The scenario builder's form (:mod:`nephrosim.app.forms`) draws a scenario; this module draws a
:class:`~nephrosim.trials.design.TrialDesign` the same way, walking the schema instead of naming
its fields: every plain field becomes an input (its YAML name, unit, range and help read from the
schema by :func:`nephrosim.app.forms.model_inputs`), every nested object a group (population,
inclusion, endpoints, each arm and its timing), an optional object (an arm's treatment, the
endpoints' measurement, the interim looks) a group with *add* / *remove* buttons, and the
treatment's product a selector that redraws the treatment's fields. A field added to the trial
schema appears in the form without a change here.

Inputs are named by their path in the design (``arms.1.treatment.dose``); a posted form becomes a
draft (plain nested data) with :func:`draft_from_form`, and the design's own validation
(:func:`validate_draft`) gives the messages, each naming the field and the fix.
"""

from __future__ import annotations

import copy
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from nephrosim.app.forms import (Group, Input, _clean, _dose_unit_help, _first_line, _keep_unknown_choice,
                                 _without_none, model_inputs, nested_form)
from nephrosim.inputs import format_validation_error
from nephrosim.trials.design import TrialArm, TrialDesign, TrialError

#: Fields a treatment of a trial arm does not show: the dose time is the arm's ``timing``.
_SKIP_IN_TREATMENT = ("time_h",)

#: A design to start from when the app has no example designs (an installed wheel): ACT-AKI's
#: arms and entry rule (Swaminathan 2018; docs/trials.md §3) at a size that runs in about a minute.
DEFAULT_TRIAL: dict = {
    "name": "my_trial",
    "virtual_patients": 1000,
    "inclusion": {"kind": "scr_rise", "rise_mg_dl": 0.5, "within_h": 48},
    "arms": [
        {"name": "placebo", "n": 68},
        {"name": "msc", "n": 67,
         "treatment": {"product": "msc", "dose": 2.0e6, "dose_unit": "cells/kg", "route": "intra_arterial_aorta"},
         "timing": {"relative_to": "diagnosis", "delay_h": 6}},
    ],
}


# --- what kind of field: plain, a nested object, a list of objects, or a tagged union ---------
def _tagged_union(annotation) -> tuple[str, dict[str, type[BaseModel]]] | None:
    """``(tag field, {tag: class})`` of ``Annotated[A | B, Field(discriminator=tag)]``, else ``None``."""
    if typing.get_origin(annotation) is not typing.Annotated:
        return None
    inner, *meta = typing.get_args(annotation)
    tag = next((m.discriminator for m in meta if getattr(m, "discriminator", None)), None)
    members = typing.get_args(inner)
    if tag and members and all(isinstance(m, type) and issubclass(m, BaseModel) for m in members):
        return tag, {m.model_fields[tag].default: m for m in members}
    return None


def _nested(info) -> tuple[str, Any, bool] | None:
    """``(kind, target, optional)`` of a field that is not a plain input, else ``None``.

    kind ``model``: one nested object (target: its class); ``models``: a list of them;
    ``union``: one of several objects told apart by a tag field (target: ``(tag field, {tag: class})``);
    ``unions``: a list of those, each item maybe ``null`` (target: ``((tag field, {tag: class}), nullable)``).
    """
    annotation, optional = _without_none(info.annotation)
    union = _tagged_union(annotation)
    if union is not None:
        return "union", union, optional
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "model", annotation, optional
    if typing.get_origin(annotation) is tuple:
        args = typing.get_args(annotation)
        if args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
            return "models", args[0], optional
        if args:
            item, nullable = _without_none(args[0])
            union = _tagged_union(item)
            if union is not None:
                return "unions", (union, nullable), optional
    return None


#: The choice of a list item that may be ``null`` (a design search's placebo treatment).
NONE_CHOICE = "none"


def _singular(name: str) -> str:
    return name[:-1] if name.endswith("s") else name


# --- drawing ----------------------------------------------------------------------------------
def _model_group(cls: type[BaseModel], data, path: str, title: str, help_: str = "",
                 skip: tuple[str, ...] = ()) -> Group:
    """The group of ``cls``'s fields filled from ``data``: inputs for plain fields, child groups for
    nested objects, and the add/remove buttons of optional objects and of lists."""
    data = data if isinstance(data, dict) else {}
    prefix = f"{path}." if path else ""
    nested = {n: kind for n, info in cls.model_fields.items() if n not in skip and (kind := _nested(info))}
    group = Group(title, model_inputs(cls, data, prefix, skip=(*skip, *nested)),
                  help=help_ or _first_line(cls.__doc__), name=path or "trial")
    for name, (kind, target, optional) in nested.items():
        where, value = f"{prefix}{name}", data.get(name)
        if value is None and not optional:  # an object left out of the design: its defaults
            value = cls.model_fields[name].get_default(call_default_factory=True)
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        description = cls.model_fields[name].description or ""
        if kind == "models":
            items = value if isinstance(value, list) else []
            holder = Group(name, help=description, name=where,
                           actions=[(f"add:{where}", f"add {_singular(name)}")])
            for k, item in enumerate(items):
                label = item.get("name") if isinstance(item, dict) and item.get("name") else k + 1
                child = _model_group(target, item, f"{where}.{k}", f"{_singular(name)} {k + 1}"
                                     + (f": {label}" if label != k + 1 else ""))
                child.actions.append((f"remove:{where}.{k}", f"remove this {_singular(name)}"))
                holder.children.append(child)
            group.children.append(holder)
        elif value is None and optional:
            group.actions.append((f"add:{where}", f"add {name.replace('_', ' ')}"))
        elif kind == "model":
            child = _model_group(target, value, where, name, help_=description)
            if optional:
                child.actions.append((f"remove:{where}", f"remove {name.replace('_', ' ')}"))
            group.children.append(child)
        elif kind == "unions":
            (tag, members), nullable = target
            items = value if isinstance(value, list) else []
            holder = Group(name, help=description, name=where, actions=[(f"add:{where}", f"add {_singular(name)}")])
            for k, item in enumerate(items):
                child = _union_group(f"{_singular(name)} {k + 1}", f"{where}.{k}", item, tag, members,
                                     description, nullable)
                child.actions.append((f"remove:{where}.{k}", f"remove this {_singular(name)}"))
                holder.children.append(child)
            group.children.append(holder)
        else:  # a tagged union: the tag's selector redraws the member's fields
            tag, members = target
            group.children.append(_union_group(name, where, value, tag, members, description, False,
                                               [(f"remove:{where}", f"remove {name}")] if optional else []))
    return group


def _union_group(title: str, where: str, value, tag: str, members: dict, description: str, nullable: bool,
                 actions=None) -> Group:
    """One object of a tagged union: the tag's selector (which redraws the member's fields; with
    ``nullable``, a :data:`NONE_CHOICE` for ``null``) and the chosen member's fields."""
    chosen = NONE_CHOICE if nullable and value is None else str((value or {}).get(tag, next(iter(members))))
    options = [(t, t) for t in members] + ([(NONE_CHOICE, f"{NONE_CHOICE} (null)")] if nullable else [])
    selector = Input(f"{where}.{tag}", tag, "select", chosen, options, refresh=True, required=True,
                     help=f"changing it redraws the {title}'s fields" + (f"; {NONE_CHOICE}: null" if nullable else ""))
    _keep_unknown_choice(selector)
    member = members.get(chosen)
    inputs = [selector] + (model_inputs(member, value, f"{where}.", skip=(tag, *_SKIP_IN_TREATMENT))
                           if member else [])
    _dose_unit_help(inputs)
    return Group(title, inputs, help=_first_line(member.__doc__) if member else description, name=where,
                 actions=list(actions or []))


def build_form(draft: dict, errors: dict[str, str] | None = None) -> list[Group]:
    """The trial form's groups for ``draft``: the design's own fields first, then one group per
    nested part (population, inclusion, arms, endpoints, interim looks, solver)."""
    top = _model_group(TrialDesign, draft, "", "Trial")
    groups = [Group("Trial", top.inputs, help=top.help, name="trial", actions=top.actions)] + top.children
    for g in groups:
        if g.name == "solver":
            g.title, g.help = "Solver (advanced)", g.help or "CVODE settings; the defaults suit every shipped design"
    if errors:
        _attach(groups, errors)
    return groups


def _attach(groups: list[Group], errors: dict[str, str]) -> None:
    for g in groups:
        for i in g.inputs:
            if i.name in errors:
                i.error = errors[i.name]
        _attach(g.children, errors)


# --- reading a posted form --------------------------------------------------------------------
def _clean_tree(cls: type[BaseModel], data):
    """Typed-in text → draft values, down the schema (nested objects, lists, tagged unions)."""
    if not isinstance(data, dict):
        return data
    out = {}
    for key, value in data.items():
        info = cls.model_fields.get(key)
        kind = _nested(info) if info is not None else None
        if kind is None:
            out[key] = value
            continue
        what, target, _ = kind
        if what == "model":
            out[key] = _clean_tree(target, value)
        elif what == "models":
            out[key] = [_clean_tree(target, v) for v in value] if isinstance(value, list) else value
        elif what == "unions":
            (tag, members), nullable = target
            out[key] = [_clean_member(v, tag, members, nullable) for v in value] if isinstance(value, list) else value
        else:
            tag, members = target
            out[key] = _clean_member(value, tag, members, False)
    return _clean(cls, out)


def _clean_member(value, tag: str, members: dict, nullable: bool):
    if nullable and isinstance(value, dict) and value.get(tag) == NONE_CHOICE:
        return None
    member = members.get(value.get(tag)) if isinstance(value, dict) else None
    return _clean_tree(member, value) if member is not None else value


def draft_from_form(items) -> dict:
    """A draft design from the posted ``(name, value)`` pairs of the trial form
    (:func:`nephrosim.app.forms.nested_form`, then each field's text read by its schema type)."""
    return _clean_tree(TrialDesign, nested_form(items))


def action_target(draft: dict, action: str) -> tuple[str, Any, Any]:
    """``(kind, parent, last)`` of a form button's ``add:<path>`` / ``remove:<path>`` in ``draft``: the
    object or list that holds the path's last part (objects left at their defaults are created on the
    way for an add), or ``parent`` ``None`` when the path does not lead anywhere."""
    kind, _, path = action.partition(":")
    parts = [int(p) if p.isdigit() else p for p in path.split(".") if p]
    if not parts or kind not in ("add", "remove"):
        return kind, None, None
    parent: Any = draft
    for p in parts[:-1]:
        if isinstance(parent, list) and isinstance(p, int) and p < len(parent):
            parent = parent[p]
        elif isinstance(parent, dict) and isinstance(p, str):
            # an object the draft leaves at its defaults (endpoints) gets one to add into
            parent = parent.setdefault(p, {}) if kind == "add" else parent.get(p)
        else:
            return kind, None, None
        if parent is None:
            return kind, None, None
    return kind, parent, parts[-1]


def remove(parent, last) -> None:
    """Remove item ``last`` of a list, or key ``last`` of an object (a form's *remove* button)."""
    if isinstance(parent, list) and isinstance(last, int) and last < len(parent):
        del parent[last]
    elif isinstance(parent, dict):
        parent.pop(last, None)


def applied(draft: dict, action: str, add) -> dict:
    """A copy of ``draft`` with a form button's ``add:<path>`` / ``remove:<path>`` applied: *remove*
    deletes the item or key, *add* is ``add(parent, last)`` (each form knows what a new item is)."""
    draft = copy.deepcopy(draft)
    kind, parent, last = action_target(draft, action)
    if parent is None:
        return draft
    if kind == "remove":
        remove(parent, last)
    else:
        add(parent, last)
    return draft


def _add(parent, last) -> None:
    if last == "arms" and isinstance(parent, dict):
        arms = parent.setdefault("arms", [])
        size = arms[-1].get("n", 50) if arms and isinstance(arms[-1], dict) else 50
        arms.append({"name": f"arm_{len(arms) + 1}", "n": size})
    elif isinstance(parent, dict):
        parent[last] = {"product": "msc", "dose": 2.0e6, "dose_unit": "cells/kg", "route": "iv"} \
            if last == "treatment" else {"information": [0.5]} if last == "interim" \
            else {"beta": 0.1} if last == "futility_beta" else {}


def apply_action(draft: dict, action: str) -> dict:
    """``add:<path>`` / ``remove:<path>``: add an arm, a treatment, a measurement, interim looks or their
    beta-spending futility rule (with their defaults), or remove one, as the form's buttons ask."""
    return applied(draft, action, _add)


# --- validation -------------------------------------------------------------------------------
def _input_name(loc: tuple) -> str:
    """The form input a pydantic error location points at (a treatment's product tag dropped)."""
    parts, prev = [], None
    for item in loc:
        if not (prev == "treatment" and isinstance(item, str) and item in _PRODUCT_TAGS):
            parts.append(str(item))
        prev = item
    return ".".join(parts)


_PRODUCT_TAGS = set(_nested(TrialArm.model_fields["treatment"])[1][1])


def validate_draft(draft: dict) -> tuple[TrialDesign | None, list[str], dict[str, str]]:
    """The design of ``draft``, or ``None`` with the problems (one line each) and, by input name,
    the message to show beside each input."""
    try:
        return TrialDesign.model_validate(draft), [], {}
    except ValidationError as exc:
        problems = format_validation_error(exc, "", TrialError).problems
        by_input: dict[str, str] = {}
        errors = exc.errors()
        for err in errors:
            loc = tuple(err["loc"])
            if err["type"] == "too_short" and any(len(e["loc"]) > len(loc) and tuple(e["loc"][:len(loc)]) == loc
                                                  for e in errors):
                continue  # a list too short only because one of its items failed (reported there)
            by_input.setdefault(_input_name(tuple(err["loc"])), err["msg"].removeprefix("Value error, "))
        return None, problems, by_input
