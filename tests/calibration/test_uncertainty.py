"""Posterior draws, prediction intervals, leave-one-study-out validation and its report."""

from __future__ import annotations

import numpy as np
import pytest
from calib_problems import TRUE

from nephrosim.calibration import calibrate, cross_validate, write_report


@pytest.fixture(scope="module")
def fitted(synthetic_config):
    return calibrate(synthetic_config.replace(fit={"n_starts": 2, "seed": 0}))


def test_laplace_samples_and_prediction_interval(fitted):
    draws = fitted.sample(200, method="laplace", seed=1)
    assert draws.shape == (200, 3)
    assert np.all(draws >= fitted.problem_.lower) and np.all(draws <= fitted.problem_.upper)
    scenario = {"species": "rat", "injury": {"model": "clearance_change", "fraction": 0.7},
                "readouts": ["serum_creatinine", "bun"], "times_h": [0, 24, 72]}
    pi = fitted.predict_interval(scenario, draws)
    assert len(pi) == 6 and (pi.n_ok == 200).all()
    assert (pi.lower <= pi["median"]).all() and (pi["median"] <= pi.upper).all()
    assert (pi.upper > pi.lower).all()
    # the prediction of a new scenario at the true parameters lies in (or very near) the band
    from nephrosim.run.simulation import simulate

    truth = simulate(scenario, TRUE).get("vehicle", "serum_creatinine")
    band = pi[pi.readout == "serum_creatinine"]
    assert np.all(truth >= band.lower.to_numpy() * 0.98) and np.all(truth <= band.upper.to_numpy() * 1.02)


def test_emcee_samples(fitted):
    draws = fitted.sample(100, method="emcee", seed=2, burn=30, thin=2)
    assert draws.shape == (100, 3)
    assert 0.05 < fitted.acceptance_ < 0.95
    assert np.all(np.abs(draws.mean(axis=0) - fitted.x_) < 0.05)


def test_the_laplace_approximation_agrees_with_mcmc_on_a_small_problem(fitted):
    """Issue 14 asks for a Bayesian posterior, or a Laplace approximation shown to agree with MCMC on
    a small problem. Here, three parameters fitted to synthetic rat data: the Gauss-Newton Laplace
    draws and an affine-invariant MCMC chain (emcee, on exp(-NLL) with the uniform log10 prior) give
    the same posterior means, SDs and correlations within Monte-Carlo error (measured: SDs within 3 %,
    correlations within 0.06)."""
    lap = fitted.sample(4000, method="laplace", seed=1)
    mc = fitted.sample(1200, method="emcee", seed=2, burn=200, thin=5)
    sd_lap, sd_mc = lap.std(axis=0), mc.std(axis=0)
    np.testing.assert_array_less(np.abs(lap.mean(axis=0) - mc.mean(axis=0)), 0.3 * sd_mc)
    np.testing.assert_allclose(sd_lap / sd_mc, 1.0, atol=0.15)
    np.testing.assert_allclose(np.corrcoef(lap.T), np.corrcoef(mc.T), atol=0.15)


def test_leave_one_study_out_and_report(tmp_path, fitted, synthetic_config):
    fitted.profile(["gfr_ml_min_per_kg"])
    cv = cross_validate(synthetic_config, full=fitted, cv_starts=1, n_draws=60)
    assert set(cv.table.study) == {"severe", "moderate"}
    assert cv.coverage >= 0.8  # synthetic data from the model itself
    path = write_report(fitted, cv, tmp_path / "report")
    text = path.read_text()
    assert "Leave-one-study-out" in text and "identifiable" in text
    assert (tmp_path / "report" / "study_severe.png").stat().st_size > 1000
    assert (tmp_path / "report" / "profiles.png").exists()


def test_report_flags_parameter_outside_cited_range(tmp_path, synthetic_config):
    # widen the search range beyond the cited one and force the data far outside it
    data = synthetic_config.model_dump(exclude={"base_dir"})
    data["parameters"][2].update({"lower": 1.0, "upper": 50.0, "nominal": 20.0})
    for s in data["studies"]:
        for o in s["observations"]:
            if o["readout"] == "gfr":
                o["mean"] *= 2.5
    from nephrosim.calibration import as_config

    cal = calibrate(as_config(data).replace(fit={"n_starts": 1}))
    table = cal.identifiability()
    row = table[table.parameter == "gfr_ml_min_per_kg"].iloc[0]
    assert not row.within_cited_range
    text = write_report(cal, None, tmp_path).read_text()
    assert "outside its cited range" in text


def test_outside_the_calibrated_domain_the_band_is_not_zero_width(fitted):
    """The fit saw only rat clearance-change studies. A mouse IRI scenario uses none of its
    estimates on its own terms: without the assumed parameters' ranges the band collapsed to
    a line (it used to read as certainty). With them it is wide, and the rows say they are
    outside the calibrated domain."""
    mouse = {"species": "mouse", "injury": {"model": "ischemia_reperfusion", "clamp_min": 25},
             "readouts": ["serum_creatinine"], "times_h": [0, 24, 72]}
    draws = fitted.sample(40, method="laplace", seed=2)
    narrow = fitted.predict_interval(mouse, draws, include_assumed=False)
    wide = fitted.predict_interval(mouse, draws)
    assert not wide["in_calibrated_domain"].any()
    at24 = wide[wide.time_h == 24].iloc[0]
    assert at24.upper > 1.5 * at24.lower, at24
    n24 = narrow[narrow.time_h == 24].iloc[0]
    assert (at24.upper - at24.lower) > 5 * (n24.upper - n24.lower)
    rat = {"species": "rat", "injury": {"model": "clearance_change", "fraction": 0.7},
           "readouts": ["serum_creatinine"], "times_h": [0, 24]}
    assert fitted.predict_interval(rat, draws)["in_calibrated_domain"].all()


def test_the_fisher_information_is_computed_once_per_problem_and_point(fitted, monkeypatch, tmp_path, caplog):
    """A second Laplace sample of the same fit (as a second shipped-uncertainty band, in the session or
    from the command line) compiles no sensitivity model: the matrix is kept in the process and on
    disk; a different point is computed afresh, and an unreadable cache file is recomputed, said."""
    from nephrosim.calibration import problem as problem_module

    monkeypatch.setenv("NEPHROSIM_FISHER_CACHE", str(tmp_path))
    monkeypatch.setattr(problem_module, "_FISHER", {})
    p, x = fitted.problem_, fitted.x_
    built = []
    real = problem_module.SensitivitySimulator
    monkeypatch.setattr(problem_module, "SensitivitySimulator",
                        lambda *a, **k: built.append(a) or real(*a, **k))

    def fresh():  # as a new problem object in a new process: nothing compiled, nothing in memory
        for e in p.experiments:
            e.simulator = None
        problem_module._FISHER.clear()
        built.clear()

    fresh()
    first = p.fisher_information(x)
    assert built and len(list(tmp_path.glob("*.npy"))) == 1
    built.clear()
    again = p.fisher_information(x)  # from memory
    assert built == [] and np.array_equal(again, first)
    again[0, 0] = -1.0  # the caller's copy, not the cache
    assert np.array_equal(p.fisher_information(x), first)
    fresh()
    assert np.array_equal(p.fisher_information(x), first) and built == []  # from disk
    moved = p.fisher_information(x + 0.01)
    assert built and not np.array_equal(moved, first)
    fresh()
    for path in tmp_path.glob("*.npy"):
        path.write_bytes(b"not a matrix")
    with caplog.at_level("WARNING", logger="nephrosim.calibration"):
        assert np.array_equal(p.fisher_information(x), first) and built
    assert "not read" in caplog.text
