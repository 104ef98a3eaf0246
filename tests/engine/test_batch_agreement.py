"""The batch engine against libRoadRunner (the reference) and against analytic solutions.

* Random parameter sets (the ensemble's own priors, CV 0.3): every readout at every
  output time within 1e-4 relative or 1e-9 absolute of libRoadRunner at rtol 1e-8, both
  engines at the same tolerances (rtol 1e-8, atol 1e-12).
* Events at exact times, a time-dependent input and a parameter-dependent initial amount,
  against the closed-form solution of a one-compartment model.
* Statuses: the same codes as the reference simulator for a state driven negative, a
  readout that is infinite, and an integration that runs out of steps.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nephrosim.engine.batch import BatchSimulator
from nephrosim.engine.sbml import to_sbml
from nephrosim.engine.simulator import (NEGATIVE_STATE, NON_FINITE, OK, SOLVER_FAILURE, Simulator,
                                        SolverOptions)
from nephrosim.modelspec import Event, Flux, ModelSpec, ParameterUse, Process, Quantity, State
from nephrosim.run.ensemble.priors import draw, priors_from_table, varied_parameters
from nephrosim.run.simulation import as_scenario, compile_arm

TIGHT = SolverOptions(rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("path, arm, n", [
    ("examples/mouse_iri.yaml", "vehicle", 100),
    ("examples/head_to_head_mouse_iri.yaml", "msc", 100),
    ("examples/human_cardiac_surgery.yaml", "vehicle", 50),   # the fluid load: a time-varying volume
])
def test_random_parameter_sets_agree_with_roadrunner(path, arm, n):
    scenario = as_scenario(path)
    program = compile_arm(scenario, arm)
    priors = [p for p in priors_from_table(varied_parameters(scenario), 0.3, "lognormal")
              if p.name in program.parameter_values]
    names = [p.name for p in priors]
    values = draw(priors, 0, n, seed=15)
    times = np.asarray(scenario.times_h, dtype=float)
    kw = dict(start_time=program.start_h, state_scales=program.state_scales)
    ref, ref_status = Simulator(program.sbml, program.outputs, TIGHT, **kw).run_batch(times, names, values)
    out, status = BatchSimulator(program.sbml, program.outputs, TIGHT, **kw).run_batch(times, names, values)
    assert [s.code for s in status] == [s.code for s in ref_status]
    assert all(s.code == OK for s in ref_status)
    diff = np.abs(out - ref)
    bad = (diff > 1e-9) & (diff > 1e-4 * np.abs(ref))
    where = [(int(i), times[t], program.outputs[j], out[i, t, j], ref[i, t, j]) for i, t, j in np.argwhere(bad)[:5]]
    assert not bad.any(), f"{bad.sum()} readouts differ by more than 1e-4 relative: {where}"


# --- a model with a closed-form solution -------------------------------------------------
K, A, TAU, DOSE = 0.7, 2.0, 3.0, 5.0
EVENT_TIMES = (1.5, 2.7)


def _one_compartment(first_dose_h: float = 0.0) -> ModelSpec:
    """x' = −k·x + a·exp(−t/τ), x(0) = 2·x0_half, bolus DOSE at each event time."""
    process = Process(
        name="one_compartment", description="a drug in one compartment (test model)",
        states=(State("x", "mg", "2 * x0_half", "amount"),),
        parameters=(ParameterUse("k", "1/h", "elimination"), ParameterUse("a", "mg/h", "input"),
                    ParameterUse("tau", "h", "input decay"), ParameterUse("x0_half", "mg", "half the start"),
                    ParameterUse("dose", "mg", "bolus")),
        quantities=(Quantity("input_rate", "a * exp(-time / tau)", "mg/h", "decaying infusion"),
                    Quantity("conc", "x / 2", "mg/L", "concentration in 2 L")),
        fluxes=(Flux("elimination", "k * x", "mg/h", "first-order loss", consumes={"x": 1}),
                Flux("infusion", "input_rate", "mg/h", "input", produces={"x": 1})),
        events=tuple(Event(f"bolus_{i}", t, {"x": "x + dose"}, "bolus") for i, t in enumerate(EVENT_TIMES)),
    )
    values = {"k": K, "a": A, "tau": TAU, "x0_half": 0.5, "dose": DOSE}
    return ModelSpec("one_compartment", (process,), values, {})


def _exact(t: float, k: float = K, x0: float = 1.0) -> float:
    r = 1.0 / TAU
    x = x0 * math.exp(-k * t) + A * (math.exp(-r * t) - math.exp(-k * t)) / (k - r)
    return x + sum(DOSE * math.exp(-k * (t - te)) for te in EVENT_TIMES if t >= te)


def test_events_fire_at_their_exact_times_and_match_the_closed_form():
    sbml = to_sbml(_one_compartment())
    times = np.array([0.0, 1.0, 1.5 - 1e-6, 1.5, 2.0, 2.7, 2.7 + 1e-6, 5.0, 12.0])
    sim = BatchSimulator(sbml, ["x", "conc", "input_rate"], SolverOptions(rtol=1e-9, atol=1e-12))
    out, status = sim.run(times)
    assert status.code == OK
    exact = np.array([_exact(t) for t in times])
    np.testing.assert_allclose(out[:, 0], exact, rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], exact / 2, rtol=1e-6)
    np.testing.assert_allclose(out[:, 2], A * np.exp(-times / TAU), rtol=1e-12)
    # the output at an event time is after the bolus, as in libRoadRunner
    assert out[3, 0] - out[2, 0] == pytest.approx(DOSE, rel=1e-5)
    # parameters per patient, including one that enters the initial amount
    out2, st2 = sim.run_batch(times, ["k", "x0_half"], np.array([[0.3, 0.5], [K, 1.5]]))
    assert [s.code for s in st2] == [OK, OK]
    np.testing.assert_allclose(out2[0, :, 0], [_exact(t, k=0.3) for t in times], rtol=1e-6)
    np.testing.assert_allclose(out2[1, :, 0], [_exact(t, x0=3.0) for t in times], rtol=1e-6)


def _power_decay() -> ModelSpec:
    """x' = −k·x^n (n per patient, not an integer), z' = −ln x: pow and log of a state."""
    process = Process(
        name="power_decay", description="decay of order n, and the integral of −ln x (test model)",
        states=(State("x", "mg", "x0", "amount"), State("z", "mg", 0.0, "amount")),
        parameters=(ParameterUse("k", "1/h", "rate"), ParameterUse("n", "1", "order"),
                    ParameterUse("x0", "mg", "start")),
        fluxes=(Flux("decay", "k * x^n", "mg/h", "order-n loss", consumes={"x": 1}),
                Flux("log_gain", "-ln(x)", "mg/h", "grows while x < 1", produces={"z": 1})))
    return ModelSpec("power_decay", (process,), {"k": 0.5, "n": 1.7, "x0": 0.5}, {})


def test_pow_and_log_of_states_match_the_closed_form():
    """pow with a per-patient exponent and log of a state, in the SIMD lanes (five patients: a
    full group of four and one more) and through the Jacobian's reuse of b^p (p·b^p/b)."""
    times = np.array([0.0, 0.5, 1.0, 2.0, 5.0, 10.0])
    orders = np.array([1.05, 1.3, 1.7, 2.45, 3.1])
    sim = BatchSimulator(to_sbml(_power_decay()), ["x", "z"], SolverOptions(rtol=1e-10, atol=1e-14))
    out, status = sim.run_batch(times, ["n"], orders[:, None])
    assert [s.code for s in status] == [OK] * len(orders)
    for got, n in zip(out, orders):
        a, b = 0.5 ** (1 - n), (n - 1) * 0.5  # x = u^(−1/(n−1)), u = a + b·t
        u = a + b * times
        np.testing.assert_allclose(got[:, 0], u ** (-1 / (n - 1)), rtol=1e-7)
        np.testing.assert_allclose(got[:, 1], ((u * np.log(u) - u) - (a * np.log(a) - a)) / (b * (n - 1)),
                                   rtol=1e-7, atol=1e-12)


def test_statuses_mirror_the_reference_simulator():
    ok_model = to_sbml(_one_compartment())
    drained = Process(
        name="drained", description="zero-order loss from a finite pool (goes negative at t = 1)",
        states=(State("pool", "mg", 1.0, "amount"),),
        parameters=(ParameterUse("rate", "mg/h", "loss"),),
        quantities=(Quantity("inverse", "1 / (pool - 1)", "1/mg", "infinite at t = 0 on purpose"),),
        fluxes=(Flux("loss", "rate", "mg/h", "zero-order loss", consumes={"pool": 1}),))
    negative = to_sbml(ModelSpec("drained", (drained,), {"rate": 1.0}, {}))
    blowing_up = Process(
        name="blow_up", description="x' = x², x(0) = 1: infinite at t = 1, so no solver can pass it",
        states=(State("x", "mg", 1.0, "amount"),),
        fluxes=(Flux("growth", "x^2", "mg/h", "self-amplifying", produces={"x": 1}),))
    blow_up = to_sbml(ModelSpec("blow_up", (blowing_up,), {}, {}))
    cases = [
        (ok_model, ["x"], SolverOptions(), [0.0, 5.0], OK),
        (negative, ["pool"], SolverOptions(), [0.0, 2.0], NEGATIVE_STATE),
        (negative, ["inverse"], SolverOptions(), [0.0, 0.5], NON_FINITE),
        (blow_up, ["x"], SolverOptions(), [0.0, 2.0], SOLVER_FAILURE),
    ]
    for sbml, outputs, options, times, expected in cases:
        ref = Simulator(sbml, outputs, options).run(times)[1]
        got = BatchSimulator(sbml, outputs, options).run(times)[1]
        assert (got.code, ref.code) == (expected, expected), (got, ref)
        if expected == SOLVER_FAILURE:
            assert "retries (1) failed" in got.message and "t = 1" in got.message


def test_unknown_parameter_is_a_user_error_naming_the_closest():
    sim = BatchSimulator(to_sbml(_one_compartment()), ["x"])
    with pytest.raises(KeyError, match="did you mean 'dose'"):
        sim.run([0.0, 1.0], {"dosee": 1.0})


def test_a_batch_without_varied_parameters_has_one_row_per_patient():
    """An arm no varied parameter reaches (an ensemble's ``matrix[:, []]``) still gets n rows."""
    times = [0.0, 2.0, 6.0]
    out, status = BatchSimulator(to_sbml(_one_compartment()), ["x"]).run_batch(times, [], np.zeros((3, 0)))
    assert out.shape == (3, 3, 1) and [s.code for s in status] == [OK] * 3
    np.testing.assert_allclose(out[:, :, 0], np.tile([_exact(t) for t in times], (3, 1)), rtol=1e-5)
