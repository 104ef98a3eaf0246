"""The engine reports bad trajectories by status, in both state-check modes."""

import pytest

from nephrosim.engine.sbml import to_sbml
from nephrosim.engine.simulator import NEGATIVE_STATE, OK, SolverOptions, Simulator
from nephrosim.modelspec import Flux, ModelSpec, ParameterUse, Process, State


def _zero_order_sink(rate):
    """x is drained at a constant rate: a mis-specified model that goes negative."""
    p = Process("sink", "bad model", states=(State("x", "mg", 1.0, "x"),),
                parameters=(ParameterUse("r", "mg/h", "drain"),),
                fluxes=(Flux("drain", "r", "mg/h", "zero-order drain", consumes={"x": 1}),))
    return to_sbml(ModelSpec("sink", (p,), {"r": rate}, {}))


@pytest.mark.parametrize("mode", ["outputs", "final"])
def test_negative_state_is_reported(mode):
    sim = Simulator(_zero_order_sink(1.0), ["x"], SolverOptions(check_states=mode))
    out, status = sim.run([0, 0.5, 2.0])
    assert status.code == NEGATIVE_STATE
    assert "'x'" in status.message
    ok = Simulator(_zero_order_sink(0.1), ["x"], SolverOptions(check_states=mode)).run([0, 0.5, 2.0])[1]
    assert ok.code == OK


def test_output_before_start_time_is_a_status():
    sim = Simulator(_zero_order_sink(0.1), ["x"], start_time=0.0)
    _, status = sim.run([-1.0, 1.0])
    assert status.code != OK and "before the start" in status.message
