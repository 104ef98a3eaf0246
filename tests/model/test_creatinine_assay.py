"""The creatinine assay as an observation model (issue 14 item 9).

A Jaffé (alkaline picrate) reading is true serum creatinine plus the species' non-creatinine
chromogen offset; the body — GFR, creatinine clearance, BUN, every kinetic — is the same
whichever assay reads it. Enzymatic and HPLC read true creatinine: their model is the model of
before, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
import roadrunner

from nephrosim import ParameterTable, simulate
from nephrosim.engine.jit_placement import compiling
from nephrosim.errors import UserInputError
from nephrosim.run.ensemble import varied_parameters
from nephrosim.run.simulation import as_scenario, compile_arm, export_sbml

OFFSET = "jaffe_chromogen_offset_mg_dl"
#: µmol/L per mg/dL of creatinine (molar mass 113.12 g/mol: 10 dL/L / 113.12 g/mol × 1000)
UMOL_PER_MG_DL = 10_000 / 113.12

# a fall and recovery of kidney function: SCr rises about 5-fold and comes back
INJURY = {"model": "clearance_change", "fraction": 0.8, "duration_h": 30, "recovery_h": 20}
TIMES = [0, 6, 12, 24, 36, 48, 72]
READOUTS = ["serum_creatinine", "bun", "gfr", "creatinine_clearance"]


def _scenario(species, assay=None, **extra):
    data = {"species": species, "injury": INJURY, "readouts": READOUTS, "times_h": TIMES, **extra}
    if assay is not None:
        data["observation"] = {"creatinine_assay": assay}
    return as_scenario(data)


@pytest.mark.parametrize("species", ["mouse", "rat", "human"])
def test_a_jaffe_reading_is_true_creatinine_plus_the_species_offset(species):
    offset = ParameterTable.default().record(OFFSET, species).value
    true = simulate(_scenario(species))
    jaffe = simulate(_scenario(species, "jaffe"))
    assert true.ok and jaffe.ok
    scr_true, scr_jaffe = true.get("vehicle", "serum_creatinine"), jaffe.get("vehicle", "serum_creatinine")
    assert scr_true.max() > 3 * scr_true[0]  # the injury moves creatinine: the offset stays additive
    # the SBML rule is true + offset: the same double-precision sum at every time
    np.testing.assert_array_equal(scr_jaffe, scr_true + offset)
    for readout in ("bun", "gfr", "creatinine_clearance"):  # the assay does not change the body
        np.testing.assert_array_equal(jaffe.get("vehicle", readout), true.get("vehicle", readout))


def test_the_offset_is_the_same_amount_in_every_unit():
    units = {"units": {"serum_creatinine": "umol/L"}}
    true = simulate(_scenario("rat", **units)).get("vehicle", "serum_creatinine")
    jaffe = simulate(_scenario("rat", "jaffe", **units)).get("vehicle", "serum_creatinine")
    offset = ParameterTable.default().record(OFFSET, "rat").value
    np.testing.assert_allclose(jaffe - true, offset * UMOL_PER_MG_DL, rtol=1e-4)


def test_enzymatic_and_hplc_are_the_model_of_before():
    """The default builds no assay parameter or rule, so its SBML and numbers are unchanged, and
    a scenario that leaves the field out keeps its digest (calibration configs hash scenarios
    without their defaults)."""
    default = _scenario("rat")
    sbml = export_sbml(default)
    assert "jaffe" not in sbml.lower()
    assert "observation" not in default.model_dump(exclude_defaults=True)
    for assay in ("enzymatic", "hplc"):
        explicit = _scenario("rat", assay)
        assert export_sbml(explicit) == sbml
        np.testing.assert_array_equal(simulate(explicit).values["vehicle"], simulate(default).values["vehicle"])
    jaffe = export_sbml(_scenario("rat", "jaffe"))
    assert OFFSET in jaffe and jaffe != sbml


def test_the_exported_sbml_carries_the_offset_as_a_live_parameter():
    """Any SBML tool running the exported file reports the Jaffé reading, and changing the
    offset parameter there moves the reading by exactly that much."""
    scenario = _scenario("mouse", "jaffe")
    program = compile_arm(scenario, "vehicle")
    sbml = export_sbml(scenario)
    with compiling():  # the engine's JIT settings (engine/jit_placement.py); the numbers are libRoadRunner's own
        rr = roadrunner.RoadRunner(sbml)
    assert rr[OFFSET] == ParameterTable.default().record(OFFSET, "mouse").value
    rr.timeCourseSelections = ["time", "serum_creatinine_mg_dl", "serum_creatinine_jaffe_mg_dl"]
    out = rr.simulate(0, 24, 3)
    np.testing.assert_allclose(out[:, 2] - out[:, 1], rr[OFFSET], rtol=1e-12)
    rr.reset()
    rr[OFFSET] = 0.75
    out = rr.simulate(0, 24, 3)
    np.testing.assert_allclose(out[:, 2] - out[:, 1], 0.75, rtol=1e-12)
    assert program.outputs[0] == "serum_creatinine_jaffe_mg_dl"


def test_the_batch_engine_reads_the_same_jaffe_creatinine_as_libroadrunner():
    scenario = _scenario("rat", "jaffe", readouts=["serum_creatinine", "bun"])
    batch = simulate(scenario.model_copy(update={"solver": scenario.solver.model_copy(update={"engine": "batch"})}))
    reference = simulate(scenario)
    assert batch.ok and reference.ok
    # same SCr within the engines' agreement (tests/engine/test_batch_agreement.py) ...
    np.testing.assert_allclose(batch.values["vehicle"], reference.values["vehicle"], rtol=1e-4)
    # ... and the batch engine's Jaffé reading is its own true creatinine + the offset
    true_batch = simulate(_scenario("rat", readouts=["serum_creatinine"], solver={"engine": "batch"}))
    np.testing.assert_allclose(batch.get("vehicle", "serum_creatinine") - true_batch.get("vehicle", "serum_creatinine"),
                               ParameterTable.default().record(OFFSET, "rat").value, rtol=1e-12)


def test_the_offset_enters_the_uncertainty_bands_only_where_a_jaffe_assay_reads():
    record = ParameterTable.default().record(OFFSET, "rat")
    assert varied_parameters(_scenario("rat", "jaffe"))[OFFSET] == (record.value, record.lower, record.upper)
    assert OFFSET not in varied_parameters(_scenario("rat"))
    # an override moves a Jaffé reading; on an enzymatic reading it would change nothing: refused, with the fix
    moved = simulate(_scenario("rat", "jaffe", parameters={OFFSET: 0.6}))
    np.testing.assert_array_equal(moved.get("vehicle", "serum_creatinine"),
                                  simulate(_scenario("rat")).get("vehicle", "serum_creatinine") + 0.6)
    with pytest.raises(UserInputError, match="creatinine_assay: jaffe"):
        simulate(_scenario("rat", parameters={OFFSET: 0.6}))


def test_an_unknown_assay_names_the_field_and_the_allowed_values():
    with pytest.raises(UserInputError) as err:
        _scenario("mouse", "colorimetric")
    text = str(err.value)
    assert "observation.creatinine_assay" in text and "'colorimetric'" in text
    for allowed in ("enzymatic", "hplc", "jaffe"):
        assert allowed in text


def test_the_offset_is_a_fittable_observation_parameter():
    """Two labs see the same injury, one by Jaffé and one by an enzymatic assay: a fit to their
    SCr (noise-free, made from known values) recovers the offset and the GFR that made them,
    with exact gradients (issue 14: the assay offset as a fitted observation parameter)."""
    from nephrosim.calibration import CalibrationProblem, as_config, calibrate, synthesize

    def lab(name, assay):
        return {"id": name, "citation": "synthetic", "mapping": "synthetic data from known parameters",
                "scenario": {"species": "rat", "injury": INJURY, "observation": {"creatinine_assay": assay}},
                "observations": [{"readout": "serum_creatinine", "time_h": t, "mean": 1.0, "sd": 0.05, "n": 8}
                                 for t in (0, 12, 24, 48, 96)]}

    config = as_config({"name": "jaffe_offset", "studies": [lab("jaffe_lab", "jaffe"), lab("enzymatic_lab", "enzymatic")],
                        "parameters": [{"name": OFFSET, "species": "rat"}, {"name": "gfr_ml_min_per_kg"}],
                        "fit": {"n_starts": 2, "seed": 0}})
    problem = CalibrationProblem(config)
    x = (problem.lower + problem.upper) / 2
    _, grad = problem.nll_and_grad(x)
    h = 1e-5
    fd = [(problem.nll(x + h * e) - problem.nll(x - h * e)) / (2 * h) for e in np.eye(problem.dim)]
    np.testing.assert_allclose(grad, fd, rtol=1e-4)
    truth = {OFFSET: 0.6, "gfr_ml_min_per_kg": 6.0}
    fit = calibrate(synthesize(config, truth, noise=False))
    np.testing.assert_allclose(10 ** fit.x_, [truth[p.name] for p in fit.problem_.parameters], rtol=1e-3)


@pytest.mark.parametrize("notes, assay, why", [
    ("SCr by the Jaffe method", "jaffe", "stated"),
    ("creatinine: enzymatic kit (Roche)", "enzymatic", "stated"),
    ("plasma creatinine measured by HPLC", "hplc", "stated"),
    ("Jaffe/enzymatic not stated", None, "not stated"),  # a curator's negation names no assay
    ("commercial colorimetric kit", None, "colorimetric"),  # Jaffé and enzymatic kits are both colorimetric
    ("Jaffé and HPLC compared", None, "several"),
    ("", None, "not stated"),
])
def test_a_studys_assay_is_read_off_its_rows_never_defaulted(notes, assay, why):
    import pandas as pd

    from nephrosim.calibration.designs import design_of

    base = {"study_id": "S", "species": "rat", "injury": "ischemia_reperfusion", "injury_details": "bilateral 45 min",
            "arm_id": "vehicle", "role": "control", "product": "none", "unit": "mg/dL", "quote": ""}
    rows = pd.DataFrame([{**base, "readout": "serum_creatinine", "notes": notes},
                         {**base, "readout": "mda", "notes": "MDA by HPLC"}])  # another readout's method is not SCr's
    design = design_of("S", rows)
    assert design.creatinine_assay == assay and why in design.creatinine_assay_note
    assert design.scenario.get("observation") == ({"creatinine_assay": assay} if assay else None)
    as_scenario({**design.scenario, "readouts": ["serum_creatinine"], "times_h": [0, 24]})  # the schema takes it


def test_nephrosim_list_assays_and_the_template_show_the_schemas_values():
    import typing

    import yaml
    from typer.testing import CliRunner

    from nephrosim.cli import TEMPLATE, app
    from nephrosim.scenarios.schema import Observation

    allowed = list(typing.get_args(Observation.model_fields["creatinine_assay"].annotation))
    listed = CliRunner().invoke(app, ["list", "assays"])
    assert listed.exit_code == 0
    assert [line.split()[0] for line in listed.output.splitlines() if line.strip()] == allowed
    assert yaml.safe_load(TEMPLATE)["observation"] == {"creatinine_assay": "enzymatic"}
