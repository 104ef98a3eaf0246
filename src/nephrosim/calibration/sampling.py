"""Parameter uncertainty of a fitted calibration and prediction intervals for any scenario.

``laplace``: the Gauss–Newton Hessian from the exact sensitivities at the optimum gives a
multivariate normal on the log10 scale (truncated to the bounds); ``emcee``: an
affine-invariant ensemble MCMC on exp(−NLL) (Foreman-Mackey et al. 2013, PASP 125:306).
A prediction interval carries the posterior, between-lab variability and the ranges of
the assumed parameters the scenario uses.
"""

from __future__ import annotations

import math

import numpy as np

from nephrosim.calibration.problem import values_for_scenario
from nephrosim.run.simulation import as_scenario, compile_arm, solver_options


class PosteriorMixin:
    """:meth:`sample`, :meth:`calibrated_domain` and :meth:`predict_interval` of a fitted
    calibration (needs ``x_``, ``problem_`` and ``progress`` from :class:`Calibration`)."""

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

            def logp_many(X):  # batch engine: every walker in one call per experiment
                inside = np.all((X >= p.lower) & (X <= p.upper), axis=1)
                out = np.full(len(X), -np.inf)
                if inside.any():
                    out[inside] = -p.nll_many(X[inside])
                return out

            p0 = np.clip(self.x_ + 1e-3 * rng.standard_normal((nw, p.dim)), p.lower, p.upper)
            sampler = emcee.EnsembleSampler(nw, p.dim, logp_many if p.batch else logp, vectorize=p.batch)
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
        drawn on its table range with its median at the nominal value (the ``range`` prior of
        :func:`~nephrosim.run.ensemble.priors_from_table`: log-uniform draws centred on the
        range's midpoint and described another model than the nominal one). The ranges are the
        table's only statement about them, so the band must carry them; without them a scenario
        outside the calibrated domain would get a zero-width interval that reads as certainty.

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

        scenario = as_scenario(scenario)
        in_domain = (scenario.species, scenario.injury.model) in self.calibrated_domain()
        times = np.asarray(scenario.times_h, dtype=float)
        q = (1 - level) / 2
        rows = []
        for arm, program, out, ok in self.predict_draws(scenario, samples, new_study=new_study, seed=seed,
                                                        include_assumed=include_assumed):
            good = out[ok]
            for j, readout in enumerate(program.readouts):
                for t, time_h in enumerate(times):
                    col = good[:, t, j] if good.size else np.array([np.nan])
                    rows.append({"arm": arm, "time_h": float(time_h), "readout": readout,
                                 "unit": program.units[j], "median": float(np.nanmedian(col)),
                                 "lower": float(np.nanquantile(col, q)), "upper": float(np.nanquantile(col, 1 - q)),
                                 "n_ok": int(ok.sum()), "in_calibrated_domain": in_domain})
        return pd.DataFrame(rows)

    def predict_draws(self, scenario, samples: np.ndarray | None = None, *, new_study: bool = True, seed: int = 0,
                      include_assumed: bool = True):
        """Draw-wise predictions of every arm of ``scenario`` (what :meth:`predict_interval` summarises).

        Row ``k`` of every arm uses the same draw — posterior sample, assumed-parameter values and,
        with ``new_study``, one between-lab deviation shared by all arms (the arms of one study
        come from one lab) — so a ratio between two arms is taken draw by draw.

        Returns
        -------
        A list of ``(arm name, compiled arm, values [draw, time, readout] in reporting units,
        ok [draw])``, in the scenario's arm order.
        """
        from nephrosim.run.ensemble import draw, priors_from_table, varied_parameters

        self._check_fitted()
        p = self.problem_
        if samples is None:
            samples = getattr(self, "samples_", None)
            if samples is None:
                samples = self.sample()
        samples = np.atleast_2d(samples)
        scenario = as_scenario(scenario)
        rng = np.random.default_rng(seed)
        n_p = len(p.parameters)
        lab = np.zeros((len(samples), n_p))  # one new-lab deviation per draw and parameter, shared by the arms
        if new_study:
            for i, q_ in enumerate(p.parameters):
                sd = next((r.sd_log10 for r in p.random_effects if r.parameter == q_.name), 0.0)
                if sd:
                    lab[:, i] = rng.normal(0.0, sd, len(samples))
        fitted_names = {q_.name for q_ in p.parameters}
        assumed = {}
        if include_assumed:
            assumed = {k: v for k, v in varied_parameters(scenario).items() if k not in fitted_names}
        priors = priors_from_table(assumed, 0.0, "range") if assumed else []
        assumed_draws = draw(priors, 0, len(samples), seed) if priors else np.zeros((len(samples), 0))
        times = np.asarray(scenario.times_h, dtype=float)
        result = []
        for arm in scenario.arms:
            program = compile_arm(scenario, arm.name)
            sim = program.simulator(solver_options(scenario))
            names = list(values_for_scenario(p.parameters, self.x_[:n_p], scenario, program.parameter_values))
            idx = [next(i for i, q_ in enumerate(p.parameters) if q_.name == nm
                        and (q_.species is None or q_.species == scenario.species)) for nm in names]
            logv = samples[:, idx] + lab[:, idx] if idx else np.zeros((len(samples), 0))
            own = [j for j, pr in enumerate(priors) if pr.name in program.parameter_values]
            values = np.hstack([10.0 ** logv, assumed_draws[:, own]])
            out, statuses = sim.run_batch(times, names + [priors[j].name for j in own], values)
            out = out * np.asarray(program.factors)
            result.append((arm.name, program, out, np.array([s.ok for s in statuses])))
        return result


