"""Group-sequential efficacy boundaries: interim looks at the primary endpoint that keep the trial's alpha.

A trial with interim looks at information fractions ``t_1 < … < t_K = 1`` (here: the share of the
enrolled patients whose outcome is analysed) stops for efficacy at the first look whose standardized
statistic ``|Z_k|`` reaches the boundary ``c_k``. The boundaries spend the two-sided type-I error
``alpha`` with a Lan–DeMets spending function (Lan & DeMets 1983, Biometrika 70:659–663), applied to
each side with ``alpha/2`` (symmetric two-sided boundaries, the convention of the R packages gsDesign
and ldbounds):

* ``obrien_fleming``: per side ``a(t) = 2 − 2 Φ(z_{1−a/2} / √t)`` with ``a = alpha/2`` — very strict
  early, nearly the fixed-sample test at the end;
* ``pocock``: per side ``a(t) = a · ln(1 + (e − 1) t)`` — about equal nominal levels at every look.

Under the null hypothesis the statistics at the looks are jointly normal with
``corr(Z_i, Z_j) = √(t_i / t_j)`` (independent increments), so ``c_k`` solves
``P(|Z_j| < c_j for j < k, |Z_k| ≥ c_k) = alpha(t_k) − alpha(t_{k−1})``, with the rectangle
probabilities from scipy's multivariate normal distribution (Genz's algorithm). The log-rank and
Mann–Whitney statistics of a growing sample have this structure asymptotically; Fisher's exact test
of a binary endpoint approximately (its nominal levels are conservative in small samples).
``tests/trials/test_sequential.py`` checks the boundaries against simulated Brownian motion.
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np

Spending = Literal["obrien_fleming", "pocock"]


def spent_alpha(t: float | np.ndarray, alpha: float, kind: Spending) -> np.ndarray:
    """The two-sided type-I error spent by information fraction ``t`` (0 < t ≤ 1): both sides together."""
    from scipy.stats import norm

    t = np.asarray(t, dtype=float)
    side = alpha / 2.0
    if kind == "obrien_fleming":
        return 2.0 * (2.0 - 2.0 * norm.cdf(norm.isf(side / 2.0) / np.sqrt(t)))
    if kind == "pocock":
        return alpha * np.log1p((np.e - 1.0) * t)
    raise ValueError(f"spending {kind!r}: use obrien_fleming or pocock")


def _inside(bounds: np.ndarray, corr: np.ndarray) -> float:
    """P(|Z_j| < bounds_j for all j) for standard normals with correlation ``corr``."""
    from scipy.stats import multivariate_normal, norm

    if bounds.size == 1:
        return float(1.0 - 2.0 * norm.sf(bounds[0]))
    return float(multivariate_normal.cdf(bounds, mean=np.zeros(bounds.size), cov=corr, lower_limit=-bounds,
                                         maxpts=50_000 * bounds.size, abseps=1e-7, releps=1e-7,
                                         rng=np.random.default_rng(0)))  # Genz's lattice rule, seeded


def efficacy_boundaries(information: Sequence[float], alpha: float, kind: Spending = "obrien_fleming") -> np.ndarray:
    """Two-sided z boundaries at the looks ``information`` (strictly increasing, the last 1)."""
    from scipy.optimize import brentq

    t = np.asarray(information, dtype=float)
    if t.ndim != 1 or t.size == 0 or t[-1] != 1.0 or np.any(t <= 0) or np.any(np.diff(t) <= 0):
        raise ValueError(f"information fractions must increase strictly in (0, 1] and end at 1; got {list(t)}")
    corr = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    spent = spent_alpha(t, alpha, kind)
    bounds = np.empty(t.size)
    for k in range(t.size):
        before = _inside(bounds[:k], corr[:k, :k]) if k else 1.0
        target = spent[k] - (spent[k - 1] if k else 0.0)  # the error this look may spend

        def excess(c, k=k):
            bounds[k] = c
            return before - _inside(bounds[:k + 1], corr[:k + 1, :k + 1]) - target

        bounds[k] = brentq(excess, 0.5, 12.0, xtol=1e-6)
    return bounds


def z_of_p(p: np.ndarray) -> np.ndarray:
    """The |z| of a two-sided p-value (NaN stays NaN: no test, no crossing)."""
    from scipy.stats import norm

    return norm.isf(np.asarray(p, dtype=float) / 2.0)


def sequential_summary(p_looks: np.ndarray, information: Sequence[float], n_per_arm: Sequence[int], alpha: float,
                       kind: Spending, favours_looks: np.ndarray | None = None,
                       futility_z: float | None = None) -> dict:
    """Power, stopping and sample size of a group-sequential trial over its replicates.

    ``p_looks[replicate, look]``: the primary test's two-sided p at each look (the last on every
    patient); ``n_per_arm``: the arms' planned sizes. A replicate stops at its first look whose
    ``|z|`` reaches the boundary; its patients used are the look's share of each arm.

    With ``futility_z`` (non-binding, :class:`~nephrosim.trials.design.Interim`) and
    ``favours_looks[replicate, look]`` (whether the treated arm does better at that look), a
    replicate also stops at an interim look that does not cross when its signed z (``|z|``, negative
    when the effect points against treatment) is below ``futility_z``; it then rejects nothing.
    The summary adds ``futility_stop_share``, ``stopped_for_futility_at_look`` and
    ``power_without_futility`` (the same replicates with the rule ignored).
    """
    t = np.asarray(information, dtype=float)
    bounds = efficacy_boundaries(t, alpha, kind)
    z = z_of_p(p_looks)
    with np.errstate(invalid="ignore"):
        crossed = z >= bounds  # NaN compares False
    futile = np.zeros_like(crossed)
    if futility_z is not None:
        if favours_looks is None:
            raise ValueError("futility_z needs favours_looks (the direction of the effect at each look)")
        signed = np.where(np.asarray(favours_looks, dtype=bool), z, -z)
        with np.errstate(invalid="ignore"):
            futile[:, :-1] = ~crossed[:, :-1] & (signed[:, :-1] < futility_z)  # never at the final analysis
    stop = crossed | futile
    stops = stop.any(axis=1)
    first = np.where(stops, stop.argmax(axis=1), t.size - 1)
    rows = np.arange(first.size)
    rejects = crossed[rows, first]
    futile_at = futile[rows, first] & stops
    first_share = [float(np.mean(rejects & (first == k))) for k in range(t.size)]
    used = t[first]
    from scipy.stats import norm

    out = {
        "spending": kind,
        "information": [round(float(x), 4) for x in t],
        "boundaries_z": [round(float(c), 4) for c in bounds],
        "nominal_p": [float(f"{2 * norm.sf(c):.4g}") for c in bounds],
        "power": round(float(rejects.mean()), 4),
        "rejected_first_at_look": [round(s, 4) for s in first_share],
        "early_stop_share": round(float(np.mean(stops & (first < t.size - 1))), 4),
        "expected_n_per_arm": [round(float(np.mean(np.ceil(used * n))), 2) for n in n_per_arm],
    }
    if futility_z is not None:
        out["futility_z"] = float(futility_z)
        out["futility_stop_share"] = round(float(futile_at.mean()), 4)
        out["stopped_for_futility_at_look"] = [round(float(np.mean(futile_at & (first == k))), 4)
                                               for k in range(t.size - 1)]
        out["power_without_futility"] = round(float(crossed.any(axis=1).mean()), 4)
    return out
