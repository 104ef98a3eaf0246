"""Assemble the model for one scenario arm: insult + biology + therapy + function.

This is the only place that knows which processes make up nephrosim's model; the engine
receives the resulting :class:`~nephrosim.modelspec.ModelSpec`.

One parameter table is used for a whole scenario: the shipped (or cited) table with the
scenario's ``parameters`` applied (:func:`scenario_table`). It is passed explicitly to
every builder, so an override of a row that is read at build time (a protocol fold
change, a knockout share) takes effect exactly like one that becomes an SBML parameter.
An override that reaches no arm's model is refused (:func:`check_overrides`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nephrosim.biology.assay import OFFSET, creatinine_assay
from nephrosim.biology.insults import build_insult
from nephrosim.biology.parameters import ParameterTable
from nephrosim.biology.physiology import kidney_function
from nephrosim.biology.therapy import build_therapy
from nephrosim.biology.therapy.msc import biodistribution
from nephrosim.biology.therapy.risks import arm_risk
from nephrosim.biology.therapy.paracrine import no_therapy
from nephrosim.errors import UserInputError
from nephrosim.modelspec import ModelSpec, merge

#: Scenario parameters the assembly itself reads (body size), besides the table's rows.
_ASSEMBLY_PARAMETERS = ("body_weight_kg", "height_cm")


class OverrideError(UserInputError):
    """A scenario parameter override that cannot take effect."""


def _sbml_id(text: str) -> str:
    ident = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return ident if ident[:1].isalpha() else f"m_{ident}"


def base_table(scenario) -> ParameterTable:
    """The table ``scenario`` asks for (``parameter_set``: calibrated or table), no overrides."""
    return ParameterTable.default(calibrated=getattr(scenario, "parameter_set", "calibrated") == "calibrated")


def scenario_table(scenario) -> ParameterTable:
    """The one table of ``scenario``: its ``parameter_set`` with its ``parameters`` applied."""
    return base_table(scenario).with_overrides(dict(scenario.parameters), scenario.species)


def body_weight_kg(scenario, table: ParameterTable | None = None) -> float:
    """The subject's body weight: the scenario's ``body_weight_g``, else the table's."""
    if scenario.body_weight_g is not None:
        return scenario.body_weight_g / 1000.0
    table = table or scenario_table(scenario)
    return table.record("body_weight_kg", scenario.species).value


def assay_of(scenario) -> str:
    """The serum-creatinine assay the scenario's readouts stand for (``observation.creatinine_assay``)."""
    return scenario.observation.creatinine_assay


@dataclass(frozen=True)
class AssembledArm:
    """The model of one arm and the table rows its builders read."""

    spec: ModelSpec
    rows_read: frozenset[str]


def assemble(scenario, arm_name: str | None = None, table: ParameterTable | None = None) -> AssembledArm:
    """Build the :class:`ModelSpec` of one arm and record which table rows reached it."""
    table = table or scenario_table(scenario)
    tracked = table.tracked()
    arm = scenario.arms[0] if arm_name is None else scenario.arm(arm_name)
    species = scenario.species
    bw = body_weight_kg(scenario, tracked)

    insult = build_insult(scenario.injury, species)
    therapy = build_therapy(arm.treatments, species, bw, tracked)
    function = kidney_function(insult.function_factor, insult.secretion_factor, insult.volume_factor)
    # Every arm carries the same states (undosed products sit at zero), so arms compare.
    # A therapy that defines the paracrine effects names its process "paracrine_effects";
    # merge keeps the first, so no_therapy() only fills in for vehicle arms.
    processes = merge((*insult.processes, *therapy.processes, biodistribution(()), no_therapy(), function,
                       *creatinine_assay(assay_of(scenario))))  # the observation model (issue 14 item 9)

    values = dict(table.values(species))
    units = {r.name: r.unit for r in table.for_species(species)}
    values["body_weight_kg"] = bw
    shadowed = sorted(set(scenario.parameters) & (set(insult.values) | set(therapy.values)))
    if shadowed:
        raise OverrideError(
            f"parameters: {shadowed} are set by the scenario's injury or treatment fields (clamp time, sides, "
            "temperature, doses), which would replace the override; set them there instead")
    values.update(insult.values)
    values.update(therapy.values)
    for p in processes:
        for u in p.parameters:
            units.setdefault(u.name, u.unit)
    needed = {u.name for p in processes for u in p.parameters}
    values = {k: v for k, v in values.items() if k in needed}
    spec = ModelSpec(
        name=_sbml_id(f"nephrosim_{scenario.name}_{arm.name}"),
        processes=processes,
        parameter_values=values,
        parameter_units={k: units.get(k, "") for k in values},
    )
    spec.check()
    return AssembledArm(spec, frozenset(tracked.read))


def build_model(scenario, arm_name: str | None = None, table: ParameterTable | None = None) -> ModelSpec:
    """The :class:`ModelSpec` of ``scenario`` for one arm (default: the first)."""
    return assemble(scenario, arm_name, table).spec


def _fingerprint(scenario, table: ParameterTable) -> list:
    """What a build-time row can change: every arm's values and dose events, and its dose-based
    risk indices (tissue factor, sensitization)."""
    out = []
    for arm in scenario.arms:
        spec = assemble(scenario, arm.name, table).spec
        risk = arm_risk(arm, scenario.species, body_weight_kg(scenario, table), table)
        out.append((sorted(spec.parameter_values.items()),
                    sorted((e.time_h, sorted(e.assignments.items())) for e in spec.events), sorted(risk.items())))
    return out


def check_overrides(scenario, arms: list[AssembledArm]) -> None:
    """Refuse scenario ``parameters`` that change nothing in this scenario.

    An override of an SBML parameter of some arm, or of a body-size value the assembly reads,
    changes the model. An override of a row read at build time (a protocol fold change, a
    knockout share, the sensitization delay) is kept only if it changes some arm's model or
    risk indices — a fold change for another tissue source, or a delay no dose interval
    crosses, would be accepted and silently change nothing, so it is refused.
    """
    overrides = dict(scenario.parameters)
    sbml = set(_ASSEMBLY_PARAMETERS if scenario.species == "human" else ("body_weight_kg",))
    read: set[str] = set()
    for a in arms:
        sbml |= set(a.spec.parameter_values)
        read |= a.rows_read
    unused = sorted(set(overrides) - sbml - read)
    build_time = sorted((set(overrides) & read) - sbml)
    if build_time:
        base = base_table(scenario)
        full = _fingerprint(scenario, base.with_overrides(overrides, scenario.species))
        for name in build_time:
            rest = {k: v for k, v in overrides.items() if k != name}
            if _fingerprint(scenario, base.with_overrides(rest, scenario.species)) == full:
                unused.append(name)
    unused = sorted(unused)
    if unused:
        assay_hint = ("; jaffe_chromogen_offset_mg_dl acts only on a Jaffé reading (observation: {creatinine_assay: "
                      "jaffe})" if OFFSET in unused else "")  # issue 14 item 9
        raise OverrideError(
            f"parameters: {unused} do not change the model of any arm of this scenario (injury model "
            f"{scenario.injury.model!r}, products {sorted({t.product for a in scenario.arms for t in a.treatments})}"
            "); remove them, or add the injury, product or protocol they belong to" + assay_hint)
