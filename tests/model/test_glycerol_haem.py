"""Glycerol rhabdomyolysis: myoglobin release, plasma clearance and the renal haem load.

The literature targets of the glycerol model (rat BUN still rising at 72 h, the rat dose
threshold, mouse BUN on day 5) are rows of src/nephrosim/analysis/targets/literature_targets.yaml,
checked in tests/validation/. Here the three pools are checked against their closed-form solution.
"""

from __future__ import annotations

import numpy as np
import pytest

from nephrosim.biology.parameters import ParameterTable
from nephrosim.engine.simulator import Simulator
from nephrosim.run.simulation import export_sbml


def _analytic(t, dose, a, c, b, d):
    """Depot → plasma → renal load, first order, with the kidneys filtering normally.

    depot' = −a·depot; plasma' = a·depot − c·plasma; load' = b·plasma − d·load.
    """
    depot = dose * np.exp(-a * t)
    plasma = dose * a / (c - a) * (np.exp(-a * t) - np.exp(-c * t))
    load = b * dose * a / (c - a) * ((np.exp(-a * t) - np.exp(-d * t)) / (d - a)
                                     - (np.exp(-c * t) - np.exp(-d * t)) / (d - c))
    return depot, plasma, load


def test_haem_pools_follow_their_closed_form_below_the_toxic_range():
    """A dose far below the toxic range (0.5 mL/kg; toxicity ~1e-5) leaves filtration at normal,
    so the pools are linear: the model must match the closed form, including the renal share of
    plasma clearance entering each kidney and quarter-power scaling in a rat."""
    species, dose = "rat", 0.5
    table = ParameterTable.default()
    value = lambda name: table.record(name, species).value  # noqa: E731
    rate_scale = (value("body_weight_kg") / value("allometric_reference_bw_kg")) ** -value("allometric_exponent")
    a = value("gly_k_release") * rate_scale
    c = value("gly_k_myoglobin_clear") * rate_scale
    b = c * value("gly_renal_share")
    d = value("gly_k_heme_degradation") * rate_scale

    sbml = export_sbml({"species": species, "injury": {"model": "glycerol", "dose_ml_per_kg": dose},
                        "readouts": ["bun"], "times_h": [0, 1]})
    times = [0.0, 2.0, 6.0, 12.0, 24.0, 72.0, 144.0, 336.0]
    states = Simulator(sbml, ["gfr_ml_min"]).state_trajectories(times)
    depot, plasma, load = _analytic(np.asarray(times), dose, a, c, b, d)

    assert states["gly_depot"] == pytest.approx(depot, rel=1e-3, abs=1e-7)
    assert states["gly_myoglobin"] == pytest.approx(plasma, rel=1e-3, abs=1e-7)
    for side in ("l", "r"):
        assert states[f"gly_renal_heme_{side}"] == pytest.approx(load, rel=1e-3, abs=1e-7)
    # the load outlasts plasma myoglobin by days (haem oxygenase/ferritin, PMID 23387277)
    assert states["gly_myoglobin"][-2] < 1e-4 * dose < states["gly_renal_heme_l"][-2]
