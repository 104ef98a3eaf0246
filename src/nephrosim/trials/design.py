"""The trial YAML: population, inclusion, arms, endpoints — validated once (pydantic).

Example (``examples/trials/act_aki.yaml``)::

    name: ACT-AKI
    virtual_patients: 6000
    inclusion: {kind: scr_rise, rise_mg_dl: 0.5, within_h: 48}
    arms:
      - {name: placebo, n: 68}
      - name: AC607
        n: 67
        treatment: {product: msc, dose: 2.0e6, dose_unit: cells/kg, route: intra_arterial_aorta}
        timing: {relative_to: diagnosis, delay_h: 6}
    endpoints: {recovery: {margin_mg_dl: 0.3, margin_fraction: 0.25}, horizon_days: 30}

Randomization: each replicate draws the arms' ``n`` distinct patients from the eligible pool
and assigns them at random (1:1 when the sizes are equal). The first arm is the control; a
design may have up to :data:`MAX_ARMS` arms (e.g. placebo and two doses), each compared with the
control, the family of comparisons adjusted for multiplicity (``multiplicity``, Holm by default).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from nephrosim.engine.simulator import SolverOptions
from nephrosim.inputs import InputFileError, StrictModel, read_mapping, validate
from nephrosim.scenarios.products import EV, MSC, ConditionedMedium
from nephrosim.trials.population import TIMES_H, PopulationSpec, output_times_h

MAX_PLAUSIBLE = 200_000
MAX_N_PER_ARM = 5000
#: Most arms of one design (the control and up to five treated arms).
MAX_ARMS = 6


class TrialError(InputFileError):
    """A trial design that cannot be run; one line per bad field."""


class Inclusion(StrictModel):
    """Who enters the trial.

    ``scr_rise``: SCr rises by at least ``rise_mg_dl`` above the pre-operative value within
    ``within_h`` hours of coming off bypass; the first such time is the diagnosis (and
    randomization) time. ``all``: every virtual patient, randomized at the end of bypass.
    """

    kind: Literal["scr_rise", "all"] = "scr_rise"
    rise_mg_dl: float = Field(0.5, gt=0.0, le=10.0)
    within_h: float = Field(48.0, gt=0.0, le=168.0)
    baseline_egfr_min: float = Field(0.0, ge=0.0, le=200.0,
                                     description="enrichment: pre-operative eGFR at least this (mL/min/1.73 m²)")
    baseline_egfr_max: float = Field(200.0, ge=0.0, le=200.0,
                                     description="enrichment: pre-operative eGFR at most this (e.g. 60 = CKD 3+)")

    @model_validator(mode="after")
    def _egfr_window(self):
        if self.baseline_egfr_min >= self.baseline_egfr_max:
            raise ValueError(f"baseline_egfr_min ({self.baseline_egfr_min:g}) must be below baseline_egfr_max "
                             f"({self.baseline_egfr_max:g})")
        return self


class Timing(StrictModel):
    """When the dose is given: ``delay_h`` after the diagnosis or after the end of bypass.

    Dose times are rounded up to a multiple of ``grid_h`` (each distinct dose time is one
    compiled model; a 12-h grid keeps a trial to a few compilations).
    """

    relative_to: Literal["diagnosis", "surgery"] = "diagnosis"
    delay_h: float = Field(0.0, ge=0.0, le=168.0)
    grid_h: float = Field(12.0, gt=0.0, le=168.0)


class TrialArm(StrictModel):
    """One arm: a name, its size, and its treatment (none = placebo): MSC, their conditioned medium or
    their EVs. A per-kg dose (cells/kg, cell_equivalents/kg) is given to each patient by weight.
    ``repeat_count``/``repeat_every_h`` of the treatment give a schedule: the first dose at the arm's
    ``timing``, the others every ``repeat_every_h`` hours after it, each of the same amount."""

    name: str = Field(min_length=1, max_length=80)
    n: int = Field(ge=2, le=MAX_N_PER_ARM, description="patients per replicate trial in this arm")
    treatment: Annotated[MSC | ConditionedMedium | EV, Field(discriminator="product")] | None = None
    timing: Timing = Field(default_factory=Timing)

    @model_validator(mode="after")
    def _time_in_timing(self):
        # a written-out design (model_dump) carries the default time_h = 0: that is not a dose time
        if self.treatment is not None and "time_h" in self.treatment.model_fields_set and self.treatment.time_h != 0:
            raise ValueError(f"arm {self.name!r}: the dose time goes in `timing` (relative_to, delay_h), "
                             "not in treatment.time_h; remove treatment.time_h")
        return self


class Recovery(StrictModel):
    """Recovery = first SCr ≤ baseline + max(margin_mg_dl, margin_fraction × baseline) after randomization."""

    margin_mg_dl: float = Field(0.3, ge=0.0, le=5.0)
    margin_fraction: float = Field(0.25, ge=0.0, le=5.0)


class Measurement(StrictModel):
    """How the trial *measures* SCr for the recovery endpoint: with noise, at fixed intervals.

    A trial does not see the model's smooth SCr: it sees one pre-operative value and one value
    per sampling interval, each carrying the patient's within-subject biological variation and the
    assay's analytical variation. Each measured value is ``true × exp(s·z − s²/2)`` with
    ``s² = ln(1 + cv_within_subject²) + ln(1 + cv_analytical²)`` and ``z`` standard normal, drawn
    independently per sample (and for the baseline) from the trial's seed.

    * ``cv_within_subject`` 0.052 — **source**: meta-analysis of 37 studies, Front Med 2022;
      9:1009358 (doi:10.3389/fmed.2022.1009358): "Meta-analysis of all studies yielded a CVICr of
      5.2% (95% confidence interval [CI] 4.6–5.8%)". Those were mostly stable subjects; after
      cardiac surgery fluid shifts may add to it (not quantified: a sensitivity, not a default).
    * ``cv_analytical`` 0.0251 — **source**: Mercan 2022, Clin Lab (doi:10.7754/Clin.Lab.2022.220524):
      "The average CVA calculated at 95% confidence interval for creatinine using Jaffe's method
      was 2.51%" (2.43 % enzymatic).
    * ``every_h`` 24 — one value a day after randomization (**assumed**: daily ward sampling).
    """

    cv_within_subject: float = Field(0.052, ge=0.0, le=1.0,
                                     description="within-subject biological CV of SCr (fraction)")
    cv_analytical: float = Field(0.0251, ge=0.0, le=1.0, description="assay CV of SCr (fraction)")
    every_h: float = Field(24.0, ge=6.0, le=168.0,
                           description="hours between SCr samples after randomization (a multiple of 6)")

    @model_validator(mode="after")
    def _on_the_grid(self):
        if abs(self.every_h / 6.0 - round(self.every_h / 6.0)) > 1e-9:
            raise ValueError(f"every_h={self.every_h:g}: SCr is simulated on a 6-h grid; give a multiple of 6 "
                             "(e.g. 12 or 24)")
        return self

    @property
    def sdlog(self) -> float:
        """Standard deviation of log(measured / true SCr) of one sample."""
        return float(np.sqrt(np.log1p(self.cv_within_subject ** 2) + np.log1p(self.cv_analytical ** 2)))


class Dropout(StrictModel):
    """Loss to follow-up. Each randomized patient is lost with probability ``probability``, at a time
    drawn uniformly over the follow-up (the uniform timing is **assumed**; set the probability from
    the trial being planned). A lost patient's time to recovery is censored when they are lost (a
    recovery before that still counts); the other endpoints (death, SCr AUC, dialysis, MAKE) are
    analysed on the patients not lost (complete cases). 0 = nobody is lost."""

    probability: float = Field(0.0, ge=0.0, le=0.5, description="share of randomized patients lost to follow-up")


class Accrual(StrictModel):
    """Enrolment in calendar time: ``patients_per_month`` randomized at a constant rate, each arm's patients
    spread evenly over the enrolment period (uniform accrual, the planning assumption of gsDesign's
    ``gsSurv`` and of most sample-size tools; **assumed**, to be set from the trial being planned: the
    evidence store has no enrolment period for ACT-AKI). It moves no simulated number: it says how
    long the trial runs, when an interim look can be made (when its patients have completed follow-up) and
    how many patients are already enrolled by then (the *overrun* a stop cannot take back)."""

    patients_per_month: float = Field(gt=0.0, le=10_000.0, description=(
        "randomized patients per month over all arms (e.g. 4: 135 patients in about 34 months)"))

    def calendar(self, n_per_arm, information, follow_up_days: float) -> tuple[np.ndarray, np.ndarray, float]:
        """``(months[look], enrolled[look, arm], enrolment months)`` for looks at patient shares
        ``information`` (the final 1 included): look ``k`` is made when the first ``information[k]`` of each
        arm's patients have completed ``follow_up_days``, and by then ``enrolled[k, a]`` of arm ``a``'s
        patients are randomized (at most ``n_per_arm[a]``). Patient ``j`` (1-based) of arm ``a`` enters at
        ``j / n_a`` of the enrolment period ``N / patients_per_month``."""
        n = np.asarray(n_per_arm, dtype=float)
        t = np.asarray(information, dtype=float)
        period = float(n.sum() / self.patients_per_month)
        follow = float(follow_up_days) / (365.25 / 12.0)
        last_entry = np.max(np.ceil(t[:, None] * n[None, :] - 1e-9) / n[None, :], axis=1) * period
        months = last_entry + follow
        enrolled = np.minimum(n[None, :], np.floor(n[None, :] * months[:, None] / period + 1e-9))
        return months, enrolled, period


SPENDING_CHOICES = "obrien_fleming (strict early), pocock (about equal nominal levels) or hwang_shih_decani (with gamma)"


def _spending_gamma(spending: str, gamma: float | None, default: float, where: str) -> float | None:
    """The Hwang–Shih–DeCani parameter in effect (``default`` when not given); a gamma given with
    another spending function is refused."""
    if spending != "hwang_shih_decani":
        if gamma is not None:
            raise ValueError(f"{where}gamma is the parameter of hwang_shih_decani spending; drop it, or set "
                             f"{where}spending: hwang_shih_decani")
        return None
    return default if gamma is None else gamma


class FutilitySpending(StrictModel):
    """Non-binding futility boundaries that spend the type-II error ``beta`` under the design's
    alternative (gsDesign's ``test.type = 4``; :func:`nephrosim.trials.sequential.futility_boundaries`).
    The boundaries depend on the looks, ``alpha``, ``beta`` and the spending functions, not on the
    sample size: they are those of a design planned for power ``1 − beta``. The simulated trial then
    shows what they cost under the model's own effect."""

    beta: float = Field(gt=0.0, lt=0.5, description="type-II error the design was planned with (0.1 = 90 % power)")
    spending: Literal["obrien_fleming", "pocock", "hwang_shih_decani"] = Field(
        "hwang_shih_decani", description=f"beta-spending function: {SPENDING_CHOICES}")
    gamma: float | None = Field(None, ge=-40.0, le=40.0, description=(
        "Hwang–Shih–DeCani parameter of the beta spending (default −2, gsDesign's); only with hwang_shih_decani"))

    @model_validator(mode="after")
    def _gamma(self):
        _spending_gamma(self.spending, self.gamma, -2.0, "futility_beta.")
        return self

    @property
    def spending_gamma(self) -> float | None:
        return _spending_gamma(self.spending, self.gamma, -2.0, "futility_beta.")


class Interim(StrictModel):
    """Interim looks for efficacy at the primary endpoint (group-sequential design,
    :mod:`nephrosim.trials.sequential`). ``information`` lists the looks before the final analysis as
    shares of each arm's patients (the first enrolled, in randomization order), each analysed with its
    full follow-up (**assumed**: the look waits until those patients' follow-up ends, so the
    statistic's information is the patient share, also for the log-rank test). The boundaries spend
    ``alpha`` with a Lan–DeMets function per side; the trial stops at the first crossing.

    A non-binding futility rule may be added in one of two ways: ``futility_z``, one signed z for every
    interim look (a trial stops at an interim look whose signed z, positive when the treated arm does
    better, is below it), or ``futility_beta``, boundaries that spend a type-II error (gsDesign's
    ``test.type = 4``). Non-binding: the efficacy boundaries are computed as if the rule did not exist,
    so the type-I error stays at most ``alpha`` whether or not a data monitoring committee follows it
    (Jennison & Turnbull 2000, *Group Sequential Methods with Applications to Clinical Trials*, Chapman &
    Hall/CRC); the power can only fall.

    With more than two arms the looks drop arms instead (:func:`nephrosim.trials.sequential.arm_dropping`,
    a multi-arm multi-stage design in the manner of Royston, Parmar & Qian 2003, Stat Med 22:2239–2256,
    with futility stops only): a treated arm whose signed z against the control is below ``futility_z``
    at a look (or below the look's beta-spending boundary with ``futility_beta``,
    :meth:`arm_futility`) stops enrolling; nothing stops for efficacy, and the final analysis is the
    multiplicity-adjusted test of every arm, a dropped arm never rejected."""

    information: tuple[float, ...] = Field(min_length=1, max_length=4, description=(
        "shares of the patients at the interim looks, strictly increasing in (0, 1); the final analysis (1) is added"))
    spending: Literal["obrien_fleming", "pocock", "hwang_shih_decani"] = Field(
        "obrien_fleming", description=f"Lan–DeMets alpha-spending function: {SPENDING_CHOICES}")
    gamma: float | None = Field(None, ge=-40.0, le=40.0, description=(
        "Hwang–Shih–DeCani parameter of the alpha spending (default −4, gsDesign's); only with hwang_shih_decani"))
    futility_z: float | None = Field(None, ge=-3.0, le=3.0, description=(
        "non-binding futility rule: stop at an interim look that does not reach the efficacy boundary when the "
        "signed z of the primary test (positive favours treatment) is below this value (0: stop when the effect "
        "points the wrong way); None = no futility stop. The efficacy boundaries do not change"))
    futility_beta: FutilitySpending | None = Field(None, description=(
        "non-binding futility boundaries that spend this type-II error under the design's alternative, "
        "e.g. {beta: 0.1} (instead of futility_z)"))

    @model_validator(mode="after")
    def _increasing(self):
        t = self.information
        if any(not 0.0 < x < 1.0 for x in t) or any(b <= a for a, b in zip(t, t[1:])):
            raise ValueError(f"information {list(t)}: give 1 to 4 shares strictly increasing between 0 and 1 "
                             "(e.g. [0.5] for one look at half the patients); the final analysis is added")
        if self.futility_z is not None and self.futility_beta is not None:
            raise ValueError("give futility_z (one z for every look) or futility_beta (boundaries that spend a "
                             "type-II error), not both")
        _spending_gamma(self.spending, self.gamma, -4.0, "")
        return self

    @property
    def spending_gamma(self) -> float | None:
        """The alpha spending's Hwang–Shih–DeCani parameter in effect (−4 when not given)."""
        return _spending_gamma(self.spending, self.gamma, -4.0, "")

    def boundaries(self, alpha: float) -> tuple[np.ndarray, np.ndarray | None, float | None]:
        """The efficacy boundaries at every look (two-sided |z|), the futility boundaries at the interim
        looks (signed z; None without a futility rule) and, with ``futility_beta``, the drift the design
        is planned for (the expected signed z at the final analysis)."""
        from nephrosim.trials.sequential import boundaries

        return boundaries((*self.information, 1.0), alpha, self.spending, self.spending_gamma, self.futility_z,
                          self.futility_rule)

    def arm_futility(self, alpha: float, arms: int) -> np.ndarray | None:
        """The signed-z boundaries below which a multi-arm trial drops a treated arm at each interim look:
        ``futility_z`` at every look, or with ``futility_beta`` those of
        :func:`nephrosim.trials.sequential.arm_futility_boundaries` (each comparison planned at the Bonferroni
        level ``alpha / arms`` with power ``1 − beta``, no efficacy stop); None without a futility rule."""
        if self.futility_z is not None:
            return np.full(len(self.information), float(self.futility_z))
        if self.futility_beta is None:
            return None
        from nephrosim.trials.sequential import arm_futility_boundaries

        f = self.futility_beta
        return arm_futility_boundaries((*self.information, 1.0), alpha, arms, f.beta, f.spending,
                                       f.spending_gamma)[0]

    @property
    def futility_rule(self) -> tuple[float, str, float | None] | None:
        """``futility_beta`` as :func:`nephrosim.trials.sequential.boundaries` takes it (None without one)."""
        f = self.futility_beta
        return None if f is None else (f.beta, f.spending, f.spending_gamma)


class Endpoints(StrictModel):
    """Primary: time to recovery (censored at ``horizon_days`` after randomization), the SCr AUC
    above baseline over the horizon, MAKE30 or MAKE90 (major adverse kidney events by 30 / 90 days).

    Secondary: death by the horizon (from the model's survival), SCr AUC above baseline, death by
    stage, dialysis, death or dialysis, MAKE30, and MAKE90 with a 90-day horizon
    (:mod:`nephrosim.trials.endpoints`).
    """

    primary: Literal["recovery", "scr_auc", "make30", "make90"] = Field(
        "recovery", description="recovery: log-rank on time to recovery; scr_auc: Mann–Whitney on SCr AUC; "
                                "make30 / make90: Fisher's exact test on major adverse kidney events by 30 / 90 "
                                "days (death, dialysis or persistent dysfunction; make90 needs horizon_days: 90)")
    recovery: Recovery = Field(default_factory=Recovery)
    measurement: Measurement | None = Field(
        None, description="measure SCr with noise at fixed intervals for the recovery endpoint (the trial's view); "
                          "None = the model's SCr on its 6-h grid, noise-free")
    horizon_days: float = Field(30.0, gt=0.0, le=90.0, description=(
        "follow-up after randomization (days): recovery is censored and the SCr AUC ends there; 90 adds MAKE90"))
    dropout: Dropout = Field(default_factory=Dropout, description="loss to follow-up (default: none)")
    persistent_dysfunction_ratio: float = Field(
        2.0, ge=1.0, le=10.0,
        description="persistent renal dysfunction (a MAKE component): SCr at day 30 (MAKE30; the horizon if "
                    "shorter) or day 90 (MAKE90) >= this x baseline (SMART's '>=200% of baseline creatinine', "
                    "PMID 28302179; assumed to carry over to cardiac surgery)")

    @model_validator(mode="after")
    def _make90_needs_90_days(self):
        if self.primary == "make90" and self.horizon_days < 90.0:
            raise ValueError(f"primary make90 reads outcomes at day 90 but horizon_days is {self.horizon_days:g}; "
                             "set horizon_days: 90")
        return self


def follow_up_grid(inclusion: Inclusion, endpoints: Endpoints) -> np.ndarray:
    """The output grid (h after bypass) a trial needs: the latest possible entry plus the horizon,
    and never shorter than the default 32 days (:data:`nephrosim.trials.population.TIMES_H`), so
    that a 30-day design is simulated exactly as before."""
    latest_entry = inclusion.within_h if inclusion.kind == "scr_rise" else 0.0
    return output_times_h(max(float(TIMES_H[-1]), latest_entry + 24.0 * endpoints.horizon_days))


class Trend(StrictModel):
    """A test for trend of the primary endpoint across the arms, in the order of their scores (a
    dose-ranging design): the log-rank test for trend on time to recovery, Kendall's tau on SCr AUC,
    the linear-by-linear (Cochran–Armitage) test on MAKE (:func:`nephrosim.trials.analysis.trend_test`).
    Its power is reported beside the comparisons with the control; it is one test, not adjusted."""

    scores: tuple[float, ...] | None = Field(
        None, description="one score per arm, control first (e.g. the dose per kg, 0 for placebo); "
                          "default 0, 1, 2, … in the arms' order")


class CandidateShape(StrictModel):
    """A candidate dose–response shape of the MCP-Mod contrast test (:mod:`nephrosim.trials.mcpmod`;
    DoseFinding's standardized shapes)."""

    shape: Literal["linear", "emax", "sig_emax", "exponential", "quadratic", "beta"] = Field(description=(
        "linear: d; emax: d / (ed50 + d); sig_emax: d^hill / (ed50^hill + d^hill) (DoseFinding's sigEmax); "
        "exponential: exp(d / delta) - 1; quadratic: d + delta d² (delta < 0: an umbrella, the benefit "
        "falling again at high doses); beta: DoseFinding's betaMod with delta1, delta2 and its dose scale "
        "1.2 x the largest dose (an umbrella that never falls below placebo)"))
    ed50: float | None = Field(None, gt=0.0, description="emax and sig_emax: the dose with half the maximal effect")
    delta: float | None = Field(None, description="exponential (> 0: its dose scale) or quadratic (!= 0) only")
    hill: float | None = Field(None, gt=0.0, description="sig_emax only: the Hill exponent (steepness)")
    delta1: float | None = Field(None, gt=0.0, description="beta only: its first shape parameter")
    delta2: float | None = Field(None, gt=0.0, description="beta only: its second shape parameter")

    @model_validator(mode="after")
    def _parameters(self):
        needs = {"emax": {"ed50"}, "sig_emax": {"ed50", "hill"}, "exponential": {"delta"},
                 "quadratic": {"delta"}, "beta": {"delta1", "delta2"}}.get(self.shape, set())
        given = {k for k in ("ed50", "delta", "hill", "delta1", "delta2") if getattr(self, k) is not None}
        if given - needs:
            raise ValueError(f"{sorted(given - needs)[0]} is not a parameter of the {self.shape} shape; drop it")
        if needs - given:
            raise ValueError(f"the {self.shape} shape needs {sorted(needs - given)[0]}")
        if self.shape == "exponential" and self.delta <= 0:
            raise ValueError("delta of the exponential shape must be > 0 (its dose scale)")
        if self.shape == "quadratic" and self.delta == 0:
            raise ValueError("delta of the quadratic shape must be != 0 (0 is the linear shape)")
        return self

    @property
    def label(self) -> str:
        extra = f" ED50 {self.ed50:g}" if self.ed50 is not None else f" delta {self.delta:g}" if self.delta else ""
        extra += f" h {self.hill:g}" if self.hill is not None else ""
        extra += f" delta1 {self.delta1:g} delta2 {self.delta2:g}" if self.delta1 is not None else ""
        return self.shape + extra


class McpMod(StrictModel):
    """The multiple contrast test of MCP-Mod (Bretz, Pinheiro & Branson 2005): one optimal contrast per
    candidate shape over the arms' doses, the largest contrast statistic against its critical value at
    one-sided ``alpha / 2`` (:mod:`nephrosim.trials.mcpmod`). On SCr AUC the contrasts test the arms'
    mean −AUC (a lower AUC is the benefit; multivariate t); on time to recovery they test the treated
    arms' Cox log hazard ratios of recovery against the control (generalized MCP-Mod, Pinheiro et al.
    2014; multivariate normal). A significant contrast says the benefit rises with the dose along that
    shape. Not part of the many-to-one family, and not adjusted with it."""

    doses: tuple[float, ...] = Field(min_length=2, description=(
        "each arm's dose, control first (0 for placebo), in one unit (e.g. cells/kg)"))
    shapes: tuple[CandidateShape, ...] = Field(min_length=1, max_length=6, description=(
        "candidate dose-response shapes, e.g. [{shape: linear}, {shape: emax, ed50: 2.0e+6}, "
        "{shape: quadratic, delta: -1.0e-7}]"))
    endpoint: Literal["scr_auc", "recovery", "make30", "make90"] = Field("scr_auc", description=(
        "scr_auc: contrasts of the arms' mean SCr AUC; recovery: contrasts of the treated arms' log hazard "
        "ratios of recovery against the control (one Cox model per trial); make30 / make90: contrasts of the "
        "treated arms' log odds ratios of MAKE against the control, sign flipped so that fewer events is "
        "positive (the saturated logistic model) — whatever the primary endpoint (make90 needs "
        "horizon_days: 90)"))
    covariance: Literal["estimated", "planned"] | None = Field(None, description=(
        "recovery, make30 and make90 only — estimated (the default there): each trial's own covariance of its "
        "estimates sets its contrasts and its multiplicity-adjusted p-values, as DoseFinding's "
        "MCTtest(S = vCov, type = 'general') does; planned: contrasts and one critical value from the planned "
        "covariance (events in proportion to the arm sizes; for MAKE, equal event risks) for every trial. SCr "
        "AUC uses the pooled within-arm variance and takes neither"))
    target_effect: float | None = Field(None, gt=0.0, description=(
        "Δ, the clinically relevant effect over placebo — on scr_auc an SCr AUC reduction (mg/dL·day), on "
        "recovery a log hazard ratio of recovery (e.g. 0.223 = log 1.25), on make30/make90 a log odds ratio "
        "of avoiding MAKE (e.g. 0.405 = odds of MAKE 1.5-fold lower): given, every trial whose contrast test "
        "is significant runs MCP-Mod's modelling step (fit the significant shapes, select by AIC, or gAIC on "
        "the estimate endpoints) and estimates the target dose, the smallest dose whose fitted effect reaches "
        "Δ; None = the contrast test only"))

    selection: Literal["aic", "ave_aic"] = Field("aic", description=(
        "the modelling step: aic selects the significant shape with the smallest (g)AIC and takes its target "
        "dose; ave_aic averages the significant shapes' target doses with weights exp(-AIC/2) (DoseFinding's "
        "selModel 'AIC' / 'aveAIC'; the average is NaN when any shape's fit does not reach target_effect)"))

    @model_validator(mode="after")
    def _doses(self):
        if any(d < 0 for d in self.doses):
            raise ValueError("doses must be >= 0 (0 for placebo)")
        if self.covariance is not None and self.endpoint == "scr_auc":
            raise ValueError(f"mcp_mod.covariance: {self.covariance!r} applies to the estimate endpoints (recovery, "
                             "make30, make90: the covariance of each trial's estimates); on scr_auc the test uses "
                             "the pooled within-arm variance, so drop covariance or set another endpoint")
        return self

    @property
    def on_estimates(self) -> bool:
        """Whether the contrasts act on per-trial estimates against the control (generalized MCP-Mod: log hazard
        ratios of recovery, log odds ratios of MAKE) rather than on the arms' means (SCr AUC)."""
        return self.endpoint != "scr_auc"

    @property
    def estimated_covariance(self) -> bool:
        """Whether each trial's own covariance sets its contrasts and adjusted p-values (the estimate endpoints)."""
        return self.on_estimates and self.covariance != "planned"


class TrialDesign(StrictModel):
    """A virtual trial in adults undergoing cardiac surgery on bypass: a control arm and one or more
    treated arms, each compared with the control."""

    name: str = Field("trial", min_length=1, max_length=200)
    virtual_patients: int = Field(4000, ge=10, le=MAX_PLAUSIBLE,
                                  description="plausible patients simulated before acceptance-rejection")
    population: PopulationSpec = Field(default_factory=PopulationSpec)
    inclusion: Inclusion = Field(default_factory=Inclusion)
    arms: tuple[TrialArm, ...] = Field(min_length=2, max_length=MAX_ARMS, description=(
        f"2 to {MAX_ARMS} arms; the first is the control, every other arm is compared with it"))
    multiplicity: Literal["holm", "bonferroni", "dunnett", "dunnett_stepdown"] = Field(
        "holm", description="adjustment of the p-values of the comparisons with the control when there are two "
                            "or more: holm or bonferroni (statsmodels multipletests), or dunnett / dunnett_stepdown "
                            "(single-step / step-down many-to-one, using the correlation of comparisons that share "
                            "the control); with one comparison no adjustment applies")
    endpoints: Endpoints = Field(default_factory=Endpoints)
    interim: Interim | None = Field(None, description=(
        "interim looks at the primary endpoint: group-sequential efficacy (and futility) stops in two-arm trials; "
        "with more arms, dropping the treated arms below futility_z; None = one analysis"))
    accrual: Accrual | None = Field(None, description=(
        "enrolment in calendar time (patients_per_month): adds the trial's duration, and with interim looks the "
        "time of each look and the patients enrolled by then; None = no calendar time"))
    subgroups: tuple[str, ...] = Field((), max_length=9, description=(
        "pre-specified subgroups analysed in every replicate trial (hazard ratio of recovery within each, and "
        "the interaction test), by baseline covariate: baseline_egfr (< 60), age_years (> 65), male, "
        "bypass_min (> 120), weight_kg, severity, susceptibility, repair or fluid (the pool's median); "
        "nephrosim.trials.subgroups"))
    trend: Trend | None = Field(None, description=(
        "a test for trend of the primary endpoint across the arms (dose-ranging designs); None = none"))
    mcp_mod: McpMod | None = Field(None, description=(
        "the MCP-Mod multiple contrast test on SCr AUC over candidate dose-response shapes; None = none"))
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    pool_limit: int | None = Field(
        None, ge=10, le=MAX_PLAUSIBLE,
        description="simulate at most this many eligible patients under each arm (a seeded random subset); "
                    "None = all. Bounds the cost of enrolment rules that admit most of the population")
    solver: SolverOptions = Field(
        default_factory=SolverOptions,
        description="engine and tolerances of every virtual patient's simulation, untreated and treated alike: "
                    "{engine: batch} for the generated-C batch engine (docs/engine.md); default libRoadRunner")

    @property
    def output_times_h(self) -> np.ndarray:
        """Hours after bypass at which every virtual patient is simulated (:func:`follow_up_grid`)."""
        return follow_up_grid(self.inclusion, self.endpoints)

    @model_validator(mode="after")
    def _consistent(self):
        names = [a.name for a in self.arms]
        if self.interim is not None and len(names) > 2:
            interim = self.interim
            if interim.futility_z is None and interim.futility_beta is None:
                raise ValueError(
                    f"interim: with {len(names)} arms an interim look drops the treated arms whose signed z is below "
                    "a futility boundary (arm dropping; no early efficacy stop): give interim.futility_z (e.g. 0: "
                    "drop an arm whose effect points the wrong way) or interim.futility_beta (boundaries that spend "
                    "a type-II error, e.g. {beta: 0.2})")
            # judged by value, not by which fields were given: a full model_dump of a valid design (and the
            # web form, whose select always posts one) carries the default spending and must validate again
            default = Interim.model_fields["spending"].default
            chosen = [k for k, off in (("spending", interim.spending != default), ("gamma", interim.gamma is not None))
                      if off]
            if chosen:
                raise ValueError(f"interim.{chosen[0]}: with {len(names)} arms the looks only drop arms for "
                                 "futility and spend no alpha (the final analysis is the multiplicity-adjusted test "
                                 "of every arm); drop the alpha-spending settings")
        if self.trend is not None and self.trend.scores is not None:
            scores = self.trend.scores
            if len(scores) != len(names):
                raise ValueError(f"trend.scores: {len(scores)} scores for {len(names)} arms; give one per arm, "
                                 f"control first ({', '.join(names)})")
            if len(set(scores)) < 2:
                raise ValueError("trend.scores: every arm has the same score, so there is no order to test; "
                                 "give the arms different scores (e.g. their doses)")
        if self.mcp_mod is not None:
            from nephrosim.trials.mcpmod import model_means, optimal_contrasts, placebo_adjusted_contrasts, \
                planned_log_hr_covariance

            if self.mcp_mod.endpoint == "make90" and self.endpoints.horizon_days < 90.0:
                raise ValueError(f"mcp_mod.endpoint make90 reads MAKE at day 90 but endpoints.horizon_days is "
                                 f"{self.endpoints.horizon_days:g}; set horizon_days: 90 or use make30")
            if len(self.mcp_mod.doses) != len(names):
                raise ValueError(f"mcp_mod.doses: {len(self.mcp_mod.doses)} doses for {len(names)} arms; give one per "
                                 f"arm, control first ({', '.join(names)})")
            for k, shape in enumerate(self.mcp_mod.shapes):
                try:
                    means = model_means(shape.shape, self.mcp_mod.doses, shape.ed50, shape.delta, shape.hill,
                                        shape.delta1, shape.delta2)
                    if self.mcp_mod.on_estimates:
                        placebo_adjusted_contrasts(means[1:] - means[0], planned_log_hr_covariance([a.n for a in self.arms]))
                    else:
                        optimal_contrasts(means, [a.n for a in self.arms])
                except ValueError as exc:
                    raise ValueError(f"mcp_mod.shapes.{k} ({shape.label}): {exc}") from None
        if self.subgroups:
            from nephrosim.trials.subgroups import SUBGROUP_CUTS

            known = [c.covariate for c in SUBGROUP_CUTS]
            bad = [c for c in self.subgroups if c not in known]
            if bad:
                raise ValueError(f"subgroups: {bad[0]!r} is not a baseline covariate of the virtual population; "
                                 f"use {', '.join(known)}")
            if len(set(self.subgroups)) != len(self.subgroups):
                raise ValueError("subgroups: a covariate is listed twice; list each once")
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"arm names must differ; {', '.join(map(repr, twice))} is given more than once")
        for arm in self.arms:
            if arm.treatment is None:
                continue
            if self.inclusion.kind == "all" and arm.timing.relative_to == "diagnosis":
                raise ValueError(f"arm {arm.name!r}: timing relative_to diagnosis needs inclusion kind scr_rise "
                                 "(with kind all there is no diagnosis); use relative_to: surgery")
            if (self.inclusion.kind == "scr_rise" and arm.timing.relative_to == "surgery"
                    and arm.timing.delay_h < self.inclusion.within_h):
                raise ValueError(
                    f"arm {arm.name!r}: a dose {arm.timing.delay_h:g} h after surgery can come before the "
                    f"diagnosis (up to {self.inclusion.within_h:g} h), i.e. before randomization; use "
                    "relative_to: diagnosis, a delay_h >= inclusion.within_h, or inclusion kind all")
        return self

    @property
    def control(self) -> TrialArm:
        return self.arms[0]

    def mcp_contrasts(self) -> tuple[np.ndarray, float] | None:
        """The MCP-Mod contrasts (shape × arm on SCr AUC, shape × treated arm on recovery) for the planned
        arm sizes and their critical value at one-sided ``alpha / 2`` (``None`` without ``mcp_mod``)."""
        if self.mcp_mod is None:
            return None
        from nephrosim.trials.mcpmod import planned_test

        return planned_test(self.mcp_mod.doses,
                            tuple((m.shape, m.ed50, m.delta, m.hill, m.delta1, m.delta2) for m in self.mcp_mod.shapes),
                            tuple(a.n for a in self.arms), self.alpha / 2, self.mcp_mod.endpoint)

    def mcp_task(self) -> tuple | None:
        """What each replicate's contrast test needs: ``(endpoint, planned contrasts)``, or with an estimated
        covariance ``(endpoint, planned contrasts, effects[shape, treated arm], one-sided alpha)`` — the
        shapes' effects over placebo, from which each trial builds its own contrasts
        (:func:`~nephrosim.trials.mcpmod.generalized_test`). ``None`` without ``mcp_mod``."""
        if self.mcp_mod is None:
            return None
        from nephrosim.trials.mcpmod import model_means

        contrasts, _ = self.mcp_contrasts()
        if not self.mcp_mod.estimated_covariance:
            return (self.mcp_mod.endpoint, contrasts)
        means = np.vstack([model_means(m.shape, self.mcp_mod.doses, m.ed50, m.delta, m.hill, m.delta1, m.delta2)
                           for m in self.mcp_mod.shapes])
        return (self.mcp_mod.endpoint, contrasts, means[:, 1:] - means[:, :1], self.alpha / 2)

    def mcp_modelling(self) -> tuple[float, tuple[float, ...], tuple[str, ...], float, bool] | None:
        """What MCP-Mod's modelling step needs in each replicate: (the critical value, the doses, the shape
        names in the contrasts' order, the target effect Δ, whether to average by AIC weights); ``None``
        without ``mcp_mod.target_effect``."""
        if self.mcp_mod is None or self.mcp_mod.target_effect is None:
            return None
        _, critical = self.mcp_contrasts()
        return (critical, self.mcp_mod.doses, tuple(m.shape for m in self.mcp_mod.shapes),
                self.mcp_mod.target_effect, self.mcp_mod.selection == "ave_aic")

    @property
    def trend_scores(self) -> tuple[float, ...] | None:
        """The arms' scores of the test for trend (``None`` without one)."""
        if self.trend is None:
            return None
        return self.trend.scores if self.trend.scores is not None else tuple(float(k) for k in range(len(self.arms)))


def trial_from_dict(data, source: str = "") -> TrialDesign:
    """Validate a mapping into a :class:`TrialDesign`, raising :class:`TrialError`."""
    return validate(TrialDesign, data, source, "trial", TrialError)


def load_trial(path: str | Path) -> TrialDesign:
    """Read and validate a trial YAML (or JSON) file."""
    return trial_from_dict(read_mapping(path, "trial", TrialError), str(path))
