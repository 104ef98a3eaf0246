"""Virtual adults undergoing cardiac surgery on cardiopulmonary bypass.

A virtual population is built in three steps (Allen, Rieger & Musante 2016, CPT
Pharmacometrics Syst Pharmacol 5:140, "Efficient generation and selection of virtual
populations in quantitative systems pharmacology models"):

1. **Plausible patients.** Covariates and between-patient variability factors are drawn
   from the distributions of :class:`PopulationSpec` (sources below; ``assumed`` where
   no source gave a distribution) and mapped to the model's parameters.
2. **Simulation.** Every plausible patient is simulated once, untreated, with the
   ``cardiac_surgery`` injury model (time 0 = end of bypass).
3. **Acceptance–rejection.** Each patient falls in one category of KDIGO stage (none,
   1, 2, 3) × onset (≤ 48 h, later). A patient of category ``c`` is accepted with
   probability ``p_c = (π_c / q_c) / max_k(π_k / q_k)``, where ``π`` are the target
   shares (:data:`TARGETS`) and ``q`` the plausible population's shares — Allen 2016's
   acceptance rule applied to a categorical observable. The accepted patients reproduce
   the target incidence, stage mix and early-onset share in expectation; a category the
   plausible population never produces cannot be reached and is reported as a miss.

Covariate sources (``clinical.md`` §3 and the ``EPI:`` rows of ``clinical_trials.csv``):

* baseline eGFR — a mixture over the Italian isolated-CABG all-comer groups, "Group 1
  (>=60ml/min/1.73m2; n=1199), Group 2 (45-59ml/min/1.73m2; n=358), Group 3
  (30-44ml/min/1.73m2; n=171) and Group 4 (<=29ml/min/1.73m2; n=126)" (PMID 27843046;
  shares 64.7/19.3/9.2/6.8 % computed). Uniform within each group; the open ends
  (60–110 and 15–29) are ``assumed`` (Barcelona medians 85 and 73 lie inside 60–110).
* bypass time — no distribution in the evidence: log-normal, median 100 min, log-SD 0.35
  (``assumed``; about 55–180 min between the 5th and 95th centiles).
* body weight — normal 80 ± 15 kg, truncated 45–140 kg (``assumed``). It sets the
  creatinine production, distribution volume and per-kg doses.
* age — normal 66 ± 10 years, truncated 21–90 (``assumed``; ACT-AKI enrolled age ≥ 21).
  Recorded only: the model has no age dependence beyond the eGFR it is given.
* sex — 70 % male (``assumed``). Recorded only: the model describes males
  (``Scenario.sex`` refuses ``female``), so sex changes no parameter.
* injury severity — a log-normal factor on ``cpb_stress_max`` (log-SD 0.7, ``assumed``),
  susceptibility to bypass time — on ``cpb_t50_min`` (log-SD 0.25, ``assumed``), and
  repair — one factor on ``k_tub_recovery`` and ``k_tub_redif`` (log-SD 0.5, ``assumed``),
  and the fluid load of bypass — a factor on ``cpb_fluid_excess`` (log-SD 0.5, ``assumed``; Ho
  2012 saw SCr fall > 10 % in 52 % of patients and rise > 10 % in 7.4 % at 6 h: a spread).

The typical values these factors multiply (``cpb_stress_max``, ``cpb_t50_min``), the other bypass
constants and the adult time scale of the injury core (``allometric_exponent`` and
``repair_allometric_exponent``, human rows) are fitted to the incidence, stage mix, onset and
duration of AKI after cardiac surgery on this plausible population
(:mod:`nephrosim.calibration.population`); the ACT-AKI placebo arm is held out of that fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
from pydantic import Field

from nephrosim.engine.simulator import SolverOptions
from nephrosim.inputs import StrictModel
from nephrosim.run.simulation import ArmProgram, compile_scenario, solver_options
from nephrosim.scenarios.schema import Scenario, scenario_from_dict

#: Spacing of the output grid (h): every endpoint (KDIGO stages, diagnosis, recovery, AUC) is read on it.
GRID_H = 6.0


def output_times_h(end_h: float) -> np.ndarray:
    """The output grid, hours after the end of bypass: every :data:`GRID_H` h from 0 to ``end_h``
    (rounded up onto the grid)."""
    return np.arange(0.0, np.ceil(float(end_h) / GRID_H - 1e-9) * GRID_H + 1e-9, GRID_H)


#: The default output grid: 32 days (diagnosis within 48 h plus 30 days of follow-up after it). A
#: trial with a longer follow-up simulates on a longer grid (:attr:`TrialDesign.output_times_h`).
TIMES_H = output_times_h(768.0)
#: KDIGO SCr criteria are applied to the first 7 days.
KDIGO_WINDOW_H = 168.0
EARLY_ONSET_H = 48.0

READOUTS = ("serum_creatinine", "survival")


@dataclass(frozen=True)
class Target:
    """A literature target for the virtual population: value, reported range and source."""

    name: str
    value: float
    low: float
    high: float
    unit: str
    source: str


#: Targets the acceptance–rejection step aims at, or that are checked after it.
TARGETS: tuple[Target, ...] = (
    Target("aki_incidence", 22.3, 14.0, 51.2, "%",
           "Hu 2016 pooled 22.3 % (95 % CI 19.8-25.1); single cohorts 14 % (Ho 2012, KDIGO) to 51.2 % "
           "(Li 2022, KDIGO within 7 d)"),
    Target("stage1_share_of_aki", 68.0, 60.0, 75.0, "%",
           "Hu 2016: '13.6%, 3.8%, and 2.7% at stages 1, 2, and 3' (shares of staged AKI computed in "
           "clinical.md); range assumed"),
    Target("stage2_share_of_aki", 19.0, 12.0, 26.0, "%", "Hu 2016 (as above); range assumed"),
    Target("stage3_share_of_aki", 13.0, 7.0, 19.0, "%", "Hu 2016 (as above); range assumed"),
    Target("early_onset_share_of_aki", 82.0, 75.0, 90.0, "%",
           "Li 2022: 'incidence of early and late AKI was 41.9% and 9.2%' (82 % computed); range assumed"),
    Target("onset_peak_h", 42.0, 36.0, 48.0, "h",
           "Li 2022: 'with the peak occurrence at 36-48 h' — checked, not targeted (modal 12-h bin)"),
)
TARGET = {t.name: t for t in TARGETS}

#: Target shares of the acceptance categories: none, then stage 1-3 × (early, late).
def _category_targets() -> np.ndarray:
    aki = TARGET["aki_incidence"].value / 100.0
    stages = np.array([TARGET[f"stage{s}_share_of_aki"].value for s in (1, 2, 3)]) / 100.0
    stages = stages / stages.sum()
    early = TARGET["early_onset_share_of_aki"].value / 100.0
    out = [1.0 - aki]
    for s in stages:
        out += [aki * s * early, aki * s * (1.0 - early)]
    return np.asarray(out)


CATEGORY_NAMES = ("no_aki", "s1_early", "s1_late", "s2_early", "s2_late", "s3_early", "s3_late")

#: eGFR groups of the Italian all-comer CABG cohort (PMID 27843046): n per group.
EGFR_GROUPS = ((60.0, 110.0, 1199), (45.0, 60.0, 358), (30.0, 45.0, 171), (15.0, 30.0, 126))


class LogNormal(StrictModel):
    """A log-normal distribution: ``median`` and ``sdlog`` (SD of the natural log)."""

    median: float = Field(gt=0.0)
    sdlog: float = Field(ge=0.0, le=3.0)


class TruncNormal(StrictModel):
    """A normal distribution truncated to [lo, hi] (redrawn outside)."""

    mean: float
    sd: float = Field(ge=0.0)
    lo: float
    hi: float


class PopulationSpec(StrictModel):
    """Covariate distributions and variability widths (defaults: sources in the module docstring)."""

    bypass_min: LogNormal = LogNormal(median=100.0, sdlog=0.35)
    weight_kg: TruncNormal = TruncNormal(mean=80.0, sd=15.0, lo=45.0, hi=140.0)
    age_years: TruncNormal = TruncNormal(mean=66.0, sd=10.0, lo=21.0, hi=90.0)
    male_share: float = Field(0.7, ge=0.0, le=1.0)
    severity_sdlog: float = Field(0.7, ge=0.0, le=3.0, description="log-SD of the factor on cpb_stress_max")
    susceptibility_sdlog: float = Field(0.25, ge=0.0, le=3.0, description="log-SD of the factor on cpb_t50_min")
    repair_sdlog: float = Field(0.5, ge=0.0, le=3.0, description="log-SD of the factor on k_tub_recovery/redif")
    fluid_sdlog: float = Field(0.5, ge=0.0, le=3.0,
                               description="log-SD of the factor on cpb_fluid_excess (haemodilution; assumed)")
    acceptance_rejection: bool = Field(True, description="false: keep every plausible patient")


def population_scenario(treatments: tuple = (), name: str = "virtual_cardiac_surgery",
                        solver: SolverOptions | None = None, times_h: np.ndarray | None = None) -> Scenario:
    """The one-arm scenario every virtual patient is simulated with (parameters set per patient).

    ``solver`` (default: the scenario default, libRoadRunner) picks the engine and its
    tolerances, e.g. ``SolverOptions(engine="batch")``; ``times_h`` the output grid (default
    :data:`TIMES_H`).
    """
    data = {
        "name": name, "species": "human", "body_weight_g": 80000.0,
        "injury": {"model": "cardiac_surgery", "bypass_min": 100.0, "baseline_egfr": 90.0},
        "arms": [{"name": "arm", "treatments": [t.model_dump() for t in treatments]}],
        "readouts": list(READOUTS), "times_h": [float(t) for t in (TIMES_H if times_h is None else times_h)],
    }
    if solver is not None:
        data["solver"] = solver.model_dump()
    return scenario_from_dict(data)


_COMPILED: dict[str, tuple[ArmProgram, object]] = {}
#: set on Dask workers (:func:`nephrosim.trials.execute._one_thread_per_worker`): batch-engine calls
#: whose scenario leaves ``solver.threads`` unset use one thread, not every core
ONE_THREAD_PER_CALL = False
_POPULATIONS: dict[tuple, "VirtualPopulation"] = {}
_CACHE_SIZE = 16


def compiled(scenario: Scenario):
    """``(ArmProgram, Simulator)`` of a one-arm scenario, compiled once per process.

    Compiling a treated arm costs seconds (libRoadRunner's LLVM build); trials reuse the
    same few arms many times. Every caller sets the same parameter ids on every run, so a
    reused simulator carries no state from one patient to the next.
    """
    key = scenario.model_dump_json()
    if key not in _COMPILED:
        if len(_COMPILED) >= _CACHE_SIZE:
            _COMPILED.pop(next(iter(_COMPILED)))
        program = compile_scenario(scenario)[0]
        options = solver_options(scenario, "final")
        if ONE_THREAD_PER_CALL and options.threads is None:
            options = options.model_copy(update={"threads": 1})
        _COMPILED[key] = (program, program.simulator(options))
    return _COMPILED[key]


def compiled_parameters(scenario: Scenario) -> dict[str, float]:
    """Nominal SBML parameter values of a one-arm scenario (assembled, not compiled)."""
    from nephrosim.run.assemble import build_model

    return dict(build_model(scenario, scenario.arms[0].name).parameter_values)


def _trunc_normal(d: TruncNormal, n: int, rng: np.random.Generator) -> np.ndarray:
    if d.lo >= d.hi:
        raise ValueError(f"truncation bounds lo={d.lo} >= hi={d.hi}")
    x = rng.normal(d.mean, d.sd, n)
    for _ in range(1000):
        bad = (x < d.lo) | (x > d.hi)
        if not bad.any():
            return x
        x[bad] = rng.normal(d.mean, d.sd, int(bad.sum()))
    return np.clip(x, d.lo, d.hi)


def draw_covariates(spec: PopulationSpec, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``n`` plausible patients: covariates and variability factors (one array each)."""
    shares = np.array([g[2] for g in EGFR_GROUPS], dtype=float)
    group = rng.choice(len(EGFR_GROUPS), size=n, p=shares / shares.sum())
    lo = np.array([EGFR_GROUPS[g][0] for g in group])
    hi = np.array([EGFR_GROUPS[g][1] for g in group])
    return {
        "age_years": _trunc_normal(spec.age_years, n, rng),
        "male": rng.random(n) < spec.male_share,
        "weight_kg": _trunc_normal(spec.weight_kg, n, rng),
        "baseline_egfr": lo + (hi - lo) * rng.random(n),
        "bypass_min": np.minimum(600.0, spec.bypass_min.median * np.exp(spec.bypass_min.sdlog * rng.normal(size=n))),
        "severity": np.exp(spec.severity_sdlog * rng.normal(size=n)),
        "susceptibility": np.exp(spec.susceptibility_sdlog * rng.normal(size=n)),
        "repair": np.exp(spec.repair_sdlog * rng.normal(size=n)),
        # drawn last, so the covariates above are those drawn before the fluid load was modelled
        "fluid": np.exp(spec.fluid_sdlog * rng.normal(size=n)),
    }


def parameter_matrix(cov: Mapping[str, np.ndarray], nominal: Mapping[str, float]) -> tuple[list[str], np.ndarray]:
    """Covariates → SBML parameter values (``nominal`` = the compiled arm's values)."""
    cols = {
        "cpb_bypass_min": cov["bypass_min"],
        "baseline_kidney_function": cov["baseline_egfr"] / 100.0,  # as the cardiac_surgery builder does
        "body_weight_kg": cov["weight_kg"],
        "cpb_stress_max": nominal["cpb_stress_max"] * cov["severity"],
        "cpb_t50_min": nominal["cpb_t50_min"] * cov["susceptibility"],
        "k_tub_recovery": nominal["k_tub_recovery"] * cov["repair"],
        "k_tub_redif": nominal["k_tub_redif"] * cov["repair"],
        "cpb_fluid_excess": nominal["cpb_fluid_excess"] * cov["fluid"],
    }
    return list(cols), np.column_stack(list(cols.values()))


def kdigo(times_h: np.ndarray, scr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """KDIGO SCr stage (0-3) within 7 days and onset time (h; NaN without AKI) per row of ``scr``.

    AKI = a rise ≥ 0.3 mg/dL within any 48 h, or SCr ≥ 1.5 × baseline (time-0 value) within
    7 days. Stage 2: ≥ 2 ×; stage 3: ≥ 3 × baseline or SCr ≥ 4.0 mg/dL. Urine output and
    dialysis criteria are not modelled.

    The 48-h rise is measured from the lowest value of the 48 h before, but never from below the
    pre-operative value: after bypass SCr first *falls* by dilution (Ho 2012, PMID 21967775: > 10 %
    in 52 % of patients within 6 h), and a rise back from that nadir is the fluid leaving, not
    kidney injury. Surgical AKI cohorts measure "postoperative changes from preoperative baseline
    creatinine" ("Minor Postoperative Increases of Creatinine ...", Anesthesiology 2015;
    123(6):1301), as ACT-AKI's entry rule does. Without a dip below baseline this is the
    rolling-minimum rule unchanged.
    """
    in7 = times_h <= KDIGO_WINDOW_H + 1e-9
    t, s = times_h[in7], scr[:, in7]
    base = scr[:, :1]
    crit = stage1_criteria(t, s)
    aki = crit.any(axis=1)
    onset = np.where(aki, t[np.argmax(crit, axis=1)], np.nan)
    ratio = s.max(axis=1) / base[:, 0]
    stage = np.where(~aki, 0, np.where((ratio >= 3.0) | (s.max(axis=1) >= 4.0), 3, np.where(ratio >= 2.0, 2, 1)))
    return stage.astype(int), onset


def stage1_criteria(times_h: np.ndarray, scr: np.ndarray) -> np.ndarray:
    """Whether KDIGO's SCr criteria for (at least) stage 1 hold at each output time, per row of ``scr``:
    a rise ≥ 0.3 mg/dL over the lowest value of the 48 h before (never measured from below the
    pre-operative value, see :func:`kdigo`), or SCr ≥ 1.5 × the pre-operative (time-0) value."""
    base = scr[:, :1]
    lag = int(round(48.0 / (times_h[1] - times_h[0])))
    rolling_min = np.stack([scr[:, max(0, j - lag): j + 1].min(axis=1) for j in range(times_h.size)], axis=1)
    reference = np.maximum(rolling_min, base)
    return ((scr - reference) >= 0.3 - 1e-12) | (scr >= 1.5 * base)


def categories(stage: np.ndarray, onset: np.ndarray) -> np.ndarray:
    """Index into :data:`CATEGORY_NAMES`."""
    late = np.nan_to_num(onset, nan=0.0) > EARLY_ONSET_H
    return np.where(stage == 0, 0, 2 * stage - 1 + late.astype(int))


#: A category with fewer plausible patients than this does not set the acceptance scale (below).
#: Assumed (a method setting, not biology): below about ten patients a share is estimated too poorly to
#: reweight a whole population by it; 5-20 are defensible, and the count is reported, not hidden.
MIN_CATEGORY_COUNT = 10


def acceptance_probabilities(cat: np.ndarray, target: np.ndarray, min_count: int = 1) -> np.ndarray:
    """Allen 2016 acceptance probability of each category (0 for a category absent from ``cat``).

    Allen's rule accepts category ``c`` with probability ``(t_c / q_c) / max_c' (t_c' / q_c')``.
    A rare category (a few plausible patients against a target share of several per cent) would
    set that maximum alone and reject nearly everyone else: one late-onset patient in 800 made
    the accepted population 38. Categories with fewer than ``min_count`` plausible patients are
    therefore left out of the maximum; their patients are all kept (probability clipped at 1),
    and they stay under-represented (reported by :func:`accept_reject`).
    """
    counts = np.bincount(cat, minlength=target.size)
    q = counts / max(cat.size, 1)
    ratio = np.divide(target, q, out=np.zeros_like(target), where=q > 0)
    scale = ratio[counts >= min_count].max() if (counts >= min_count).any() else ratio.max()
    return np.minimum(ratio / scale, 1.0)


@dataclass
class VirtualPopulation:
    """Simulated untreated virtual patients (only the accepted ones)."""

    covariates: dict[str, np.ndarray]
    names: list[str]            # SBML parameter ids set per patient
    values: np.ndarray          # [patient, parameter]
    scr: np.ndarray             # [patient, time] mg/dL, untreated
    survival: np.ndarray        # [patient, time] fraction alive (model), untreated
    stage: np.ndarray
    onset_h: np.ndarray
    plausible: int              # plausible patients simulated
    failed: int                 # plausible patients whose simulation failed (dropped)
    acceptance: np.ndarray      # acceptance probability per category
    missing_categories: tuple[str, ...]
    #: the engine and tolerances the patients were simulated with; treated arms use the same
    solver: SolverOptions | None = None
    #: the output grid of ``scr`` and ``survival`` (h after the end of bypass); treated arms use the same
    times_h: np.ndarray = field(default_factory=lambda: TIMES_H)

    @property
    def size(self) -> int:
        return int(self.scr.shape[0])

    def summary(self) -> list[dict]:
        """Each target: reported value and range, simulated value, and whether it is in range."""
        return target_summary(self.stage, self.onset_h)


def accept_reject(scr: np.ndarray, ok: np.ndarray, seed: int, enabled: bool = True,
                  times_h: np.ndarray = TIMES_H):
    """Allen 2016 acceptance–rejection of simulated plausible patients on KDIGO stage × onset.

    Returns ``(stage, onset_h, acceptance per category, keep, missing categories)``; the acceptance
    draws come from ``default_rng([seed, 1])``, one per plausible patient. ``enabled=False`` keeps
    every patient that solved. ``times_h``: the output grid of ``scr`` (only its first 7 days count).
    """
    stage, onset = kdigo(times_h, scr)
    cat = categories(stage, onset)
    target = _category_targets()
    acc = acceptance_probabilities(cat[ok], target, MIN_CATEGORY_COUNT)
    keep = ok & (np.random.default_rng([seed, 1]).random(len(ok)) < acc[cat]) if enabled else ok
    counts = np.bincount(cat[ok], minlength=target.size)
    missing = tuple(n if c == 0 else f"{n} (only {c} plausible: under-represented)"
                    for n, c, t in zip(CATEGORY_NAMES, counts, target) if t > 0 and c < MIN_CATEGORY_COUNT)
    return stage, onset, acc, keep, missing


def target_summary(stage: np.ndarray, onset_h: np.ndarray) -> list[dict]:
    """Each target of :data:`TARGETS`: reported value and range, simulated value, whether it is in range."""
    aki = stage > 0
    n_aki = max(int(aki.sum()), 1)
    onset = onset_h[aki]
    bins = np.arange(0.0, KDIGO_WINDOW_H + 12.0, 12.0)
    hist, _ = np.histogram(onset, bins=bins)
    peak = float(bins[int(np.argmax(hist))] + 6.0) if hist.sum() else float("nan")
    sim = {
        "aki_incidence": 100.0 * aki.mean(),
        "stage1_share_of_aki": 100.0 * (stage == 1).sum() / n_aki,
        "stage2_share_of_aki": 100.0 * (stage == 2).sum() / n_aki,
        "stage3_share_of_aki": 100.0 * (stage == 3).sum() / n_aki,
        "early_onset_share_of_aki": 100.0 * (onset <= EARLY_ONSET_H).sum() / n_aki,
        "onset_peak_h": peak,
    }
    return [{"target": t.name, "reported": t.value, "low": t.low, "high": t.high, "unit": t.unit,
             "simulated": round(float(sim[t.name]), 2), "in_range": bool(t.low <= sim[t.name] <= t.high),
             "source": t.source} for t in TARGETS]


#: Virtual patients per simulation task (the unit an executor distributes).
CHUNK_PATIENTS = 200


def simulate_groups(groups, executor=None, advance=None, *, chunk: int = CHUNK_PATIENTS,
                    store=None) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Simulate groups of patients; one group = ``(scenario, covariates, extra_names, extra_values)``.

    Each group is cut into chunks of ``chunk`` patients (default :data:`CHUNK_PATIENTS`); all
    chunks of all groups are independent tasks (:func:`nephrosim.trials.execute.simulate_patients`)
    handed to ``executor`` at once. Returns ``(scr, survival, ok)`` per group; the values do
    not depend on the executor or on the order in which chunks finish.

    ``store`` (a :class:`nephrosim.trials.checkpoint.ChunkStore`, or None) keeps each finished
    chunk: chunks it already holds are read back instead of simulated, and ``advance`` is
    called only for the chunks simulated now, each after it is stored.
    """
    from nephrosim.trials.execute import SerialExecutor, collect, simulate_patients

    tasks, owner = [], []
    for g, (scenario, cov, extra_names, extra_values) in enumerate(groups):
        n = len(next(iter(cov.values())))
        scenario_json = scenario.model_dump_json()
        extra = np.zeros((n, 0)) if extra_values is None else np.asarray(extra_values, dtype=float).reshape(n, -1)
        for s in range(0, n, chunk):
            tasks.append((scenario_json, {k: v[s:s + chunk] for k, v in cov.items()},
                          tuple(extra_names), extra[s:s + chunk]))
            owner.append(g)
    if store is None:
        parts = collect(executor or SerialExecutor(), simulate_patients, tasks, advance)
    else:
        parts = store.collect(executor or SerialExecutor(), simulate_patients, tasks, advance)
    out = []
    for g in range(len(groups)):
        mine = [p for p, o in zip(parts, owner) if o == g]
        if mine:
            out.append(tuple(np.concatenate(x) for x in zip(*mine)))
        else:
            m = len(groups[g][0].times_h)
            out.append((np.zeros((0, m)), np.zeros((0, m)), np.zeros(0, dtype=bool)))
    return out


def chunks_of(n: int, chunk: int = CHUNK_PATIENTS) -> int:
    """Simulation tasks for ``n`` patients (for progress bars)."""
    return -(-int(n) // int(chunk))


def build_population(spec: PopulationSpec, plausible: int, seed: int, executor=None,
                     advance=None, *, solver: SolverOptions | None = None, chunk: int = CHUNK_PATIENTS,
                     store=None, times_h: np.ndarray | None = None) -> VirtualPopulation:
    """Draw ``plausible`` patients, simulate them untreated, and accept–reject them.

    Deterministic for ``seed`` (covariates from ``default_rng([seed, 0])``, acceptance
    draws from ``default_rng([seed, 1])``), whichever ``executor`` simulates the chunks of
    ``chunk`` patients, with the engine of ``solver`` (default libRoadRunner).
    Patients whose simulation fails are dropped and counted in ``failed``. The last few
    populations are kept in memory (same arguments, same object: treat it as read-only);
    with a ``store`` (:func:`simulate_groups`) the finished chunks are kept there instead.
    ``times_h``: the output grid (default :data:`TIMES_H`, 32 days; a longer follow-up needs a
    longer grid, :attr:`nephrosim.trials.design.TrialDesign.output_times_h`).
    """
    times_h = TIMES_H if times_h is None else np.asarray(times_h, dtype=float)
    key = (spec.model_dump_json(), int(plausible), int(seed), int(chunk),
           None if solver is None else solver.model_dump_json(), times_h.size, float(times_h[-1]))
    if store is None and key in _POPULATIONS:
        return _POPULATIONS[key]
    cov = draw_covariates(spec, plausible, np.random.default_rng([seed, 0]))
    [(scr, surv, ok)] = simulate_groups([(population_scenario(solver=solver, times_h=times_h), cov, (), None)],
                                        executor, advance, chunk=chunk, store=store)
    nominal = compiled_parameters(population_scenario())
    names, values = parameter_matrix(cov, nominal)
    stage, onset, acc, keep, missing = accept_reject(scr, ok, seed, spec.acceptance_rejection, times_h)
    pop = VirtualPopulation(
        covariates={k: v[keep] for k, v in cov.items()}, names=names, values=values[keep],
        scr=scr[keep], survival=surv[keep], stage=stage[keep], onset_h=onset[keep],
        plausible=plausible, failed=int((~ok).sum()), acceptance=acc, missing_categories=missing,
        solver=solver, times_h=times_h)
    if store is None:
        if len(_POPULATIONS) >= 4:
            _POPULATIONS.pop(next(iter(_POPULATIONS)))
        _POPULATIONS[key] = pop
    return pop
