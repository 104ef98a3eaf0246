"""Sham: the full injury core at steady state for 180 days; baselines in the normal ranges."""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np
import pytest

from nephrosim.engine.simulator import Simulator
from nephrosim.biology.parameters import ParameterTable
from nephrosim.run.simulation import export_sbml
from tests.model.conftest import run

GFR_UNIT = {"mouse": "uL/min", "rat": "mL/min/kg", "human": "mL/min/1.73m2"}


def _normal_ranges():
    text = resources.files("nephrosim.biology").joinpath("normal_ranges.csv").read_text("utf-8")
    return {(r["species"], r["readout"]): (float(r["lower"]), float(r["upper"]), r["unit"])
            for r in csv.DictReader(text.splitlines())}


@pytest.mark.parametrize("species", ["mouse", "rat", "human"])
def test_sham_every_state_steady_for_180_days(species):
    sbml = export_sbml({"species": species, "injury": {"model": "sham"}, "readouts": ["gfr"], "times_h": [0, 1]})
    states = Simulator(sbml, ["gfr_ml_min"]).state_trajectories([0.0, 24.0, 720.0, 4320.0])
    assert len(states) > 40  # the whole core is there
    for name, x in states.items():
        x0 = x[0]
        tol = max(0.005 * abs(x0), 1e-9)
        assert np.all(np.abs(x - x0) <= tol), f"{species}: state {name} drifts {x0} → {x}"


@pytest.mark.parametrize("species", ["mouse", "rat", "human"])
def test_sham_baselines_in_normal_range(species):
    ranges = _normal_ranges()
    units = {"gfr": GFR_UNIT[species]}
    out = run(species, {"model": "sham"}, ["serum_creatinine", "bun", "gfr", "survival", "fibrosis_area"],
              [0, 4320], units=units)
    for readout in ("serum_creatinine", "bun", "gfr"):
        lo, hi, unit = ranges[(species, readout)]
        assert np.all((out[readout] >= lo) & (out[readout] <= hi)), (species, readout, out[readout], lo, hi)
    assert out["survival"][-1] == pytest.approx(100.0)


def test_injury_parameter_rows_are_clean():
    table = ParameterTable.default()
    assert not table.problems()
    names = table.names()
    for must in ("k_tub_injury", "iri_t50_min", "allometric_exponent", "uuo_gfr_fall"):
        assert must in names
