"""Protocol optimization: which cultivation and administration protocol to make.

``optimize_protocol(spec, out_dir)`` searches the cultivation protocol
(:class:`nephrosim.scenarios.protocols.Protocol`: tissue source, passage, donor age, hypoxic
preconditioning, cytokine priming, 3D culture, serum-free medium) and the administration
(product, dose, route, time, number of doses) for the best predicted efficacy against the
risk indices of :func:`nephrosim.analysis.risks.risk_table` — a multi-objective search whose
answer is a Pareto front, not one protocol.

* **Efficacy** is robust to uncertainty: the benefit over the vehicle (for ``scr_auc``, the
  vehicle's SCr AUC minus the candidate's) is computed for ``uncertainty.samples`` parameter
  sets and the optimizer sees its lower ``efficacy_quantile`` (default the 10th percentile),
  not the mean. By default (``efficacy_scale: relative``) each set's benefit is divided by
  the vehicle's harm in that set (its outcome beyond the pre-insult value, the "rise above
  t = 0" of ``nephrosim compare``): the parameter draws change the injury's severity several
  fold (vehicle SCr AUC 0.9–11.7 mg/dL·d over 8 draws in the shipped example), and an
  absolute quantile would rank protocols mostly on the mildest injuries drawn. A parameter set draws every parameter an ensemble varies
  (:mod:`nephrosim.run.ensemble.priors`, log-normal CV or the table's range), the unknown
  donor's potency, **and** every ``protocol_*`` fold-change row the candidate reads,
  log-uniformly over its table range (these rows are read when the model is built, so the
  candidate's lot parameters are rebuilt per set). Set ``k`` depends only on the seed and
  ``k``: every candidate and the vehicle see the same sets (common random numbers).
* **Risks** (minimised; the nominal parameter set): any of ``thrombosis_index``,
  ``microembolism_peak``, ``dsa_probability_cumulative_upper``, ``fibrogenic_cell_days``,
  ``maldifferentiated_cell_days``, ``tumorigenicity_exposure_cell_days`` (see
  :mod:`nephrosim.biology.therapy.risks` for what each means and its sources).
* **Optimizer**: optuna's NSGA-II (Deb et al. 2002, IEEE Trans Evol Comput 6:182), seeded.
  The sampler proposes one generation at a time (``optimizer.population`` trials; fewer where
  the current generation is partly done) in the calling process, in trial order; the
  candidates' evaluations — each a pure function of the spec and the candidate — run in this
  process or on Dask (``scheduler``: :func:`nephrosim.run.executors.open_executor`), and are
  told to the study as they finish. NSGA-II draws a generation's candidates only from the
  completed trials of the generations before it, so the same spec and seed give the same
  trials and front serially, on any cluster, and as optuna's one-trial-at-a-time loop. The study
  lives in ``out_dir/study.journal`` (optuna's journal file, appended under a file lock):
  rerunning the same command continues the study up to ``optimizer.trials``; a changed
  spec is refused. A trial whose simulation fails is recorded as failed, with its reason,
  and counted in the summary — never scored.
* Every protocol on the front lists the ``protocol_*`` rows it relies on, the cited ones
  (provenance ``source``) apart from the assumed ones, and the front is compared with the
  reference protocols of the spec (``compare``): which front members dominate each, or
  why none does.

The compiled model of a candidate is reused for every later candidate with the same
structure (same dose events and parameters; lot attributes and doses are parameters), so
a search compiles once per product × route × timing combination.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Mapping

import numpy as np
from pydantic import Field, field_validator, model_validator

from nephrosim.analysis.attribution import OUTCOMES, uncertainty_priors
from nephrosim.analysis.risks import RISK_READOUTS, risk_table
from nephrosim.engine.simulator import TrajectoryStatus
from nephrosim.errors import UserInputError
from nephrosim.inputs import InputFileError, StrictModel, read_mapping, validate
from nephrosim.io import check_writable, write_frame
from nephrosim.progress import ProgressBar
from nephrosim.run.assemble import assemble, base_table
from nephrosim.run.ensemble.priors import draw, priors_from_table
from nephrosim.run.executors import check_scheduler, open_executor, worker_solver_options
from nephrosim.run.simulation import SimulationResult, compile_arm, solver_options
from nephrosim.scenarios.products import Donor, Route
from nephrosim.scenarios.protocols import Culture, Priming, TissueSource, load_protocol
from nephrosim.scenarios.schema import Scenario, scenario_from_dict

__all__ = ["Evaluator", "ProtocolSearchSpec", "SearchResult", "dominates", "load_spec", "optimize_protocol", "RISKS"]

#: Risk objectives (columns of :func:`nephrosim.analysis.risks.risk_table`), all minimised.
RISKS = ("thrombosis_index", "microembolism_peak", "dsa_probability_cumulative_upper", "fibrogenic_cell_days",
         "maldifferentiated_cell_days", "tumorigenicity_exposure_cell_days")
Product = Literal["msc", "conditioned_medium", "ev"]
DOSE_UNITS = {"msc": ("cells", "cells/kg"), "conditioned_medium": ("cell_equivalents", "cell_equivalents/kg"),
              "ev": ("cell_equivalents", "ug_protein", "particles")}
#: the efficacy's name in outputs
EFFICACY = "efficacy"
STUDY = "protocol_search"
JOURNAL = "study.journal"
#: compiled arms kept for reuse (a libRoadRunner instance each)
CACHE_SIZE = 32


class DoseRange(StrictModel):
    """Dose range of one product, searched log-uniformly."""

    low: float = Field(gt=0.0)
    high: float = Field(gt=0.0)
    unit: str

    @model_validator(mode="after")
    def _ordered(self):
        if not self.low <= self.high:
            raise ValueError(f"low ({self.low:g}) is above high ({self.high:g}); swap them")
        return self


class SearchSpace(StrictModel):
    """What the search may choose. Every list is a set of choices; a single entry fixes it."""

    product: tuple[Product, ...] = Field(("msc",), min_length=1)
    tissue_source: tuple[TissueSource, ...] = Field(("bone_marrow",), min_length=1)
    passage: tuple[int, int] = Field((3, 3), description="[lowest, highest] passage at harvest")
    donor_age_years: tuple[float, float] | None = Field(None, description="[youngest, oldest]; None: unstated")
    hypoxia_o2_percent: tuple[float | None, ...] = Field((None,), min_length=1,
                                                         description="O2 % choices; null = normoxia")
    hypoxia_hours: float = Field(48.0, gt=0.0, le=24 * 14)
    priming: tuple[tuple[Priming, ...], ...] = Field(((),), min_length=1, description="choices, e.g. [[], [ifn_gamma]]")
    priming_hours: float = Field(24.0, gt=0.0, le=24 * 14)
    culture: tuple[Culture, ...] = Field(("2d",), min_length=1)
    serum_free: tuple[bool, ...] = Field((False,), min_length=1)
    dose: dict[Product, DoseRange] = Field(description="dose range per product in product")
    route: tuple[Route, ...] = Field(("iv",), min_length=1)
    time_h: tuple[float, ...] = Field((0.0,), min_length=1, description="hours after the insult (choices)")
    doses_given: tuple[int, ...] = Field((1,), min_length=1, description="number of doses (choices)")
    repeat_every_h: float = Field(24.0, gt=0.0)
    donor: Donor = "allogeneic"

    @model_validator(mode="after")
    def _consistent(self):
        lo, hi = self.passage
        if not 0 <= lo <= hi <= 60:
            raise ValueError(f"passage [{lo}, {hi}]: give 0 <= lowest <= highest <= 60")
        if self.donor_age_years is not None and not 0 <= self.donor_age_years[0] <= self.donor_age_years[1] <= 110:
            raise ValueError(f"donor_age_years {list(self.donor_age_years)}: give 0 <= youngest <= oldest <= 110")
        for o2 in self.hypoxia_o2_percent:
            if o2 is not None and not 0 < o2 <= 21:
                raise ValueError(f"hypoxia_o2_percent {o2:g}: give O2 percentages in (0, 21], or null for normoxia")
        missing = [p for p in self.product if p not in self.dose]
        if missing:
            raise ValueError(f"dose: no dose range for product(s) {missing}; add `dose: {{{missing[0]}: "
                             "{low: ..., high: ..., unit: ...}}`")
        for p, d in self.dose.items():
            if d.unit not in DOSE_UNITS[p]:
                raise ValueError(f"dose.{p}.unit {d.unit!r}: use one of {list(DOSE_UNITS[p])}")
        if any(n < 1 or n > 20 for n in self.doses_given):
            raise ValueError(f"doses_given {list(self.doses_given)}: give 1 to 20 doses")
        return self


class Uncertainty(StrictModel):
    samples: int = Field(8, ge=1, le=1000, description="parameter sets per candidate")
    prior: Literal["lognormal", "table"] = "lognormal"
    cv: float = Field(0.3, ge=0.0)


class Optimizer(StrictModel):
    trials: int = Field(60, ge=1, le=100_000)
    population: int = Field(12, ge=2, le=10_000)
    seed: int = Field(0, ge=0, le=2**32 - 1)


class Reference(StrictModel):
    """A shipped protocol and how it is given, to compare with the front."""

    protocol: str = Field(description="protocol YAML, relative to the spec file")
    product: Product = "msc"
    dose: float = Field(gt=0.0)
    dose_unit: str
    route: Route = "iv"
    time_h: float = 0.0
    doses_given: int = Field(1, ge=1, le=20)

    @model_validator(mode="after")
    def _unit_of_product(self):
        if self.dose_unit not in DOSE_UNITS[self.product]:
            raise ValueError(f"dose_unit {self.dose_unit!r} is not a {self.product} dose unit; use one of "
                             f"{list(DOSE_UNITS[self.product])}")
        return self


class ProtocolSearchSpec(StrictModel):
    """An ``optimize-protocol`` spec (YAML). ``scenario`` holds the experiment's ``species``,
    ``injury`` and optionally ``body_weight_g``, ``sex``, ``parameters``, ``parameter_set``,
    ``solver``; the arms (vehicle + candidate), readouts and times are set by the search."""

    name: str = Field("protocol search", min_length=1, max_length=200)
    scenario: dict[str, Any]
    outcome: str = "scr_auc"
    efficacy_quantile: float = Field(0.1, gt=0.0, lt=1.0)
    efficacy_scale: Literal["relative", "absolute"] = Field(
        "relative", description="relative: fraction of the vehicle's harm prevented in each parameter set; "
        "absolute: the benefit in the outcome's unit")
    risks: tuple[str, ...] = Field(("thrombosis_index", "microembolism_peak", "tumorigenicity_exposure_cell_days"),
                                   min_length=1)
    search: SearchSpace
    uncertainty: Uncertainty = Uncertainty()
    optimizer: Optimizer = Optimizer()
    compare: tuple[Reference, ...] = ()

    @field_validator("outcome")
    @classmethod
    def _outcome(cls, v):
        if v not in OUTCOMES:
            raise ValueError(f"outcome {v!r}: use one of {', '.join(OUTCOMES)}")
        return v

    @field_validator("risks")
    @classmethod
    def _risks(cls, v):
        bad = [r for r in v if r not in RISKS]
        if bad:
            raise ValueError(f"risks {bad}: use names from {', '.join(RISKS)}")
        if len(set(v)) != len(v):
            raise ValueError("risks: a risk is listed twice; list each once")
        return v

    @field_validator("scenario")
    @classmethod
    def _scenario_fields(cls, v):
        allowed = {"name", "species", "sex", "body_weight_g", "injury", "parameters", "parameter_set", "solver"}
        extra = sorted(set(v) - allowed)
        if extra:
            raise ValueError(f"scenario: {extra} are set by the search (arms, readouts, times) or unknown; "
                             f"give only {sorted(allowed)}")
        if "injury" not in v or "species" not in v:
            raise ValueError("scenario: give at least `species` and `injury`")
        return v


def load_spec(path: str | Path) -> ProtocolSearchSpec:
    """Read and validate a spec YAML; every bad field is one line of one :class:`InputFileError`."""
    spec = validate(ProtocolSearchSpec, read_mapping(path, "optimize-protocol spec"), str(path),
                    "optimize-protocol spec")
    return spec


def as_spec(spec) -> tuple[ProtocolSearchSpec, Path]:
    if isinstance(spec, ProtocolSearchSpec):
        return spec, Path(".")
    if isinstance(spec, Mapping):
        return validate(ProtocolSearchSpec, dict(spec), "spec", "optimize-protocol spec"), Path(".")
    return load_spec(spec), Path(spec).parent


# ---------------------------------------------------------------------------------------------
# Evaluating one candidate


@dataclass(frozen=True)
class Evaluation:
    """One candidate's objectives: ``efficacy`` (the lower quantile), the nominal and median
    benefit, the risks, and the protocol rows it read (name → provenance)."""

    efficacy: float
    nominal_benefit: float
    median_benefit: float
    risks: Mapping[str, float]
    modifiers: Mapping[str, str]


class CandidateFailed(Exception):
    """A candidate whose simulation failed (recorded as a failed trial, never scored)."""


class Evaluator:
    """Scores candidates of one spec on common parameter sets, reusing compiled arms."""

    def __init__(self, spec: ProtocolSearchSpec):
        self.spec = spec
        self.outcome = OUTCOMES[spec.outcome]
        step = 2.0
        grid = set(np.arange(0.0, self.outcome.window_h + step / 2, step).tolist()) | {240.0, 336.0, 504.0, 672.0}
        self.times = np.array(sorted(grid))
        data = {"name": "protocol_search", **spec.scenario, "arms": [{"name": "vehicle"}],
                "readouts": [self.outcome.readout, *RISK_READOUTS], "times_h": self.times.tolist()}
        try:
            self.base = scenario_from_dict(data)
        except InputFileError as exc:
            raise UserInputError("scenario: " + str(exc).replace("\n", "\n  ")) from None
        self.table = base_table(self.base).with_overrides(dict(self.base.parameters), self.base.species)
        # one batch-engine thread per call in a Dask task (solver.threads unset), as the other Dask paths
        self.options = worker_solver_options(solver_options(self.base, "final"))
        u = spec.uncertainty
        self.n_sets = u.samples + 1
        # the ensemble priors of every product × route the search may choose (and the vehicle)
        s = spec.search
        arms = [{"name": "vehicle"}]
        for product in s.product:
            for route in s.route:
                c = {**self._any_candidate(), "product": product, "route": route, "dose": s.dose[product].low}
                arms.append({"name": f"{product}_{route}", "treatments": [self._treatment(c)]})
        every = json.loads(self.base.model_dump_json())
        every["arms"] = arms
        self.priors = uncertainty_priors(self._validated(every), u.prior, u.cv, donor_variability=True)
        self.sbml_draws = draw(self.priors, 0, u.samples, spec.optimizer.seed)
        self._cache: OrderedDict = OrderedDict()
        self._window = self.times <= self.outcome.window_h
        veh_values = dict(assemble(self.base, "vehicle", self.table).spec.parameter_values)
        y = self._simulate(self.base, "vehicle", [veh_values] + [self._drawn(veh_values, k) for k in range(u.samples)])
        self.vehicle = self._scalar(y[:, 0, :])
        # the vehicle's harm: its outcome beyond the unchanged pre-insult value (t = 0) of each set
        sign = 1.0 if self.outcome.higher_is_better else -1.0
        flat = self._scalar(np.repeat(y[:, 0, :1], self.times.size, axis=1))
        self.vehicle_harm = sign * (flat - self.vehicle)
        if spec.efficacy_scale == "relative" and np.any(self.vehicle_harm <= 0):
            raise UserInputError(f"efficacy_scale: in {int(np.sum(self.vehicle_harm <= 0))} parameter set(s) the "
                                 f"vehicle arm shows no harm on {spec.outcome}; use efficacy_scale: absolute")

    # -- building blocks
    def _any_candidate(self) -> dict:
        s = self.spec.search
        return {"product": s.product[0], "tissue_source": s.tissue_source[0], "passage": s.passage[0],
                "dose": s.dose[s.product[0]].low, "route": s.route[0], "time_h": s.time_h[0],
                "doses_given": s.doses_given[0]}

    def _treatment(self, c: Mapping) -> dict:
        s = self.spec.search
        protocol = {"tissue_source": c["tissue_source"], "passage": int(c["passage"])}
        for key in ("donor_age_years", "culture", "serum_free"):
            if c.get(key) is not None:
                protocol[key] = c[key]
        if c.get("hypoxia_o2_percent") is not None:
            protocol.update(hypoxia_o2_percent=c["hypoxia_o2_percent"], hypoxia_hours=s.hypoxia_hours)
        if c.get("priming"):
            protocol.update(priming=list(c["priming"]), priming_hours=s.priming_hours)
        unit = c.get("dose_unit") or s.dose[c["product"]].unit
        t = {"product": c["product"], "dose": float(c["dose"]), "dose_unit": unit, "route": c["route"],
             "time_h": float(c["time_h"]), "protocol": protocol}
        if c.get("doses_given", 1) > 1:
            t.update(repeat_count=int(c["doses_given"]), repeat_every_h=s.repeat_every_h)
        if c["product"] == "msc":
            t["donor"] = s.donor
        return t

    def _with_arm(self, treatment: dict) -> Scenario:
        data = json.loads(self.base.model_dump_json())
        data["arms"] = [{"name": "candidate", "treatments": [treatment]}]
        return self._validated(data)

    @staticmethod
    def _validated(data: dict) -> Scenario:
        try:
            return scenario_from_dict(data)
        except InputFileError as exc:
            raise UserInputError(f"search: a candidate is not a valid scenario ({exc}); narrow the search "
                                 "space") from None

    def _drawn(self, values: Mapping[str, float], k: int) -> dict:
        """``values`` with the SBML priors of parameter set ``k + 1`` (draw ``k``) applied."""
        out = dict(values)
        for j, p in enumerate(self.priors):
            if p.name in out:
                out[p.name] = float(self.sbml_draws[k, j])
        return out

    def _scalar(self, y: np.ndarray) -> np.ndarray:
        t, y = self.times[self._window], y[..., self._window]
        if self.outcome.kind == "auc":
            return np.trapezoid(y, t / 24.0, axis=-1)
        if self.outcome.kind == "peak":
            return y.max(axis=-1)
        return y[..., -1]

    def _protocol_priors(self, rows_read) -> list:
        rows = sorted(r for r in rows_read if r.startswith("protocol_"))
        varied = {}
        for r in rows:
            rec = self.table.record(r, "all")
            if rec.vary and rec.lower is not None and rec.upper is not None and rec.lower < rec.upper:
                varied[r] = (rec.value, rec.lower, rec.upper)
        return priors_from_table(varied, 0.0, "table")

    def _structure(self, scenario: Scenario, arm: str) -> tuple:
        """What must match for two scenarios to share a compiled model: dose events and parameters."""
        spec = assemble(scenario, arm, self.table).spec
        return (repr(sorted((e.time_h, sorted(e.assignments.items())) for e in spec.events)),
                tuple(sorted(spec.parameter_values)))

    def _canonical(self, candidate: Mapping) -> Scenario:
        """The scenario whose compiled model serves every candidate of ``candidate``'s structure.

        A compiled model keeps the tolerance scales of the scenario it was compiled from (the
        dose magnitude of the cell and factor states, :func:`nephrosim.biology.therapy.base.
        therapy_scale`), so compiling whichever candidate comes first would make a candidate's
        result depend, at the solver-tolerance level, on the candidates evaluated before it in
        the same process. The candidate is compiled instead with the low end of the search's
        dose range for its product (every candidate in the range is then solved at least as
        tightly as it would be on its own); a reference of a product the search does not choose
        keeps its own dose.
        """
        d = self.spec.search.dose.get(candidate["product"])
        if d is None:
            return self._with_arm(self._treatment(candidate))
        return self._with_arm(self._treatment({**candidate, "dose": d.low, "dose_unit": d.unit}))

    def _simulate(self, scenario: Scenario, arm: str, value_sets: list[Mapping[str, float]],
                  compile_from: Scenario | None = None) -> np.ndarray:
        """Readouts ``[set, readout, time]`` of ``arm`` for each full parameter mapping; a model
        not yet compiled for this structure is compiled from ``compile_from`` (default ``scenario``)."""
        key = self._structure(scenario, arm)
        if key in self._cache:
            self._cache.move_to_end(key)
            program, sim = self._cache[key]
        else:
            if compile_from is not None and self._structure(compile_from, arm) != key:
                raise RuntimeError(f"the dose of a {arm} changes its model's structure, not only its values; "
                                   "nephrosim.analysis.protocol_search cannot share one compiled model")
            program = compile_arm(compile_from or scenario, arm)
            sim = program.simulator(self.options)
            self._cache[key] = (program, sim)
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        # every parameter, every time: a reused simulator keeps the values an earlier candidate set
        names = sorted(program.parameter_values)
        rows = np.array([[vs[n] for n in names] for vs in value_sets])
        raw, statuses = sim.run_batch(self.times, names, rows)
        bad = [s for s in statuses if not s.ok]
        if bad:
            raise CandidateFailed(f"{len(bad)} of {len(statuses)} parameter sets failed: {bad[0].message}")
        return np.moveaxis(program.convert(raw), 2, 1)

    def evaluate(self, candidate: Mapping) -> Evaluation:
        """Objectives of one candidate (a mapping of the search's choices)."""
        scenario = self._with_arm(self._treatment(candidate))
        nominal = assemble(scenario, "candidate", self.table)
        proto_priors = self._protocol_priors(nominal.rows_read)
        seed = self.spec.optimizer.seed
        # protocol rows: their own streams (seed + 1), one column per row name, so a row's draw
        # does not depend on which other rows a candidate reads
        value_sets = [dict(nominal.spec.parameter_values)]
        for k in range(self.n_sets - 1):
            overrides = {p.name: float(draw([p], k, k + 1, _row_seed(seed, p.name))[0, 0]) for p in proto_priors}
            table = self.table.with_overrides(overrides, self.base.species) if overrides else self.table
            value_sets.append(self._drawn(assemble(scenario, "candidate", table).spec.parameter_values, k))
        y = self._simulate(scenario, "candidate", value_sets, compile_from=self._canonical(candidate))
        out = self._scalar(y[:, 0, :])
        sign = 1.0 if self.outcome.higher_is_better else -1.0
        benefit = sign * (out - self.vehicle)
        if self.spec.efficacy_scale == "relative":
            benefit = benefit / self.vehicle_harm
        draws = benefit[1:]
        efficacy = float(np.quantile(draws, self.spec.efficacy_quantile)) if draws.size else float(benefit[0])
        result = SimulationResult(scenario, self.times, {"candidate": y[0].T}, dict(zip(
            scenario.readouts, ("",) * len(scenario.readouts))), {"candidate": TrajectoryStatus("ok")})
        risk = risk_table(scenario, result, self.table).iloc[0]
        modifiers = {r: self.table.record(r, "all").provenance for r in sorted(nominal.rows_read)
                     if r.startswith("protocol_")}
        return Evaluation(efficacy, float(benefit[0]), float(np.median(draws)) if draws.size else float(benefit[0]),
                          {r: float(risk[r]) for r in self.spec.risks}, modifiers)


#: Evaluators of this process, for Dask tasks: (spec hash, one thread per call) → Evaluator; and
#: the process that built them. A forked child keeps its parent's evaluators alive and never frees
#: them (their compiled models; see :data:`nephrosim.run.executors._INHERITED`).
_EVALUATORS: OrderedDict = OrderedDict()
_EVALUATORS_OWNER = [os.getpid()]
_EVALUATORS_INHERITED: list = []


def evaluate_candidate(task) -> tuple[str, Any]:
    """One candidate's evaluation as a task for any executor: ``task = (spec_json, candidate)``.

    Returns ``("ok", Evaluation)`` or ``("failed", reason)`` (a :class:`CandidateFailed`). The
    :class:`Evaluator` of the spec is built once per process (its vehicle sets and compiled arms
    are reused by every later task of the same spec); an evaluation does not depend on which
    candidates the process evaluated before (every parameter is set for every run, and each
    structure's model is compiled from the same canonical candidate, :meth:`Evaluator._canonical`).
    """
    from nephrosim.run import executors

    spec_json, candidate = task
    if _EVALUATORS_OWNER[0] != os.getpid():
        _EVALUATORS_INHERITED.append(dict(_EVALUATORS))
        _EVALUATORS.clear()
        _EVALUATORS_OWNER[0] = os.getpid()
    key = (hashlib.sha256(spec_json.encode()).hexdigest(), executors.ONE_THREAD_PER_CALL)
    if key not in _EVALUATORS:
        if len(_EVALUATORS) >= 2:
            _EVALUATORS.popitem(last=False)
        _EVALUATORS[key] = Evaluator(ProtocolSearchSpec.model_validate_json(spec_json))
    return _evaluate(_EVALUATORS[key], candidate)


def _evaluate(evaluator: "Evaluator", candidate: Mapping) -> tuple[str, Any]:
    try:
        return "ok", evaluator.evaluate(candidate)
    except CandidateFailed as exc:
        return "failed", str(exc)


def _row_seed(seed: int, name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:8], "little") >> 1


# ---------------------------------------------------------------------------------------------
# The search


def _priming_label(p: tuple) -> str:
    return "+".join(p) if p else "none"


def _suggest(trial, s: SearchSpace) -> dict:
    """The candidate of an optuna trial (categorical choices as labels)."""
    c = {"product": trial.suggest_categorical("product", list(s.product)),
         "tissue_source": trial.suggest_categorical("tissue_source", list(s.tissue_source)),
         "passage": trial.suggest_int("passage", *s.passage)}
    if s.donor_age_years is not None:
        c["donor_age_years"] = trial.suggest_float("donor_age_years", *s.donor_age_years)
    o2 = trial.suggest_categorical("hypoxia_o2_percent", ["normoxia" if o is None else o for o in s.hypoxia_o2_percent])
    c["hypoxia_o2_percent"] = None if o2 == "normoxia" else float(o2)
    labels = {_priming_label(p): p for p in s.priming}
    c["priming"] = labels[trial.suggest_categorical("priming", list(labels))]
    c["culture"] = trial.suggest_categorical("culture", list(s.culture))
    c["serum_free"] = trial.suggest_categorical("serum_free", list(s.serum_free))
    for p in s.product:  # one dose parameter per product, so the distributions stay fixed
        d = s.dose[p]
        value = d.low if d.low == d.high else trial.suggest_float(f"dose_{p}", d.low, d.high, log=True)
        if p == c["product"]:
            c["dose"] = value
    c["route"] = trial.suggest_categorical("route", list(s.route))
    c["time_h"] = trial.suggest_categorical("time_h", list(s.time_h))
    c["doses_given"] = trial.suggest_categorical("doses_given", list(s.doses_given))
    return c


def describe(c: Mapping, s: SearchSpace) -> str:
    """A short readable label of a candidate."""
    bits = [c["product"], c["tissue_source"], f"p{c['passage']}"]
    if c.get("donor_age_years") is not None:
        bits.append(f"{c['donor_age_years']:.0f}y")
    if c.get("hypoxia_o2_percent") is not None:
        bits.append(f"{c['hypoxia_o2_percent']:g}%O2")
    if c.get("priming"):
        bits.append(_priming_label(tuple(c["priming"])))
    if c.get("culture", "2d") != "2d":
        bits.append(c["culture"])
    if c.get("serum_free"):
        bits.append("serum-free")
    unit = c.get("dose_unit") or s.dose[c["product"]].unit
    n = c.get("doses_given", 1)
    bits.append(f"{c['dose']:.3g} {unit} {c['route']} at {c['time_h']:g} h" + (f" x{n}" if n > 1 else ""))
    return " ".join(bits)


def dominates(a: Mapping[str, float], b: Mapping[str, float], risks) -> bool:
    """True when ``a`` is at least as good as ``b`` on every objective and better on one
    (efficacy higher is better, risks lower)."""
    ge = a[EFFICACY] >= b[EFFICACY] and all(a[r] <= b[r] for r in risks)
    gt = a[EFFICACY] > b[EFFICACY] or any(a[r] < b[r] for r in risks)
    return ge and gt


@dataclass(frozen=True)
class SearchResult:
    """What a search produced: ``front`` (one row per Pareto-optimal protocol), ``trials``
    (every finished trial), ``references`` (the spec's reference protocols with the front
    members that dominate each, or why none does), and the trial counts."""

    front: Any
    trials: Any
    references: Any
    completed: int
    failed: int
    computed: int
    out_dir: Path


def _request_hash(spec: ProtocolSearchSpec) -> str:
    data = spec.model_dump(mode="json")
    data.pop("compare", None)  # references are evaluated after the search; they do not change it
    data["optimizer"].pop("trials", None)  # more trials continue the same study
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _open_study(spec: ProtocolSearchSpec, out_dir: Path):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out_dir.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(out_dir / JOURNAL)))
    sampler = optuna.samplers.NSGAIISampler(population_size=spec.optimizer.population, seed=spec.optimizer.seed)
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    want = _request_hash(spec)
    if STUDY in names:
        study = optuna.load_study(study_name=STUDY, storage=storage, sampler=sampler)
        if study.user_attrs.get("request") != want:
            raise UserInputError(f"out: {out_dir} holds a search of a different spec; give another --out folder, "
                                 "or delete that folder to start again")
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            study.tell(t.number, state=optuna.trial.TrialState.FAIL)  # interrupted: never finished
        return study
    study = optuna.create_study(study_name=STUDY, storage=storage, sampler=sampler,
                                directions=["maximize"] + ["minimize"] * len(spec.risks))
    study.set_user_attr("request", want)
    return study


def _open_slots(study, population: int) -> int:
    """Trials the current NSGA-II generation still needs: ``population`` minus its completed
    trials (optuna's rule: a generation is done when ``population`` of its trials completed;
    failed trials do not count, so the generation goes on)."""
    import optuna

    key = study.sampler._get_generation_key()
    generations = [t.system_attrs.get(key) for t in study.get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
    generations = [g for g in generations if g is not None]
    if not generations:
        return population
    done = generations.count(max(generations))
    return population - done if done < population else population


def optimize_protocol(spec, out_dir: str | Path, *, trials: int | None = None,
                      progress: bool | Callable[[int, int], None] = False,
                      evaluator: Evaluator | None = None, scheduler: str | None = None, workers: int = 1,
                      security=None) -> SearchResult:
    """Search cultivation and administration protocols for efficacy against risk.

    Arguments
    ---------
    spec : a :class:`ProtocolSearchSpec`, a YAML path or a mapping (see the module docstring;
        example ``examples/protocols/optimize.yaml``).
    out_dir : folder of the study (``study.journal``), ``front.csv`` and ``trials.csv``; a
        rerun with the same spec continues the study there.
    trials : total trials wanted (default ``optimizer.trials`` of the spec).
    progress : ``True`` shows a progress bar; a callable is called ``progress(done, total)`` with the
        finished trials (those of an earlier run of the study included), before the first and after
        each (the web app's progress).
    evaluator : an :class:`Evaluator` of the same spec to reuse (its compiled arms), e.g.
        for several searches in one session (the serial path evaluates on it; Dask workers
        build their own).
    scheduler, workers, security : where the candidates are evaluated
        (:func:`nephrosim.run.executors.open_executor`): ``None``/``"serial"`` this process;
        ``"local"`` a Dask cluster of ``workers`` processes on 127.0.0.1 (TLS);
        ``"tls://host:port"`` (with ``security``) or ``"tcp://host:port"`` a running scheduler.
        optuna proposes the candidates here, one generation at a time; the trials and the front
        are the same whichever evaluates them.

    Returns
    -------
    :class:`SearchResult`.
    """
    import optuna

    spec, root = as_spec(spec)
    out_dir = Path(out_dir)
    for name in (JOURNAL, "front.csv", "trials.csv", "references.csv"):
        check_writable(out_dir / name)
    total = spec.optimizer.trials if trials is None else trials
    if isinstance(total, bool) or not isinstance(total, int) or total < 1:
        raise UserInputError(f"trials: {total!r}; give a whole number of trials >= 1")
    check_scheduler(scheduler, workers, security)
    references = [(r, load_protocol(root / r.protocol)) for r in spec.compare]
    if evaluator is None:
        evaluator = Evaluator(spec)
    elif evaluator.spec != spec:
        raise UserInputError("evaluator: it was built for another spec; build one with Evaluator(spec)")
    study = _open_study(spec, out_dir)
    done = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                         optuna.trial.TrialState.FAIL)))
    todo = computed = max(0, total - done)
    s = spec.search

    serial = scheduler in (None, "serial")
    spec_json = spec.model_dump_json()
    generation_key = study.sampler._get_generation_key()

    def tell(trial, outcome):
        status, ev = outcome
        if status == "failed":
            trial.set_user_attr("failure", ev)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return
        trial.set_user_attr("nominal_benefit", ev.nominal_benefit)
        trial.set_user_attr("median_benefit", ev.median_benefit)
        trial.set_user_attr("modifiers", json.dumps(ev.modifiers))
        study.tell(trial, [ev.efficacy, *(ev.risks[r] for r in spec.risks)])

    report = progress if callable(progress) else (lambda done, total: None)
    finished = min(done, total)
    report(finished, total)
    with ProgressBar("protocol trials", total, finished, progress is True) as bar:
        with open_executor(None if serial or not todo else scheduler, workers, security) as executor:
            fn = (lambda task: _evaluate(evaluator, task[1])) if serial else evaluate_candidate
            while todo > 0:
                # one generation (or what is left of it) at a time: NSGA-II draws these candidates
                # from the completed trials of earlier generations only, so evaluating them together
                # proposes what the one-at-a-time loop would
                asked = [study.ask() for _ in range(min(todo, _open_slots(study, spec.optimizer.population)))]
                candidates = []
                for trial in asked:
                    candidates.append(_suggest(trial, s))
                    trial.set_user_attr("candidate", json.dumps(candidates[-1]))
                numbers = {t.number for t in asked}
                generations = {t.system_attrs.get(generation_key) for t in study.get_trials(deepcopy=False)
                               if t.number in numbers}
                if len(generations) > 1:  # ({None}: every choice of the space is fixed, nothing was sampled)
                    raise RuntimeError(f"optuna put one batch of candidates in generations {generations}; "
                                       "this optuna version assigns generations differently from what "
                                       "nephrosim.analysis.protocol_search expects")
                for i, outcome in executor.map(fn, [(spec_json, c) for c in candidates]):
                    tell(asked[i], outcome)  # as each finishes: the journal is current after every trial
                    bar.advance()
                    finished += 1
                    report(finished, total)
                todo -= len(asked)

    trials_frame = _trials_frame(study, spec)
    # NSGA-II may propose the same protocol twice: the front lists it once (its first trial)
    front = (trials_frame[trials_frame["pareto"]].drop(columns="pareto").drop_duplicates("protocol")
             .reset_index(drop=True))
    refs = _compare(evaluator, references, front, spec)
    write_frame(trials_frame, out_dir / "trials.csv")
    write_frame(front, out_dir / "front.csv")
    if len(refs):
        write_frame(refs, out_dir / "references.csv")
    failed = int((~trials_frame["complete"]).sum()) if len(trials_frame) else 0
    return SearchResult(front, trials_frame[trials_frame["complete"]], refs, int(trials_frame["complete"].sum()),
                        failed, computed, out_dir)


def _modifier_columns(modifiers: Mapping[str, str]) -> dict:
    cited = [n for n, p in modifiers.items() if p == "source"]
    assumed = [n for n, p in modifiers.items() if p != "source"]
    return {"cited_modifiers": "; ".join(cited), "assumed_modifiers": "; ".join(assumed),
            "n_assumed": len(assumed)}


def _trials_frame(study, spec):
    import optuna
    import pandas as pd

    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.state not in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL):
            continue
        c = json.loads(t.user_attrs.get("candidate", "{}"))
        row = {"trial": t.number, "complete": t.state == optuna.trial.TrialState.COMPLETE,
               "protocol": describe(c, spec.search) if c else "", **{f"choice_{k}": (
                   _priming_label(tuple(v)) if k == "priming" else v) for k, v in c.items()}}
        if row["complete"]:
            row[EFFICACY] = t.values[0]
            row.update({r: v for r, v in zip(spec.risks, t.values[1:])})
            row["nominal_benefit"] = t.user_attrs.get("nominal_benefit")
            row["median_benefit"] = t.user_attrs.get("median_benefit")
            row.update(_modifier_columns(json.loads(t.user_attrs.get("modifiers", "{}"))))
        else:
            row["failure"] = t.user_attrs.get("failure", "interrupted before it finished")
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame.assign(pareto=pd.Series(dtype=bool), complete=pd.Series(dtype=bool))
    best = {t.number for t in study.best_trials}
    frame["pareto"] = frame["trial"].isin(best)
    return frame


def _compare(evaluator: Evaluator, references, front, spec):
    """Each reference protocol's objectives, the front members that dominate it, or why none does."""
    import pandas as pd

    rows = []
    for ref, protocol in references:
        c = {"product": ref.product, "tissue_source": protocol.tissue_source, "passage": protocol.passage,
             "donor_age_years": protocol.donor_age_years, "hypoxia_o2_percent": protocol.hypoxia_o2_percent,
             "priming": protocol.priming, "culture": protocol.culture, "serum_free": protocol.serum_free,
             "dose": ref.dose, "dose_unit": ref.dose_unit, "route": ref.route, "time_h": ref.time_h,
             "doses_given": ref.doses_given}
        label = protocol.name
        try:
            ev = evaluator.evaluate(c)
        except CandidateFailed as exc:
            rows.append({"reference": label, "failure": str(exc)})
            continue
        point = {EFFICACY: ev.efficacy, **ev.risks}
        if front.empty:
            rows.append({"reference": label, "protocol": describe(c, spec.search), **point,
                         "verdict": "no front to compare with: no trial completed"})
            continue
        winners = [int(f["trial"]) for _, f in front.iterrows() if dominates(f, point, spec.risks)]
        if winners:
            why = f"dominated by {len(winners)} front member(s)"
        else:
            better = front[front[EFFICACY] >= ev.efficacy]
            if better.empty:
                why = (f"none dominates: no front member reaches its efficacy ({ev.efficacy:.3g}); it lies "
                       "outside the search space or beyond what the search found")
            else:
                worse = [r for r in spec.risks if (better[r] > point[r]).all()]
                why = ("none dominates: every member at least as effective has a higher "
                       + (", ".join(worse) if worse else "value on some risk (each a different one)"))
        rows.append({"reference": label, "protocol": describe(c, spec.search), **point,
                     "nominal_benefit": ev.nominal_benefit, "dominated_by_trials": " ".join(map(str, winners)),
                     "verdict": why, **_modifier_columns(ev.modifiers)})
    return pd.DataFrame(rows)
