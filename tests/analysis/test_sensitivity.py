"""Global sensitivity with SALib: the Ishigami benchmark, a scenario, and the command."""

import json

import numpy as np
import pytest
import typer
from SALib.test_functions import Ishigami
from typer.testing import CliRunner

from nephrosim.analysis.sensitivity import scenario_sensitivity, sobol
from nephrosim.commands.mechanisms import register
from nephrosim.errors import UserInputError

CLEARANCE = "examples/mouse_clearance_drop.yaml"


def ishigami_indices(a=7.0, b=0.1):
    """Analytic first-order and total Sobol' indices of the Ishigami function (Ishigami & Homma 1990)."""
    v1 = 0.5 * (1 + b * np.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * np.pi**8 * (1 / 18 - 1 / 50)
    var = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / var, np.array([v1 + v13, v2, v13]) / var


def test_ishigami_indices_within_the_bootstrap_ci():
    first, total = ishigami_indices()
    np.testing.assert_allclose(first, [0.314, 0.442, 0.0], atol=1e-3)
    np.testing.assert_allclose(total, [0.558, 0.442, 0.244], atol=1e-3)
    problem = {"names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}
    result = sobol(lambda X: Ishigami.evaluate(X, A=7.0, B=0.1), problem, 2**13, seed=1)
    assert result.evaluations == 2**13 * 5
    for key, exact in (("first", first), ("total", total)):
        value, lo, hi = result.indices[key]
        assert np.all(lo <= exact) and np.all(exact <= hi), (key, value, lo, hi)
        np.testing.assert_allclose(value, exact, atol=0.03)
    assert result.ranking() == ["x1", "x2", "x3"]
    # S1 of x3 is zero: flagged as not distinguishable from no effect
    assert any("x3" in w and "first" in w for w in result.warnings)
    assert not any("x2" in w for w in result.warnings)


def test_sobol_refuses_sizes_that_are_not_powers_of_two():
    problem = {"names": ["a"], "bounds": [[0, 1]]}
    with pytest.raises(UserInputError, match="power of 2.*64 or 128"):
        sobol(lambda X: X[:, 0], problem, 100)
    with pytest.raises(UserInputError, match="bounds"):
        sobol(lambda X: X[:, 0], {"names": ["a"], "bounds": [[1, 1]]}, 64)


def test_gfr_dominates_creatinine_at_24h():
    names = ["gfr_ml_min_per_kg", "creatinine_secretion_fraction", "tbw_fraction", "urea_reabsorbed_fraction"]
    result = scenario_sensitivity(CLEARANCE, "serum_creatinine", 24.0, "vehicle", "sobol", 64, 0, names)
    assert result.evaluations == 64 * 6
    assert result.ranking("first")[0] == result.ranking("total")[0] == "gfr_ml_min_per_kg"
    assert result.value("total", "gfr_ml_min_per_kg") > 0.5
    assert result.value("total", "urea_reabsorbed_fraction") < 1e-3  # urea only: no path to creatinine
    assert result.context["ranges"]["gfr_ml_min_per_kg"] == {"distribution": "loguniform", "low": 6.0, "high": 13.0}
    assert any("urea_reabsorbed_fraction" in w for w in result.warnings)


def test_default_parameters_are_the_arms_varied_ones():
    result = scenario_sensitivity(CLEARANCE, "serum_creatinine", 24.0, "vehicle", "morris", 6, 0)
    assert set(result.names) == {"bun_normal_mg_dl", "creatinine_production_mg_per_kg_h", "creatinine_secretion_fraction",
                                 "gfr_ml_min_per_kg", "tbw_fraction", "urea_reabsorbed_fraction"}  # no MSC rows
    assert set(result.ranking()[:2]) == {"creatinine_production_mg_per_kg_h", "gfr_ml_min_per_kg"}
    with pytest.raises(UserInputError, match="did you mean 'gfr_ml_min_per_kg'"):
        scenario_sensitivity(CLEARANCE, "serum_creatinine", 24.0, "vehicle", "morris", 4, 0, ["gfr_ml_min_per_kgg"])


def _app():
    app = typer.Typer()
    register(app)
    return app


def test_sensitivity_command_json_and_errors():
    runner = CliRunner()
    args = ["sensitivity", CLEARANCE, "--method", "morris", "--readout", "serum_creatinine", "--at", "24",
            "--arm", "vehicle", "--samples", "4", "--seed", "3", "--parameter", "gfr_ml_min_per_kg",
            "--parameter", "tbw_fraction"]
    done = runner.invoke(_app(), [*args, "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["method"] == "morris" and data["arm"] == "vehicle" and data["evaluations"] == 12
    assert set(data["parameters"]) == {"gfr_ml_min_per_kg", "tbw_fraction"}
    assert set(data["parameters"]["gfr_ml_min_per_kg"]["mu_star"]) == {"value", "lo", "hi"}
    text = runner.invoke(_app(), args)
    assert text.exit_code == 0 and "gfr_ml_min_per_kg" in text.output
    for bad, option in ((["--samples", "100"], "--samples"), (["--method", "fast"], "--method"),
                        (["--readout", "serum_creatinin"], "--readout"), (["--arm", "nope"], "--arm")):
        done = runner.invoke(_app(), ["sensitivity", CLEARANCE, "--samples", "64", *bad])
        assert done.exit_code == 2, done.output
        assert option in done.output and "Traceback" not in done.output


def test_sensitivity_resumes_from_its_folder(tmp_path):
    args = (CLEARANCE, "serum_creatinine", 24.0, "vehicle", "morris", 4, 0, ["gfr_ml_min_per_kg", "tbw_fraction"])
    first = scenario_sensitivity(*args, out_dir=tmp_path, chunk=4)  # 12 simulations: 3 chunks
    chunks = sorted(tmp_path.glob("rows-*.npz"))
    assert len(chunks) == 3
    kept = {c.name: c.stat().st_mtime_ns for c in chunks}
    chunks[1].unlink()  # as if interrupted before the second chunk was written
    again = scenario_sensitivity(*args, out_dir=tmp_path, chunk=4)
    assert chunks[1].is_file()
    assert {c.name: c.stat().st_mtime_ns for c in (chunks[0], chunks[2])} == {
        n: t for n, t in kept.items() if n != chunks[1].name}  # the others were read back, not rerun
    np.testing.assert_array_equal(again.indices["mu_star"][0], first.indices["mu_star"][0])
    with pytest.raises(UserInputError, match="different request"):
        scenario_sensitivity(*args[:-2], 1, args[-1], out_dir=tmp_path, chunk=4)
