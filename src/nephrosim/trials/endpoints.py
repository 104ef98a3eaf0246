"""Per-patient endpoints from simulated SCr and survival trajectories.

* **Entry (diagnosis) time** — inclusion ``scr_rise``: the first output time (6-h grid)
  with SCr ≥ baseline + ``rise_mg_dl`` within ``within_h``; inclusion ``all``: 0 h.
* **Time to recovery** (days after entry) — the first output time after entry with
  SCr ≤ baseline + max(``margin_mg_dl``, ``margin_fraction`` × baseline); censored at the
  horizon (30 days after entry). Baseline = the pre-operative (time-0) SCr. With
  ``endpoints.measurement`` the rule is applied to *measured* SCr instead, as a trial sees it:
  one noisy pre-operative value and one noisy value every ``every_h`` hours after entry
  (:class:`nephrosim.trials.design.Measurement`, sourced CVs). Model SCr approaches its baseline
  asymptotically, so the trial's own rule (first SCr ≤ the pre-operative value, margin 0) can be
  met only through measurement noise — which is also how a real patient meets it.
* **Death by the horizon** — probability ``1 − survival(entry + horizon)`` from the model's
  survival state (uraemic hazard only: the model carries no cardiac or surgical mortality).
* **Death by stage (30 days)** — probability from the patient's peak KDIGO SCr stage within
  7 days of surgery in that arm (:func:`nephrosim.trials.population.kdigo`), mapped to the
  hospital (≤ 30 d) mortality by stage of Marco 2022 (doi:10.21470/1678-9741-2022-0108, 2162
  adults after cardiac surgery with preserved baseline function): "non-acute kidney injury =
  2.0%", "stage 1 = 4.3%, stage 2 = 23.9%, stage 3 = 59.7%" (:data:`DEATH_BY_STAGE`). The
  numbers are sourced; using them as the risk that *follows* from a stage — so that a
  treatment lowering the stage lowers death — is **assumed** (the cohort's adjusted ORs
  2.02 / 9.18 / 37.72 say the association survives adjustment, not that it is causal).
* **SCr AUC** — area of SCr above baseline, mg/dL·day, from entry to entry + horizon
  (trapezoids on the 6-h grid, ``numpy.trapezoid``).
* **Dialysis (30 days)** — probability :data:`RRT_GIVEN_STAGE3` for a patient whose peak KDIGO
  SCr stage within 7 days is 3, else 0. The model has no urine output, potassium or acidosis,
  so it cannot decide dialysis itself; the share is **derived** from Hu 2016 (the cardiac-surgery
  meta-analysis behind the population's stage targets): "13.6%, 3.8%, and 2.7% at stages 1, 2,
  and 3" and "2.3% of patients received renal replacement therapy", i.e. 2.3 / 2.7 = 0.85 of
  stage 3, under KDIGO's own convention that starting RRT *is* stage 3 (RRT ⊂ stage 3). If the
  pooled studies counted RRT apart from stage 3 the share would be 2.3 / (2.7 + 2.3) = 0.46:
  that is the lower end of its range (:data:`RRT_GIVEN_STAGE3_RANGE`).
* **Persistent renal dysfunction** — SCr 30 days after entry (or at the horizon, if shorter) ≥
  ``persistent_dysfunction_ratio`` × baseline (model SCr, noise-free; 2.0 by default, SMART's
  "persistent renal dysfunction (discharge creatinine ≥200% of baseline creatinine)", Semler 2017,
  PMID 28302179 — an ICU trial's definition, **assumed** to carry over to cardiac surgery).
* **MAKE30** — major adverse kidney events, "a composite of death, new kidney replacement
  therapy, or persistent kidney dysfunction" ("Major Adverse Kidney Events in Pediatric Sepsis",
  Clin J Am Soc Nephrol 2019;14(5):664-672, doi:10.2215/CJN.12201018, PMID 31000518),
  the composite the NIDDK workgroup recommended for phase 3 trials in established AKI ("a
  composite endpoint of death, provision of dialysis, and sustained loss of kidney function", as
  quoted in Sukmark 2020, Ann Intensive Care 10:42). Per patient its probability is
  1 − (1 − death by stage)(1 − dialysis)(1 − persistent): the components are taken as
  independent given the patient's SCr course (**assumed**; all three rise with the stage, which
  the course already carries). ACT-AKI's secondary endpoint, death or dialysis at 30 days, is
  the same without the third factor.
* **MAKE90** (only with ``horizon_days`` ≥ 90) — "the composite endpoint major adverse kidney events
  consisting of mortality, need for renal replacement therapy, and persistent renal dysfunction at
  90 days" (RenalRIP follow-up, Zarbock 2017, Anesthesiology 126:787; "MAKE30 or MAKE90", PMID
  25343828). Death within 90 days by peak stage, :data:`DEATH_BY_STAGE_90D`: stages 1–3 from the
  Helsinki cardiac-surgery cohort (813 patients, PMID 16427848), "RIFLE-F (failure), had a 90-day
  mortality rate of 32.5% compared with 8.0% for those in RIFLE-R (risk) and 21.4% for RIFLE-I
  (injury) patients"; no AKI from Pickering 2015 (PMID 25445101, 46 studies), "without CPB-AKI,
  1.5%" (in hospital or within 90 days). RIFLE R/I/F are taken as KDIGO stages 1/2/3, whose SCr
  criteria (×1.5, ×2, ×3) they share (**assumed** mapping; KDIGO stage 1 also counts a 0.3 mg/dL
  rise). Dialysis: the 30-day probability (renal replacement therapy after cardiac surgery starts in
  the first days; the model has no later trigger: **assumed**). Persistent dysfunction: SCr 90 days
  after entry ≥ the same ratio × baseline. The two mortality tables come from different cohorts:
  Marco 2022's 30-day stage-3 mortality (59.7 %, Brazil) is above Helsinki's 90-day one (32.5 %),
  so MAKE90 can fall *below* MAKE30 in a population with much stage 3. Compare arms within one
  endpoint, not MAKE90 with MAKE30.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from nephrosim.trials.design import Endpoints, Inclusion

#: Hospital (≤ 30 d) mortality by peak KDIGO stage 0-3 after cardiac surgery, Marco 2022
#: (doi:10.21470/1678-9741-2022-0108): "non-acute kidney injury = 2.0%"; "stage 1 = 4.3%,
#: stage 2 = 23.9%, stage 3 = 59.7%". Source for the values; their causal use is assumed.
DEATH_BY_STAGE = np.array([0.020, 0.043, 0.239, 0.597])
#: Probability of dialysis (renal replacement therapy) within 30 days given peak KDIGO SCr stage 3:
#: derived from Hu 2016 (J Cardiothorac Vasc Anesth, 91 studies, n = 320,086; clinical_trials.csv
#: EPI rows) — stage 3 in 2.7 % and RRT in 2.3 % of patients, 2.3 / 2.7, with RRT counted within
#: stage 3 as KDIGO defines it. Stages 0–2: no dialysis (the model has no other trigger).
RRT_GIVEN_STAGE3 = 2.3 / 2.7
#: Its plausible range: 2.3 / (2.7 + 2.3) if the pooled studies counted RRT apart from stage 3.
RRT_GIVEN_STAGE3_RANGE = (2.3 / 5.0, 2.3 / 2.7)
#: Death within 90 days by peak KDIGO stage 0-3 after cardiac surgery (sources: module docstring and
#: the rows of evidence/data/clinical_trials.csv): no AKI, Pickering 2015 (PMID 25445101) "without
#: CPB-AKI, 1.5%"; stages 1-3, the Helsinki RIFLE cohort (PMID 16427848) R 8.0 %, I 21.4 %, F 32.5 %.
DEATH_BY_STAGE_90D = np.array([0.015, 0.080, 0.214, 0.325])
#: Days after entry at which MAKE30's and MAKE90's persistent dysfunction is read.
MAKE30_DAYS, MAKE90_DAYS = 30.0, 90.0


def entry_times(times_h: np.ndarray, scr: np.ndarray, inclusion: Inclusion) -> np.ndarray:
    """Entry time (h) per patient; NaN for a patient who is not eligible."""
    if inclusion.kind == "all":
        return np.zeros(scr.shape[0])
    base = scr[:, :1]
    crit = ((scr - base) >= inclusion.rise_mg_dl - 1e-12) & (times_h <= inclusion.within_h + 1e-9)
    return np.where(crit.any(axis=1), times_h[np.argmax(crit, axis=1)], np.nan)


@dataclass(frozen=True)
class PatientOutcomes:
    """Endpoints of one arm for every patient of the eligible pool (aligned rows).

    With measured SCr (``endpoints.measurement``) ``recovery_days`` and ``recovered`` have one
    column per independent draw of the measurement noise (:meth:`recovery` picks one per
    replicate trial); without it they are one-dimensional.
    """

    recovery_days: np.ndarray   # time to recovery or censoring, days after entry
    recovered: np.ndarray       # event indicator (bool)
    death_probability: np.ndarray
    scr_auc: np.ndarray         # mg/dL·day above baseline, entry → entry + horizon
    death_by_stage: np.ndarray  # 30-day death probability from the peak KDIGO stage (DEATH_BY_STAGE)
    dialysis: np.ndarray        # 30-day dialysis probability (RRT_GIVEN_STAGE3 at peak stage 3, else 0)
    persistent_dysfunction: np.ndarray  # bool: SCr at day 30 (or the horizon) ≥ persistent_dysfunction_ratio × baseline
    #: 90-day death probability from the peak KDIGO stage (DEATH_BY_STAGE_90D); NaN if the horizon is < 90 days
    death_by_stage_90d: np.ndarray
    #: 1.0 / 0.0: SCr at day 90 ≥ persistent_dysfunction_ratio × baseline; NaN if the horizon is < 90 days
    persistent_dysfunction_90d: np.ndarray

    @property
    def size(self) -> int:
        """Patients (rows)."""
        return int(self.scr_auc.shape[0])

    @property
    def death_or_dialysis(self) -> np.ndarray:
        """30-day probability of death (by stage) or dialysis (ACT-AKI's secondary endpoint)."""
        return 1.0 - (1.0 - self.death_by_stage) * (1.0 - self.dialysis)

    @property
    def make30(self) -> np.ndarray:
        """30-day probability of a major adverse kidney event: death, dialysis or persistent dysfunction."""
        return 1.0 - (1.0 - self.death_or_dialysis) * (1.0 - self.persistent_dysfunction.astype(float))

    @property
    def make90(self) -> np.ndarray:
        """90-day probability of a major adverse kidney event (death by 90 days, dialysis, or SCr at day
        90 ≥ the ratio × baseline); NaN where the follow-up is shorter than 90 days."""
        return 1.0 - (1.0 - self.death_by_stage_90d) * (1.0 - self.dialysis) * (1.0 - self.persistent_dysfunction_90d)

    @property
    def has_make90(self) -> bool:
        """Whether the follow-up reached 90 days (MAKE90 defined)."""
        return bool(np.isfinite(self.persistent_dysfunction_90d).all())

    def rows(self, index: np.ndarray) -> PatientOutcomes:
        """The outcomes of the patients ``index`` (rows, in that order)."""
        return PatientOutcomes(*(getattr(self, f.name)[index] for f in fields(self)))

    def recovery(self, realization: int) -> tuple[np.ndarray, np.ndarray]:
        """Time to recovery and event flags under noise draw ``realization`` (modulo the draws held;
        the same for every realization without measurement noise)."""
        if self.recovery_days.ndim == 1:
            return self.recovery_days, self.recovered
        k = realization % self.recovery_days.shape[1]
        return self.recovery_days[:, k], self.recovered[:, k]


def measured_recovery(times_h: np.ndarray, scr: np.ndarray, entry_h: np.ndarray, baseline: np.ndarray,
                      endpoints: Endpoints, rng: np.random.Generator,
                      realizations: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Time to recovery (days) and event flag from *measured* SCr (``endpoints.measurement``).

    Row ``i`` is sampled at ``entry_h[i] + k·every_h`` (k = 1, 2, … up to the horizon); the
    baseline and every sample get their own log-normal noise (mean-preserving, ``sdlog`` of the
    measurement), drawn from ``rng`` as one ``(n, 1 + K)`` block per realization, so that results
    depend only on the generator's seed and the rows' order. ``realizations=None`` gives one draw
    as 1-D arrays; an integer gives ``(n, realizations)`` arrays of independent draws (a trial
    draws the noise anew for every replicate: a patient's baseline error, shared by all of their
    samples, must not be frozen into the pool that every replicate resamples).
    """
    m, r = endpoints.measurement, endpoints.recovery
    k = np.arange(1, int(np.floor(endpoints.horizon_days * 24.0 / m.every_h + 1e-9)) + 1)
    at = entry_h[:, None] + m.every_h * k[None, :]
    idx = np.clip(np.searchsorted(times_h, at - 1e-9), 0, times_h.size - 1)
    if not np.allclose(times_h[idx], at, atol=1e-6):
        raise ValueError(f"SCr samples every {m.every_h:g} h after entry do not fall on the output grid")
    true_samples = np.take_along_axis(scr, idx, axis=1)  # the sampling times, once for every draw
    s = m.sdlog

    def one_draw():
        noise = np.exp(s * rng.standard_normal((scr.shape[0], 1 + k.size)) - 0.5 * s * s)
        base = baseline * noise[:, 0]
        hit = true_samples * noise[:, 1:] <= (base + np.maximum(r.margin_mg_dl, r.margin_fraction * base))[:, None] + 1e-12
        recovered = hit.any(axis=1)
        return np.where(recovered, m.every_h * k[np.argmax(hit, axis=1)] / 24.0, endpoints.horizon_days), recovered

    if realizations is None:
        return one_draw()
    draws = [one_draw() for _ in range(realizations)]
    return np.column_stack([d for d, _ in draws]), np.column_stack([e for _, e in draws])


def outcomes(times_h: np.ndarray, scr: np.ndarray, survival: np.ndarray, entry_h: np.ndarray,
             baseline: np.ndarray, endpoints: Endpoints, rng: np.random.Generator | None = None,
             realizations: int | None = None) -> PatientOutcomes:
    """Endpoints for each row of ``scr``/``survival`` (``entry_h`` and ``baseline`` per row).

    ``rng`` draws the measurement noise when ``endpoints.measurement`` is set (required then):
    one draw (1-D recovery arrays) or ``realizations`` independent draws (one column each).
    """
    if endpoints.measurement is not None and rng is None:
        raise ValueError("endpoints.measurement needs a random generator (rng) for the measurement noise")
    horizon_h = endpoints.horizon_days * 24.0
    r = endpoints.recovery
    threshold = baseline + np.maximum(r.margin_mg_dl, r.margin_fraction * baseline)
    n = scr.shape[0]
    rec_days = np.full(n, endpoints.horizon_days)
    recovered = np.zeros(n, dtype=bool)
    death = np.zeros(n)
    auc = np.zeros(n)
    noise_free = endpoints.measurement is None
    for i in range(n):
        t0, t1 = entry_h[i], entry_h[i] + horizon_h
        if t1 > times_h[-1] + 1e-9:
            raise ValueError(f"follow-up to {t1:g} h is past the simulated {times_h[-1]:g} h")
        after = (times_h > t0 + 1e-9) & (times_h <= t1 + 1e-9)
        hit = after & (scr[i] <= threshold[i] + 1e-12) if noise_free else np.zeros(1, dtype=bool)
        if hit.any():
            recovered[i] = True
            rec_days[i] = (times_h[np.argmax(hit)] - t0) / 24.0
        window = (times_h >= t0 - 1e-9) & (times_h <= t1 + 1e-9)
        auc[i] = np.trapezoid(scr[i, window] - baseline[i], times_h[window] / 24.0)
        death[i] = 1.0 - float(np.interp(t1, times_h, survival[i]))
    if not noise_free:
        rec_days, recovered = measured_recovery(times_h, scr, entry_h, baseline, endpoints, rng, realizations)
    from nephrosim.trials.population import kdigo

    stage, _ = kdigo(times_h, scr)

    def persistent_at(days: float) -> np.ndarray:
        end = np.array([np.interp(entry_h[i] + 24.0 * days, times_h, scr[i]) for i in range(n)])
        return end >= endpoints.persistent_dysfunction_ratio * baseline - 1e-12

    persistent = persistent_at(min(endpoints.horizon_days, MAKE30_DAYS))
    if endpoints.horizon_days >= MAKE90_DAYS:
        death_90, persistent_90 = DEATH_BY_STAGE_90D[stage], persistent_at(MAKE90_DAYS).astype(float)
    else:
        death_90 = persistent_90 = np.full(n, np.nan)
    return PatientOutcomes(rec_days, recovered, np.clip(death, 0.0, 1.0), auc, DEATH_BY_STAGE[stage],
                           np.where(stage == 3, RRT_GIVEN_STAGE3, 0.0), persistent, death_90, persistent_90)
