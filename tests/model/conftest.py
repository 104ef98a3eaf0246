"""Shared helpers for the injury-model tests."""

from __future__ import annotations

import numpy as np

from nephrosim.run.simulation import simulate


def run(species: str, injury: dict, readouts, times, **extra):
    """Simulate one vehicle arm; return {readout: array} and assert the solver status is ok."""
    result = simulate({"species": species, "injury": injury, "readouts": list(readouts),
                       "times_h": list(times), **extra})
    status = result.statuses["vehicle"]
    assert status.ok, f"{species} {injury}: {status.code} {status.message}"
    return {r: np.asarray(result.get("vehicle", r)) for r in readouts}
