"""The calibration config: studies → scenarios, observations, parameters to estimate.

A config is a YAML file a reviewer can read: every study names the publication,
says in words why the scenario stands for it (``mapping``), and lists the numbers
read from it. Validated once at construction (pydantic, immutable)::

    name: creatinine_kinetics_rat
    likelihood: normal                  # or lognormal
    parameters:                         # estimated on log10 scale, bounds from the table
      - name: creatinine_production_mg_per_kg_h
      - name: gfr_ml_min_per_kg
    random_effects:                     # optional: per-study log10 deviation, penalised
      - {parameter: creatinine_production_mg_per_kg_h, sd_log10: 0.05}
    include: {species: [rat]}           # filters choosing the studies (reviewable)
    studies:
      - id: Zager1989
        citation: "..."
        mapping: "bilateral 40-min clamp at 37 °C → ischemia_reperfusion clamp_min 40"
        scenario: {species: rat, injury: {model: ischemia_reperfusion, clamp_min: 40}}
        observations:
          - {readout: serum_creatinine, time_h: 24, mean: 2.2, sem: 0.1, unit: mg/dL}
    fit: {method: L-BFGS-B, n_starts: 10, seed: 0}

Observation errors: ``sd`` + ``n`` (SE of the mean = SD/√n) or ``sem`` directly.
A study may also (or only) give ``contrasts``: treatment effects between two of its
arms, e.g. a pooled meta-analytic log ratio of means (:class:`Contrast`).
Readout times and units of each study's scenario come from its observations.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nephrosim.engine.simulator import SolverOptions
from nephrosim.inputs import InputFileError, read_mapping, validate


class CalibrationConfigError(InputFileError):
    """A calibration config that cannot be used; the message names the field and the fix."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Observation(_Frozen):
    """One reported group mean with its dispersion."""

    arm: str | None = Field(None, description="scenario arm (default: the first arm)")
    readout: str
    time_h: float = Field(ge=0.0)
    mean: float
    sd: float | None = Field(None, gt=0.0)
    sem: float | None = Field(None, gt=0.0)
    n: int | None = Field(None, ge=1)
    unit: str | None = None
    note: str = ""

    @model_validator(mode="after")
    def _dispersion(self):
        if (self.sd is None) == (self.sem is None):
            raise ValueError("give exactly one of sd (with n) or sem for each observation")
        if self.sd is not None and self.n is None:
            raise ValueError("sd needs n (the group size) to give the standard error of the mean; add n")
        return self

    @property
    def se(self) -> float:
        """Standard error of the mean: SEM, or SD/√n."""
        return float(self.sem) if self.sem is not None else float(self.sd) / math.sqrt(self.n)


class Contrast(_Frozen):
    """A treatment effect between two arms of a study, as a summary statistic.

    For pooled meta-analytic effects (e.g. ``nephrosim meta --measure ROM`` of MSC on
    SCr in rodent IRI) or a paper that reports only a ratio. ``measure``:

    * ``log_ratio``: ln(mean treated / mean control) — the ROM of Hedges et al. 1999;
    * ``smd``: (mean treated − mean control) / SD, with SD = ``cv`` × control mean
      (the model predicts means, not spreads, so the coefficient of variation must be
      stated, with its source in ``note``).

    The estimate enters the likelihood as normal with standard error ``se`` (for a
    pooled effect: its random-effects SE).
    """

    treated: str
    control: str
    readout: str
    time_h: float = Field(ge=0.0)
    measure: Literal["log_ratio", "smd"] = "log_ratio"
    estimate: float
    se: float = Field(gt=0.0)
    cv: float | None = Field(None, gt=0.0, description="SD / control mean, needed for measure smd")
    note: str = ""

    @model_validator(mode="after")
    def _cv_for_smd(self):
        if self.measure == "smd" and self.cv is None:
            raise ValueError("measure smd needs cv (SD / control mean) to turn model means into an SMD; add cv "
                             "with its source in note, or use measure log_ratio")
        if self.treated == self.control:
            raise ValueError("treated and control must be two different arms")
        return self

    def label(self) -> str:
        return f"{self.measure}({self.readout}: {self.treated} vs {self.control})"


class EvidenceSource(_Frozen):
    """Observations read from nephrosim's evidence store (:class:`nephrosim.evidence.EvidenceStore`).

    Rows of ``study_id`` (and ``arm_id``) with a mean and a dispersion become observations
    of the scenario arm ``arm``. The store records ``dispersion_type`` SD or SEM, or
    nothing when the source did not say: ``dispersion_type_default`` then states the
    assumption (reviewable), else such rows are refused. ``n_default`` fills a missing n
    for SD rows. Two rows for the same readout and time are refused: narrow with
    ``arm_id``/``readouts``/``times_h`` or list the observations inline.
    """

    study_id: str
    arm_id: str | None = None
    arm: str | None = Field(None, description="scenario arm the rows belong to (default: the first)")
    readouts: tuple[str, ...] | None = None
    times_h: tuple[float, ...] | None = None
    dispersion_type_default: Literal["SD", "SEM"] | None = None
    n_default: int | None = Field(None, ge=1)
    db: str | None = Field(None, description="store path (default: $NEPHROSIM_DB or the user data dir)")


class PetabMeasurements(_Frozen):
    """Observations from a lab's own PEtab v1 measurement table (TSV).

    ``observables`` maps each observableId to a nephrosim readout and its unit;
    ``conditions`` maps each simulationConditionId to an arm of this study's scenario
    (rows of other conditions are ignored). ``noiseParameters`` must be the standard
    error of each mean (a number). Path relative to the config.
    """

    file: str
    observables: dict[str, tuple[str, str]]
    conditions: dict[str, str]


class StudySpec(_Frozen):
    """One publication (or one synthetic data set) and the scenario that represents it."""

    id: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    citation: str = ""
    mapping: str = Field("", description="why this scenario stands for the study, in words")
    tags: dict[str, str] = Field(default_factory=dict)
    scenario: dict[str, Any]
    observations: tuple[Observation, ...] = ()
    observations_csv: str | None = Field(None, description="CSV with columns arm, readout, time_h, mean, "
                                         "sd, sem, n, unit (path relative to the config)")
    evidence: EvidenceSource | None = Field(None, description="read observations from the evidence store")
    petab_measurements: PetabMeasurements | None = Field(None, description="read observations from a PEtab "
                                                         "measurement table")
    contrasts: tuple[Contrast, ...] = Field((), description="treatment effects between two arms (summary "
                                            "statistics such as a pooled log ratio of means or SMD)")

    @property
    def group(self) -> str:
        """The publication this entry belongs to: ``tags.study`` if given, else ``id``.

        Entries of one publication (e.g. two temperature groups, whose scenarios differ
        by injury and so cannot be arms of one scenario) share one between-study random
        effect and are held out together in leave-one-study-out validation.
        """
        return self.tags.get("study", self.id)

    @property
    def species(self) -> str:
        return str(self.scenario.get("species", ""))

    @property
    def injury(self) -> str:
        inj = self.scenario.get("injury") or {"model": "sham"}
        return str(inj.get("model", ""))


class ParameterSpec(_Frozen):
    """A parameter to estimate (log10 scale). Bounds and nominal default to the table's."""

    name: str
    species: str | None = Field(None, description="only for studies of this species (default: all)")
    across_species: bool = Field(False, description="one value for studies of several species: allowed only for a "
                                 "parameter the table itself gives once for all species (a row for 'all')")
    lower: float | None = Field(None, gt=0.0)
    upper: float | None = Field(None, gt=0.0)
    nominal: float | None = Field(None, gt=0.0)
    scale: Literal["log10"] = "log10"


class RandomEffectSpec(_Frozen):
    """Between-study variation: study s uses θ·10^(b_s), b_s ~ N(0, sd_log10²).

    A "study" is a publication (:attr:`StudySpec.group`): entries tagged with the same
    ``tags.study`` share one b_s.

    The b_s are estimated jointly with θ as *penalised* study-level parameters
    (the negative log-likelihood gains Σ b_s²/(2 sd²) + ½ log 2π sd²), i.e. a
    MAP / h-likelihood treatment with a fixed SD, not a marginal likelihood
    integrated over b. ``sd_log10`` is stated, not estimated.
    """

    parameter: str
    sd_log10: float = Field(gt=0.0, le=2.0)


class StudyFilter(_Frozen):
    """Which studies enter the problem (all unless restricted)."""

    ids: tuple[str, ...] | None = None
    species: tuple[str, ...] | None = None
    injury: tuple[str, ...] | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    exclude: tuple[str, ...] = ()

    def accepts(self, study: StudySpec) -> bool:
        if study.id in self.exclude:
            return False
        if self.ids is not None and study.id not in self.ids:
            return False
        if self.species is not None and study.species not in self.species:
            return False
        if self.injury is not None and study.injury not in self.injury:
            return False
        return all(study.tags.get(k) == v for k, v in self.tags.items())


class FitSpec(_Frozen):
    """Optimiser settings. Every start is reproducible from ``seed``."""

    method: Literal["L-BFGS-B", "trust-constr", "differential_evolution", "Powell"] = Field(
        "L-BFGS-B", description="L-BFGS-B / trust-constr use the exact gradient; Powell (bounded, derivative-free) "
        "only the likelihood — for models whose sensitivity system is too slow to integrate (e.g. dosing events "
        "into the renal artery), at the cost of more evaluations")
    n_starts: int = Field(10, ge=1, le=10000)
    seed: int = 0
    maxiter: int = Field(500, ge=1)
    gtol: float = Field(1e-6, gt=0.0)


#: Integrator tolerances for calibration (tighter than simulation: gradients need them).
CALIBRATION_SOLVER = SolverOptions(rtol=1e-9, atol=1e-12, max_steps=100000)


class CalibrationConfig(_Frozen):
    """A complete calibration problem. Immutable; derive variants with :meth:`replace`."""

    name: str = "calibration"
    description: str = ""
    likelihood: Literal["normal", "lognormal"] = "normal"
    parameter_set: Literal["calibrated", "table"] = Field(
        "calibrated", description="values of the parameters not estimated (and the nominal start): the "
        "shipped calibration (default) or the cited table; the config that produces the shipped "
        "calibration uses table so it does not start from its own result")
    parameters: tuple[ParameterSpec, ...] = Field(min_length=1)
    random_effects: tuple[RandomEffectSpec, ...] = ()
    include: StudyFilter = Field(default_factory=StudyFilter)
    studies: tuple[StudySpec, ...] = Field(min_length=1)
    fit: FitSpec = Field(default_factory=FitSpec)
    solver: SolverOptions = Field(default_factory=lambda: CALIBRATION_SOLVER)

    @field_validator("solver", mode="before")
    @classmethod
    def _solver_defaults(cls, v):
        """Fields a config leaves out take the calibration defaults, not the simulation ones."""
        if isinstance(v, dict):
            return {**CALIBRATION_SOLVER.model_dump(), **v}
        return v
    base_dir: str = Field("", description="folder that relative paths are read from (set by load_config)")

    @field_validator("studies")
    @classmethod
    def _unique(cls, v):
        ids = [s.id for s in v]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"study ids must be unique; {dup} used more than once")
        return v

    @model_validator(mode="after")
    def _names(self):
        from nephrosim.biology.parameters import ParameterTable

        table = ParameterTable.default(calibrated=False).names()
        keys = [(p.name, p.species) for p in self.parameters]
        if len(set(keys)) != len(keys):
            raise ValueError("parameters: a name (and species) is listed twice; keep one entry")
        for p in self.parameters:
            if p.name not in table:
                raise ValueError(f"parameters: {p.name!r} is not in the parameter table; see `nephrosim params`")
            if p.name == "body_weight_kg":
                raise ValueError("parameters: body_weight_kg cannot be estimated (it sets unit conversions); "
                                 "give body_weight_g in each study's scenario instead")
        est = {p.name for p in self.parameters}
        for r in self.random_effects:
            if r.parameter not in est:
                raise ValueError(f"random_effects: {r.parameter!r} is not an estimated parameter; add it to "
                                 "parameters or remove the random effect")
        if not self.selected_studies():
            raise ValueError("include: the filters select no study; loosen include or add studies")
        return self

    def selected_studies(self) -> tuple[StudySpec, ...]:
        """The studies that pass ``include`` — the reviewable study-to-scenario mapping."""
        return tuple(s for s in self.studies if self.include.accepts(s))

    def replace(self, **changes) -> CalibrationConfig:
        """A validated copy with some fields changed (configs are immutable)."""
        data = self.model_dump()
        data.update(changes)
        return CalibrationConfig.model_validate(data)

    def without_study(self, study_id: str) -> CalibrationConfig:
        """The config without a study: an entry id, or a publication (``tags.study``) — all its entries."""
        ids = tuple(s.id for s in self.selected_studies() if study_id in (s.id, s.group)) or (study_id,)
        inc = self.include.model_dump()
        inc["exclude"] = tuple(inc["exclude"]) + ids
        return self.replace(include=inc)

    def study_groups(self) -> dict[str, tuple[str, ...]]:
        """Publication → its selected entry ids (in config order)."""
        out: dict[str, tuple[str, ...]] = {}
        for s in self.selected_studies():
            out[s.group] = out.get(s.group, ()) + (s.id,)
        return out

    def digest(self) -> str:
        """Hash of everything that changes the result (to refuse mixing checkpoints).

        Fields left at their defaults are not hashed, so a config keeps its digest when
        nephrosim adds an optional field."""
        data = self.model_dump(exclude={"description", "base_dir"}, exclude_defaults=True)
        base = CALIBRATION_SOLVER.model_dump()
        solver = {k: v for k, v in self.solver.model_dump().items() if v != base[k]}
        data.pop("solver", None)
        if solver:
            data["solver"] = solver
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def config_from_dict(data: dict, source: str = "", base_dir: str | Path = "") -> CalibrationConfig:
    if not isinstance(data, dict):
        raise CalibrationConfigError(f"{source}: expected a mapping of fields, got {type(data).__name__}")
    data = dict(data)
    data.setdefault("base_dir", str(base_dir))
    return validate(CalibrationConfig, data, source or "calibration config", "calibration config",
                    CalibrationConfigError)


def load_config(path: str | Path) -> CalibrationConfig:
    """Read a calibration config from YAML or JSON."""
    path = Path(path)
    data = read_mapping(path, "calibration config", CalibrationConfigError)
    return config_from_dict(data, str(path), base_dir=path.parent.resolve())


def as_config(config) -> CalibrationConfig:
    if isinstance(config, CalibrationConfig):
        return config
    if isinstance(config, (str, Path)):
        return load_config(config)
    return config_from_dict(dict(config))
