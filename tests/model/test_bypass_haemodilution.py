"""Haemodilution after cardiac surgery on bypass (cardiac_surgery's ``volume_factor``).

Checked against things independent of the model code: the one-compartment creatinine balance
V(t)·C with V(t) = TBW·(1 + fluid excess(t)) solved by scipy. Mass balance of the amount through
a bypass hit and its fluid load: ``tests/test_model_integrity.py::test_creatinine_mass_balance``."""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from nephrosim.engine.simulator import Simulator, SolverOptions
from nephrosim.run.simulation import as_scenario, compile_arm

#: A bypass so short that the renal hit is nil (Hill term (1/150)^3): only the fluid load acts.
NO_HIT = {"model": "cardiac_surgery", "bypass_min": 1.0, "baseline_egfr": 90.0}


def _program(injury=NO_HIT, parameters=None):
    scenario = as_scenario({"species": "human", "injury": injury, "parameters": parameters or {},
                            "readouts": ["serum_creatinine"], "times_h": [0, 1]})
    return compile_arm(scenario, "vehicle")


def test_serum_creatinine_follows_the_one_compartment_balance_with_an_expanding_volume():
    """Without a renal hit, SCr is the solution of d(V·C)/dt = G − CL·C with V(t) = V0·(1 + f(t)),
    f(t) = excess·(1 − e^(−t/τ_mix))·e^(−t/τ): it starts at the pre-operative value, dips and comes back."""
    excess, tau, mix = 0.2, 24.0, 1.0
    program = _program(parameters={"cpb_fluid_excess": excess, "cpb_fluid_tau_h": tau, "cpb_fluid_mixing_h": mix})
    names = ["serum_creatinine_mg_dl", "creatinine_clearance_ml_min", "creatinine_production_mg_h",
             "body_water_baseline_dl"]
    sim = Simulator(program.sbml, names, SolverOptions(rtol=1e-10, atol=1e-12))
    t = np.linspace(0.0, 240.0, 961)
    out, status = sim.run(t)
    assert status.ok
    scr, clearance, production, v0 = out.T
    # the renal hit is nil: clearance stays at its pre-operative value (to 1e-6)
    assert np.ptp(clearance) / clearance[0] < 1e-6
    cl_dl_h = clearance[0] * 0.6                           # mL/min -> dL/h

    def volume(tt):
        return v0[0] * (1.0 + excess * (1.0 - np.exp(-tt / mix)) * np.exp(-tt / tau))

    def rhs(tt, a):
        return [production[0] - cl_dl_h * a[0] / volume(tt)]

    ref = solve_ivp(rhs, (0.0, 240.0), [scr[0] * v0[0]], t_eval=t, rtol=1e-10, atol=1e-12, method="LSODA")
    reference = ref.y[0] / volume(t)
    assert np.max(np.abs(scr - reference) / reference) < 1e-5
    # the pre-operative value at t = 0, a dip within hours (less than the dilution alone: creatinine
    # keeps accumulating while the diluted plasma clears less of it), back near baseline by day 10
    assert scr[0] == reference[0]
    dilution_6h = 1.0 / (1.0 + excess * (1.0 - np.exp(-6.0 / mix)) * np.exp(-6.0 / tau))
    assert dilution_6h * scr[0] < scr[np.searchsorted(t, 6.0)] < 0.95 * scr[0]
    assert abs(scr[-1] / scr[0] - 1.0) < 0.01


def test_other_insults_keep_a_fixed_distribution_volume():
    """Only cardiac surgery expands the volume: an ischaemia model has no fluid-load quantity at all."""
    scenario = as_scenario({"species": "mouse", "injury": {"model": "ischemia_reperfusion", "clamp_min": 22},
                            "readouts": ["serum_creatinine"], "times_h": [0, 1]})
    sbml = compile_arm(scenario, "vehicle").sbml
    assert "cpb_fluid_volume" not in sbml and "body_water_baseline_dl" not in sbml
    assert "cpb_fluid_volume" in _program().sbml
