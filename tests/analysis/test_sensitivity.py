"""Global sensitivity with SALib: the Ishigami benchmark, a scenario, and the command."""

import json

import numpy as np
import pytest
from SALib.test_functions import Ishigami
from typer.testing import CliRunner

from nephrosim.analysis.sensitivity import delta, parameter_group, scenario_sensitivity, sobol
from tests.analysis._cli import mechanisms_app
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


def test_sensitivity_command_json_and_errors():
    runner = CliRunner()
    args = ["sensitivity", CLEARANCE, "--method", "morris", "--readout", "serum_creatinine", "--at", "24",
            "--arm", "vehicle", "--samples", "4", "--seed", "3", "--parameter", "gfr_ml_min_per_kg",
            "--parameter", "tbw_fraction"]
    done = runner.invoke(mechanisms_app(), [*args, "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["method"] == "morris" and data["arm"] == "vehicle" and data["evaluations"] == 12
    assert set(data["parameters"]) == {"gfr_ml_min_per_kg", "tbw_fraction"}
    assert set(data["parameters"]["gfr_ml_min_per_kg"]["mu_star"]) == {"value", "lo", "hi"}
    text = runner.invoke(mechanisms_app(), args)
    assert text.exit_code == 0 and "gfr_ml_min_per_kg" in text.output
    for bad, option in ((["--samples", "100"], "--samples"), (["--method", "fast"], "--method"),
                        (["--readout", "serum_creatinin"], "--readout"), (["--arm", "nope"], "--arm")):
        done = runner.invoke(mechanisms_app(), ["sensitivity", CLEARANCE, "--samples", "64", *bad])
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
    # a caller's progress (the web app's) counts chunks, those read back from the folder included
    calls = []
    chunks[2].unlink()
    scenario_sensitivity(*args, out_dir=tmp_path, chunk=4, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(2, 3), (3, 3)]
    # a cap on the design is applied before any simulation, naming the size and the fix
    with pytest.raises(UserInputError, match=r"samples: morris with 4 samples of 2 parameters needs 12 simulations, "
                                             r"more than the 11 allowed here; use fewer samples"):
        scenario_sensitivity(*args, max_evaluations=11, progress=lambda *a: pytest.fail("simulated"))


# --- delta, groups, convergence (issue 17 item 1) ------------------------------------------

ISHIGAMI = {"names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}


def test_delta_ranks_ishigami_inputs_x2_then_x1_above_x3():
    # No published table of Ishigami delta values was found to quote; the ranking is what is
    # independent: x2 (additive, S1 = 0.442) > x1 (S1 = 0.314, and the interaction with x3)
    # > x3 (S1 = 0: it only spreads the output distribution through x1, which delta still sees
    # as an effect, unlike S1). A dummy input the function ignores measures the estimator's
    # positive small-sample bias: x3 must stand above it.
    problem = {"names": ["x1", "x2", "x3", "dummy"], "bounds": [[-np.pi, np.pi]] * 4}
    result = delta(lambda X: Ishigami.evaluate(X[:, :3], A=7.0, B=0.1), problem, 2048, seed=1, num_resamples=10)
    assert result.method == "delta" and result.evaluations == 2048
    assert result.ranking() == ["x2", "x1", "x3", "dummy"]
    value, lo, hi = result.indices["delta"]
    assert hi[0] < lo[1]  # x2 above x1 beyond the bootstrap CIs (x1 and x3 by the estimate: their
    # CIs still overlap at N = 2048, 0.202 ± 0.016 and 0.181 ± 0.013; the order held for seeds 1–4
    # at N = 2048, but not for every seed at N = 1024)
    assert lo[2] > hi[3]  # x3 matters for the distribution although its S1 is 0
    with pytest.raises(UserInputError, match="at least 64"):
        delta(lambda X: X[:, 0], ISHIGAMI, 32)


def additive_groups(X):
    """f = x1·x2 + x3 on U(0, 1)³: Var(x1·x2) = 1/9 − 1/16 = 7/144, Var(x3) = 1/12 = 12/144, no
    interaction between the groups, so S1 = ST = 7/19 for {x1, x2} and 12/19 for {x3}."""
    return X[:, 0] * X[:, 1] + X[:, 2]


def test_group_indices_match_the_closed_form():
    problem = {"names": ["x1", "x2", "x3"], "bounds": [[0, 1]] * 3, "groups": ["g", "g", "h"]}
    result = sobol(additive_groups, problem, 2**12, seed=2)
    assert result.names == ("g", "h") and result.groups == {"g": ("x1", "x2"), "h": ("x3",)}
    assert result.evaluations == 2**12 * 4  # n·(G + 2), not n·(D + 2)
    for key in ("first", "total"):
        value, lo, hi = result.indices[key]
        exact = np.array([7 / 19, 12 / 19])
        assert np.all(lo <= exact) and np.all(exact <= hi), (key, value, lo, hi)
        np.testing.assert_allclose(value, exact, atol=0.03)
    with pytest.raises(UserInputError, match="one group per parameter"):
        sobol(additive_groups, {**problem, "groups": ["g", "h"]}, 64)
    with pytest.raises(UserInputError, match="groups.*sobol"):
        delta(additive_groups, problem, 64)


def test_parameter_groups_follow_the_declaring_table():
    assert parameter_group("gfr_ml_min_per_kg") == "host response"  # parameters.csv: the host's physiology
    assert parameter_group("k_neut_recruit") == "host response"  # injury table, leukocyte response
    assert parameter_group("k_tub_injury") == "injury core"
    assert parameter_group("vegf_max_protection") == "paracrine"  # injury table, a mechanism's effect size
    assert parameter_group("paracrine_hgf_half_life_h") == "paracrine"
    assert parameter_group("msc_lung_passage_fraction") == "biodistribution"
    assert parameter_group("msc_allogeneic_clearance_fold") == "host response"
    with pytest.raises(UserInputError, match="not a row"):
        parameter_group("no_such_parameter")


def test_convergence_ci_narrows_with_n():
    result = sobol(lambda X: Ishigami.evaluate(X, A=7.0, B=0.1), ISHIGAMI, 2**11, seed=1, convergence=True)
    assert [n for n, _, _ in result.convergence] == [2**8, 2**9, 2**10, 2**11]
    assert [e for _, e, _ in result.convergence] == [n * 5 for n in (2**8, 2**9, 2**10, 2**11)]
    last = result.convergence[-1][2]
    for key in ("first", "total"):  # the full-N entry is the result itself
        np.testing.assert_array_equal(last[key][0], result.indices[key][0])
        widths = np.array([(ind[key][2] - ind[key][1]).mean() for _, _, ind in result.convergence])
        assert np.all(np.diff(widths) < 0), (key, widths)
    exact_first, exact_total = ishigami_indices()
    # the N/8 prefix is itself a valid (smaller) Sobol' design: its CI covers the exact values too
    first_lo, first_hi = result.convergence[0][2]["first"][1:]
    assert np.all(first_lo <= exact_first) and np.all(exact_first <= first_hi)


def test_convergence_plot_and_delta_command(tmp_path):
    from nephrosim.analysis.mechanism_plots import convergence_plot

    result = sobol(additive_groups, {"names": ["x1", "x2", "x3"], "bounds": [[0, 1]] * 3}, 64, seed=0,
                   convergence=True)
    fig = convergence_plot(result, tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 0
    assert [a.get_ylabel() for a in fig.axes] == ["first-order S1", "total ST"]
    with pytest.raises(ValueError, match="convergence=True"):
        convergence_plot(sobol(additive_groups, {"names": ["a", "b", "c"], "bounds": [[0, 1]] * 3}, 8))
    runner = CliRunner()
    args = ["sensitivity", CLEARANCE, "--readout", "serum_creatinine", "--at", "24", "--arm", "vehicle"]
    done = runner.invoke(mechanisms_app(), [*args, "--parameter", "gfr_ml_min_per_kg", "--method", "delta", "--samples", "64",
                                  "--json", "--convergence-plot", str(tmp_path / "d.png"), "--plot", str(tmp_path / "b.png")])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["method"] == "delta" and data["evaluations"] == 64
    assert data["parameters"]["gfr_ml_min_per_kg"]["delta"]["lo"] > 0.3  # SCr at 24 h is set by GFR
    assert [c["samples"] for c in data["convergence"]] == [64]  # N/8 .. N/2 are below the 64-row minimum
    assert (tmp_path / "d.png").is_file() and (tmp_path / "b.png").is_file()
    for bad in (["--method", "morris", "--samples", "4", "--groups"], ["--method", "delta", "--samples", "32"]):
        done = runner.invoke(mechanisms_app(), [*args, *bad])
        assert done.exit_code == 2 and bad[-1] in done.output, done.output


def test_group_sensitivity_of_a_scenario():
    # a clearance drop imposed on the host: creatinine is the host's physiology (GFR, production);
    # the MSC arm's biodistribution and paracrine groups have no path to it in this injury model
    runner = CliRunner()
    done = runner.invoke(mechanisms_app(), ["sensitivity", CLEARANCE, "--readout", "serum_creatinine", "--at", "48",
                                  "--arm", "msc_iv", "--samples", "8", "--groups", "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert set(data["groups"]) == {"host response", "biodistribution", "paracrine"}
    assert "gfr_ml_min_per_kg" in data["groups"]["host response"]
    assert "msc_lung_passage_fraction" in data["groups"]["biodistribution"]
    assert "paracrine_ec50_cell_h_per_kg" in data["groups"]["paracrine"]
    assert data["evaluations"] == 8 * (3 + 2)
    total = {g: data["parameters"][g]["total"]["value"] for g in data["groups"]}
    assert total["host response"] > 0.5
    assert total["biodistribution"] < 1e-3 and total["paracrine"] < 1e-3
    assert any("paracrine" in w for w in data["warnings"])
