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
and an error is raised.

Uncertainty (``samples > 0``): parameter sets are drawn from the ensemble priors
(:mod:`nephrosim.run.ensemble.priors`: every parameter an ensemble varies, log-normal with
``cv`` around the nominal value or log-uniform over the table's range, plus the donor
factor of every treatment whose donor is unknown), seeded — draw ``k`` depends only on
``seed`` and ``k`` and is shared by every arm (common random numbers). Each draw gets its
own exact Shapley split (efficiency holds per draw); a share's ``lo``/``hi`` are the
percentiles of its draws (``conf_level``, default the central 95 %). ``value`` stays the
share at the nominal parameters, so the values sum exactly to ``total``; it can lie outside
the draws' interval when the prior is skewed (reported, not hidden).
"""

from __future__ import annotations

import json
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
from nephrosim.analysis.checkpoints import Checkpoints
from nephrosim.progress import ProgressBar
from nephrosim.run.assemble import build_model, scenario_table
from nephrosim.run.ensemble.priors import Prior, donor_priors, draw, priors_from_table, varied_parameters
from nephrosim.run.executors import check_scheduler, compiled_arm, open_executor
from nephrosim.run.simulation import as_scenario
from nephrosim.scenarios.schema import Scenario

__all__ = ["ArmAttribution", "Attribution", "OUTCOMES", "attribute", "knockout_values", "shapley", "shapley_interactions",
           "uncertainty_priors"]


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
    Shapley interaction indices. All of these are at the nominal parameters.

    Uncertainty: ``draw_shares[k, i]`` is mechanism i's share in parameter draw k,
    ``draw_totals[k]`` and ``draw_vs_vehicle[k]`` that draw's benefits (empty without
    draws); ``lo``/``hi`` map ``total``, ``vs_vehicle`` and each mechanism to the
    ``conf_level`` percentile interval of the draws (equal to the value without draws).
    """

    arm: str
    mechanisms: tuple[str, ...]
    total: float
    vs_vehicle: float
    non_paracrine: float
    shares: Mapping[str, float]
    interactions: np.ndarray = field(repr=False)
    coalitions: np.ndarray = field(repr=False)
    draw_shares: np.ndarray = field(default_factory=lambda: np.zeros((0, len(MECHANISMS))), repr=False)
    draw_totals: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    draw_vs_vehicle: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    conf_level: float = 0.95
    draw_coalitions: np.ndarray = field(default_factory=lambda: np.zeros((0, 1 << len(MECHANISMS))), repr=False)

    def interaction(self, a: str, b: str) -> float:
        return float(self.interactions[self.mechanisms.index(a), self.mechanisms.index(b)])

    def coalition(self, active: Sequence[str]) -> float:
        """Benefit with only ``active`` mechanisms (the others knocked out)."""
        mask = sum(1 << self.mechanisms.index(m) for m in active)
        return float(self.coalitions[mask])

    def knockout_kept(self, mechanism: str) -> tuple[float, float, float]:
        """Fraction of the paracrine benefit kept when only ``mechanism`` is knocked out (the
        single-factor knockout of an experiment): nominal value and its interval over the draws.

        With N the six mechanisms and v the coalition worth, kept = v(N∖{m}) / v(N)
        = 1 − [v(N) − v(N∖{m})] / v(N): one minus the marginal loss of removing ``m`` last,
        as a fraction of the total (not its Shapley share, which averages the marginal loss over
        every order). NaN when the arm's total is 0; draws with a zero total are left out of the
        interval, which uses the ``conf_level`` percentiles as the shares do."""
        full = (1 << len(self.mechanisms)) - 1
        mask = full & ~(1 << self.mechanisms.index(mechanism))
        nominal = self.coalitions[mask] / self.total if self.total else float("nan")
        d = self.draw_coalitions
        ok = d[:, full] != 0 if d.size else np.zeros(0, bool)
        lo, hi = self._interval(d[ok, mask] / d[ok, full] if d.size else np.zeros(0), nominal)
        return float(nominal), lo, hi

    def _interval(self, draws: np.ndarray, value: float) -> tuple[float, float]:
        if draws.size == 0:
            return value, value
        tail = 50.0 * (1.0 - self.conf_level)
        lo, hi = np.percentile(draws, [tail, 100.0 - tail])
        return float(lo), float(hi)

    @property
    def lo(self) -> dict[str, float]:
        return {k: v[0] for k, v in self.intervals().items()}

    @property
    def hi(self) -> dict[str, float]:
        return {k: v[1] for k, v in self.intervals().items()}

    def intervals(self) -> dict[str, tuple[float, float]]:
        """``total``, ``vs_vehicle`` and each mechanism → (lo, hi) over the parameter draws."""
        out = {"total": self._interval(self.draw_totals, self.total),
               "vs_vehicle": self._interval(self.draw_vs_vehicle, self.vs_vehicle)}
        for i, m in enumerate(self.mechanisms):
            out[m] = self._interval(self.draw_shares[:, i], self.shares[m])
        return out

    def fraction_interval(self, mechanism: str) -> tuple[float, float]:
        """``conf_level`` interval of the mechanism's fraction of the total (share / total) over the draws."""
        i = self.mechanisms.index(mechanism)
        ok = self.draw_totals != 0
        nominal = self.shares[mechanism] / self.total if self.total else float("nan")
        return self._interval(self.draw_shares[ok, i] / self.draw_totals[ok], nominal)

    def to_dict(self) -> dict:
        """``total``, ``shares`` and ``knockout_kept`` (per mechanism ``value``, ``lo``, ``hi`` of
        :meth:`knockout_kept`; ``None`` where the arm has no paracrine benefit to keep a fraction of)."""
        iv = self.intervals()
        return {"total": self.total, "total_lo": iv["total"][0], "total_hi": iv["total"][1],
                "vs_vehicle": self.vs_vehicle, "non_paracrine": self.non_paracrine,
                "draws": int(self.draw_totals.size), "conf_level": self.conf_level,
                "shares": {m: {"value": v, "lo": iv[m][0], "hi": iv[m][1],
                               "fraction": v / self.total if self.total else None,
                               "fraction_lo": self.fraction_interval(m)[0] if self.total else None,
                               "fraction_hi": self.fraction_interval(m)[1] if self.total else None}
                           for m, v in self.shares.items()},
                "knockout_kept": {m: dict(zip(("value", "lo", "hi"), (None if math.isnan(x) else x
                                                                       for x in self.knockout_kept(m))))
                                  for m in self.mechanisms}}


@dataclass(frozen=True)
class Attribution:
    """Shapley attribution of every treated arm (``arms``) of one scenario for one outcome."""

    scenario: str
    outcome: str
    unit: str
    vehicle: str
    vehicle_outcome: float
    arms: Mapping[str, ArmAttribution]
    samples: int = 0
    seed: int = 0

    def to_dict(self) -> dict:
        """Per treated arm ``{"total", "total_lo", "total_hi", "vs_vehicle", "non_paracrine", "draws",
        "conf_level", "shares": {m: {value, lo, hi, ...}}, "knockout_kept": {m: {value, lo, hi}}}``."""
        return {a: r.to_dict() for a, r in self.arms.items()}

    def to_frame(self):
        """One row per arm and mechanism: share with its interval, fraction of the total, the fraction
        a single-factor knockout of the mechanism keeps (:meth:`ArmAttribution.knockout_kept`, with
        its interval), interaction with VEGF."""
        import pandas as pd

        rows = []
        for a, r in self.arms.items():
            iv = r.intervals()
            for m, v in r.shares.items():
                rows.append({"arm": a, "mechanism": m, "share": v, "lo": iv[m][0], "hi": iv[m][1],
                             "fraction": v / r.total if r.total else float("nan"),
                             **dict(zip(("knockout_kept", "knockout_kept_lo", "knockout_kept_hi"),
                                        r.knockout_kept(m))),
                             "interaction_with_vegf": r.interaction(m, "paracrine_vegf") if m != "paracrine_vegf" else 0.0})
        return pd.DataFrame(rows)


def _scalar(outcome: Outcome, times: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Outcome of trajectories ``y[..., time]``."""
    if outcome.kind == "auc":
        return np.trapezoid(y, times / 24.0, axis=-1)
    if outcome.kind == "peak":
        return y.max(axis=-1)
    return y[..., -1]


def uncertainty_priors(scenario: Scenario, prior: str = "lognormal", cv: float = 0.3,
                       donor_variability: bool = True) -> list[Prior]:
    """The ensemble's priors for ``scenario`` (:func:`nephrosim.run.ensemble.ensemble` with the
    same ``prior``, ``cv`` and ``donor_variability``)."""
    if prior not in ("lognormal", "table"):
        raise UserInputError(f"prior: {prior!r} is not 'lognormal' or 'table'")
    if isinstance(cv, bool) or not (isinstance(cv, (int, float)) and 0 <= cv < np.inf):
        raise UserInputError(f"cv: {cv!r} must be a finite number >= 0")
    priors = priors_from_table(varied_parameters(scenario), float(cv), prior)
    return priors + (donor_priors(scenario) if donor_variability else [])


def simulate_coalitions(task) -> tuple[np.ndarray, tuple | None, list, str]:
    """Coalition runs of one arm for a chunk of parameter sets (a task for any executor).

    ``task = (scenario_json, arm, names, outcome, rows, check_knockouts)``: the scenario with
    the outcome's readout and the six effect quantities as readouts on the outcome's time grid,
    the arm, the parameter names, the outcome key, ``rows[set, coalition, parameter]`` and whether
    the coalitions are the 2⁶ knockout masks (then a knocked-out mechanism's effect quantity
    must stay exactly 0). Distinct rows are simulated once; the arm is compiled once per
    process (:func:`nephrosim.run.executors.compiled_arm`).

    Returns ``(outcome[set, coalition], failed, leaked, unit)``: ``failed`` is ``None`` or
    ``(count, simulations, first solver message)``; ``leaked`` lists the mechanisms whose
    knockout left their effect non-zero (empty when the knockout map holds).
    """
    scenario_json, arm, names, outcome, rows, check_knockouts = task
    out_def = OUTCOMES[outcome]
    program, sim = compiled_arm(scenario_json, arm, names)
    times = np.asarray(json.loads(scenario_json)["times_h"], dtype=float)
    n_sets, n_masks, width = rows.shape
    flat = rows.reshape(n_sets * n_masks, width)
    if width:
        unique, inverse = np.unique(flat, axis=0, return_inverse=True)
    else:
        unique, inverse = flat[:1], np.zeros(len(flat), int)
    raw, statuses = sim.run_batch(times, names, unique)
    bad = [st for st in statuses if not st.ok]
    if bad:
        return np.zeros((n_sets, n_masks)), (len(bad), len(statuses), bad[0].message), [], program.units[0]
    values = program.convert(raw)[np.asarray(inverse).reshape(-1)]
    y = _scalar(out_def, times, values[:, :, 0]).reshape(n_sets, n_masks)
    leaked: list[str] = []
    if check_knockouts:
        effects = values[:, :, 1:].reshape(n_sets, n_masks, len(times), -1)
        for mask in range(n_masks):
            leaked += [m for i, m in enumerate(MECHANISMS)
                       if not mask >> i & 1 and np.max(np.abs(effects[:, mask, :, i])) > 0.0 and m not in leaked]
    return y, None, leaked, program.units[0]


def attribute(scenario: Scenario | str | Path | Mapping, outcome: str = "scr_auc",
              arms: Sequence[str] | None = None, vehicle: str | None = None, *,
              samples: int = 0, seed: int = 0, prior: str = "lognormal", cv: float = 0.3,
              conf_level: float = 0.95, progress: bool = False, out_dir: str | Path | None = None,
              chunk: int = 1, scheduler: str | None = None, workers: int = 1, security=None) -> Attribution:
    """Exact Shapley attribution of each treated arm's benefit to the six paracrine mechanisms.

    Arguments
    ---------
    scenario : a :class:`Scenario`, a YAML/JSON path or a mapping; it needs a vehicle arm.
    outcome : one of :data:`OUTCOMES` (default ``scr_auc``: SCr AUC over 0–7 d).
    arms : treated arms to attribute (default: every arm with treatments).
    vehicle : the untreated reference arm (default: the first arm without treatments).
    samples : parameter draws for the intervals (0: nominal parameters only, ``lo == hi``).
    seed, prior, cv : the draws (:func:`uncertainty_priors`; as ``nephrosim ensemble``).
    conf_level : central probability of the ``lo``–``hi`` percentile interval.
    progress : show a progress bar (one step per task).
    out_dir : keep the simulated outcomes in this folder as they arrive (``vehicle.npz``; per
        arm, each finished chunk of parameter sets ``arm-<k>-sets-<start>-<stop>.npz`` and the
        finished arm ``arm-<k>.npz``; written atomically, with ``request.json``); rerunning the
        same request computes only what is not there yet, and a different request is refused.
    chunk : parameter sets per task (each set is 64 coalition runs; the nominal set is the first).
    scheduler, workers, security : where the tasks run (:func:`nephrosim.run.executors.open_executor`):
        ``None``/``"serial"`` this process; ``"local"`` a Dask cluster of ``workers`` processes on
        127.0.0.1 (TLS); ``"tls://host:port"`` (with ``security``) or ``"tcp://host:port"`` a running
        scheduler. Each task is a pure function of its parameter values, so the shares are
        bit-identical whichever runs them.

    Returns
    -------
    :class:`Attribution`. Per arm and parameter set, 64 coalitions (fewer distinct
    simulations where a product lacks a mechanism) on one compiled model. Raises
    :class:`~nephrosim.errors.UserInputError` for an unknown outcome or arm, a missing
    vehicle arm, a bad option, or a failed simulation.
    """
    if outcome not in OUTCOMES:
        raise UserInputError(f"outcome: {outcome!r} is not one of {', '.join(OUTCOMES)}")
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or not 0 <= samples <= 10_000:
        raise UserInputError(f"samples: {samples!r}; give 0 (nominal only) to 10000 parameter draws")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise UserInputError(f"seed: {seed!r}; give a whole number from 0 to 2**63 - 1")
    if not 0.0 < conf_level < 1.0:
        raise UserInputError(f"conf_level: {conf_level!r}; give a probability between 0 and 1, e.g. 0.95")
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise UserInputError(f"chunk: {chunk!r}; give a whole number of parameter sets per task >= 1")
    check_scheduler(scheduler, workers, security)
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
    sign = 1.0 if out_def.higher_is_better else -1.0
    priors = uncertainty_priors(sub, prior, cv) if samples else []
    # row 0: nominal parameters; rows 1..samples: the draws (ensemble samples 0..samples-1)
    drawn = draw(priors, 0, samples, int(seed)) if samples else np.zeros((0, 0))
    prior_names = [p.name for p in priors]

    def sets(program_values: Mapping[str, float]) -> tuple[list[str], np.ndarray]:
        """The arm's parameter sets: nominal, then each draw (only the priors this arm's model has)."""
        cols = [j for j, n in enumerate(prior_names) if n in program_values]
        names = [prior_names[j] for j in cols]
        base = np.array([[program_values[n] for n in names]])
        return names, np.vstack([base, drawn[:, cols]]) if names else np.zeros((samples + 1, 0))

    n_sets = samples + 1
    n_masks = 1 << len(mechanisms)

    def coalition_rows(arm: str) -> tuple[list[str], np.ndarray]:
        """Parameter names and values of every parameter set (axis 0) and coalition (axis 1) of ``arm``."""
        kos = knockout_values(sub, arm)
        program_values = build_model(sub, arm).parameter_values
        prior_cols, param_sets = sets(program_values)
        ko_names = sorted({n for d in kos.values() for n in d} - set(prior_cols))
        names = prior_cols + ko_names
        rows = np.empty((n_sets, n_masks, len(names)))
        for mask in range(n_masks):
            off = {n: v for i, m in enumerate(mechanisms) if not mask >> i & 1 for n, v in kos[m].items()}
            for j, n in enumerate(names):
                if n in off:
                    rows[:, mask, j] = off[n]
                elif j < len(prior_cols):
                    rows[:, mask, j] = param_sets[:, j]
                else:
                    rows[:, mask, j] = program_values[n]
        return names, rows

    def check(arm: str, result) -> np.ndarray:
        """The outcomes of a task, after refusing failed simulations and leaking knockouts."""
        y, failed, leaked, _ = result
        if failed:
            count, total, message = failed
            raise UserInputError(f"arms: {count} of {total} simulations of arm {arm!r} failed "
                                 f"({message}); fix the scenario so that `nephrosim simulate` runs it"
                                 + ("" if not samples else ", or draw closer to the nominal values (--cv)"))
        if leaked:
            raise RuntimeError(f"arm {arm!r}: knocking out {leaked} left their effect non-zero; the knockout "
                               "map of nephrosim.analysis.attribution no longer matches the biology")
        return y

    request = {"scenario": json.loads(sub.model_dump_json()), "outcome": outcome, "vehicle": vehicle,
               "samples": int(samples), "seed": int(seed), "prior": prior, "cv": float(cv)}
    store = Checkpoints(out_dir, "an attribution", request)
    scenario_json = sub.model_dump_json()
    # Tasks: the vehicle's parameter sets, then each arm's coalitions in chunks of `chunk`
    # parameter sets. A finished chunk is kept as `arm-<k>-sets-<start>-<stop>`, a finished arm
    # as `arm-<k>` (what a resumed run reads first).
    tasks, keys = [], []
    unit = None
    cached = store.load("vehicle")
    if cached is None:
        names, sets_vehicle = sets(build_model(sub, vehicle).parameter_values)
        tasks.append((scenario_json, vehicle, names, outcome, sets_vehicle[:, None, :], False))
        keys.append((None, 0, n_sets))  # (arm index, first set, end): None is the vehicle
    else:
        ref_all, unit = cached["y"], str(cached["unit"])
    arm_y: dict[int, np.ndarray] = {}
    for index, arm in enumerate(arms):
        cached = store.load(f"arm-{index}")
        if cached is not None and str(cached["arm"]) == arm:
            arm_y[index] = cached["y"]
            continue
        arm_y[index] = np.full((n_sets, n_masks), np.nan)
        names, rows = coalition_rows(arm)
        for start in range(0, n_sets, chunk):
            stop = min(start + chunk, n_sets)
            piece = store.load(f"arm-{index}-sets-{start:06d}-{stop:06d}")
            if piece is not None and str(piece["arm"]) == arm:
                arm_y[index][start:stop] = piece["y"]
                continue
            tasks.append((scenario_json, arm, names, outcome, rows[start:stop], True))
            keys.append((index, start, stop))
    for index, arm in enumerate(arms):
        if not np.isnan(arm_y[index]).any() and not store.has(f"arm-{index}"):
            store.save(f"arm-{index}", y=arm_y[index], arm=np.array(arm))  # every chunk was there
    with ProgressBar("attribution (parameter-set chunks)", len(tasks), 0, progress) as bar:
        if tasks:
            with open_executor(scheduler, workers, security) as executor:
                for t, result in executor.map(simulate_coalitions, tasks):
                    index, start, stop = keys[t]
                    if index is None:
                        ref_all, unit = check(vehicle, result)[:, 0], result[3]
                        store.save("vehicle", y=ref_all, unit=np.array(unit))
                    else:
                        arm = arms[index]
                        arm_y[index][start:stop] = check(arm, result)
                        if np.isnan(arm_y[index]).any():  # a chunk; the arm when it is complete
                            store.save(f"arm-{index}-sets-{start:06d}-{stop:06d}", y=arm_y[index][start:stop],
                                       arm=np.array(arm))
                        else:
                            store.save(f"arm-{index}", y=arm_y[index], arm=np.array(arm))
                    bar.advance()
    ref = float(ref_all[0])
    results = {}
    for index, arm in enumerate(arms):
        y = arm_y[index]
        v = sign * (y - y[:, :1])  # benefit over the all-knocked-out arm, per parameter set
        phi = np.array([shapley(vk) for vk in v])
        vs_vehicle = sign * (y[:, -1] - ref_all)
        full = float(v[0, -1])
        results[arm] = ArmAttribution(
            arm, mechanisms, full, float(vs_vehicle[0]), float(vs_vehicle[0]) - full,
            {m: float(p) for m, p in zip(mechanisms, phi[0])}, shapley_interactions(v[0]), v[0],
            draw_shares=phi[1:], draw_totals=v[1:, -1], draw_vs_vehicle=vs_vehicle[1:], conf_level=conf_level,
            draw_coalitions=v[1:])
    auc_unit = f"{unit}·d" if out_def.kind == "auc" else unit
    return Attribution(scenario.name, outcome, auc_unit, vehicle, ref, results, int(samples), int(seed))


# --- attribution over a grid of species and dose timing (issue 17) ---
_PER_KG = {"cells": "cells/kg", "cell_equivalents": "cell_equivalents/kg"}


def _condition(base: Scenario, species: str | None, dose_time_h: float | None) -> tuple[Scenario, str]:
    """``base`` in another species (dose per kg kept) and/or with its doses moved to start at
    ``dose_time_h`` (repeat spacing kept); and a note of what was changed."""
    from nephrosim.run.assemble import body_weight_kg

    data = base.model_dump(mode="json", exclude_none=True)
    notes = []
    if species is not None and species != base.species:
        weight = body_weight_kg(base)
        data["species"] = species
        data.pop("body_weight_g", None)
        new_weight = body_weight_kg(as_scenario({**data, "arms": [{"name": "vehicle"}]}))
        for arm in data["arms"]:
            for t in arm.get("treatments", []):
                unit = t.get("dose_unit")
                if unit in _PER_KG:  # same dose per kg
                    t["dose"], t["dose_unit"] = t["dose"] / weight, _PER_KG[unit]
                elif unit is not None and not unit.endswith("/kg"):  # EV protein or particles: scaled by weight
                    t["dose"] = t["dose"] * new_weight / weight
        notes.append(f"species {species}: doses kept per kg of body weight ({weight:g} → {new_weight:g} kg)")
    if dose_time_h is not None:
        for arm in data["arms"]:
            treatments = arm.get("treatments", [])
            if treatments:
                first = min(float(t.get("time_h", 0.0)) for t in treatments)
                for t in treatments:
                    t["time_h"] = float(dose_time_h) + float(t.get("time_h", 0.0)) - first
        notes.append(f"first dose of every treated arm at {dose_time_h:g} h")
    return as_scenario(data), "; ".join(notes)


def attribute_grid(scenario: Scenario | str | Path | Mapping, species: Sequence[str] | None = None,
                   dose_times_h: Sequence[float] | None = None, outcome: str = "scr_auc", **options):
    """:func:`attribute` on every combination of ``species`` and first-dose time ``dose_times_h``.

    Moving a scenario to another species keeps each dose per kg of body weight (cell counts become
    cells/kg; EV doses scale with body weight); moving the dose time shifts every treated arm so that
    its first dose falls at that hour (repeat doses keep their spacing). ``options`` go to
    :func:`attribute` (``samples``, ``seed``, ``prior``, ``cv``, ``arms``, ``vehicle``).

    Returns one DataFrame: the columns of :meth:`Attribution.to_frame` plus ``species``,
    ``dose_time_h``, ``total`` (the arm's paracrine benefit in the outcome's unit), ``unit`` and
    ``condition`` (what was changed).
    """
    import pandas as pd

    base = as_scenario(scenario)
    species = list(species) if species else [None]
    times = list(dose_times_h) if dose_times_h else [None]
    bad = [s for s in species if s is not None and s not in ("mouse", "rat", "human")]
    if bad:
        raise UserInputError(f"species {bad}: use mouse, rat or human")
    frames = []
    for s in species:
        for t in times:
            sc, note = _condition(base, s, t)
            result = attribute(sc, outcome, **options)
            frame = result.to_frame()
            frame.insert(0, "dose_time_h", float(t) if t is not None else math.nan)
            frame.insert(0, "species", sc.species)
            frame["total"] = frame["arm"].map({a: r.total for a, r in result.arms.items()})
            frame["unit"] = result.unit
            frame["condition"] = note or "as given"
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)
