"""Pydantic (v2) schema of the evidence record: study → arms → outcomes, with provenance.

Every model is frozen and forbids unknown fields. Missing numbers stay missing (``None``,
stored as SQL NULL): a design-only row has ``mean=None`` and is never filled in. The raw
text the number was read from is kept next to each parsed field (``*_raw``).

The flat, one-row-per-arm×time×readout table used for CSV import and export has the
columns in :data:`FLAT_COLUMNS`; :func:`studies_from_flat` and :func:`flatten` convert.
"""

from __future__ import annotations

import math
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .vocab import INJURIES, READOUTS, SPECIES

__all__ = ["Provenance", "Outcome", "Arm", "Study", "FLAT_COLUMNS", "flatten"]

_CFG = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


def _nan_to_none(v):
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, str) and v.strip() == "":
        return None
    return v


class Provenance(BaseModel):
    """Where a number comes from: identifiers, the URL read and the quoted sentence."""

    model_config = _CFG
    pmid: Optional[str] = None
    doi: Optional[str] = None
    url: Optional[str] = None
    quote: Optional[str] = None
    source_location: Optional[str] = None
    notes: Optional[str] = None
    source_file: Optional[str] = None

    _nn = field_validator("*", mode="before")(classmethod(lambda cls, v: _nan_to_none(v)))


class Outcome(BaseModel):
    """One readout of one arm at one time.

    ``dispersion_type`` is ``"SD"``, ``"SEM"`` or None (dispersion type not stated in the
    source); ``n`` is the number of animals/patients in the arm at that time.
    """

    model_config = _CFG
    readout: str
    readout_raw: Optional[str] = None
    time_h: Optional[float] = None
    time_raw: Optional[str] = None
    mean: Optional[float] = None
    mean_raw: Optional[str] = None
    dispersion: Optional[float] = Field(default=None, ge=0)
    dispersion_type: Optional[Literal["SD", "SEM"]] = None
    n: Optional[int] = Field(default=None, ge=1)
    n_raw: Optional[str] = None
    unit: Optional[str] = None
    unit_raw: Optional[str] = None
    provenance: Provenance = Provenance()

    _nn = field_validator(
        "readout_raw", "time_h", "time_raw", "mean", "mean_raw", "dispersion", "dispersion_type", "n", "n_raw",
        "unit", "unit_raw", mode="before",
    )(classmethod(lambda cls, v: _nan_to_none(v)))

    @field_validator("readout")
    @classmethod
    def _known_readout(cls, v):
        if v not in READOUTS:
            raise ValueError(f"unknown readout {v!r}; use one of {', '.join(sorted(READOUTS))}")
        return v

    @model_validator(mode="after")
    def _range(self):
        spec = READOUTS[self.readout]
        if self.mean is not None and self.unit is not None and spec.units and self.unit in spec.units:
            f = spec.units[self.unit]
            if math.isfinite(f):
                val = self.mean * f
                if spec.minimum is not None and val < spec.minimum:
                    raise ValueError(f"mean={self.mean} {self.unit} is below the possible minimum for {self.readout}")
                if spec.maximum is not None and val > spec.maximum:
                    raise ValueError(f"mean={self.mean} {self.unit} is above the possible maximum for {self.readout}")
        return self

    @property
    def is_design_only(self) -> bool:
        """True when no mean was reported (the row documents the design only)."""
        return self.mean is None


class Arm(BaseModel):
    """One group of a study: its product, dose, route and timing, and its outcomes.

    ``role`` is ``treated`` (received the product), ``control`` (injured, vehicle or no
    therapy), ``sham`` (not injured), ``comparator`` (a non-MSC therapy) or ``contrast``
    (a row that only reports a treated/control ratio). ``co_intervention`` names a
    treatment given to the arm in addition (e.g. antibiotics, a biomembrane); treated and
    control arms are paired only when it matches. ``injury_details``: the arm's own injury design
    where it differs from the study's (one clamp time, dose or body temperature per group of a
    series); ``None``: the study's.
    """

    model_config = _CFG
    arm_id: str
    label: str
    role: Literal["treated", "control", "sham", "comparator", "contrast"]
    product: Optional[Literal["msc", "cm", "ev", "none", "other"]] = None
    product_raw: Optional[str] = None
    cell_source: Optional[str] = None
    donor: Optional[str] = None
    dose: Optional[float] = Field(default=None, ge=0)
    dose_raw: Optional[str] = None
    dose_unit: Optional[str] = None
    route: Optional[str] = None
    timing_h: Optional[float] = None
    timing_raw: Optional[str] = None
    co_intervention: str = ""
    injury_details: Optional[str] = None
    outcomes: tuple[Outcome, ...] = ()

    _nn = field_validator(
        "product", "product_raw", "cell_source", "donor", "dose", "dose_raw", "dose_unit", "route", "timing_h",
        "timing_raw", "injury_details", mode="before",
    )(classmethod(lambda cls, v: _nan_to_none(v)))


class Study(BaseModel):
    """A study: species, injury model, provenance and its arms."""

    model_config = _CFG
    study_id: str = Field(min_length=1)
    species: Optional[str] = None
    species_raw: Optional[str] = None
    strain: Optional[str] = None
    sex: Optional[str] = None
    injury: Optional[str] = None
    injury_raw: Optional[str] = None
    injury_details: Optional[str] = None
    provenance: Provenance = Provenance()
    arms: tuple[Arm, ...] = ()

    _nn = field_validator(
        "species", "species_raw", "strain", "sex", "injury", "injury_raw", "injury_details", mode="before",
    )(classmethod(lambda cls, v: _nan_to_none(v)))

    @field_validator("species")
    @classmethod
    def _species(cls, v):
        if v is not None and v not in SPECIES:
            raise ValueError(f"unknown species {v!r}; use one of {', '.join(SPECIES)}")
        return v

    @field_validator("injury")
    @classmethod
    def _injury(cls, v):
        if v is not None and v not in INJURIES:
            raise ValueError(f"unknown injury {v!r}; use one of {', '.join(INJURIES)}")
        return v

    @model_validator(mode="after")
    def _unique_arms(self):
        ids = [a.arm_id for a in self.arms]
        if len(ids) != len(set(ids)):
            raise ValueError(f"study {self.study_id!r} has duplicate arm ids")
        return self


#: columns of the flat table (import/export); one row per arm × time × readout
FLAT_COLUMNS = (
    "study_id", "species", "strain", "sex", "injury", "injury_raw", "injury_details",
    "pmid", "doi", "url",
    "arm_id", "arm", "role", "product", "product_raw", "cell_source", "donor", "dose", "dose_raw", "dose_unit",
    "route", "timing_h", "timing_raw", "co_intervention",
    "readout", "readout_raw", "time_h", "time_raw", "unit", "unit_raw", "mean", "mean_raw", "dispersion",
    "dispersion_type", "n", "n_raw", "quote", "source_location", "notes", "source_file",
)


def flatten(studies) -> list[dict]:
    """Studies → list of flat row dicts with :data:`FLAT_COLUMNS` keys."""
    rows = []
    for s in studies:
        for a in s.arms:
            for o in a.outcomes:
                p = o.provenance
                rows.append(dict(
                    study_id=s.study_id, species=s.species, strain=s.strain, sex=s.sex, injury=s.injury,
                    injury_raw=s.injury_raw, injury_details=a.injury_details or s.injury_details,
                    pmid=s.provenance.pmid, doi=s.provenance.doi, url=p.url or s.provenance.url,
                    arm_id=a.arm_id, arm=a.label, role=a.role, product=a.product, product_raw=a.product_raw,
                    cell_source=a.cell_source, donor=a.donor, dose=a.dose, dose_raw=a.dose_raw,
                    dose_unit=a.dose_unit, route=a.route, timing_h=a.timing_h, timing_raw=a.timing_raw,
                    co_intervention=a.co_intervention,
                    readout=o.readout, readout_raw=o.readout_raw, time_h=o.time_h, time_raw=o.time_raw,
                    unit=o.unit, unit_raw=o.unit_raw, mean=o.mean, mean_raw=o.mean_raw,
                    dispersion=o.dispersion, dispersion_type=o.dispersion_type, n=o.n, n_raw=o.n_raw,
                    quote=p.quote, source_location=p.source_location, notes=p.notes,
                    source_file=p.source_file or s.provenance.source_file,
                ))
    return rows
