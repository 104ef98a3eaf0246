"""The scenario builder's form, generated from the pydantic scenario schema.

Every input of the form is a field of :class:`nephrosim.scenarios.schema.Scenario` (or of an
injury model, an arm, a treatment or the solver settings) with the field's YAML name, its unit,
its allowed range and its help text read from the schema; nothing about a field is written
twice. A new injury model or a new treatment field appears in the form without a change here.

The form's inputs are named by their path in the scenario (``arms.0.treatments.1.dose``); a
posted form becomes a *draft* (plain nested data, numbers still as typed) with
:func:`draft_from_form`. Validation is the scenario's own (:func:`validate_draft`): its
messages, naming the field and the fix, are shown beside the inputs they concern.
"""

from __future__ import annotations

import json
import math
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from nephrosim.biology.parameters import ParameterTable
from nephrosim.biology.readouts import available_readouts
from nephrosim.inputs import format_validation_error
from nephrosim.scenarios.errors import ScenarioError
from nephrosim.scenarios.injuries import INJURY_MODELS
from nephrosim.scenarios.products import EV, MSC, ConditionedMedium
from nephrosim.scenarios.schema import Arm, Scenario

PRODUCTS = {cls.model_fields["product"].default: cls for cls in (MSC, ConditionedMedium, EV)}

#: The unit of a field, read off the ending of its name (the schema names fields by unit).
UNIT_SUFFIXES = (
    ("_mg_per_kg", "mg/kg"), ("_ml_per_kg", "mL/kg"), ("_per_ug", "per µg protein"), ("_per_ml", "per mL"),
    ("_mg_dl", "mg/dL"), ("_days", "days"), ("_years", "years"), ("_kg", "kg"),
    ("_min", "min"), ("_h", "h"), ("_g", "g"), ("_c", "°C"), ("_percent", "%"),
)
#: Units of fields whose name does not end in one; each is stated in the field's description too.
UNIT_OF_FIELD = {
    "fraction": "fraction, 0–1",
    "baseline_egfr": "mL/min/1.73 m²",
    "baseline_egfr_min": "mL/min/1.73 m²",
    "baseline_egfr_max": "mL/min/1.73 m²",
    "virtual_patients": "patients",
    "donor_potency": "× the median donor",
    "concentration_factor": "× (fold concentration)",
    "severity": "× a standard mid-grade CLP",
    "repeat_count": "doses",
}

#: Help for the fields the schema gives no description (the schema's own text wins).
HELP_OF_FIELD = {
    "Scenario.name": "a label; downloaded files are named after it",
    "Arm.name": "the group's name, unique in the scenario (e.g. vehicle, msc_iv)",
    "body_weight_g": "leave empty for the species' default body weight (parameter table)",
    "source": "tissue the cells (or their secretome) came from",
    "donor": "donor relative to the recipient (drives immune clearance and donor-specific antibodies)",
    "route": "route of administration",
    "repeat_every_h": "hours between doses, when repeat_count > 1",
}

#: A default draft: the headline design of the README (25-min bilateral IRI in a mouse,
#: untreated or given 5×10⁵ bone-marrow MSC IV at reperfusion).
DEFAULT_DRAFT: dict = {
    "name": "my_experiment",
    "species": "mouse",
    "injury": {"model": "ischemia_reperfusion", "clamp_min": 25, "bilateral": True},
    "arms": [
        {"name": "vehicle"},
        {"name": "msc_iv", "treatments": [
            {"product": "msc", "source": "bone_marrow", "donor": "allogeneic", "dose": 5.0e5, "dose_unit": "cells",
             "route": "iv", "time_h": 0}]},
    ],
    "readouts": ["serum_creatinine", "bun", "gfr", "tubular_injury_score"],
    "units": {"serum_creatinine": "mg/dL"},
    "times_h": [0, 6, 24, 48, 72, 168, 336],
}


@dataclass
class Input:
    """One input of the form: its path name, how to draw it, and what the schema says of it."""

    name: str
    label: str
    kind: str  # text | number | select | bool | checkboxes | list | json (shown) | json_edit (typed as JSON)
    value: Any = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    unit: str = ""
    range: str = ""
    help: str = ""
    required: bool = False
    error: str = ""
    refresh: bool = False  # changing it redraws the form (a discriminator: injury model, product)
    low: float | None = None
    high: float | None = None


@dataclass
class Group:
    """A titled set of inputs with nested groups (the injury, an arm, a treatment)."""

    title: str
    inputs: list[Input] = field(default_factory=list)
    children: list["Group"] = field(default_factory=list)
    help: str = ""
    actions: list[tuple[str, str]] = field(default_factory=list)  # (action value, button text)
    name: str = ""


# --- reading the schema --------------------------------------------------------------------
def _without_none(annotation):
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]), True
    return annotation, False


def _plain(annotation):
    """``Annotated[int, Field(...)]`` → ``int``; anything else unchanged."""
    return typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation


def _literals(annotation) -> list[str] | None:
    """The allowed values of a Literal (or a union of Literals); ``None`` for anything else."""
    if typing.get_origin(annotation) is typing.Literal:
        return [str(a) for a in typing.get_args(annotation)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        parts = [_literals(a) for a in typing.get_args(annotation)]
        if all(p is not None for p in parts):
            return [v for p in parts for v in p]
    return None


def _bounds(info) -> tuple[str, float | None, float | None]:
    """The allowed range of a numeric field, in words (``> 0, ≤ 240``), and its ends."""
    words, low, high = [], None, None
    for m in info.metadata:
        for attr, sign in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            v = getattr(m, attr, None)
            if v is not None:
                words.append(f"{sign} {v:g}")
                if attr in ("gt", "ge"):
                    low = v
                else:
                    high = v
    return ", ".join(words), low, high


def unit_of(name: str) -> str:
    if name in UNIT_OF_FIELD:
        return UNIT_OF_FIELD[name]
    for suffix, unit in UNIT_SUFFIXES:
        if name.endswith(suffix):
            return unit
    return ""


def shown(value) -> str:
    """A value as text in an input: numbers without spurious digits (5e+05 stays 500000)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if value is None:
        return ""
    return str(value)


def model_inputs(model_cls: type[BaseModel], data: dict, prefix: str, skip=(), refresh=()) -> list[Input]:
    """An :class:`Input` per field of ``model_cls`` (but ``skip``), filled from ``data``."""
    out = []
    data = data if isinstance(data, dict) else {}
    for name, info in model_cls.model_fields.items():
        if name in skip:
            continue
        annotation, optional = _without_none(info.annotation)
        required = info.is_required()
        value = data.get(name, None if required else info.default)
        rng, low, high = _bounds(info)
        help_ = info.description or HELP_OF_FIELD.get(f"{model_cls.__name__}.{name}", HELP_OF_FIELD.get(name, ""))
        item = Input(name=f"{prefix}{name}", label=name, kind="text", value=shown(value), unit=unit_of(name),
                     range=rng, help=help_, required=required, refresh=name in refresh,
                     low=low, high=high)
        choices = _literals(annotation)
        origin = typing.get_origin(annotation)
        if choices is not None:
            item.kind = "select"
            item.options = ([("", "(none)")] if optional else []) + [(c, c) for c in choices]
        elif annotation is bool:
            item.kind = "bool"
            item.options = ([("", "automatic")] if optional else []) + [("true", "yes"), ("false", "no")]
        elif annotation in (int, float):
            item.kind = "number"
        elif origin is tuple and (inner := _literals(typing.get_args(annotation)[0])) is not None:
            item.kind = "checkboxes"
            item.options = [(c, c) for c in inner]
            item.value = [str(v) for v in (value or ())]
        elif origin is tuple and _plain(typing.get_args(annotation)[0]) in (int, float, str):
            item.kind = "list"
            listed = isinstance(value, (list, tuple))
            item.value = ", ".join(shown(v) for v in value) if listed else shown(value)
        elif annotation is str:
            item.kind = "text"
        else:  # a nested object the form does not draw (a cultivation protocol): kept as JSON
            item.kind = "json"
            item.value = "" if value is None else json.dumps(value, default=str)
            item.help = (item.help + "; " if item.help else "") + "edit it in the scenario YAML (load/save)"
        _keep_unknown_choice(item)
        out.append(item)
    return out


def _keep_unknown_choice(item: Input) -> None:
    """A value that is not among a select's options (from a loaded file) stays visible, marked,
    instead of the browser silently showing the first option."""
    if item.kind in ("select", "bool") and item.value not in {v for v, _ in item.options}:
        item.options.insert(0, (item.value, f"{item.value} (not allowed)"))


def _first_line(doc: str | None) -> str:
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def _dose_unit_help(inputs: list[Input]) -> None:
    """The dose is in the treatment's ``dose_unit``: say so beside the dose."""
    unit = next((i for i in inputs if i.name.endswith(".dose_unit")), None)
    for i in inputs:
        if i.name.endswith(".dose") and unit is not None:
            i.unit = f"in dose_unit ({unit.value})"


#: The scenario's observation block (a nested object: drawn as its own group, like the solver's).
_OBSERVATION = type(Scenario.model_fields["observation"].default_factory())


def build_form(draft: dict, errors: dict[str, str] | None = None) -> list[Group]:
    """The builder's groups of inputs for ``draft``, with ``errors`` (by input name) attached."""
    draft = draft if isinstance(draft, dict) else {}
    groups = []
    basics = model_inputs(Scenario, draft, "", skip=("injury", "arms", "readouts", "units", "times_h",
                                                       "parameters", "solver", "observation"))
    groups.append(Group("Subject and parameter set", basics, name="basics"))

    injury = draft.get("injury") if isinstance(draft.get("injury"), dict) else {}
    model = str(injury.get("model", "sham"))
    cls = INJURY_MODELS.get(model)
    selector = Input("injury.model", "model", "select", model, [(m, m) for m in INJURY_MODELS], refresh=True,
                     help="the insult; changing it redraws its fields", required=True)
    _keep_unknown_choice(selector)
    inputs = [selector] + (model_inputs(cls, injury, "injury.", skip=("model",)) if cls else [])
    groups.append(Group("Injury", inputs, help=_first_line(cls.__doc__) if cls else "", name="injury"))

    arms = draft.get("arms") if isinstance(draft.get("arms"), list) else []
    arm_groups = []
    for a, arm in enumerate(arms):
        arm = arm if isinstance(arm, dict) else {}
        g = Group(f"Arm {a + 1}", model_inputs(Arm, arm, f"arms.{a}.", skip=("treatments",)),
                  actions=[(f"remove_arm:{a}", "remove this arm"), (f"add_treatment:{a}", "add a treatment")],
                  name=f"arms.{a}", help="an arm without treatments is an untreated (vehicle) control")
        treatments = arm.get("treatments") if isinstance(arm.get("treatments"), list) else []
        for k, t in enumerate(treatments):
            t = t if isinstance(t, dict) else {}
            product = str(t.get("product", "msc"))
            pcls = PRODUCTS.get(product)
            prefix = f"arms.{a}.treatments.{k}."
            selector = Input(f"{prefix}product", "product", "select", product, [(p, p) for p in PRODUCTS],
                             refresh=True, required=True, help="changing it redraws the treatment's fields")
            _keep_unknown_choice(selector)
            items = [selector] + (model_inputs(pcls, t, prefix, skip=("product",)) if pcls else [])
            _dose_unit_help(items)
            g.children.append(Group(f"Treatment {k + 1}", items, help=_first_line(pcls.__doc__) if pcls else "",
                                    actions=[(f"remove_treatment:{a}:{k}", "remove this treatment")],
                                    name=f"arms.{a}.treatments.{k}"))
        arm_groups.append(g)
    groups.append(Group("Arms", children=arm_groups, actions=[("add_arm", "add an arm")], name="arms"))

    groups.append(_readout_group(draft))
    times = Scenario.model_fields["times_h"]
    value = draft.get("times_h", times.default)
    groups.append(Group("Output times", [Input(
        "times_h", "times_h", "list", ", ".join(shown(v) for v in value) if isinstance(value, (list, tuple))
        else shown(value), unit="h after the insult", range="≥ 0, increasing",
        help="hours after the insult (reperfusion, toxin dose), separated by commas")], name="times"))
    groups.append(_parameter_group(draft))
    observation = draft.get("observation") if isinstance(draft.get("observation"), dict) else {}
    groups.append(Group("Observation (how readouts are measured)",
                        model_inputs(_OBSERVATION, observation, "observation."), name="observation",
                        help="the serum-creatinine assay: jaffe adds the species' non-creatinine chromogen offset"))
    solver = draft.get("solver") if isinstance(draft.get("solver"), dict) else {}
    groups.append(Group("Solver (advanced)", model_inputs(type(Scenario.model_fields["solver"].default_factory()),
                                                         solver, "solver."), name="solver",
                        help="CVODE settings; the defaults suit every shipped example"))
    if errors:
        _attach(groups, errors)
    return groups


def _readout_group(draft: dict) -> Group:
    catalogue = available_readouts()
    chosen = draft.get("readouts", list(Scenario.model_fields["readouts"].default))
    chosen = [str(c) for c in chosen] if isinstance(chosen, (list, tuple)) else []
    units = draft.get("units") if isinstance(draft.get("units"), dict) else {}
    order = [n for n in chosen if n in catalogue] + sorted(n for n in catalogue if n not in chosen)
    pick = Input("readouts", "readouts", "checkboxes", chosen,
                 [(n, f"{n} [{catalogue[n].unit}] — {catalogue[n].description}") for n in order],
                 help="what to measure (ticked ones first, in the order the results show them); each in its "
                      "model unit unless another unit is chosen below")
    unit_inputs = [Input(f"units.{n}", f"unit of {n}", "select", str(units.get(n, "")),
                         [("", f"default ({catalogue[n].unit})")] + [(u, u) for u in (catalogue[n].unit,
                                                                                      *catalogue[n].units)])
                   for n in order if n in chosen and catalogue[n].units]
    for item in unit_inputs:
        _keep_unknown_choice(item)
    return Group("Readouts", [pick] + unit_inputs, name="readouts")


def _parameter_group(draft: dict) -> Group:
    """Overrides of the parameter table, each with the table's unit, range and provenance."""
    table = ParameterTable.default()
    species = str(draft.get("species", "mouse"))
    params = draft.get("parameters") if isinstance(draft.get("parameters"), dict) else {}
    rows = list(params.items()) + [("", "")]
    inputs = []
    for k, (name, value) in enumerate(rows):
        help_, unit, rng = "", "", ""
        if name in table.names():
            try:
                r = table.record(name, species)
            except KeyError:  # UnknownNameError: no row of this species; validation says so
                r = None
            if r is not None:
                unit = r.unit
                rng = "" if r.lower is None else f"{r.lower:g}–{r.upper:g} (table range)"
                why = f"{r.citation} {r.pmid_or_doi}" if r.provenance == "source" else r.reason
                help_ = f"table value {r.value:g} ({r.provenance}: {why}) — {r.description}"
        inputs.append(Input(f"parameters.{k}.name", "name", "text", str(name), help="a parameter-table name "
                            "(the Parameters page lists them)" if not name else ""))
        inputs.append(Input(f"parameters.{k}.value", "value", "number", shown(value), unit=unit, range=rng,
                            help=help_))
    return Group("Parameter overrides", inputs, name="parameters",
                 help="replace a value of the parameter table for this scenario; leave empty for none")


def _attach(groups: list[Group], errors: dict[str, str]) -> None:
    for g in groups:
        for i in g.inputs:
            hit = errors.get(i.name)
            if i.name.startswith("parameters.") and i.name.endswith(".name"):
                hit = errors.get("parameters")
            if hit:
                i.error = hit
        _attach(g.children, errors)


# --- reading a posted form ------------------------------------------------------------------
def _listify(node):
    """Mappings whose keys are all 0, 1, 2… become lists in that order (arms, treatments, rows)."""
    if isinstance(node, dict):
        node = {k: _listify(v) for k, v in node.items()}
        if node and all(re.fullmatch(r"\d+", k) for k in node):
            return [node[k] for k in sorted(node, key=int)]
    return node


def _clean(model_cls: type[BaseModel], data: dict) -> dict:
    """Typed-in text → draft values: empty optional fields dropped, lists split, yes/no read."""
    out = {}
    for key, value in data.items():
        info = model_cls.model_fields.get(key)
        if info is None:
            out[key] = value
            continue
        annotation, _ = _without_none(info.annotation)
        if value == "" and not info.is_required():
            continue
        if annotation is bool and value in ("true", "false"):
            value = value == "true"
        elif typing.get_origin(annotation) is tuple and isinstance(value, str) and value.lstrip().startswith("["):
            try:  # a list typed as JSON (a list of lists, or with nulls)
                value = json.loads(value)
            except json.JSONDecodeError:
                pass  # validation reports the field
        elif typing.get_origin(annotation) is tuple and isinstance(value, str):
            value = [v for v in re.split(r"[,;\s]+", value.strip()) if v]
        elif isinstance(value, str) and _literals(annotation) is None and annotation not in (str, int, float, bool) \
                and typing.get_origin(annotation) is not tuple:
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass  # validation reports the field
        out[key] = value
    return out


def nested_form(items) -> dict:
    """Posted ``(name, value)`` pairs as nested data: ``arms.1.dose`` → ``{"arms": [.., {"dose": ..}]}``.

    Names starting with ``_`` are a page's own settings and are left out; ``name[]`` are ticked boxes
    (a list), and ``name_shown`` says a box list was on the page, so that none ticked is an empty list
    (a browser posts nothing for it). Where a name clashes with a deeper one, the first wins."""
    root: dict = {}
    for key, value in items:
        key, value = str(key), str(value)
        if key.startswith("_"):
            continue
        ticked, shown = key.endswith("[]"), key.endswith("_shown")
        parts = key.removesuffix("[]").removesuffix("_shown").split(".")
        node = root
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                break
        else:
            if ticked or shown:
                boxes = node.setdefault(parts[-1], [])
                if ticked and isinstance(boxes, list):
                    boxes.append(value)
            else:
                node.setdefault(parts[-1], value)
    return _listify(root)


def draft_from_form(items) -> dict:
    """A draft scenario from the posted ``(name, value)`` pairs of the builder's form."""
    root = nested_form(items)
    injury = root.get("injury")
    if isinstance(injury, dict) and injury.get("model") in INJURY_MODELS:
        root["injury"] = _clean(INJURY_MODELS[injury["model"]], injury)
    for arm in root.get("arms", []) if isinstance(root.get("arms"), list) else []:
        if not isinstance(arm, dict):
            continue
        treatments = []
        for t in arm.get("treatments", []) or []:
            if isinstance(t, dict) and t.get("product") in PRODUCTS:
                t = _clean(PRODUCTS[t["product"]], t)
            treatments.append(t)
        if treatments:
            arm["treatments"] = treatments
    rows = root.pop("parameters", [])
    params = {}
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and str(row.get("name", "")).strip():
            params[str(row["name"]).strip()] = row.get("value", "")
    if params:
        root["parameters"] = params
    units = {k: v for k, v in (root.get("units") or {}).items() if v}
    root.pop("units", None)
    if units:
        root["units"] = units
    if isinstance(root.get("solver"), dict):
        root["solver"] = _clean(type(Scenario.model_fields["solver"].default_factory()), root["solver"])
        if not root["solver"]:
            del root["solver"]
    if isinstance(root.get("observation"), dict):
        root["observation"] = _clean(_OBSERVATION, root["observation"])
        if not root["observation"]:
            del root["observation"]
    return _clean(Scenario, root)


def apply_action(draft: dict, action: str) -> dict:
    """Add or remove an arm, a treatment or a parameter row, as the builder's buttons ask."""
    draft = json.loads(json.dumps(draft))  # a copy
    arms = draft.setdefault("arms", [])
    kind, _, where = action.partition(":")
    idx = [int(x) for x in where.split(":") if x.isdigit()]
    if kind == "add_arm":
        arms.append({"name": f"arm_{len(arms) + 1}"})
    elif kind == "remove_arm" and idx and idx[0] < len(arms):
        del arms[idx[0]]
    elif kind == "add_treatment" and idx and idx[0] < len(arms):
        arms[idx[0]].setdefault("treatments", []).append(
            {"product": "msc", "dose": "", "time_h": 0})
    elif kind == "remove_treatment" and len(idx) == 2 and idx[0] < len(arms):
        treatments = arms[idx[0]].get("treatments", [])
        if idx[1] < len(treatments):
            del treatments[idx[1]]
    return draft


# --- validation ----------------------------------------------------------------------------
_TAGS = set(INJURY_MODELS) | set(PRODUCTS)


def _input_name(loc: tuple) -> str:
    """The form input a pydantic error location points at (the union's tag dropped)."""
    parts, prev = [], None
    for item in loc:
        tag = isinstance(item, str) and item in _TAGS and (prev == "injury" or isinstance(prev, int))
        if not tag:
            parts.append(str(item))
        prev = item
    return ".".join(parts)


def validate_draft(draft: dict) -> tuple[Scenario | None, list[str], dict[str, str]]:
    """The scenario of ``draft``, or ``None`` with the problems (one line each) and, by input
    name, the message to show beside each input."""
    try:
        return Scenario.model_validate(draft), [], {}
    except ValidationError as exc:
        problems = format_validation_error(exc, "", ScenarioError).problems
        by_input: dict[str, str] = {}
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            name = _input_name(tuple(err["loc"]))
            if not name:  # a check of the whole scenario: its message starts with the field
                name = msg.split(":", 1)[0].split(".", 1)[0] if ":" in msg else ""
            if name.startswith("parameters"):
                name = "parameters"
            if name:
                by_input.setdefault(name, msg)
        return None, problems, by_input
