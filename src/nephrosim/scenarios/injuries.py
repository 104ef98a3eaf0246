"""Injury models a scenario can name (``injury: {model: ...}``).

Each class is an immutable, validated description of an insult; the biology that
turns it into time-varying inputs lives in :mod:`nephrosim.biology.insults`. Names
are stable across versions so that scenarios keep working.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from nephrosim.inputs import StrictModel


class _Injury(StrictModel):
    """Base of the injury models: validated once, immutable."""


class Sham(_Injury):
    """Sham operation: no insult. Every state must stay at its steady state."""

    model: Literal["sham"] = "sham"


class ClearanceChange(_Injury):
    """A prescribed change in renal clearance (GFR and creatinine secretion together).

    The clearance falls by ``fraction`` at ``onset_h``, stays there for
    ``duration_h`` (forever if omitted), then returns linearly to baseline over
    ``recovery_h``. Use it to study creatinine/urea kinetics on their own
    (Waikar & Bonventre 2009).
    """

    model: Literal["clearance_change"] = "clearance_change"
    fraction: float = Field(ge=0.0, le=0.999, description="fractional fall in clearance, 0–0.999")
    onset_h: float = Field(0.0, ge=0.0)
    duration_h: float | None = Field(None, gt=0.0)
    recovery_h: float = Field(0.0, ge=0.0)

    @model_validator(mode="after")
    def _recovery_needs_duration(self):
        if self.recovery_h > 0 and self.duration_h is None:
            raise ValueError(
                "recovery_h is set but duration_h is not; give duration_h (hours at the low "
                "clearance) or drop recovery_h for a permanent change"
            )
        return self


class IschemiaReperfusion(_Injury):
    """Warm renal ischaemia by clamping the pedicle, then reperfusion (time 0 = reperfusion).

    ``bilateral=False`` clamps the left kidney only; ``contralateral_nephrectomy``
    removes the right kidney at the time of clamping (solitary-kidney IRI).
    """

    model: Literal["ischemia_reperfusion"] = "ischemia_reperfusion"
    clamp_min: float = Field(gt=0.0, le=240.0, description="clamp (ischaemia) time, minutes")
    bilateral: bool = True
    temperature_c: float = Field(37.0, ge=25.0, le=42.0, description="body temperature during the clamp, °C")
    contralateral_nephrectomy: bool = False

    @model_validator(mode="after")
    def _nephrectomy_needs_unilateral(self):
        if self.bilateral and self.contralateral_nephrectomy:
            raise ValueError(
                "contralateral_nephrectomy needs bilateral: false (the clamped kidney is the left one "
                "and the right one is removed); set bilateral to false or drop the nephrectomy"
            )
        return self


class Cisplatin(_Injury):
    """A single cisplatin dose (i.v./i.p. bolus) at time 0."""

    model: Literal["cisplatin"] = "cisplatin"
    dose_mg_per_kg: float = Field(gt=0.0, le=50.0)


class Glycerol(_Injury):
    """Intramuscular 50 % glycerol (rhabdomyolysis, myoglobinuric AKI) at time 0."""

    model: Literal["glycerol"] = "glycerol"
    dose_ml_per_kg: float = Field(gt=0.0, le=20.0, description="mL of 50 % glycerol per kg")


class SepsisCLP(_Injury):
    """Caecal ligation and puncture; ``severity`` 1 = a standard mid-grade CLP."""

    model: Literal["sepsis_clp"] = "sepsis_clp"
    severity: float = Field(1.0, ge=0.0, le=3.0)


class LPS(_Injury):
    """A single endotoxin (lipopolysaccharide) dose at time 0."""

    model: Literal["lps"] = "lps"
    dose_mg_per_kg: float = Field(gt=0.0, le=100.0)


class UUO(_Injury):
    """Unilateral (left) ureteral obstruction from time 0, not released."""

    model: Literal["uuo"] = "uuo"


class Nephrectomy56(_Injury):
    """5/6 nephrectomy at time 0: right kidney removed, two thirds of the left resected/infarcted."""

    model: Literal["nephrectomy_5_6"] = "nephrectomy_5_6"


class Adriamycin(_Injury):
    """A single adriamycin (doxorubicin) dose at time 0: podocyte injury, nephropathy."""

    model: Literal["adriamycin"] = "adriamycin"
    dose_mg_per_kg: float = Field(gt=0.0, le=30.0)


class STZDiabetes(_Injury):
    """Streptozotocin diabetes (single dose at time 0): diabetic nephropathy."""

    model: Literal["stz_diabetes"] = "stz_diabetes"
    dose_mg_per_kg: float = Field(gt=0.0, le=300.0)


class CardiacSurgery(_Injury):
    """Cardiac surgery on cardiopulmonary bypass (human); time 0 = end of bypass."""

    model: Literal["cardiac_surgery"] = "cardiac_surgery"
    bypass_min: float = Field(gt=0.0, le=600.0, description="cardiopulmonary bypass time, minutes")
    baseline_egfr: float = Field(90.0, gt=5.0, le=150.0, description="pre-operative eGFR, mL/min/1.73 m²")


INJURY_MODELS = {cls.model_fields["model"].default: cls for cls in (
    Sham, ClearanceChange, IschemiaReperfusion, Cisplatin, Glycerol, SepsisCLP, LPS, UUO, Nephrectomy56,
    Adriamycin, STZDiabetes, CardiacSurgery)}
