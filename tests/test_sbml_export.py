"""The SBML is the model: exported files run identically in libRoadRunner and pass libSBML."""

import numpy as np
import pytest
import roadrunner

from nephrosim import export_sbml, load_scenario, simulate
from nephrosim.engine.jit_placement import compiling
from nephrosim.engine.sbml import consistency_errors, tolerance_scales
from nephrosim.biology.readouts import available_readouts

SCENARIO = "examples/mouse_clearance_drop.yaml"


@pytest.mark.parametrize("arm", ["vehicle", "msc_iv"])
def test_exported_sbml_reproduces_simulate(arm, tmp_path):
    scenario = load_scenario(SCENARIO).model_copy(update={"units": {}})
    ours = simulate(scenario)
    path = tmp_path / "model.xml"
    path.write_text(export_sbml(scenario, arm))
    with compiling():  # the engine's JIT settings (engine/jit_placement.py); the numbers are libRoadRunner's own
        rr = roadrunner.RoadRunner(str(path))
    rr.integrator.relative_tolerance = 1e-6
    # the document declares each state's tolerance scale (cells of a dose ~10^5); a user
    # reproduces nephrosim exactly by reading them, as the docstring of tolerance_scales says
    scales = tolerance_scales(path.read_text())
    assert (arm == "msc_iv") == bool(scales)
    rr.integrator.setValue("absolute_tolerance", 1e-9 if not scales else
                           [1e-9 * scales.get(s, 1.0) for s in rr.model.getFloatingSpeciesIds()])
    catalogue = available_readouts()
    ids = [catalogue[r].quantity for r in scenario.readouts]
    rr.timeCourseSelections = ["time", *ids]
    theirs = np.asarray(rr.simulate(times=list(scenario.times_h)))[:, 1:]
    mine = ours.values[arm]
    scale = np.maximum(np.abs(theirs), 1e-12)
    assert np.max(np.abs(mine - theirs) / scale) <= 1e-6


def test_exported_sbml_is_consistent_level3_version2():
    sbml = export_sbml(SCENARIO, "msc_iv")
    assert consistency_errors(sbml) == []
    import libsbml

    doc = libsbml.readSBMLFromString(sbml)
    assert (doc.getLevel(), doc.getVersion()) == (3, 2)
    # doses are SBML events, so any SBML tool gives the same dosing
    assert doc.getModel().getNumEvents() == 1


def test_every_parameter_of_the_sbml_is_documented():
    sbml = export_sbml(SCENARIO, "msc_iv")
    import libsbml

    model = libsbml.readSBMLFromString(sbml).getModel()
    for i in range(model.getNumParameters()):
        p = model.getParameter(i)
        assert p.isSetNotes(), p.getId()
