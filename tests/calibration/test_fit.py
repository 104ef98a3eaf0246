"""Fitting: exact gradients, recovery of known parameters, checkpoint/resume after SIGKILL."""

from __future__ import annotations

import math

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from calib_problems import TRUE, small_config

from nephrosim.calibration import (
    Calibration,
    CalibrationConfigError,
    CalibrationProblem,
    as_config,
    calibrate,
    synthesize,
)


def test_gradient_matches_central_differences(synthetic_config):
    problem = CalibrationProblem(synthetic_config)
    rng = np.random.default_rng(3)
    for _ in range(2):
        x = problem.lower + rng.uniform(0.2, 0.8, problem.dim) * (problem.upper - problem.lower)
        _, g = problem.nll_and_grad(x)
        for i in range(problem.dim):
            h = 1e-5
            e = np.zeros(problem.dim)
            e[i] = h
            fd = (problem.nll(x + e) - problem.nll(x - e)) / (2 * h)
            assert abs(fd - g[i]) <= 1e-4 * abs(fd), (problem.names[i], fd, g[i])


def test_gradient_with_random_effects():
    cfg = synthesize(as_config(small_config(random_effects=[
        {"parameter": "creatinine_production_mg_per_kg_h", "sd_log10": 0.05}])), TRUE, seed=2)
    problem = CalibrationProblem(cfg)
    assert problem.dim == 5
    x = problem.x_nominal + np.array([0.01, -0.01, 0.02, 0.03, -0.02])
    _, g = problem.nll_and_grad(x)
    for i in range(problem.dim):
        e = np.zeros(problem.dim)
        e[i] = 1e-5
        fd = (problem.nll(x + e) - problem.nll(x - e)) / 2e-5
        assert abs(fd - g[i]) <= 1e-4 * max(abs(fd), 1e-8)


def test_recovers_true_parameters_inside_profile_intervals(synthetic_config):
    cal = calibrate(synthetic_config)
    assert cal.n_converged() >= 2
    cal.profile()
    for name, true in TRUE.items():
        lo, hi = cal.intervals_[name]
        assert lo is not None and hi is not None, f"{name} not identifiable: {cal.intervals_[name]}"
        assert lo < true < hi, (name, lo, true, hi)
        assert lo < cal.parameters_[name] < hi
    table = cal.identifiability()
    assert set(table["identifiability"]) == {"identifiable"}
    assert table["within_cited_range"].all()


def test_unknown_parameter_names_the_fix():
    data = small_config()
    data["parameters"] = [{"name": "no_such_parameter"}]
    with pytest.raises(CalibrationConfigError, match="not in the parameter table"):
        as_config(data)


def test_sd_without_n_is_refused():
    data = small_config()
    data["studies"][0]["observations"][0].pop("n")
    with pytest.raises(CalibrationConfigError, match="sd needs n"):
        as_config(data)


def test_not_fitted_error():
    from nephrosim.calibration import NotFittedError

    with pytest.raises(NotFittedError, match="Call 'fit'"):
        Calibration(small_config()).profile()


def _cli(cfg_path: Path, out: Path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return [sys.executable, "-m", "nephrosim", "calibrate", str(cfg_path), "--out", str(out)], env


def test_sigkill_midway_then_resume_gives_same_result(tmp_path, synthetic_config):
    data = synthetic_config.model_dump(exclude={"base_dir"})
    data["fit"]["n_starts"] = 8
    cfg_path = tmp_path / "cal.yaml"
    cfg_path.write_text(yaml.safe_dump(data), encoding="utf-8")

    # uninterrupted reference
    ref_out = tmp_path / "ref"
    cmd, env = _cli(cfg_path, ref_out)
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=300)
    ref = json.loads((ref_out / "result.json").read_text())

    # killed midway: wait for some but not all starts
    out = tmp_path / "run"
    cmd, env = _cli(cfg_path, out)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = out / "starts.json"
    deadline = time.time() + 240
    done = 0
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists():
            done = len(json.loads(ckpt.read_text())["starts"])
            if done >= 2:
                break
        time.sleep(0.02)
    assert proc.poll() is None, "run finished before it could be killed; make the test problem larger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = len(json.loads(ckpt.read_text())["starts"])
    assert 2 <= partial < 8
    assert not (out / "result.json").exists()

    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=300)
    res = json.loads((out / "result.json").read_text())
    assert res["n_starts"] == 8
    assert res["nll"] == ref["nll"]
    assert res["x"] == ref["x"]
    starts = json.loads(ckpt.read_text())["starts"]
    assert [s["start"] for s in starts] == list(range(8))


def test_changed_config_refuses_old_checkpoint(tmp_path, synthetic_config):
    cfg = synthetic_config.replace(fit={"n_starts": 1, "seed": 0})
    calibrate(cfg, out=tmp_path)
    from nephrosim.errors import UserInputError

    with pytest.raises(UserInputError, match="different config"):
        calibrate(cfg.replace(fit={"n_starts": 1, "seed": 5}), out=tmp_path)


def test_differential_evolution_option(synthetic_config):
    cfg = synthetic_config.replace(fit={"method": "differential_evolution", "maxiter": 15, "seed": 4})
    cal = calibrate(cfg)
    best = calibrate(synthetic_config.replace(fit={"n_starts": 2}))
    assert cal.nll_ == pytest.approx(best.nll_, abs=1e-4)


def test_powell_option_reaches_the_gradient_optimum_without_sensitivities(synthetic_config):
    """The derivative-free Powell fit (for models whose sensitivity system is too slow) finds the
    optimum the exact-gradient fit finds."""
    best = calibrate(synthetic_config.replace(fit={"n_starts": 1}))
    powell = calibrate(synthetic_config.replace(fit={"method": "Powell", "n_starts": 1}))
    assert powell.nll_ == pytest.approx(best.nll_, abs=1e-4)
    assert powell.parameters_ == pytest.approx(best.parameters_, rel=1e-2)
    assert all(math.isnan(r["grad_norm"]) for r in powell.starts_)


def test_one_parameter_powell_fit_reaches_an_optimum_on_a_bound(synthetic_config):
    """With the true production (1.7 mg/kg/h) above the allowed range, the optimum is the upper bound;
    a one-parameter Powell fit (a bounded Brent search) must end there."""
    cfg = synthetic_config.replace(parameters=[{"name": "creatinine_production_mg_per_kg_h", "lower": 0.5,
                                                "upper": 1.2}],
                                   fit={"method": "Powell", "n_starts": 2})
    cal = calibrate(cfg)
    assert cal.parameters_["creatinine_production_mg_per_kg_h"] == pytest.approx(1.2, rel=1e-12)  # on it
    problem = cal.problem_
    inside = problem.nll(cal.x_ - 0.01)
    assert cal.nll_ <= inside  # the likelihood still falls toward the bound


def test_load_fitted_run_and_predict(tmp_path, synthetic_config):
    cal = calibrate(synthetic_config.replace(fit={"n_starts": 1}), out=tmp_path)
    again = Calibration.load(tmp_path)
    assert again.nll_ == cal.nll_ and again.parameters_ == cal.parameters_
    pi = again.predict_interval({"species": "rat", "readouts": ["serum_creatinine"], "times_h": [0, 24]},
                                again.sample(20))
    assert len(pi) == 2


def test_fit_with_random_effects(synthetic_config):
    cfg = synthetic_config.replace(random_effects=[{"parameter": "creatinine_production_mg_per_kg_h",
                                                    "sd_log10": 0.05}], fit={"n_starts": 1})
    cal = calibrate(cfg)
    assert set(cal.random_effects_) == {"severe", "moderate"}
    b = [v["creatinine_production_mg_per_kg_h"] for v in cal.random_effects_.values()]
    assert all(abs(v) < 0.05 for v in b)  # data share one true value: deviations stay small
    pi = cal.predict_interval({"species": "rat", "readouts": ["serum_creatinine"], "times_h": [0]},
                              cal.sample(100), new_study=True, include_assumed=False)
    pi0 = cal.predict_interval({"species": "rat", "readouts": ["serum_creatinine"], "times_h": [0]},
                               cal.samples_, new_study=False, include_assumed=False)
    # a new study adds the between-study spread (sd 0.05 log10 ≈ ±25 % at 95 %); the assumed
    # parameters' ranges are left out here so that only the random effect differs
    assert (pi.upper - pi.lower).iloc[0] > 1.5 * (pi0.upper - pi0.lower).iloc[0]


def test_check_config_names_reviewability_problems(synthetic_config):
    from nephrosim.calibration import check_config

    assert check_config(synthetic_config) == []
    studies = [s.model_dump() for s in synthetic_config.studies]
    studies[0]["citation"] = ""
    problems = check_config(synthetic_config.replace(studies=studies))
    assert any("no citation" in p for p in problems)


def test_commands_for_the_cli(tmp_path, synthetic_config):
    from nephrosim.calibration.commands import calibrate_command, export_petab_command, simulate_uncertainty_command

    cfg_path = tmp_path / "c.yaml"
    data = synthetic_config.replace(fit={"n_starts": 1}).model_dump(exclude={"base_dir"})
    cfg_path.write_text(yaml.safe_dump(data))
    out = calibrate_command(cfg_path, tmp_path / "run", progress=False)
    assert out["converged_to_best"] == "1/1"
    pi = simulate_uncertainty_command({"species": "rat", "readouts": ["bun"], "times_h": [0, 12]},
                                      tmp_path / "run", n=20)
    assert list(pi.columns[:3]) == ["arm", "time_h", "readout"]
    assert Path(export_petab_command(cfg_path, tmp_path / "petab")).exists()


def test_trust_constr_option_reaches_the_same_optimum(synthetic_config):
    best = calibrate(synthetic_config.replace(fit={"n_starts": 1}))
    tc = calibrate(synthetic_config.replace(fit={"n_starts": 1, "method": "trust-constr", "maxiter": 300}))
    assert tc.nll_ == pytest.approx(best.nll_, abs=1e-3)


def test_failed_evaluations_are_counted_and_a_start_recovers(synthetic_config, monkeypatch):
    """Solver failures used to become NLL = 1e10 with a zero gradient and a lost message.

    Here every evaluation with GFR above 90 % of its upper bound fails (a stand-in for a
    region where CVODE gives up). A start placed there must (a) count its failed
    evaluations and keep the solver's message, and (b) still reach the optimum that a
    clean start reaches, by restarting from the best successful point it visited."""
    from nephrosim.engine.simulator import TrajectoryStatus

    problem = CalibrationProblem(synthetic_config)
    k = problem.names.index("gfr_ml_min_per_kg")
    cliff = problem.lower[k] + 0.9 * (problem.upper[k] - problem.lower[k])
    real_predict = CalibrationProblem.predict

    def predict(self, e, x, grad=False):
        out = real_predict(self, e, x, grad)
        if x[k] > cliff:
            bad = TrajectoryStatus("solver_failure", "CVODE Error: CV_TOO_MUCH_WORK (test cliff)")
            return (*out[:-1], bad)
        return out

    monkeypatch.setattr(CalibrationProblem, "predict", predict)
    cal = Calibration(synthetic_config.replace(fit={**synthetic_config.fit.model_dump(), "n_starts": 1}))
    cal.config_ = as_config(cal.config)  # what fit() sets before its local fits
    x0 = problem.lower + 0.5 * (problem.upper - problem.lower)
    x0[k] = problem.lower[k] + 0.97 * (problem.upper[k] - problem.lower[k])  # starts on the cliff
    res = cal._local(problem, x0)
    assert res.failed_evaluations >= 1
    assert any("CV_TOO_MUCH_WORK" in m for m in res.failure_messages)
    clean = cal._local(problem, problem.lower + 0.5 * (problem.upper - problem.lower))
    assert res.fun < 1e9, "the start never left the failed region"
    assert res.fun == pytest.approx(clean.fun, rel=1e-4, abs=1e-4)


def test_saved_profiles_come_back_with_the_folder_and_validate_does_not_recompute_them(tmp_path, synthetic_config,
                                                                                       monkeypatch):
    """`validate --out DIR` used to re-profile every parameter, silently, before its first output (most of
    an hour for the shipped rat calibration); the profiles are now saved by the run and read back."""
    from nephrosim.calibration.commands import validate_command

    cal = Calibration(synthetic_config, out=tmp_path).fit()
    cal.profile()
    saved = json.loads((tmp_path / "result.json").read_text())
    assert set(saved["profiles"]) == set(cal.profiles_)
    back = Calibration.load(tmp_path)
    for name, prof in cal.profiles_.items():
        np.testing.assert_allclose(back.profiles_[name]["delta_nll"], prof["delta_nll"], rtol=1e-12)
        np.testing.assert_allclose(back.profiles_[name]["value"], prof["value"], rtol=1e-12)
    assert back.intervals_ == {k: tuple(v) for k, v in saved["intervals_95"].items()}

    def no_profiling(self, *args, **kwargs):
        raise AssertionError("validate must not recompute the profiles")

    monkeypatch.setattr(Calibration, "profile", no_profiling)
    report = Path(validate_command(tmp_path, tmp_path / "report", cv_starts=1, progress=False))
    text = report.read_text()
    assert "profiles.png" in text and (tmp_path / "report" / "profiles.png").exists()
