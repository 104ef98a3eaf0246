"""The multiple contrast test of MCP-Mod: is there a dose–response signal, for any of several candidate shapes?

MCP-Mod (Bretz, Pinheiro & Branson 2005, Biometrics 61:738–748; qualified by the EMA in 2014) first
tests for a dose–response signal with one contrast per candidate dose–response shape, controlling the
family-wise error over the shapes, then models the dose response. Both steps are here, on a continuous
endpoint with normal errors. The first (MCP):

* each candidate shape ``f_m`` gives standardized means ``μ_m = f_m(d)`` at the arms' doses (the
  shapes of the R package DoseFinding: ``linear`` d, ``emax`` d / (ED50 + d), ``sig_emax`` (its
  ``sigEmax``) dʰ / (ED50ʰ + dʰ), ``exponential`` exp(d / δ) − 1, ``quadratic`` d + δ d², an umbrella for
  δ < 0, and ``beta`` (its ``betaMod``) B(δ1, δ2)(d/s)^δ1(1 − d/s)^δ2 with s = 1.2 × the largest dose, an
  umbrella that never falls below placebo);
* its optimal contrast maximizes the non-centrality of the contrast test under that shape:
  ``c_m ∝ S⁻¹ (μ_m − (μ_mᵀ S⁻¹ 1)/(1ᵀ S⁻¹ 1) · 1)`` with ``S = diag(1/n_i)``, i.e.
  ``c_mi ∝ n_i (μ_mi − μ̄_m)`` with the n-weighted mean ``μ̄_m``, scaled to unit length;
* the test statistics ``T_m = Σ_i c_mi ȳ_i / (s √(Σ_i c_mi² / n_i))`` (``s²`` the pooled within-arm
  variance, ``N − k`` degrees of freedom) are jointly multivariate t with correlation
  ``R_ml = Σ c_mi c_li / n_i / √(Σ c_mi²/n_i · Σ c_li²/n_i)``; the signal is significant when
  ``max_m T_m`` reaches the critical value ``q`` with ``P(max_m T_m ≥ q) = alpha`` (one-sided),
  from scipy's multivariate t distribution.

The second (Mod; Pinheiro, Bornkamp, Glimm & Bretz 2014, Stat Med 33:1646–1661), run on a trial
whose contrast test is significant: each shape whose own contrast reached the critical value is fitted
as DoseFinding's full model (``E0 + Emax·d/(ED50 + d)``, ``E0 + Emax·dʰ/(ED50ʰ + dʰ)``,
``E0 + E1·(exp(d/δ) − 1)``, ``E0 + b·d``, ``E0 + b1·d + b2·d²``) by least squares, the nonlinear
parameters within DoseFinding's default bounds;
the fit with the smallest AIC is selected (or, with ``selection: ave_aic``, the fits are averaged with
DoseFinding's AIC weights), and its *target dose* is the smallest dose whose fitted
effect over placebo reaches a clinically relevant Δ (NaN when the fit does not reach Δ within the
doses studied). With as many arms as a model has parameters the fit is exact (three arms and the
three-parameter models), and AIC then prefers the model with fewer parameters or, between equals, the
first listed.

On time to recovery (generalized MCP-Mod, the same paper) the contrasts act on the treated arms' Cox
log hazard ratios of recovery against the control, ``c ∝ S⁻¹μ`` for placebo-adjusted estimates with
covariance ``S``, and the statistics are multivariate normal. By default ``S`` is each trial's own
estimated covariance, which sets its contrasts and its multiplicity-adjusted p-values, as DoseFinding's
``MCTtest(..., S = vCov, type = "general")`` does on one trial (:func:`generalized_test`); the planned
covariance (events in proportion to the arm sizes) with one critical value for every trial is kept as
``covariance: planned``. The modelling step fits the shapes' placebo-adjusted forms by generalized least
squares and selects by gAIC. On MAKE30 / MAKE90 the same test acts on the treated arms' log odds ratios of
an event against the control, sign flipped so that fewer events is positive (:func:`log_odds_ratios`, the
saturated logistic model; the binary example of generalized MCP-Mod in Pinheiro et al. 2014).

``tests/trials/test_mcpmod.py`` checks the contrasts against their closed form and against random
contrasts, a single contrast's statistic against statsmodels' OLS contrast t-test, and the critical
value and the type-I error on simulated data; and the Mod step's fits against scipy's ``curve_fit`` on
every patient, its AIC against statsmodels' OLS, and each target dose against a root of the fitted curve;
the log hazard ratios against statsmodels' ``PHReg`` and the placebo-adjusted fits against its ``GLS``;
the adjusted p-values against Monte Carlo draws of ``max Z`` and their decisions against the critical value.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

SHAPES = ("linear", "emax", "sig_emax", "exponential", "quadratic", "beta")
#: The beta model's dose scale as a multiple of the largest dose (DoseFinding's default ``scal``).
BETA_SCALE = 1.2


def beta_curve(doses, delta1: float, delta2: float, scal: float) -> np.ndarray:
    """DoseFinding's standardized beta shape ``B(δ1, δ2) (d/scal)^δ1 (1 − d/scal)^δ2`` with
    ``B = (δ1 + δ2)^(δ1 + δ2) / (δ1^δ1 δ2^δ2)``: 0 at d = 0, its maximum 1 at d = scal·δ1/(δ1 + δ2)."""
    d = np.asarray(doses, dtype=float) / scal
    b = (delta1 + delta2) ** (delta1 + delta2) / (delta1 ** delta1 * delta2 ** delta2)
    return b * d ** delta1 * (1.0 - d) ** delta2
#: Added to the diagonal of a contrast correlation before integrating (see :func:`critical_value`).
RIDGE = 1e-9


def model_means(shape: str, doses: Sequence[float], ed50: float | None = None, delta: float | None = None,
                hill: float | None = None, delta1: float | None = None, delta2: float | None = None) -> np.ndarray:
    """The standardized means of a candidate shape at ``doses`` (DoseFinding's parameterization)."""
    d = np.asarray(doses, dtype=float)
    if shape == "linear":
        return d.copy()
    if shape == "emax":
        if ed50 is None or ed50 <= 0:
            raise ValueError("the emax shape needs ed50 > 0 (the dose with half the maximal effect)")
        return d / (ed50 + d)
    if shape == "sig_emax":
        if ed50 is None or ed50 <= 0 or hill is None or hill <= 0:
            raise ValueError("the sig_emax shape needs ed50 > 0 and hill > 0 (the Hill exponent)")
        return d ** hill / (ed50 ** hill + d ** hill)
    if shape == "beta":
        if delta1 is None or delta1 <= 0 or delta2 is None or delta2 <= 0:
            raise ValueError("the beta shape needs delta1 > 0 and delta2 > 0")
        return beta_curve(d, delta1, delta2, BETA_SCALE * d.max())
    if shape == "exponential":
        if delta is None or delta <= 0:
            raise ValueError("the exponential shape needs delta > 0 (its dose scale)")
        return np.expm1(d / delta)
    if shape == "quadratic":
        if delta is None or delta == 0:
            raise ValueError("the quadratic shape needs delta != 0 (negative: an umbrella)")
        return d + delta * d ** 2
    raise ValueError(f"dose-response shape {shape!r}: use one of {', '.join(SHAPES)}")


def optimal_contrasts(means: np.ndarray, n: Sequence[int]) -> np.ndarray:
    """One unit-length optimal contrast per row of ``means[model, arm]`` for arm sizes ``n``."""
    mu = np.atleast_2d(np.asarray(means, dtype=float))
    n = np.asarray(n, dtype=float)
    centred = mu - (mu @ n / n.sum())[:, None]
    c = n[None, :] * centred
    norm = np.linalg.norm(c, axis=1)
    if np.any(norm <= 1e-12 * np.maximum(np.abs(mu).max(axis=1), 1.0)):
        raise ValueError("a candidate shape is flat over these doses, so it has no contrast; give distinct doses "
                         "or another shape")
    return c / norm[:, None]


def contrast_correlation(contrasts: np.ndarray, n: Sequence[int]) -> np.ndarray:
    """The correlation of the contrast statistics under homoscedastic normal errors."""
    c = np.asarray(contrasts, dtype=float)
    cov = (c / np.asarray(n, dtype=float)[None, :]) @ c.T
    sd = np.sqrt(np.diag(cov))
    return cov / np.outer(sd, sd)


def _regular(correlation: np.ndarray) -> np.ndarray:
    """``correlation`` with a ridge of :data:`RIDGE`: k arms give at most k − 1 independent contrasts, so with
    as many shapes as arms the correlation is singular, and scipy's integration of a singular law is wrong
    (P(max T < 2) = 0.889 instead of 0.945 on 400,000 draws, 3 arms and 3 shapes). The ridge makes it
    regular and moves nothing else."""
    return (correlation + RIDGE * np.eye(correlation.shape[0])) / (1.0 + RIDGE)


def estimate_correlation(contrasts: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """The correlation of contrast statistics ``c_m'β̂ / √(c_m'Sc_m)`` on estimates with covariance ``S``."""
    cov = contrasts @ covariance @ contrasts.T
    sd = np.sqrt(np.diag(cov))
    return cov / np.outer(sd, sd)


def critical_value(correlation: np.ndarray, df: int | None, alpha: float) -> float:
    """``q`` with ``P(max_m T_m ≥ q) = alpha`` for multivariate t statistics (one-sided); ``df=None``: for
    multivariate normal ones (the generalized test on estimates with their covariance)."""
    from scipy.optimize import brentq
    from scipy.stats import multivariate_normal, multivariate_t, norm
    from scipy.stats import t as student

    r = np.asarray(correlation, dtype=float)
    if r.shape[0] == 1:
        return float(norm.isf(alpha) if df is None else student.isf(alpha, df))
    r = _regular(r)
    points = 50_000 * r.shape[0]
    if df is None:
        law = multivariate_normal(mean=np.zeros(r.shape[0]), cov=r, maxpts=points, abseps=1e-7, releps=1e-7)

        def cdf(x):
            return law.cdf(x, rng=np.random.default_rng(0))
    else:
        law = multivariate_t(loc=np.zeros(r.shape[0]), shape=r, df=df)

        def cdf(x):
            return law.cdf(x, maxpts=points, random_state=np.random.default_rng(0))

    def excess(q):
        return 1.0 - cdf(np.full(r.shape[0], q)) - alpha

    return float(brentq(excess, 0.0, 10.0, xtol=1e-5))


def contrast_statistics(samples: Sequence[np.ndarray], contrasts: np.ndarray) -> np.ndarray:
    """``T_m`` of each contrast on the arms' ``samples`` (pooled variance; NaN when it cannot be formed)."""
    sizes = np.array([s.size for s in samples], dtype=float)
    if np.any(sizes < 1) or sizes.sum() - sizes.size < 1:
        return np.full(contrasts.shape[0], np.nan)
    means = np.array([s.mean() for s in samples])
    pooled = sum(((s - s.mean()) ** 2).sum() for s in samples) / (sizes.sum() - sizes.size)
    if pooled <= 0:
        return np.full(contrasts.shape[0], np.nan)
    return (contrasts @ means) / np.sqrt(pooled * (contrasts ** 2 / sizes[None, :]).sum(axis=1))


@lru_cache(maxsize=16)
def planned_test(doses: tuple[float, ...], shapes: tuple[tuple[str, float | None, float | None], ...],
                 n: tuple[int, ...], alpha: float, endpoint: str = "scr_auc") -> tuple[np.ndarray, float]:
    """The contrasts of ``shapes`` (``(shape, ed50, delta[, hill, delta1, delta2])`` each: the arguments of
    :func:`model_means`) for the planned arm sizes ``n`` and their
    critical value at one-sided ``alpha``. ``scr_auc``: shape × arm, on the arms' means (``N − k`` degrees
    of freedom); ``recovery`` (``make30``, ``make90``): shape × treated arm, on the placebo-adjusted log hazard
    ratios (log odds ratios) with the planned covariance of :func:`planned_log_hr_covariance`
    (:func:`placebo_adjusted_contrasts`, multivariate normal). Cached: a trial asks for it when it builds
    its tasks and again when it summarises (the critical value takes ~2 s)."""
    means = np.vstack([model_means(shape, doses, ed50, delta, *more) for shape, ed50, delta, *more in shapes])
    if endpoint != "scr_auc":  # recovery, make30, make90: placebo-adjusted estimates
        covariance = planned_log_hr_covariance(n)
        contrasts = placebo_adjusted_contrasts(means[:, 1:] - means[:, :1], covariance)
        contrasts.flags.writeable = False
        return contrasts, critical_value(estimate_correlation(contrasts, covariance), None, alpha)
    contrasts = optimal_contrasts(means, n)
    contrasts.flags.writeable = False  # shared by every caller of the cache
    return contrasts, critical_value(contrast_correlation(contrasts, n), sum(n) - len(n), alpha)


# ---------------------------------------------------------------------------------------------------------
# The generalized contrast test (Pinheiro, Bornkamp, Glimm & Bretz 2014) on time to recovery
# ---------------------------------------------------------------------------------------------------------

def planned_log_hr_covariance(n: Sequence[int]) -> np.ndarray:
    """The planned covariance of the treated arms' log hazard ratios against the control, up to a factor:
    ``1/n_0`` everywhere (the shared control) plus ``1/n_k`` on the diagonal — the large-sample
    ``1/E_0 + 1/E_k`` and ``1/E_0`` of Cox estimates with events ``E`` in proportion to the arm sizes
    (equal recovery shares). Only its shape matters: the contrasts are scaled to unit length and the
    critical value reads the correlation."""
    n = np.asarray(n, dtype=float)
    return np.full((n.size - 1, n.size - 1), 1.0 / n[0]) + np.diag(1.0 / n[1:])


def placebo_adjusted_contrasts(effects: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """One unit-length optimal contrast per row of ``effects[model, treated arm]`` (a shape's effect at each
    treated dose over its value at placebo) for placebo-adjusted estimates with ``covariance``:
    ``c ∝ S⁻¹ μ``, which maximizes ``c'μ / √(c'Sc)`` (Cauchy–Schwarz; no zero-sum constraint, since the
    estimates are already differences from placebo; DoseFinding's ``placAdj = TRUE``)."""
    mu = np.atleast_2d(np.asarray(effects, dtype=float))
    c = np.linalg.solve(np.asarray(covariance, dtype=float), mu.T).T
    norm = np.linalg.norm(c, axis=1)
    if np.any(norm <= 1e-12 * np.maximum(np.abs(mu).max(axis=1), 1e-300)) or np.any(np.abs(mu).max(axis=1) == 0):
        raise ValueError("a candidate shape has no effect at the treated doses, so it has no contrast; give "
                         "distinct doses or another shape")
    return c / norm[:, None]


def log_hazard_ratios(times: Sequence[np.ndarray], events: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each treated arm's log hazard ratio of recovery against the control (the first arm) and their
    covariance, from one Cox model with an indicator per treated arm (lifelines ``CoxPHFitter``, Efron
    ties). Positive: recovery comes sooner than on the control. NaN when the model cannot be fitted
    (an arm without recoveries)."""
    import pandas as pd
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    k = len(times)
    nan = (np.full(k - 1, np.nan), np.full((k - 1, k - 1), np.nan))
    if any(np.size(t) == 0 or not np.any(e) for t, e in zip(times, events)):
        return nan
    arm = np.concatenate([np.full(np.size(t), j) for j, t in enumerate(times)])
    frame = pd.DataFrame({"T": np.concatenate(times), "E": np.concatenate(events).astype(int),
                          **{f"arm{j}": (arm == j).astype(float) for j in range(1, k)}})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = CoxPHFitter().fit(frame, duration_col="T", event_col="E")
    except ConvergenceError:
        return nan
    names = [f"arm{j}" for j in range(1, k)]
    return fit.params_[names].to_numpy(float), fit.variance_matrix_.loc[names, names].to_numpy(float)


#: Absolute error of the multivariate normal integral behind an adjusted p-value: fine where the decision can
#: turn on it (a contrast whose unadjusted p is below alpha), coarse where it cannot (DoseFinding, through
#: mvtnorm's GenzBretz, uses 1e-3 throughout).
P_ABSEPS_FINE, P_ABSEPS_COARSE = 1e-5, 1e-3


def adjusted_p_values(statistics: np.ndarray, correlation: np.ndarray, alpha: float) -> np.ndarray:
    """Each contrast's multiplicity-adjusted one-sided p-value ``P(max_l Z_l ≥ T_m)`` with ``Z ~ N(0, R)``
    (DoseFinding's adjusted p-values of ``MCTtest``). A contrast is significant at one-sided ``alpha`` when
    its adjusted p is at most ``alpha`` — the same as ``T_m ≥ q`` with :func:`critical_value` for ``R``.
    The integral is accurate to :data:`P_ABSEPS_FINE` where the unadjusted p is below ``alpha`` and to
    :data:`P_ABSEPS_COARSE` elsewhere (the adjusted p is then above ``alpha`` whatever its digits). NaN
    statistics give NaN."""
    from scipy.stats import multivariate_normal, norm

    t = np.asarray(statistics, dtype=float)
    out = np.full(t.shape, np.nan)
    if t.size == 1:
        out[:] = norm.sf(t)
        return out
    r = _regular(np.asarray(correlation, dtype=float))
    laws = {}  # one law per precision, built when first needed (this runs in every replicate trial)
    for m in np.flatnonzero(np.isfinite(t)):
        abseps = P_ABSEPS_FINE if norm.sf(t[m]) < alpha else P_ABSEPS_COARSE
        if abseps not in laws:
            laws[abseps] = multivariate_normal(mean=np.zeros(t.size), cov=r, maxpts=50_000 * t.size, releps=0.0,
                                               abseps=abseps)
        out[m] = min(1.0, max(0.0, 1.0 - laws[abseps].cdf(np.full(t.size, t[m]), rng=np.random.default_rng(0))))
    return out


def generalized_test(estimates: np.ndarray, covariance: np.ndarray, effects: np.ndarray,
                     alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """One trial's generalized multiple contrast test with the trial's own covariance — what DoseFinding's
    ``MCTtest(dose, estimates, S = covariance, type = "general", placAdj = TRUE, models)`` does: the contrasts
    optimal for ``V̂`` (``c ∝ V̂⁻¹μ``, :func:`placebo_adjusted_contrasts`), ``T_m = c_m'β̂ / √(c_m'V̂c_m)``, and
    their adjusted p-values under ``N(0, R̂)``, ``R̂`` the correlation of the contrasts under ``V̂``
    (:func:`adjusted_p_values`). ``effects[shape, treated arm]``: each shape's effect over placebo at the
    treated doses. Returns ``(statistics, adjusted p)``; NaN when the estimates could not be formed (a Cox
    model that did not fit, an arm without an event)."""
    k = np.atleast_2d(effects).shape[0]
    if not np.all(np.isfinite(estimates)) or not np.all(np.isfinite(covariance)):
        return np.full(k, np.nan), np.full(k, np.nan)
    contrasts = placebo_adjusted_contrasts(effects, covariance)
    statistics = estimate_statistics(estimates, covariance, contrasts)
    return statistics, adjusted_p_values(statistics, estimate_correlation(contrasts, covariance), alpha)


def log_odds_ratios(events: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each treated arm's log odds ratio of an event against the control (the first arm), **sign flipped** so
    that fewer events is positive (the direction of benefit, as a sooner recovery is on the log hazard ratio
    scale), and their covariance — the maximum-likelihood estimates of the saturated logistic model (an
    intercept and one indicator per treated arm) and their inverse information, in closed form: each arm's
    logit of its event share, variance ``1/x + 1/(n − x)`` (``x`` events of ``n``), the control's variance
    shared by every pair. NaN when an arm has no event or only events (the estimate is infinite)."""
    k = len(events)
    counts = np.array([np.sum(e) for e in events], dtype=float)
    sizes = np.array([np.size(e) for e in events], dtype=float)
    if np.any(counts <= 0) or np.any(counts >= sizes):
        return np.full(k - 1, np.nan), np.full((k - 1, k - 1), np.nan)
    logit = np.log(counts / (sizes - counts))
    var = 1.0 / counts + 1.0 / (sizes - counts)
    return logit[0] - logit[1:], np.full((k - 1, k - 1), var[0]) + np.diag(var[1:])


def estimate_statistics(estimates: np.ndarray, covariance: np.ndarray, contrasts: np.ndarray) -> np.ndarray:
    """``T_m = c_m'β̂ / √(c_m' V̂ c_m)`` of each contrast on one trial's estimates and their covariance."""
    if not np.all(np.isfinite(estimates)) or not np.all(np.isfinite(covariance)):
        return np.full(contrasts.shape[0], np.nan)
    se = np.sqrt(np.einsum("mi,ij,mj->m", contrasts, covariance, contrasts))
    return (contrasts @ estimates) / se


# ---------------------------------------------------------------------------------------------------------
# The modelling step (Mod): fit the significant shapes, pick one by AIC, estimate the target dose.
# ---------------------------------------------------------------------------------------------------------

#: DoseFinding's default bounds of the nonlinear parameter, as multiples of the largest dose (``defBnds``):
#: the emax model's ED50 in [0.001, 1.5] × max dose, the exponential model's δ in [0.1, 2] × max dose.
NONLINEAR_BOUNDS = {"emax": (0.001, 1.5), "exponential": (0.1, 2.0)}
#: The sigmoid Emax model's two (``defBnds``): ED50 in [0.001, 1.5] × max dose, the Hill exponent in [0.5, 10].
SIG_EMAX_BOUNDS = ((0.001, 1.5), (0.5, 10.0))
#: Hill-exponent grid points (log-spaced) of the sigmoid Emax profile, crossed with :data:`GRID` ED50 points.
HILL_GRID = 25
#: The beta model's δ1 and δ2 (``defBnds``: both in [0.05, 4]), each on a log grid of :data:`HILL_GRID` points.
BETA_BOUNDS = ((0.05, 4.0), (0.05, 4.0))
#: Grid points over the nonlinear parameter's bounds (log-spaced) before the bounded refinement.
GRID = 60


def _basis(shape: str, doses: np.ndarray, theta: float | None) -> np.ndarray:
    """The design matrix of the linear parameters of a dose–response model at ``doses`` (``theta`` the
    nonlinear parameter): ``E0 + b·g(d; θ)`` for linear, emax and exponential, ``E0 + b1 d + b2 d²`` for
    quadratic (DoseFinding's full models)."""
    one = np.ones_like(doses)
    if shape == "linear":
        return np.column_stack([one, doses])
    if shape == "emax":
        return np.column_stack([one, doses / (theta + doses)])
    if shape == "sig_emax":
        ed50, hill = theta
        return np.column_stack([one, doses ** hill / (ed50 ** hill + doses ** hill)])
    if shape == "beta":
        delta1, delta2, scal = theta
        return np.column_stack([one, beta_curve(doses, delta1, delta2, scal)])
    if shape == "exponential":
        return np.column_stack([one, np.expm1(doses / theta)])
    if shape == "quadratic":
        return np.column_stack([one, doses, doses ** 2])
    raise ValueError(f"dose-response shape {shape!r}: use one of {', '.join(SHAPES)}")


def _weighted_fit(shape: str, doses: np.ndarray, means: np.ndarray, n: np.ndarray, theta: float | None):
    """Weighted least squares of the arm means (weights: the arm sizes) for a fixed nonlinear parameter:
    (linear coefficients, Σ n_i (ȳ_i − f(d_i))²). The same estimate as least squares on every patient,
    whose residual sum adds the within-arm sum of squares, which does not depend on the model."""
    x = _basis(shape, doses, theta)
    w = np.sqrt(n)
    coef, *_ = np.linalg.lstsq(x * w[:, None], means * w, rcond=None)
    resid = means - x @ coef
    return coef, float(np.sum(n * resid ** 2))


def _profiled(shape: str, doses: np.ndarray, solve) -> tuple[float | None, tuple[np.ndarray, float]]:
    """The nonlinear parameter θ (None for linear and quadratic) minimizing ``solve(θ)``'s residual, and
    ``solve(θ)`` there: a log grid over DoseFinding's default bounds, then scipy's bounded scalar search
    between the best grid point's neighbours (kept only if it does better). ``solve(θ)`` returns
    ``(linear coefficients, residual)`` with the linear parameters solved exactly for that θ."""
    from scipy.optimize import minimize_scalar

    if shape == "sig_emax":
        return _profiled_2d(doses, solve)
    if shape == "beta":
        scal = BETA_SCALE * doses.max()
        (d1, d2), fit = _profiled_2d(doses, lambda t: solve((t[0], t[1], scal)), BETA_BOUNDS, absolute=True)
        return (d1, d2, scal), fit
    if shape not in NONLINEAR_BOUNDS:
        return None, solve(None)
    lo, hi = (f * doses.max() for f in NONLINEAR_BOUNDS[shape])
    grid = np.geomspace(lo, hi, GRID)
    ss = np.array([solve(g)[1] for g in grid])
    best = int(np.argmin(ss))
    left, right = np.log(grid[max(best - 1, 0)]), np.log(grid[min(best + 1, GRID - 1)])
    found = minimize_scalar(lambda u: solve(float(np.exp(u)))[1], bounds=(left, right), method="bounded",
                            options={"xatol": 1e-10})
    theta = float(np.exp(found.x)) if found.fun <= ss[best] else float(grid[best])
    return theta, solve(theta)


def _profiled_2d(doses: np.ndarray, solve, bounds2=SIG_EMAX_BOUNDS,
                 absolute: bool = False) -> tuple[tuple[float, float], tuple[np.ndarray, float]]:
    """:func:`_profiled` for two nonlinear parameters — the sigmoid Emax model's (ED50, Hill exponent), or with
    ``absolute`` the beta model's (δ1, δ2), whose bounds are not multiples of the largest dose: a log grid over
    DoseFinding's default bounds (:data:`GRID` × :data:`HILL_GRID`, or :data:`HILL_GRID` squared), then
    scipy's bounded L-BFGS-B from the best grid point on the log scale (kept only if it does better;
    DoseFinding uses ``nlminb`` after its grid)."""
    from scipy.optimize import minimize

    (e_lo, e_hi), (h_lo, h_hi) = bounds2
    scale = 1.0 if absolute else doses.max()
    ed50s = np.geomspace(e_lo * scale, e_hi * scale, HILL_GRID if absolute else GRID)
    hills = np.geomspace(h_lo, h_hi, HILL_GRID)
    ss = np.array([[solve((e, h))[1] for h in hills] for e in ed50s])
    i, j = np.unravel_index(int(np.argmin(ss)), ss.shape)
    bounds = [(np.log(ed50s[0]), np.log(ed50s[-1])), (np.log(hills[0]), np.log(hills[-1]))]
    found = minimize(lambda u: solve((float(np.exp(u[0])), float(np.exp(u[1]))))[1],
                     x0=[np.log(ed50s[i]), np.log(hills[j])], method="L-BFGS-B", bounds=bounds)
    theta = ((float(np.exp(found.x[0])), float(np.exp(found.x[1]))) if found.fun <= ss[i, j]
             else (float(ed50s[i]), float(hills[j])))
    return theta, solve(theta)


def _select(fits: list[tuple[dict, int]], effect: float, doses: Sequence[float],
            average: bool = False) -> tuple[int, float]:
    """The (1-based index, target dose) of the fit with the smallest (g)AIC; with ``average``, DoseFinding's
    ``selModel = "aveAIC"`` instead: weights ``w_m ∝ exp(−AIC_m / 2)`` (Buckland, Burnham & Augustin 1997),
    the target dose the weighted mean of the fits' target doses (NaN when any fit does not reach Δ, as
    DoseFinding's ``doseEst %*% selMod`` gives NA), and the index that of the largest weight."""
    if not average:
        best, index = min(fits, key=lambda pair: pair[0]["aic"])
        return index, target_dose(best, effect, max(doses))
    weights = model_weights([fit for fit, _ in fits])
    tds = np.array([target_dose(fit, effect, max(doses)) for fit, _ in fits])
    return fits[int(np.argmax(weights))][1], float(weights @ tds)


def model_weights(fits: Sequence[dict]) -> np.ndarray:
    """DoseFinding's AIC weights of ``fits``, ``exp(−AIC_m / 2)`` normalized to sum to 1 (shifted by the
    smallest AIC before exponentiating, which the normalization cancels: DoseFinding's shift by the mean
    AIC can overflow when the AICs are far apart)."""
    aic = np.array([fit["aic"] for fit in fits], dtype=float)
    w = np.exp(-0.5 * (aic - aic.min()))
    return w / w.sum()


def fit_dose_response(shape: str, doses: Sequence[float], means: Sequence[float], n: Sequence[int],
                      within_ss: float) -> dict:
    """Least-squares fit of one dose–response model to arm means (normal errors, one variance).

    ``means``: each arm's mean response, ``n``: its size, ``within_ss``: the within-arm sum of squares
    of every patient (Σ_i Σ_j (y_ij − ȳ_i)²). The nonlinear parameter of emax (ED50) and exponential (δ)
    is profiled: the linear parameters are solved exactly for each value, on a log grid over DoseFinding's
    default bounds, then refined by scipy's bounded scalar search around the best grid point. Returns the
    shape, ``coef`` (E0 and the slope terms), ``theta`` (the nonlinear parameter or None), the residual
    sum of squares of every patient and the AIC, ``N log(2π RSS/N) + N + 2(p + 1)`` with ``p`` the
    model's parameters and one for the variance (as R's ``AIC`` of a least-squares fit)."""
    d, y, w = (np.asarray(v, dtype=float) for v in (doses, means, n))
    theta, (coef, between_ss) = _profiled(shape, d, lambda t: _weighted_fit(shape, d, y, w, t))
    total = float(within_ss) + between_ss
    big_n = float(w.sum())
    parameters = {"linear": 2, "sig_emax": 4, "beta": 4}.get(shape, 3) + 1
    aic = big_n * math.log(2 * math.pi * max(total, 1e-300) / big_n) + big_n + 2 * parameters
    return {"shape": shape, "coef": coef, "theta": theta, "rss": total, "aic": aic}


def predict(fit: dict, doses) -> np.ndarray:
    """The fitted model's mean response at ``doses``."""
    d = np.atleast_1d(np.asarray(doses, dtype=float))
    return _basis(fit["shape"], d, fit["theta"]) @ fit["coef"]


def target_dose(fit: dict, effect: float, max_dose: float) -> float:
    """The smallest dose in (0, ``max_dose``] whose fitted effect over placebo, f(d) − f(0), reaches
    ``effect`` (> 0); NaN when the fitted curve does not reach it in that range (DoseFinding's ``TD`` of a
    fitted model, continuous type). Closed forms: linear Δ/b, emax Δ·ED50/(Emax − Δ), sigmoid Emax
    ED50·(Δ/(Emax − Δ))^(1/h), exponential δ·log(1 + Δ/E1), quadratic the smallest positive root of
    b2 d² + b1 d − Δ; the beta model's rising root by ``brentq`` below its mode."""
    if not effect > 0:
        raise ValueError("the target effect must be > 0 (a benefit on the fitted scale)")
    shape, coef, theta = fit["shape"], fit["coef"], fit["theta"]
    dose = math.nan
    if shape == "linear" and coef[1] > 0:
        dose = effect / coef[1]
    elif shape == "emax" and coef[1] > effect:
        dose = effect * theta / (coef[1] - effect)
    elif shape == "sig_emax" and coef[1] > effect:
        ed50, hill = theta
        dose = ed50 * (effect / (coef[1] - effect)) ** (1.0 / hill)
    elif shape == "beta" and coef[1] > effect:  # rises to Emax at its mode, then falls: the rising root
        from scipy.optimize import brentq

        delta1, delta2, scal = theta
        mode = scal * delta1 / (delta1 + delta2)
        top = min(mode, max_dose)
        if coef[1] * beta_curve(top, delta1, delta2, scal) >= effect:
            dose = brentq(lambda x: coef[1] * beta_curve(x, delta1, delta2, scal) - effect, 0.0, top, xtol=1e-12,
                          rtol=1e-12)
    elif shape == "exponential" and coef[1] > 0:
        dose = theta * math.log1p(effect / coef[1])
    elif shape == "quadratic":
        b1, b2 = coef[1], coef[2]
        if abs(b2) < 1e-300:
            dose = effect / b1 if b1 > 0 else math.nan
        else:
            disc = b1 * b1 + 4 * b2 * effect
            if disc >= 0:
                roots = [r for r in ((-b1 - math.sqrt(disc)) / (2 * b2), (-b1 + math.sqrt(disc)) / (2 * b2)) if r > 0]
                dose = min(roots) if roots else math.nan
    return float(dose) if 0 < dose <= max_dose else math.nan


def model_step(samples: Sequence[np.ndarray], doses: Sequence[float], shapes: Sequence[str],
               significant: Sequence[bool], effect: float, average: bool = False) -> tuple[int, float]:
    """MCP-Mod's second step on one trial: fit the shapes whose contrast was significant (``shapes``:
    the shape names, in the contrasts' order), select the one with the smallest AIC and estimate its
    target dose for ``effect`` (with ``average``: the AIC-weighted mean of the fits' target doses,
    :func:`_select`). Returns (the selected — or most weighted — shape's 1-based index, 0 when none was
    significant or no arm has data; the target dose, NaN when none is estimated or a fit does not reach it)."""
    sizes = np.array([s.size for s in samples], dtype=float)
    if not any(significant) or np.any(sizes < 1):
        return 0, math.nan
    means = np.array([s.mean() for s in samples])
    within = float(sum(((s - s.mean()) ** 2).sum() for s in samples))
    return _select([(fit_dose_response(shape, doses, means, sizes, within), m)
                    for m, (shape, hit) in enumerate(zip(shapes, significant), 1) if hit], effect, doses, average)


def fit_placebo_adjusted(shape: str, doses: Sequence[float], estimates: Sequence[float],
                         covariance: np.ndarray) -> dict:
    """Generalized least-squares fit of a shape's effect over the control, ``f(d) − f(d_0)``, to
    placebo-adjusted estimates at the treated doses (``doses[1:]``; ``doses[0]`` is the control's) with
    their ``covariance`` — the modelling step of generalized MCP-Mod (Pinheiro et al. 2014; DoseFinding's
    ``fitMod`` with ``placAdj = TRUE``). The nonlinear parameter is profiled as in :func:`fit_dose_response`.
    Returns the fit in :func:`fit_dose_response`'s form (``coef[0]`` = 0: no intercept on this scale),
    with ``gls`` the weighted residual ``(β̂ − f)' S⁻¹ (β̂ − f)`` and ``aic`` DoseFinding's gAIC, ``gls + 2p``
    (``p`` the model's parameters: 1 for linear, 3 for sigmoid Emax, 2 for the others)."""
    d = np.asarray(doses, dtype=float)
    y = np.asarray(estimates, dtype=float)
    root = np.linalg.cholesky(np.asarray(covariance, dtype=float))  # S = L L': whiten by L⁻¹
    white_y = np.linalg.solve(root, y)

    def solve(theta):
        full = _basis(shape, d, theta)[:, 1:]
        white_x = np.linalg.solve(root, full[1:] - full[:1])
        coef = np.linalg.lstsq(white_x, white_y, rcond=None)[0]  # on the whitened design: d and d² scale apart
        resid = white_y - white_x @ coef
        return coef, float(resid @ resid)

    theta, (coef, gls) = _profiled(shape, d, solve)
    parameters = {"linear": 1, "sig_emax": 3, "beta": 3}.get(shape, 2)
    return {"shape": shape, "coef": np.concatenate([[0.0], coef]), "theta": theta, "gls": gls,
            "aic": gls + 2 * parameters}


def model_step_estimates(estimates: np.ndarray, covariance: np.ndarray, doses: Sequence[float],
                         shapes: Sequence[str], significant: Sequence[bool], effect: float,
                         average: bool = False) -> tuple[int, float]:
    """:func:`model_step` for placebo-adjusted estimates (log hazard ratios of recovery, log odds ratios of
    MAKE): fit the significant shapes by :func:`fit_placebo_adjusted`, select the smallest gAIC (or average
    by gAIC weights), estimate the target dose for ``effect`` on the estimates' scale. (0, NaN) when nothing
    is significant or there is no estimate."""
    if not any(significant) or not np.all(np.isfinite(estimates)) or not np.all(np.isfinite(covariance)):
        return 0, math.nan
    return _select([(fit_placebo_adjusted(shape, doses, estimates, covariance), m)
                    for m, (shape, hit) in enumerate(zip(shapes, significant), 1) if hit], effect, doses, average)
