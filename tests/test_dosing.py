"""Bolus and infusion doses are SBML events/fluxes and deliver exactly the amount given."""

import numpy as np
import pytest

from nephrosim.engine.sbml import consistency_errors, to_sbml
from nephrosim.engine.simulator import Simulator
from nephrosim.model.core import Flux, ModelSpec, ParameterUse, Process, State
from nephrosim.model.dosing import dose


def _model(parts, k=0.0):
    p = Process(
        "drug", "toy drug",
        states=(State("central", "mg", 0.0, "amount"), *parts.states),
        parameters=(ParameterUse("k", "1/h", "elimination"), *parts.parameters),
        fluxes=(Flux("elim", "k * central", "mg/h", "elimination", consumes={"central": 1}), *parts.fluxes),
        events=parts.events,
    )
    return to_sbml(ModelSpec("toy", (p,), {"k": k, **parts.values}, {}))


def test_bolus_adds_the_amount_at_its_time():
    sbml = _model(dose("d1", 5.0, "mg", "central", 10.0))
    assert consistency_errors(sbml) == []
    out, st = Simulator(sbml, ["central"]).run([0, 9.99, 10.01, 20])
    assert st.ok
    np.testing.assert_allclose(out[:, 0], [0, 0, 5, 5], atol=1e-9)


@pytest.mark.parametrize("duration", [0.05, 2.0])
def test_infusion_delivers_amount_linearly_even_when_short(duration):
    """A 3-minute infusion between sparse output times is not stepped over."""
    sbml = _model(dose("d1", 6.0, "mg", "central", 30.0, infusion_h=duration))
    assert consistency_errors(sbml) == []
    out, st = Simulator(sbml, ["central"]).run([0, 30 + duration / 2, 30 + duration, 500])
    assert st.ok
    np.testing.assert_allclose(out[:, 0], [0, 3.0, 6.0, 6.0], rtol=1e-6, atol=1e-9)
