"""``trial-design``: which trial design would show an effect, with what power — under the model's uncertainty.

A search spec (YAML, :class:`DesignSearch`) names a base trial and lists, for each design
choice, the candidates to compare:

* ``inclusion`` — enrolment rule and enrichment (SCr rise, baseline eGFR window, or everyone
  randomized at surgery);
* ``timing`` — when the dose is given (after diagnosis, at or after surgery);
* ``treatment`` — product, dose, route (``null`` = a second placebo arm: a zero-effect control);
* ``n_per_arm`` — sample size;
* ``endpoint`` — ``recovery`` (time to recovery, log-rank), ``scr_auc`` (Mann–Whitney) or
  ``make30`` (major adverse kidney events by 30 days, Fisher's exact test);
* ``multi_arm`` — designs with several treated arms: each entry lists positions in ``treatment``,
  one treated arm each against one control, the comparisons adjusted with the base trial's
  ``multiplicity`` (:func:`multi_arm_power`); they are crossed with the other lists.

Every combination is a candidate design; a combination the trial schema refuses (a dose
before the diagnosis that randomizes the patient) is listed as skipped, with the reason.

**Model uncertainty.** ``uncertainty.parameters`` names therapy parameters (the MSC/EV
kinetics and potency, which do not act in the untreated arm); each of ``uncertainty.draws``
draws sets them within the parameter table's [lower, upper] range (the table gives each range
its provenance): by default (``prior: range``) around the table's value — the split
log-normal of ``simulate --uncertainty``, median at the value the nominal model uses, each bound
1.96 log-SDs away, truncated there — or (``prior: log_uniform``, the only choice before session
19) every value of the range equally likely, which centres the draws on the range's geometric
midpoint wherever the model's value lies. Both read the same uniforms (``default_rng([seed, 4])``),
so a draw is the same quantile under either prior. Every draw simulates the eligible patients once
more under each treatment; the untreated arm is the same in every draw.

**What is reported per design** (over draws × replicates; replicate ``r`` draws the same
patients, ``default_rng([seed, 2, r])``, in every design — common random numbers, so designs
are compared on the same virtual trials):

* ``power`` — share of trials with p < alpha (two-sided) on the design's endpoint, with a
  95 % Monte-Carlo interval: the wider of the Clopper–Pearson interval over all trials (statsmodels
  ``proportion_confint``: replicate noise) and a t interval over the draws' own shares (the draws
  sample the parameters' uncertainty; with a handful of draws their spread dominates). The same for
  ``p_success`` and ``p_correct``;
* ``p_success`` — share significant *and* favouring treatment (shorter mean time to recovery
  — the restricted mean, since censoring is only at the horizon — or a lower mean SCr AUC);
* ``p_correct`` — probability of a correct decision: claiming benefit when the draw's true
  effect (on the whole eligible pool, each patient simulated under both arms) is at least
  ``minimal_effect``, and not claiming it otherwise;
* ``true_effect`` — that pool-level relative reduction (median, min, max over draws);
* ``pareto`` — not dominated in (``p_success`` higher, total n lower).

The summary's ``sample_size`` answers "how many patients": per design, the patients per arm at which
P(success) reaches ``target_success`` (0.8 by default), interpolated between the ``n_per_arm``
candidates (:func:`sample_sizes`), or the best P(success) seen when no candidate size reaches it.

A multi-arm design (``treated_arms`` > 1) reads ``power`` as at least one arm rejected after the
adjustment (the family-wise error under no effect), ``p_success`` as at least one arm rejected and
favouring treatment, ``p_correct`` as every arm's claim right, and adds ``power_all`` (every arm
rejected and favouring) and ``true_effect_by_arm``. With interim looks in the base (``futility_z`` or
``futility_beta``, as a multi-arm trial requires) its arms are dropped for futility as ``nephrosim trial``
drops them, adding
``dropped_share``, ``stopped_for_futility_share`` and ``expected_total_n``.

Tests: log-rank by ``statsmodels.duration.survfunc.survdiff`` (the same statistic as the
lifelines log-rank ``nephrosim trial`` uses, 80× faster); Mann–Whitney by ``scipy.stats``.

Resumable: each simulated condition (inclusion × timing × treatment × draw) and each
design's result is saved atomically in ``<out>.parts/`` as soon as it is done; a rerun of
the same spec and seed computes only what is missing (the untreated population is
re-simulated, deterministically). A different spec or seed refuses to mix with old parts.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import shutil
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Callable, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from nephrosim.errors import UserInputError
from nephrosim.inputs import InputFileError, StrictModel, read_mapping, validate
from nephrosim.io import atomic_path, check_writable, write_frame, write_text_atomic
from nephrosim.progress import ProgressBar
from nephrosim.scenarios.products import EV, MSC, ConditionedMedium
from nephrosim.trials.analysis import binary_events, fisher_p
from nephrosim.trials.design import Accrual, Inclusion, Interim, Timing, TrialDesign, TrialError, follow_up_grid, \
    load_trial, trial_from_dict
from nephrosim.trials.endpoints import PatientOutcomes, outcomes
from nephrosim.trials.execute import open_executor
from nephrosim.trials.population import build_population, compiled_parameters, population_scenario, \
    simulate_groups
from nephrosim.trials.run import MAX_SEED, assemble_groups, censor_at_loss, eligible_pool, losses, treated_groups

MAX_DESIGNS = 5000
MAX_REPLICATES = 20_000


class SearchError(InputFileError):
    """A design-search spec that cannot be run; one line per bad field."""


class Candidates(StrictModel):
    """The design choices to compare; each list's entries are crossed with the others'."""

    inclusion: tuple[Inclusion, ...] | None = Field(None, max_length=20,
                                                    description="enrolment rules; default: the base trial's")
    timing: tuple[Timing, ...] | None = Field(None, max_length=20,
                                              description="dose timings; default: the base trial's")
    treatment: tuple[Annotated[MSC | ConditionedMedium | EV, Field(discriminator="product")] | None,
                     ...] | None = Field(
        None, max_length=20,
        description="products and doses; null = placebo (zero-effect control); default: the base trial's")
    n_per_arm: tuple[Annotated[int, Field(ge=2, le=5000)], ...] | None = Field(
        None, max_length=20, description="patients per arm; default: the base trial's")
    endpoint: tuple[Literal["recovery", "scr_auc", "make30", "make90"], ...] | None = Field(
        None, max_length=4, description="primary endpoints (make90 needs the base trial's horizon_days: 90); "
                                        "default: the base trial's")
    multi_arm: tuple[tuple[Annotated[int, Field(ge=0)], ...], ...] | None = Field(
        None, max_length=20, description=(
            "multi-arm designs: each entry lists two or more positions in `treatment` (0 = the first), one treated "
            "arm each, all against one control and tested with the base trial's multiplicity adjustment; e.g. "
            "[[0, 1]] adds a three-arm design with the first two treatments (crossed with inclusion, timing, "
            "n_per_arm and endpoint like the rest)"))

    @field_validator("multi_arm")
    @classmethod
    def _sets(cls, v):
        for k, arm_set in enumerate(v or ()):
            if len(arm_set) < 2:
                raise ValueError(f"entry {k} lists {len(arm_set)} treatment(s); a multi-arm design needs two or more "
                                 "(a single treatment is already a two-arm candidate)")
            if len(set(arm_set)) != len(arm_set):
                raise ValueError(f"entry {k} lists a treatment twice; list each position once")
        return v

    @field_validator("inclusion", "timing", "treatment", "n_per_arm", "endpoint", "multi_arm")
    @classmethod
    def _not_empty(cls, v, info):
        if v is not None and len(v) == 0:
            raise ValueError(f"an empty list compares nothing; list at least one {info.field_name} or leave it out "
                             "(the base trial's is used)")
        return v


class Uncertainty(StrictModel):
    """Therapy parameters drawn within the parameter table's [lower, upper] (see the module text)."""

    parameters: tuple[Annotated[str, Field(min_length=1, max_length=100)], ...] = Field(max_length=20)
    draws: int = Field(3, ge=1, le=200, description="parameter draws (each re-simulates every treatment)")
    prior: Literal["range", "log_uniform"] = Field("range", description=(
        "range: around the table's value within its range (median at the model's value; the draws of "
        "simulate --uncertainty); log_uniform: every value of the range equally likely"))

    @field_validator("parameters")
    @classmethod
    def _not_empty(cls, v):
        if len(v) == 0:
            raise ValueError("name at least one therapy parameter, or remove `uncertainty`")
        if len(set(v)) != len(v):
            raise ValueError("a parameter is listed twice; list each once")
        return v


class MinimalEffect(StrictModel):
    """The smallest pool-level relative reduction worth detecting (for ``p_correct``).

    Defaults are **assumed** (no source gives a minimal clinically important difference for
    these endpoints after cardiac surgery): 10 % (plausible range 5–25 %).
    """

    recovery: float = Field(0.10, ge=0.0, lt=1.0, description="relative reduction of mean time to recovery")
    scr_auc: float = Field(0.10, ge=0.0, lt=1.0, description="relative reduction of mean SCr AUC")
    make30: float = Field(0.10, ge=0.0, lt=1.0, description="relative reduction of the MAKE30 risk")
    make90: float = Field(0.10, ge=0.0, lt=1.0, description="relative reduction of the MAKE90 risk")


class DesignSearch(StrictModel):
    """A search over trial designs (see the module docstring)."""

    name: str = Field("design search", min_length=1, max_length=200)
    base: str | dict = Field(description="the base trial: a trial YAML path (relative to this file) or its fields")
    candidates: Candidates = Field(default_factory=Candidates)
    uncertainty: Uncertainty | None = Field(None, description="model uncertainty; none = the nominal model only")
    replicates: int = Field(200, ge=10, le=MAX_REPLICATES, description="replicate trials per design and draw")
    minimal_effect: MinimalEffect = Field(default_factory=MinimalEffect)
    target_success: float = Field(0.8, gt=0.0, lt=1.0, description=(
        "the P(success) a design should reach: the summary's sample_size gives, per design, the patients per arm "
        "that reach it, interpolated between the n_per_arm candidates"))
    pool_limit: int | None = Field(400, ge=10, le=200_000,
                                   description="eligible patients simulated per condition (seeded subset); null = all")

    @model_validator(mode="after")
    def _not_too_many(self):
        c = self.candidates
        n_treatments = len(c.treatment or (None,))
        for k, arm_set in enumerate(c.multi_arm or ()):
            bad = [j for j in arm_set if j >= n_treatments]
            if bad:
                raise ValueError(f"candidates.multi_arm.{k}: position {bad[0]} is not in candidates.treatment, which "
                                 f"lists {n_treatments} (positions 0-{n_treatments - 1}); list the treatments first")
        count = n_treatments + len(c.multi_arm or ())
        for values in (c.inclusion, c.timing, c.n_per_arm, c.endpoint):
            count *= len(values or (None,))
        if count > MAX_DESIGNS:
            raise ValueError(f"the candidates make {count:,} designs, above {MAX_DESIGNS:,}; shorten the lists")
        return self


def search_from_dict(data, source: str = "") -> DesignSearch:
    """Validate a mapping into a :class:`DesignSearch`, raising :class:`SearchError`."""
    return validate(DesignSearch, data, source, "design search", SearchError)


def load_search(path: str | Path) -> tuple[DesignSearch, TrialDesign]:
    """Read a search spec and its base trial."""
    path = Path(path)
    spec = search_from_dict(read_mapping(path, "design search", SearchError), str(path))
    if isinstance(spec.base, str):
        base_path = (path.parent / spec.base) if not Path(spec.base).is_absolute() else Path(spec.base)
        try:
            base = load_trial(base_path)
        except TrialError as exc:
            raise SearchError(str(path), [f"base: {spec.base!r}: {exc}"]) from None
    else:
        base = trial_from_dict(spec.base, f"{path} (base)")
    if len(base.arms) != 2:
        raise SearchError(str(path), [f"base: {_not_two_arms(base)}"])
    return spec, base


def _not_two_arms(base: TrialDesign) -> str:
    return (f"{len(base.arms)} arms ({', '.join(a.name for a in base.arms)}): the design search varies the one "
            "treated arm of a two-arm base design (its candidates list the treatments to compare); keep the control "
            "and one treated arm in the base and list multi-arm designs under candidates.multi_arm, or run the "
            "multi-arm design with `nephrosim trial`")


# --- candidate designs --------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """One design: indices into the candidate lists, and the validated trial."""

    inclusion: int
    timing: int
    treatment: int
    n_per_arm: int
    endpoint: str
    design: TrialDesign | None
    skipped: str = ""
    #: a multi-arm design's treatments (positions in the candidate list, one treated arm each; ``treatment``
    #: is then -1); empty for a two-arm design
    arm_set: tuple[int, ...] = ()

    @property
    def condition(self) -> tuple[int, int, int]:
        return (self.inclusion, self.timing, self.treatment)

    @property
    def treatments(self) -> tuple[int, ...]:
        """The treated arms' positions in the candidate list, in arm order."""
        return self.arm_set or (self.treatment,)

    @property
    def total_n(self) -> int:
        return (len(self.treatments) + 1) * self.n_per_arm


def _lists(spec: DesignSearch, base: TrialDesign):
    if len(base.arms) != 2:
        raise UserInputError(f"base design: {_not_two_arms(base)}")
    c = spec.candidates
    trt = base.arms[1]
    return (c.inclusion or (base.inclusion,), c.timing or (trt.timing,), c.treatment or (trt.treatment,),
            c.n_per_arm or (base.arms[1].n,), c.endpoint or (base.endpoints.primary,))


def candidates(spec: DesignSearch, base: TrialDesign) -> list[Candidate]:
    """Every combination of the candidate lists, validated as a trial (skipped ones say why)."""
    inclusions, timings, treatments, sizes, endpoints = _lists(spec, base)
    ctl, trt = base.arms
    out = []
    for (i, inc), (t, tim), (k, treat), n, ep in itertools.product(
            enumerate(inclusions), enumerate(timings), enumerate(treatments), sizes, endpoints):
        if treat is None and t > 0:
            continue  # a placebo arm has no timing: one candidate per inclusion, size and endpoint
        data = base.model_dump(mode="json")
        data.update(inclusion=inc.model_dump(mode="json"), pool_limit=spec.pool_limit)
        data["endpoints"]["primary"] = ep
        data["arms"] = [{**ctl.model_dump(mode="json"), "n": n},
                        {"name": trt.name if treat is not None else f"{ctl.name}_2", "n": n,
                         "treatment": None if treat is None else treat.model_dump(mode="json", exclude={"time_h"}),
                         "timing": tim.model_dump(mode="json")}]
        try:
            design, why = trial_from_dict(data, "candidate"), ""
        except TrialError as exc:
            design, why = None, " ".join(str(exc).split())
        if design is not None and inc.kind == "all" and ep == "recovery":
            design, why = None, ("endpoint recovery with inclusion kind all: patients randomized at surgery mostly "
                                 "never have AKI, so time to recovery is not defined for them; use scr_auc")
        out.append(Candidate(i, t, k, n, ep, design, why))
    for (i, inc), (t, tim), arm_set, n, ep in itertools.product(
            enumerate(inclusions), enumerate(timings), spec.candidates.multi_arm or (), sizes, endpoints):
        data = base.model_dump(mode="json")
        data.update(inclusion=inc.model_dump(mode="json"), pool_limit=spec.pool_limit)
        data["endpoints"]["primary"] = ep
        data["arms"] = [{**ctl.model_dump(mode="json"), "n": n}] + [
            {"name": f"{trt.name if treatments[j] is not None else ctl.name}_{j + 1}", "n": n,
             "treatment": None if treatments[j] is None else treatments[j].model_dump(mode="json", exclude={"time_h"}),
             "timing": tim.model_dump(mode="json")} for j in arm_set]
        try:
            design, why = trial_from_dict(data, "candidate"), ""
        except TrialError as exc:  # e.g. interim looks without futility_z: a multi-arm trial only drops arms
            design, why = None, " ".join(str(exc).split())
        if design is not None and inc.kind == "all" and ep == "recovery":
            design, why = None, ("endpoint recovery with inclusion kind all: patients randomized at surgery mostly "
                                 "never have AKI, so time to recovery is not defined for them; use scr_auc")
        out.append(Candidate(i, t, -1, n, ep, design, why, tuple(arm_set)))
    return out


def uncertainty_draws(spec: DesignSearch, seed: int) -> tuple[list[str], np.ndarray, list[dict]]:
    """Names, draws ``[draw, parameter]`` and the table range (with provenance) of each parameter."""
    if spec.uncertainty is None:
        return [], np.zeros((1, 0)), []
    from nephrosim.biology.parameters import ParameterTable

    table = ParameterTable.default()
    names = list(spec.uncertainty.parameters)
    ranges = []
    for name in names:
        try:
            rec = table.record(name, "human")
        except KeyError:
            close = table.closest_names(name) if hasattr(table, "closest_names") else []
            raise UserInputError(f"uncertainty.parameters: {name!r} is not in the parameter table"
                                 + (f"; did you mean {', '.join(map(repr, close[:3]))}?" if close else "")) from None
        if rec.lower is None or rec.upper is None or not 0 < rec.lower <= rec.upper:
            raise UserInputError(f"uncertainty.parameters: {name!r} has no positive [lower, upper] range in the "
                                 "parameter table to draw from; choose a parameter that has one")
        ranges.append({"parameter": name, "nominal": rec.value, "lower": rec.lower, "upper": rec.upper,
                       "unit": rec.unit, "provenance": rec.provenance})
    u = np.random.default_rng([seed, 4]).random((spec.uncertainty.draws, len(names)))
    lower, upper = (np.array([r[k] for r in ranges]) for k in ("lower", "upper"))
    if spec.uncertainty.prior == "log_uniform":
        return names, np.exp(np.log(lower) + (np.log(upper) - np.log(lower)) * u), ranges
    from nephrosim.run.ensemble.priors import range_quantiles

    nominal = np.clip([r["nominal"] for r in ranges], lower, upper)
    return names, range_quantiles(u, nominal, lower, upper), ranges


def _check_therapy_parameters(names: list[str], treatments) -> dict[int, list[int]]:
    """Which uncertain parameters act in each treatment's model; refuse any acting when untreated."""
    if not names:
        return {}
    untreated = compiled_parameters(population_scenario())
    acting = [n for n in names if n in untreated]
    if acting:
        raise UserInputError(f"uncertainty.parameters: {', '.join(map(repr, acting))} act(s) in the untreated "
                             "model; only therapy parameters can be drawn here (the untreated population is "
                             "simulated once) — remove them")
    used, out = set(), {}
    for k, treat in enumerate(treatments):
        if treat is None:
            continue
        params = compiled_parameters(population_scenario((treat,)))
        out[k] = [j for j, n in enumerate(names) if n in params]
        used.update(names[j] for j in out[k])
    unused = [n for n in names if n not in used]
    if unused:
        raise UserInputError(f"uncertainty.parameters: {', '.join(map(repr, unused))} act(s) in none of the "
                             "candidate treatments; remove them")
    return out


# --- statistics of one design ---------------------------------------------------------------
def _logrank_p(t_c, e_c, t_t, e_t) -> float:
    from statsmodels.duration.survfunc import survdiff

    time = np.concatenate([t_c, t_t])
    status = np.concatenate([e_c, e_t]).astype(int)
    if status.sum() == 0:
        return 1.0
    if status.all() and np.all(time == time[0]):
        return 1.0  # every patient has the event at the same time: no information, zero variance
    group = np.r_[np.zeros(len(t_c)), np.ones(len(t_t))]
    return float(survdiff(time, status, group)[1])


def _auc_p(a_c, a_t) -> float:
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(a_c, a_t).pvalue)


def true_effect(control: PatientOutcomes, treated: PatientOutcomes, endpoint: str) -> float:
    """Pool-level relative reduction: mean time to recovery (restricted at the horizon), mean SCr AUC or
    mean MAKE30 risk."""
    if endpoint == "recovery":
        c, t = control.recovery_days.mean(), treated.recovery_days.mean()
    elif endpoint in ("make30", "make90"):
        c, t = getattr(control, endpoint).mean(), getattr(treated, endpoint).mean()
    else:
        c, t = control.scr_auc.mean(), treated.scr_auc.mean()
    return float(1.0 - t / c) if c > 0 else 0.0


def _replicate_data(endpoint: str, control: PatientOutcomes, treated: PatientOutcomes, ic, it, r: int,
                    seed: int, loss) -> tuple:
    """Replicate ``r``'s per-patient data of the endpoint for control and treated, in randomization order:
    ``(values_c, values_t, flags_c, flags_t)`` — times to recovery and recovery events (censored at loss),
    or SCr AUCs / MAKE events with the not-lost masks (:func:`_replicate_arms` with two arms)."""
    (values_c, flags_c), (values_t, flags_t) = _replicate_arms(endpoint, [control, treated], [ic, it], r, seed, loss)
    return values_c, values_t, flags_c, flags_t


def _replicate_arms(endpoint: str, arms: list[PatientOutcomes], idx: list[np.ndarray], r: int, seed: int,
                    loss) -> list[tuple[np.ndarray, np.ndarray]]:
    """Replicate ``r``'s per-patient data of the endpoint in each arm (control first), in randomization order:
    ``(values, flags)`` per arm — times to recovery and recovery events (censored at loss), or SCr AUCs /
    MAKE events with the not-lost masks. ``loss``: each arm's ``(lost, when)`` (:func:`losses`) or None."""
    kept = [np.ones(i.size, bool) for i in idx] if loss is None else [~lost for lost, _ in loss]
    if endpoint == "recovery":
        out = []
        for j, (o, i) in enumerate(zip(arms, idx)):
            days, rec = o.recovery(r)
            days, rec = days[i], rec[i]
            if loss is not None:
                days, rec = censor_at_loss(days, rec, *loss[j])
            out.append((days, rec))
        return out
    if endpoint in ("make30", "make90"):
        # the events nephrosim trial's replicate r draws (run._replicate_task): its stream
        # default_rng([seed, 2, r]) after the permutation and the two death draws of each arm, then
        # binary_events in its order; every model draw k reads the same uniforms (common random numbers)
        rng = np.random.default_rng([seed, 2, r])
        rng.permutation(arms[0].size)
        for _ in range(2):  # death (model survival), then death by stage: arm by arm, control first
            for i in idx:
                rng.random(i.size)
        events = binary_events(rng, [o.rows(i) for o, i in zip(arms, idx)])
        return list(zip(events["make" if endpoint == "make30" else "make90"], kept))
    return [(o.scr_auc[i], k) for o, i, k in zip(arms, idx, kept)]


def _test(endpoint: str, data: tuple, m: int) -> tuple[float, bool]:
    """The endpoint's two-sided p and whether it favours treatment, on the first ``m`` patients of each arm
    (all of them at the final analysis, fewer at an interim look)."""
    values_c, values_t, flags_c, flags_t = (x[:m] for x in data)
    if endpoint == "recovery":
        # direction only from the means: censoring hits both arms alike
        return _logrank_p(values_c, flags_c, values_t, flags_t), bool(values_t.mean() < values_c.mean())
    values_c, values_t = values_c[flags_c], values_t[flags_t]
    if not (values_c.size and values_t.size):
        return 1.0, False
    p = fisher_p(values_c, values_t) if endpoint in ("make30", "make90") else _auc_p(values_c, values_t)
    return p, bool(values_t.mean() < values_c.mean())


def _randomized(pool: int, arms: int, n_per_arm: int, replicates: int, seed: int, dropout: tuple[float, float]):
    """``nephrosim trial``'s replicate trials of ``arms`` arms of ``n_per_arm`` (control first) from a pool of
    ``pool`` patients: each replicate's patient indices per arm (``default_rng([seed, 2, r])``'s permutation)
    and its losses to follow-up (:func:`~nephrosim.trials.run.losses`; None without dropout)."""
    total = arms * n_per_arm
    if total > pool:
        raise UserInputError(f"n_per_arm={n_per_arm}: the eligible pool has {pool} patients, fewer than the "
                             f"{total} one trial of {arms} arms needs; raise pool_limit or virtual_patients")
    sizes = (n_per_arm,) * arms
    picks = [np.split(np.random.default_rng([seed, 2, r]).permutation(pool)[:total], np.cumsum(sizes)[:-1])
             for r in range(replicates)]
    lost = [None if dropout[0] <= 0 else losses(seed, r, sizes, *dropout) for r in range(replicates)]
    return picks, lost


def design_power(control: PatientOutcomes, treated_by_draw: list[PatientOutcomes], n_per_arm: int, endpoint: str,
                 replicates: int, seed: int, alpha: float, minimal_effect: float,
                 dropout: tuple[float, float] = (0.0, 0.0),
                 interim: Interim | None = None, accrual: Accrual | None = None) -> dict:
    """Power, success and correct-decision probabilities of one design over draws × replicates.

    ``control`` and each ``treated_by_draw[k]`` hold the same pool patients (row ``i`` is one
    patient, untreated and treated). Replicate ``r`` randomizes ``n_per_arm`` + ``n_per_arm``
    distinct pool patients with ``default_rng([seed, 2, r])`` and, with measured SCr, reads the
    recovery times of noise draw ``r`` (:meth:`PatientOutcomes.recovery`). ``dropout`` =
    ``(probability, horizon_days)`` (:class:`~nephrosim.trials.design.Dropout`): a lost patient's time
    to recovery is censored when lost (unless they recovered first) and the SCr AUC and MAKE endpoints
    are compared on the patients not lost — as in ``nephrosim trial``, with the same losses.
    ``interim`` (:class:`~nephrosim.trials.design.Interim`): the trial stops at the first look whose |z|
    reaches its boundary (:mod:`nephrosim.trials.sequential`), or, with a futility rule (``futility_z`` or
    ``futility_beta``), at an interim look whose signed z (negative when the effect points against
    treatment) is below the look's futility boundary, claiming nothing; power and success are then the
    group-sequential ones, and ``expected_n_per_arm`` / ``early_stop_share`` (and ``futility_stop_share``)
    are added. ``accrual`` (:class:`~nephrosim.trials.design.Accrual`, follow-up ``dropout[1]`` days) adds
    ``planned_duration_months`` and, with interim looks, ``expected_duration_months`` and
    ``expected_enrolled_per_arm`` (a stop keeps the patients enrolled by its look).
    """
    from nephrosim.trials.sequential import z_of_p

    picks, lost = _randomized(control.size, 2, n_per_arm, replicates, seed, dropout)
    looks = () if interim is None else tuple(math.ceil(f * n_per_arm) for f in interim.information)
    bounds, futility, _ = (None, None, None) if interim is None else interim.boundaries(alpha)
    draws = len(treated_by_draw)
    sig, fav, correct = np.zeros(draws, int), np.zeros(draws, int), np.zeros(draws, int)  # counts per draw
    used, early, futile = 0, 0, 0  # patients per arm analysed; trials stopped at a look, and for futility
    ended = np.zeros(len(looks) + 1, int)  # trials ended at each look (the final analysis last)
    effects = []
    for k, treated in enumerate(treated_by_draw):
        effect = true_effect(control, treated, endpoint)
        effects.append(effect)
        beneficial = effect >= minimal_effect
        for r, (ic, it) in enumerate(picks):
            data = _replicate_data(endpoint, control, treated, ic, it, r, seed, lost[r])
            stopped = False
            for j, m in enumerate(looks):
                p, favours = _test(endpoint, data, m)
                z = z_of_p(p)
                if z >= bounds[j]:
                    stopped, significant, used, early = True, True, used + m, early + 1
                    ended[j] += 1
                    break
                if futility is not None and (z if favours else -z) < futility[j]:
                    stopped, significant, used, early, futile = True, False, used + m, early + 1, futile + 1
                    ended[j] += 1
                    break
            if not stopped:
                p, favours = _test(endpoint, data, n_per_arm)
                significant = p < alpha if bounds is None else bool(z_of_p(p) >= bounds[-1])
                used += n_per_arm
                ended[-1] += 1
            claim = significant and favours
            sig[k] += significant
            fav[k] += claim
            correct[k] += claim == beneficial
    trials = replicates * draws
    out = {}
    for key, count in (("power", sig), ("p_success", fav), ("p_correct", correct)):
        out[key], out[f"{key}_lo"], out[f"{key}_hi"] = _share_with_interval(count, replicates)
    if interim is not None:
        out.update(expected_n_per_arm=round(used / (replicates * draws), 2),
                   early_stop_share=round(early / (replicates * draws), 4))
        if futility is not None:
            out["futility_stop_share"] = round(futile / (replicates * draws), 4)
    if accrual is not None:
        info = (*interim.information, 1.0) if interim is not None else (1.0,)
        months, enrolled, _ = accrual.calendar((n_per_arm, n_per_arm), info, dropout[1])
        out["planned_duration_months"] = round(float(months[-1]), 2)
        if interim is not None:
            share = ended / ended.sum()
            out["expected_duration_months"] = round(float(share @ months), 2)
            out["expected_enrolled_per_arm"] = round(float(share @ enrolled[:, 0]), 2)
    e = np.asarray(effects)
    out.update(true_effect_median=round(float(np.median(e)), 4), true_effect_min=round(float(e.min()), 4),
               true_effect_max=round(float(e.max()), 4), trials=trials)
    return out


def multi_arm_power(control: PatientOutcomes, treated_by_draw: list[list[PatientOutcomes]], n_per_arm: int,
                    endpoint: str, replicates: int, seed: int, alpha: float, minimal_effect: float,
                    multiplicity: str = "holm", dropout: tuple[float, float] = (0.0, 0.0),
                    interim: Interim | None = None, accrual: Accrual | None = None) -> dict:
    """Power, success and correct-decision probabilities of a design with several treated arms, each compared
    with one control, over draws × replicates — the reading of ``nephrosim trial`` on a multi-arm design.

    ``treated_by_draw[k][a]``: treated arm ``a``'s outcomes under model draw ``k`` (the same pool patients as
    ``control``, row by row). Replicate ``r`` randomizes ``n_per_arm`` distinct pool patients to each arm,
    control first, with ``default_rng([seed, 2, r])`` (``nephrosim trial``'s replicate ``r``), and loses
    patients as it does (``dropout``). Each arm's two-sided p against the control (:func:`_test`) is adjusted
    for multiplicity over the arms (:func:`nephrosim.trials.analysis.adjusted_rejections`: ``holm``,
    ``bonferroni``, ``dunnett`` or ``dunnett_stepdown``). Reported:

    * ``power``: at least one arm rejected (the disjunctive power; under no effect, the family-wise error);
    * ``p_success``: at least one arm rejected *and* favouring treatment;
    * ``p_correct``: every arm's claim of benefit (rejected and favouring) matches whether its true effect in
      the draw reaches ``minimal_effect``;
    * ``power_all``: every arm rejected and favouring (the conjunctive success);
    * ``true_effect_*``: over draws and arms; ``true_effect_by_arm``: each arm's median over draws.
    Intervals as in :func:`design_power`.

    ``interim`` (with ``futility_z`` or ``futility_beta``, as a multi-arm trial design requires): at each look
    an arm whose signed z against the control on its first patients is below the look's boundary
    (:meth:`~nephrosim.trials.design.Interim.arm_futility`) is dropped — it enrolls no more and is never
    rejected — and the final analysis adjusts over every planned arm, a dropped arm's p set to 1
    (:func:`nephrosim.trials.sequential.arm_dropping`, the reading of ``nephrosim trial``); then
    ``dropped_share`` (per arm), ``stopped_for_futility_share`` (every arm dropped) and ``expected_total_n``
    are added. ``accrual`` adds ``planned_duration_months`` and, with looks, ``expected_duration_months``
    (:func:`nephrosim.trials.sequential.dropping_calendar`)."""
    from nephrosim.trials.analysis import adjusted_rejections
    from nephrosim.trials.sequential import dropped_arms, dropping_calendar, patients_used

    arms = len(treated_by_draw[0])
    sizes = (n_per_arm,) * (arms + 1)
    picks, lost = _randomized(control.size, arms + 1, n_per_arm, replicates, seed, dropout)
    draws = len(treated_by_draw)
    looks = () if interim is None else tuple(math.ceil(f * n_per_arm) for f in interim.information)
    futility = None if interim is None else interim.arm_futility(alpha, arms)
    if interim is not None and futility is None:
        raise UserInputError("interim: a multi-arm design drops arms at its looks for futility only; give "
                             "interim.futility_z or interim.futility_beta")
    sig, fav, correct, every = (np.zeros(draws, int) for _ in range(4))
    dropped_count, all_out, used, months_total = np.zeros(arms), 0, np.zeros(arms + 1), 0.0
    calendar = None
    if accrual is not None:
        months, enrolled, _ = accrual.calendar(sizes, (*interim.information, 1.0) if interim else (1.0,), dropout[1])
        calendar = (months, enrolled)
    effects = np.array([[true_effect(control, t, endpoint) for t in treated] for treated in treated_by_draw])
    for k, treated in enumerate(treated_by_draw):
        beneficial = effects[k] >= minimal_effect
        p, favours = np.ones((arms, replicates)), np.zeros((arms, replicates), bool)
        p_looks, favours_looks = np.ones((arms, replicates, len(looks))), np.zeros((arms, replicates, len(looks)), bool)
        for r, idx in enumerate(picks):
            data = _replicate_arms(endpoint, [control, *treated], idx, r, seed, lost[r])
            for a in range(arms):
                (values_c, flags_c), (values_t, flags_t) = data[0], data[a + 1]
                pair = (values_c, values_t, flags_c, flags_t)
                p[a, r], favours[a, r] = _test(endpoint, pair, n_per_arm)
                for j, m in enumerate(looks):
                    p_looks[a, r, j], favours_looks[a, r, j] = _test(endpoint, pair, m)
        if looks:
            dropped, dropped_at = dropped_arms(p_looks, favours_looks, futility)
            p = np.where(dropped, 1.0, p)  # a dropped arm is never rejected
            dropped_count += dropped.sum(axis=1)
            all_out += int(dropped.all(axis=0).sum())
            used += np.asarray(patients_used(dropped_at, interim.information, sizes)) * replicates
            if calendar is not None:
                months_total += float(dropping_calendar(calendar, dropped_at)[0].sum())
        reject = adjusted_rejections(p, alpha, multiplicity, n_per_arm, [n_per_arm] * arms)
        claim = reject & favours
        sig[k] = int(reject.any(axis=0).sum())
        fav[k] = int(claim.any(axis=0).sum())
        every[k] = int(claim.all(axis=0).sum())
        correct[k] = int((claim == beneficial[:, None]).all(axis=0).sum())
    out = {}
    for key, count in (("power", sig), ("p_success", fav), ("p_correct", correct), ("power_all", every)):
        out[key], out[f"{key}_lo"], out[f"{key}_hi"] = _share_with_interval(count, replicates)
    out.update(true_effect_median=round(float(np.median(effects)), 4), true_effect_min=round(float(effects.min()), 4),
               true_effect_max=round(float(effects.max()), 4), trials=replicates * draws,
               true_effect_by_arm=json.dumps([round(float(v), 4) for v in np.median(effects, axis=0)]))
    if looks:
        trials = replicates * draws
        out.update(dropped_share=json.dumps([round(float(v / trials), 4) for v in dropped_count]),
                   stopped_for_futility_share=round(all_out / trials, 4),
                   expected_total_n=round(float(used.sum() / trials), 2))
        if calendar is not None:
            out["expected_duration_months"] = round(months_total / trials, 2)
    if calendar is not None:
        out["planned_duration_months"] = round(float(calendar[0][-1]), 2)
    return out


def _share_with_interval(per_draw: np.ndarray, replicates: int) -> tuple[float, float, float]:
    """The share over draws × replicates and its 95 % interval: the wider of the replicates'
    Clopper–Pearson interval and a t interval over the draws' shares (the draws are a sample of the
    parameters' uncertainty; with few draws their spread, not the replicates, sets the error)."""
    from statsmodels.stats.proportion import proportion_confint

    draws = len(per_draw)
    trials = replicates * draws
    count = int(np.sum(per_draw))
    lo, hi = proportion_confint(count, trials, alpha=0.05, method="beta")
    if draws > 1:
        from scipy.stats import t as student

        shares = np.asarray(per_draw) / replicates
        half = float(student.ppf(0.975, draws - 1) * shares.std(ddof=1) / np.sqrt(draws))
        lo, hi = min(lo, count / trials - half), max(hi, count / trials + half)
    return round(count / trials, 4), round(max(float(lo), 0.0), 4), round(min(float(hi), 1.0), 4)


#: The columns that make one design apart from its size: the sample-size answer varies n_per_arm within them.
FAMILY = ("inclusion", "timing", "treatment", "endpoint")


def sample_sizes(table, target: float) -> list[dict]:
    """Per design (the runnable rows sharing :data:`FAMILY`), the patients per arm that reach P(success)
    ``target``: the smallest candidate size whose P(success) reaches it, linearly interpolated from the
    size before it (P(success) against n per arm, the two bracketing candidates; ``interpolated`` False when
    the smallest candidate already reaches it). ``None`` when no candidate size reaches it, with the best
    P(success) seen and its size. Monte-Carlo noise can make P(success) dip between sizes; the first
    crossing counts. Sorted by the size needed, then those that never reach it by their best P(success)."""
    out = []
    ok = table[table["skipped"].fillna("") == ""]
    for key, rows in ok.groupby(list(FAMILY), sort=False):
        rows = rows.sort_values("n_per_arm")
        n, p = rows["n_per_arm"].to_numpy(float), rows["p_success"].to_numpy(float)
        entry = dict(zip(FAMILY, key))
        entry["treated_arms"] = int(rows["treated_arms"].iloc[0]) if "treated_arms" in rows else 1
        hit = np.flatnonzero(p >= target)
        if hit.size == 0:
            best = int(np.argmax(p))
            entry.update(n_per_arm=None, reached=False, best_p_success=float(p[best]),
                         at_n_per_arm=int(n[best]))
        elif hit[0] == 0:
            entry.update(n_per_arm=int(n[0]), reached=True, interpolated=False)
        else:
            k = hit[0]
            frac = (target - p[k - 1]) / (p[k] - p[k - 1])
            entry.update(n_per_arm=int(math.ceil(n[k - 1] + frac * (n[k] - n[k - 1]) - 1e-9)), reached=True,
                         interpolated=True)
        out.append(entry)
    return sorted(out, key=lambda e: (0, e["n_per_arm"]) if e["reached"] else (1, -e["best_p_success"]))


def pareto_front(power: np.ndarray, total_n: np.ndarray) -> np.ndarray:
    """True where no other design has power ≥ and n ≤, one of them strictly."""
    p, n = np.asarray(power, float), np.asarray(total_n, float)
    dominated = ((p[None, :] >= p[:, None]) & (n[None, :] <= n[:, None])
                 & ((p[None, :] > p[:, None]) | (n[None, :] < n[:, None])))
    return ~dominated.any(axis=1)


# --- the search -----------------------------------------------------------------------------
@dataclass
class SearchResult:
    """The ranked design table and the context to read it."""

    table: object          # pandas.DataFrame, one row per candidate design (skipped ones last)
    summary: dict
    computed: dict         # conditions and designs computed in this run (the rest were resumed)


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _save_outcomes(path: Path, o: PatientOutcomes, usable: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, usable=usable, **{f.name: getattr(o, f.name) for f in fields(o)})


def _load_outcomes(path: Path) -> tuple[PatientOutcomes, np.ndarray]:
    with np.load(path) as z:
        return PatientOutcomes(**{f.name: z[f.name] for f in fields(PatientOutcomes)}), z["usable"].copy()


def _subset(o: PatientOutcomes, rows: np.ndarray) -> PatientOutcomes:
    return o.rows(rows)


def run_search(spec: DesignSearch, base: TrialDesign, out: str | Path, seed: int = 0, *,
               scheduler: str | None = None, workers: int = 1, security=None,
               progress: bool | Callable[[int, int, str], None] = False,
               max_conditions: int | None = None) -> SearchResult | None:
    """Evaluate every candidate design; write the ranked table to ``out`` (.csv or .parquet).

    Arguments
    ---------
    spec, base : the search and its base trial (:func:`load_search`).
    out : the design table; its parts (resumable) live in ``<out>.parts/`` while it runs.
    seed : seeds the population, the uncertainty draws and the replicates.
    scheduler, workers, security : where simulations run
        (:func:`nephrosim.trials.execute.open_executor`); results are identical for a seed.
    progress : ``True`` shows a progress bar with ETA; a callable is called ``progress(done, total, stage)``
        (``run_trial``'s protocol; stages ``population``, then ``conditions`` and ``designs`` counted together,
        the ones a resumed search finds done included) as each unit finishes (the web app's progress).
    max_conditions : stop after simulating this many conditions, as if interrupted (tests);
        returns ``None`` then.

    Returns
    -------
    :class:`SearchResult`, its table ranked by ``p_success`` (then fewer patients).
    """
    import pandas as pd

    from nephrosim.run.ensemble import storage

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise UserInputError(f"seed={seed!r}: give an integer from 0 to {MAX_SEED}")
    out = Path(out)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise UserInputError(f"output {str(out)!r} (-o): name the design table *.csv or *.parquet")
    check_writable(out)
    inclusions, timings, treatments, _, _ = _lists(spec, base)
    names, draws, ranges = uncertainty_draws(spec, seed)
    acting = _check_therapy_parameters(names, treatments)
    cands = candidates(spec, base)
    if not any(c.design is not None for c in cands):
        raise UserInputError(f"none of the {len(cands)} candidate designs is valid; first reason: {cands[0].skipped}")
    request = {"spec": spec.model_dump(mode="json"), "base": base.model_dump(mode="json"), "seed": int(seed),
               "what": "nephrosim trial-design v3"}  # v3: outcomes carry MAKE90
    computed = {"conditions": 0, "designs": 0}
    n_draws = draws.shape[0]
    with storage.open_parts(out, request) as parts, open_executor(scheduler, workers, security) as executor:
        def cond_file(cond, k):
            return parts / f"condition-{cond[0]:02d}-{cond[1]:02d}-{cond[2]:02d}-draw{k:03d}.npz"

        def design_file(c):
            if c.arm_set:
                return parts / f"design-{_digest([c.inclusion, c.timing, list(c.arm_set), c.n_per_arm, c.endpoint])}.json"
            return parts / f"design-{_digest([c.condition, c.n_per_arm, c.endpoint])}.json"

        report = progress if callable(progress) else (lambda done, total, stage: None)
        report(0, 1, "population")
        with ProgressBar("population", 1, 0, progress is True) as bar:
            grid = max((follow_up_grid(inc, base.endpoints) for inc in inclusions), key=len)  # the latest entry's
            pop = build_population(base.population, base.virtual_patients, seed, executor, solver=base.solver,
                                   times_h=grid)
            bar.advance()
        report(1, 1, "population")
        pools = {}
        for i, inc in enumerate(inclusions):
            design = base.model_copy(update={"inclusion": inc, "pool_limit": spec.pool_limit})
            pool, entry = eligible_pool(design, pop, seed)
            control = outcomes(pop.times_h, pop.scr[pool], pop.survival[pool], entry, pop.scr[pool, 0], base.endpoints,
                               np.random.default_rng([seed, 5, 1, i + 1]), realizations=spec.replicates)
            pools[i] = (pool, entry, control)
        cands = [c if c.design is None or c.total_n <= pools[c.inclusion][0].size else
                 Candidate(c.inclusion, c.timing, c.treatment, c.n_per_arm, c.endpoint, None,
                           f"the eligible pool has {pools[c.inclusion][0].size} patients, fewer than the "
                           f"{c.total_n} one trial needs: raise pool_limit or the base virtual_patients", c.arm_set)
                 for c in cands]
        runnable = [c for c in cands if c.design is not None]
        if not runnable:
            raise UserInputError(f"no candidate design can run; first reason: {cands[0].skipped}")
        conditions = sorted({(c.inclusion, c.timing, j) for c in runnable for j in c.treatments
                             if treatments[j] is not None})
        todo_conditions = [(cond, k) for cond in conditions for k in range(n_draws) if not cond_file(cond, k).exists()]
        todo_designs = [c for c in runnable if not design_file(c).exists()]
        total = len(conditions) * n_draws + len(runnable)
        done = total - len(todo_conditions) - len(todo_designs)
        report(done, total, "conditions")
        with ProgressBar("trial-design", total, done, progress is True, stage="conditions") as bar:
            for cond, k in todo_conditions:
                if max_conditions is not None and computed["conditions"] >= max_conditions:
                    return None
                i, t, j = cond
                pool, entry, _ = pools[i]
                cols = acting.get(j, [])
                groups, rows_of = treated_groups(treatments[j], timings[t], pop, pool, entry,
                                                 [names[c] for c in cols], [draws[k, c] for c in cols])
                scr, surv = assemble_groups(pool.size, rows_of, simulate_groups(groups, executor), pop.times_h.size)
                usable = np.isfinite(scr).all(axis=1)
                filled_scr = np.where(usable[:, None], scr, pop.scr[pool])
                filled_surv = np.where(usable[:, None], surv, pop.survival[pool])
                o = outcomes(pop.times_h, filled_scr, filled_surv, entry, pop.scr[pool, 0], base.endpoints,
                             np.random.default_rng([seed, 5, 2, i + 1, t + 1, j + 1, k + 1]),
                             realizations=spec.replicates)
                _save_outcomes(cond_file(cond, k), o, usable)
                computed["conditions"] += 1
                bar.advance(stage="conditions")
                done += 1
                report(done, total, "conditions")
            for c in todo_designs:
                control_all = pools[c.inclusion][2]
                usable = np.ones(control_all.size, bool)
                by_arm = []  # [arm][draw]
                for j in c.treatments:
                    if treatments[j] is None:
                        by_arm.append([control_all] * (n_draws if c.arm_set else 1))
                        continue
                    loaded = [_load_outcomes(cond_file((c.inclusion, c.timing, j), k)) for k in range(n_draws)]
                    usable &= np.all([u for _, u in loaded], axis=0)
                    by_arm.append([o for o, _ in loaded])
                rows = np.nonzero(usable)[0]
                dropout = (c.design.endpoints.dropout.probability, c.design.endpoints.horizon_days)
                if c.arm_set:
                    res = multi_arm_power(_subset(control_all, rows),
                                          [[_subset(arm[k], rows) for arm in by_arm] for k in range(n_draws)],
                                          c.n_per_arm, c.endpoint, spec.replicates, seed, c.design.alpha,
                                          getattr(spec.minimal_effect, c.endpoint), c.design.multiplicity, dropout,
                                          c.design.interim, c.design.accrual)
                else:
                    res = design_power(_subset(control_all, rows), [_subset(o, rows) for o in by_arm[0]],
                                       c.n_per_arm, c.endpoint, spec.replicates, seed, c.design.alpha,
                                       getattr(spec.minimal_effect, c.endpoint), dropout=dropout,
                                       interim=c.design.interim, accrual=c.design.accrual)
                res["failed_simulations"] = int((~usable).sum())
                res["pool"] = int(rows.size)
                write_text_atomic(design_file(c), json.dumps(res))
                computed["designs"] += 1
                bar.advance(stage="designs")
                done += 1
                report(done, total, "designs")
        results = {design_file(c): json.loads(design_file(c).read_text()) for c in runnable}

    rows = []
    for c in cands:
        inc, tim = inclusions[c.inclusion], timings[c.timing]
        treats = [treatments[j] for j in c.treatments]
        row = {"inclusion": _describe_inclusion(inc),
               "timing": ("none (placebo)" if all(t is None for t in treats)
                          else f"{tim.delay_h:g} h after {tim.relative_to}"),
               "treatment": " + ".join(_describe_treatment(t) for t in treats), "treated_arms": len(treats),
               "multiplicity": base.multiplicity if c.arm_set else "", "n_per_arm": c.n_per_arm,
               "total_n": c.total_n, "endpoint": c.endpoint, "skipped": c.skipped}
        if c.design is not None:
            row.update(results[design_file(c)])
        rows.append(row)
    table = pd.DataFrame(rows)
    ok = table["skipped"] == ""
    table["pareto"] = False
    if ok.any():
        table.loc[ok, "pareto"] = pareto_front(table.loc[ok, "p_success"].to_numpy(), table.loc[ok, "total_n"].to_numpy())
    table = pd.concat([table[ok].sort_values(["p_success", "total_n"], ascending=[False, True], kind="stable"),
                       table[~ok]], ignore_index=True)
    write_frame(table, out)
    shutil.rmtree(storage.parts_folder(out), ignore_errors=False)
    summary = {
        "search": spec.name, "seed": int(seed), "replicates_per_draw": spec.replicates, "draws": int(n_draws),
        "uncertain_parameters": ranges,
        "uncertainty_prior": None if spec.uncertainty is None else spec.uncertainty.prior,
        "designs": int(ok.sum()), "skipped": int((~ok).sum()), "pool_limit": spec.pool_limit,
        "population": {"plausible_patients": pop.plausible, "accepted_patients": pop.size},
        "eligible_pool": {_describe_inclusion(inclusions[i]): int(p[0].size) for i, p in pools.items()},
        "minimal_effect": spec.minimal_effect.model_dump(),
        "target_success": spec.target_success,
        "sample_size": sample_sizes(table, spec.target_success),
        "output": str(out),
        "computed_this_run": dict(computed),
        "notes": ["Monte-Carlo intervals are 95 % Clopper-Pearson over draws x replicates; replicates resample "
                  "one eligible pool, so they understate the spread of trials drawn from an infinite population",
                  "minimal_effect defaults are assumed (10 %, plausible 5-25 %)"],
    }
    return SearchResult(table, summary, computed)


def _describe_inclusion(inc: Inclusion) -> str:
    who = (f"SCr rise >= {inc.rise_mg_dl:g} mg/dL within {inc.within_h:g} h" if inc.kind == "scr_rise"
           else "all, randomized at surgery")
    if inc.baseline_egfr_min > 0 or inc.baseline_egfr_max < 200:
        who += f"; eGFR {inc.baseline_egfr_min:g}-{inc.baseline_egfr_max:g}"
    return who


def _describe_treatment(treat) -> str:
    if treat is None:
        return "placebo (zero effect)"
    return f"{treat.product} {treat.dose:g} {treat.dose_unit} {treat.route}"
