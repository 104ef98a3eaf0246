"""``run_trial``: a virtual trial, replicated, from a :class:`TrialDesign`.

How replicates stay affordable: the virtual population is simulated once, untreated;
the patients meeting the inclusion rule form the **eligible pool**, and each pool patient
is simulated once under every arm's treatment. Each replicate then draws the arms'
``n`` distinct patients from the pool (without replacement within a replicate, at
random — a 1:1 randomization when the arms' sizes are equal) and analyses their
outcomes. Replicates therefore share patients when the pool is not much larger than a
trial: the spread over replicates is the sampling spread of trials drawn from this one
pool, not from an infinite population. Everything is deterministic for a seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from nephrosim.errors import UserInputError
from nephrosim.trials.analysis import analyse_replicate, auc_test, summarise
from nephrosim.trials.design import TrialArm, TrialDesign
from nephrosim.trials.endpoints import PatientOutcomes, entry_times, outcomes
from nephrosim.trials.population import TIMES_H, VirtualPopulation, build_population, compiled, \
    parameter_matrix, population_scenario

MAX_REPLICATES = 100_000
MAX_SEED = 2**63 - 1


@dataclass
class TrialResult:
    """What ``run_trial`` returns: the summary (``to_dict()``) and the simulated pool."""

    design: TrialDesign
    seed: int
    summary: dict
    population: VirtualPopulation
    pool: np.ndarray
    arm_outcomes: dict[str, PatientOutcomes] = field(repr=False)
    replicates: list[dict] = field(repr=False)

    def to_dict(self) -> dict:
        return {"trial": self.design.name, "seed": self.seed, **self.summary}


def _dose_times(arm: TrialArm, entry_h: np.ndarray) -> np.ndarray:
    t = arm.timing
    raw = entry_h + t.delay_h if t.relative_to == "diagnosis" else np.full(entry_h.shape, t.delay_h)
    return np.ceil(raw / t.grid_h - 1e-9) * t.grid_h


def _simulate_treated(arm: TrialArm, pop: VirtualPopulation, pool: np.ndarray, entry_h: np.ndarray):
    """SCr and survival of every pool patient under ``arm``'s treatment (NaN rows on failure)."""
    n = pool.size
    scr = np.full((n, TIMES_H.size), np.nan)
    surv = np.full((n, TIMES_H.size), np.nan)
    dose_t = _dose_times(arm, entry_h)
    weight = pop.covariates["weight_kg"][pool]
    for t in np.unique(dose_t):
        rows = np.nonzero(dose_t == t)[0]
        treatment = arm.treatment.model_copy(update={"time_h": float(t)})
        scenario = population_scenario((treatment,), name="virtual_trial_arm")
        program, sim = compiled(scenario)
        dose_ids = [k for k in program.parameter_values if k.endswith("_dose_1_cells")]
        if len(dose_ids) != 1:
            raise RuntimeError(f"expected one dose parameter in the compiled arm, found {dose_ids}")
        cov = {k: v[pool[rows]] for k, v in pop.covariates.items()}
        names, values = parameter_matrix(cov, program.parameter_values)
        doses = np.array([arm.treatment.dose_cells(w) for w in weight[rows]])
        out, statuses = sim.run_batch(TIMES_H, [*names, dose_ids[0]], np.column_stack([values, doses]))
        out = program.convert(out)
        ok = np.array([s.ok for s in statuses])
        scr[rows[ok]] = out[ok, :, 0]
        surv[rows[ok]] = out[ok, :, 1] / 100.0
    return scr, surv


def run_trial(design: TrialDesign, replicates: int = 200, seed: int = 0) -> TrialResult:
    """Simulate the virtual population and the arms once, then ``replicates`` trials.

    Arguments
    ---------
    design : a validated :class:`TrialDesign` (``load_trial`` reads one from YAML).
    replicates : number of replicate trials drawn from the eligible pool.
    seed : seeds the population, the acceptance–rejection draws and every replicate.

    Returns
    -------
    :class:`TrialResult`; ``to_dict()`` holds ``power``, ``hazard_ratio`` {median, lo, hi},
    ``median_recovery_days`` {arm: days} and the population's target table.
    """
    if not 1 <= replicates <= MAX_REPLICATES:
        raise UserInputError(f"replicates={replicates}: give 1 to {MAX_REPLICATES}")
    if not 0 <= seed <= MAX_SEED:
        raise UserInputError(f"seed={seed}: give an integer from 0 to {MAX_SEED}")
    pop = build_population(design.population, design.virtual_patients, seed)
    entry_all = entry_times(TIMES_H, pop.scr, design.inclusion)
    ctl, trt = design.arms
    need = ctl.n + trt.n
    pool = np.nonzero(np.isfinite(entry_all))[0]

    scr_by_arm, surv_by_arm = {}, {}
    for arm in design.arms:
        if arm.treatment is None:
            scr_by_arm[arm.name], surv_by_arm[arm.name] = pop.scr[pool], pop.survival[pool]
        else:
            scr_by_arm[arm.name], surv_by_arm[arm.name] = _simulate_treated(arm, pop, pool, entry_all[pool])
    usable = np.all([np.isfinite(s).all(axis=1) for s in scr_by_arm.values()], axis=0)
    failed_treated = int((~usable).sum())
    if usable.sum() < need:
        eligible_share = max(pool.size, 1) / max(pop.size, 1)
        suggest = int(math.ceil(1.5 * need / eligible_share * design.virtual_patients / max(pop.size, 1)))
        raise UserInputError(
            f"the eligible pool has {int(usable.sum())} patients (of {pop.size} accepted virtual patients, "
            f"{design.virtual_patients} simulated) but the arms need {need} distinct patients per trial; "
            f"raise virtual_patients to about {suggest}, or lower the arms' n")
    pool = pool[usable]
    entry = entry_all[pool]
    baseline = pop.scr[pool, 0]
    arm_out = {a.name: outcomes(TIMES_H, scr_by_arm[a.name][usable], surv_by_arm[a.name][usable], entry, baseline,
                                design.endpoints) for a in design.arms}

    reps = []
    for r in range(replicates):
        rng = np.random.default_rng([seed, 2, r])
        pick = rng.permutation(pool.size)[:need]
        ic, it = pick[:ctl.n], pick[ctl.n:]
        oc, ot = arm_out[ctl.name], arm_out[trt.name]
        rep = analyse_replicate(oc.recovery_days[ic], oc.recovered[ic], ot.recovery_days[it], ot.recovered[it])
        rep["recovered_control"] = float(oc.recovered[ic].mean())
        rep["recovered_treatment"] = float(ot.recovered[it].mean())
        rep["death_control"] = float((rng.random(ic.size) < oc.death_probability[ic]).mean())
        rep["death_treatment"] = float((rng.random(it.size) < ot.death_probability[it]).mean())
        rep["auc_control"] = float(oc.scr_auc[ic].mean())
        rep["auc_treatment"] = float(ot.scr_auc[it].mean())
        rep["p_auc"] = auc_test(oc.scr_auc[ic], ot.scr_auc[it])
        reps.append(rep)

    rec = design.endpoints.recovery
    summary = summarise(reps, (ctl.name, trt.name), design.alpha)
    summary.update({
        "primary_endpoint": (f"time to recovery: first SCr <= baseline + max({rec.margin_mg_dl:g} mg/dL, "
                             f"{rec.margin_fraction:g} x baseline) after randomization, censored at "
                             f"{design.endpoints.horizon_days:g} days; log-rank test at alpha {design.alpha:g}"),
        "n_per_arm": {ctl.name: ctl.n, trt.name: trt.n},
        "dialysis_by_horizon": None,
        "notes": [
            "dialysis is not modelled (null)",
            "death uses the model's survival state (uraemic hazard only; no cardiac/surgical mortality)",
            f"replicates resample one eligible pool of {pool.size} patients, each simulated once per arm",
        ],
        "population": {
            "plausible_patients": pop.plausible, "accepted_patients": pop.size, "failed_simulations": pop.failed,
            "eligible_pool": int(pool.size), "failed_treated_simulations": failed_treated,
            "missing_categories": list(pop.missing_categories), "targets": pop.summary(),
        },
    })
    return TrialResult(design, seed, summary, pop, pool, arm_out, reps)
