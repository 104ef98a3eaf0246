"""Sham: the full injury core is present.

The steady state of every state, survival included (±0.5 % for 180 days), and the baselines in
the normal ranges are targets of src/nephrosim/analysis/targets/literature_targets.yaml
(by-construction and held-out), checked in tests/validation/.
"""

from __future__ import annotations

from nephrosim.biology.parameters import ParameterTable
from nephrosim.engine.simulator import Simulator
from nephrosim.run.simulation import export_sbml


def test_sham_has_the_whole_core():
    """Every insult includes the whole core (the core does not depend on species)."""
    sbml = export_sbml({"species": "mouse", "injury": {"model": "sham"}, "readouts": ["gfr"], "times_h": [0, 1]})
    states = Simulator(sbml, ["gfr_ml_min"]).state_trajectories([0.0, 24.0])
    assert len(states) > 40 and "survival" in states


def test_injury_parameter_rows_are_clean():
    table = ParameterTable.default()
    assert not table.problems()
    names = table.names()
    for must in ("k_tub_injury", "iri_t50_min", "allometric_exponent", "uuo_gfr_fall"):
        assert must in names
