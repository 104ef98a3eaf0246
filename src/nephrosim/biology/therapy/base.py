"""Registry of product builders and the assembly of one arm's therapy.

Each product (``msc``, ``conditioned_medium``, ``ev``) registers a builder that turns
the treatments of one arm into :class:`Contribution` objects — one per treatment
("lot"): its states, fluxes, dose increments and the secretion it adds to each
paracrine mechanism. :func:`build_therapy` assembles all lots of an arm into three
processes, so several products in one arm share one set of paracrine pools:

* ``msc_biodistribution`` — cell and EV compartments of every lot, totals, risk
  accumulators and the therapy readouts (replaces the empty version
  :func:`~nephrosim.biology.therapy.msc.biodistribution` adds to vehicle arms);
* ``paracrine_effects`` — factor pools and the six effect quantities the injury
  model reads (replaces :func:`~nephrosim.biology.therapy.paracrine.no_therapy`);
* ``therapy_host_signals`` — the injury signals the therapy reads.

Doses are SBML events; doses given at the same time are merged into one event so
that simultaneous increments add up.

Pre-treatment (``time_h < 0``) is built like any dose: its event fires before the
insult, and the simulation starts integrating at the earliest dose, from the healthy
steady state (``nephrosim.run.simulation.compile_arm``). The therapy is correct there —
the host is healthy, so homing, licensing and kidney-MSC death run at rest. The
insult holds still until t = 0 (:func:`nephrosim.biology.insults.core.before_insult`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from nephrosim.modelspec import Event, Flux, ParameterUse, Process, Quantity, State


@dataclass(frozen=True)
class TherapySpec:
    processes: tuple[Process, ...] = ()
    values: Mapping[str, float] = field(default_factory=dict)


@dataclass
class Contribution:
    """What one treatment (lot) adds to the arm's therapy model.

    Arguments
    ---------
    states, fluxes, quantities, parameters : the lot's own model pieces.
    values : values of the lot's parameters (dose, potencies ...).
    increments : ``(time_h, variable, expression)``: at ``time_h`` add ``expression``
        to ``variable`` (a dose).
    sets : ``(time_h, variable, expression)``: at ``time_h`` set ``variable``.
    totals : total quantity name → terms this lot adds (e.g. ``msc_lung``).
    secretion : mechanism → production-rate terms (cell-hour equivalents per hour).
    exposure : mechanism → normalised exposure terms added directly to that mechanism
        (EV cargo in the kidney / EC50: RNA to ``paracrine_ev_rna`` and
        ``paracrine_antiinflammatory``, VEGF protein to ``paracrine_vegf``).
    scale : the typical magnitude one dose of this lot adds to its cell compartments and to
        the factor pools (cells for MSC, cell-hours for CM): the solver's tolerance scale
        for those states (:attr:`nephrosim.modelspec.State.scale`), numerics only.
    """

    states: list[State] = field(default_factory=list)
    fluxes: list[Flux] = field(default_factory=list)
    quantities: list[Quantity] = field(default_factory=list)
    parameters: list[ParameterUse] = field(default_factory=list)
    values: dict[str, float] = field(default_factory=dict)
    increments: list[tuple[float, str, str]] = field(default_factory=list)
    sets: list[tuple[float, str, str]] = field(default_factory=list)
    totals: dict[str, list[str]] = field(default_factory=dict)
    secretion: dict[str, list[str]] = field(default_factory=dict)
    exposure: dict[str, list[str]] = field(default_factory=dict)
    scale: float = 1.0


def therapy_scale(lots: Sequence[Contribution]) -> float:
    """The largest dose magnitude of the arm's lots (≥ 1): the tolerance scale of the states
    every lot feeds (factor pools, risk accumulators)."""
    return max([1.0, *(lot.scale for lot in lots)])


_BUILDERS: dict[str, Callable[..., list[Contribution]]] = {}


def register_product(name: str):
    """Decorator: register ``builder(treatments, species, body_weight_kg, context) -> [Contribution]``."""

    def deco(fn):
        _BUILDERS[name] = fn
        return fn

    return deco


def registered_products() -> list[str]:
    return sorted(_BUILDERS)


@dataclass
class ArmContext:
    """Arm-wide facts a product builder may need (dose history for sensitization)."""

    species: str
    body_weight_kg: float
    table: object  # the ParameterTable the model is built from (with the scenario's overrides)
    treatments: tuple = ()
    lot_counter: dict[str, int] = field(default_factory=dict)

    def next_index(self, kind: str) -> int:
        self.lot_counter[kind] = self.lot_counter.get(kind, 0) + 1
        return self.lot_counter[kind]

    def donor(self, treatment, lot: "Contribution") -> str:
        """The donor factor of ``treatment``, as an expression for its secretion terms.

        A characterised donor (``donor_potency`` given) is that number. An unknown donor is
        the parameter ``donor_potency_k`` (declared on ``lot``, value 1 = the median donor)
        that ensembles draw (:func:`nephrosim.run.ensemble.donor_priors`); ``k`` is the
        treatment's position in the arm (1-based), so every dose of one treatment shares one
        donor, and treatment k of every arm is the same donor in an ensemble sample (a
        matched comparison: MSC, CM and EVs of one donor).
        """
        if treatment.donor_potency is not None:
            return repr(float(treatment.donor_potency))
        k = next(i for i, t in enumerate(self.treatments, start=1) if t is treatment)
        name = f"donor_potency_{k}"
        lot.parameters.append(ParameterUse(name, "dimensionless",
                                           f"Secretion of treatment {k}'s donor relative to the median donor"))
        lot.values[name] = 1.0
        return name


def build_therapy(treatments: Sequence, species: str, body_weight_kg: float, table) -> TherapySpec:
    """The therapy processes of one arm (empty for a vehicle arm).

    ``table`` is the parameter table the arm's model is built from: every number a product
    builder reads at build time (protocol fold changes, knockout shares, sensitization) comes
    from it, so a scenario's overrides of those rows take effect.
    """
    if not treatments:
        return TherapySpec()
    from nephrosim.biology.therapy.host import host_signals, resting_core_stubs
    from nephrosim.biology.therapy.msc import biodistribution
    from nephrosim.biology.therapy.paracrine import paracrine_effects

    ctx = ArmContext(species, body_weight_kg, table, tuple(treatments))
    by_product: dict[str, list] = {}
    for t in treatments:
        by_product.setdefault(t.product, []).append(t)
    lots: list[Contribution] = []
    for product, items in by_product.items():
        if product not in _BUILDERS:
            raise ValueError(f"product {product!r} has no biology yet; available: {sorted(_BUILDERS)}")
        lots.extend(_BUILDERS[product](items, species, body_weight_kg, ctx))
    values: dict[str, float] = {}
    for lot in lots:
        values.update(lot.values)
    events = dose_events(lots)
    processes = (biodistribution(lots, events), paracrine_effects(lots), host_signals(), *resting_core_stubs())
    return TherapySpec(processes, values)


def dose_events(lots: Sequence[Contribution]) -> tuple[Event, ...]:
    """One SBML event per dose time; increments to the same variable add up."""
    by_time: dict[float, dict[str, list[str]]] = {}
    sets: dict[float, dict[str, str]] = {}
    for lot in lots:
        for t, var, expr in lot.increments:
            by_time.setdefault(float(t), {}).setdefault(var, []).append(expr)
        for t, var, expr in lot.sets:
            by_time.setdefault(float(t), {})
            sets.setdefault(float(t), {})[var] = expr
    events = []
    for i, t in enumerate(sorted(by_time)):
        assignments = {var: f"{var} + " + " + ".join(f"({e})" for e in exprs)
                       for var, exprs in by_time[t].items()}
        assignments.update(sets.get(t, {}))
        events.append(Event(f"therapy_dose_{i + 1}", t, assignments,
                            f"Doses given at {t:g} h: " + ", ".join(sorted(assignments))))
    return tuple(events)
