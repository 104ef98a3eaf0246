"""The augmented-SBML forward sensitivities against central finite differences."""

from __future__ import annotations

import libsbml
import numpy as np
import pytest

from nephrosim.engine.sensitivity import SensitivityError, SensitivitySimulator, ast_to_sympy, to_l3
from nephrosim.engine.simulator import SolverOptions
from nephrosim.scenarios.schema import scenario_from_dict
from nephrosim.run.simulation import compile_arm

TIGHT = SolverOptions(rtol=1e-10, atol=1e-12, max_steps=200000)


def _fd_check(program, params, times, outputs=None, rel_h=1e-5, noise_margin=1e3):
    outputs = outputs or program.outputs
    sim = SensitivitySimulator(program.sbml, outputs, params, TIGHT)
    base = {p: program.parameter_values[p] for p in params}
    y, dy, status = sim.run(times, base)
    assert status.ok, status.message
    for k, p in enumerate(params):
        h = rel_h * base[p]
        up, dn = dict(base), dict(base)
        up[p] += h
        dn[p] -= h
        fd = (sim.run(times, up)[0] - sim.run(times, dn)[0]) / (2 * h)
        # relative error; below the finite differences' own noise (≈ rtol·|y|/h, ×1000 margin)
        # a sensitivity counts as zero
        floor = noise_margin * TIGHT.rtol * np.max(np.abs(y), axis=0) / h + 1e-300
        scale = np.maximum(np.max(np.abs(fd), axis=0), floor)
        err = np.max(np.abs(fd - dy[:, :, k]), axis=0) / scale
        assert np.all(err <= 1e-4), (p, err)


def test_clearance_change_model():
    sc = scenario_from_dict({"species": "rat", "injury": {"model": "clearance_change", "fraction": 0.8,
                                                          "duration_h": 48, "recovery_h": 48},
                             "readouts": ["serum_creatinine", "bun", "creatinine_clearance"]})
    program = compile_arm(sc, "vehicle")
    _fd_check(program, ["tbw_fraction", "gfr_ml_min_per_kg", "creatinine_production_mg_per_kg_h",
                        "creatinine_secretion_fraction"], [3.0, 20.0, 60.0, 130.0])


def test_model_with_dose_events():
    sc = scenario_from_dict({
        "species": "mouse", "injury": {"model": "clearance_change", "fraction": 0.6},
        "arms": [{"name": "treated", "treatments": [
            {"product": "msc", "source": "bone_marrow", "donor": "allogeneic", "dose": 1.0e6,
             "dose_unit": "cells", "route": "iv", "time_h": 6, "repeat_every_h": 24, "repeat_count": 2}]}],
        "readouts": ["serum_creatinine", "bun"]})
    program = compile_arm(sc, "treated")
    import roadrunner

    from nephrosim.engine.jit_placement import compiling

    with compiling():  # the engine's JIT settings; the model is libRoadRunner's own
        rr = roadrunner.RoadRunner(program.sbml)
    assert rr.model.getNumEvents() >= 2
    species = [s for s in rr.model.getFloatingSpeciesIds()
               if s.startswith("msc1_") and ("lung" in s or "kidney" in s)][:3]
    assert species
    params = [p for p in ("msc_lung_half_life_h", "msc_lung_uptake_per_h", "gfr_ml_min_per_kg")
              if p in program.parameter_values]
    assert "msc_lung_half_life_h" in params
    # event location adds noise to each run, so the differences use a larger step and a wider
    # noise floor (outputs that barely depend on a parameter are then compared as zero)
    _fd_check(program, params, [4.0, 12.0, 40.0, 70.0], outputs=[*program.outputs, *species], rel_h=1e-4,
              noise_margin=1e5)


def test_switch_time_parameter_is_refused():
    sc = scenario_from_dict({"species": "rat", "injury": {"model": "clearance_change", "fraction": 0.5,
                                                          "onset_h": 2.0}, "readouts": ["serum_creatinine"]})
    program = compile_arm(sc, "vehicle")
    with pytest.raises(SensitivityError, match="switch time"):
        SensitivitySimulator(program.sbml, program.outputs, ["cc_onset_h"])


@pytest.mark.parametrize("formula", [
    "piecewise(1, time < a, 1 - b, time < a + c, 2)", "max(0, x - 1)^2 / (x^2 + y^2)", "exp(-time * k) * ln(y)",
    "min(1, max(0, x)) * sqrt(y)", "pow(x, 2.5) + (-(3))",
])
def test_math_roundtrip(formula):
    ast = libsbml.parseL3Formula(formula)
    expr = ast_to_sympy(ast)
    again = ast_to_sympy(libsbml.parseL3Formula(to_l3(expr)))
    values = {s: 0.7 + 0.3 * i for i, s in enumerate(sorted(expr.free_symbols, key=str))}
    assert float(expr.subs(values)) == pytest.approx(float(again.subs(values)), rel=1e-14)
