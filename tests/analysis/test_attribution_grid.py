"""Attribution over a grid of species and dose timing (issue 17)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nephrosim.analysis.attribution import _condition, attribute, attribute_grid
from nephrosim.errors import UserInputError
from nephrosim.run.simulation import as_scenario

SCENARIO = {"name": "grid", "species": "mouse", "injury": {"model": "ischemia_reperfusion", "clamp_min": 25},
            "arms": [{"name": "vehicle"},
                     {"name": "msc", "treatments": [{"product": "msc", "dose": 5e5, "dose_unit": "cells",
                                                     "route": "iv", "time_h": 0}]}],
            "readouts": ["serum_creatinine"], "times_h": [0, 24, 48, 96, 168]}


def test_a_grid_is_the_attribution_of_each_condition():
    grid = attribute_grid(SCENARIO, species=["mouse", "rat"], dose_times_h=[0, 24], samples=0)
    assert set(zip(grid["species"], grid["dose_time_h"])) == {("mouse", 0.0), ("mouse", 24.0), ("rat", 0.0),
                                                              ("rat", 24.0)}
    for _, cell in grid.groupby(["species", "dose_time_h"]):
        assert cell["share"].sum() == pytest.approx(cell["total"].iloc[0], rel=1e-9)  # Shapley efficiency
    # one cell equals a plain attribution of the scenario built by hand
    by_hand = as_scenario({**SCENARIO, "arms": [SCENARIO["arms"][0], {"name": "msc", "treatments": [
        {**SCENARIO["arms"][1]["treatments"][0], "time_h": 24}]}]})
    direct = attribute(by_hand, samples=0).to_frame().set_index("mechanism")["share"]
    cell = grid[(grid.species == "mouse") & (grid.dose_time_h == 24.0)].set_index("mechanism")["share"]
    assert np.allclose(cell.loc[direct.index], direct, rtol=1e-9)


def test_another_species_keeps_the_dose_per_kg():
    from nephrosim.run.assemble import body_weight_kg

    base = as_scenario(SCENARIO)
    rat, note = _condition(base, "rat", None)
    t = rat.arms[1].treatments[0]
    assert t.dose_unit == "cells/kg" and math.isclose(t.dose, 5e5 / body_weight_kg(base))
    assert "per kg" in note
    with pytest.raises(UserInputError, match="species"):
        attribute_grid(SCENARIO, species=["dog"])


def test_the_cli_writes_the_grid_and_names_a_bad_species(tmp_path):
    import pandas as pd
    import yaml
    from typer.testing import CliRunner

    from nephrosim.cli import app

    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO), encoding="utf-8")
    out = tmp_path / "grid.csv"
    result = CliRunner().invoke(app, ["attribute", str(scenario), "--samples", "0", "--dose-time", "24", "-o", str(out)])
    assert result.exit_code == 0, result.output
    grid = pd.read_csv(out)
    assert set(grid["dose_time_h"]) == {24.0} and grid["share"].sum() == pytest.approx(grid["total"].iloc[0])
    bad = CliRunner().invoke(app, ["attribute", str(scenario), "--species", "dog", "-o", str(tmp_path / "b.csv")])
    assert bad.exit_code == 2 and "species" in bad.output and not (tmp_path / "b.csv").exists()
