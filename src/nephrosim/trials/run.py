"""``run_trial``: a virtual trial, replicated, from a :class:`TrialDesign`.

How replicates stay affordable: the virtual population is simulated once, untreated;
the patients meeting the inclusion rule form the **eligible pool**, and each pool patient
is simulated once under every arm's treatment. Each replicate then draws the arms'
``n`` distinct patients from the pool (without replacement within a replicate, at
random — a 1:1 randomization when the arms' sizes are equal) and analyses their
outcomes. Replicates therefore share patients when the pool is not much larger than a
trial: the spread over replicates is the sampling spread of trials drawn from this one
pool, not from an infinite population. Everything is deterministic for a seed.

**Resumable** with ``out`` (``nephrosim trial SPEC --out DIR``): every chunk of virtual
patients (untreated population, then each treated arm) and every chunk of replicate trials
is written to ``DIR`` as it finishes (:mod:`nephrosim.trials.checkpoint`); a rerun of the
same spec and seed reads them back and continues, bit-identical to an uninterrupted run.

**Progress** (``progress``): a callable ``progress(done, total, stage)`` — the protocol of
the web app's runs (``report(done, total, label)`` in :mod:`nephrosim.app.worker`) — is
called when each stage starts and after each of its chunks; ``done`` and ``total`` count
the stage's chunks (those read back from ``out`` included), ``stage`` is one of
:data:`STAGES`. ``progress=True`` shows one progress bar with ETA per stage
(:class:`nephrosim.progress.ProgressBar`).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from nephrosim.errors import UserInputError
from nephrosim.progress import ProgressBar
from nephrosim.trials.analysis import analyse_replicate, auc_test, binary_events, compare_binary, comparison_column, \
    fisher_p, quantiles, share, summarise_trial, trend_test
from nephrosim.trials.checkpoint import open_trial_folder
from nephrosim.trials.design import TrialDesign
from nephrosim.trials.endpoints import PatientOutcomes, entry_times, outcomes
from nephrosim.trials.execute import collect, open_executor
from nephrosim.trials.mcpmod import contrast_statistics, estimate_statistics, generalized_test, log_hazard_ratios, \
    log_odds_ratios, model_step, model_step_estimates
from nephrosim.trials.population import CHUNK_PATIENTS, VirtualPopulation, build_population, chunks_of, \
    population_scenario, simulate_groups
from nephrosim.trials.subgroups import subgroup_cut, subgroup_fits

MAX_REPLICATES = 100_000
MAX_SEED = 2**63 - 1
MAX_CHUNK_PATIENTS = 10_000
#: The stages a trial reports progress for, in order.
STAGES = ("population", "treated arms", "replicates")


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
    #: the output folder (``summary.json``, ``replicates.csv``, ``chunks/``), when run with ``out``
    out: Path | None = None

    def to_dict(self) -> dict:
        return {"trial": self.design.name, "seed": self.seed, **self.summary}


def _dose_times(timing, entry_h: np.ndarray) -> np.ndarray:
    raw = entry_h + timing.delay_h if timing.relative_to == "diagnosis" else np.full(entry_h.shape, timing.delay_h)
    return np.ceil(raw / timing.grid_h - 1e-9) * timing.grid_h


def eligible_pool(design: TrialDesign, pop: VirtualPopulation, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the patients meeting the inclusion rule (and enrichment), and their entry times (h).

    With ``pool_limit`` a seeded random subset (``default_rng([seed, 3])``) of that size is kept.
    """
    inc = design.inclusion
    entry_all = entry_times(pop.times_h, pop.scr, inc)
    egfr = pop.covariates["baseline_egfr"]
    ok = np.isfinite(entry_all) & (egfr >= inc.baseline_egfr_min) & (egfr <= inc.baseline_egfr_max)
    pool = np.nonzero(ok)[0]
    if design.pool_limit is not None and pool.size > design.pool_limit:
        pool = np.sort(np.random.default_rng([seed, 3]).choice(pool, design.pool_limit, replace=False))
    return pool, entry_all[pool]


def treated_groups(treatment, timing, pop: VirtualPopulation, pool: np.ndarray, entry_h: np.ndarray,
                   extra_names=(), extra_values=None):
    """Simulation groups (one per dose time) of ``pool`` under ``treatment``; rows of each group.

    Every distinct dose time is one compiled arm. A per-kg MSC or conditioned-medium dose is set per
    patient from the patient's weight; ``extra_names``/``extra_values`` (one value each, the same for every
    patient) set further SBML parameters, e.g. an uncertainty draw of therapy parameters.
    """
    dose_t = _dose_times(timing, entry_h)
    weight = pop.covariates["weight_kg"][pool]
    groups, rows_of = [], []
    for t in np.unique(dose_t):
        rows = np.nonzero(dose_t == t)[0]
        scenario = population_scenario((treatment.model_copy(update={"time_h": float(t)}),), name="virtual_trial_arm",
                                       solver=pop.solver, times_h=pop.times_h)
        cov = {k: v[pool[rows]] for k, v in pop.covariates.items()}
        names, cols = list(extra_names), [np.full(rows.size, float(v)) for v in (extra_values or ())]
        if treatment.product == "msc":
            names.append("@dose_cells")
            cols.append(np.array([treatment.dose_cells(w) for w in weight[rows]]))
        elif treatment.product == "conditioned_medium":
            names.append("@dose_cell_equivalents")
            cols.append(np.array([treatment.dose_cell_equivalents(w) for w in weight[rows]]))
        values = np.column_stack(cols) if cols else None
        groups.append((scenario, cov, tuple(names), values))
        rows_of.append(rows)
    return groups, rows_of


def assemble_groups(n: int, rows_of, results, n_times: int) -> tuple[np.ndarray, np.ndarray]:
    """SCr and survival of ``n`` pool patients on ``n_times`` output times from per-group results
    (NaN rows on failure)."""
    scr = np.full((n, n_times), np.nan)
    surv = np.full((n, n_times), np.nan)
    for rows, (s, v, ok) in zip(rows_of, results):
        scr[rows[ok]] = s[ok]
        surv[rows[ok]] = v[ok]
    return scr, surv


def losses(seed: int, r: int, sizes, share: float, horizon_days: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Replicate ``r``'s loss to follow-up (:class:`~nephrosim.trials.design.Dropout`): ``(lost, when)``
    for each arm of ``sizes``, in the design's order, from their own stream ``default_rng([seed, 6, r])``
    (so no other draw moves); a lost patient is lost at a time uniform over the follow-up (assumed)."""
    drop = np.random.default_rng([seed, 6, r])
    out = []
    for n in sizes:
        lost = drop.random(n) < share
        out.append((lost, drop.random(n) * horizon_days))
    return out


def censor_at_loss(days: np.ndarray, event: np.ndarray, lost: np.ndarray, when: np.ndarray):
    """Times to recovery and recovery events with the lost patients censored when lost (a recovery before
    that still counts)."""
    censored = lost & (when < days)
    return np.where(censored, when, days), event & ~censored


def _replicate_task(task) -> list[dict]:
    """Replicates ``[start, stop)`` of one design (a task for any executor).

    ``task = (seed, start, stop, sizes, outcomes[, dropout[, looks[, trend[, mcp[, modelling]]]]])``: the arms' sizes and their pool
    outcomes (:class:`~nephrosim.trials.endpoints.PatientOutcomes`), control first; ``dropout`` =
    ``(probability, horizon_days)`` of loss to follow-up (:class:`~nephrosim.trials.design.Dropout`),
    drawn from its own stream ``default_rng([seed, 6, r])`` so that no other draw moves; ``looks`` =
    ``(primary, information)`` of the interim looks (:class:`~nephrosim.trials.design.Interim`), each
    adding ``p_interim_<k>``: the primary test on the first patients of each arm (:func:`interim_p`), and
    ``favours_interim_<k>``: whether the treated arm does better there (for a futility rule); ``trend`` =
    ``(primary, scores)`` of a test for trend across every arm (:func:`~nephrosim.trials.analysis.trend_test`),
    adding ``p_trend`` and ``z_trend`` (no prefix: one test per trial) on the patients each arm keeps; ``mcp`` =
    ``(endpoint, contrasts[, effects, one-sided alpha])`` of MCP-Mod (:mod:`nephrosim.trials.mcpmod`,
    :meth:`~nephrosim.trials.design.TrialDesign.mcp_task`), adding ``mcp_t_<m>``: each contrast's
    statistic on −SCr AUC of the patients each arm keeps (``scr_auc``: shape × arm) or on the treated arms'
    Cox log hazard ratios of recovery, with the patients lost censored (``recovery``: shape × treated arm), or
    on their log odds ratios of MAKE30 / MAKE90, sign flipped, on the patients each arm keeps (``make30``,
    ``make90``: :func:`~nephrosim.trials.mcpmod.log_odds_ratios`);
    given the shapes' ``effects``, the contrasts are the trial's own (its estimated covariance) and
    ``mcp_p_<m>`` adds each one's multiplicity-adjusted p (:func:`~nephrosim.trials.mcpmod.generalized_test`);
    ``subgroups`` = ``(covariates, member[pool patient, covariate])`` of the pre-specified subgroups
    (:mod:`nephrosim.trials.subgroups`) adds, per comparison and covariate, ``sub_<covariate>_hr_first``,
    ``…_hr_second`` (Cox hazard ratios of recovery within each subgroup) and ``…_p_interaction``;
    ``modelling`` = ``(critical value, doses, shapes, target effect[, average])`` of MCP-Mod's second step
    (:meth:`~nephrosim.trials.design.TrialDesign.mcp_modelling`, :func:`~nephrosim.trials.mcpmod.model_step`),
    adding ``mod_shape`` (the 1-based index of the shape AIC selects, or weighs most when averaging, among
    the significant ones: adjusted p at most alpha with the trial's own covariance, else a statistic at the
    critical value; 0 when none is) and ``mod_target_dose`` (its estimated target dose, NaN when none).
    Replicate ``r`` draws its patients and its death events from ``default_rng([seed, 2, r])``, so a
    replicate's result depends only on the seed and ``r``: one permutation of the pool gives each arm
    its ``n`` distinct patients (the control first, then the arms in order), then each death and binary
    endpoint is drawn arm by arm (with two arms, the draws of earlier versions). Each treated arm is
    compared with the control on the same trial; with more than two arms the statistics of arm ``k``
    carry the prefix :func:`~nephrosim.trials.analysis.comparison_column`.
    """
    seed, start, stop, sizes, arms, *rest = task
    sizes, arms = tuple(int(n) for n in sizes), tuple(arms)
    lost_share, horizon_days = rest[0] if rest and rest[0] is not None else (0.0, 0.0)
    primary, looks = rest[1] if len(rest) > 1 and rest[1] is not None else (None, ())
    trend = rest[2] if len(rest) > 2 else None
    mcp = rest[3] if len(rest) > 3 else None
    modelling = rest[4] if len(rest) > 4 else None
    subgroups = rest[5] if len(rest) > 5 else None
    pool_size = arms[0].size
    reps = []
    for r in range(start, stop):
        rng = np.random.default_rng([seed, 2, r])
        pick = rng.permutation(pool_size)[:sum(sizes)]
        idx = np.split(pick, np.cumsum(sizes)[:-1])
        recovery = [o.recovery(r) for o in arms]  # replicate r's measurement noise
        death = [rng.random(i.size) < o.death_probability[i] for o, i in zip(arms, idx)]
        death_stage = [rng.random(i.size) < o.death_by_stage[i] for o, i in zip(arms, idx)]
        # drawn after the draws above, so that their numbers are those of earlier versions
        events = binary_events(rng, [o.rows(i) for o, i in zip(arms, idx)])
        every_event = events  # per randomized patient, before loss to follow-up (the interim looks' subsets)
        # the randomized patients' own times to recovery and events, then loss to follow-up: from its own
        # stream (default_rng([seed, 6, r])), so a design without dropout draws exactly as before
        times = [(d[i], e[i]) for (d, e), i in zip(recovery, idx)]
        kept = [np.ones(i.size, dtype=bool) for i in idx]
        if lost_share > 0:
            for j, (lost, when) in enumerate(losses(seed, r, [i.size for i in idx], lost_share, horizon_days)):
                times[j] = censor_at_loss(*times[j], lost, when)
                kept[j] = ~lost
            events = {name: [e[m] for e, m in zip(per_arm, kept)] for name, per_arm in events.items()}
        (days_c, rec_c), kc, ic, oc = times[0], kept[0], idx[0], arms[0]
        compared = {}
        for k in range(1, len(arms)):
            (days_t, rec_t), kt, it, ot = times[k], kept[k], idx[k], arms[k]
            rep = analyse_replicate(days_c, rec_c, days_t, rec_t)
            rep["recovered_control"] = float(rec_c.mean())
            rep["recovered_treatment"] = float(rec_t.mean())
            rep["death_control"] = share(death[0][kc])
            rep["death_treatment"] = share(death[k][kt])
            rep["auc_control"] = share(oc.scr_auc[ic][kc])
            rep["auc_treatment"] = share(ot.scr_auc[it][kt])
            rep["p_auc"] = auc_test(oc.scr_auc[ic][kc], ot.scr_auc[it][kt])
            rep["death_stage_control"] = share(death_stage[0][kc])
            rep["death_stage_treatment"] = share(death_stage[k][kt])
            rep.update(compare_binary(events, k))
            if lost_share > 0:
                rep["lost_control"], rep["lost_treatment"] = float(1.0 - kc.mean()), float(1.0 - kt.mean())
            for look, fraction in enumerate(looks, 1):
                first = (math.ceil(fraction * ic.size), math.ceil(fraction * it.size))
                rep[f"p_interim_{look}"], rep[f"favours_interim_{look}"] = interim_p(
                    primary, first, times[0], times[k], kc, kt, oc.scr_auc[ic], ot.scr_auc[it],
                    {n: (e[0], e[k]) for n, e in every_event.items()})
            if subgroups is not None:  # pre-specified subgroups: within-subgroup HRs and the interaction p
                covariates, member = subgroups  # member[pool patient, subgroup]: in the first subgroup
                for g, cov in enumerate(covariates):
                    rep[f"sub_{cov}_hr_first"], rep[f"sub_{cov}_hr_second"], rep[f"sub_{cov}_p_interaction"] = \
                        subgroup_fits(days_c, rec_c, days_t, rec_t, member[ic, g], member[it, g])
            compared[k] = rep
        if len(arms) == 2:
            rep = compared[1]
        else:
            rep = {comparison_column(k, key): v for k, rep in compared.items() for key, v in rep.items()}
        if trend is not None:
            endpoint, scores = trend
            rep["z_trend"], rep["p_trend"] = trend_test(
                endpoint, scores, times=times, auc=[o.scr_auc[i][m] for o, i, m in zip(arms, idx, kept)],
                events=events.get({"make30": "make"}.get(endpoint, endpoint)))
        if mcp is not None:
            mcp_endpoint, contrasts, *own = mcp
            samples = [-o.scr_auc[i][k] for o, i, k in zip(arms, idx, kept)]  # a lower SCr AUC is the benefit
            adjusted = None
            if mcp_endpoint != "scr_auc":  # generalized MCP-Mod on estimates against the control
                estimates = (log_hazard_ratios([d for d, _ in times], [e for _, e in times])
                             if mcp_endpoint == "recovery" else
                             log_odds_ratios(events["make" if mcp_endpoint == "make30" else "make90"]))
                if own:  # the trial's own covariance sets its contrasts and adjusted p-values
                    effects, one_sided = own
                    statistics, adjusted = generalized_test(*estimates, effects, one_sided)
                    for m, value in enumerate(adjusted, 1):
                        rep[f"mcp_p_{m}"] = float(value)
                else:
                    statistics = estimate_statistics(*estimates, contrasts)
            else:
                statistics = contrast_statistics(samples, contrasts)
            for m, value in enumerate(statistics, 1):
                rep[f"mcp_t_{m}"] = float(value)
            if modelling is not None:
                critical, doses, shapes, effect, *averaging = modelling
                average = bool(averaging and averaging[0])
                significant = (np.nan_to_num(adjusted, nan=1.0) <= own[1] if adjusted is not None
                               else np.isfinite(statistics) & (statistics >= critical))
                if mcp_endpoint != "scr_auc":
                    shape, dose = model_step_estimates(*estimates, doses, shapes, significant, effect, average)
                else:
                    shape, dose = model_step(samples, doses, shapes, significant, effect, average)
                rep["mod_shape"], rep["mod_target_dose"] = int(shape), float(dose)
        reps.append(rep)
    return reps


def interim_p(primary: str, first: tuple[int, int], times_c, times_t, kept_c, kept_t, auc_c, auc_t,
              events) -> tuple[float, bool]:
    """The primary test's two-sided p on the first ``first = (control, treated)`` randomized patients of each
    arm (an interim look, :class:`~nephrosim.trials.design.Interim`), with their full follow-up: the
    log-rank test of their times to recovery (censored at loss to follow-up), or Mann–Whitney / Fisher on
    those of them not lost; and whether the treated arm does better there (a shorter mean time to recovery,
    a smaller mean SCr AUC, fewer events: the direction the design search reads, ``search._test``).
    ``events``: each binary endpoint's (control, treated) draws per patient."""
    from lifelines.statistics import logrank_test

    mc, mt = first
    kc, kt = kept_c[:mc], kept_t[:mt]
    if primary == "recovery":
        (dc, ec), (dt, et) = times_c, times_t
        p = logrank_test(dc[:mc], dt[:mt], event_observed_A=ec[:mc], event_observed_B=et[:mt]).p_value
        return float(p), bool(dt[:mt].mean() < dc[:mc].mean())  # censoring hits both arms alike
    if primary == "scr_auc":
        control, treated = auc_c[:mc][kc], auc_t[:mt][kt]
        return auc_test(control, treated), bool(treated.mean() < control.mean())
    control, treated = events["make" if primary == "make30" else primary]
    control, treated = control[:mc][kc], treated[:mt][kt]
    if not (control.size and treated.size):
        return float("nan"), False
    return fisher_p(control, treated), bool(treated.mean() < control.mean())


#: Replicate trials per task.
CHUNK_REPLICATES = 50


def primary_text(design: TrialDesign) -> str:
    """The primary endpoint and its test, in words."""
    rec, ep = design.endpoints.recovery, design.endpoints
    if ep.primary == "scr_auc":
        return (f"SCr AUC above baseline from randomization to {ep.horizon_days:g} days; Mann-Whitney U test at "
                f"alpha {design.alpha:g}")
    if ep.primary in ("make30", "make90"):
        days = 90 if ep.primary == "make90" else min(ep.horizon_days, 30.0)
        return (f"{ep.primary.upper()}: death (by peak KDIGO stage), dialysis (stage 3) or persistent renal dysfunction "
                f"(SCr >= {ep.persistent_dysfunction_ratio:g} x baseline at {days:g} days); Fisher's exact test at "
                f"alpha {design.alpha:g}")
    m = ep.measurement
    measured = ("" if m is None else
                f" (measured SCr: one sample every {m.every_h:g} h and the baseline, each with CV "
                f"{100 * m.cv_within_subject:.3g} % within-subject and {100 * m.cv_analytical:.3g} % analytical)")
    return (f"time to recovery: first SCr <= baseline + max({rec.margin_mg_dl:g} mg/dL, {rec.margin_fraction:g} x "
            f"baseline) after randomization{measured}, censored at {ep.horizon_days:g} days; log-rank test at alpha "
            f"{design.alpha:g}")


class StageBars:
    """``progress(done, total, stage)`` drawn as one :class:`~nephrosim.progress.ProgressBar`
    (with ETA) per stage; ``close()`` at the end."""

    def __init__(self, stream=None):
        self._bar, self._stage, self._done, self._stream = None, None, 0, stream

    def __call__(self, done: int, total: int, stage: str) -> None:
        if stage != self._stage:
            self.close()
            self._stage, self._done = stage, int(done)
            if total > 0:
                self._bar = ProgressBar(stage, int(total), int(done), True, stream=self._stream)
            return
        if self._bar is not None:
            for _ in range(int(done) - self._done):
                self._bar.advance()
        self._done = max(self._done, int(done))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class _Stage:
    """Counts the chunks of one stage and reports them to ``progress``."""

    def __init__(self, progress: Callable | None, stage: str, total: int, done: int = 0):
        self.progress, self.stage, self.total, self.done = progress, stage, int(total), int(done)
        if progress is not None:
            progress(self.done, self.total, stage)

    def advance(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total, self.stage)

    def finish(self) -> None:
        if self.progress is not None and self.done != self.total:
            self.done = self.total
            self.progress(self.done, self.total, self.stage)


def _check_arguments(replicates, seed, chunk_patients, progress) -> None:
    def integer(x):
        return isinstance(x, (int, np.integer)) and not isinstance(x, bool)

    if not integer(replicates) or not 1 <= replicates <= MAX_REPLICATES:
        raise UserInputError(f"replicates={replicates!r} (--replicates): give 1 to {MAX_REPLICATES}")
    if not integer(seed) or not 0 <= seed <= MAX_SEED:
        raise UserInputError(f"seed={seed!r} (--seed): give an integer from 0 to {MAX_SEED}")
    if not integer(chunk_patients) or not 1 <= chunk_patients <= MAX_CHUNK_PATIENTS:
        raise UserInputError(f"chunk_patients={chunk_patients!r}: give 1 to {MAX_CHUNK_PATIENTS} virtual patients "
                             "per simulation task")
    if not (isinstance(progress, bool) or callable(progress)):
        raise UserInputError(f"progress={progress!r}: give True/False, or a callable progress(done, total, stage)")


def run_trial(design: TrialDesign, replicates: int = 200, seed: int = 0, *, scheduler: str | None = None,
              workers: int = 1, security=None, progress: bool | Callable[[int, int, str], None] = False,
              out: str | Path | None = None, overwrite: bool = False,
              chunk_patients: int = CHUNK_PATIENTS) -> TrialResult:
    """Simulate the virtual population and the arms once, then ``replicates`` trials.

    Arguments
    ---------
    design : a validated :class:`TrialDesign` (``load_trial`` reads one from YAML).
    replicates : number of replicate trials drawn from the eligible pool.
    seed : seeds the population, the acceptance–rejection draws and every replicate.
    scheduler, workers, security : where the simulations and replicate analyses run
        (:func:`nephrosim.trials.execute.open_executor`: ``None`` = this process,
        ``"local"`` = a Dask cluster on 127.0.0.1, or a scheduler's address). The result
        is identical for a seed whichever is used.
    progress : ``True`` shows a progress bar per stage; a callable is called as
        ``progress(done, total, stage)`` (module docstring); ``False``: silent.
    out : an output folder that makes the run resumable (:mod:`nephrosim.trials.checkpoint`):
        finished chunks are kept there, a rerun with the same spec and seed continues from
        them, and ``summary.json`` and ``replicates.csv`` are written at the end. A folder
        of another spec, seed or chunk size is refused unless ``overwrite``.
    overwrite : discard the finished chunks of a different run in ``out``.
    chunk_patients : virtual patients per simulation task (the unit of resumption and of
        distribution); recorded in ``out``'s manifest.

    Returns
    -------
    :class:`TrialResult`; ``to_dict()`` holds ``power``, ``hazard_ratio`` {median, lo, hi},
    ``median_recovery_days`` {arm: days} and the population's target table.
    """
    _check_arguments(replicates, seed, chunk_patients, progress)
    if overwrite and out is None:
        raise UserInputError("overwrite (--overwrite) discards the chunks of an output folder; give the folder with "
                             "out (--out DIR), or drop overwrite")
    replicates, seed, chunk = int(replicates), int(seed), int(chunk_patients)
    need = sum(a.n for a in design.arms)
    with contextlib.ExitStack() as stack:
        folder = None
        if out is not None:
            # the batch engine's thread count changes no result (engine/batch/simulator.py): a run may
            # resume with another
            spec = design.model_dump(mode="json", exclude={"solver": {"threads"}})
            folder = stack.enter_context(open_trial_folder(out, spec, seed, chunk, overwrite))
        executor = stack.enter_context(open_executor(scheduler, workers, security))
        report = None
        if progress is True:
            report = StageBars()
            stack.callback(report.close)
        elif callable(progress):
            report = progress

        n_chunks = chunks_of(design.virtual_patients, chunk)
        store = folder.store("population", n_chunks) if folder else None
        stage = _Stage(report, "population", n_chunks, store.done() if store else 0)
        pop = build_population(design.population, design.virtual_patients, seed, executor, stage.advance,
                               solver=design.solver, chunk=chunk, store=store, times_h=design.output_times_h)
        stage.finish()

        pool, entry = eligible_pool(design, pop, seed)
        plans = {}
        for k, arm in enumerate(design.arms):
            if arm.treatment is not None:
                groups, rows_of = treated_groups(arm.treatment, arm.timing, pop, pool, entry)
                count = sum(chunks_of(rows.size, chunk) for rows in rows_of)
                plans[arm.name] = (groups, rows_of, folder.store(f"arm{k}", count) if folder else None, count)
        stage = _Stage(report, "treated arms", sum(p[3] for p in plans.values()),
                       sum(p[2].done() for p in plans.values()) if folder else 0)
        scr_by_arm, surv_by_arm = {}, {}
        for arm in design.arms:
            if arm.treatment is None:
                scr_by_arm[arm.name], surv_by_arm[arm.name] = pop.scr[pool], pop.survival[pool]
            else:
                groups, rows_of, arm_store, _ = plans[arm.name]
                scr_by_arm[arm.name], surv_by_arm[arm.name] = assemble_groups(
                    pool.size, rows_of, simulate_groups(groups, executor, stage.advance, chunk=chunk, store=arm_store),
                    pop.times_h.size)
        stage.finish()
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
        entry = entry[usable]
        baseline = pop.scr[pool, 0]
        # measurement noise (endpoints.measurement) of arm k from default_rng([seed, 5, k + 1]) (no trailing
        # zero: numpy seeds [s, 5] and [s, 5, 0] alike), one independent draw per replicate
        arm_out = {a.name: outcomes(pop.times_h, scr_by_arm[a.name][usable], surv_by_arm[a.name][usable], entry,
                                    baseline, design.endpoints, np.random.default_rng([seed, 5, k + 1]),
                                    realizations=replicates)
                   for k, a in enumerate(design.arms)}
        bounds = [(s, min(s + CHUNK_REPLICATES, replicates)) for s in range(0, replicates, CHUNK_REPLICATES)]
        sizes = tuple(a.n for a in design.arms)
        dropout = (design.endpoints.dropout.probability, design.endpoints.horizon_days)
        looks = None if design.interim is None else (design.endpoints.primary, design.interim.information)
        trend = None if design.trend is None else (design.endpoints.primary, design.trend_scores)
        mcp_task = design.mcp_task()
        modelling = design.mcp_modelling()
        subgroups = None
        if design.subgroups:
            member = np.column_stack([subgroup_cut(cov).split(pop.covariates[cov][pool])[0]
                                      for cov in design.subgroups])
            subgroups = (tuple(design.subgroups), member)
        tasks = [(seed, s, e, sizes, tuple(arm_out[a.name] for a in design.arms), dropout, looks, trend, mcp_task,
                  modelling, subgroups) for s, e in bounds]
        rep_store = folder.replicate_store(bounds) if folder else None
        stage = _Stage(report, "replicates", len(tasks), rep_store.done() if rep_store else 0)
        if rep_store is None:
            chunks = collect(executor, _replicate_task, tasks, stage.advance)
        else:
            chunks = rep_store.collect(executor, _replicate_task, tasks, stage.advance)
        reps = [r for chunk_reps in chunks for r in chunk_reps]
        stage.finish()

        summary = _summary(design, reps, pop, pool, failed_treated)
        result = TrialResult(design, seed, summary, pop, pool, arm_out, reps)
        if folder is not None:
            folder.write_results(result.to_dict(), reps)
            result.out = folder.root
    return result


def group_sequential(design: TrialDesign, reps: list[dict]) -> dict:
    """The group-sequential reading of a two-arm trial's replicates (:mod:`nephrosim.trials.sequential`):
    the primary p at each interim look and on every patient, against the spending function's boundaries.
    The summary's ``power`` stays that of one analysis of every patient at ``alpha``."""
    from nephrosim.trials.analysis import primary_p
    from nephrosim.trials.sequential import sequential_summary

    looks = design.interim.information
    final = primary_p({key: np.array([r[key] for r in reps], float) for key in reps[0]}, design.endpoints.primary)
    p = np.column_stack([np.array([r[f"p_interim_{k}"] for r in reps], float) for k in range(1, len(looks) + 1)]
                        + [final])
    favours = np.column_stack([np.array([bool(r[f"favours_interim_{k}"]) for r in reps])
                               for k in range(1, len(looks) + 1)] + [np.zeros(len(reps), bool)])
    interim = design.interim
    return sequential_summary(p, (*looks, 1.0), [a.n for a in design.arms], design.alpha, interim.spending,
                              favours, interim.futility_z, interim.spending_gamma, interim.futility_rule,
                              _calendar(design))


def _calendar(design: TrialDesign) -> tuple[np.ndarray, np.ndarray] | None:
    """``(months[look], enrolled[look, arm])`` of the design's looks and final analysis under its accrual."""
    if design.accrual is None:
        return None
    looks = (*design.interim.information, 1.0) if design.interim is not None else (1.0,)
    months, enrolled, _ = design.accrual.calendar([a.n for a in design.arms], looks, design.endpoints.horizon_days)
    return months, enrolled


def accrual_summary(design: TrialDesign) -> dict:
    """The trial in calendar time (:class:`~nephrosim.trials.design.Accrual`): enrolment period, follow-up and
    the planned duration (the last patient's follow-up completed)."""
    months, _, period = design.accrual.calendar([a.n for a in design.arms], (1.0,), design.endpoints.horizon_days)
    return {"patients_per_month": design.accrual.patients_per_month, "enrolment_months": round(period, 2),
            "follow_up_days": design.endpoints.horizon_days, "planned_duration_months": round(float(months[-1]), 2)}


def arm_dropping_summary(design: TrialDesign, reps: list[dict]) -> dict:
    """The arm-dropping reading of a trial of three or more arms (:func:`nephrosim.trials.sequential.arm_dropping`):
    each treated arm's primary p at each interim look and on every patient, the arms below
    ``interim.futility_z`` (or the beta-spending boundaries of ``interim.futility_beta``) at a look dropped.
    Per-arm entries are keyed by arm name."""
    from nephrosim.trials.analysis import comparison_replicates, primary_p
    from nephrosim.trials.sequential import arm_dropping

    names = [a.name for a in design.arms]
    looks = range(1, len(design.interim.information) + 1)
    parts = [comparison_replicates(reps, k, len(names)) for k in range(1, len(names))]
    p_final = np.vstack([primary_p({key: np.array([r[key] for r in part], float) for key in part[0]},
                                   design.endpoints.primary) for part in parts])
    p_looks = np.stack([np.column_stack([[r[f"p_interim_{j}"] for r in part] for j in looks]) for part in parts])
    favours = np.stack([np.column_stack([[bool(r[f"favours_interim_{j}"]) for r in part] for j in looks])
                        for part in parts])
    bounds = design.interim.arm_futility(design.alpha, len(names) - 1)
    out = arm_dropping(p_final, p_looks, favours, design.interim.information, [a.n for a in design.arms],
                       design.alpha, design.multiplicity,
                       design.interim.futility_z if design.interim.futility_z is not None else bounds,
                       _calendar(design))
    if design.interim.futility_beta is not None:
        f = design.interim.futility_beta
        out.update(futility_beta=f.beta, futility_spending=f.spending)
    treated = names[1:]
    for key in ("power_adjusted", "dropped_share", "dropped_at_look"):
        out[key] = dict(zip(treated, out[key]))
    out["expected_n_per_arm"] = dict(zip(names, out["expected_n_per_arm"]))
    if "expected_enrolled_per_arm" in out:
        out["expected_enrolled_per_arm"] = dict(zip(names, out["expected_enrolled_per_arm"]))
    out["multiplicity"] = design.multiplicity
    return out


def subgroups_summary(design: TrialDesign, reps: list[dict], pop: VirtualPopulation, pool: np.ndarray) -> dict:
    """The pre-specified subgroups over the replicates (:mod:`nephrosim.trials.subgroups`), per covariate and
    treated arm: each subgroup's label and patients in the pool, its hazard ratio of recovery (median and
    2.5/97.5 % quantiles over replicates), and the interaction test's power (the share of replicates with
    p < alpha; for a covariate the model does not use, its false-positive rate)."""
    names = [a.name for a in design.arms]
    out = {}
    for cov in design.subgroups:
        cut = subgroup_cut(cov)
        member, labels, text = cut.split(pop.covariates[cov][pool])
        per_arm = {}
        for k in range(1, len(names)):
            def col(key, k=k):
                name = f"sub_{cov}_{key}"
                return np.array([r[name if len(names) == 2 else comparison_column(k, name)] for r in reps], float)
            p = col("p_interaction")
            per_arm[names[k]] = {
                labels[0]: quantiles(col("hr_first")), labels[1]: quantiles(col("hr_second")),
                "interaction_power": round(float(np.mean(np.nan_to_num(p, nan=1.0) < design.alpha)), 4),
                "not_testable": int((~np.isfinite(p)).sum())}
        out[cov] = {"cut": text, "subgroups": list(labels),
                    "pool_patients": {labels[0]: int(member.sum()), labels[1]: int((~member).sum())},
                    "by_arm": per_arm}
    return out


def mcp_summary(design: TrialDesign, reps: list[dict]) -> dict:
    """The MCP-Mod reading of the replicates: the share whose contrast test is significant (``power``: the
    largest statistic reaches the critical value of the planned contrasts, or — with each trial's own
    covariance — the smallest multiplicity-adjusted p is at most one-sided alpha), the share in which each
    shape gives that largest significant statistic, and each statistic's median (:mod:`nephrosim.trials.mcpmod`).
    ``contrasts`` and ``critical_value`` are the planned ones (``critical_value`` is None when each trial uses
    its own)."""
    contrasts, q = design.mcp_contrasts()
    labels = [m.label for m in design.mcp_mod.shapes]
    t = np.array([[r[f"mcp_t_{m}"] for m in range(1, len(labels) + 1)] for r in reps], float)
    testable = np.isfinite(t).all(axis=1)
    filled = np.where(np.isfinite(t), t, -np.inf)
    best = np.where(testable, filled.argmax(axis=1), -1)
    on = design.mcp_mod.endpoint
    alpha = design.alpha / 2
    own = design.mcp_mod.estimated_covariance
    if own:  # each trial's own contrasts: the largest statistic has the smallest adjusted p
        p = np.array([[r[f"mcp_p_{m}"] for m in range(1, len(labels) + 1)] for r in reps], float)
        significant = testable & (np.nan_to_num(p, nan=1.0).min(axis=1) <= alpha)
        rule = (f"smallest multiplicity-adjusted p <= {alpha:g}, each trial's contrasts and p-values from its own "
                f"{'Cox' if on == 'recovery' else 'logistic'} covariance (DoseFinding's MCTtest)")
    else:
        significant = testable & (filled.max(axis=1) >= q)
        rule = f"largest contrast statistic >= {q:.4g}, the critical value of the planned contrasts"
    return {
        "endpoint": {
            "recovery": "time to recovery (generalized MCP-Mod: the contrasts test the treated arms' Cox log hazard "
                        "ratios of recovery against the control; positive = recovery sooner with the dose)",
            "scr_auc": "SCr AUC (the contrasts test -AUC: positive = lower AUC with the dose)"}.get(
                on, f"{on.upper()} (generalized MCP-Mod: the contrasts test the treated arms' log odds ratios of "
                    f"{on.upper()} against the control, sign flipped: positive = fewer events with the dose)"),
        "contrasts_on": design.mcp_mod.endpoint,
        "doses": dict(zip([a.name for a in design.arms], design.mcp_mod.doses)),
        "shapes": labels,
        "contrasts": {label: [round(float(c), 4) for c in row] for label, row in zip(labels, contrasts)},
        "covariance": "estimated" if own else ("planned" if on != "scr_auc" else "pooled within-arm variance"),
        "rule": rule,
        "critical_value": None if own else round(q, 4),
        "alpha_one_sided": alpha,
        "power": round(float(significant.mean()), 4),
        "significant_by_shape": {label: round(float(np.mean(significant & (best == m))), 4)
                                 for m, label in enumerate(labels)},
        "t_median": {label: (round(float(np.nanmedian(t[:, m])), 4) if np.isfinite(t[:, m]).any() else None)
                     for m, label in enumerate(labels)},
        "not_testable": int((~testable).sum()),
        **({} if design.mcp_mod.target_effect is None else {"modelling": modelling_summary(design, reps)}),
    }


def modelling_summary(design: TrialDesign, reps: list[dict]) -> dict:
    """MCP-Mod's second step over the replicates (:func:`nephrosim.trials.mcpmod.model_step`, or
    :func:`~nephrosim.trials.mcpmod.model_step_estimates` on recovery): the share of all replicates in which
    (g)AIC selects each shape (a replicate whose contrast test is not significant selects none), the share
    with an estimated target dose, its median and 2.5/97.5 % quantiles over those replicates, the share of
    significant replicates whose fitted curve does not reach Δ within the doses studied, and — to read Δ
    against — each treated arm's effect over the replicates: the mean SCr AUC reduction from the control
    (``scr_auc``), the median log hazard ratio of recovery against it (``recovery``), or the median log odds
    ratio of avoiding MAKE (``make30``, ``make90``: logit of the control's event share minus the arm's)."""
    labels = [m.label for m in design.mcp_mod.shapes]
    shape = np.array([r["mod_shape"] for r in reps], int)
    dose = np.array([r["mod_target_dose"] for r in reps], float)
    estimated = np.isfinite(dose)
    names = [a.name for a in design.arms]
    on = design.mcp_mod.endpoint

    def column(k: int, key: str) -> str:
        return key if len(names) == 2 else comparison_column(k, key)

    def effect(k: int) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):
            if on == "recovery":
                return round(float(np.nanmedian(np.log([r[column(k, "hr")] for r in reps]))), 4)
            if on in ("make30", "make90"):
                key = "make" if on == "make30" else "make90"
                c, t = (np.array([r[column(k, f"{key}_{side}")] for r in reps], float)
                        for side in ("control", "treatment"))
                return round(float(np.nanmedian(np.log(c / (1 - c)) - np.log(t / (1 - t)))), 4)
        return round(float(np.nanmean([r[column(k, "auc_control")] - r[column(k, "auc_treatment")] for r in reps])), 4)

    return {
        "target_effect": design.mcp_mod.target_effect,
        "scale": {"recovery": "log hazard ratio of recovery against the control (positive: sooner)",
                  "scr_auc": "SCr AUC reduction from the control, mg/dL·day"}.get(
                      on, f"log odds ratio of {on.upper()}, control over arm (positive: fewer events)"),
        "selection": (("gAIC" if on != "scr_auc" else "AIC")
                      + (" weights (exp(-AIC/2); the target dose is the weighted mean of the shapes' target doses, "
                         "and selected_by_shape counts the shape with the largest weight)"
                         if design.mcp_mod.selection == "ave_aic" else "")
                      + " among the shapes whose contrast is significant "
                      + ("(placebo-adjusted models, generalized least squares)" if on != "scr_auc"
                         else "(DoseFinding's full models)")),
        "selected_by_shape": {label: round(float(np.mean(shape == m)), 4) for m, label in enumerate(labels, 1)},
        "target_dose_estimated": round(float(estimated.mean()), 4),
        "target_dose": ({"median": float(np.median(dose[estimated])), "lo": float(np.quantile(dose[estimated], 0.025)),
                         "hi": float(np.quantile(dose[estimated], 0.975))} if estimated.any() else None),
        "not_reached_when_significant": (round(float(np.mean(~estimated[shape > 0])), 4) if (shape > 0).any()
                                         else None),
        "effect_by_arm": {names[k]: effect(k) for k in range(1, len(names))},
    }


def trend_summary(design: TrialDesign, reps: list[dict]) -> dict:
    """The test for trend over the replicates: its power (share with p < alpha), the share significant
    in the direction of benefit with the score, and the median z."""
    z = np.array([r["z_trend"] for r in reps], float)
    p = np.array([r["p_trend"] for r in reps], float)
    hit = np.nan_to_num(p, nan=1.0) < design.alpha
    test = {"recovery": "log-rank test for trend", "scr_auc": "Kendall's tau-b (Jonckheere-Terpstra ordering)",
            "make30": "linear-by-linear (Cochran-Armitage) test", "make90": "linear-by-linear (Cochran-Armitage) test"}
    return {"test": test[design.endpoints.primary], "scores": dict(zip((a.name for a in design.arms),
                                                                        design.trend_scores)),
            "power": round(float(hit.mean()), 4), "power_favouring_the_score": round(float((hit & (z > 0)).mean()), 4),
            "z_median": round(float(np.nanmedian(z)), 4) if np.isfinite(z).any() else None,
            "not_testable": int((~np.isfinite(p)).sum())}


def _summary(design: TrialDesign, reps: list[dict], pop: VirtualPopulation, pool: np.ndarray,
             failed_treated: int) -> dict:
    summary = summarise_trial(reps, [a.name for a in design.arms], design.alpha, design.endpoints.primary,
                              design.multiplicity, [a.n for a in design.arms])
    if design.interim is not None and len(design.arms) > 2:
        summary["arm_dropping"] = arm_dropping_summary(design, reps)
    elif design.interim is not None:
        summary["group_sequential"] = group_sequential(design, reps)
    if design.accrual is not None:
        summary["accrual"] = accrual_summary(design)
    if design.subgroups:
        summary["subgroups"] = subgroups_summary(design, reps, pop, pool)
    if design.trend is not None:
        summary["trend"] = trend_summary(design, reps)
    if design.mcp_mod is not None:
        summary["mcp_mod"] = mcp_summary(design, reps)
    summary.update({
        "primary_endpoint": primary_text(design),
        "n_per_arm": {a.name: a.n for a in design.arms},
        "notes": [
            "dialysis_30d is a probability of 2.3/2.7 at peak KDIGO SCr stage 3 (derived from Hu 2016: RRT 2.3 %, "
            "stage 3 2.7 % after cardiac surgery), else 0 — the model has no dialysis indication; its causal use is "
            "assumed. make30 = death by stage, dialysis or SCr at day 30 (the horizon if shorter) >= "
            f"{design.endpoints.persistent_dysfunction_ratio:g} x baseline (SMART's threshold, assumed for cardiac "
            "surgery), components independent given the SCr course (assumed); " + (
                "make90 = death by 90 days by stage (Helsinki RIFLE cohort, PMID 16427848; no AKI: Pickering 2015), "
                "dialysis, or SCr at day 90 over the same threshold. The 30- and 90-day mortality tables come from "
                "different cohorts (stage 3: 59.7 % by 30 d, 32.5 % by 90 d), so compare arms within one endpoint"
                if design.endpoints.horizon_days >= 90 else "MAKE90 needs horizon_days: 90"),
            "death_by_horizon uses the model's survival state (uraemic hazard only; no cardiac/surgical mortality)",
            "death_by_stage_30d maps each patient's peak KDIGO SCr stage to Marco 2022's hospital mortality by "
            "stage (2.0/4.3/23.9/59.7 %, doi:10.21470/1678-9741-2022-0108); its causal use is assumed",
            f"replicates resample one eligible pool of {pool.size} patients, each simulated once per arm",
        ],
        "population": {
            "plausible_patients": pop.plausible, "accepted_patients": pop.size, "failed_simulations": pop.failed,
            "eligible_pool": int(pool.size), "failed_treated_simulations": failed_treated,
            "missing_categories": list(pop.missing_categories), "targets": pop.summary(),
        },
    })
    return summary
