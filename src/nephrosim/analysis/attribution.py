"""Mechanism attribution: exact Shapley values of the six paracrine mechanisms.

For each treated arm, every one of the 2⁶ = 64 coalitions of the mechanisms in
:data:`~nephrosim.biology.therapy.paracrine.MECHANISMS` is simulated with the other
mechanisms knocked out. The benefit of a coalition S is the outcome with every mechanism
knocked out minus the outcome with only S active (for SCr AUC: lower is better), so the
empty coalition is worth 0 and the full one is the arm's paracrine benefit. The exact
Shapley value of mechanism i

    φ_i = Σ_{S ⊆ N∖{i}} |S|! (n − |S| − 1)! / n! · [v(S ∪ {i}) − v(S)]

splits that benefit so that Σ φ_i = v(N) (efficiency). The pairwise Shapley interaction
index (Grabisch 1997, Discrete Math 167:167)

    I_ij = Σ_{S ⊆ N∖{i,j}} |S|! (n − |S| − 2)! / (n − 1)! · [v(S∪{i,j}) − v(S∪{i}) − v(S∪{j}) + v(S)]

is positive when two mechanisms act more than additively — as the tubular mechanisms do
with VEGF, whose permissive co-signal gates them (:mod:`nephrosim.biology.injury.tubules`).

How a mechanism is knocked out (one compiled model per arm; a coalition is a set of
parameter values):

* Where the scenario schema has a knockout for the product (``knockouts:`` of
  :mod:`nephrosim.scenarios.products`: ``vegf``, ``hgf``, ``igf1`` for MSC and CM,
  ``rna_cargo`` for CM and EV, ``vegf`` for EV), the arm is rebuilt with that knockout and
  the parameter values it changes (the lot's potency for that mechanism) are used. So an
  EV arm without ``paracrine_ev_rna`` *is* the RNase-treated EV of the schema — which also
  loses the anti-inflammatory action its RNA carries.
* The schema has no knockout for the antioxidant action, none for the whole
  anti-inflammatory class (``il10``/``tsg6`` remove only their shares, 0.3 + 0.4), and no
  ``rna_cargo`` for MSC. These are knocked out by setting the lot's potency parameters for
  the mechanism to 0 (``msc<k>_potency_<mechanism>``, ``cm<k>_potency_<mechanism>``) and, for
  the anti-inflammatory action of EV RNA cargo, ``ev_antiinflammatory_relative`` to 0.

Every coalition is checked: a knocked-out mechanism's effect quantity must stay exactly 0
over the whole window, otherwise this module's knockout map no longer matches the biology
and an error is raised. Parameter uncertainty is not propagated: the shares are those of
the nominal (or calibrated) parameters.
"""

from __future__ import annotations

import math
import re
import typing
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from nephrosim.biology.therapy.msc import KNOCKOUT_MECHANISM
from nephrosim.biology.therapy.paracrine import MECHANISMS
from nephrosim.errors import UserInputError
from nephrosim.run.assemble import build_model, scenario_table
from nephrosim.run.simulation import as_scenario, compile_arm, solver_options
from nephrosim.scenarios.schema import Scenario

__all__ = ["ArmAttribution", "Attribution", "OUTCOMES", "attribute", "knockout_values", "shapley", "shapley_interactions"]


@dataclass(frozen=True)
class Outcome:
    """A scalar outcome of a trajectory: ``kind`` is ``auc`` (0 to ``window_h``, per day),
    ``peak`` or ``at`` (value at ``window_h``); ``higher_is_better`` flips the benefit's sign."""

    readout: str
    kind: str
    window_h: float
    higher_is_better: bool
    description: str


OUTCOMES = {
    "scr_auc": Outcome("serum_creatinine", "auc", 168.0, False, "serum creatinine AUC over 0–7 d"),
    "bun_auc": Outcome("bun", "auc", 168.0, False, "BUN AUC over 0–7 d"),
    "scr_peak": Outcome("serum_creatinine", "peak", 168.0, False, "peak serum creatinine over 0–7 d"),
    "scr_24h": Outcome("serum_creatinine", "at", 24.0, False, "serum creatinine at 24 h"),
    "gfr_auc": Outcome("gfr", "auc", 168.0, True, "GFR AUC over 0–7 d"),
    "tubular_injury_auc": Outcome("tubular_injury_score", "auc", 168.0, False, "tubular injury score AUC over 0–7 d"),
}
#: output grid of the outcome window (hours)
STEP_H = 2.0

#: Mechanism → knockout of the scenario schema that removes it entirely (where a product has it).
FIELD_KNOCKOUT = {m: k for k, m in KNOCKOUT_MECHANISM.items() if k not in ("il10", "tsg6")}
#: Mechanism → SBML parameters (regex) set to 0 for products without a schema knockout for it.
OVERRIDE_PATTERNS = {
    "paracrine_antiinflammatory": (r"(msc|cm)\d+_potency_antiinflammatory", r"ev_antiinflammatory_relative"),
    "paracrine_antioxidant": (r"(msc|cm)\d+_potency_antioxidant",),
    "paracrine_ev_rna": (r"msc\d+_potency_ev_rna",),
}


def _literals(annotation) -> set[str]:
    out: set[str] = set()
    for a in typing.get_args(annotation):
        out |= {a} if isinstance(a, str) else _literals(a)
    return out


def allowed_knockouts(treatment) -> set[str]:
    """The ``knockouts`` a treatment's product accepts (read from the schema)."""
    f = type(treatment).model_fields.get("knockouts")
    return _literals(f.annotation) if f is not None else set()


def _with_knockout(scenario: Scenario, arm: str, index: int, knockout: str) -> Scenario:
    arms = []
    for a in scenario.arms:
        if a.name == arm:
            ts = list(a.treatments)
            t = ts[index]
            ts[index] = t.model_copy(update={"knockouts": tuple(dict.fromkeys((*t.knockouts, knockout)))})
            a = a.model_copy(update={"treatments": tuple(ts)})
        arms.append(a)
    return scenario.model_copy(update={"arms": tuple(arms)})


def _events(spec):
    return sorted((e.time_h, sorted(e.assignments.items())) for e in spec.events)


def knockout_values(scenario: Scenario, arm: str) -> dict[str, dict[str, float]]:
    """Mechanism → the parameter values (SBML id → value) that knock it out in ``arm``.

    Schema knockouts are applied by rebuilding the arm with the knockout and keeping the
    values it changes (the model's structure and events must not change); the rest by the
    :data:`OVERRIDE_PATTERNS`. Mechanisms the arm's products do not carry map to ``{}``.
    """
    table = scenario_table(scenario)
    base = build_model(scenario, arm, table)
    values = base.parameter_values
    out: dict[str, dict[str, float]] = {m: {} for m in MECHANISMS}
    for i, t in enumerate(scenario.arm(arm).treatments):
        for m, k in FIELD_KNOCKOUT.items():
            if k not in allowed_knockouts(t) or k in t.knockouts:
                continue
            spec = build_model(_with_knockout(scenario, arm, i, k), arm, table)
            if set(spec.parameter_values) != set(values) or _events(spec) != _events(base):
                raise RuntimeError(f"knockout {k!r} changes the structure of arm {arm!r}, not only its values; "
                                   "attribution cannot run it on one compiled model")
            out[m].update({n: v for n, v in spec.parameter_values.items() if v != values[n]})
    for m, patterns in OVERRIDE_PATTERNS.items():
        for n in values:
            if any(re.fullmatch(p, n) for p in patterns):
                out[m][n] = 0.0
    seen: dict[str, str] = {}
    for m, d in out.items():
        for n in d:
            if n in seen:
                raise RuntimeError(f"parameter {n!r} knocks out both {seen[n]} and {m}; the knockouts must be disjoint")
            seen[n] = m
    return out


def shapley(v: np.ndarray) -> np.ndarray:
    """Exact Shapley values of a game on n players; ``v[mask]`` is the worth of the coalition
    whose bit i is set when player i is in it (``v[0]`` is taken as the zero point)."""
    v = np.asarray(v, dtype=float)
    n = int(round(math.log2(v.size)))
    if 1 << n != v.size:
        raise ValueError("v must have 2**n entries")
    phi = np.zeros(n)
    for i in range(n):
        bit = 1 << i
        for mask in range(v.size):
            if mask & bit:
                continue
            s = bin(mask).count("1")
            phi[i] += math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) * (v[mask | bit] - v[mask])
    return phi


def shapley_interactions(v: np.ndarray) -> np.ndarray:
    """Pairwise Shapley interaction indices (Grabisch 1997): a symmetric n × n matrix, zero diagonal."""
    v = np.asarray(v, dtype=float)
    n = int(round(math.log2(v.size)))
    out = np.zeros((n, n))
    for i, j in combinations(range(n), 2):
        bi, bj = 1 << i, 1 << j
        total = 0.0
        for mask in range(v.size):
            if mask & (bi | bj):
                continue
            s = bin(mask).count("1")
            w = math.factorial(s) * math.factorial(n - s - 2) / math.factorial(n - 1)
            total += w * (v[mask | bi | bj] - v[mask | bi] - v[mask | bj] + v[mask])
        out[i, j] = out[j, i] = total
    return out


@dataclass(frozen=True)
class ArmAttribution:
    """The attribution of one treated arm.

    ``total``: paracrine benefit (outcome with every mechanism knocked out − outcome of the
    arm), which the ``shares`` sum to exactly; ``vs_vehicle``: the arm's benefit over the
    vehicle arm; ``non_paracrine`` = ``vs_vehicle − total`` (e.g. microembolic harm of
    arterial cells; ~0 for IV products up to solver tolerance). ``coalitions[mask]``: benefit
    of the coalition whose bit i is mechanism i of ``mechanisms``. ``interactions``: pairwise
    Shapley interaction indices. ``lo``/``hi`` equal the values (no parameter uncertainty).
    """

    arm: str
    mechanisms: tuple[str, ...]
    total: float
    vs_vehicle: float
    non_paracrine: float
    shares: Mapping[str, float]
    interactions: np.ndarray = field(repr=False)
    coalitions: np.ndarray = field(repr=False)

    def interaction(self, a: str, b: str) -> float:
        return float(self.interactions[self.mechanisms.index(a), self.mechanisms.index(b)])

    def coalition(self, active: Sequence[str]) -> float:
        """Benefit with only ``active`` mechanisms (the others knocked out)."""
        mask = sum(1 << self.mechanisms.index(m) for m in active)
        return float(self.coalitions[mask])

    def to_dict(self) -> dict:
        return {"total": self.total, "vs_vehicle": self.vs_vehicle, "non_paracrine": self.non_paracrine,
                "shares": {m: {"value": v, "lo": v, "hi": v} for m, v in self.shares.items()}}


@dataclass(frozen=True)
class Attribution:
    """Shapley attribution of every treated arm (``arms``) of one scenario for one outcome."""

    scenario: str
    outcome: str
    unit: str
    vehicle: str
    vehicle_outcome: float
    arms: Mapping[str, ArmAttribution]

    def to_dict(self) -> dict:
        """Per treated arm ``{"total", "vs_vehicle", "non_paracrine", "shares": {m: {value, lo, hi}}}``."""
        return {a: r.to_dict() for a, r in self.arms.items()}

    def to_frame(self):
        """One row per arm and mechanism: share, fraction of the total, interaction with VEGF."""
        import pandas as pd

        rows = []
        for a, r in self.arms.items():
            for m, v in r.shares.items():
                rows.append({"arm": a, "mechanism": m, "share": v,
                             "fraction": v / r.total if r.total else float("nan"),
                             "interaction_with_vegf": r.interaction(m, "paracrine_vegf") if m != "paracrine_vegf" else 0.0})
        return pd.DataFrame(rows)


def _scalar(outcome: Outcome, times: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Outcome of trajectories ``y[..., time]``."""
    if outcome.kind == "auc":
        return np.trapezoid(y, times / 24.0, axis=-1)
    if outcome.kind == "peak":
        return y.max(axis=-1)
    return y[..., -1]


def attribute(scenario: Scenario | str | Path | Mapping, outcome: str = "scr_auc",
              arms: Sequence[str] | None = None, vehicle: str | None = None) -> Attribution:
    """Exact Shapley attribution of each treated arm's benefit to the six paracrine mechanisms.

    Arguments
    ---------
    scenario : a :class:`Scenario`, a YAML/JSON path or a mapping; it needs a vehicle arm.
    outcome : one of :data:`OUTCOMES` (default ``scr_auc``: SCr AUC over 0–7 d).
    arms : treated arms to attribute (default: every arm with treatments).
    vehicle : the untreated reference arm (default: the first arm without treatments).

    Returns
    -------
    :class:`Attribution`. 64 simulations per arm on one compiled model. Raises
    :class:`~nephrosim.errors.UserInputError` for an unknown outcome or arm, a missing
    vehicle arm, or a failed simulation.
    """
    if outcome not in OUTCOMES:
        raise UserInputError(f"outcome: {outcome!r} is not one of {', '.join(OUTCOMES)}")
    out_def = OUTCOMES[outcome]
    scenario = as_scenario(scenario)
    if vehicle is None:
        untreated = [a.name for a in scenario.arms if not a.treatments]
        if not untreated:
            raise UserInputError("arms: attribution needs a vehicle arm (an arm without treatments) as the "
                                 "reference; add `- name: vehicle` to the scenario's arms")
        vehicle = untreated[0]
    elif scenario.arm(vehicle).treatments:
        raise UserInputError(f"vehicle: arm {vehicle!r} has treatments; name an arm without treatments")
    if arms is None:
        arms = [a.name for a in scenario.arms if a.treatments]
        if not arms:
            raise UserInputError("arms: the scenario has no treated arm to attribute; add one with treatments")
    for a in arms:
        if not scenario.arm(a).treatments:
            raise UserInputError(f"arms: arm {a!r} has no treatments; attribute treated arms only")

    mechanisms = tuple(MECHANISMS)
    times = np.arange(0.0, out_def.window_h + STEP_H / 2, STEP_H)
    sub = scenario.model_copy(update={"readouts": (out_def.readout, *mechanisms), "times_h": tuple(times)})
    options = solver_options(sub, "final")
    sign = 1.0 if out_def.higher_is_better else -1.0

    def run(arm: str, names=(), rows=None):
        program = compile_arm(sub, arm)
        sim = program.simulator(options)
        rows = np.zeros((1, 0)) if rows is None else rows
        raw, statuses = sim.run_batch(times, names, rows)
        bad = [s for s in statuses if not s.ok]
        if bad:
            raise UserInputError(f"arms: {len(bad)} of {len(statuses)} simulations of arm {arm!r} failed "
                                 f"({bad[0].message}); fix the scenario so that `nephrosim simulate` runs it")
        values = program.convert(raw)
        return _scalar(out_def, times, values[:, :, 0]), values[:, :, 1:], program.units[0]

    ref, _, unit = run(vehicle)
    ref = float(ref[0])
    results = {}
    for arm in arms:
        kos = knockout_values(sub, arm)
        names = sorted({n for d in kos.values() for n in d})
        program_values = build_model(sub, arm).parameter_values
        rows = np.empty((1 << len(mechanisms), len(names)))
        for mask in range(rows.shape[0]):
            off = {n: v for i, m in enumerate(mechanisms) if not mask >> i & 1 for n, v in kos[m].items()}
            rows[mask] = [off.get(n, program_values[n]) for n in names]
        y, effects, _ = run(arm, names, rows)
        for mask in range(rows.shape[0]):
            leaked = [m for i, m in enumerate(mechanisms)
                      if not mask >> i & 1 and np.max(np.abs(effects[mask, :, i])) > 0.0]
            if leaked:
                raise RuntimeError(f"arm {arm!r}: knocking out {leaked} left their effect non-zero; the knockout "
                                   "map of nephrosim.analysis.attribution no longer matches the biology")
        v = sign * (y - y[0])  # benefit over the all-knocked-out arm
        phi = shapley(v)
        full = float(v[-1])
        vs_vehicle = float(sign * (y[-1] - ref))
        results[arm] = ArmAttribution(arm, mechanisms, full, vs_vehicle, vs_vehicle - full,
                                      {m: float(p) for m, p in zip(mechanisms, phi)},
                                      shapley_interactions(v), v)
    auc_unit = f"{unit}·d" if out_def.kind == "auc" else unit
    return Attribution(scenario.name, outcome, auc_unit, vehicle, ref, results)
