"""``calibrate``: multistart fitting, profile likelihoods, posterior samples, prediction intervals.

Design
------
* Local fits run in log10 parameter space with scipy's L-BFGS-B (or trust-constr)
  and the *exact* gradient from forward sensitivities
  (:mod:`nephrosim.engine.sensitivity`); no finite differences.
  ``method: differential_evolution`` runs scipy's derivative-free global search
  and polishes its best point with the gradient-based local fit.
* Start points are fixed by the seed before any start runs (start 0 = the
  table's nominal values, the rest a Latin hypercube), so a result depends only
  on the config.
* With ``out=DIR`` every finished start is written at once, atomically, to
  ``DIR/starts.json`` (tagged with a hash of the config). Rerunning the same
  command after a crash or ``kill -9`` skips finished starts and ends with the
  same result; a changed config refuses to mix with the old file.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from scipy import optimize, stats

from nephrosim.biology.parameters import ParameterTable, shipped_calibration
from nephrosim.calibration.config import CalibrationConfig, as_config, config_from_dict
from nephrosim.calibration.problem import FAILED_NLL, CalibrationProblem, values_for_scenario
from nephrosim.errors import UserInputError
from nephrosim.io import write_text_atomic
from nephrosim.progress import ProgressBar
from nephrosim.run.simulation import as_scenario, compile_arm, solver_options

#: ΔNLL threshold of a pointwise 95 % profile-likelihood interval: χ²₁(0.95)/2.
PROFILE_THRESHOLD = float(stats.chi2.ppf(0.95, 1) / 2.0)  # 1.9207


class NotFittedError(RuntimeError):
    pass


class Calibration:
    """A calibration of nephrosim parameters to study data (a fitted object).

    Arguments
    ---------
    config : :class:`CalibrationConfig`, a path to its YAML, or a mapping.
    out : optional folder for the checkpoint (``starts.json``) and result (``result.json``).
    progress : show a rich progress bar.

    Attributes (after :meth:`fit`)
    -------------------------------
    problem_ : the :class:`CalibrationProblem`.
    x_ : best point (log10 values, then random effects).
    nll_ : its negative log-likelihood.
    parameters_ : estimated parameters, natural scale (label → value).
    random_effects_ : study → {parameter: log10 deviation} (empty without random effects).
    starts_ : one record per start (x0, x, nll, status, seconds, ...).
    profiles_, intervals_ : after :meth:`profile`.
    samples_ : after :meth:`sample` (rows = draws of ``x``).

    Examples
    --------
    >>> cal = Calibration("calibration/default.yaml").fit()   # doctest: +SKIP
    >>> cal.parameters_, cal.profile().intervals_               # doctest: +SKIP
    """

    def __init__(self, config, *, out: str | Path | None = None, progress: bool = False):
        self.config = config
        self.out = out
        self.progress = progress

    # ------------------------------------------------------------------ fitting
    def _check_fitted(self):
        if not hasattr(self, "x_"):
            raise NotFittedError("This Calibration instance is not fitted yet. Call 'fit' first.")

    def _local(self, problem: CalibrationProblem, x0: np.ndarray, lower=None, upper=None):
        """One local fit from ``x0``; failed evaluations are counted on the result.

        A failed evaluation (a solver failure, a non-finite likelihood) returns a large value
        with no gradient, which the line search backs away from — but a start *on* a failed
        point would see a flat plateau and stop there, "converged". So a start that fails is
        moved along the segment towards the centre of the bounds to the first point that
        evaluates; and when the optimizer still ends on a failed point, the fit restarts once
        from the best successful point it visited. The result carries ``failed_evaluations``,
        ``failure_messages`` and ``restarted_from_last_good``.
        """
        lo = problem.lower if lower is None else lower
        hi = problem.upper if upper is None else upper
        problem.reset_failures()
        x0 = np.clip(x0, lo, hi)
        if problem.nll(x0) >= FAILED_NLL:
            centre = 0.5 * (np.asarray(lo) + np.asarray(hi))
            for step in (0.125, 0.25, 0.5, 0.75, 1.0):
                x = x0 + step * (centre - x0)
                if problem.nll(x) < FAILED_NLL:
                    x0 = x
                    break
        res = self._minimize(problem, x0, lo, hi)
        restarted = False
        if res.fun >= FAILED_NLL and problem.best_ok[1] is not None:
            res = self._minimize(problem, np.clip(problem.best_ok[1], lo, hi), lo, hi)
            restarted = True
        res.failed_evaluations = problem.n_failed
        res.failure_messages = list(problem.failure_messages)
        res.restarted_from_last_good = restarted
        return res

    def _minimize(self, problem: CalibrationProblem, x0, lo, hi):
        cfg = self.config_.fit
        if cfg.method == "trust-constr":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return optimize.minimize(problem.nll_and_grad, x0, jac=True, method="trust-constr",
                                         bounds=optimize.Bounds(lo, hi),
                                         options={"maxiter": cfg.maxiter, "gtol": cfg.gtol})
        return optimize.minimize(problem.nll_and_grad, x0, jac=True, method="L-BFGS-B",
                                 bounds=list(zip(lo, hi)),
                                 options={"maxiter": cfg.maxiter, "gtol": cfg.gtol, "ftol": 1e-13})

    def fit(self) -> Calibration:
        """Run the multistart (or global) optimisation; resumes from ``out`` if present."""
        self.config_ = config = as_config(self.config)
        problem = CalibrationProblem(config)
        self.problem_ = problem
        digest = config.digest()
        ckpt_path = Path(self.out) / "starts.json" if self.out else None
        records: list[dict] = []
        if ckpt_path and ckpt_path.exists():
            saved = json.loads(ckpt_path.read_text(encoding="utf-8"))
            if saved.get("config_digest") != digest:
                raise UserInputError(f"{ckpt_path} was written for a different config (digest "
                                   f"{saved.get('config_digest')} ≠ {digest}); use another --out folder or "
                                   "delete the file")
            records = saved["starts"]
        n = 1 if config.fit.method == "differential_evolution" else config.fit.n_starts
        starts = problem.start_points(config.fit.n_starts, config.fit.seed)
        done = {r["start"] for r in records}
        if self.out:
            self._write_json(Path(self.out) / "config.json", config.model_dump(mode="json"))
        problem.warm_up()
        best = min((r["nll"] for r in records), default=float("nan"))
        with ProgressBar(f"calibrate {config.name}", n, len(done), self.progress, best=f"{best:.4g}") as bar:
            for i in range(n):
                if i in done:
                    continue
                t0 = time.perf_counter()
                ev0 = problem.n_evaluations
                if config.fit.method == "differential_evolution":
                    de = optimize.differential_evolution(
                        problem.nll, list(zip(problem.lower, problem.upper)), seed=config.fit.seed,
                        maxiter=config.fit.maxiter, popsize=max(15, 3 * problem.dim), polish=False, tol=1e-8,
                        init="latinhypercube")
                    res = self._local(problem, de.x)
                    x0 = de.x
                else:
                    x0 = starts[i]
                    res = self._local(problem, x0)
                rec = {"start": i, "x0": [float(v) for v in x0], "x": [float(v) for v in res.x],
                       "nll": float(res.fun), "grad_norm": float(np.linalg.norm(res.grad if hasattr(res, "grad") else res.jac)),
                       "success": bool(res.success), "message": str(res.message),
                       "evaluations": problem.n_evaluations - ev0,
                       "failed_evaluations": int(getattr(res, "failed_evaluations", 0)),
                       "failure_messages": list(getattr(res, "failure_messages", [])),
                       "restarted_from_last_good": bool(getattr(res, "restarted_from_last_good", False)),
                       "seconds": round(time.perf_counter() - t0, 3)}
                records.append(rec)
                if ckpt_path:
                    self._write_json(ckpt_path, {"config_digest": digest, "names": problem.names,
                                                 "starts": sorted(records, key=lambda r: r["start"])})
                best = min(r["nll"] for r in records)
                bar.advance(best=f"{best:.4g}")
        records.sort(key=lambda r: r["start"])
        self.starts_ = records
        best_rec = min(records, key=lambda r: (round(r["nll"], 9), r["start"]))
        self.x_ = np.asarray(best_rec["x"], dtype=float)
        self.nll_ = float(best_rec["nll"])
        self._set_results()
        if self.out:
            self.save(Path(self.out) / "result.json")
        return self

    @classmethod
    def load(cls, out: str | Path) -> Calibration:
        """A fitted :class:`Calibration` from the folder a run wrote (``config.json``,
        ``starts.json``, ``result.json``) — e.g. for prediction intervals later."""

        out = Path(out)
        missing = [f for f in ("config.json", "starts.json", "result.json") if not (out / f).exists()]
        if missing:
            raise FileNotFoundError(f"{out}: {missing} missing — run `python -m nephrosim.calibration CONFIG "
                                    f"--out {out}` to the end first")
        data = json.loads((out / "config.json").read_text(encoding="utf-8"))
        cfg = config_from_dict(data, str(out / "config.json"), base_dir=data.get("base_dir", ""))
        result = json.loads((out / "result.json").read_text(encoding="utf-8"))
        if result.get("config_digest") != cfg.digest():
            raise RuntimeError(f"{out}: result.json does not belong to config.json; rerun the calibration")
        cal = cls(cfg, out=out)
        cal.config_ = cfg
        cal.problem_ = CalibrationProblem(cfg)
        cal.starts_ = json.loads((out / "starts.json").read_text(encoding="utf-8"))["starts"]
        cal.x_ = np.asarray(result["x"], dtype=float)
        cal.nll_ = float(result["nll"])
        cal._set_results()
        if "intervals_95" in result:
            cal.intervals_ = {k: tuple(v) for k, v in result["intervals_95"].items()}
        return cal

    def _set_results(self):
        p = self.problem_
        self.parameters_ = p.parameter_values(self.x_)
        self.random_effects_: dict[str, dict[str, float]] = {}
        for s, par, idx in p.re_slots:
            self.random_effects_.setdefault(s, {})[par] = float(self.x_[idx])

    @staticmethod
    def _write_json(path: Path, data) -> None:
        write_text_atomic(path, json.dumps(data, indent=1, sort_keys=False))

    def save(self, path: str | Path) -> None:
        self._check_fitted()
        data = {
            "config": self.config_.name, "config_digest": self.config_.digest(),
            "names": self.problem_.names, "x": [float(v) for v in self.x_], "nll": self.nll_,
            "parameters": self.parameters_, "random_effects": self.random_effects_,
            "n_starts": len(self.starts_), "converged_to_best": self.n_converged(),
        }
        if hasattr(self, "intervals_"):
            data["intervals_95"] = {k: list(v) for k, v in self.intervals_.items()}
        self._write_json(Path(path), data)

    def shipped(self, *, date: str | None = None) -> dict:
        """This fit as a shipped calibration (what ``model/calibrated.json`` holds).

        Provenance: config name and digest, seed, date, nephrosim version, and the
        *evidence* fitted — every study's citation and a digest of the observations
        (study, arm, readout, time, mean, SE), so a changed data set changes the digest.
        """
        import datetime
        from importlib import metadata

        self._check_fitted()
        p = self.problem_
        try:
            version = metadata.version("nephrosim")
        except metadata.PackageNotFoundError:  # pragma: no cover — running from a source tree
            version = "unknown"
        return {
            "config": self.config_.name, "config_digest": self.config_.digest(), "seed": self.config_.fit.seed,
            "date": date or datetime.date.today().isoformat(), "nephrosim_version": version,
            "likelihood": self.config_.likelihood, "nll": self.nll_,
            "evidence": {"digest": p.evidence_digest(), "n_observations": p.n_observations,
                         "studies": {s.id: s.citation for s in p.studies}},
            "studies": list(p.study_ids),
            "parameters": {self._table_label(q): float(self.parameters_[q.label]) for q in p.parameters},
            "intervals_95": {k: list(v) for k, v in getattr(self, "intervals_", {}).items()},
            "cited_ranges": {q.label: [q.table_lower, q.table_upper] for q in p.parameters},
            "random_effects_sd_log10": {r.parameter: r.sd_log10 for r in p.random_effects},
            "random_effects": self.random_effects_,
            # enough to rebuild the fit (Calibration.from_shipped) for prediction intervals
            "names": p.names, "x": [float(v) for v in self.x_],
            "config_data": self.config_.model_dump(mode="json", exclude={"base_dir"}),
        }

    @classmethod
    def from_shipped(cls, data: dict | None = None) -> Calibration:
        """The fitted :class:`Calibration` behind the shipped parameter set (default: the
        package's ``model/calibrated.json``) — e.g. for ``simulate --uncertainty shipped``."""

        data = data or shipped_calibration()
        if data is None:
            raise FileNotFoundError("no shipped calibration in this installation; run `nephrosim calibrate "
                                    "calibration/default.yaml --out DIR --ship` or give a calibration folder")
        cfg = config_from_dict(data["config_data"], "shipped calibration")
        if cfg.digest() != data["config_digest"]:
            raise RuntimeError("the shipped calibration's config does not match its digest; re-ship it")
        cal = cls(cfg)
        cal.config_ = cfg
        cal.problem_ = CalibrationProblem(cfg)
        cal.x_ = np.asarray(data["x"], dtype=float)
        cal.nll_ = float(data["nll"])
        cal.starts_ = [{"start": 0, "nll": cal.nll_, "x": data["x"]}]
        cal._set_results()
        cal.intervals_ = {k: tuple(v) for k, v in data.get("intervals_95", {}).items()}
        return cal

    def _table_label(self, q) -> str:
        """``name`` for a parameter-table row of all species, else ``name[species]`` (the species
        of the studies that informed it)."""

        if q.species is not None:
            return q.label
        table = ParameterTable.default(calibrated=False)
        if table.has_row(q.name, "all"):
            return q.name
        return f"{q.name}[{self.problem_.studies[0].species}]"

    def ship(self, path: str | Path) -> Path:
        """Write :meth:`shipped` to ``path`` (atomic), ready to become the package's
        ``biology/calibrated.json`` in a source checkout. The installed package is never
        written at run time. Refuses a fit whose config estimated from the shipped values
        (``parameter_set: calibrated``), so a shipped set never feeds on itself."""
        if self.config_.parameter_set != "table":
            raise ValueError("only a calibration with parameter_set: table can be shipped (it must start from the "
                             "cited table, not from a previous shipped calibration); set it in the config")
        self._write_json(Path(path), self.shipped())
        return Path(path)

    def n_converged(self, tol: float = 1e-3) -> int:
        """How many starts ended within ``tol`` of the best NLL (a convergence diagnostic)."""
        self._check_fitted()
        return int(sum(abs(r["nll"] - self.nll_) <= tol for r in self.starts_))

    def starts_frame(self):
        import pandas as pd

        self._check_fitted()
        return pd.DataFrame(self.starts_)

    # ------------------------------------------------------------------ profiles
    def profile(self, names: Sequence[str] | None = None, *, step: float | None = None, max_steps: int = 40,
                threshold: float = PROFILE_THRESHOLD, refine: int = 3) -> Calibration:
        """Profile likelihoods of estimated parameters (default: all) around the optimum.

        Each step fixes one log10 parameter and re-optimises the others (warm start).
        The first step (default) is a quarter of the Gauss–Newton estimate of the
        interval half-width; steps grow by 1.5 where the profile is flat. The step that
        crosses the threshold is bisected ``refine`` times before interpolating.
        The 95 % interval is where ΔNLL = χ²₁(0.95)/2 = 1.92 (linear interpolation);
        an end that reaches a bound first is reported as ``None`` (not identifiable on
        that side within the cited range).
        """
        self._check_fitted()
        p = self.problem_
        labels = [q.label for q in p.parameters]
        names = list(names) if names else labels
        cov = np.linalg.pinv(p.fisher_information(self.x_))
        self.profiles_ = getattr(self, "profiles_", {})
        self.intervals_ = getattr(self, "intervals_", {})
        for name in names:
            if name not in labels:
                raise KeyError(f"profile: {name!r} is not an estimated parameter; estimated: {labels}")
            i = labels.index(name)
            rows = [(float(self.x_[i]), 0.0)]
            ends = []
            for direction in (-1.0, 1.0):
                x = self.x_.copy()
                if step is not None:
                    h = step
                else:
                    half = math.sqrt(max(2 * threshold * cov[i, i], 0.0))
                    h = min(max(half / 4, 1e-4), 0.1 * (p.upper[i] - p.lower[i]))
                v = self.x_[i]
                end = None
                prev_v, prev_d, prev_x = v, 0.0, self.x_.copy()

                def at(value, start, i=i):
                    lo, hi = p.lower.copy(), p.upper.copy()
                    lo[i] = hi[i] = value
                    x0 = start.copy()
                    x0[i] = value
                    res = self._local(p, x0, lo, hi)
                    return np.asarray(res.x), float(res.fun - self.nll_)

                for _ in range(max_steps):
                    v_new = v + direction * h
                    hit = v_new <= p.lower[i] or v_new >= p.upper[i]
                    v_new = min(max(v_new, p.lower[i]), p.upper[i])
                    x, delta = at(v_new, x)
                    rows.append((float(v_new), delta))
                    if delta >= threshold:
                        # refine the crossing by bisection (3 halvings), then interpolate
                        a, da, xa, b, db = prev_v, prev_d, prev_x, v_new, delta
                        for _ in range(refine):
                            mid = 0.5 * (a + b)
                            xm, dm = at(mid, xa)
                            rows.append((float(mid), dm))
                            if dm >= threshold:
                                b, db = mid, dm
                            else:
                                a, da, xa = mid, dm, xm
                        frac = (threshold - da) / (db - da) if db != da else 1.0
                        end = a + frac * (b - a)
                        break
                    # adapt the step: larger where the profile is flat
                    h = h * 1.5 if delta - prev_d < 0.1 * threshold else h
                    prev_v, prev_d, prev_x, v = v_new, delta, x.copy(), v_new
                    if hit:
                        break
                ends.append(None if end is None else float(10.0 ** end))
            rows.sort()
            import pandas as pd

            self.profiles_[name] = pd.DataFrame({"log10_value": [r[0] for r in rows],
                                                 "value": [10.0 ** r[0] for r in rows],
                                                 "delta_nll": [r[1] for r in rows]})
            self.intervals_[name] = (ends[0], ends[1])
        if self.out:
            self.save(Path(self.out) / "result.json")
        return self

    def identifiability(self):
        """Table: estimate, 95 % profile interval, identifiable?, within the cited range?"""
        import pandas as pd

        self._check_fitted()
        rows = []
        for i, q in enumerate(self.problem_.parameters):
            lo, hi = getattr(self, "intervals_", {}).get(q.label, (math.nan, math.nan))
            val = self.parameters_[q.label]
            inside = ((q.table_lower is None or val >= q.table_lower * (1 - 1e-9))
                      and (q.table_upper is None or val <= q.table_upper * (1 + 1e-9)))
            at_bound = (abs(self.x_[i] - self.problem_.lower[i]) < 1e-3
                        or abs(self.x_[i] - self.problem_.upper[i]) < 1e-3)
            if q.label not in getattr(self, "intervals_", {}):
                ident = "not profiled"
            elif lo is None and hi is None:
                ident = "non-identifiable"
            elif lo is None or hi is None:
                ident = "practically non-identifiable (one side open)"
            else:
                ident = "identifiable"
            rows.append({"parameter": q.label, "estimate": val, "nominal": q.nominal, "ci95_lower": lo,
                         "ci95_upper": hi, "identifiability": ident, "cited_lower": q.table_lower,
                         "cited_upper": q.table_upper, "within_cited_range": inside, "at_bound": at_bound})
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ uncertainty
    def sample(self, n: int = 500, method: str = "laplace", seed: int = 0, *, walkers: int | None = None,
               burn: int = 200, thin: int = 5) -> np.ndarray:
        """Draws of ``x`` representing parameter uncertainty (stored in ``samples_``).

        ``laplace`` : multivariate normal with the inverse Gauss–Newton Hessian (from
        the exact sensitivities) at the optimum, truncated to the bounds (resampled).
        ``emcee``   : affine-invariant ensemble MCMC on exp(−NLL) with a uniform prior
        on the log10 box (needs the ``emcee`` package).
        """
        self._check_fitted()
        p = self.problem_
        rng = np.random.default_rng(seed)
        if method == "laplace":
            H = p.fisher_information(self.x_)
            cov = np.linalg.pinv(H)
            cov = 0.5 * (cov + cov.T)
            draws = []
            while len(draws) < n:
                z = rng.multivariate_normal(self.x_, cov, size=2 * n, method="eigh")
                ok = np.all((z >= p.lower) & (z <= p.upper), axis=1)
                draws.extend(z[ok])
                if not ok.any():
                    draws.extend(np.clip(z, p.lower, p.upper))
            self.samples_ = np.asarray(draws[:n])
            self.covariance_ = cov
        elif method == "emcee":
            try:
                import emcee
            except ImportError:
                raise ImportError("method='emcee' needs the emcee package: pip install 'emcee>=3.1'") from None
            nw = walkers or max(2 * p.dim + 2, 8)

            def logp(x):
                if np.any(x < p.lower) or np.any(x > p.upper):
                    return -np.inf
                return -p.nll(x)

            p0 = np.clip(self.x_ + 1e-3 * rng.standard_normal((nw, p.dim)), p.lower, p.upper)
            sampler = emcee.EnsembleSampler(nw, p.dim, logp)
            sampler.random_state = np.random.RandomState(seed).get_state()  # reproducible
            steps = burn + thin * (math.ceil(n / nw) + 1)
            sampler.run_mcmc(p0, steps, progress=self.progress)
            chain = sampler.get_chain(discard=burn, thin=thin, flat=True)
            self.samples_ = chain[rng.permutation(len(chain))[:n]]
            self.acceptance_ = float(np.mean(sampler.acceptance_fraction))
        else:
            raise ValueError(f"sample: method {method!r} is not 'laplace' or 'emcee'")
        return self.samples_

    def calibrated_domain(self) -> set[tuple[str, str]]:
        """(species, injury model) pairs of the studies this calibration was fitted to."""
        self._check_fitted()
        return {(e.scenario.species, e.scenario.injury.model) for e in self.problem_.experiments}

    def predict_interval(self, scenario, samples: np.ndarray | None = None, *, level: float = 0.95,
                         new_study: bool = True, seed: int = 0, include_assumed: bool = True):
        """Prediction interval of every arm × readout × time of ``scenario``.

        Three sources of uncertainty enter each draw: the posterior of the fitted parameters
        (``samples``), between-lab variability (a fresh random effect per draw when
        ``new_study``), and — with ``include_assumed`` — every *assumed* parameter the arm uses,
        drawn log-uniformly on its table range (the ranges are the only statement the table
        makes about them, so the band must carry them; without them a scenario outside the
        calibrated domain would get a zero-width interval that reads as certainty).

        Arguments
        ---------
        scenario : a :class:`Scenario`, path or mapping.
        samples : draws of ``x`` (default: ``samples_``, drawn by :meth:`sample` if absent).
        level : interval probability (0.95 → 2.5 % and 97.5 % quantiles).
        new_study : add a fresh between-study random effect per draw (predicting a new
            study) rather than the population-typical value.
        include_assumed : also draw the assumed parameters on their ranges.

        Returns
        -------
        DataFrame ``arm, time_h, readout, unit, median, lower, upper, n_ok, in_calibrated_domain``.
        """
        import pandas as pd

        from nephrosim.run.ensemble import draw, priors_from_table, varied_parameters

        self._check_fitted()
        p = self.problem_
        if samples is None:
            samples = getattr(self, "samples_", None)
            if samples is None:
                samples = self.sample()
        samples = np.atleast_2d(samples)
        scenario = as_scenario(scenario)
        in_domain = (scenario.species, scenario.injury.model) in self.calibrated_domain()
        rng = np.random.default_rng(seed)
        n_p = len(p.parameters)
        fitted_names = {q_.name for q_ in p.parameters}
        assumed = {}
        if include_assumed:
            assumed = {k: v for k, v in varied_parameters(scenario).items() if k not in fitted_names}
        priors = priors_from_table(assumed, 0.0, "table") if assumed else []
        assumed_draws = draw(priors, 0, len(samples), seed) if priors else np.zeros((len(samples), 0))
        times = np.asarray(scenario.times_h, dtype=float)
        q = (1 - level) / 2
        rows = []
        for arm in scenario.arms:
            program = compile_arm(scenario, arm.name)
            sim = program.simulator(solver_options(scenario))
            names = list(values_for_scenario(p.parameters, self.x_[:n_p], scenario, program.parameter_values))
            idx = [next(i for i, q_ in enumerate(p.parameters) if q_.name == nm
                        and (q_.species is None or q_.species == scenario.species)) for nm in names]
            logv = samples[:, idx].copy() if idx else np.zeros((len(samples), 0))
            if new_study:
                for k, i in enumerate(idx):
                    sd = next((r.sd_log10 for r in p.random_effects if r.parameter == p.parameters[i].name), 0.0)
                    if sd:
                        logv[:, k] += rng.normal(0.0, sd, len(samples))
            own = [j for j, pr in enumerate(priors) if pr.name in program.parameter_values]
            values = np.hstack([10.0 ** logv, assumed_draws[:, own]])
            out, statuses = sim.run_batch(times, names + [priors[j].name for j in own], values)
            out = out * np.asarray(program.factors)
            ok = np.array([s.ok for s in statuses])
            good = out[ok]
            for j, readout in enumerate(program.readouts):
                for t, time_h in enumerate(times):
                    col = good[:, t, j] if good.size else np.array([np.nan])
                    rows.append({"arm": arm.name, "time_h": float(time_h), "readout": readout,
                                 "unit": program.units[j], "median": float(np.nanmedian(col)),
                                 "lower": float(np.nanquantile(col, q)), "upper": float(np.nanquantile(col, 1 - q)),
                                 "n_ok": int(ok.sum()), "in_calibrated_domain": in_domain})
        return pd.DataFrame(rows)


def calibrate(config, *, out: str | Path | None = None, progress: bool = False) -> Calibration:
    """Fit ``config`` (a :class:`CalibrationConfig`, YAML path or mapping); returns the fitted object."""
    return Calibration(config, out=out, progress=progress).fit()


def synthesize(config, true_values: Mapping[str, float], *, cv: float = 0.05, n: int = 8, seed: int = 0,
               noise: bool = True) -> CalibrationConfig:
    """A copy of ``config`` whose observation means are simulated at ``true_values``.

    Each observation's SD becomes ``cv`` × the true mean (n subjects), and its mean is
    the true mean plus normal noise with SE = SD/√n (seeded). For tests and demos.
    """
    cfg = as_config(config)
    problem = CalibrationProblem(cfg)
    x = problem.x_nominal.copy()
    for i, q in enumerate(problem.parameters):
        if q.label in true_values:
            x[i] = math.log10(true_values[q.label])
        elif q.name in true_values:
            x[i] = math.log10(true_values[q.name])
    rng = np.random.default_rng(seed)
    studies = []
    for s in cfg.studies:
        if s.id not in problem.study_ids:
            studies.append(s.model_dump())
            continue
        obs = []
        for e in (e for e in problem.experiments if e.study == s.id):
            m = problem.predict(e, x)[0]
            for j in range(m.size):
                sd = cv * abs(m[j])
                mean = m[j] + (rng.normal(0.0, sd / math.sqrt(n)) if noise else 0.0)
                obs.append({"arm": e.arm, "readout": e.readout[j], "time_h": float(e.obs_time[j]),
                            "mean": float(mean), "sd": float(sd), "n": n, "unit": e.unit[j]})
        d = s.model_dump()
        d["observations"] = obs
        d["observations_csv"] = None
        studies.append(d)
    return cfg.replace(studies=studies)
