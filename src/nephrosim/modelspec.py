"""The model-authoring vocabulary: states, parameters, quantities, fluxes, processes.

Biology modules describe *what happens* with these immutable objects; they never
touch a solver. :func:`nephrosim.engine.sbml.to_sbml` compiles a :class:`ModelSpec`
into SBML Level 3 Version 2, the single executable form of the model.

Expressions are written in SBML Level 3 infix syntax (``"gfr_ml_min * 0.06 * scr"``,
``"piecewise(a, time < 2, b)"``), so a reviewer reads exactly the mathematics that
every SBML tool will execute. ``time`` is in hours throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping


@dataclass(frozen=True)
class State:
    """A non-negative amount tracked over time (an SBML species).

    Arguments
    ---------
    name : identifier, used in expressions.
    unit : unit of the *amount* (e.g. ``"mg"``, ``"cells"``, ``"fraction"``).
    initial : number or expression (may use parameters and quantities) for t = 0.
    description : what the state is, in biological words.
    scale : the state's typical magnitude in its own unit (numerics, not biology): the
        solver resolves it to ``atol × scale`` and judges "negative" relative to it. Cell
        counts of a 5×10⁵-cell dose and the factor pools they feed are ~10⁵–10⁷; with the
        same absolute tolerance as a 0–1 fraction, CVODE's Newton iteration failed after a
        dose (30 daily MSC doses) and round-off undershoots of −10⁻⁶ read as negative.
    """

    name: str
    unit: str
    initial: float | str
    description: str
    scale: float = 1.0

    def __post_init__(self):
        if not (self.scale > 0 and self.scale < float("inf")):
            raise ValueError(f"state {self.name!r}: scale must be a positive finite number, not {self.scale!r}")


@dataclass(frozen=True)
class ParameterUse:
    """A parameter a process needs; its value and source live in the parameter table."""

    name: str
    unit: str
    description: str


@dataclass(frozen=True)
class Quantity:
    """A derived quantity, recomputed at every instant (an SBML assignment rule)."""

    name: str
    expr: str
    unit: str
    description: str


@dataclass(frozen=True)
class Flux:
    """A process rate moving amount out of ``consumes`` and into ``produces``.

    ``consumes``/``produces`` map state name → stoichiometry. An empty side is a
    source or sink outside the model (production, excretion, death).
    """

    name: str
    rate: str
    unit: str
    description: str
    consumes: Mapping[str, float] = field(default_factory=dict)
    produces: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """A discrete change at a given time (a dose, a surgical step)."""

    name: str
    time_h: float
    assignments: Mapping[str, str]
    description: str


@dataclass(frozen=True)
class Readout:
    """An observable a scenario can ask for.

    Arguments
    ---------
    name : the readout name used in scenarios (``serum_creatinine``).
    quantity : the model quantity or state that carries it.
    unit : the unit the model computes it in.
    description : what a lab would measure.
    units : other units it may be reported in (converted by :mod:`nephrosim.units`).
    """

    name: str
    quantity: str
    unit: str
    description: str
    units: tuple[str, ...] = ()


@dataclass(frozen=True)
class Process:
    """One piece of biology: its states, parameters, derived quantities and fluxes.

    The docstring of the module that builds a process names the biology and the
    papers it encodes; the numbers live in the parameter table.
    """

    name: str
    description: str
    states: tuple[State, ...] = ()
    parameters: tuple[ParameterUse, ...] = ()
    quantities: tuple[Quantity, ...] = ()
    fluxes: tuple[Flux, ...] = ()
    readouts: tuple[Readout, ...] = ()
    events: tuple[Event, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    """A complete model: processes plus the parameter values for one species.

    ``parameter_values`` holds every parameter any process uses (validated by
    :meth:`check`); ``overrides`` are scenario-specific values (clamp time, dose)
    that enter the SBML as ordinary parameters so an exported scenario is
    self-contained.
    """

    name: str
    processes: tuple[Process, ...]
    parameter_values: Mapping[str, float]
    parameter_units: Mapping[str, str]

    @property
    def states(self) -> tuple[State, ...]:
        return tuple(s for p in self.processes for s in p.states)

    @property
    def quantities(self) -> tuple[Quantity, ...]:
        return tuple(q for p in self.processes for q in p.quantities)

    @property
    def fluxes(self) -> tuple[Flux, ...]:
        return tuple(f for p in self.processes for f in p.fluxes)

    @property
    def events(self) -> tuple[Event, ...]:
        return tuple(e for p in self.processes for e in p.events)

    @property
    def readouts(self) -> dict[str, Readout]:
        return {r.name: r for p in self.processes for r in p.readouts}

    def check(self) -> None:
        """Raise ``ValueError`` on duplicate names, unknown states or missing parameters."""
        seen: dict[str, str] = {}
        for p in self.processes:
            for kind, items in (("state", p.states), ("quantity", p.quantities)):
                for item in items:
                    if item.name in seen:
                        raise ValueError(
                            f"process {p.name!r} defines {kind} {item.name!r}, already defined "
                            f"as a {seen[item.name]}; rename one of them"
                        )
                    seen[item.name] = kind
        state_names = {s.name for s in self.states}
        for f in self.fluxes:
            for s in (*f.consumes, *f.produces):
                if s not in state_names:
                    raise ValueError(f"flux {f.name!r} refers to unknown state {s!r}")
        needed = {u.name for p in self.processes for u in p.parameters}
        missing = sorted(needed - set(self.parameter_values))
        if missing:
            raise ValueError(
                f"model {self.name!r} has no value for parameter(s) {missing}; add them to "
                "the parameter table (src/nephrosim/biology/parameters.csv)"
            )


def merge(processes: Iterable[Process]) -> tuple[Process, ...]:
    """Order-preserving tuple of processes (duplicates by name dropped)."""
    out: dict[str, Process] = {}
    for p in processes:
        out.setdefault(p.name, p)
    return tuple(out.values())
