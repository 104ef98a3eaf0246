"""Figures of the ``nephrosim trial`` report (issue 16, item 6).

* :func:`recovery_curves` / :func:`recovery_figure` — Kaplan–Meier curves of time to recovery,
  one per arm, over the whole eligible pool (every pool patient is simulated under every arm).
  With measured SCr (``endpoints.measurement``) a patient's recovery time differs between noise
  draws; the curves pool every draw the run holds (one row per patient and draw), so they are the
  pool's recovery as a trial would measure it, averaged over the measurement noise.
* :func:`hazard_ratio_figure` — the replicate trials' hazard ratios (treatment vs control), with
  their median and 2.5 / 97.5 % quantiles.
* :func:`subgroup_hazard_ratios` / :func:`forest_figure` — hazard ratios by subgroup of every
  baseline covariate the virtual population carries (pre-operative eGFR < 60 vs ≥ 60, the KDIGO
  CKD threshold; age and bypass time at the AKICS score's cuts; sex; weight and
  the model's between-patient factors at the pool median), each with its treatment × subgroup
  interaction p-value (:mod:`nephrosim.report.trial_subgroups`, which states the cuts and their
  sources). Design: **every** pool patient under **both** arms (the model's counterfactual pair),
  not a random half per arm — halving would only add randomization noise to a quantity the
  simulation knows for every patient. Because each patient then contributes two correlated rows,
  the intervals and p-values use lifelines' robust (sandwich) variance clustered by patient. They
  describe this pool, not a trial of the design's size: the replicate histogram shows that
  spread. With measured SCr several noise draws are pooled (one row per patient, arm and draw),
  as many as keep the fits within :data:`~nephrosim.report.trial_subgroups.MAX_SUBGROUP_ROWS` rows
  per arm.

Curves and fits are lifelines' (``KaplanMeierFitter``, ``CoxPHFitter``); nothing is hand-rolled.
"""

from __future__ import annotations

import numpy as np


def _readable_log_axis(ax) -> None:
    """Hazard-ratio ticks a reader can read on a log x axis (plain numbers, no 10^x labels)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    lo, hi = ax.get_xlim()
    ticks = [t for t in (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0)
             if lo <= t <= hi]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _pooled(outcomes) -> tuple[np.ndarray, np.ndarray, int]:
    """Time to recovery and event flags of one arm, every noise draw pooled; number of draws."""
    days, rec = outcomes.recovery_days, outcomes.recovered
    if days.ndim == 1:
        return days, rec.astype(bool), 1
    return days.ravel(order="F"), rec.ravel(order="F").astype(bool), days.shape[1]


def recovery_curves(result) -> dict:
    """``{arm name: fitted KaplanMeierFitter}`` of time to recovery over the eligible pool."""
    from lifelines import KaplanMeierFitter

    curves = {}
    for arm, outcomes in result.arm_outcomes.items():
        days, rec, _ = _pooled(outcomes)
        curves[arm] = KaplanMeierFitter(label=arm).fit(days, rec)
    return curves


def recovery_figure(result):
    """``(figure, caption)``: Kaplan–Meier curves of the share not yet recovered, per arm."""
    from nephrosim.figures import subplots

    fig, ax = subplots(figsize=(6.0, 4.0))
    draws = 1
    for arm, km in recovery_curves(result).items():
        draws = _pooled(result.arm_outcomes[arm])[2]
        km.plot_survival_function(ax=ax, ci_show=draws == 1)
    ax.set_xlabel("days after randomization")
    ax.set_ylabel("share not yet recovered")
    ax.set_ylim(0.0, 1.02)
    ax.legend(fontsize=8, frameon=False)
    n = result.pool.size
    how = ("pooled over the run's measurement-noise draws, one row per patient and draw, so no confidence band "
           f"is drawn ({draws} draws)" if draws > 1 else "the model's SCr, 95 % confidence band (lifelines)")
    return fig, (f"Kaplan–Meier time to recovery of the whole eligible pool ({n} patients, each simulated under "
                 f"every arm); {how}; censored at {result.design.endpoints.horizon_days:g} days.")


def hazard_ratio_figure(result, arm: int = 1):
    """``(figure, caption)``: histogram of the replicate trials' hazard ratios of treated arm ``arm``
    (1 = the first after the control) vs the control, log axis."""
    from nephrosim.figures import subplots
    from nephrosim.trials.analysis import comparison_replicates

    arms = result.design.arms
    hr = np.array([r["hr"] for r in comparison_replicates(result.replicates, arm, len(arms))], float)
    finite = hr[np.isfinite(hr) & (hr > 0)]
    fig, ax = subplots(figsize=(6.0, 3.6))
    if finite.size:
        lo, hi = finite.min(), finite.max()
        edges = np.geomspace(lo, hi, 31) if hi > lo else np.geomspace(lo / 1.1, hi * 1.1, 31)
        ax.hist(finite, bins=edges, color="0.6")
        med, q_lo, q_hi = np.quantile(finite, [0.5, 0.025, 0.975])
        ax.axvline(med, color="k", label=f"median {med:.3g}")
        for q, lab in ((q_lo, f"2.5 % {q_lo:.3g}"), (q_hi, f"97.5 % {q_hi:.3g}")):
            ax.axvline(q, color="k", ls="--", label=lab)
        ax.axvline(1.0, color="tab:red", lw=0.8, label="HR 1")
        ax.legend(fontsize=8, frameon=False)
    ax.set_xscale("log")
    _readable_log_axis(ax)
    ax.set_xlabel(f"hazard ratio of recovery, {arms[arm].name} vs {arms[0].name} (> 1: faster recovery)")
    ax.set_ylabel("replicate trials")
    return fig, (f"Cox hazard ratio of {arms[arm].name} vs {arms[0].name} in each replicate trial ({finite.size} "
                 f"finite of {hr.size}); median and 2.5 / 97.5 % quantiles over replicates.")


def subgroup_hazard_ratios(result, arm: int = 1):
    """Hazard ratio (treatment vs control) per subgroup of every baseline covariate of the eligible pool.

    Returns a ``pandas.DataFrame`` (:func:`nephrosim.report.trial_subgroups.subgroup_table`, the
    table of :func:`~nephrosim.report.trial_subgroups.trial_subgroups`): the row ``all``, then two
    rows per covariate (``eGFR < 60``, ``eGFR ≥ 60``, ``age > 65 y``, ...) with ``patients``,
    ``events`` (both arms, every pooled noise draw), ``hr``, ``hr_lo``, ``hr_hi`` (95 %, robust
    variance clustered by patient) and the covariate's ``interaction_p``; NaN where not estimable.
    """
    from nephrosim.report.trial_subgroups import trial_subgroups

    return trial_subgroups(result, arm=arm)[0]


def forest_figure(table, arms: tuple[str, str]):
    """``(figure, caption)``: forest plot of :func:`subgroup_hazard_ratios`, one block per covariate,
    its interaction p-value on the right."""
    from nephrosim.figures import subplots

    rows = len(table)
    fig, ax = subplots(figsize=(7.5, 0.32 * rows + 1.4))
    y = np.arange(rows)[::-1].astype(float)
    ok = np.isfinite(table["hr"].to_numpy(float))
    hr, lo, hi = (table[c].to_numpy(float) for c in ("hr", "hr_lo", "hr_hi"))
    ax.errorbar(hr[ok], y[ok], xerr=[hr[ok] - lo[ok], hi[ok] - hr[ok]], fmt="s", ms=4, color="k", capsize=2)
    ax.axvline(1.0, color="tab:red", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{s} (n={p}{'' if f else ', not estimable'})"
                        for s, p, f in zip(table["subgroup"], table["patients"], ok)], fontsize=7)
    covariate = table["covariate"].to_numpy()
    for k in range(1, rows):
        if covariate[k] != covariate[k - 1]:
            ax.axhline(y[k] + 0.5, color="0.85", lw=0.6)
            p = table["interaction_p"].iloc[k]
            ax.annotate("interaction p " + (f"{p:.2g}" if np.isfinite(p) else "–"), xy=(1.0, y[k] - 0.5),
                        xycoords=("axes fraction", "data"), xytext=(4, 0), textcoords="offset points",
                        va="center", fontsize=7)
    ax.set_xscale("log")
    _readable_log_axis(ax)
    ax.set_xlabel(f"hazard ratio of recovery, {arms[1]} vs {arms[0]} (> 1: faster recovery)")
    ax.set_ylim(y.min() - 0.7, y.max() + 0.7)
    n = int(table["patients"].iloc[0])
    return fig, (f"Hazard ratio by subgroup of every baseline covariate on the eligible pool ({n} patients): every "
                 "patient under both arms (the simulation's counterfactual pair, no randomization), Cox model with "
                 "95 % intervals from the robust variance clustered by patient; interaction p: robust Wald test of "
                 "treatment × subgroup in a Cox model with both main effects, not adjusted for the covariates "
                 "tested. Cuts: clinical where the evidence gives one, else the pool median (table). The intervals "
                 "describe this pool, not a trial of the design's size (see the replicate histogram). Measured "
                 "SCr: noise draws pooled, as stated above the table.")
