"""Shared helpers for the injury-model tests."""

from __future__ import annotations

from nephrosim.analysis.model_check import untreated_run


def run(species: str, injury: dict, readouts, times, **extra):
    """Simulate one untreated (vehicle) arm; return {readout: array}. A solver failure raises.

    Runs are shared with the literature-target checks (tests/validation): one simulation per
    design and process (:func:`nephrosim.analysis.model_check.untreated_run`).
    """
    out = untreated_run({"species": species, "injury": injury, **extra}, readouts, times)
    return {r: out[r] for r in readouts}
