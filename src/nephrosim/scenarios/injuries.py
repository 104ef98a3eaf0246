"""Injury models a scenario can name (``injury: {model: ...}``).

Each class is an immutable, validated description of an insult; the biology that
turns it into time-varying inputs lives in :mod:`nephrosim.model.insults`. Names
are stable across versions so that scenarios keep working.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Injury(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


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


INJURY_MODELS = {cls.model_fields["model"].default: cls for cls in (Sham, ClearanceChange)}
