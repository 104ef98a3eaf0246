"""Formal calibration of injury parameters to the in-sample literature targets.

Issue 14 asks that no parameter be tuned by hand to a target. Many constants of the injury
models (tubular kinetics, toxin uptake, haem load, hazards) were set by hand until the
qualitative and semi-quantitative statements of the literature held — "SCr peaks on days 3–5
after 5 mg/kg cisplatin", "Ki67⁺ 50 % at day 2". Those statements live as windows in
``analysis/targets/literature_targets.yaml``. This module replaces the hand with a stated,
reproducible fit to the same windows:

**Likelihood.** A window [lo, hi] is an *interval-censored* observation: the model quantity
``v`` is reported with log-normal error σ (``sigma_log``, stated in the spec), so the probability
that the source's statement holds is Φ((log hi − log v)/σ) − Φ((log lo − log v)/σ) (one term for
an open end). Inside the window the likelihood is flat; outside it falls off within about σ.
Quantities that can be negative (differences, lags) use the same form on the linear scale with
σ × the window's largest |bound| (σ itself when that is 0); on the log scale a lower bound of 0 is
no bound.
A window that is a point ([24, 24] h) contributes the normal density of the value instead. Each check of a target contributes one term per
scenario; a target's checks all count (they are one source's numbers).

**Prior.** Uniform in log10 over each parameter's cited range in the parameter table, or uniform in
the value itself for a parameter searched with ``scale: linear`` (a fraction whose cited range starts
at 0, which no log scale reaches).

**Fit.** Differential evolution over the box (seeded; the hand-tuned table values are one
member of the first generation, so the fit is never worse than the hand) gives the maximum a
posteriori point (MAP); then ``emcee`` samples the posterior from around the MAP. Both evaluate
whole populations in one call of the compiled batch engine (:mod:`nephrosim.engine.batch`).
Where the targets leave a parameter free, the MAP lies anywhere on a flat ridge, often at a bound
of the range, so the value shipped is the *point*: among the posterior draws whose −log posterior
is within χ²₁(0.95)/2 of the MAP's, the one nearest the posterior median (each parameter measured
in units of its cited log-range). The targets hold there too (``targets_met_point``).

**Verdict.** A parameter is *identifiable* when its 95 % posterior interval spans less than half
of its cited log-range and neither end lies within 5 % of the range of a bound; otherwise the
targets do not pin it down. No parameter is called identifiable unless the chain ran at least 50
integrated autocorrelation times (emcee's rule): an unconverged chain's intervals are too narrow. The shipped result (``biology/fitted/<name>.json``) makes an
identifiable parameter ``fitted`` (value: the point; range: the 95 % posterior interval) and leaves a
non-identifiable one ``assumed`` with the fit's point as its value, its cited range and the verdict
as the reason (:meth:`nephrosim.biology.parameters.ParameterTable.with_target_fit`).

Only ``in_sample`` targets may be fitted: a ``held_out`` target used by a fit would no longer
be a validation, and the spec is refused.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from nephrosim.calibration.config import CalibrationConfigError
from nephrosim.calibration.profiles import PROFILE_THRESHOLD  # χ²₁(0.95)/2: "near the optimum"
from nephrosim.errors import UserInputError
from nephrosim.inputs import StrictModel, read_mapping, validate

FAILED_NLL = 1e10

#: A fitted parameter's search scale, which is also its prior: uniform in log10 (rate constants, gains)
#: or in the value itself (a fraction whose cited range starts at 0, which no log scale reaches).
SearchScale = Annotated[Literal["log10", "linear"], Field(description=(
    "search scale and prior: uniform in log10 (rate constants, gains) or in the value itself (a fraction "
    "whose cited range starts at 0)"))]


class ScaledSearch:
    """The search box of a fit whose parameters each have their own scale (:data:`SearchScale`): bounds
    and start on that scale from the cited table row, and the way back to the value. Shared by the target
    and the population fits (``labels``, ``lower``, ``upper``, ``nominal``, ``cited``, ``linear``)."""

    def _open_box(self) -> None:
        self.labels, self.lower, self.upper, self.nominal, self.cited, self.linear = [], [], [], [], [], []

    def _add_to_box(self, label: str, name: str, rec, scale: str) -> None:
        """Append parameter ``name`` (table row ``rec``) searched on ``scale``; refuses a row without a
        range, or one starting at or below 0 on the log scale, with the fix."""
        linear = scale == "linear"
        if rec.lower is None or rec.upper is None or not rec.lower < rec.upper:
            raise CalibrationConfigError(f"parameters.{name}: the table gives no range to fit within")
        if not linear and rec.lower <= 0:
            raise CalibrationConfigError(f"parameters.{name}: its cited range starts at {rec.lower:g}, which a "
                                         "log10 search cannot reach; search it with scale: linear")
        f = (lambda v: v) if linear else math.log10
        self.labels.append(label)
        self.lower.append(f(rec.lower))
        self.upper.append(f(rec.upper))
        self.nominal.append(f(min(max(rec.value, rec.lower), rec.upper)))
        self.cited.append((rec.lower, rec.upper))
        self.linear.append(linear)

    def _close_box(self) -> None:
        self.lower, self.upper, self.nominal = map(np.array, (self.lower, self.upper, self.nominal))

    @property
    def dim(self) -> int:
        return len(self.labels)

    def natural(self, k: int, v: float) -> float:
        """The parameter value of search coordinate ``v`` of parameter ``k``."""
        return float(v) if self.linear[k] else float(10.0 ** v)

    def range_name(self, k: int) -> str:
        return "cited range" if self.linear[k] else "cited log-range"


class TargetParameter(StrictModel):
    """One parameter to estimate (bounds are the table's cited range)."""

    name: str
    species: str | None = Field(None, description="only in scenarios of this species (default: every scenario)")
    scale: SearchScale = "log10"


class TargetFitSettings(StrictModel):
    seed: int = 0
    popsize: int = Field(8, ge=4, le=100, description="differential evolution: population = popsize × dimension")
    maxiter: int = Field(40, ge=1, le=10000)
    walkers: int | None = Field(None, ge=4, description="emcee walkers (default: max(4 × dimension, 16))")
    steps: int = Field(400, ge=10, le=100000)
    burn: int = Field(150, ge=0)
    polish: int = Field(0, ge=0, le=10000, description=(
        "iterations of a bounded quasi-Newton polish (L-BFGS-B, finite-difference gradient evaluated as one "
        "batch) from the differential-evolution optimum before sampling; 0: none"))


class FitSpec(StrictModel):
    """What every calibration spec has: a name (its shipped file's name), a description, the fit settings,
    and a digest that ties a shipped result to the spec it ran."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    fit: TargetFitSettings = TargetFitSettings()

    def digest(self) -> str:
        return self._digest_of(self.model_dump(mode="json"))

    @staticmethod
    def _digest_of(data: dict) -> str:
        if not data["fit"]["polish"]:  # a spec from before the polish setting keeps its digest
            del data["fit"]["polish"]
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


class TargetFitSpec(FitSpec):
    """A target calibration: which in-sample targets, which parameters, with what noise."""

    targets: tuple[str, ...] = Field(min_length=1)
    parameters: tuple[TargetParameter, ...] = Field(min_length=1)
    sigma_log: float = Field(0.1, gt=0.0, le=1.0, description="reporting noise of a window (log scale, assumed)")
    rtol: float = Field(1e-6, gt=0.0, le=1e-3)
    atol: float = Field(1e-9, gt=0.0, le=1e-4)

    def digest(self) -> str:
        data = self.model_dump(mode="json")
        for p in data["parameters"]:  # a spec from before the scale setting keeps its digest
            if p["scale"] == "log10":
                del p["scale"]
        return self._digest_of(data)


def load_target_fit(path: str | Path) -> TargetFitSpec:
    data = read_mapping(Path(path), "target calibration", CalibrationConfigError)
    return validate(TargetFitSpec, data, f"target calibration {path}", CalibrationConfigError)


def _log_diff_ndtr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(Φ(a) − Φ(b)) for a ≥ b, stable in both tails (a, b may be ±inf)."""
    from scipy.special import log_ndtr

    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    upper = b > 0  # both in the upper tail: use the mirror image, Φ(−b) − Φ(−a)
    hi = np.where(upper, log_ndtr(-b), log_ndtr(a))
    lo = np.where(upper, log_ndtr(-a), log_ndtr(b))
    with np.errstate(divide="ignore", invalid="ignore"):
        return hi + np.log1p(-np.exp(lo - hi))


def censored_nll(v: np.ndarray, lo: float | None, hi: float | None, sigma: float, log_scale: bool) -> np.ndarray:
    """−log P(window holds | model value v): the interval-censored term of one check value."""
    v = np.asarray(v, dtype=float)
    if log_scale:
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.where(v > 0, np.log(v), -np.inf)
        top = math.inf if hi is None else math.log(hi)
        bottom = -math.inf if not lo else math.log(lo)  # a lower bound of 0 on a positive quantity is no bound
        s = sigma
    else:
        u = v
        top = math.inf if hi is None else hi
        bottom = -math.inf if lo is None else lo
        s = sigma * (max(abs(x) for x in (lo, hi) if x is not None) or 1.0)
    if top == bottom:  # a point, not a window (e.g. "peak at 24 h"): the normal density of the value
        z = (u - top) / s
        out = 0.5 * z ** 2 + math.log(s * math.sqrt(2 * math.pi))
    else:
        with np.errstate(invalid="ignore"):  # an open end stays open whatever v is (also v = 0 on a log scale)
            a = np.inf if math.isinf(top) else (top - u) / s
            b = -np.inf if math.isinf(bottom) else (bottom - u) / s
            out = -_log_diff_ndtr(a, b)
    return np.where(np.isfinite(v), out, np.inf)


class TargetProblem(ScaledSearch):
    """The compiled target calibration: ``nll_many(X)`` for rows of search-scale parameter values
    (log10 of the value, or the value itself for a ``scale: linear`` parameter)."""

    def __init__(self, spec: TargetFitSpec, targets=None):
        from nephrosim.analysis.model_check import _scenario_spec, load_targets
        from nephrosim.biology.parameters import ParameterTable
        from nephrosim.engine.simulator import SolverOptions
        from nephrosim.run.simulation import as_scenario, compile_arm

        self.spec = spec
        ts = targets or load_targets()
        self.targets_file = ts
        self.checks = []  # (target id, check index, Check, lo, hi, log_scale)
        for tid in spec.targets:
            try:
                target = ts.get(tid)
            except KeyError:
                raise CalibrationConfigError(f"targets: no target {tid!r} in {ts.source}") from None
            if target.kind != "in_sample":
                raise CalibrationConfigError(
                    f"targets.{tid}: kind {target.kind!r}; only in_sample targets may be fitted (a held_out target "
                    "that a fit used is no longer a validation; a by_construction one holds whatever the values)")
            for i, c in enumerate(target.checks):
                if not c.checked:
                    continue
                if c.quantity == "max_state_drift":
                    raise CalibrationConfigError(f"targets.{tid}: max_state_drift cannot be fitted")
                lo, hi, _, _ = ts.window(target, i)
                positive = (all(x is None or x >= 0 for x in (lo, hi)) and (hi is None or hi > 0)
                            and c.quantity not in ("difference_to", "peak_lag"))
                self.checks.append((tid, i, c, lo, hi, positive))
        names = []
        for _, _, c, *_ in self.checks:
            names += [*c.scenarios, *([c.reference] if c.reference else [])]
        self.scenario_names = tuple(dict.fromkeys(names))
        options = SolverOptions(engine="batch", rtol=spec.rtol, atol=spec.atol, threads=None)
        self.programs, self.simulators, self.columns = {}, {}, {}
        for name in self.scenario_names:
            design = _scenario_spec(ts.scenarios[name])
            readouts, times = ts.plan(name)
            sc = as_scenario({**design, "readouts": list(readouts), "times_h": list(times)})
            program = compile_arm(sc, sc.arms[0].name)
            self.programs[name] = (sc, program)
            self.simulators[name] = program.simulator(options)
        cited = ParameterTable.default(calibrated=False, target_fits=False)
        self._open_box()
        used = set()
        for k, p in enumerate(spec.parameters):
            species = p.species or self.programs[self.scenario_names[0]][0].species
            table = cited  # ranges and start from the cited table, never from a shipped fit of this spec
            try:
                rec = table.record(p.name, species)
            except KeyError as exc:
                raise CalibrationConfigError(f"parameters.{p.name}: {exc.args[0]}") from None
            self._add_to_box(p.name if p.species is None else f"{p.name}[{p.species}]", p.name, rec, p.scale)
            for name, (sc, program) in self.programs.items():
                if (p.species is None or p.species == sc.species) and p.name in program.parameter_values:
                    self.columns.setdefault(name, []).append((k, p.name))
                    used.add(k)
        unused = [self.labels[k] for k in range(len(spec.parameters)) if k not in used]
        if unused:
            raise CalibrationConfigError(f"parameters {unused} appear in none of the targets' scenarios")
        self._close_box()
        self.n_evaluations = 0

    def runs_many(self, X: np.ndarray) -> tuple[list[dict], np.ndarray]:
        """Per row of ``X``: ``{scenario: {readout: values, "time_h": times}}``, and which rows solved."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        ok = np.ones(len(X), dtype=bool)
        runs = [dict() for _ in range(len(X))]
        for name in self.scenario_names:
            sc, program = self.programs[name]
            cols = self.columns.get(name, [])
            idx = [k for k, _ in cols]
            lin = np.array([self.linear[k] for k in idx], dtype=bool)
            values = np.where(lin, X[:, idx], 10.0 ** X[:, idx]) if cols else np.zeros((len(X), 0))
            times = np.asarray(sc.times_h, dtype=float)
            out, statuses = self.simulators[name].run_batch(times, [n for _, n in cols], values)
            out = program.convert(out)
            ok &= np.array([s.ok for s in statuses])
            for r in range(len(X)):
                d = {ro: out[r, :, j] for j, ro in enumerate(program.readouts)}
                d["time_h"] = times
                runs[r][name] = d
        return runs, ok

    def values(self, run: dict) -> list[tuple[tuple, str, float]]:
        """(check, scenario, value) of every check value of one row's runs; ``check`` is the entry of
        :attr:`checks` (target id, index, Check, lo, hi, log scale)."""
        from nephrosim.analysis.model_check import quantity_of, successive_peak_ratio

        out = []
        for check in self.checks:
            c = check[2]
            if c.quantity == "min_successive_peak_ratio":
                out.append((check, "series", successive_peak_ratio(c, [run[n] for n in c.scenarios])))
                continue
            for n in c.scenarios:
                out.append((check, n, quantity_of(c, run[n], run[c.reference] if c.reference else None)))
        return out

    def nll_many(self, X: np.ndarray) -> np.ndarray:
        """Negative log posterior (up to a constant) of each row of ``X``; ``FAILED_NLL`` where a
        scenario failed to solve."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        self.n_evaluations += len(X)
        runs, ok = self.runs_many(X)
        total = np.full(len(X), FAILED_NLL)
        for r in np.flatnonzero(ok):
            total[r] = sum(float(censored_nll(v, lo, hi, self.spec.sigma_log, positive))
                           for (_, _, _, lo, hi, positive), _, v in self.values(runs[r]))
        outside = np.any((X < self.lower - 1e-12) | (X > self.upper + 1e-12), axis=1)
        return np.where(np.isfinite(total) & ~outside, np.minimum(total, FAILED_NLL), FAILED_NLL)

    def met(self, x: np.ndarray) -> dict[str, bool]:
        """Whether each fitted target holds at ``x`` (every check value inside its window)."""
        from nephrosim.analysis.model_check import _in_window

        runs, ok = self.runs_many(x[None, :])
        met = {tid: bool(ok[0]) for tid in self.spec.targets}
        if ok[0]:
            for (tid, i, _, lo, hi, _), _, v in self.values(runs[0]):
                bounds = self.targets_file.window(self.targets_file.get(tid), i)[2]
                met[tid] &= _in_window(v, lo, hi, bounds)
        return met


def verdict(q_lo: float, q_hi: float, lower: float, upper: float, range_name: str = "cited log-range"
            ) -> tuple[bool, str]:
    """Identifiability from the 95 % posterior interval (search scale, log10 unless ``range_name`` says
    otherwise) against the cited range."""
    width = upper - lower
    share = (q_hi - q_lo) / width if width > 0 else 1.0
    open_lo = q_lo - lower < 0.05 * width
    open_hi = upper - q_hi < 0.05 * width
    if share < 0.5 and not open_lo and not open_hi:
        return True, f"identifiable (95 % posterior interval spans {share:.0%} of the {range_name})"
    sides = [s for s, o in (("lower", open_lo), ("upper", open_hi)) if o]
    why = f"the 95 % posterior interval spans {share:.0%} of the {range_name}"
    if sides:
        why += f" and reaches the {' and '.join(sides)} bound"
    return False, f"not identifiable from these targets ({why})"


def fit_targets(spec: TargetFitSpec | str | Path, *, out: str | Path | None = None, targets=None,
                progress: bool = False) -> dict:
    """Fit ``spec`` (a :class:`TargetFitSpec` or its YAML): MAP by differential evolution, posterior
    by emcee, a verdict per parameter. Writes ``out/result.json`` (atomic) when ``out`` is given."""
    if not isinstance(spec, TargetFitSpec):
        spec = load_target_fit(spec)
    t0 = time.perf_counter()
    problem = TargetProblem(spec, targets)
    fit = sample_posterior(problem, spec.fit, f"fit targets {spec.name}", progress)
    targets_used = {tid: problem.targets_file.get(tid).model_dump(mode="json") for tid in spec.targets}
    result = {
        "name": spec.name, "spec_digest": spec.digest(), "spec": spec.model_dump(mode="json"),
        "targets_digest": hashlib.sha256(json.dumps(targets_used, sort_keys=True).encode()).hexdigest()[:16],
        "date": datetime.date.today().isoformat(), "nephrosim_version": package_version(), "seed": spec.fit.seed,
        **fit, "seconds": round(time.perf_counter() - t0, 1),
    }
    if out is not None:
        write_result(out, result)
    return result


def package_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("nephrosim")
    except metadata.PackageNotFoundError:  # pragma: no cover — a source tree
        return "unknown"


def write_result(out: str | Path, result: dict) -> None:
    """``out/result.json``, written atomically."""
    from nephrosim.io import write_text_atomic

    Path(out).mkdir(parents=True, exist_ok=True)
    write_text_atomic(Path(out) / "result.json", json.dumps(result, indent=2) + "\n")


def polish_optimum(problem, x0: np.ndarray, nll0: float, iterations: int) -> tuple[np.ndarray, float]:
    """L-BFGS-B from ``x0`` inside the search box, the central-difference gradient of every
    coordinate evaluated as one batch of ``2 × dim`` rows (step 10⁻⁴ of the coordinate's range).
    Windows are flat inside and smooth outside, so the gradient exists wherever the solver succeeds;
    a failed evaluation (``FAILED_NLL``) makes the line search back off. Returns the better of the
    start and the polished point, so polishing never worsens the optimum."""
    from scipy import optimize

    width = problem.upper - problem.lower
    h = 1e-4 * width
    eye = np.diag(h)

    def fun_grad(x):
        X = np.vstack([x[None, :], x + eye, x - eye])
        X = np.clip(X, problem.lower, problem.upper)
        f = problem.nll_many(X)
        if f[0] >= FAILED_NLL:
            return float(f[0]), np.zeros_like(x)
        step = X[1:1 + len(x)].diagonal() - X[1 + len(x):].diagonal()
        with np.errstate(invalid="ignore"):
            g = np.where(step > 0, (f[1:1 + len(x)] - f[1 + len(x):]) / np.where(step > 0, step, 1.0), 0.0)
        g = np.where(np.abs(g) < FAILED_NLL / 1e3, g, 0.0)  # a failed neighbour gives no slope
        return float(f[0]), g

    res = optimize.minimize(fun_grad, x0, jac=True, method="L-BFGS-B", bounds=list(zip(problem.lower, problem.upper)),
                            options={"maxiter": iterations})
    if float(res.fun) < nll0:
        return np.asarray(res.x, dtype=float), float(res.fun)
    return x0, nll0


def sample_posterior(problem, cfg: TargetFitSettings, title: str, progress: bool = False) -> dict:
    """MAP, posterior sample, point estimate and verdicts of a calibration ``problem``.

    ``problem`` has ``dim``, ``labels``, ``lower``/``upper``/``nominal`` (the search scale: log10 of
    the value, or the value itself where ``natural(k, v)`` says so), ``cited`` (natural ranges),
    ``nll_many(X)``, ``met(x)``, ``natural(k, v)``, ``range_name(k)`` and ``n_evaluations``. Differential evolution
    (the hand-tuned point in its first generation), optionally a quasi-Newton polish
    (:func:`polish_optimum`), then emcee, both on whole populations per call.
    """
    from scipy import optimize

    try:
        import emcee
    except ImportError:
        raise UserInputError("the calibration samples the posterior with emcee, which is not installed: "
                             "pip install 'nephrosim[calibration]'") from None

    from nephrosim.progress import ProgressBar

    walkers = cfg.walkers or max(4 * problem.dim, 16)
    if walkers < 2 * problem.dim:
        raise UserInputError(f"fit.walkers = {walkers}: emcee needs at least twice the number of parameters "
                             f"({2 * problem.dim}); raise fit.walkers or leave it out (default 4 × parameters)")
    bounds = list(zip(problem.lower, problem.upper))
    with ProgressBar(title, 2, 0, progress) as bar:
        de = optimize.differential_evolution(
            lambda X: problem.nll_many(X.T), bounds, seed=cfg.seed, popsize=cfg.popsize, maxiter=cfg.maxiter,
            tol=1e-10, polish=False, init="latinhypercube", vectorized=True,
            # the hand-tuned point joins the first generation (a hair inside a bound it sits on)
            x0=np.clip(problem.nominal, problem.lower + 1e-9 * (problem.upper - problem.lower),
                       problem.upper - 1e-9 * (problem.upper - problem.lower)),
            updating="deferred")
        x_opt, nll_opt = de.x, float(de.fun)
        if cfg.polish:
            x_opt, nll_opt = polish_optimum(problem, x_opt, nll_opt, cfg.polish)
        bar.advance()
        rng = np.random.default_rng(cfg.seed)

        width = problem.upper - problem.lower
        p0 = np.clip(x_opt + 0.01 * width * rng.standard_normal((walkers, problem.dim)), problem.lower, problem.upper)
        sampler = emcee.EnsembleSampler(walkers, problem.dim, lambda X: -problem.nll_many(X), vectorize=True)
        sampler.random_state = np.random.RandomState(cfg.seed).get_state()
        sampler.run_mcmc(p0, cfg.steps)
        bar.advance()
    burn = min(cfg.burn, cfg.steps - 1)
    chain = sampler.get_chain(discard=burn, flat=True)
    logp = sampler.get_log_prob(discard=burn, flat=True)
    every = sampler.get_log_prob(flat=True)
    best = int(np.argmax(every))
    x_map, nll_map = (sampler.get_chain(flat=True)[best], float(-every[best]))
    if nll_opt <= nll_map:
        x_map, nll_map = x_opt, nll_opt
    nll_nominal = float(problem.nll_many(problem.nominal[None, :])[0])
    q = np.quantile(chain, [0.025, 0.5, 0.975], axis=0)
    # the point estimate: where the targets do not pin a parameter down, the MAP sits anywhere on a
    # flat ridge (often at a bound), so the table takes the posterior draw nearest the posterior
    # median (distance in units of each cited range on the search scale) among the draws within
    # χ²₁(0.95)/2 of the MAP
    near = chain[-logp <= nll_map + PROFILE_THRESHOLD]
    if len(near) == 0:
        near = x_map[None, :]
    x_point = near[int(np.argmin(np.sum(((near - q[1]) / (problem.upper - problem.lower)) ** 2, axis=1)))]
    nll_point = float(problem.nll_many(x_point[None, :])[0])
    # convergence (emcee's rule: a chain of at least 50 integrated autocorrelation times); an
    # unconverged chain's intervals are too narrow, so it withholds every "identifiable" verdict
    tau = sampler.get_autocorr_time(tol=0)
    converged = bool(np.all(np.isfinite(tau)) and cfg.steps >= 50 * float(np.max(tau)))
    parameters = {}
    nat = problem.natural
    for k, label in enumerate(problem.labels):
        range_name = problem.range_name(k)
        ident, why = verdict(q[0, k], q[2, k], problem.lower[k], problem.upper[k], range_name)
        if ident and not converged:
            ident, why = False, (f"identifiability not claimed: the posterior sample has not converged ({cfg.steps} "
                                 f"steps, under 50 autocorrelation times of {float(np.max(tau)):.0f} steps); on the "
                                 f"unconverged sample the 95 % interval spans "
                                 f"{(q[2, k] - q[0, k]) / (problem.upper[k] - problem.lower[k]):.0%} of the "
                                 f"{range_name}")
        parameters[label] = {
            "point": nat(k, x_point[k]), "map": nat(k, x_map[k]), "median": nat(k, q[1, k]),
            "interval_95": [nat(k, q[0, k]), nat(k, q[2, k])], "cited_range": list(problem.cited[k]),
            "hand_tuned_value": nat(k, problem.nominal[k]), "identifiable": ident, "verdict": why}
    return {
        "nll_map": nll_map, "nll_point": nll_point, "nll_hand_tuned": nll_nominal,
        "targets_met_point": problem.met(x_point), "targets_met_map": problem.met(x_map),
        "targets_met_hand_tuned": problem.met(problem.nominal),
        "parameters": parameters, "acceptance_fraction": float(np.mean(sampler.acceptance_fraction)),
        "autocorrelation_time_max": float(np.max(tau)), "converged": converged,
        "posterior_draws": int(len(chain)), "evaluations": problem.n_evaluations,
    }


__all__ = ["FitSpec", "TargetFitSpec", "TargetProblem", "censored_nll", "fit_targets", "load_target_fit", "sample_posterior",
           "verdict"]
