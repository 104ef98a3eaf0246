"""``calibrate``: the fitted :class:`Calibration` object and its multistart optimisation.

What a fitted calibration can do next lives beside this module, one concern each, and is
mixed into :class:`Calibration`: profile likelihoods and the identifiability verdict
(:mod:`.profiles`), posterior draws and prediction intervals (:mod:`.sampling`), shipping
as the package's parameter set (:mod:`.shipping`).

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
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import optimize

from nephrosim.calibration.config import as_config, config_from_dict
from nephrosim.calibration.problem import FAILED_NLL, CalibrationProblem
from nephrosim.calibration.profiles import PROFILE_THRESHOLD, ProfileLikelihoodMixin
from nephrosim.calibration.sampling import PosteriorMixin
from nephrosim.calibration.shipping import ShippingMixin
from nephrosim.errors import UserInputError
from nephrosim.io import write_text_atomic
from nephrosim.progress import ProgressBar

__all__ = ["PROFILE_THRESHOLD", "Calibration", "NotFittedError", "calibrate"]


class NotFittedError(RuntimeError):
    """A result was asked of a :class:`Calibration` before :meth:`Calibration.fit`."""


class Calibration(ProfileLikelihoodMixin, PosteriorMixin, ShippingMixin):
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
        if np.all(np.asarray(lo) == np.asarray(hi)):  # nothing left to optimise (a profile of a 1-parameter fit)
            return optimize.OptimizeResult(x=np.asarray(x0, dtype=float), fun=problem.nll(x0), jac=None, success=True,
                                           message="every parameter fixed: the likelihood at the point")
        if cfg.method == "Powell" and len(x0) == 1:
            # one parameter: Powell is a bounded Brent line search, so run that directly. scipy 1.17's
            # Powell adds an extrapolation step whose bound check raised "zero-size array to reduction
            # operation maximum" on the GSH-synthesis fit, whose optimum lies on the upper bound.
            # Brent's bounded search never evaluates the ends, so an optimum on a bound is checked there.
            r = optimize.minimize_scalar(lambda v: problem.nll(np.array([v])), bounds=(float(lo[0]), float(hi[0])),
                                         method="bounded", options={"xatol": 1e-4, "maxiter": cfg.maxiter})
            x, fun = float(r.x), float(r.fun)
            for end in (float(lo[0]), float(hi[0])):
                f_end = problem.nll(np.array([end]))
                if f_end < fun:
                    x, fun = end, float(f_end)
            return optimize.OptimizeResult(x=np.array([x]), fun=fun, jac=None, success=bool(r.success),
                                           message=str(r.message), nfev=int(r.nfev) + 2)
        if cfg.method == "Powell":
            return optimize.minimize(problem.nll, x0, method="Powell", bounds=list(zip(lo, hi)),
                                     options={"maxiter": cfg.maxiter, "xtol": 1e-4, "ftol": 1e-10})
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
                    # batch engine: the whole population in one call per experiment and generation
                    batch = {"vectorized": True, "updating": "deferred"} if problem.batch else {}
                    de = optimize.differential_evolution(
                        (lambda X: problem.nll_many(X.T)) if problem.batch else problem.nll,
                        list(zip(problem.lower, problem.upper)), seed=config.fit.seed,
                        maxiter=config.fit.maxiter, popsize=max(15, 3 * problem.dim), polish=False, tol=1e-8,
                        init="latinhypercube", **batch)
                    res = self._local(problem, de.x)
                    x0 = de.x
                else:
                    x0 = starts[i]
                    res = self._local(problem, x0)
                rec = {"start": i, "x0": [float(v) for v in x0], "x": [float(v) for v in res.x],
                       "nll": float(res.fun), "grad_norm": _grad_norm(res),
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
        if "profiles" in result:
            import pandas as pd

            cal.profiles_ = {k: pd.DataFrame({"log10_value": v["log10_value"],
                                              "value": [10.0 ** x for x in v["log10_value"]],
                                              "delta_nll": v["delta_nll"]})
                             for k, v in result["profiles"].items()}
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
        if getattr(self, "profiles_", None):  # the curves too, so a later report need not recompute them
            data["profiles"] = {k: {"log10_value": [float(v) for v in prof["log10_value"]],
                                    "delta_nll": [float(v) for v in prof["delta_nll"]]}
                                for k, prof in self.profiles_.items()}
        self._write_json(Path(path), data)


    def n_converged(self, tol: float = 1e-3) -> int:
        """How many starts ended within ``tol`` of the best NLL (a convergence diagnostic)."""
        self._check_fitted()
        return int(sum(abs(r["nll"] - self.nll_) <= tol for r in self.starts_))

    def starts_frame(self):
        import pandas as pd

        self._check_fitted()
        return pd.DataFrame(self.starts_)


def _grad_norm(res) -> float:
    """Norm of the gradient at a local fit's end (NaN for a derivative-free method)."""
    g = getattr(res, "grad", None)
    g = getattr(res, "jac", None) if g is None else g
    return float(np.linalg.norm(g)) if g is not None else float("nan")


def calibrate(config, *, out: str | Path | None = None, progress: bool = False) -> Calibration:
    """Fit ``config`` (a :class:`CalibrationConfig`, YAML path or mapping); returns the fitted object."""
    return Calibration(config, out=out, progress=progress).fit()

