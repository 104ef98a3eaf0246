"""The multiple contrast test of MCP-Mod: is there a dose–response signal, for any of several candidate shapes?

MCP-Mod (Bretz, Pinheiro & Branson 2005, Biometrics 61:738–748; qualified by the EMA in 2014) first
tests for a dose–response signal with one contrast per candidate dose–response shape, controlling the
family-wise error over the shapes, then models the dose response. This module is the first step
(MCP), on a continuous endpoint with normal errors:

* each candidate shape ``f_m`` gives standardized means ``μ_m = f_m(d)`` at the arms' doses (the
  shapes of the R package DoseFinding: ``linear`` d, ``emax`` d / (ED50 + d), ``exponential``
  exp(d / δ) − 1, ``quadratic`` d + δ d², an umbrella for δ < 0);
* its optimal contrast maximizes the non-centrality of the contrast test under that shape:
  ``c_m ∝ S⁻¹ (μ_m − (μ_mᵀ S⁻¹ 1)/(1ᵀ S⁻¹ 1) · 1)`` with ``S = diag(1/n_i)``, i.e.
  ``c_mi ∝ n_i (μ_mi − μ̄_m)`` with the n-weighted mean ``μ̄_m``, scaled to unit length;
* the test statistics ``T_m = Σ_i c_mi ȳ_i / (s √(Σ_i c_mi² / n_i))`` (``s²`` the pooled within-arm
  variance, ``N − k`` degrees of freedom) are jointly multivariate t with correlation
  ``R_ml = Σ c_mi c_li / n_i / √(Σ c_mi²/n_i · Σ c_li²/n_i)``; the signal is significant when
  ``max_m T_m`` reaches the critical value ``q`` with ``P(max_m T_m ≥ q) = alpha`` (one-sided),
  from scipy's multivariate t distribution.

``tests/trials/test_mcpmod.py`` checks the contrasts against their closed form and against random
contrasts, a single contrast's statistic against statsmodels' OLS contrast t-test, and the critical
value and the type-I error on simulated data.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

SHAPES = ("linear", "emax", "exponential", "quadratic")
#: Added to the diagonal of a contrast correlation before integrating (see :func:`critical_value`).
RIDGE = 1e-9


def model_means(shape: str, doses: Sequence[float], ed50: float | None = None, delta: float | None = None) -> np.ndarray:
    """The standardized means of a candidate shape at ``doses`` (DoseFinding's parameterization)."""
    d = np.asarray(doses, dtype=float)
    if shape == "linear":
        return d.copy()
    if shape == "emax":
        if ed50 is None or ed50 <= 0:
            raise ValueError("the emax shape needs ed50 > 0 (the dose with half the maximal effect)")
        return d / (ed50 + d)
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


def critical_value(correlation: np.ndarray, df: int, alpha: float) -> float:
    """``q`` with ``P(max_m T_m ≥ q) = alpha`` for multivariate t statistics (one-sided)."""
    from scipy.optimize import brentq
    from scipy.stats import multivariate_t
    from scipy.stats import t as student

    r = np.asarray(correlation, dtype=float)
    if r.shape[0] == 1:
        return float(student.isf(alpha, df))
    # k arms give at most k - 1 independent contrasts, so with as many shapes as arms the correlation is
    # singular, and scipy's integration of a singular law is wrong (P(max T < 2) = 0.889 instead of 0.945 on
    # 400,000 draws, 3 arms and 3 shapes). A ridge of 1e-9 makes it regular and moves nothing else.
    r = (r + RIDGE * np.eye(r.shape[0])) / (1.0 + RIDGE)
    law = multivariate_t(loc=np.zeros(r.shape[0]), shape=r, df=df)

    def excess(q):
        return 1.0 - law.cdf(np.full(r.shape[0], q), maxpts=50_000 * r.shape[0],
                             random_state=np.random.default_rng(0)) - alpha

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
                 n: tuple[int, ...], alpha: float) -> tuple[np.ndarray, float]:
    """The contrasts (shape × arm) of ``shapes`` (``(shape, ed50, delta)`` each) for the planned arm sizes
    ``n`` and their critical value at one-sided ``alpha`` (``N − k`` degrees of freedom). Cached: a trial
    asks for it when it builds its tasks and again when it summarises (the critical value takes ~2 s)."""
    means = np.vstack([model_means(shape, doses, ed50, delta) for shape, ed50, delta in shapes])
    contrasts = optimal_contrasts(means, n)
    contrasts.flags.writeable = False  # shared by every caller of the cache
    return contrasts, critical_value(contrast_correlation(contrasts, n), sum(n) - len(n), alpha)
