"""Cisplatin's renal glutathione drain (nephrosim.biology.insults.cisplatin, issue 14 item 5).

Cisplatin is conjugated to glutathione in the kidney (Hanigan 1994, PMID 7954424), so the
retained exposure drains the GSH pool; the ROS excess that follows injures tubules with a
cisplatin weight in place of the IRI-tuned one. The magnitudes (Ashour 2016) are literature
targets in tests/validation/; these tests check the structure the known miss rests on.
"""

from __future__ import annotations

import numpy as np
import pytest

from nephrosim import simulate
from nephrosim.biology.parameters import ParameterTable

RAT_5 = {"species": "rat", "injury": {"model": "cisplatin", "dose_mg_per_kg": 5.0},
         "readouts": ["serum_creatinine", "gsh", "ros"], "times_h": [0, 24, 72, 96, 120, 168]}


def _run(parameters=None):
    r = simulate(RAT_5, parameters=parameters)
    assert r.ok, r.statuses
    return {k: r.get("vehicle", k) for k in RAT_5["readouts"]}


def test_after_cisplatin_the_ros_excess_injures_tubules_with_the_cisplatin_weight_only():
    table = ParameterTable.default()
    base = _run()
    assert base["gsh"][3] < 0.2 and base["ros"][3] > 2  # the drain leaves a ROS excess on day 4
    shared = _run({"tub_w_ros": 20 * table.record("tub_w_ros", "rat").value})
    np.testing.assert_allclose(shared["serum_creatinine"], base["serum_creatinine"], rtol=1e-5)
    own = _run({"cis_tub_w_ros": 20 * table.record("cis_tub_w_ros", "rat").value})
    assert own["serum_creatinine"][3] > 1.2 * base["serum_creatinine"][3]


def test_with_glutathione_gone_ros_rises_to_the_scavenging_ceiling():
    """With GSH → 0, scavenging falls to 1 − ros_gsh_share of normal, so with no other extra ROS
    production, ROS settles at 1/(1 − ros_gsh_share): the ceiling that keeps MDA under Ashour's ×4.6
    (rat_cisplatin_oxidative_magnitude)."""
    share = ParameterTable.default().record("ros_gsh_share", "rat").value
    d = _run({"cis_gsh_conjugation": 1e5, "cis_ros_gain": 0.0, "ros_w_inflammation": 0.0, "ros_w_hypoxia": 0.0})
    assert d["gsh"][3] < 1e-3
    assert d["ros"][3] == pytest.approx(1 / (1 - share), rel=5e-3)
