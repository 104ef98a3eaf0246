"""The scenario: species, injury, arms with treatments, readouts, sampling times.

A scenario is validated once, at construction (pydantic); after that it is
immutable. Load one with :func:`load_scenario` (YAML or JSON) or build it in
Python::

    Scenario(species="mouse", injury={"model": "clearance_change", "fraction": 0.9},
             arms=[{"name": "vehicle"}], readouts=["serum_creatinine"], times_h=[0, 24])
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, Mapping, Union

from pydantic import field_serializer, Field, field_validator, model_validator

from nephrosim.inputs import StrictModel

from nephrosim.biology.assay import CREATININE_ASSAYS
from nephrosim.biology.parameters import ParameterTable
from nephrosim.biology.readouts import available_readouts
from nephrosim.engine.simulator import SolverOptions
from nephrosim.errors import UnknownNameError
from nephrosim.scenarios.errors import read_mapping, validate
from nephrosim.scenarios.injuries import INJURY_MODELS, Sham
from nephrosim.scenarios.products import EV, MSC, ConditionedMedium

Species = Literal["mouse", "rat", "human"]

Injury = Annotated[Union[tuple(INJURY_MODELS.values())], Field(discriminator="model")]
TreatmentField = Annotated[Union[MSC, ConditionedMedium, EV], Field(discriminator="product")]


#: Bounds on what one scenario may ask for (each refusal says which bound and how to split the job).
MAX_ARMS = 50
MAX_TREATMENTS_PER_ARM = 20
MAX_DOSES_PER_ARM = 100
MAX_OUTPUT_TIMES = 5000
MAX_READOUTS = 100
MAX_NAME_LENGTH = 200


def _printable_name(v: str, what: str) -> str:
    """Names reach terminals, files and SBML ids: plain printable text only."""
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} contains a character that is not valid text (a lone surrogate); retype it") from None
    bad = [c for c in v if not c.isprintable()]
    if bad:
        raise ValueError(f"{what} contains control characters {''.join(bad)!r}; use plain printable text")
    return v


class Arm(StrictModel):
    """One group of subjects: a name and the treatments it gets (none = vehicle)."""

    name: str = Field(min_length=1, max_length=80)
    treatments: tuple[TreatmentField, ...] = Field((), max_length=MAX_TREATMENTS_PER_ARM)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, v):
        return _printable_name(v, "the arm name")

    @model_validator(mode="after")
    def _bounded_doses(self):
        n = sum(t.repeat_count for t in self.treatments)
        if n > MAX_DOSES_PER_ARM:
            raise ValueError(f"arm {self.name!r} gives {n} doses; at most {MAX_DOSES_PER_ARM} per arm — split the "
                             "schedule over several scenarios")
        return self


# --- observation model (issue 14 item 9: assay-aware creatinine) -------------------------
CreatinineAssay = Literal[tuple(CREATININE_ASSAYS)]


class Observation(StrictModel):
    """How the readouts are measured: the observation model (``nephrosim.biology.assay``).

    ``creatinine_assay``: ``enzymatic`` (the default) and ``hplc`` read true serum creatinine;
    ``jaffe`` (colorimetric alkaline picrate) reads it plus the species' non-creatinine chromogen
    offset (``jaffe_chromogen_offset_mg_dl``). Only the reported serum creatinine changes; GFR,
    creatinine clearance, BUN and the kinetics stay true.
    """

    creatinine_assay: CreatinineAssay = Field(
        "enzymatic", description="the serum-creatinine assay the readout stands for; jaffe adds the species' "
        "non-creatinine chromogen offset (jaffe_chromogen_offset_mg_dl), enzymatic and hplc read true creatinine")
# --- end observation model ------------------------------------------------------------


class Scenario(StrictModel):
    """A complete in-silico experiment."""


    name: str = Field("scenario", min_length=1, max_length=MAX_NAME_LENGTH)
    species: Species
    sex: Literal["male"] | None = Field(
        None, description="the sex the model's parameters describe; female is refused until it is parameterised")
    body_weight_g: float | None = Field(None, gt=0.0)
    injury: Injury = Field(default_factory=Sham)
    arms: tuple[Arm, ...] = Field(default=(Arm(name="vehicle"),), min_length=1, max_length=MAX_ARMS)
    readouts: tuple[str, ...] = Field(("serum_creatinine", "bun", "gfr"), max_length=MAX_READOUTS)
    units: Mapping[str, str] = Field(default_factory=dict, description="readout → reporting unit")
    times_h: tuple[float, ...] = Field((0.0, 6.0, 24.0, 48.0, 72.0, 120.0, 168.0), max_length=MAX_OUTPUT_TIMES)
    parameters: Mapping[str, float] = Field(default_factory=dict, description="parameter-table overrides")
    parameter_set: Literal["calibrated", "table"] = Field(
        "calibrated", description="calibrated: the shipped calibration's estimates replace the values they "
        "were fitted for (the default); table: every parameter at its cited table value")
    solver: SolverOptions = Field(default_factory=SolverOptions)
    observation: Observation = Field(  # issue 14 item 9: creatinine assay
        default_factory=Observation, description="how the readouts are measured (the creatinine assay)")

    @field_validator("parameters", "units", mode="after")
    @classmethod
    def _read_only(cls, v):
        """A frozen scenario's mappings cannot be changed in place either."""
        return MappingProxyType(dict(v))

    @field_serializer("parameters", "units")
    def _as_dict(self, v):
        return dict(v)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, v):
        return _printable_name(v, "the scenario name")

    @field_validator("sex", mode="before")
    @classmethod
    def _female_not_parameterised(cls, v):
        if v == "female":
            raise ValueError(
                "sex 'female' is not parameterised yet: the sex-specific physiology (mouse GFR 237 vs 140 uL/min, "
                "Qi 2004; protection of females in IRI) is not in the model, which describes males; remove `sex` "
                "or set it to male")
        return v

    @field_validator("times_h")
    @classmethod
    def _times_ordered(cls, v: tuple[float, ...]):
        if not v:
            raise ValueError("times_h is empty; give at least one time in hours")
        if any(t < 0 for t in v):
            raise ValueError("times_h must not be negative (hours after the insult)")
        bad = [i for i in range(1, len(v)) if v[i] <= v[i - 1]]
        if bad:
            i = bad[0]
            raise ValueError(
                f"times_h must be strictly increasing; entry {i} ({v[i]}) is not after entry "
                f"{i - 1} ({v[i - 1]}) — sort them and remove duplicates"
            )
        return v

    @field_validator("arms")
    @classmethod
    def _unique_arms(cls, v):
        names = [a.name for a in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"arm names must be unique; {dup} used more than once")
        return v

    @field_validator("readouts")
    @classmethod
    def _known_readouts(cls, v):
        import difflib

        known = available_readouts()
        unknown = [r for r in v if r not in known]
        if unknown:
            hints = [f"{u!r}" + (f" (did you mean {', '.join(map(repr, c))}?)"
                                 if isinstance(u, str) and (c := difflib.get_close_matches(u, sorted(known), 3, 0.5))
                                 else "") for u in unknown]
            raise ValueError(f"unknown readout(s) {', '.join(hints)}; `nephrosim list readouts` lists all "
                             f"{len(known)} with their units")
        if not v:
            raise ValueError("readouts is empty; name at least one, e.g. serum_creatinine")
        return v

    @model_validator(mode="after")
    def _units_and_parameters(self):
        known = available_readouts()
        for readout, unit in self.units.items():
            if readout not in known:
                raise ValueError(f"units: {readout!r} is not a readout; allowed: {sorted(known)}")
            allowed = (known[readout].unit, *known[readout].units)
            if unit not in allowed:
                raise ValueError(
                    f"units.{readout}: {unit!r} is not a unit for this readout; allowed: {list(allowed)}"
                )
        if "/1.73m2" in "".join(self.units.values()) and self.species != "human":
            raise ValueError("units: per-1.73 m² units are only defined for species human")
        table = ParameterTable.default()
        unknown = sorted(set(self.parameters) - table.names())
        if unknown:
            hints = [f"{u!r}" + (f" (did you mean {', '.join(map(repr, c))}?)" if (c := table.closest_names(u)) else "")
                     for u in unknown]
            raise ValueError(f"parameters: {', '.join(hints)} not in the parameter table; see `nephrosim params`")
        last = self.times_h[-1]
        late = [(a.name, d) for a in self.arms for t in a.treatments for d in t.dose_times_h() if d > last]
        if late:
            arm, d = late[0]
            raise ValueError(
                f"arm {arm!r} doses at {d:g} h, after the last output time ({last:g} h), where it can change no "
                "readout; add a later time to times_h, or check the dose time (hours after the insult)")
        return self

    # --- derived values -------------------------------------------------------------
    def arm(self, name: str) -> Arm:
        for a in self.arms:
            if a.name == name:
                return a
        raise UnknownNameError(f"scenario has no arm {name!r}; arms: {[a.name for a in self.arms]}")

    def unit_of(self, readout: str) -> str:
        return self.units.get(readout, available_readouts()[readout].unit)


def scenario_from_dict(data: Any, source: str = "") -> Scenario:
    """Validate ``data`` into a :class:`Scenario`, raising :class:`ScenarioError`."""
    return validate(Scenario, data, source, "scenario")


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario from a YAML (``.yaml``/``.yml``) or JSON file."""
    return scenario_from_dict(read_mapping(path, "scenario"), str(path))
