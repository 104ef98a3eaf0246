"""The readout catalogue: every observable a scenario may ask for, with its model unit."""

from __future__ import annotations

from functools import lru_cache

from nephrosim.biology.injury import injury_readouts
from nephrosim.biology.physiology import kidney_function
from nephrosim.biology.therapy.msc import biodistribution
from nephrosim.modelspec import Readout


@lru_cache(maxsize=1)
def available_readouts() -> dict[str, Readout]:
    """Every readout a scenario may ask for, by name."""
    out: dict[str, Readout] = {}
    for group in (kidney_function().readouts, biodistribution(()).readouts, injury_readouts()):
        for r in group:
            out[r.name] = r
    return out
