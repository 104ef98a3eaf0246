"""Global sensitivity analysis: Sobol' indices and Morris screening, with SALib.

Two entry points:

* :func:`sobol` (and :func:`morris`) — generic: a vectorised function of an ``(N, D)``
  array, a SALib ``problem`` and a sample size; SALib draws the design and estimates the
  indices, with bootstrap confidence intervals.
* :func:`scenario_sensitivity` — one readout of one arm of a scenario at one time: varies
  the arm's parameters (by default every parameter the ensemble varies, log-uniform within
  the parameter table's plausible range), compiles the arm once and simulates every design
  row with :meth:`~nephrosim.engine.simulator.Simulator.run_batch`.

Indices whose confidence interval includes zero, or that come out negative (sampling
error), are listed in ``warnings``: they cannot be told apart from no effect at this
sample size.

References
----------
Saltelli A. et al. 2010, Comput Phys Commun 181:259 (Sobol' first-order and total
estimators, the ones SALib implements); Morris M.D. 1991, Technometrics 33:161 and
Campolongo F. et al. 2007, Environ Model Softw 22:1509 (μ*); Herman J. & Usher W. 2017,
J Open Source Softw 2:97 (SALib).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Mapping, Sequence

import numpy as np

from nephrosim.analysis.checkpoints import Checkpoints
from nephrosim.errors import UserInputError
from nephrosim.progress import ProgressBar
from nephrosim.run.ensemble import priors_from_table, varied_parameters
from nephrosim.run.simulation import as_scenario, compile_arm, solver_options
from nephrosim.scenarios.schema import Scenario

__all__ = ["SensitivityResult", "morris", "scenario_sensitivity", "sobol"]

METHODS = ("sobol", "morris")


@dataclass(frozen=True)
class SensitivityResult:
    """Sensitivity indices of one output to ``names``.

    ``indices`` maps an index name to ``(value, lo, hi)`` arrays over ``names``:
    Sobol' gives ``first`` (S1) and ``total`` (ST); Morris gives ``mu_star`` (mean absolute
    elementary effect), ``mu_star_share`` (μ* / Σμ*, comparable across parameters) and
    ``sigma`` (spread of the effects: non-linearity or interaction; no CI). The CI is the
    bootstrap interval SALib reports (``value ± conf``).
    """

    method: str
    names: tuple[str, ...]
    indices: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    evaluations: int
    warnings: tuple[str, ...] = ()
    conf_level: float = 0.95
    context: Mapping[str, object] = field(default_factory=dict)

    def value(self, index: str, name: str) -> float:
        """One index of one parameter, e.g. ``result.value("total", "gfr_ml_min_per_kg")``."""
        return float(self.indices[index][0][self.names.index(name)])

    def ranking(self, index: str | None = None) -> list[str]:
        """Parameter names, most influential first (by ``total`` or ``mu_star``)."""
        index = index or ("total" if self.method == "sobol" else "mu_star")
        order = np.argsort(-self.indices[index][0], kind="stable")
        return [self.names[i] for i in order]

    def to_frame(self):
        """One row per parameter; columns ``<index>``, ``<index>_lo``, ``<index>_hi``."""
        import pandas as pd

        cols = {}
        for key, (v, lo, hi) in self.indices.items():
            cols[key], cols[f"{key}_lo"], cols[f"{key}_hi"] = v, lo, hi
        return pd.DataFrame(cols, index=pd.Index(self.names, name="parameter"))

    def to_dict(self) -> dict:
        """JSON-ready: method, context, evaluations, per parameter ``{index: {value, lo, hi}}``, warnings."""
        params = {
            n: {k: {"value": float(v[i]), "lo": float(lo[i]), "hi": float(hi[i])}
                for k, (v, lo, hi) in self.indices.items()}
            for i, n in enumerate(self.names)
        }
        return {"method": self.method, **dict(self.context), "evaluations": self.evaluations,
                "conf_level": self.conf_level, "parameters": params, "warnings": list(self.warnings)}


def _check_problem(problem: Mapping) -> dict:
    names = list(problem.get("names", ()))
    bounds = np.asarray(problem.get("bounds", ()), dtype=float)
    if not names or bounds.shape != (len(names), 2):
        raise UserInputError("problem: give 'names' (D names) and 'bounds' (D pairs [low, high])")
    if not np.all(np.isfinite(bounds)) or np.any(bounds[:, 1] <= bounds[:, 0]):
        bad = [n for n, (lo, hi) in zip(names, bounds) if not lo < hi]
        raise UserInputError(f"problem: bounds of {bad} are not finite with low < high; widen them")
    return {**dict(problem), "names": names, "bounds": bounds.tolist(), "num_vars": len(names)}


def _evaluate(model_fn: Callable[[np.ndarray], np.ndarray], X: np.ndarray) -> np.ndarray:
    Y = np.asarray(model_fn(X), dtype=float).reshape(-1)
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"model_fn returned {Y.shape[0]} values for {X.shape[0]} rows; return one value per row")
    if not np.all(np.isfinite(Y)):
        raise ValueError(f"model_fn returned {int((~np.isfinite(Y)).sum())} non-finite values; "
                         "SALib's estimators need every row")
    return Y


def _warnings(names, indices, keys, conf_level) -> tuple[str, ...]:
    out = []
    for key in keys:
        v, lo, hi = indices[key]
        for i, n in enumerate(names):
            if v[i] < 0:
                out.append(f"{key} index of {n} is negative ({v[i]:.3g}): sampling error of an index near "
                           "zero; raise the number of samples")
            elif lo[i] <= 0.0 <= hi[i]:
                out.append(f"{key} index of {n} ({v[i]:.3g}, {conf_level:.0%} CI {lo[i]:.3g} to {hi[i]:.3g}) "
                           "includes zero: not distinguishable from no effect at this sample size")
    return tuple(out)


def sobol(model_fn: Callable[[np.ndarray], np.ndarray], problem: Mapping, n: int, seed: int = 0, *,
          num_resamples: int = 100, conf_level: float = 0.95) -> SensitivityResult:
    """Sobol' first-order and total indices of a vectorised function.

    Arguments
    ---------
    model_fn : maps an ``(N, D)`` array of inputs (columns in ``problem["names"]`` order) to
        ``N`` outputs.
    problem : a SALib problem: ``{"names": [...], "bounds": [[lo, hi], ...]}`` (uniform inputs;
        transform inside ``model_fn`` for other distributions).
    n : base sample size, a power of 2 (SALib's Sobol' sequence); ``n · (D + 2)`` evaluations.
    seed : seeds the scrambled Sobol' sequence and the bootstrap.
    num_resamples, conf_level : bootstrap of the confidence intervals.

    Returns
    -------
    :class:`SensitivityResult` with indices ``first`` and ``total``.

    Reference: Saltelli et al. 2010, Comput Phys Commun 181:259 (SALib ``sobol``).
    """
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    problem = _check_problem(problem)
    n = int(n)
    if n < 4 or n & (n - 1):
        lower = 1 << max(2, n.bit_length() - 1)
        raise UserInputError(f"samples: {n} is not a power of 2 (at least 4), which Sobol' sampling needs; "
                             f"use {lower} or {lower * 2}")
    X = sobol_sample.sample(problem, n, calc_second_order=False, seed=seed)
    Y = _evaluate(model_fn, X)
    S = sobol_analyze.analyze(problem, Y, calc_second_order=False, num_resamples=num_resamples,
                              conf_level=conf_level, seed=seed)
    indices = {}
    for key, col in (("first", "S1"), ("total", "ST")):
        v, c = np.asarray(S[col], float), np.asarray(S[f"{col}_conf"], float)
        indices[key] = (v, v - c, v + c)
    names = tuple(problem["names"])
    return SensitivityResult("sobol", names, indices, int(X.shape[0]),
                             _warnings(names, indices, ("first", "total"), conf_level), conf_level)


def morris(model_fn: Callable[[np.ndarray], np.ndarray], problem: Mapping, n: int, seed: int = 0, *,
           num_levels: int = 4, num_resamples: int = 100, conf_level: float = 0.95) -> SensitivityResult:
    """Morris elementary-effects screening of a vectorised function.

    Arguments as :func:`sobol`; ``n`` is the number of trajectories (``n · (D + 1)``
    evaluations), ``num_levels`` the grid levels. Returns indices ``mu_star`` (with its
    bootstrap CI), ``mu_star_share`` and ``sigma``.

    Reference: Morris 1991, Technometrics 33:161; Campolongo et al. 2007 (μ*).
    """
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample

    problem = _check_problem(problem)
    n = int(n)
    if n < 2:
        raise UserInputError(f"samples: {n} Morris trajectories are too few; use at least 2 (10–50 is usual)")
    X = morris_sample.sample(problem, n, num_levels=num_levels, seed=seed)
    Y = _evaluate(model_fn, X)
    S = morris_analyze.analyze(problem, X, Y, num_resamples=num_resamples, conf_level=conf_level,
                               num_levels=num_levels, seed=seed)
    mu, c = np.asarray(S["mu_star"], float), np.asarray(S["mu_star_conf"], float)
    total = mu.sum()
    share = mu / total if total > 0 else np.zeros_like(mu)
    scale = 1.0 / total if total > 0 else 0.0
    sigma = np.asarray(S["sigma"], float)
    indices = {"mu_star": (mu, mu - c, mu + c),
               "mu_star_share": (share, (mu - c) * scale, (mu + c) * scale),
               "sigma": (sigma, sigma, sigma)}
    names = tuple(problem["names"])
    return SensitivityResult("morris", names, indices, int(X.shape[0]),
                             _warnings(names, indices, ("mu_star",), conf_level), conf_level)


# ---------------------------------------------------------------------------------------------
# Scenarios


def _ranges(scenario: Scenario, names_in_arm: set[str],
            parameters: Sequence[str] | Mapping[str, tuple[float, float]] | None):
    """name → (distribution, lo, hi) of the parameters to vary, and warnings about dropped ones."""
    notes = []
    if isinstance(parameters, Mapping):
        out = {}
        unknown = [n for n in parameters if n not in names_in_arm]
        _refuse_unknown(unknown, names_in_arm)
        for name, pair in parameters.items():
            try:
                lo, hi = (float(x) for x in pair)
            except (TypeError, ValueError):
                raise UserInputError(f"parameters: {name!r} needs a (low, high) pair") from None
            if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
                raise UserInputError(f"parameters: range of {name!r} ({lo:g}, {hi:g}) needs finite low < high")
            out[name] = ("loguniform" if lo > 0 else "uniform", lo, hi)
        return out, notes
    table_rows = varied_parameters(scenario, include_fixed=parameters is not None)
    if parameters is None:
        chosen = {k: v for k, v in table_rows.items() if k in names_in_arm}
    else:
        names = list(dict.fromkeys(parameters))
        unknown = [n for n in names if n not in table_rows or n not in names_in_arm]
        _refuse_unknown(unknown, names_in_arm & set(table_rows))
        chosen = {n: table_rows[n] for n in names}
    out = {}
    for prior in priors_from_table(chosen, cv=0.0, mode="table"):
        if not prior.a < prior.b:
            if parameters is not None:
                raise UserInputError(f"parameters: {prior.name!r} has no range in the parameter table "
                                     f"({prior.a:g} to {prior.b:g}); give a range, or leave it out")
            notes.append(f"{prior.name} not varied: its table range is a single value ({prior.a:g})")
            continue
        out[prior.name] = (prior.distribution, prior.a, prior.b)
    if not out:
        raise UserInputError("parameters: nothing to vary for this arm; name parameters with --parameter")
    return out, notes


def _refuse_unknown(unknown, known) -> None:
    if not unknown:
        return
    hints = []
    for n in unknown:
        close = difflib.get_close_matches(n, sorted(known), n=3, cutoff=0.6)
        hints.append(f"{n!r}" + (f" (did you mean {', '.join(map(repr, close))}?)" if close else ""))
    raise UserInputError(f"parameters: {', '.join(hints)} not a parameter of this arm's model with a range; "
                         "`nephrosim params` lists the table's parameters and ranges")


def scenario_sensitivity(scenario: Scenario | str | Path | Mapping, readout: str = "serum_creatinine",
                         at_h: float = 24.0, arm: str | None = None,
                         method: Literal["sobol", "morris"] = "sobol", samples: int = 64, seed: int = 0,
                         parameters: Sequence[str] | Mapping[str, tuple[float, float]] | None = None, *,
                         num_resamples: int = 100, conf_level: float = 0.95, progress: bool = False,
                         out_dir: str | Path | None = None, chunk: int = 256) -> SensitivityResult:
    """Global sensitivity of one readout of one arm at one time to the model's parameters.

    Arguments
    ---------
    scenario : a :class:`Scenario`, a YAML/JSON path or a mapping.
    readout : a readout name (reported in the scenario's unit for it).
    at_h : hours after the insult.
    arm : the arm (default: the first).
    method : ``"sobol"`` (first-order and total indices; ``samples · (D + 2)`` simulations,
        ``samples`` a power of 2) or ``"morris"`` (screening; ``samples`` trajectories,
        ``samples · (D + 1)`` simulations).
    samples, seed : design size and seed (the result depends only on these).
    parameters : which parameters to vary. ``None``: every parameter of the arm that
        ensembles vary, over the parameter table's [lower, upper]; a list of names: those
        (table ranges, fixed rows allowed); a mapping name → (low, high): those ranges.
        Positive ranges are sampled log-uniformly (SALib works on the log), others uniformly.
    progress : show a progress bar (one step per ``chunk`` design rows).
    out_dir : keep each finished chunk of design rows in this folder (atomic ``.npz`` files and
        ``request.json``); rerunning the same request simulates only the missing chunks (the
        design depends only on the seed and the sample size), a different request is refused.

    Returns
    -------
    :class:`SensitivityResult`; ``context`` records scenario, arm, readout, unit, time and the
    ranges. Raises :class:`~nephrosim.errors.UserInputError` for a bad option, or when a
    simulation of the design fails (a range reaches a region where the solver fails: narrow it).
    """
    if method not in METHODS:
        raise UserInputError(f"method: {method!r} is not one of {', '.join(METHODS)}")
    scenario = as_scenario(scenario)
    from nephrosim.biology.readouts import available_readouts

    known = available_readouts()
    if readout not in known:
        close = difflib.get_close_matches(readout, sorted(known), n=3, cutoff=0.6)
        raise UserInputError(f"readout: {readout!r} is not a readout" + (
            f" (did you mean {', '.join(map(repr, close))}?)" if close else "; `nephrosim simulate` lists them"))
    at_h = float(at_h)
    if not (np.isfinite(at_h) and at_h >= 0):
        raise UserInputError(f"at: {at_h:g} h is not a time after the insult; give hours >= 0")
    arm = arm or scenario.arms[0].name
    scenario.arm(arm)  # refuses an unknown arm, naming the arms
    sub = scenario.model_copy(update={"readouts": (readout,), "times_h": (at_h,)})
    program = compile_arm(sub, arm)
    ranges, notes = _ranges(sub, set(program.parameter_values), parameters)
    names = tuple(ranges)
    logs = np.array([d == "loguniform" for d, _, _ in ranges.values()])
    bounds = [[np.log(lo), np.log(hi)] if d == "loguniform" else [lo, hi] for d, lo, hi in ranges.values()]
    problem = {"names": list(names), "bounds": bounds}
    sim = program.simulator(solver_options(sub, "final"))

    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise UserInputError(f"chunk: {chunk!r}; give a whole number of design rows >= 1")
    store = Checkpoints(out_dir, "a sensitivity analysis", {
        "scenario": json.loads(sub.model_dump_json()), "arm": arm, "method": method, "samples": int(samples),
        "seed": int(seed), "chunk": chunk, "ranges": {n: list(r) for n, r in ranges.items()}})

    def simulate_rows(values: np.ndarray) -> np.ndarray:
        out, statuses = sim.run_batch(sub.times_h, names, values)
        bad = [i for i, s in enumerate(statuses) if not s.ok]
        if bad:
            i = bad[0]
            row = ", ".join(f"{n}={v:.4g}" for n, v in zip(names, values[i]))
            raise UserInputError(
                f"parameters: {len(bad)} of {len(statuses)} simulations failed (first: {statuses[i].message}; "
                f"at {row}); narrow the ranges of the parameters involved or choose fewer parameters")
        return program.convert(out)[:, -1, 0]

    def model_fn(X: np.ndarray) -> np.ndarray:
        values = np.where(logs, np.exp(X), X)
        starts = range(0, len(values), chunk)
        done = sum(store.has(f"rows-{s:09d}") for s in starts)
        out = np.empty(len(values))
        with ProgressBar(f"sensitivity ({chunk} simulations)", len(starts), done, progress) as bar:
            for s in starts:
                key = f"rows-{s:09d}"
                cached = store.load(key)
                if cached is not None and np.array_equal(cached["x"], values[s:s + chunk]):
                    out[s:s + chunk] = cached["y"]
                    continue
                out[s:s + chunk] = simulate_rows(values[s:s + chunk])
                store.save(key, x=values[s:s + chunk], y=out[s:s + chunk])
                bar.advance()
        return out

    run = sobol if method == "sobol" else morris
    result = run(model_fn, problem, samples, seed, num_resamples=num_resamples, conf_level=conf_level)
    context = {"scenario": scenario.name, "arm": arm, "readout": readout, "unit": program.units[0],
               "at_h": at_h, "seed": seed, "samples": samples,
               "ranges": {n: {"distribution": d, "low": lo, "high": hi} for n, (d, lo, hi) in ranges.items()}}
    return SensitivityResult(result.method, result.names, result.indices, result.evaluations,
                             tuple(notes) + result.warnings, conf_level, context)
