"""Treatments a scenario arm can give: MSCs, conditioned medium (CM), extracellular vesicles (EV).

Doses keep their units. Cells and cells/kg convert through the subject's body
weight; EV doses in µg protein, particles or cell-equivalents are **never**
converted into one another unless the user supplies ``particles_per_ug`` (there
is no standard particle:protein ratio; MISEV2018/2023).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from nephrosim.inputs import StrictModel

from nephrosim.scenarios.protocols import Protocol, as_protocol
from nephrosim.units import UnitError, convert

#: Earliest pre-treatment accepted, hours before the insult (preconditioning designs give
#: MSC/EVs 1–24 h before ischaemia or a nephrotoxin; Reis 2012 gave BMSC 24 h before
#: gentamicin; the EV meta-analysis tables list a dose 1 h before IRI). Thirty days covers
#: these with a wide margin; anything earlier is treated as a mistake.
EARLIEST_PRETREATMENT_H = -720.0

TissueSource = Literal["bone_marrow", "adipose", "umbilical_cord", "wharton_jelly", "placenta"]
Donor = Literal["autologous", "syngeneic", "allogeneic", "xenogeneic_human"]
Route = Literal[
    "iv", "intra_arterial_aorta", "renal_artery", "intraparenchymal", "subcapsular", "intraperitoneal"
]
#: Secreted-factor knockouts/knockdowns: each removes one mechanism (or one share of the
#: anti-inflammatory class: il10, tsg6) from the product's contribution.
FactorKnockout = Literal["vegf", "hgf", "il10", "tsg6", "igf1"]


class _Treatment(StrictModel):
    time_h: float = Field(0.0, description="hours after the insult (negative = pre-treatment, at most "
                          "30 days = 720 h before)")
    repeat_every_h: float | None = Field(None, gt=0.0)
    repeat_count: int = Field(1, ge=1, le=100, description="number of doses in total")

    protocol: Protocol | None = Field(
        None, description="cultivation protocol: path of a protocol YAML, or the protocol inline")

    @field_validator("protocol", mode="before")
    @classmethod
    def _load_protocol(cls, v):
        if v is None or isinstance(v, Protocol):
            return v
        try:
            return as_protocol(v)
        except ValueError as exc:  # ScenarioError: name the file and the fields
            raise ValueError(f"cannot use protocol {v!r}: {exc}") from None

    @model_validator(mode="before")
    @classmethod
    def _source_from_protocol(cls, data):
        """A protocol without an explicit ``source`` sets it (so a dumped scenario reloads)."""
        if isinstance(data, dict) and data.get("protocol") is not None and "source" not in data \
                and "source" in cls.model_fields:
            try:
                proto = as_protocol(data["protocol"])
            except ValueError:
                return data  # reported by the field validator
            data = {**data, "protocol": proto, "source": proto.tissue_source}
        return data

    @model_validator(mode="after")
    def _source_matches_protocol(self):
        src = getattr(self, "source", None)
        if self.protocol is not None and "source" in self.model_fields_set and src != self.protocol.tissue_source:
            raise ValueError(
                f"source {src!r} contradicts the protocol's tissue_source "
                f"{self.protocol.tissue_source!r}; drop source or make them agree")
        return self

    @field_validator("time_h")
    @classmethod
    def _pretreatment_window(cls, v: float) -> float:
        """Pre-treatment (time_h < 0) is allowed up to 30 days before the insult."""
        if v < EARLIEST_PRETREATMENT_H:
            raise ValueError(
                f"time_h={v:g} is {-v / 24:.1f} days before the insult; pre-treatment may start at most "
                f"{-EARLIEST_PRETREATMENT_H:g} h (30 days) before it (time_h >= {EARLIEST_PRETREATMENT_H:g}). "
                "Hours are counted from the insult (reperfusion, toxin dose, ligation)")
        return v

    def effective_protocol(self) -> Protocol:
        """The protocol in force (a standard 2D protocol of ``source`` when none is given)."""
        if self.protocol is not None:
            return self.protocol
        return Protocol(tissue_source=getattr(self, "source", "bone_marrow"))

    def dose_times_h(self) -> list[float]:
        step = self.repeat_every_h or 0.0
        return [self.time_h + k * step for k in range(self.repeat_count)]

    @model_validator(mode="after")
    def _repeat_consistent(self):
        if self.repeat_count > 1 and self.repeat_every_h is None:
            raise ValueError("repeat_count > 1 needs repeat_every_h (hours between doses)")
        return self


class MSC(_Treatment):
    """Whole mesenchymal stromal cells."""

    product: Literal["msc"] = "msc"
    source: TissueSource = "bone_marrow"
    donor: Donor = "allogeneic"
    dose: float = Field(gt=0.0, description="number of cells (or cells/kg)")
    dose_unit: Literal["cells", "cells/kg"] = "cells"
    route: Route = "iv"
    knockouts: tuple[FactorKnockout, ...] = ()
    sensitized: bool | None = Field(
        None, description="recipient already has donor-specific antibodies: true/false; None = "
        "automatic (repeat allogeneic/xenogeneic doses weighted by the DSA probability)")
    donor_potency: float | None = Field(
        None, gt=0.0, description="this donor's secretion relative to the median donor. Leave it out "
        "for an unknown donor: simulations use the median (1) and ensembles draw donors from the "
        "log-normal donor distribution (msc_donor_potency_sigma); give a number for a characterised "
        "donor, which ensembles then keep fixed")

    def dose_cells(self, body_weight_kg: float) -> float:
        """The dose as a number of cells for this subject."""
        return float(convert(self.dose, self.dose_unit, "cells", body_weight_kg=body_weight_kg))


class ConditionedMedium(_Treatment):
    """Conditioned medium of MSCs, dosed as the secretion of a number of cells."""

    product: Literal["conditioned_medium"] = "conditioned_medium"
    source: TissueSource = "bone_marrow"
    dose: float = Field(gt=0.0)
    dose_unit: Literal["cell_equivalents", "cell_equivalents/kg", "mL"] = "cell_equivalents"
    concentration_factor: float = Field(1.0, gt=0.0)
    cells_per_ml: float | None = Field(None, gt=0.0, description="producing-cell density, needed when dose_unit is mL")
    route: Route = "iv"
    knockouts: tuple[FactorKnockout | Literal["rna_cargo"], ...] = ()
    donor_potency: float | None = Field(None, gt=0.0, description="as for msc: None = unknown donor (median; drawn in ensembles)")

    @model_validator(mode="after")
    def _ml_needs_density(self):
        if self.dose_unit == "mL" and self.cells_per_ml is None:
            raise ValueError(
                "dose_unit 'mL' needs cells_per_ml (cells that conditioned 1 mL of medium) to "
                "express the dose in cell-equivalents"
            )
        return self

    def dose_cell_equivalents(self, body_weight_kg: float) -> float:
        if self.dose_unit == "mL":
            return self.dose * self.cells_per_ml * self.concentration_factor
        return float(convert(self.dose, self.dose_unit, "cell_equivalents", body_weight_kg=body_weight_kg))


class EV(_Treatment):
    """Extracellular vesicles (small EV/exosomes or microvesicles)."""

    product: Literal["ev"] = "ev"
    source: TissueSource = "bone_marrow"
    dose: float = Field(gt=0.0)
    dose_unit: Literal["ug_protein", "particles", "cell_equivalents"]
    particles_per_ug: float | None = Field(None, gt=0.0, description="only needed to convert between µg and particles")
    subtype: str | None = Field(None, description="not used by the model yet: refused when given")
    route: Route = "iv"
    knockouts: tuple[Literal["rna_cargo", "vegf"], ...] = Field(
        (), description="rna_cargo: RNase-treated EVs; vegf: EVs of VEGF-knockdown cells (no VEGF protein cargo)")
    donor_potency: float | None = Field(None, gt=0.0, description="as for msc: None = unknown donor (median; drawn in ensembles)")

    @field_validator("subtype")
    @classmethod
    def _subtype_not_modelled(cls, v):
        if v is not None:
            raise ValueError(
                "EV subtype is not used by the model yet: small EVs and microvesicles share one "
                "biodistribution and potency (no source separates them); remove `subtype`")
        return v

    def dose_in(self, unit: str) -> float:
        """The dose in ``unit``; µg ↔ particles only with ``particles_per_ug``."""
        if unit == self.dose_unit:
            return self.dose
        pair = {self.dose_unit, unit}
        if pair == {"ug_protein", "particles"}:
            if self.particles_per_ug is None:
                raise UnitError(
                    f"EV dose is in {self.dose_unit!r}; converting to {unit!r} needs "
                    "particles_per_ug from your own characterisation (no standard ratio exists)"
                )
            return self.dose * self.particles_per_ug if unit == "particles" else self.dose / self.particles_per_ug
        raise UnitError(f"EV dose in {self.dose_unit!r} cannot be expressed in {unit!r}")


Treatment = MSC | ConditionedMedium | EV
