"""Statistics of one replicate trial and the summary over replicates — all by lifelines/scipy.

Per replicate (treatment arm vs control):

* Kaplan–Meier median time to recovery per arm (``KaplanMeierFitter``; ``inf`` when fewer
  than half recover before the horizon);
* log-rank test p-value (``lifelines.statistics.logrank_test``) — the primary test;
* Cox proportional-hazards hazard ratio of recovery with its 95 % CI (``CoxPHFitter``);
  HR > 1 = faster recovery with treatment (ACT-AKI reported 0.81);
* death by the horizon per arm (Bernoulli draws from the model's survival);
* SCr AUC above baseline per arm, Mann–Whitney U p-value (``scipy.stats``);
* dialysis, death or dialysis, and MAKE30 by 30 days per arm (Bernoulli draws from each
  patient's probabilities, :mod:`nephrosim.trials.endpoints`), MAKE30 compared by Fisher's exact
  test (``scipy.stats.fisher_exact``);
* with a follow-up of 90 days or more, MAKE90 the same way.

With more than two arms every treated arm is compared with the control on the same replicate
trial (the control's patients and events are shared), and the primary p-values of the
comparisons are adjusted for multiplicity per replicate (Holm or Bonferroni, statsmodels
``multipletests``, or Dunnett's single-step many-to-one procedure on the comparisons' z statistics,
which uses their correlation through the shared control) before counting a replicate as positive
(:func:`summarise_trial`).

A dose-ranging design may also ask for one **test for trend** across the arms in the order of their
scores (:func:`trend_test`): on time to recovery the log-rank test for trend (the Cox score test of the
arm score, with the hypergeometric variance of tied times; Peto et al. 1977, Collett 2015 §2.7), on
SCr AUC Kendall's tau-b between the arm score and the AUC (the Jonckheere–Terpstra statistic's
ordering, ``scipy.stats.kendalltau``), on MAKE the linear-by-linear (Cochran–Armitage) test of the
2 × arms table (statsmodels ``Table.test_ordinal_association``).
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np


def analyse_replicate(t_ctl, e_ctl, t_trt, e_trt) -> dict:
    """Survival statistics of one trial; durations in days, events as booleans."""
    import pandas as pd
    from lifelines import CoxPHFitter, KaplanMeierFitter
    from lifelines.exceptions import ConvergenceError
    from lifelines.statistics import logrank_test

    out = {}
    for key, t, e in (("control", t_ctl, e_ctl), ("treatment", t_trt, e_trt)):
        km = KaplanMeierFitter().fit(t, e)
        out[f"median_{key}"] = float(km.median_survival_time_)
    out["p_logrank"] = float(logrank_test(t_ctl, t_trt, event_observed_A=e_ctl, event_observed_B=e_trt).p_value)
    df = pd.DataFrame({"T": np.concatenate([t_ctl, t_trt]), "E": np.concatenate([e_ctl, e_trt]).astype(int),
                       "treated": np.r_[np.zeros(len(t_ctl)), np.ones(len(t_trt))]})
    out["hr"] = out["hr_lo"] = out["hr_hi"] = float("nan")
    if df["E"].sum() > 0 and df.loc[df.treated == 0, "E"].sum() + df.loc[df.treated == 1, "E"].sum() > 0:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cph = CoxPHFitter().fit(df, duration_col="T", event_col="E")
            ci = cph.confidence_intervals_.loc["treated"]
            # a nearly event-free arm gives a log-HR bound beyond ±709: its HR bound is then 0 or
            # inf, which is the answer (the summary's quantiles skip non-finite values), not a warning
            with np.errstate(over="ignore"):
                out["hr"] = float(np.exp(cph.params_["treated"]))
                out["hr_lo"], out["hr_hi"] = float(np.exp(ci.iloc[0])), float(np.exp(ci.iloc[1]))
        except ConvergenceError:
            pass  # no finite HR (e.g. no events in one arm); counted in the summary
    return out


def logrank_trend(times: Sequence[np.ndarray], events: Sequence[np.ndarray],
                  scores: Sequence[float]) -> tuple[float, float]:
    """The log-rank test for trend across groups with ordered ``scores``: ``(z, two-sided p)``.

    At each distinct event time u, with n at risk, d events, and S1, S2 the sums of the at-risk
    patients' scores and squared scores: U = Σ (scores of the events − d·S1/n), V = Σ d(n − d)/(n − 1)
    · (S2/n − (S1/n)²); z = U/√V (Peto et al. 1977; Collett 2015, Modelling Survival Data in Medical
    Research, §2.7). z > 0: the higher-scored groups have the events (recover) sooner. With two
    groups scored 0 and 1 this is the two-sample log-rank test (``tests/trials/test_trend.py`` checks it
    against lifelines' ``logrank_test``, and the many-group statistic against the Cox score test of
    statsmodels' ``PHReg``). ``(nan, nan)`` when there is no event or no spread of scores at risk."""
    from scipy.stats import norm

    t = np.concatenate([np.asarray(x, float) for x in times])
    e = np.concatenate([np.asarray(x, bool) for x in events])
    w = np.repeat(np.asarray(scores, float), [len(x) for x in times])
    at = np.unique(t[e])
    if at.size == 0:
        return float("nan"), float("nan")
    order = np.argsort(t, kind="stable")
    ts, ws = t[order], w[order]
    first = np.searchsorted(ts, at, side="left")  # patients at risk at u: those with t >= u
    n = (t.size - first).astype(float)
    s1 = np.cumsum(ws[::-1])[::-1][first]
    s2 = np.cumsum((ws * ws)[::-1])[::-1][first]
    where = np.searchsorted(at, t[e])
    d = np.bincount(where, minlength=at.size).astype(float)
    dw = np.bincount(where, weights=w[e], minlength=at.size)
    u = float(np.sum(dw - d * s1 / n))
    ties = np.divide(d * (n - d), n - 1.0, out=np.zeros_like(n), where=n > 1.0)
    v = float(np.sum(ties * (s2 / n - (s1 / n) ** 2)))
    if not v > 0.0:
        return float("nan"), float("nan")
    z = u / np.sqrt(v)
    return float(z), float(2.0 * norm.sf(abs(z)))


def trend_test(primary: str, scores: Sequence[float], times=None, auc=None, events=None) -> tuple[float, float]:
    """The test for trend of a replicate trial's primary endpoint across its arms: ``(z, two-sided p)``,
    z > 0 when the endpoint improves with the score (faster recovery, lower SCr AUC, fewer MAKE events).

    ``times``: per arm ``(days, recovered)``; ``auc``: per arm the SCr AUC of each patient;
    ``events``: per arm the patients' MAKE events (booleans)."""
    from scipy.stats import kendalltau, norm
    from statsmodels.stats.contingency_tables import Table

    if primary == "recovery":
        return logrank_trend([d for d, _ in times], [r for _, r in times], scores)
    if primary == "scr_auc":
        score = np.repeat(np.asarray(scores, float), [len(a) for a in auc])
        tau, p = kendalltau(score, np.concatenate([np.asarray(a, float) for a in auc]))
        if not np.isfinite(p):
            return float("nan"), float("nan")
        return float(-np.sign(tau) * norm.isf(p / 2.0)), float(p)  # lower AUC with the score is better
    table = np.array([[np.sum(~np.asarray(x, bool)) for x in events], [np.sum(np.asarray(x, bool)) for x in events]])
    if table[1].sum() == 0 or table[0].sum() == 0:
        return float("nan"), float("nan")
    # shift_zeros=False: statsmodels' default adds 0.5 to every cell of a table with a zero (an arm without events)
    r = Table(table, shift_zeros=False).test_ordinal_association(row_scores=np.array([0.0, 1.0]),
                                                                  col_scores=np.asarray(scores, float))
    return float(-r.zscore), float(r.pvalue)  # fewer events with the score is better


def share(values: np.ndarray) -> float:
    """The mean of ``values``; NaN when there are none (every randomized patient of an arm lost to
    follow-up), without numpy's empty-slice warning."""
    return float(np.mean(values)) if np.size(values) else float("nan")


def auc_test(auc_ctl, auc_trt) -> float:
    """Mann–Whitney p of the SCr AUCs; NaN when an arm has no patient left to compare."""
    from scipy.stats import mannwhitneyu

    if not (np.size(auc_ctl) and np.size(auc_trt)):
        return float("nan")
    return float(mannwhitneyu(auc_ctl, auc_trt).pvalue)


def fisher_p(events_ctl: np.ndarray, events_trt: np.ndarray) -> float:
    """Two-sided Fisher's exact test of two event proportions (booleans per patient)."""
    from scipy.stats import fisher_exact

    a, b = int(events_ctl.sum()), int(events_trt.sum())
    table = [[a, events_ctl.size - a], [b, events_trt.size - b]]
    return float(fisher_exact(table).pvalue)


#: The binary endpoints drawn per patient, in draw order: (name in a replicate, PatientOutcomes probability).
BINARY_ENDPOINTS = (("dialysis", "dialysis"), ("death_dialysis", "death_or_dialysis"), ("make", "make30"))


def binary_events(rng: np.random.Generator, arms: Sequence) -> dict[str, list[np.ndarray]]:
    """Dialysis, death or dialysis, MAKE30 (and MAKE90 where every arm was followed 90 days) of one
    replicate trial: one Bernoulli draw per patient, ``{endpoint: [events of each arm]}``.

    Drawn from ``rng`` endpoint by endpoint, and within an endpoint arm by arm in the design's
    order (control first); MAKE90 last, so the draws before it do not depend on the follow-up.
    With two arms this is the order of earlier versions, so their numbers are unchanged. ``arms``
    are the randomized patients' :class:`~nephrosim.trials.endpoints.PatientOutcomes`."""
    events = {name: [rng.random(o.size) < getattr(o, prob) for o in arms] for name, prob in BINARY_ENDPOINTS}
    if all(o.has_make90 for o in arms):
        events["make90"] = [rng.random(o.size) < o.make90 for o in arms]
    return events


def compare_binary(events: dict[str, list[np.ndarray]], arm: int) -> dict:
    """Event rates of the control (arm 0) and arm ``arm``, and Fisher's p for each MAKE."""
    out = {}
    for name, per_arm in events.items():
        control, treated = per_arm[0], per_arm[arm]
        out[f"{name}_control"] = share(control)
        out[f"{name}_treatment"] = share(treated)
        if name in ("make", "make90"):
            out[f"p_{name}"] = fisher_p(control, treated) if control.size and treated.size else float("nan")
    return out


def binary_endpoints(rng: np.random.Generator, control, treated) -> dict:
    """:func:`binary_events` of a two-arm trial compared by :func:`compare_binary`."""
    return compare_binary(binary_events(rng, (control, treated)), 1)


def _finite_or_none(x: float):
    return None if not np.isfinite(x) else round(float(x), 4)


def quantiles(values, probs=(0.5, 0.025, 0.975)) -> dict:
    """``{median, lo, hi}`` of the finite values (None where there are none)."""
    v = np.asarray(values, dtype=float)
    if not v.size or np.isnan(v).all():
        return {"median": None, "lo": None, "hi": None}
    q = np.nanquantile(v, probs)
    return {"median": _finite_or_none(q[0]), "lo": _finite_or_none(q[1]), "hi": _finite_or_none(q[2])}


def primary_p(col: dict[str, np.ndarray], primary: str) -> np.ndarray:
    """The replicates' p-values of the primary endpoint's test (``col``: one array per replicate key)."""
    if primary == "make90" and "p_make90" not in col:
        raise ValueError("primary make90 needs a follow-up of 90 days (endpoints.horizon_days: 90)")
    return {"scr_auc": col["p_auc"], "make30": col["p_make"], "make90": col.get("p_make90")}.get(primary, col["p_logrank"])


def summarise(reps: list[dict], arm_names: tuple[str, str], alpha: float, primary: str = "recovery") -> dict:
    """The summary over replicates (the ``--json`` object's statistics).

    ``power`` is the share of replicates with p < ``alpha`` on the primary endpoint's test
    (log-rank for ``recovery``, Mann–Whitney for ``scr_auc``, Fisher's exact for ``make30`` and
    ``make90``). The MAKE90 entries are there only when the replicates carry them (90-day follow-up).
    """
    ctl, trt = arm_names
    col = {k: np.array([r[k] for r in reps], dtype=float) for k in reps[0]}
    p = primary_p(col, primary)

    def per_arm(key):
        return {ctl: round(float(col[f"{key}_control"].mean()), 4), trt: round(float(col[f"{key}_treatment"].mean()), 4)}

    med = {ctl: col["median_control"], trt: col["median_treatment"]}
    make90 = {} if "p_make90" not in col else {
        "make90": per_arm("make90"),
        "make90_risk_difference": quantiles(col["make90_treatment"] - col["make90_control"]),
        "make90_power": round(float(np.mean(col["p_make90"] < alpha)), 4),
    }
    lost = {} if "lost_control" not in col else {"lost_to_follow_up": per_arm("lost")}
    return {
        "replicates": len(reps),
        "power": round(float(np.mean(p < alpha)), 4),
        "null_share": round(float(np.mean(p >= alpha)), 4),
        "hazard_ratio": quantiles(col["hr"]),
        "hazard_ratio_below_1_share": round(float(np.nanmean(col["hr"] < 1.0)), 4),
        "cox_failed_replicates": int(np.isnan(col["hr"]).sum()),
        "median_recovery_days": {a: _finite_or_none(float(np.median(m))) for a, m in med.items()},
        "median_recovery_days_interval": {a: quantiles(m) for a, m in med.items()},
        "median_not_reached_share": {a: round(float(np.mean(~np.isfinite(m))), 4) for a, m in med.items()},
        "recovered_by_horizon": {ctl: round(float(col["recovered_control"].mean()), 4),
                                 trt: round(float(col["recovered_treatment"].mean()), 4)},
        "death_by_horizon": {ctl: round(float(col["death_control"].mean()), 4),
                             trt: round(float(col["death_treatment"].mean()), 4)},
        "death_by_stage_30d": {ctl: round(float(col["death_stage_control"].mean()), 4),
                               trt: round(float(col["death_stage_treatment"].mean()), 4)},
        "death_by_stage_risk_difference": quantiles(col["death_stage_treatment"] - col["death_stage_control"]),
        "scr_auc_mg_dl_day": {ctl: round(float(col["auc_control"].mean()), 4),
                              trt: round(float(col["auc_treatment"].mean()), 4)},
        "scr_auc_power": round(float(np.mean(col["p_auc"] < alpha)), 4),
        "dialysis_30d": per_arm("dialysis"),
        "death_or_dialysis_30d": per_arm("death_dialysis"),
        "make30": per_arm("make"),
        "make30_risk_difference": quantiles(col["make_treatment"] - col["make_control"]),
        "make30_power": round(float(np.mean(col["p_make"] < alpha)), 4),
        **make90,
        **lost,
    }


#: Summary entries that compare one treated arm with the control (the rest are per arm).
COMPARISON_KEYS = ("power", "null_share", "hazard_ratio", "hazard_ratio_below_1_share", "cox_failed_replicates",
                   "death_by_stage_risk_difference", "scr_auc_power", "make30_risk_difference", "make30_power",
                   "make90_risk_difference", "make90_power")
#: Summary entries holding one value per arm (``{arm name: value}``).
PER_ARM_KEYS = ("median_recovery_days", "median_recovery_days_interval", "median_not_reached_share",
                "recovered_by_horizon", "death_by_horizon", "death_by_stage_30d", "scr_auc_mg_dl_day", "dialysis_30d",
                "death_or_dialysis_30d", "make30", "make90", "lost_to_follow_up")


def comparison_column(arm: int, key: str) -> str:
    """Name of a replicate's statistic ``key`` of treated arm ``arm`` (1, 2, ...) in a trial of more
    than two arms (``arm2:hr``); a two-arm trial keeps the plain names (``hr``)."""
    return f"arm{arm}:{key}"


def comparison_replicates(reps: list[dict], arm: int, n_arms: int) -> list[dict]:
    """The replicates' statistics of treated arm ``arm`` vs the control, under the plain names."""
    if n_arms == 2:
        return reps
    prefix = comparison_column(arm, "")
    return [{k[len(prefix):]: v for k, v in r.items() if k.startswith(prefix)} for r in reps]


def dunnett_correlation(n_control: int, n_treated: Sequence[int]) -> np.ndarray:
    """Correlation of many-to-one comparison statistics that share one control arm:
    ``ρ_ij = √(λ_i λ_j)``, ``λ_i = n_i / (n_i + n_0)`` (Dunnett 1955, JASA 50:1096–1121; 0.5 for equal
    arms). Exact for differences of means; asymptotic for log-rank and Mann–Whitney statistics."""
    lam = np.asarray(n_treated, float) / (np.asarray(n_treated, float) + float(n_control))
    corr = np.sqrt(np.outer(lam, lam))
    np.fill_diagonal(corr, 1.0)
    return corr


def dunnett_p(z: np.ndarray, corr: np.ndarray) -> np.ndarray:
    """Single-step Dunnett-adjusted two-sided p-values of the comparisons' ``|z|``:
    ``P(max_j |Z_j| ≥ |z_i|)`` for ``Z ~ N(0, corr)`` (Genz's algorithm, seeded; NaN stays NaN)."""
    from nephrosim.trials.sequential import _inside

    z = np.abs(np.asarray(z, float))
    return np.array([np.nan if not np.isfinite(v) else 1.0 - _inside(np.full(len(corr), v), corr) for v in z])


def dunnett_critical_z(corr: np.ndarray, alpha: float) -> float:
    """The ``c`` with ``P(max_j |Z_j| ≥ c) = alpha``: a comparison is significant when its ``|z| ≥ c``."""
    from scipy.optimize import brentq

    from nephrosim.trials.sequential import _inside

    return float(brentq(lambda c: 1.0 - _inside(np.full(len(corr), c), corr) - alpha, 0.5, 10.0, xtol=1e-10))


def _dunnett_step_down(z: np.ndarray, corr: np.ndarray, alpha: float) -> np.ndarray:
    """Step-down Dunnett (Dunnett & Tamhane 1991, JASA 86:137–144; closed testing with Dunnett's test of
    every intersection): per replicate, the comparisons in decreasing ``|z|``; the largest is tested
    against the critical value of all of them, the next against that of those not yet rejected, and so
    on, stopping at the first that is not significant. ``z[comparison, replicate]``."""
    critical: dict[tuple[int, ...], float] = {}

    def c(rest: tuple[int, ...]) -> float:
        if rest not in critical:
            critical[rest] = dunnett_critical_z(corr[np.ix_(rest, rest)], alpha)
        return critical[rest]

    k, reps = z.shape
    cols = np.arange(reps)
    order = np.argsort(-np.nan_to_num(z, nan=-np.inf), axis=0, kind="stable")  # [step, replicate]
    reject = np.zeros(z.shape, dtype=bool)
    going = np.ones(reps, dtype=bool)  # replicates whose steps so far all rejected
    for step in range(k):
        rest = np.sort(order[step:], axis=0).T  # the comparisons not yet rejected, per replicate
        subsets, which = np.unique(rest, axis=0, return_inverse=True)
        bound = np.array([c(tuple(int(i) for i in row)) for row in subsets])[np.ravel(which)]
        significant = going & (z[order[step], cols] >= bound)  # NaN: not significant
        reject[order[step][significant], cols[significant]] = True
        going = significant
    return reject


def adjusted_rejections(p: np.ndarray, alpha: float, method: str, n_control: int | None = None,
                        n_treated: Sequence[int] | None = None) -> np.ndarray:
    """``[comparison, replicate]`` rejections after adjusting each replicate's p-values (one per
    comparison) for multiplicity: ``holm`` or ``bonferroni`` with statsmodels' ``multipletests``, or
    ``dunnett`` (single step, :func:`dunnett_critical_z`) or ``dunnett_stepdown``
    (:func:`_dunnett_step_down`), which need the arms' planned sizes ``n_control`` and ``n_treated``:
    the comparisons share the control, so their statistics are correlated, which Holm and Bonferroni
    ignore. A p-value that could not be computed (NaN) counts as no rejection."""
    from statsmodels.stats.multitest import multipletests

    p = np.where(np.isfinite(p), p, 1.0)
    if p.shape[0] == 1:
        return p < alpha
    if method in ("dunnett", "dunnett_stepdown"):
        if n_control is None or n_treated is None:
            raise ValueError(f"multiplicity {method!r} needs the arms' sizes (n_control, n_treated)")
        from nephrosim.trials.sequential import z_of_p

        corr, z = dunnett_correlation(n_control, n_treated), z_of_p(p)
        if method == "dunnett":
            return z >= dunnett_critical_z(corr, alpha)
        return _dunnett_step_down(z, corr, alpha)
    if method == "holm":
        return _holm(p, alpha)
    return np.column_stack([multipletests(p[:, r], alpha=alpha, method=method)[0] for r in range(p.shape[1])])


def _holm(p: np.ndarray, alpha: float) -> np.ndarray:
    """Holm's step-down rejections of every replicate at once (``p[comparison, replicate]``): the
    arithmetic of statsmodels' ``multipletests(method="holm")`` — reject the i-th smallest p while
    it is ≤ alpha / (m − i) — without its per-call ``gc.collect()``, which made Holm cost 38–63 ms
    per replicate (2,000 replicates: 126 s). ``tests/trials/test_multi_arm.py`` checks it equals
    ``multipletests`` replicate by replicate, ties and boundary values included."""
    m = p.shape[0]
    order = np.argsort(p, axis=0, kind="stable")
    ok = np.take_along_axis(p, order, axis=0) <= alpha / np.arange(m, 0, -1)[:, None]
    ok = np.logical_and.accumulate(ok, axis=0)  # the first p that fails stops the procedure
    reject = np.zeros(p.shape, dtype=bool)
    np.put_along_axis(reject, order, ok, axis=0)
    return reject


def summarise_trial(reps: list[dict], arm_names: Sequence[str], alpha: float, primary: str = "recovery",
                    multiplicity: str = "holm", arm_sizes: Sequence[int] | None = None) -> dict:
    """The summary of a trial of two or more arms.

    Each treated arm is summarised against the control by :func:`summarise` (its comparison
    entries under ``comparisons[arm]``, with ``power_adjusted``: the share of replicates in which
    this comparison is significant after the multiplicity adjustment). The top-level ``power``
    is the share of replicate trials with at least one significant comparison after adjustment
    (the trial is positive). With two arms the summary is :func:`summarise`'s, unchanged, plus
    ``comparisons`` and ``multiplicity``; with more, the per-arm entries hold every arm and the
    comparison entries are only under ``comparisons``.
    """
    names = tuple(arm_names)
    if len(names) < 2:
        raise ValueError(f"a trial needs a control and at least one treated arm; got {list(names)}")
    parts = [comparison_replicates(reps, k, len(names)) for k in range(1, len(names))]
    per = [summarise(part, (names[0], names[k]), alpha, primary) for k, part in enumerate(parts, 1)]
    p = np.vstack([primary_p({key: np.array([r[key] for r in part], float) for key in part[0]}, primary)
                   for part in parts])
    sizes = tuple(arm_sizes) if arm_sizes is not None else (None, None)
    reject = adjusted_rejections(p, alpha, multiplicity, sizes[0], sizes[1:] if arm_sizes is not None else None)
    comparisons = {names[k]: {**{key: s[key] for key in COMPARISON_KEYS if key in s},
                              "power_adjusted": round(float(reject[k - 1].mean()), 4)}
                   for k, s in zip(range(1, len(names)), per)}
    positive = reject.any(axis=0)
    if len(names) == 2:
        out = dict(per[0])
    else:
        out = {"replicates": len(reps), "power": round(float(positive.mean()), 4),
               "null_share": round(float(1.0 - positive.mean()), 4)}
        for key in PER_ARM_KEYS:
            if key in per[0]:
                out[key] = {name: value for s in per for name, value in s[key].items()}
    out["multiplicity"] = (multiplicity if len(names) > 2 else "none (one comparison with the control)")
    out["comparisons"] = comparisons
    return out
