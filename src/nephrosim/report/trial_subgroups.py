"""Subgroup hazard ratios and treatment × subgroup interaction tests of a virtual trial (issue 16, item 6).

Every baseline covariate the virtual population carries (:func:`nephrosim.trials.population.draw_covariates`)
is split once, at the cut in :data:`SUBGROUP_CUTS`:

* a **clinical cut** where the evidence gives one — pre-operative eGFR < 60 mL/min/1.73 m² (KDIGO
  CKD G3a); age > 65 y and bypass time > 120 min, cuts of the AKICS score (Palomba 2007, Kidney
  Int 72:624, PMID 17622275: "Variables included in the AKICS score were age greater than 65,
  pre-op creatinine above 1.2 mg/dl, [...] cardiopulmonary bypass time above 2 h"); sex (male /
  female);
* otherwise the **pool median** (weight, and the model's four between-patient factors: injury
  severity, bypass susceptibility, repair, fluid load), labelled as such. The factors are not
  measurable at entry: their subgroups show where the model's effect lives, not a subgroup a
  trial could pre-specify.

Diabetes, surgery type and other clinical risk factors are not covariates of the virtual
population (the model has no pathway for them), so they have no subgroup. Pre-operative SCr has
none either: in the model it is a function of eGFR alone (SCr × eGFR = 73.3 for every patient,
so AKICS's SCr > 1.2 mg/dL is eGFR < 61.1) and its subgroups would repeat eGFR's.

**Age and sex change no model parameter** (the model has no age and describes males): their
subgroups differ only by chance, and their interaction p-values are a built-in null check
(approximately uniform on [0, 1] over seeds).

**Design.** Every analysed pool patient under **both** arms (the simulation's counterfactual
pair), so each fit uses lifelines' robust (sandwich) variance clustered by patient. With measured
SCr (``endpoints.measurement``) a patient's recovery time differs between noise draws, and one
draw is a noisy reading of the pool (ACT-AKI example, seed 0: the pool's HR on single draws
ranged 1.16–1.53 over 40 draws, median 1.34, the replicate median 1.34); the fits therefore pool
several draws — one row per patient, arm and draw, still clustered by patient — as the
Kaplan–Meier curves of the report pool every draw. Per covariate:

* the hazard ratio (treatment vs control) in each subgroup: a Cox fit on that subgroup's rows;
* the interaction p-value: one Cox fit on all analysed rows with ``treated``, the subgroup
  indicator and their product ``treated × subgroup``; the robust Wald p of the product term.

The p-values are not adjusted for the nine covariates tested: at alpha 0.05 about one in twenty
null covariates reads "significant". The intervals describe this pool, not a trial of the
design's size (the report's replicate histogram shows that spread).

**Cost.** 28 Cox fits (3 per covariate and the overall one), each about linear in the rows fitted
(lifelines, clustered; measured on the loaded 2-core machine with synthetic continuous times:
2.1 s for all 28 at 301 patients, 8.6 s at 3000, 36 s at 10 000; the ACT-AKI pool, 301 patients ×
9 draws of daily-sampled times with many ties, took 2.5 s). The analysis is
bounded by :data:`MAX_SUBGROUP_ROWS` patient-draws: the draws used are
``min(draws held, MAX_SUBGROUP_ROWS // patients)`` (at least one), and a pool larger than
:data:`MAX_SUBGROUP_ROWS` is analysed on one draw of a seeded random subset of that many patients
(``default_rng([seed, 7])``); the report states which.
"""

from __future__ import annotations

import warnings
from typing import Mapping

import numpy as np

from nephrosim.trials.subgroups import AKICS, SUBGROUP_CUTS, SubgroupCut  # noqa: F401  (the trial's own cuts)

#: Patient × noise-draw pairs the subgroup analysis fits at most (fewer draws, then a seeded random
#: subset of patients above it): bounds the report's cost (module docstring). A method setting, not biology.
MAX_SUBGROUP_ROWS = 3000

COLUMNS = ("covariate", "subgroup", "cut", "patients", "events", "hr", "hr_lo", "hr_hi", "interaction_p")


def _long(ids: np.ndarray, control, treated, indicator: np.ndarray | None = None):
    """One row per patient, arm and noise draw (``control``/``treated`` are ``[patient, draw]``):
    time ``T``, event ``E``, ``treated``, ``patient`` (the cluster) and, with ``indicator``, the
    subgroup ``sub`` and ``treated_x_sub``."""
    import pandas as pd

    (t_c, e_c), (t_t, e_t) = _as_draws(control), _as_draws(treated)
    draws = t_c.shape[1]
    times = np.r_[t_c[ids].ravel(order="F"), t_t[ids].ravel(order="F")]
    events = np.r_[e_c[ids].ravel(order="F"), e_t[ids].ravel(order="F")].astype(int)
    per_arm = ids.size * draws
    df = pd.DataFrame({"T": times, "E": events, "treated": np.r_[np.zeros(per_arm), np.ones(per_arm)],
                       "patient": np.tile(ids, 2 * draws)})
    if indicator is not None:
        df["sub"] = np.tile(np.asarray(indicator, float)[ids], 2 * draws)
        df["treated_x_sub"] = df["treated"] * df["sub"]
    return df


def _fit(df):
    """lifelines Cox fit with robust variance clustered by patient; None where no finite fit exists."""
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    if len(df) == 0 or df["E"].sum() == 0:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return CoxPHFitter().fit(df, duration_col="T", event_col="E", cluster_col="patient")
    except ConvergenceError:
        return None  # e.g. every event in one arm: shown as not estimable (NaN), never as a number


def _hazard_ratio(df) -> tuple[float, float, float]:
    cph = _fit(df)
    if cph is None:
        return (np.nan, np.nan, np.nan)
    lo, hi = cph.confidence_intervals_.loc["treated"]
    with np.errstate(over="ignore"):  # an unbounded interval is inf, not a printed warning
        return float(np.exp(cph.params_["treated"])), float(np.exp(lo)), float(np.exp(hi))


def interaction_p(ids: np.ndarray, control, treated, indicator: np.ndarray) -> float:
    """Robust Wald p of ``treated × subgroup`` in ``T ~ treated + sub + treated × sub`` (NaN when a
    subgroup is empty or the fit has no finite solution)."""
    inside = np.asarray(indicator, bool)[ids]
    if inside.all() or not inside.any():
        return float("nan")
    cph = _fit(_long(ids, control, treated, indicator))
    return float("nan") if cph is None else float(cph.summary.loc["treated_x_sub", "p"])


def _as_draws(arm) -> tuple[np.ndarray, np.ndarray]:
    """``(time, event)`` as ``[patient, draw]`` arrays (one column when given per patient)."""
    days, rec = (np.asarray(x) for x in arm)
    return (days[:, None], rec[:, None]) if days.ndim == 1 else (days, rec)


def subgroup_table(covariates: Mapping[str, np.ndarray], control, treated,
                   cuts: tuple[SubgroupCut, ...] = SUBGROUP_CUTS):
    """Hazard ratios by subgroup of every covariate in ``cuts``, with the interaction p-values.

    Arguments
    ---------
    covariates : ``{covariate: one value per patient}`` (every covariate ``cuts`` names).
    control, treated : ``(time to recovery, recovered)`` of the same patients, in the same order,
        under the control and the treated arm: one value per patient, or ``[patient, noise draw]``
        (every draw is a row of the fits, clustered by patient).
    cuts : the splits (default :data:`SUBGROUP_CUTS`).

    Returns
    -------
    ``pandas.DataFrame`` with :data:`COLUMNS`: first the row ``all``, then two rows per covariate
    (its first and second subgroup), each with its patients, events (both arms, every draw),
    hazard ratio and 95 % interval (robust, clustered by patient; NaN when not estimable) and the
    covariate's interaction p-value (on both of its rows).
    """
    import pandas as pd

    control, treated = _as_draws(control), _as_draws(treated)
    n = control[0].shape[0]
    if not (control[0].shape == control[1].shape == treated[0].shape == treated[1].shape):
        raise ValueError("control and treated must hold the same patients and draws (equal shapes)")

    def events(ids):
        return int(control[1][ids].sum() + treated[1][ids].sum())

    everyone = np.arange(n)
    rows = [dict(zip(COLUMNS, ("all", "all", "", n, events(everyone),
                               *_hazard_ratio(_long(everyone, control, treated)), np.nan)))]
    for cut in cuts:
        if cut.covariate not in covariates:
            raise KeyError(f"covariate {cut.covariate!r} of the subgroup cuts is not among {sorted(covariates)}")
        values = np.asarray(covariates[cut.covariate])
        if values.shape != (n,):
            raise ValueError(f"covariate {cut.covariate!r} has shape {values.shape}, not ({n},)")
        inside, labels, text = cut.split(values)
        p = interaction_p(everyone, control, treated, inside)
        for label, keep in zip(labels, (inside, ~inside)):
            ids = np.flatnonzero(keep)
            rows.append(dict(zip(COLUMNS, (cut.name, label, text, int(ids.size), events(ids),
                                           *_hazard_ratio(_long(ids, control, treated)), p))))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def pool_covariates(result, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The baseline covariates of a trial's eligible pool (rows ``rows`` of it)."""
    pool = result.pool if rows is None else result.pool[rows]
    return {k: np.asarray(v)[pool] for k, v in result.population.covariates.items()}


def analysed_rows(pool_size: int, seed: int, limit: int = MAX_SUBGROUP_ROWS) -> np.ndarray:
    """Pool rows the subgroup analysis fits: all of them, or a sorted seeded subset of ``limit``."""
    if pool_size <= limit:
        return np.arange(pool_size)
    return np.sort(np.random.default_rng([int(seed), 7]).choice(pool_size, limit, replace=False))


def trial_subgroups(result, limit: int = MAX_SUBGROUP_ROWS, cuts: tuple[SubgroupCut, ...] = SUBGROUP_CUTS,
                    arm: int = 1):
    """:func:`subgroup_table` of a :class:`~nephrosim.trials.run.TrialResult`: the pool patients (a
    seeded subset above ``limit``) under the control and treated arm ``arm`` (1 = the first after
    the control), with measured SCr the first
    ``min(draws held, limit // patients)`` noise draws pooled (at least one).

    Returns ``(table, pool rows analysed, noise draws pooled)``.
    """
    ctl, trt = result.design.arms[0].name, result.design.arms[arm].name
    rows = analysed_rows(result.pool.size, result.seed, limit)
    held = [_as_draws((o.recovery_days, o.recovered)) for o in (result.arm_outcomes[ctl], result.arm_outcomes[trt])]
    draws = min(held[0][0].shape[1], max(1, limit // max(rows.size, 1)))
    control, treated = (tuple(x[rows, :draws] for x in arm) for arm in held)
    return subgroup_table(pool_covariates(result, rows), control, treated, cuts), rows, draws
