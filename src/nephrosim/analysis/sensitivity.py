"""Global sensitivity analysis: Sobol' indices, Morris screening and the delta
moment-independent measure, with SALib.

Two entry points:

* :func:`sobol` (and :func:`morris`, :func:`delta`) — generic: a vectorised function of an ``(N, D)``
  array, a SALib ``problem`` and a sample size; SALib draws the design and estimates the
  indices, with bootstrap confidence intervals.
* :func:`scenario_sensitivity` — one readout of one arm of a scenario at one time: varies
  the arm's parameters (by default every parameter the ensemble varies, log-uniform within
  the parameter table's plausible range) and simulates the design rows in chunks with
  :meth:`~nephrosim.engine.simulator.Simulator.run_batch`; each chunk is a task
  (:func:`simulate_design_rows`) run in this process or on a Dask cluster
  (:mod:`nephrosim.run.executors`), with the same result either way.

Indices whose confidence interval includes zero, or that come out negative (sampling
error), are listed in ``warnings``: they cannot be told apart from no effect at this
sample size.

Group sensitivity (Sobol' only): ``groups`` puts parameters into groups that SALib
treats as one factor each (its ``groups`` problem key; ``samples · (G + 2)``
simulations). :func:`parameter_group` derives the four biology groups from where the
parameter table declares each parameter (see there).

Convergence: with ``convergence=True`` a result carries ``convergence``, the indices
re-estimated on the nested first N/8, N/4, N/2 of the same design (Sobol' base samples and Morris
trajectories are prefixes of the full design; the Latin hypercube of ``delta`` is
sub-sampled by its first rows, a random subset of an LHS), so plotting the indices
against N costs no extra simulation (:func:`~nephrosim.analysis.mechanism_plots.convergence_plot`).

References
----------
Saltelli A. et al. 2010, Comput Phys Commun 181:259 (Sobol' first-order and total
estimators, the ones SALib implements); Morris M.D. 1991, Technometrics 33:161 and
Campolongo F. et al. 2007, Environ Model Softw 22:1509 (μ*); Borgonovo E. 2007, Reliab Eng
Syst Saf 92:771 and Plischke E., Borgonovo E. & Smith C.L. 2013, Eur J Oper Res 226:536
(delta and its estimator, SALib ``delta``); Herman J. & Usher W. 2017, J Open Source Softw
2:97 (SALib).
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
from nephrosim.run.executors import check_scheduler, compiled_arm, open_executor
from nephrosim.run.simulation import as_scenario, compile_arm
from nephrosim.scenarios.schema import Scenario

__all__ = ["GROUPS", "SensitivityResult", "check_design", "delta", "morris", "parameter_group", "scenario_sensitivity",
           "sobol"]

METHODS = ("sobol", "morris", "delta")
#: the biology groups of :func:`parameter_group`
GROUPS = ("injury core", "biodistribution", "paracrine", "host response")


@dataclass(frozen=True)
class SensitivityResult:
    """Sensitivity indices of one output to ``names``.

    ``indices`` maps an index name to ``(value, lo, hi)`` arrays over ``names``:
    Sobol' gives ``first`` (S1) and ``total`` (ST); Morris gives ``mu_star`` (mean absolute
    elementary effect), ``mu_star_share`` (μ* / Σμ*, comparable across parameters) and
    ``sigma`` (spread of the effects: non-linearity or interaction; no CI); delta gives
    ``delta`` (Borgonovo's moment-independent δ, bias-corrected). The CI is the bootstrap interval SALib reports (``value ± conf``).

    With groups, ``names`` are the group names and ``groups`` maps each group to its
    parameters. ``convergence`` holds ``(samples, evaluations, indices)`` for the nested
    designs of N/8, N/4, N/2 and N (those large enough to estimate).
    """

    method: str
    names: tuple[str, ...]
    indices: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    evaluations: int
    warnings: tuple[str, ...] = ()
    conf_level: float = 0.95
    context: Mapping[str, object] = field(default_factory=dict)
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    convergence: tuple[tuple[int, int, Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]]], ...] = ()

    def value(self, index: str, name: str) -> float:
        """One index of one parameter, e.g. ``result.value("total", "gfr_ml_min_per_kg")``."""
        return float(self.indices[index][0][self.names.index(name)])

    def ranking(self, index: str | None = None) -> list[str]:
        """Parameter names, most influential first (by ``total`` or ``mu_star``)."""
        index = index or {"sobol": "total", "morris": "mu_star", "delta": "delta"}[self.method]
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
        out = {"method": self.method, **dict(self.context), "evaluations": self.evaluations,
               "conf_level": self.conf_level, "parameters": params, "warnings": list(self.warnings)}
        if self.groups:
            out["groups"] = {g: list(members) for g, members in self.groups.items()}
        if self.convergence:
            out["convergence"] = [
                {"samples": n, "evaluations": e,
                 "indices": {k: {name: {"value": float(v[i]), "lo": float(lo[i]), "hi": float(hi[i])}
                                 for i, name in enumerate(self.names)} for k, (v, lo, hi) in ind.items()}}
                for n, e, ind in self.convergence]
        return out


def _check_problem(problem: Mapping) -> dict:
    names = list(problem.get("names", ()))
    bounds = np.asarray(problem.get("bounds", ()), dtype=float)
    if not names or bounds.shape != (len(names), 2):
        raise UserInputError("problem: give 'names' (D names) and 'bounds' (D pairs [low, high])")
    if not np.all(np.isfinite(bounds)) or np.any(bounds[:, 1] <= bounds[:, 0]):
        bad = [n for n, (lo, hi) in zip(names, bounds) if not lo < hi]
        raise UserInputError(f"problem: bounds of {bad} are not finite with low < high; widen them")
    out = {**dict(problem), "names": names, "bounds": bounds.tolist(), "num_vars": len(names)}
    groups = out.get("groups")
    if groups is not None:
        groups = [str(g) for g in groups]
        if len(groups) != len(names):
            raise UserInputError(f"groups: give one group per parameter ({len(names)}), not {len(groups)}")
        if len(set(groups)) < 2:
            raise UserInputError("groups: every parameter is in one group; group sensitivity needs at least two "
                                 "groups (leave --groups out to see each parameter)")
        out["groups"] = groups
    else:
        out.pop("groups", None)
    return out


def check_design(method: str, samples: int, groups: bool = False, option_prefix: str = "") -> None:
    """Refuse a design ``method`` cannot estimate from ``samples`` (and ``groups``) before anything is
    compiled or simulated; every message names the option (``option_prefix`` + its name: ``--samples`` on
    the command line) and the fix. The command line, the web app and :func:`sobol`/:func:`morris`/
    :func:`delta` share it."""
    m, n_, g = (f"{option_prefix}{o}" for o in ("method", "samples", "groups"))
    if method not in METHODS:
        raise UserInputError(f"{m}: {method!r} is not one of {', '.join(METHODS)}")
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)):
        raise UserInputError(f"{n_}: {samples!r} is not a whole number")
    n = int(samples)
    if method == "sobol" and (n < 4 or n & (n - 1)):
        lower = 1 << max(2, n.bit_length() - 1)
        raise UserInputError(f"{n_}: {n} is not a power of 2 (at least 4), which Sobol' sampling needs; "
                             f"use {lower} or {lower * 2}")
    if method == "morris" and n < 2:
        raise UserInputError(f"{n_}: {n} Morris trajectories are too few; use at least 2 (10–50 is usual)")
    if method == "delta" and n < 64:
        raise UserInputError(f"{n_}: {n} rows are too few for the delta estimator; use at least 64 "
                             "(a few hundred to thousands is usual)")
    if groups and method != "sobol":
        raise UserInputError(f"{g}: group sensitivity is for {m} sobol, not {method}; leave {g} out")


def _indices(S: Mapping, pairs) -> dict:
    out = {}
    for key, col in pairs:
        v, c = np.asarray(S[col], float), np.asarray(S[f"{col}_conf"], float)
        out[key] = (v, v - c, v + c)
    return out


def _convergence(analyze_rows: Callable[[int], dict], n: int, rows_per_sample: int, smallest: int):
    """Indices on the nested first N/8, N/4, N/2, N samples of the design (those >= ``smallest``)."""
    out = []
    for k in (n // 8, n // 4, n // 2, n):
        if k >= smallest and (not out or k > out[-1][0]):
            out.append((k, k * rows_per_sample, analyze_rows(k)))
    return tuple(out)


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
          num_resamples: int = 100, conf_level: float = 0.95, convergence: bool = False) -> SensitivityResult:
    """Sobol' first-order and total indices of a vectorised function.

    Arguments
    ---------
    model_fn : maps an ``(N, D)`` array of inputs (columns in ``problem["names"]`` order) to
        ``N`` outputs.
    problem : a SALib problem: ``{"names": [...], "bounds": [[lo, hi], ...]}`` (uniform inputs;
        transform inside ``model_fn`` for other distributions); an optional ``"groups"`` (one
        group name per parameter) gives the indices of the groups instead (SALib's grouped
        Sobol': ``n · (G + 2)`` evaluations).
    n : base sample size, a power of 2 (SALib's Sobol' sequence); ``n · (D + 2)`` evaluations.
    seed : seeds the scrambled Sobol' sequence and the bootstrap.
    num_resamples, conf_level : bootstrap of the confidence intervals.
    convergence : also estimate the indices on the nested first N/8, N/4, N/2 samples (no
        extra evaluations; SALib's estimator runs four times).

    Returns
    -------
    :class:`SensitivityResult` with indices ``first`` and ``total`` (per group with groups),
    and their ``convergence`` on the nested first N/8, N/4, N/2 base samples (a prefix of a
    scrambled Sobol' sequence is the sequence of the smaller size).

    Reference: Saltelli et al. 2010, Comput Phys Commun 181:259 (SALib ``sobol``).
    """
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    problem = _check_problem(problem)
    n = int(n)
    check_design("sobol", n)
    X = sobol_sample.sample(problem, n, calc_second_order=False, seed=seed)
    Y = _evaluate(model_fn, X)
    groups = problem.get("groups")
    names = tuple(dict.fromkeys(groups)) if groups else tuple(problem["names"])
    per_sample = len(names) + 2
    pairs = (("first", "S1"), ("total", "ST"))

    def analyze_rows(k: int) -> dict:
        S = sobol_analyze.analyze(problem, Y[:k * per_sample], calc_second_order=False,
                                  num_resamples=num_resamples, conf_level=conf_level, seed=seed)
        return _indices(S, pairs)

    indices = analyze_rows(n)
    members = {g: tuple(p for p, pg in zip(problem["names"], groups) if pg == g) for g in names} if groups else {}
    return SensitivityResult("sobol", names, indices, int(X.shape[0]),
                             _warnings(names, indices, ("first", "total"), conf_level), conf_level,
                             groups=members, convergence=_convergence(analyze_rows, n, per_sample, 4) if convergence else ())


def morris(model_fn: Callable[[np.ndarray], np.ndarray], problem: Mapping, n: int, seed: int = 0, *,
           num_levels: int = 4, num_resamples: int = 100, conf_level: float = 0.95,
           convergence: bool = False) -> SensitivityResult:
    """Morris elementary-effects screening of a vectorised function.

    Arguments as :func:`sobol` (no groups); ``n`` is the number of trajectories
    (``n · (D + 1)`` evaluations), ``num_levels`` the grid levels. Returns indices
    ``mu_star`` (with its bootstrap CI), ``mu_star_share`` and ``sigma``, and their
    ``convergence`` on the first N/8, N/4, N/2 trajectories (at least 2).

    Reference: Morris 1991, Technometrics 33:161; Campolongo et al. 2007 (μ*).
    """
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample

    problem = _check_problem(problem)
    n = int(n)
    check_design("morris", n, bool(problem.get("groups")))
    X = morris_sample.sample(problem, n, num_levels=num_levels, seed=seed)
    Y = _evaluate(model_fn, X)
    per_sample = problem["num_vars"] + 1

    def analyze_rows(k: int) -> dict:
        rows = k * per_sample
        S = morris_analyze.analyze(problem, X[:rows], Y[:rows], num_resamples=num_resamples,
                                   conf_level=conf_level, num_levels=num_levels, seed=seed)
        mu, c = np.asarray(S["mu_star"], float), np.asarray(S["mu_star_conf"], float)
        total = mu.sum()
        share = mu / total if total > 0 else np.zeros_like(mu)
        scale = 1.0 / total if total > 0 else 0.0
        sigma = np.asarray(S["sigma"], float)
        return {"mu_star": (mu, mu - c, mu + c),
                "mu_star_share": (share, (mu - c) * scale, (mu + c) * scale),
                "sigma": (sigma, sigma, sigma)}

    indices = analyze_rows(n)
    names = tuple(problem["names"])
    return SensitivityResult("morris", names, indices, int(X.shape[0]),
                             _warnings(names, indices, ("mu_star",), conf_level), conf_level,
                             convergence=_convergence(analyze_rows, n, per_sample, 2) if convergence else ())


def delta(model_fn: Callable[[np.ndarray], np.ndarray], problem: Mapping, n: int, seed: int = 0, *,
          num_resamples: int = 100, conf_level: float = 0.95, convergence: bool = False) -> SensitivityResult:
    """Borgonovo's delta moment-independent measure (and S1) of a vectorised function.

    δᵢ is half the expected L1 distance between the output density and its density with
    xᵢ fixed: it sees an effect on the whole distribution, not only on the variance, and is
    0 only for an input the output does not depend on. Arguments as :func:`sobol` (no
    groups); ``n`` is the size of SALib's Latin hypercube (``n`` evaluations, at least 64;
    the estimator partitions the sample into classes, so a few hundred is the least useful).

    Returns index ``delta`` with its bootstrap CI, and (with ``convergence``) its values on
    the first N/8, N/4, N/2 rows of the hypercube (rows of an LHS in random order: a random sub-sample).

    Reference: Borgonovo 2007, Reliab Eng Syst Saf 92:771; Plischke, Borgonovo & Smith
    2013, Eur J Oper Res 226:536 (the estimator in SALib ``delta``).
    """
    from SALib.analyze import delta as delta_analyze
    from SALib.sample import latin

    problem = _check_problem(problem)
    n = int(n)
    check_design("delta", n, bool(problem.get("groups")))
    X = latin.sample(problem, n, seed=seed)
    Y = _evaluate(model_fn, X)

    def analyze_rows(k: int) -> dict:
        S = delta_analyze.analyze(problem, X[:k], Y[:k], num_resamples=num_resamples, conf_level=conf_level,
                                  seed=seed, **({"method": "delta"} if _delta_has_methods() else {}))
        key = "delta_raw" if "delta_raw" in S else "delta"  # SALib >= 1.5.1 names the plain bootstrap 'raw'
        return _indices(S, (("delta", key),))

    indices = analyze_rows(n)
    names = tuple(problem["names"])
    return SensitivityResult("delta", names, indices, int(X.shape[0]),
                             _warnings(names, indices, ("delta",), conf_level), conf_level,
                             convergence=_convergence(analyze_rows, n, 1, 64) if convergence else ())


def _delta_has_methods() -> bool:
    import inspect

    from SALib.analyze import delta as delta_analyze

    return "method" in inspect.signature(delta_analyze.analyze).parameters


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


#: parameter-name prefixes of the paracrine group: the product's secreted factors and the
#: protocol modifiers of their output (therapy table), and the effect sizes of each paracrine
#: mechanism on the injury (injury table)
_PARACRINE = ("paracrine_", "protocol_", "msc_antiinflammatory_", "msc_licensing_", "msc_donor_potency",
              "ev_antiinflammatory_", "ev_vegf_cargo", "ev_max_", "vegf_", "hgf_", "igf1_", "antioxidant_",
              "ai_", "glom_msc_", "glom_protection_", "k_glom_protection", "tubular_protection_vegf")
#: prefixes of the host response: the innate immune and inflammatory response to the injury
#: (injury table) and the host's immune response to the product (therapy table)
_HOST = ("k_neut", "k_mac", "k_m1", "k_m2", "k_polarize", "polarize_", "k_tnf", "tnf_", "k_il10", "il10_",
         "k_damp", "damp_", "endo_w_neutrophils", "endo_w_tnf", "tnf_w_", "tub_w_tnf", "msc_allogeneic_",
         "msc_xenogeneic_", "msc_sensitiz", "msc_dsa_")


def parameter_group(name: str) -> str:
    """The biology group of a parameter, for group sensitivity: one of :data:`GROUPS`.

    Derived from where the parameter table declares the row, then its name:

    * ``parameters.csv`` (the host's physiology: body weight, GFR, creatinine and urea
      handling) → ``host response`` (the host animal's side of the outcome);
    * ``parameters_therapy.csv`` → ``paracrine`` for the secreted factors, protocol
      modifiers and potency rows (prefixes in ``_PARACRINE``), ``host response`` for the
      host's immune response to the cells (allo/xeno clearance, sensitization), otherwise
      ``biodistribution`` (MSC/EV/CM routes, uptake, retention, half-lives, embolic risk);
    * ``parameters_injury.csv`` → ``paracrine`` for the effect sizes of each paracrine
      mechanism (VEGF, HGF, IGF-1, antioxidant, anti-inflammatory, EV), ``host response``
      for the leukocyte and cytokine response (neutrophils, macrophages, TNF, IL-10, DAMPs),
      otherwise ``injury core`` (insults, tubular/endothelial/glomerular injury and repair,
      fibrosis).

    A name not in the table raises :class:`~nephrosim.errors.UserInputError`.
    """
    table = _declaring_table()
    where = table.get(name)
    if where is None:
        raise UserInputError(f"groups: {name!r} is not a row of the parameter table; give a group for it "
                             "with a mapping name → group")
    if where == "parameters.csv":
        return "host response"
    if name.startswith(_PARACRINE):
        return "paracrine"
    if name.startswith(_HOST):
        return "host response"
    return "biodistribution" if where == "parameters_therapy.csv" else "injury core"


def _declaring_table() -> dict[str, str]:
    """parameter name → the ``parameters*.csv`` file of ``nephrosim.biology`` that declares it."""
    import csv
    import io
    from importlib import resources

    out: dict[str, str] = {}
    for f in sorted(resources.files("nephrosim.biology").iterdir(), key=lambda f: f.name):
        if f.name.startswith("parameters") and f.name.endswith(".csv"):
            for row in csv.DictReader(io.StringIO(f.read_text("utf-8"), newline="")):
                out.setdefault(row["name"], f.name)
    return out


def _refuse_unknown(unknown, known) -> None:
    if not unknown:
        return
    hints = []
    for n in unknown:
        close = difflib.get_close_matches(n, sorted(known), n=3, cutoff=0.6)
        hints.append(f"{n!r}" + (f" (did you mean {', '.join(map(repr, close))}?)" if close else ""))
    raise UserInputError(f"parameters: {', '.join(hints)} not a parameter of this arm's model with a range; "
                         "`nephrosim params` lists the table's parameters and ranges")


def simulate_design_rows(task) -> tuple[np.ndarray, tuple[int, int, str] | None]:
    """A chunk of design rows of :func:`scenario_sensitivity` (a task for any executor).

    ``task = (scenario_json, arm, names, values)``: the scenario reduced to the one readout
    and time, the arm, the varied parameters and one row of their values per simulation.
    Returns the readout of each row (reporting units) and ``None``, or, when simulations
    failed, ``(count, first failed row, its solver message)``. The arm is compiled once per
    process (:func:`nephrosim.run.executors.compiled_arm`).
    """
    scenario_json, arm, names, values = task
    program, sim = compiled_arm(scenario_json, arm, names)
    times = json.loads(scenario_json)["times_h"]
    out, statuses = sim.run_batch(times, names, values)
    bad = [i for i, st in enumerate(statuses) if not st.ok]
    y = program.convert(out)[:, -1, 0]
    return y, ((len(bad), bad[0], statuses[bad[0]].message) if bad else None)


def scenario_sensitivity(scenario: Scenario | str | Path | Mapping, readout: str = "serum_creatinine",
                         at_h: float = 24.0, arm: str | None = None,
                         method: Literal["sobol", "morris", "delta"] = "sobol", samples: int = 64, seed: int = 0,
                         parameters: Sequence[str] | Mapping[str, tuple[float, float]] | None = None, *,
                         num_resamples: int = 100, conf_level: float = 0.95,
                         progress: bool | Callable[[int, int], None] = False,
                         out_dir: str | Path | None = None, chunk: int = 256, max_evaluations: int | None = None,
                         groups: bool | Mapping[str, str] = False, convergence: bool = False,
                         scheduler: str | None = None, workers: int = 1, security=None) -> SensitivityResult:
    """Global sensitivity of one readout of one arm at one time to the model's parameters.

    Arguments
    ---------
    scenario : a :class:`Scenario`, a YAML/JSON path or a mapping.
    readout : a readout name (reported in the scenario's unit for it).
    at_h : hours after the insult.
    arm : the arm (default: the first).
    method : ``"sobol"`` (first-order and total indices; ``samples · (D + 2)`` simulations,
        ``samples`` a power of 2), ``"morris"`` (screening; ``samples`` trajectories,
        ``samples · (D + 1)`` simulations) or ``"delta"`` (moment-independent δ; ``samples``
        simulations of a Latin hypercube, at least 64).
    samples, seed : design size and seed (the result depends only on these).
    parameters : which parameters to vary. ``None``: every parameter of the arm that
        ensembles vary, over the parameter table's [lower, upper]; a list of names: those
        (table ranges, fixed rows allowed); a mapping name → (low, high): those ranges.
        Positive ranges are sampled log-uniformly (SALib works on the log), others uniformly.
    groups : Sobol' only. ``True``: indices of the biology groups of :func:`parameter_group`
        (injury core, biodistribution, paracrine, host response) that the varied parameters
        fall in (``samples · (G + 2)`` simulations); a mapping name → group: your groups
        (every varied parameter named).
    convergence : also keep the indices at N/8, N/4, N/2 (nested subsets of the design).
    progress : ``True`` shows a progress bar (one step per ``chunk`` design rows); a callable is called
        ``progress(done, total)`` with the chunks done (those kept from an interrupted run included)
        before the first simulation and after each chunk (the web app's progress).
    max_evaluations : refuse, before any simulation, a design of more rows than this (the web app's cap).
    out_dir : keep each finished chunk of design rows in this folder (atomic ``.npz`` files and
        ``request.json``); rerunning the same request simulates only the missing chunks (the
        design depends only on the seed and the sample size), a different request is refused.
    chunk : design rows per task.
    scheduler, workers, security : where the chunks run (:func:`nephrosim.run.executors.open_executor`):
        ``None``/``"serial"`` this process; ``"local"`` a Dask cluster of ``workers`` processes on
        127.0.0.1 (TLS); ``"tls://host:port"`` (with ``security``) or ``"tcp://host:port"`` a running
        scheduler. Each chunk is a pure function of its rows, so the indices are bit-identical
        whichever runs them; finished chunks are kept in ``out_dir`` as they arrive.

    Returns
    -------
    :class:`SensitivityResult`; ``context`` records scenario, arm, readout, unit, time and the
    ranges. Raises :class:`~nephrosim.errors.UserInputError` for a bad option, or when a
    simulation of the design fails (a range reaches a region where the solver fails: narrow it).
    """
    check_design(method, samples, bool(groups))
    check_scheduler(scheduler, workers, security)  # before anything is compiled
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
    if groups is not False and groups is not None:
        if method != "sobol":
            raise UserInputError(f"groups: group sensitivity needs --method sobol, not {method}")
        if isinstance(groups, Mapping):
            missing = [n for n in names if n not in groups]
            if missing:
                raise UserInputError(f"groups: no group given for {', '.join(missing)}")
            problem["groups"] = [str(groups[n]) for n in names]
        elif groups is True:
            problem["groups"] = [parameter_group(n) for n in names]
        else:
            raise UserInputError(f"groups: {groups!r}; give True or a mapping parameter → group")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise UserInputError(f"chunk: {chunk!r}; give a whole number of design rows >= 1")
    store = Checkpoints(out_dir, "a sensitivity analysis", {
        "scenario": json.loads(sub.model_dump_json()), "arm": arm, "method": method, "samples": int(samples),
        "seed": int(seed), "chunk": chunk, "ranges": {n: list(r) for n, r in ranges.items()},
        **({"groups": problem["groups"]} if "groups" in problem else {})})
    scenario_json = sub.model_dump_json()

    def model_fn(X: np.ndarray) -> np.ndarray:
        if max_evaluations is not None and len(X) > max_evaluations:
            what = f"{len(set(problem['groups']))} groups" if "groups" in problem else f"{len(names)} parameters"
            raise UserInputError(
                f"samples: {method} with {samples} samples of {what} needs {len(X)} simulations, more than the "
                f"{max_evaluations} allowed here; use fewer samples, fewer parameters, or groups (Sobol')")
        values = np.where(logs, np.exp(X), X)
        starts = range(0, len(values), chunk)
        out = np.empty(len(values))
        todo = []
        for s in starts:
            cached = store.load(f"rows-{s:09d}")
            if cached is not None and np.array_equal(cached["x"], values[s:s + chunk]):
                out[s:s + chunk] = cached["y"]
            else:
                todo.append(s)
        tasks = [(scenario_json, arm, names, values[s:s + chunk]) for s in todo]
        report = progress if callable(progress) else None
        done = len(starts) - len(todo)
        if report is not None:
            report(done, len(starts))
        with ProgressBar(f"sensitivity ({chunk} simulations)", len(starts), done, progress is True) as bar:
            if tasks:
                with open_executor(scheduler, workers, security) as executor:
                    for i, (y, failed) in executor.map(simulate_design_rows, tasks):
                        s = todo[i]
                        if failed:
                            count, first, message = failed
                            row = ", ".join(f"{n}={v:.4g}" for n, v in zip(names, values[s + first]))
                            raise UserInputError(
                                f"parameters: {count} of {len(y)} simulations of a chunk failed (first: {message}; "
                                f"at {row}); narrow the ranges of the parameters involved or choose fewer parameters")
                        out[s:s + chunk] = y
                        store.save(f"rows-{s:09d}", x=values[s:s + chunk], y=y)  # kept as it arrives
                        bar.advance()
                        done += 1
                        if report is not None:
                            report(done, len(starts))
        return out

    run = {"sobol": sobol, "morris": morris, "delta": delta}[method]
    result = run(model_fn, problem, samples, seed, num_resamples=num_resamples, conf_level=conf_level,
                 convergence=convergence)
    context = {"scenario": scenario.name, "arm": arm, "readout": readout, "unit": program.units[0],
               "at_h": at_h, "seed": seed, "samples": samples,
               "ranges": {n: {"distribution": d, "low": lo, "high": hi} for n, (d, lo, hi) in ranges.items()}}
    return SensitivityResult(result.method, result.names, result.indices, result.evaluations,
                             tuple(notes) + result.warnings, conf_level, context, result.groups,
                             result.convergence)
