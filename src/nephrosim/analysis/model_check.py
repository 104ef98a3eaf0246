"""Check the untreated injury model against its literature targets.

The targets — design, literature window, source and whether a parameter was fitted to them
(``kind``: ``in_sample``, ``by_construction`` or ``held_out``) — are data, in
``nephrosim/analysis/targets/literature_targets.yaml``; this module and the tests in
``tests/validation/`` both read that one file. :func:`evaluate` checks one target;
:func:`check_model` checks them all, writes ``report.md`` (one section per kind, with met and
missed counts) and one PNG per target group, and returns the :class:`TargetResult` list.

Each named scenario of the file is simulated once per process (cached) and shared by every
check that names it.

Examples
--------
>>> from nephrosim.analysis.model_check import check_model, evaluate, load_targets
>>> targets = load_targets()                                  # doctest: +SKIP
>>> evaluate(targets.get("mouse_clp_survival")).passed        # doctest: +SKIP
>>> results = check_model("reports/model")                    # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import numpy as np
from pydantic import Field, model_validator

from nephrosim.engine.simulator import Simulator
from nephrosim.errors import UserInputError
from nephrosim.figures import subplots
from nephrosim.inputs import InputFileError, StrictModel, read_mapping, validate
from nephrosim.run.simulation import export_sbml, simulate

__all__ = ["Check", "CheckResult", "Scenario", "Target", "TargetResult", "TargetSet", "KINDS", "CORE_READOUTS",
           "check_model", "evaluate", "load_targets", "run_scenario", "untreated_run"]

#: The three kinds of target, in report order, with what a reader should conclude from each.
KINDS: dict[str, str] = {
    "in_sample": "a parameter was hand-calibrated or formally fitted to the target: meeting it shows "
                 "the calibration holds, not that the model predicts",
    "by_construction": "the model's structure or an input parameter guarantees the target: a check that "
                       "the code does what it says",
    "held_out": "nothing was fitted to the target: the only validation in this report",
}
TARGETS_FILE = "targets/literature_targets.yaml"

Quantity = Literal["value_at", "fold_at", "mortality_at", "peak_time", "max_value", "max_fold", "fold_between",
                   "ratio_to", "difference_to", "readout_ratio_at", "peak_lag", "min_successive_peak_ratio",
                   "max_state_drift"]
_NEEDS_TIME = {"value_at", "fold_at", "mortality_at", "fold_between", "ratio_to", "difference_to", "readout_ratio_at"}
_NEEDS_REFERENCE = {"ratio_to", "difference_to"}
_NEEDS_REFERENCE_READOUT = {"readout_ratio_at", "peak_lag"}
#: Times simulated after the hourly first week when a check reaches further.
_LATE_H = (192, 240, 336, 384, 504, 672, 1008, 1344, 2016, 2688, 4320)


# --------------------------------------------------------------------------- the file's schema


class Scenario(StrictModel):
    """One simulation, shared by every check that names it: untreated, unless ``treatments`` lists
    the doses of its one arm (the scenario file's product schema: product, dose, route, time_h, ...)
    for a target about a therapy's effect."""

    species: Literal["mouse", "rat", "human"]
    injury: dict[str, Any]
    treatments: tuple[dict[str, Any], ...] = ()
    parameter_set: Literal["calibrated", "table"] = "calibrated"
    units: dict[str, str] = Field(default_factory=dict)
    note: str = ""


class Source(StrictModel):
    citation: str = Field(min_length=1)
    id: str = ""
    quote: str = ""


class Check(StrictModel):
    """One computed quantity and its literature window (see the file's header for the vocabulary)."""

    what: str = Field(min_length=1)
    scenarios: tuple[str, ...] = Field(min_length=1)
    quantity: Quantity
    readout: str | None = None
    time_h: float | None = Field(None, ge=0)
    from_h: float | None = Field(None, ge=0)
    times_h: tuple[float, ...] | None = None
    sampled_h: tuple[float, ...] | None = None
    over_h: tuple[float, float] = (0.0, 168.0)
    reference: str | None = None
    reference_readout: str | None = None
    window: tuple[float | None, float | None] | None = None
    bounds: Literal["[]", "()", "(]", "[)"] = "[]"
    window_from: Literal["normal_range", "above_normal_range"] | None = None
    unit: str = Field(min_length=1)
    basis: str = ""

    @model_validator(mode="after")
    def _fields_for_quantity(self):
        q = self.quantity
        if q != "max_state_drift" and not self.readout:
            raise ValueError(f"quantity {q}: add `readout`")
        if q in _NEEDS_TIME and self.time_h is None:
            raise ValueError(f"quantity {q}: add `time_h`")
        if q == "fold_between" and self.from_h is None:
            raise ValueError("quantity fold_between: add `from_h`")
        if q in _NEEDS_REFERENCE and not self.reference:
            raise ValueError(f"quantity {q}: add `reference` (a scenario name)")
        if q in _NEEDS_REFERENCE_READOUT and not self.reference_readout:
            raise ValueError(f"quantity {q}: add `reference_readout`")
        if q == "max_state_drift" and not self.times_h:
            raise ValueError("quantity max_state_drift: add `times_h`")
        if q == "min_successive_peak_ratio" and len(self.scenarios) < 2:
            raise ValueError("quantity min_successive_peak_ratio: give at least two scenarios, in order")
        if self.window is not None and self.window_from is not None:
            raise ValueError("give `window` or `window_from`, not both")
        if self.window is not None:
            lo, hi = self.window
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"window {list(self.window)}: low is above high")
        if self.over_h[0] > self.over_h[1]:
            raise ValueError(f"over_h {list(self.over_h)}: start after end")
        return self

    @property
    def checked(self) -> bool:
        """False for a check that is reported only (no window)."""
        return self.window is not None or self.window_from is not None


class Target(StrictModel):
    """One literature target: a statement, its source, its kind and the checks that decide it."""

    id: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    species: Literal["mouse", "rat", "human"]
    design: str = Field(min_length=1)
    statement: str = Field(min_length=1)
    source: Source
    kind: Literal["in_sample", "held_out", "by_construction"]
    kind_reason: str = Field(min_length=1)
    known_miss: str | None = Field(None, min_length=1)
    note: str = ""
    checks: tuple[Check, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _something_is_checked(self):
        if not any(c.checked for c in self.checks):
            raise ValueError(f"target {self.id}: every check is report-only; give at least one a window")
        return self


class _TargetsFile(StrictModel):
    scenarios: dict[str, Scenario]
    targets: tuple[Target, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self):
        ids = [t.id for t in self.targets]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"target ids appear more than once: {dup}")
        for t in self.targets:
            for c in t.checks:
                for name in (*c.scenarios, *([c.reference] if c.reference else [])):
                    if name not in self.scenarios:
                        raise ValueError(f"target {t.id}, check {c.what!r}: scenario {name!r} is not defined "
                                         f"under `scenarios`")
        return self


@dataclass(frozen=True, eq=False)
class TargetSet:
    """The targets file, validated, with each check's window resolved (``window_from``)."""

    scenarios: Mapping[str, Scenario]
    targets: tuple[Target, ...]
    windows: Mapping[tuple[str, int], tuple[float | None, float | None, str, str]]
    source: str

    def get(self, target_id: str) -> Target:
        for t in self.targets:
            if t.id == target_id:
                return t
        raise KeyError(f"no target {target_id!r} in {self.source}")

    def of_kind(self, kind: str) -> tuple[Target, ...]:
        if kind not in KINDS:
            raise ValueError(f"kind {kind!r}: use one of {list(KINDS)}")
        return tuple(t for t in self.targets if t.kind == kind)

    def window(self, target: Target, index: int) -> tuple[float | None, float | None, str, str]:
        """``(low, high, bounds, basis)`` of check ``index`` of ``target``."""
        return self.windows[(target.id, index)]

    def plan(self, scenario: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
        """The readouts and output times one run of ``scenario`` must give every check."""
        return _plans(self)[scenario]


def _normal_ranges() -> dict[tuple[str, str], dict[str, str]]:
    text = resources.files("nephrosim.biology").joinpath("normal_ranges.csv").read_text("utf-8")
    return {(r["species"], r["readout"]): r for r in csv.DictReader(text.splitlines())}


def _resolve_windows(data: _TargetsFile, source: str) -> dict:
    ranges = _normal_ranges()
    windows, problems = {}, []
    for t in data.targets:
        for i, c in enumerate(t.checks):
            if c.window_from is None:
                lo, hi = c.window if c.window is not None else (None, None)
                windows[(t.id, i)] = (lo, hi, c.bounds, c.basis)
                continue
            species = data.scenarios[c.scenarios[0]].species
            row = ranges.get((species, c.readout))
            if row is None:
                problems.append(f"target {t.id}, check {c.what!r}: normal_ranges.csv has no row ({species}, "
                                f"{c.readout}); give a window")
                continue
            if row["unit"] != c.unit:
                problems.append(f"target {t.id}, check {c.what!r}: unit {c.unit!r} but the normal range is in "
                                f"{row['unit']!r}; use that unit (and the scenario's `units`)")
                continue
            lo, hi = float(row["lower"]), float(row["upper"])
            cited = f"normal_ranges.csv ({species}, {c.readout}: {lo:g}–{hi:g} {row['unit']}; " \
                    f"{row['citation']}{', ' + row['pmid_or_doi'] if row['pmid_or_doi'] else ''})"
            basis = f"{c.basis + '; ' if c.basis else ''}{cited}"
            windows[(t.id, i)] = ((lo, hi, "[]", basis) if c.window_from == "normal_range"
                                  else (hi, None, "(]", basis))
    if problems:
        raise InputFileError(source, problems)
    return windows


@lru_cache(maxsize=None)
def load_targets(path: str | None = None) -> TargetSet:
    """Read and validate the literature targets (the packaged file unless ``path`` is given).

    Arguments
    ---------
    path : a targets YAML file; ``None`` reads ``nephrosim/analysis/targets/literature_targets.yaml``.

    Returns
    -------
    A :class:`TargetSet`. A malformed file raises :class:`~nephrosim.inputs.InputFileError`
    naming the target, the field and the fix.
    """
    if path is None:
        with resources.as_file(resources.files("nephrosim.analysis").joinpath(TARGETS_FILE)) as p:
            raw, source = read_mapping(p, what="targets"), str(p)
    else:
        raw, source = read_mapping(path, what="targets"), str(path)
    data = validate(_TargetsFile, raw, source, what="targets")
    return TargetSet(data.scenarios, data.targets, _resolve_windows(data, source), source)


@lru_cache(maxsize=None)
def _plans(ts: TargetSet) -> dict[str, tuple[tuple[str, ...], tuple[float, ...]]]:
    readouts: dict[str, set[str]] = {name: set() for name in ts.scenarios}
    times: dict[str, set[float]] = {name: {0.0} for name in ts.scenarios}
    for t in ts.targets:
        for c in t.checks:
            names = (*c.scenarios, *([c.reference] if c.reference else []))
            wanted = {r for r in (c.readout, c.reference_readout) if r}
            at = {x for x in (c.time_h, c.from_h) if x is not None} | set(c.sampled_h or ()) | {*c.over_h}
            for name in names:
                readouts[name] |= wanted
                times[name] |= at
    for plot in _PLOTS:  # the report's plots draw from the same runs
        for s in plot.series:
            if s.scenario in readouts:
                readouts[s.scenario].add(s.readout)
    plans = {}
    for name in ts.scenarios:
        horizon = max(times[name] | {168.0})
        grid = set(np.arange(0.0, 169.0)) | {h for h in _LATE_H if h <= horizon} | times[name]
        plans[name] = (tuple(sorted(readouts[name])), tuple(sorted(float(x) for x in grid)))
    return plans


# --------------------------------------------------------------------------- simulation (cached)


#: Readouts of the injury core that every cached run gives, so that callers asking for a subset
#: (the checks of the targets file, tests/model) share one simulation per design.
CORE_READOUTS = ("serum_creatinine", "bun", "gfr", "tubular_injury_score", "necrosis", "casts", "proliferation",
                 "ptc_density", "neutrophils", "m1", "m2", "macrophages", "tnf", "il10", "tgfb", "myofibroblasts",
                 "fibrosis_area", "ros", "mda", "gsh", "kim1", "ngal", "survival")
#: Output times of every cached run (hourly first week, then checkpoints to 180 days); integrating
#: to 180 days costs little next to compiling the model.
_GRID_H = tuple(float(h) for h in range(169)) + tuple(float(h) for h in _LATE_H)
_RUNS: dict[str, dict[str, np.ndarray]] = {}


def _design_key(design: Mapping[str, Any]) -> tuple[str, dict]:
    """A design (species, injury, parameter_set, units) with every default filled in, as a cache key."""
    from nephrosim.run.simulation import as_scenario

    sc = as_scenario({**design, "readouts": ["serum_creatinine"], "times_h": [0.0]})
    spec = {"species": sc.species, "injury": sc.injury.model_dump(mode="json"), "parameter_set": sc.parameter_set,
            "units": dict(sc.units)}
    if sc.body_weight_g is not None:
        spec["body_weight_g"] = sc.body_weight_g
    if sc.arms[0].treatments:  # a treated design: its arm and doses are part of what is simulated
        spec["arms"] = [sc.arms[0].model_dump(mode="json")]
    return json.dumps(spec, sort_keys=True), spec


def untreated_run(design: Mapping[str, Any], readouts: Sequence[str], times: Sequence[float]) -> dict[str, np.ndarray]:
    """The one arm of ``design`` (the vehicle, unless ``design`` gives ``arms`` with one treated arm):
    ``{readout: values at times, "time_h": times}``.

    One simulation per design and process: a run gives the injury core's readouts (and any
    other asked for) on the hourly first week and later checkpoints, and later calls asking for
    a subset are served from it.

    Arguments
    ---------
    design : ``species``, ``injury`` and optionally ``parameter_set``, ``units``, ``body_weight_g``,
        ``arms`` (one arm, with its ``treatments``, for a treated target scenario).
    readouts, times : what to return (hours after the insult).

    Returns
    -------
    A dict of new arrays. A solver failure raises ``RuntimeError`` with the solver's status.
    """
    key, spec = _design_key(design)
    want_r, want_t = tuple(readouts), tuple(float(t) for t in times)
    run = _RUNS.get(key)
    if run is None or not set(want_r) <= run.keys() or not set(want_t) <= set(run["time_h"].tolist()):
        have_r = tuple(k for k in (run or {}) if k != "time_h")
        grid = tuple(sorted(set(_GRID_H) | set(want_t) | set(run["time_h"].tolist() if run else ())))
        asked = tuple(dict.fromkeys((*CORE_READOUTS, *have_r, *want_r)))
        try:
            result = simulate({**spec, "readouts": list(asked), "times_h": list(grid)})
        except UserInputError:  # a model without the tissue core (clearance_change): only what was asked
            asked = tuple(dict.fromkeys(want_r))
            result = simulate({**spec, "readouts": list(asked), "times_h": list(grid)})
        arm = result.scenario.arms[0].name  # "vehicle" when untreated
        status = result.statuses[arm]
        if not status.ok:
            raise RuntimeError(f"{spec['species']} {spec['injury']}: {status.code} {status.message}")
        run = {r: np.asarray(result.get(arm, r), dtype=float) for r in asked}
        run["time_h"] = np.asarray(grid, dtype=float)
        _RUNS[key] = run
    index = np.searchsorted(run["time_h"], want_t)
    out = {r: run[r][index].copy() for r in want_r}
    out["time_h"] = np.asarray(want_t, dtype=float)
    return out


def _scenario_spec(sc: Scenario) -> dict:
    spec = {"species": sc.species, "injury": dict(sc.injury), "parameter_set": sc.parameter_set}
    if sc.treatments:
        spec["arms"] = [{"name": "treated", "treatments": [dict(t) for t in sc.treatments]}]
    if sc.units:
        spec["units"] = dict(sc.units)
    return spec


def run_scenario(name: str, targets: TargetSet | None = None) -> dict[str, np.ndarray]:
    """The run of the targets file's scenario ``name``: ``{readout: values, "time_h": times}``.

    Served by :func:`untreated_run` (one simulation per design and process) on the output grid
    that every check of the file needs.
    """
    ts = targets or load_targets()
    if name not in ts.scenarios:
        raise KeyError(f"no scenario {name!r} in {ts.source}")
    readouts, times = ts.plan(name)
    return untreated_run(_scenario_spec(ts.scenarios[name]), readouts, times)


@lru_cache(maxsize=None)
def _state_drift(scenario_json: str, times: tuple[float, ...]) -> tuple[float, int]:
    spec = json.loads(scenario_json)
    sbml = export_sbml({**spec, "readouts": ["gfr"], "times_h": [0, 1]})
    states = Simulator(sbml, ["gfr_ml_min"]).state_trajectories(list(times))
    drift = max(float(np.max(np.abs(x - x[0])) / abs(x[0])) if abs(x[0]) > 1e-9 else float(np.max(np.abs(x)))
                for x in states.values())
    return drift, len(states)


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class CheckResult:
    """One check: its simulated value(s), its window and whether they meet it.

    ``values`` pairs each scenario (or ``"series"``) with its value; ``passed`` is ``None`` for
    a report-only check.
    """

    what: str
    values: tuple[tuple[str, float], ...]
    low: float | None
    high: float | None
    bounds: str
    unit: str
    basis: str
    passed: bool | None

    def window_text(self) -> str:
        if self.passed is None:
            return "reported, not checked"
        lo, hi = self.low, self.high
        if lo is not None and hi is not None and lo == hi:
            return _fmt(lo)
        if lo is not None and hi is not None:
            if self.bounds == "[]":
                return f"{_fmt(lo)}–{_fmt(hi)}"
            return f"{self.bounds[0]}{_fmt(lo)}, {_fmt(hi)}{self.bounds[1]}"
        if lo is not None:
            return f"{'>' if self.bounds[0] == '(' else '≥'} {_fmt(lo)}"
        return f"{'<' if self.bounds[1] == ')' else '≤'} {_fmt(hi)}"

    def text(self) -> str:
        vals = (_fmt(self.values[0][1]) if len(self.values) == 1
                else ", ".join(f"{k}: {_fmt(v)}" for k, v in self.values))
        if self.passed is None:
            return f"{self.what}: {vals} {self.unit} (reported, not checked)"
        return f"{self.what}: {vals} {self.unit} (target {self.window_text()}) {'✓' if self.passed else '✗'}"


@dataclass(frozen=True)
class TargetResult:
    """One literature target and how the model does on it.

    Arguments
    ---------
    name : the target's id.
    species, injury : the simulated design.
    target : the literature statement, with numbers.
    source : citation (and DOI/PMID where known).
    simulated : what the model gives, check by check.
    passed : whether the model meets every check.
    reason : for a miss, why (the file's ``known_miss``) or that the miss is new; otherwise notes.
    plot : PNG file (relative to the report folder) or ``""``.
    kind : ``in_sample``, ``by_construction`` or ``held_out``; kind_reason says why.
    known_miss : the file's ``known_miss`` text (``None`` when the model is expected to meet it).
    checks : the :class:`CheckResult` of every check.
    """

    name: str
    species: str
    injury: str
    target: str
    source: str
    simulated: str
    passed: bool
    reason: str = ""
    plot: str = ""
    kind: str = "in_sample"
    kind_reason: str = ""
    known_miss: str | None = None
    checks: tuple[CheckResult, ...] = ()

    @property
    def status(self) -> str:
        """``met``, ``known miss``, ``NEW MISS`` or ``known miss now met`` (update the targets file)."""
        if self.passed:
            return "known miss now met" if self.known_miss else "met"
        return "known miss" if self.known_miss else "NEW MISS"


def _fmt(v: float) -> str:
    if v is None or not math.isfinite(v):
        return str(v)
    return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.4g}"


def _at(d: dict, readout: str, t: float) -> float:
    i = int(np.argmin(np.abs(d["time_h"] - t)))
    if abs(d["time_h"][i] - t) > 1e-9:
        raise RuntimeError(f"time {t} h is not on the output grid")  # the plan always includes it
    return float(d[readout][i])


def _window_mask(d: dict, over: tuple[float, float]) -> np.ndarray:
    return (d["time_h"] >= over[0] - 1e-9) & (d["time_h"] <= over[1] + 1e-9)


def _peak_time(d: dict, readout: str, c: Check) -> float:
    if c.sampled_h:
        values = [_at(d, readout, t) for t in c.sampled_h]
        return float(c.sampled_h[int(np.argmax(values))])
    m = _window_mask(d, c.over_h)
    return float(d["time_h"][m][int(np.argmax(d[readout][m]))])


def _peak_value(d: dict, readout: str, c: Check) -> float:
    return float(np.max(d[readout][_window_mask(d, c.over_h)]))


def _ratio(a: float, b: float) -> float:
    return a / b if b != 0 else math.nan


def _quantity(c: Check, name: str, ts: TargetSet) -> float:
    if c.quantity == "max_state_drift":
        return _state_drift(json.dumps(_scenario_spec(ts.scenarios[name]), sort_keys=True), tuple(c.times_h))[0]
    return quantity_of(c, run_scenario(name, ts), run_scenario(c.reference, ts) if c.reference else None)


def quantity_of(c: Check, d: dict, reference: dict | None = None) -> float:
    """The check's quantity from one run ``d`` (``{readout: values, "time_h": times}``) and, for
    ``ratio_to``/``difference_to``, the reference scenario's run — the one definition that
    ``check-model`` and the target calibration (:mod:`nephrosim.calibration.targets`) share."""
    q, r = c.quantity, c.readout
    if q == "value_at":
        return _at(d, r, c.time_h)
    if q == "fold_at":
        return _ratio(_at(d, r, c.time_h), _at(d, r, 0.0))
    if q == "mortality_at":
        return 100.0 - _at(d, r, c.time_h)
    if q == "peak_time":
        return _peak_time(d, r, c)
    if q == "max_value":
        return _peak_value(d, r, c)
    if q == "max_fold":
        return _ratio(_peak_value(d, r, c), _at(d, r, 0.0))
    if q == "fold_between":
        return _ratio(_at(d, r, c.time_h), _at(d, r, c.from_h))
    if q == "ratio_to":
        return _ratio(_at(d, r, c.time_h), _at(reference, r, c.time_h))
    if q == "difference_to":
        return _at(d, r, c.time_h) - _at(reference, r, c.time_h)
    if q == "readout_ratio_at":
        return _ratio(_at(d, r, c.time_h), _at(d, c.reference_readout, c.time_h))
    if q == "peak_lag":
        return _peak_time(d, r, c) - _peak_time(d, c.reference_readout, c)
    raise ValueError(f"quantity {q} is not computed per scenario")


def successive_peak_ratio(c: Check, runs: Sequence[dict]) -> float:
    """``min_successive_peak_ratio`` over the ordered runs of ``c.scenarios``."""
    peaks = [_peak_value(d, c.readout, c) for d in runs]
    return min(_ratio(b, a) for a, b in zip(peaks, peaks[1:]))


def _in_window(v: float, lo: float | None, hi: float | None, bounds: str) -> bool:
    if not math.isfinite(v):
        return False
    above = lo is None or (v > lo if bounds[0] == "(" else v >= lo)
    below = hi is None or (v < hi if bounds[1] == ")" else v <= hi)
    return above and below


def _evaluate_check(target: Target, index: int, ts: TargetSet) -> CheckResult:
    c = target.checks[index]
    if c.quantity == "min_successive_peak_ratio":
        values = (("series", successive_peak_ratio(c, [run_scenario(n, ts) for n in c.scenarios])),)
    else:
        values = tuple((n, _quantity(c, n, ts)) for n in c.scenarios)
    lo, hi, bounds, basis = ts.window(target, index)
    passed = all(_in_window(v, lo, hi, bounds) for _, v in values) if c.checked else None
    return CheckResult(c.what, values, lo, hi, bounds, c.unit, basis, passed)


def evaluate(target: Target | str, targets: TargetSet | None = None) -> TargetResult:
    """Check one target against the model (simulating its scenarios once per process).

    Arguments
    ---------
    target : a :class:`Target` or its id.
    targets : the :class:`TargetSet` it belongs to (default: the packaged file).

    Returns
    -------
    The :class:`TargetResult`; ``passed`` is True when every windowed check is met.
    """
    ts = targets or load_targets()
    t = ts.get(target) if isinstance(target, str) else target
    checks = tuple(_evaluate_check(t, i, ts) for i in range(len(t.checks)))
    passed = all(c.passed for c in checks if c.passed is not None)
    if passed:
        reason = t.note
    elif t.known_miss:
        reason = f"[{t.kind}, known miss] {t.known_miss}"
    else:
        failed = "; ".join(c.what for c in checks if c.passed is False)
        reason = f"[{t.kind}] NEW MISS (not marked known_miss in the targets file): {failed}"
    notes = sorted({ts.scenarios[n].note for c in t.checks for n in c.scenarios if ts.scenarios[n].note})
    source = "; ".join(x for x in (t.source.citation, t.source.id) if x)
    if t.source.quote:
        source += f': "{t.source.quote}"'
    design = t.design + (f" [{'; '.join(notes)}]" if notes else "")
    return TargetResult(t.id, t.species, design, t.statement, source, "; ".join(c.text() for c in checks), passed,
                        reason, "", t.kind, t.kind_reason, t.known_miss, checks)


# --------------------------------------------------------------------------- plots


@dataclass(frozen=True)
class _Series:
    label: str
    scenario: str
    readout: str
    relative: bool = False
    scale: float = 1.0


@dataclass(frozen=True)
class _Plot:
    file: str
    title: str
    targets: tuple[str, ...]
    series: tuple[_Series, ...]
    ylabel: str
    xmax: float | None = 168.0


_PLOTS = (
    _Plot("mouse_iri_scr.png", "Mouse bilateral IRI: serum creatinine by clamp time",
          ("mouse_iri_peak_time", "mouse_iri_clamp_monotone", "mouse_iri_18min_scr24"),
          tuple(_Series(f"{c} min", f"mouse_iri_{c}", "serum_creatinine") for c in (15, 18, 20, 25, 30, 35)),
          "SCr (mg/dL)"),
    _Plot("mouse_iri_gfr_vs_scr.png", "Mouse 18-min IRI: GFR lags creatinine", ("mouse_iri_gfr_lag",),
          (_Series("GFR / baseline", "mouse_iri_18", "gfr", True),
           _Series("SCr / baseline", "mouse_iri_18", "serum_creatinine", True)), "relative to baseline"),
    _Plot("mouse_iri_inflammation.png", "Mouse IRI: innate inflammation (22 and 30 min)",
          ("mouse_iri_macrophage_peak", "mouse_iri_m1_m2_switch"),
          (_Series("neutrophils, 22 min", "mouse_iri_22", "neutrophils"),
           _Series("macrophages, 22 min", "mouse_iri_22", "macrophages"),
           _Series("M1, 30 min", "mouse_iri_30", "m1"), _Series("M2, 30 min", "mouse_iri_30", "m2")),
          "relative units", 120.0),
    _Plot("mouse_iri_capillaries.png", "Mouse IRI: peritubular capillaries", ("mouse_iri_capillary_loss",),
          (_Series("35 min (severe)", "mouse_iri_35", "ptc_density"),
           _Series("18 min (moderate)", "mouse_iri_18", "ptc_density")), "PTC density (% of normal)", None),
    _Plot("rat_iri_45.png", "Rat 45-min bilateral IRI (lab severity)", ("rat_iri45_time_course",),
          (_Series("SCr (mg/dL)", "rat_iri_45_lab", "serum_creatinine"),
           _Series("injury score (0-4)", "rat_iri_45_lab", "tubular_injury_score")), "value"),
    _Plot("rat_iri_capillaries.png", "Rat IRI: capillaries (Basile 2001: −30 to −50 %)",
          ("rat_iri_capillary_loss",),
          (_Series("60 min", "rat_iri_60_lab", "ptc_density"), _Series("45 min", "rat_iri_45_lab", "ptc_density")),
          "PTC density (% of normal)", None),
    _Plot("rat_adult_iri.png", "Adult rat 60/75-min IRI (held out): serum creatinine", ("rat_adult_iri_peak_day3",),
          (_Series("60 min", "rat_iri_60", "serum_creatinine"), _Series("75 min", "rat_iri_75", "serum_creatinine")),
          "SCr (mg/dL)"),
    _Plot("rat_cisplatin.png", "Rat cisplatin: serum creatinine by dose", ("rat_cisplatin_peak_and_dose",),
          tuple(_Series(f"{d} mg/kg", f"rat_cisplatin_{s}", "serum_creatinine")
                for d, s in ((1.0, "1"), (2.5, "2_5"), (5.0, "5"), (7.5, "7_5"))), "SCr (mg/dL)"),
    _Plot("mouse_uuo.png", "Mouse UUO: fibrosis of the obstructed kidney", ("mouse_uuo",),
          (_Series("fibrosis area (%)", "mouse_uuo", "fibrosis_area"),
           _Series("SCr ×100 (mg/dL)", "mouse_uuo", "serum_creatinine", scale=100.0)), "value", 336.0),
    _Plot("rat_5_6_nx.png", "Rat 5/6 nephrectomy: GFR", ("rat_5_6_nx_progressive",),
          (_Series("GFR (mL/min)", "rat_5_6_nx", "gfr"),), "GFR (mL/min)", None),
)


def _draw(path: Path, plot: _Plot, ts: TargetSet) -> str:
    """Curves, with each plottable literature window shaded (a box at its time, or a peak-time band)."""
    fig, ax = subplots(figsize=(5.5, 3.6))
    shown = {(s.readout, s.relative, s.scale) for s in plot.series}
    for s in plot.series:
        d = run_scenario(s.scenario, ts)
        m = d["time_h"] <= (plot.xmax if plot.xmax is not None else np.inf)
        y = d[s.readout] / (d[s.readout][0] if s.relative else 1.0) * s.scale
        ax.plot(d["time_h"][m], y[m], marker="o" if m.sum() < 40 else None, ms=3, label=s.label)
    span = plot.xmax if plot.xmax is not None else max(float(run_scenario(s.scenario, ts)["time_h"][-1])
                                                        for s in plot.series)
    labelled = False
    for tid in plot.targets:
        t = ts.get(tid)
        for i, c in enumerate(t.checks):
            lo, hi, _, _ = ts.window(t, i)
            if not c.checked or (c.quantity == "peak_time" and (lo is None or hi is None)):
                continue
            kwargs = {"color": "tab:green", "alpha": 0.2, "label": None if labelled else "literature target"}
            if c.quantity == "peak_time" and (c.readout, False, 1.0) in shown:
                ax.axvspan(lo, hi if hi != lo else lo + 0.01 * span, **kwargs)
            elif c.quantity in ("value_at", "fold_at") and (c.readout, c.quantity == "fold_at", 1.0) in shown:
                y0, y1 = ax.get_ylim()
                half = 0.015 * span
                ax.fill_between([c.time_h - half, c.time_h + half], [lo if lo is not None else y0] * 2,
                                [hi if hi is not None else y1] * 2, **kwargs)
            else:
                continue
            labelled = True
    ax.set_title(plot.title, fontsize=9)
    ax.set_xlabel("hours after insult")
    ax.set_ylabel(plot.ylabel)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path.name


# --------------------------------------------------------------------------- the report


def check_model(report_dir: str | Path, targets: TargetSet | None = None) -> list[TargetResult]:
    """Check every target, write ``report.md`` and PNG plots to ``report_dir``.

    Arguments
    ---------
    report_dir : folder for the report (created if missing).
    targets : the :class:`TargetSet` (default: the packaged literature targets).

    Returns
    -------
    The list of :class:`TargetResult`, in file order (``passed`` False for a miss, with its reason).
    """
    ts = targets or load_targets()
    out = Path(report_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = [evaluate(t, ts) for t in ts.targets]
    ids = {t.id for t in ts.targets}
    plots: dict[str, str] = {}
    for p in _PLOTS:  # a plot is drawn when the targets file has its targets and scenarios
        if all(tid in ids for tid in p.targets) and all(s.scenario in ts.scenarios for s in p.series):
            png = _draw(out / p.file, p, ts)
            for tid in p.targets:
                plots.setdefault(tid, png)
    results = [replace(r, plot=plots[r.name]) if r.name in plots else r for r in results]
    _write_report(out / "report.md", results)
    return results


_TITLES = {"in_sample": "In-sample targets", "by_construction": "By-construction targets",
           "held_out": "Held-out targets"}


def _counts(rs: list[TargetResult]) -> tuple[int, int, int, int]:
    met = sum(r.passed for r in rs)
    known = sum(not r.passed and bool(r.known_miss) for r in rs)
    new = sum(not r.passed and not r.known_miss for r in rs)
    stale = sum(r.passed and bool(r.known_miss) for r in rs)
    return met, known, new, stale


def _write_report(path: Path, results: list[TargetResult]) -> None:
    n_pass = sum(r.passed for r in results)
    lines = [
        "# nephrosim injury-model check",
        "",
        f"{n_pass} of {len(results)} targets met. Untreated (vehicle) simulations against the literature "
        "targets in `src/nephrosim/analysis/targets/literature_targets.yaml` (windows, sources and kinds live "
        "there, read by this check and by `tests/validation/`); parameters and their provenance are in "
        "`src/nephrosim/biology/parameters_injury.csv`.",
        "",
        "| kind | targets | met | missed (known) | missed (new) | known miss now met | what a pass means |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, meaning in KINDS.items():
        rs = [r for r in results if r.kind == kind]
        met, known, new, stale = _counts(rs)
        lines.append(f"| {kind.replace('_', '-')} | {len(rs)} | {met} | {known} | {new} | {stale} | {meaning} |")
    lines += ["", "A *known miss* keeps its source's window and says why the model misses it; its test is a strict "
              "xfail. A *new miss* or a *known miss now met* means the targets file or the model needs attention.", ""]
    for kind in KINDS:
        rs = [r for r in results if r.kind == kind]
        if not rs:
            continue
        met, known, new, stale = _counts(rs)
        lines += [f"## {_TITLES[kind]}: {met} of {len(rs)} met", "", f"{KINDS[kind][0].upper()}{KINDS[kind][1:]}.", "",
                  "| target | species | design | literature | simulated | result |", "|---|---|---|---|---|---|"]
        for r in rs:
            result = "pass" if r.passed and not r.known_miss else f"**{r.status}**"
            lines.append(f"| {r.name} | {r.species} | {r.injury} | {r.target} | {r.simulated} | {result} |")
        lines.append("")
    lines += ["## Details", ""]
    for r in results:
        lines += [f"### {r.name} — {r.status}", "",
                  f"- kind: {r.kind.replace('_', '-')} — {r.kind_reason}",
                  f"- design: {r.species}, {r.injury}",
                  f"- literature: {r.target}",
                  f"- source: {r.source}"]
        for c in r.checks:
            lines.append(f"- check: {c.text()}" + (f" — window basis: {c.basis}" if c.basis else ""))
        if r.known_miss:
            lines.append(f"- {'why it misses' if not r.passed else 'marked a known miss, but now met'}: {r.known_miss}")
        elif not r.passed:
            lines.append(f"- why it misses: {r.reason}")
        elif r.reason:
            lines.append(f"- note: {r.reason}")
        if r.plot:
            lines += ["", f"![{r.name}]({r.plot})"]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
