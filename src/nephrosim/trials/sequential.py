"""Group-sequential designs: interim looks at the primary endpoint that keep the trial's alpha, and
futility boundaries that spend its beta.

A trial with interim looks at information fractions ``t_1 < … < t_K = 1`` (here: the share of the
enrolled patients whose outcome is analysed) stops for efficacy at the first look whose standardized
statistic ``|Z_k|`` reaches the boundary ``c_k``. The boundaries spend the two-sided type-I error
``alpha`` with a Lan–DeMets spending function (Lan & DeMets 1983, Biometrika 70:659–663), applied to
each side with ``alpha/2`` (symmetric two-sided boundaries, the convention of the R packages gsDesign
and ldbounds). Per side, with ``a = alpha/2``:

* ``obrien_fleming``: ``a(t) = 2 − 2 Φ(z_{1−a/2} / √t)`` — very strict early, nearly the
  fixed-sample test at the end;
* ``pocock``: ``a(t) = a · ln(1 + (e − 1) t)`` — about equal nominal levels at every look;
* ``hwang_shih_decani`` with parameter ``γ``: ``a(t) = a (1 − e^{−γt}) / (1 − e^{−γ})`` (Hwang, Shih
  & DeCani 1990, Stat Med 9:1439–1445; ``a·t`` at γ = 0): γ = −4 is close to O'Brien–Fleming, γ = 1
  to Pocock. gsDesign's default (γ = −4 for alpha, −2 for beta).

Under the null hypothesis the statistics at the looks are jointly normal with
``corr(Z_i, Z_j) = √(t_i / t_j)`` (independent increments), so ``c_k`` solves
``P(|Z_j| < c_j for j < k, |Z_k| ≥ c_k) = alpha(t_k) − alpha(t_{k−1})``, with the rectangle
probabilities from scipy's multivariate normal distribution (Genz's algorithm). The log-rank and
Mann–Whitney statistics of a growing sample have this structure asymptotically; Fisher's exact test
of a binary endpoint approximately (its nominal levels are conservative in small samples).

**Futility by beta spending** (:func:`futility_boundaries`; gsDesign's ``test.type = 4``, Anderson's
non-binding lower bound). Under the design's alternative the signed statistic (positive when the
treated arm does better) has mean ``θ √t_k``. Lower boundaries ``b_k`` spend the type-II error ``β``
with a spending function of the same families: ``b_k`` solves ``P(b_j ≤ Z_j < c_j for j < k,
Z_k < b_k | θ) = β(t_k) − β(t_{k−1})``, and the drift ``θ`` is the one at which the final lower
boundary meets the efficacy boundary (``b_K = c_K``), i.e. the effect the design has power ``1 − β``
for. The boundaries depend on the looks, ``alpha``, ``β`` and the spending functions only, not on the
sample size. Non-binding: the efficacy boundaries are computed as if the futility rule did not
exist, so the type-I error stays at most ``alpha`` whether or not a monitoring committee follows it.

``tests/trials/test_sequential.py`` checks the efficacy boundaries against simulated Brownian motion,
and the futility boundaries against gsDesign's own published output (its test snapshot for
``test.type = 4``) and against Brownian motion with drift.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal, Sequence

import numpy as np

Spending = Literal["obrien_fleming", "pocock", "hwang_shih_decani"]


def spent(t: float | np.ndarray, level: float, kind: Spending, gamma: float | None = None) -> np.ndarray:
    """The error of total ``level`` that a spending function has spent by information fraction ``t``
    (0 < t ≤ 1), one-sided: the per-side alpha of the efficacy boundaries, or the beta of the futility
    boundaries. ``gamma`` is the Hwang–Shih–DeCani parameter (only for that family)."""
    from scipy.stats import norm

    t = np.asarray(t, dtype=float)
    if kind == "obrien_fleming":
        return 2.0 - 2.0 * norm.cdf(norm.isf(level / 2.0) / np.sqrt(t))
    if kind == "pocock":
        return level * np.log1p((np.e - 1.0) * t)
    if kind == "hwang_shih_decani":
        if gamma is None:
            raise ValueError("hwang_shih_decani spending needs its gamma (e.g. -4, close to O'Brien-Fleming)")
        if gamma == 0.0:
            return level * t
        return level * -np.expm1(-gamma * t) / -np.expm1(-gamma)
    raise ValueError(f"spending {kind!r}: use obrien_fleming, pocock or hwang_shih_decani")


def spent_alpha(t: float | np.ndarray, alpha: float, kind: Spending, gamma: float | None = None) -> np.ndarray:
    """The two-sided type-I error spent by information fraction ``t`` (0 < t ≤ 1): both sides together."""
    return 2.0 * spent(t, alpha / 2.0, kind, gamma)


def _inside(bounds: np.ndarray, corr: np.ndarray) -> float:
    """P(|Z_j| < bounds_j for all j) for standard normals with correlation ``corr``."""
    from scipy.stats import multivariate_normal, norm

    if bounds.size == 1:
        return float(1.0 - 2.0 * norm.sf(bounds[0]))
    return float(multivariate_normal.cdf(bounds, mean=np.zeros(bounds.size), cov=corr, lower_limit=-bounds,
                                         maxpts=50_000 * bounds.size, abseps=1e-7, releps=1e-7,
                                         rng=np.random.default_rng(0)))  # Genz's lattice rule, seeded


def _fractions(information: Sequence[float]) -> np.ndarray:
    t = np.asarray(information, dtype=float)
    if t.ndim != 1 or t.size == 0 or t[-1] != 1.0 or np.any(t <= 0) or np.any(np.diff(t) <= 0):
        raise ValueError(f"information fractions must increase strictly in (0, 1] and end at 1; got {list(t)}")
    return t


def _correlation(t: np.ndarray) -> np.ndarray:
    return np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))


def efficacy_boundaries(information: Sequence[float], alpha: float, kind: Spending = "obrien_fleming",
                        gamma: float | None = None) -> np.ndarray:
    """Two-sided z boundaries at the looks ``information`` (strictly increasing, the last 1)."""
    from scipy.optimize import brentq

    t = _fractions(information)
    corr = _correlation(t)
    spent = spent_alpha(t, alpha, kind, gamma)
    bounds = np.empty(t.size)
    for k in range(t.size):
        before = _inside(bounds[:k], corr[:k, :k]) if k else 1.0
        target = spent[k] - (spent[k - 1] if k else 0.0)  # the error this look may spend

        def excess(c, k=k):
            bounds[k] = c
            return before - _inside(bounds[:k + 1], corr[:k + 1, :k + 1]) - target

        bounds[k] = brentq(excess, 0.5, 12.0, xtol=1e-6)
    return bounds


#: Points of the grid on which :func:`futility_boundaries` carries the density of the score between
#: looks (composite Simpson's rule; the boundaries move by < 1e-6 when it doubles).
GRID_POINTS = 801


def _simpson_grid(lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(lo, hi, GRID_POINTS)
    w = np.full(GRID_POINTS, 2.0)
    w[1::2] = 4.0
    w[0] = w[-1] = 1.0
    return x, w * (hi - lo) / (3 * (GRID_POINTS - 1))


def futility_boundaries(information: Sequence[float], efficacy: Sequence[float], beta: float,
                        kind: Spending = "hwang_shih_decani", gamma: float | None = None) -> tuple[np.ndarray, float]:
    """Non-binding futility boundaries that spend ``beta`` under the design's alternative.

    ``efficacy``: the efficacy boundaries ``c_k`` at the same looks (:func:`efficacy_boundaries`; their
    upper side is the one that counts under the alternative). Returns the lower boundaries ``b_k`` on the
    signed z scale (positive favours treatment), the last equal to ``c_K``, and the drift ``θ`` (the
    expected signed z at the final analysis under the alternative the design has power ``1 − beta``
    for). A look whose beta share cannot be spent below its efficacy boundary gets ``b_k = c_k``, as in
    gsDesign.

    The probabilities are the recursive numerical integration of Armitage, McPherson & Rowe (1969,
    J R Stat Soc A 132:235–244; Jennison & Turnbull 2000, ch. 19): the density of the score
    ``S_k = Z_k √t_k`` (increments ``N(θ Δt, Δt)``) on the continuation region is carried from look to
    look on a Simpson grid.
    """
    from scipy.optimize import brentq
    from scipy.stats import norm

    t = _fractions(information)
    c = np.asarray(efficacy, dtype=float)
    if c.shape != t.shape:
        raise ValueError(f"{c.size} efficacy boundaries for {t.size} looks")
    if not 0.0 < beta < 0.5:
        raise ValueError(f"beta {beta}: the type-II error must lie in (0, 0.5), e.g. 0.1 or 0.2")
    steps = np.diff(np.r_[0.0, spent(t, beta, kind, gamma)])
    root_t = np.sqrt(t)
    dt = np.diff(np.r_[0.0, t])

    def lower_bounds(theta: float) -> tuple[np.ndarray, float]:
        """The boundaries at drift ``theta`` and the type-II error they give (the futility region binding)."""
        b = np.empty(t.size)
        miss = 0.0
        x = w = g = None  # grid, weights and density of the score on the continuation region so far
        for k in range(t.size):
            sd, shift = math.sqrt(dt[k]), theta * dt[k]

            def below(z, k=k, sd=sd, shift=shift):
                """P(continued to look k and Z_k < z)."""
                edge = z * root_t[k]
                if k == 0:
                    return float(norm.cdf((edge - shift) / sd))
                return float(np.sum(w * g * norm.cdf((edge - x - shift) / sd)))

            if k == t.size - 1:
                b[k] = c[k]
            elif below(c[k]) <= steps[k]:
                b[k] = c[k]  # nothing left to spend below the efficacy boundary
            else:
                b[k] = brentq(lambda z: below(z) - steps[k], -12.0, c[k], xtol=1e-9)
            miss += below(b[k])
            if k < t.size - 1 and b[k] < c[k]:
                x_new, w_new = _simpson_grid(b[k] * root_t[k], c[k] * root_t[k])
                if k == 0:
                    g = norm.pdf((x_new - shift) / sd) / sd
                else:
                    g = (w * g) @ (norm.pdf((x_new[None, :] - x[:, None] - shift) / sd) / sd)
                x, w = x_new, w_new
            elif k < t.size - 1:
                b[k + 1:] = c[k + 1:]  # the trial cannot continue past look k
                return b, miss
        return b, miss

    theta = brentq(lambda th: lower_bounds(th)[1] - beta, 0.0, 15.0, xtol=1e-9)
    return lower_bounds(theta)[0], float(theta)


def boundaries(information: Sequence[float], alpha: float, kind: Spending = "obrien_fleming",
               gamma: float | None = None, futility_z: float | None = None,
               futility_beta: tuple[float, Spending, float | None] | None = None
               ) -> tuple[np.ndarray, np.ndarray | None, float | None]:
    """A group-sequential design's boundaries: the efficacy boundaries at every look (two-sided |z|), the
    futility boundaries at the interim looks (signed z: ``futility_z`` at each, or those of
    :func:`futility_boundaries` for ``futility_beta = (beta, spending, gamma)``; None without a rule) and,
    with ``futility_beta``, the drift the design is planned for. Cached (read-only arrays): the design
    search asks for the same boundaries for every candidate, and beta-spending ones take ~1.5 s."""
    if futility_z is not None and futility_beta is not None:
        raise ValueError("give futility_z or futility_beta, not both")
    return _boundaries(tuple(float(x) for x in _fractions(information)), float(alpha), kind, gamma, futility_z,
                       None if futility_beta is None else tuple(futility_beta))


@lru_cache(maxsize=32)
def _boundaries(t: tuple[float, ...], alpha: float, kind: Spending, gamma: float | None, futility_z: float | None,
                futility_beta: tuple[float, Spending, float | None] | None):
    efficacy = efficacy_boundaries(t, alpha, kind, gamma)
    lower, drift = None, None
    if futility_beta is not None:
        lower, drift = futility_boundaries(t, efficacy, *futility_beta)
        lower = lower[:-1]
    elif futility_z is not None:
        lower = np.full(len(t) - 1, float(futility_z))
    for a in (efficacy, lower):
        if a is not None:
            a.flags.writeable = False  # shared by every caller of the cache
    return efficacy, lower, drift


#: The efficacy "boundary" at an interim look of a design that stops only for futility there: a z no trial
#: reaches (P(Z > 8) ≈ 6e-16), finite so that the recursive integration keeps a finite grid.
NO_EFFICACY_STOP_Z = 8.0


def arm_futility_boundaries(information: Sequence[float], alpha: float, arms: int, beta: float,
                            kind: Spending = "hwang_shih_decani", gamma: float | None = None) -> tuple[np.ndarray, float]:
    """Beta-spending futility boundaries for dropping treated arms of a multi-arm trial at interim looks (cached).

    Each comparison with the control is planned as a two-arm design that stops only for futility at the
    looks (no efficacy stop: :data:`NO_EFFICACY_STOP_Z`) and is tested at the end at the two-sided
    Bonferroni level ``alpha / arms`` (one-sided ``alpha / (2 arms)``), with power ``1 − beta`` at the drift
    the spending solves for (:func:`futility_boundaries`). Returns the interim looks' boundaries (signed z)
    and that drift. The boundaries are non-binding: the final analysis adjusts over every planned arm
    whatever the looks did, so the family-wise error does not depend on them (:func:`arm_dropping`)."""
    if arms < 1:
        raise ValueError(f"arms {arms}: give the number of treated arms (>= 1)")
    if kind == "hwang_shih_decani" and gamma is None:
        gamma = -2.0  # gsDesign's default for the beta spending (FutilitySpending's)
    return _arm_boundaries(tuple(float(x) for x in _fractions(information)), float(alpha), int(arms), float(beta),
                           kind, gamma)


@lru_cache(maxsize=32)
def _arm_boundaries(t: tuple[float, ...], alpha: float, arms: int, beta: float, kind: Spending,
                    gamma: float | None) -> tuple[np.ndarray, float]:
    from scipy.stats import norm

    efficacy = np.r_[np.full(len(t) - 1, NO_EFFICACY_STOP_Z), norm.isf(alpha / (2 * arms))]
    lower, drift = futility_boundaries(t, efficacy, beta, kind, gamma)
    lower = lower[:-1]
    lower.flags.writeable = False  # shared by every caller of the cache
    return lower, drift


def z_of_p(p: np.ndarray) -> np.ndarray:
    """The |z| of a two-sided p-value (NaN stays NaN: no test, no crossing)."""
    from scipy.stats import norm

    return norm.isf(np.asarray(p, dtype=float) / 2.0)


def sequential_summary(p_looks: np.ndarray, information: Sequence[float], n_per_arm: Sequence[int], alpha: float,
                       kind: Spending, favours_looks: np.ndarray | None = None,
                       futility_z: float | None = None, gamma: float | None = None,
                       futility_beta: tuple[float, Spending, float | None] | None = None,
                       calendar: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Power, stopping and sample size of a group-sequential trial over its replicates.

    ``p_looks[replicate, look]``: the primary test's two-sided p at each look (the last on every
    patient); ``n_per_arm``: the arms' planned sizes. A replicate stops at its first look whose
    ``|z|`` reaches the boundary; its patients used are the look's share of each arm. ``gamma``: the
    Hwang–Shih–DeCani parameter of the alpha spending (that family only).

    A non-binding futility rule (:class:`~nephrosim.trials.design.Interim`) needs
    ``favours_looks[replicate, look]`` (whether the treated arm does better at that look): with
    ``futility_z`` one signed z for every interim look, with ``futility_beta = (beta, spending, gamma)``
    the boundaries of :func:`futility_boundaries`. A replicate also stops at an interim look that does
    not cross when its signed z (``|z|``, negative when the effect points against treatment) is below
    the look's futility boundary; it then rejects nothing. The summary adds ``futility_stop_share``,
    ``stopped_for_futility_at_look`` and ``power_without_futility`` (the same replicates with the rule
    ignored); with ``futility_beta`` also the boundaries and the planned drift.

    ``calendar = (months[look], enrolled[look, arm])`` (:meth:`~nephrosim.trials.design.Accrual.calendar`)
    adds when each look is made (``look_months``), the mean calendar time at which the trials end
    (``expected_duration_months``) and the patients randomized by then (``expected_enrolled_per_arm``: a
    stop at a look cannot take back the patients enrolled while the look's patients completed follow-up).
    """
    t = np.asarray(information, dtype=float)
    bounds, lower, drift = boundaries(t, alpha, kind, gamma, futility_z, futility_beta)
    z = z_of_p(p_looks)
    with np.errstate(invalid="ignore"):
        crossed = z >= bounds  # NaN compares False
    futile = np.zeros_like(crossed)
    if lower is not None:
        if favours_looks is None:
            raise ValueError("a futility rule needs favours_looks (the direction of the effect at each look)")
        signed = np.where(np.asarray(favours_looks, dtype=bool), z, -z)
        with np.errstate(invalid="ignore"):
            futile[:, :-1] = ~crossed[:, :-1] & (signed[:, :-1] < lower[None, :])  # never at the final analysis
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
    if gamma is not None:
        out["spending_gamma"] = float(gamma)
    if futility_z is not None:
        out["futility_z"] = float(futility_z)
    if futility_beta is not None:
        out["futility_beta"] = float(futility_beta[0])
        out["futility_spending"] = futility_beta[1]
        if futility_beta[2] is not None:
            out["futility_spending_gamma"] = float(futility_beta[2])
        out["futility_boundaries_z"] = [round(float(b), 4) for b in lower]
        out["design_drift_z"] = round(float(drift), 4)
    if lower is not None:
        out["futility_stop_share"] = round(float(futile_at.mean()), 4)
        out["stopped_for_futility_at_look"] = [round(float(np.mean(futile_at & (first == k))), 4)
                                               for k in range(t.size - 1)]
        out["power_without_futility"] = round(float(crossed.any(axis=1).mean()), 4)
    if calendar is not None:
        months, enrolled = (np.asarray(x, dtype=float) for x in calendar)
        out["look_months"] = [round(float(m), 2) for m in months]
        out["expected_duration_months"] = round(float(months[first].mean()), 2)
        out["expected_enrolled_per_arm"] = [round(float(enrolled[first, a].mean()), 2) for a in range(enrolled.shape[1])]
    return out


def dropped_arms(p_looks: np.ndarray, favours_looks: np.ndarray,
                 futility: float | Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Which treated arms a futility rule drops: ``p_looks[arm, replicate, look]`` and ``favours_looks`` as in
    :func:`arm_dropping`; an arm still enrolling whose signed z is below the look's ``futility`` boundary (one
    z for every look, or one per look) is dropped there. Returns ``dropped[arm, replicate]`` and
    ``dropped_at[arm, replicate]`` (the look's index; the number of looks when never dropped). A NaN test
    drops nothing."""
    p_looks = np.asarray(p_looks, dtype=float)
    arms, replicates, looks = p_looks.shape
    z = z_of_p(p_looks)
    signed = np.where(np.asarray(favours_looks, dtype=bool), z, -z)
    bound = np.broadcast_to(np.asarray(futility, dtype=float), (looks,))
    with np.errstate(invalid="ignore"):
        below = signed < bound[None, None, :]  # NaN (no test) drops nothing
    dropped = np.zeros((arms, replicates), dtype=bool)
    dropped_at = np.full((arms, replicates), looks)
    for j in range(looks):
        now = ~dropped & below[:, :, j]
        dropped_at[now] = j
        dropped |= now
    return dropped, dropped_at


def patients_used(dropped_at: np.ndarray, information: Sequence[float], n_per_arm: Sequence[int]) -> list[float]:
    """Expected patients per arm (control first) of a trial that drops arms at ``dropped_at`` (from
    :func:`dropped_arms`, at looks ``information``): a dropped arm enrolls its look's share of its planned
    patients; the control stops with the last treated arm when every arm is dropped."""
    t = np.asarray(information, dtype=float)
    share_used = np.r_[t, 1.0][dropped_at]  # each treated arm's share of its planned patients
    everyone_out = (dropped_at < t.size).all(axis=0)
    control_share = np.where(everyone_out, share_used.max(axis=0), 1.0)  # the last arm's look, when all drop
    return [float(np.mean(np.ceil(control_share * n_per_arm[0])))] + [
        float(np.mean(np.ceil(share_used[k] * n_per_arm[k + 1]))) for k in range(dropped_at.shape[0])]


def dropping_calendar(calendar: tuple[np.ndarray, np.ndarray], dropped_at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each replicate's duration (months) and each arm's patients enrolled (``[arm, replicate]``, control
    first) of a multi-arm trial that drops arms at ``dropped_at`` (:func:`dropped_arms`), in the calendar
    ``(months[look], enrolled[look, arm])`` of :meth:`~nephrosim.trials.design.Accrual.calendar` (the final
    look last): a dropped arm stops enrolling at its look, and when every arm is dropped the trial (and the
    control) ends at the last drop."""
    months, enrolled = (np.asarray(x, dtype=float) for x in calendar)
    arms = dropped_at.shape[0]
    everyone_out = (dropped_at < months.size - 1).all(axis=0)
    last = dropped_at.max(axis=0)  # the last treated arm's end (months.size - 1: kept to the final analysis)
    duration = np.where(everyone_out, months[last], months[-1])
    control = np.where(everyone_out, enrolled[last, 0], enrolled[-1, 0])
    return duration, np.vstack([control] + [enrolled[dropped_at[k], k + 1] for k in range(arms)])


def arm_dropping(p_final: np.ndarray, p_looks: np.ndarray, favours_looks: np.ndarray, information: Sequence[float],
                 n_per_arm: Sequence[int], alpha: float, multiplicity: str,
                 futility_z: float | Sequence[float], calendar: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Power and sample size of a multi-arm trial that drops treated arms for futility at interim looks.

    ``p_final[arm, replicate]``: each treated arm's primary two-sided p against the control on every
    patient; ``p_looks[arm, replicate, look]`` and ``favours_looks[...]``: the same test and its direction
    (positive favours treatment) on the first patients at each interim look; ``information``: the interim
    looks' patient shares (without the final 1); ``n_per_arm``: the planned sizes, control first.

    ``calendar`` (as in :func:`sequential_summary`) adds the looks' times, the expected duration (the last
    arm's drop when every arm is dropped) and the patients enrolled by each arm's end.

    At each look, a treated arm still enrolling whose signed z is below ``futility_z`` (one z, or one per
    look: :func:`arm_futility_boundaries`) is dropped: it
    enrolls no more and is never rejected. When every treated arm has been dropped the control stops too
    (the trial stops for futility). Nothing stops for efficacy. The final analysis adjusts the treated
    arms' p-values for multiplicity over *every* arm planned (:func:`~nephrosim.trials.analysis.adjusted_rejections`),
    a dropped arm's p set to 1: all of the adjustments offered are monotone, so each replicate rejects
    a subset of what it rejects without dropping, and the family-wise error stays at most ``alpha`` whether
    or not the rule is followed (non-binding). A surviving arm's final p is that of the trial without
    dropping: dropping an arm moves no other arm's patients.
    """
    from nephrosim.trials.analysis import adjusted_rejections

    p_final = np.asarray(p_final, dtype=float)
    p_looks = np.asarray(p_looks, dtype=float)
    t = np.asarray(information, dtype=float)
    arms, replicates = p_final.shape
    if p_looks.shape != (arms, replicates, t.size):
        raise ValueError(f"p_looks has shape {p_looks.shape}; expected {(arms, replicates, t.size)} "
                         "(treated arm, replicate, interim look)")
    sizes = tuple(int(n) for n in n_per_arm)
    dropped, dropped_at = dropped_arms(p_looks, favours_looks, futility_z)
    everyone_out = dropped.all(axis=0)
    kept = adjusted_rejections(np.where(dropped, 1.0, p_final), alpha, multiplicity, sizes[0], sizes[1:])
    plain = adjusted_rejections(p_final, alpha, multiplicity, sizes[0], sizes[1:])
    used = patients_used(dropped_at, t, sizes)
    timed = {}
    if calendar is not None:  # (months[look], enrolled[look, arm]), the final look last
        duration, enrolled = dropping_calendar(calendar, dropped_at)
        timed = {"look_months": [round(float(m), 2) for m in calendar[0]],
                 "expected_duration_months": round(float(duration.mean()), 2),
                 "expected_enrolled_per_arm": [round(float(e), 2) for e in enrolled.mean(axis=1)]}
        timed["expected_total_enrolled"] = round(float(sum(timed["expected_enrolled_per_arm"])), 2)
    return {**timed, 
        "information": [round(float(x), 4) for x in (*t, 1.0)],
        "futility_z": (float(futility_z) if np.ndim(futility_z) == 0
                       else [round(float(z), 4) for z in futility_z]),
        "power": round(float(kept.any(axis=0).mean()), 4),
        "power_without_dropping": round(float(plain.any(axis=0).mean()), 4),
        "power_adjusted": [round(float(kept[k].mean()), 4) for k in range(arms)],
        "dropped_share": [round(float(dropped[k].mean()), 4) for k in range(arms)],
        "dropped_at_look": [[round(float(np.mean(dropped_at[k] == j)), 4) for j in range(t.size)]
                            for k in range(arms)],
        "stopped_for_futility_share": round(float(everyone_out.mean()), 4),
        "expected_n_per_arm": [round(float(u), 2) for u in used],
        "expected_total_n": round(float(sum(used)), 2),
        "planned_total_n": int(sum(sizes)),
    }
