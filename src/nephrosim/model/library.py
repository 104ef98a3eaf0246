"""Assemble the model for one scenario arm: insult + biology + therapy + function.

This is the only place that knows which processes make up nephrosim's model;
the engine receives the resulting :class:`~nephrosim.model.core.ModelSpec`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Callable, Iterable

from nephrosim.model.core import ModelSpec, Readout, merge
from nephrosim.model.injury import injury_readouts
from nephrosim.model.insults import build_insult
from nephrosim.model.parameters import ParameterTable
from nephrosim.model.therapy import build_therapy
from nephrosim.model.therapy.msc import biodistribution
from nephrosim.model.therapy.paracrine import no_therapy
from nephrosim.physiology.kidney_function import kidney_function


def _sbml_id(text: str) -> str:
    ident = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return ident if ident[:1].isalpha() else f"m_{ident}"


def parameter_table(scenario) -> ParameterTable:
    """The parameter table ``scenario`` asks for (``parameter_set``: calibrated or table)."""
    return ParameterTable.default(calibrated=getattr(scenario, "parameter_set", "calibrated") == "calibrated")


def body_weight_kg(scenario, table: ParameterTable | None = None) -> float:
    """The subject's body weight: the scenario's, else the species default."""
    if scenario.body_weight_g is not None:
        return scenario.body_weight_g / 1000.0
    if "body_weight_kg" in scenario.parameters:
        return float(scenario.parameters["body_weight_kg"])
    table = table or parameter_table(scenario)
    return table.record("body_weight_kg", scenario.species).value


def build_model(scenario, arm_name: str | None = None, table: ParameterTable | None = None) -> ModelSpec:
    """The :class:`ModelSpec` of ``scenario`` for one arm (default: the first)."""
    table = table or parameter_table(scenario)
    arm = scenario.arms[0] if arm_name is None else scenario.arm(arm_name)
    species = scenario.species
    bw = body_weight_kg(scenario, table)

    insult = build_insult(scenario.injury, species)
    therapy = build_therapy(arm.treatments, species, bw)
    function = kidney_function(insult.function_factor, insult.secretion_factor)
    # Every arm carries the same states (undosed products sit at zero), so arms compare.
    # A therapy that defines the paracrine effects names its process "paracrine_effects";
    # merge keeps the first, so no_therapy() only fills in for vehicle arms.
    processes = merge((*insult.processes, *therapy.processes, biodistribution(()), no_therapy(), function))

    values = dict(table.values(species))
    units = {r.name: r.unit for r in table.for_species(species)}
    values.update(scenario.parameters)
    values["body_weight_kg"] = bw
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
    return spec


#: Functions returning readouts; biology modules append theirs at import time.
READOUT_PROVIDERS: list[Callable[[], Iterable[Readout]]] = [
    lambda: kidney_function().readouts,
    lambda: biodistribution(()).readouts,
    lambda: injury_readouts(),
]


@lru_cache(maxsize=1)
def available_readouts() -> dict[str, Readout]:
    """Every readout a scenario may ask for, by name."""
    out: dict[str, Readout] = {}
    for provider in READOUT_PROVIDERS:
        for r in provider():
            out[r.name] = r
    return out
