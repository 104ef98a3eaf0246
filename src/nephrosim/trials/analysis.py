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
"""

from __future__ import annotations

import warnings

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


def auc_test(auc_ctl, auc_trt) -> float:
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(auc_ctl, auc_trt).pvalue)


def fisher_p(events_ctl: np.ndarray, events_trt: np.ndarray) -> float:
    """Two-sided Fisher's exact test of two event proportions (booleans per patient)."""
    from scipy.stats import fisher_exact

    a, b = int(events_ctl.sum()), int(events_trt.sum())
    table = [[a, events_ctl.size - a], [b, events_trt.size - b]]
    return float(fisher_exact(table).pvalue)


def binary_endpoints(rng: np.random.Generator, control, treated) -> dict:
    """Dialysis, death or dialysis, MAKE30 (and MAKE90 where both arms were followed 90 days) of one
    replicate trial: one Bernoulli draw per patient and endpoint from ``rng`` (control, then
    treatment; MAKE90 last, so the draws before it do not depend on the follow-up), and Fisher's p
    for each MAKE. ``control``/``treated`` are the randomized patients'
    :class:`~nephrosim.trials.endpoints.PatientOutcomes`."""
    out = {}
    for name, prob in (("dialysis", "dialysis"), ("death_dialysis", "death_or_dialysis"), ("make", "make30")):
        events = {arm: rng.random(o.size) < getattr(o, prob) for arm, o in (("control", control), ("treatment", treated))}
        out[f"{name}_control"] = float(events["control"].mean())
        out[f"{name}_treatment"] = float(events["treatment"].mean())
        if name == "make":
            out["p_make"] = fisher_p(events["control"], events["treatment"])
    if control.has_make90 and treated.has_make90:
        events = [rng.random(o.size) < o.make90 for o in (control, treated)]
        out["make90_control"], out["make90_treatment"] = (float(e.mean()) for e in events)
        out["p_make90"] = fisher_p(*events)
    return out


def _finite_or_none(x: float):
    return None if not np.isfinite(x) else round(float(x), 4)


def quantiles(values, probs=(0.5, 0.025, 0.975)) -> dict:
    """``{median, lo, hi}`` of the finite values (None where there are none)."""
    v = np.asarray(values, dtype=float)
    if not v.size or np.isnan(v).all():
        return {"median": None, "lo": None, "hi": None}
    q = np.nanquantile(v, probs)
    return {"median": _finite_or_none(q[0]), "lo": _finite_or_none(q[1]), "hi": _finite_or_none(q[2])}


def summarise(reps: list[dict], arm_names: tuple[str, str], alpha: float, primary: str = "recovery") -> dict:
    """The summary over replicates (the ``--json`` object's statistics).

    ``power`` is the share of replicates with p < ``alpha`` on the primary endpoint's test
    (log-rank for ``recovery``, Mann–Whitney for ``scr_auc``, Fisher's exact for ``make30`` and
    ``make90``). The MAKE90 entries are there only when the replicates carry them (90-day follow-up).
    """
    ctl, trt = arm_names
    col = {k: np.array([r[k] for r in reps], dtype=float) for k in reps[0]}
    if primary == "make90" and "p_make90" not in col:
        raise ValueError("primary make90 needs a follow-up of 90 days (endpoints.horizon_days: 90)")
    p = {"scr_auc": col["p_auc"], "make30": col["p_make"], "make90": col.get("p_make90")}.get(primary, col["p_logrank"])

    def per_arm(key):
        return {ctl: round(float(col[f"{key}_control"].mean()), 4), trt: round(float(col[f"{key}_treatment"].mean()), 4)}

    med = {ctl: col["median_control"], trt: col["median_treatment"]}
    make90 = {} if "p_make90" not in col else {
        "make90": per_arm("make90"),
        "make90_risk_difference": quantiles(col["make90_treatment"] - col["make90_control"]),
        "make90_power": round(float(np.mean(col["p_make90"] < alpha)), 4),
    }
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
    }
