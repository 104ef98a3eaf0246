"""Cultivation protocols: how an MSC product was made, and what that does to it.

A :class:`Protocol` is read from YAML (``load_protocol``) or given inline in a
treatment (``protocol: {hypoxia_o2_percent: 1, hypoxia_hours: 48}``). It is
validated once, at construction. What a protocol does to the product (fold changes of
each paracrine mechanism, EV yield, cell volume, tissue factor, with bounds and
sources) is biology: :mod:`nephrosim.biology.therapy.potency`.

Example protocol file (``examples/protocols/hypoxic_bm_msc.yaml``)::

    name: hypoxic BM-MSC
    tissue_source: bone_marrow
    passage: 4
    hypoxia_o2_percent: 1
    hypoxia_hours: 48
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from nephrosim.inputs import StrictModel

from nephrosim.scenarios.errors import ScenarioError, read_mapping, validate

TissueSource = Literal["bone_marrow", "adipose", "umbilical_cord", "wharton_jelly", "placenta"]
Culture = Literal["2d", "spheroid", "microcarrier", "hollow_fibre"]
Priming = Literal["ifn_gamma", "tnf"]
Modification = Literal["hgf_overexpression", "vegf_overexpression"]


class Protocol(StrictModel):
    """How the cells (or their secretome) were produced."""


    name: str = "standard 2D culture"
    tissue_source: TissueSource = "bone_marrow"
    passage: int = Field(3, ge=0, le=60, description="passage number at harvest")
    donor_age_years: float | None = Field(None, ge=0, le=110)
    hypoxia_o2_percent: float | None = Field(None, gt=0.0, le=21.0,
                                             description="O2 during preconditioning (None = normoxia)")
    hypoxia_hours: float = Field(0.0, ge=0.0, le=24 * 14)
    priming: tuple[Priming, ...] = Field((), description="cytokine licensing before harvest")
    priming_hours: float = Field(24.0, ge=0.0, le=24 * 14)
    culture: Culture = "2d"
    serum_free: bool = False
    genetic_modification: tuple[Modification, ...] = ()
    ev_yield_particles_per_cell: float | None = Field(
        None, gt=0.0, description="measured EV yield (reported only; never used to convert doses)")
    conditioning_hours: float = Field(24.0, gt=0.0, le=24 * 14,
                                      description="hours the medium was conditioned (CM)")

    @model_validator(mode="after")
    def _hypoxia_needs_hours(self):
        if self.hypoxia_o2_percent is not None and self.hypoxia_hours <= 0:
            raise ValueError("hypoxia_o2_percent is set but hypoxia_hours is 0; give the hours at low O2")
        if self.hypoxia_o2_percent is None and self.hypoxia_hours > 0:
            raise ValueError("hypoxia_hours is set but hypoxia_o2_percent is not; give the O2 percent")
        return self


def load_protocol(path: str | Path) -> Protocol:
    """Read and validate a protocol YAML file (errors name the file and field)."""
    return protocol_from_dict(read_mapping(path, "protocol") or {}, str(path))


def protocol_from_dict(data: Any, source: str = "protocol") -> Protocol:
    return validate(Protocol, data, source, "protocol")


def as_protocol(value: Protocol | str | Path | dict | None) -> Protocol:
    """A :class:`Protocol` from an object, a path or a mapping; ``None`` = standard 2D culture."""
    if value is None:
        return Protocol()
    if isinstance(value, Protocol):
        return value
    if isinstance(value, dict):
        return protocol_from_dict(value)
    if not isinstance(value, (str, Path)):
        raise ScenarioError("protocol", [f"(protocol): {value!r} is neither a mapping of protocol fields nor the "
                                         "path of a protocol YAML file"])
    return load_protocol(value)
