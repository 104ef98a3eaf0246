"""Formal fits to the in-sample literature targets (nephrosim.calibration.targets): the censored
likelihood against its closed form, the refusals, a small real fit, and how a shipped fit enters
the parameter table."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from nephrosim.biology.parameters import ParameterTable, shipped_target_fits
from nephrosim.calibration.config import CalibrationConfigError
from nephrosim.calibration.targets import (TargetFitSpec, TargetProblem, censored_nll, fit_targets,
                                           load_target_fit, verdict)

ROOT = Path(__file__).resolve().parents[2]


def test_censored_likelihood_is_the_probability_that_the_window_holds():
    sigma = 0.1
    for v, lo, hi in ((2.0, 1.0, 4.0), (1.0, 1.0, 4.0), (0.8, 1.0, 4.0), (5.0, 1.0, None), (0.3, None, 0.5)):
        # P(lo ≤ v·e^ε ≤ hi), ε ~ N(0, σ), by quadrature
        a = -np.inf if lo is None else (math.log(lo) - math.log(v)) / sigma
        b = np.inf if hi is None else (math.log(hi) - math.log(v)) / sigma
        p = integrate.quad(stats.norm.pdf, a, b)[0] if np.isfinite(a) and np.isfinite(b) else (
            stats.norm.cdf(b) - stats.norm.cdf(a))
        assert float(censored_nll(v, lo, hi, sigma, True)) == pytest.approx(-math.log(p), rel=1e-6, abs=1e-9)
    assert float(censored_nll(1.0, 1.0, 4.0, sigma, True)) == pytest.approx(math.log(2), rel=1e-3)  # on a bound
    far = float(censored_nll(1e-3, 1.0, 4.0, sigma, True))  # far outside: finite and steep (no underflow)
    assert np.isfinite(far) and far > 1000
    # linear scale (a difference may be negative): σ × the largest |bound|
    lin = float(censored_nll(-1.0, -2.0, 3.0, 0.1, False))
    assert lin == pytest.approx(-math.log(stats.norm.cdf(4 / 0.3) - stats.norm.cdf(-1 / 0.3)), rel=1e-9)
    assert np.isinf(float(censored_nll(np.nan, 1.0, 2.0, sigma, True)))


def test_verdict_needs_a_narrow_interval_away_from_both_bounds():
    assert verdict(-1.2, -0.8, -2.0, 0.0)[0]
    assert not verdict(-1.9999, -1.5, -2.0, 0.0)[0]  # reaches the lower bound
    ok, why = verdict(-1.9, -0.1, -2.0, 0.0)
    assert not ok and "90%" in why


def test_too_few_walkers_is_named_before_anything_runs():
    from nephrosim.errors import UserInputError

    spec = TargetFitSpec(name="x", targets=("mouse_cisplatin_day4",),
                         parameters=({"name": "cis_stress_gain", "species": "mouse"}, {"name": "cis_k_uptake"},
                                     {"name": "cis_k_transit"}), fit={"walkers": 4, "maxiter": 1, "popsize": 4})
    with pytest.raises(UserInputError, match="fit.walkers = 4"):
        fit_targets(spec)


def test_only_in_sample_targets_may_be_fitted():
    spec = TargetFitSpec(name="x", targets=("rat_adult_iri_survival",), parameters=({"name": "k_uremic_hazard"},))
    with pytest.raises(CalibrationConfigError, match="only in_sample targets"):
        TargetProblem(spec)
    with pytest.raises(CalibrationConfigError, match="no target 'no_such_target'"):
        TargetProblem(spec.model_copy(update={"targets": ("no_such_target",)}))


def test_a_small_fit_meets_its_target_at_least_as_well_as_the_hand(tmp_path):
    spec = TargetFitSpec(name="mouse_cisplatin_test", targets=("mouse_cisplatin_day4",),
                         parameters=({"name": "cis_stress_gain", "species": "mouse"},),
                         fit={"seed": 1, "popsize": 4, "maxiter": 4, "walkers": 8, "steps": 30, "burn": 10})
    result = fit_targets(spec, out=tmp_path)
    assert (tmp_path / "result.json").is_file()
    assert result["nll_map"] <= result["nll_hand_tuned"] + 1e-12  # the hand-tuned value is in the first generation
    assert result["targets_met_map"] == result["targets_met_point"] == {"mouse_cisplatin_day4": True}
    assert result["nll_point"] <= result["nll_map"] + 1.9208
    est = result["parameters"]["cis_stress_gain[mouse]"]
    lo, hi = est["cited_range"]
    assert lo <= est["interval_95"][0] <= est["median"] <= est["interval_95"][1] <= hi
    # the same seed gives the same fit
    again = fit_targets(spec)
    assert again["parameters"] == result["parameters"]


def test_a_shipped_fit_replaces_the_hand_tuned_rows():
    fits = {f["name"]: f for f in shipped_target_fits()}
    assert "injury" in fits
    cited, table = ParameterTable.default(calibrated=False, target_fits=False), ParameterTable.default()
    for label, est in fits["injury"]["parameters"].items():
        name, _, species = label.partition("[")
        rec = table.record(name, species.rstrip("]") or "rat")
        assert rec.value == est["point"] and "hand-tuned, not formally fitted" not in rec.reason
        assert rec.provenance == ("fitted" if est["identifiable"] else "assumed") and not rec.problems()
        assert cited.record(name, species.rstrip("]") or "rat").value == pytest.approx(est["hand_tuned_value"])
    # an identifiable estimate becomes `fitted`, its range the posterior interval
    fake = copy.deepcopy(fits["injury"])
    est = fake["parameters"]["cis_k_uptake"]
    est.update(identifiable=True, verdict="identifiable (test)", point=0.2, interval_95=[0.15, 0.25])
    rec = ParameterTable.default(calibrated=False, target_fits=False).with_target_fit(fake).record("cis_k_uptake", "rat")
    assert (rec.provenance, rec.value, rec.lower, rec.upper) == ("fitted", 0.2, 0.15, 0.25) and not rec.problems()


def test_every_shipped_fit_is_the_run_of_its_current_spec():
    for fit in shipped_target_fits():
        if fit.get("kind") == "population":  # tests/calibration/test_population_fit.py checks those
            continue
        spec = load_target_fit(ROOT / "calibration" / "targets" / f"{fit['name']}.yaml")
        assert spec.digest() == fit["spec_digest"], (
            f"src/nephrosim/biology/fitted/{fit['name']}.json is stale: re-run nephrosim calibrate-targets "
            f"calibration/targets/{fit['name']}.yaml --ship and copy it")


class _Quadratic:
    """A problem whose optimum is known: Σ ((x − c) / s)² inside a box; rows with x₀ > fail_above
    fail to solve (FAILED_NLL), as a stiff parameter region would."""

    def __init__(self, centre, fail_above=np.inf):
        self.centre = np.asarray(centre, dtype=float)
        self.lower, self.upper = np.full(len(centre), -2.0), np.full(len(centre), 2.0)
        self.fail_above = fail_above
        self.calls = 0

    def nll_many(self, X):
        from nephrosim.calibration.targets import FAILED_NLL

        self.calls += 1
        X = np.atleast_2d(X)
        f = np.sum(((X - self.centre) / np.arange(1, X.shape[1] + 1)) ** 2, axis=1)
        return np.where(X[:, 0] > self.fail_above, FAILED_NLL, f)


def test_the_polish_reaches_a_known_optimum_and_never_worsens_the_start():
    from nephrosim.calibration.targets import polish_optimum

    q = _Quadratic([0.3, -1.2, 1.9])
    x, f = polish_optimum(q, np.zeros(3), float(q.nll_many(np.zeros(3))[0]), 100)
    assert np.allclose(x, q.centre, atol=1e-4) and f < 1e-8
    # the gradient is one batch per iteration, not one call per coordinate
    assert q.calls < 60
    # an optimum beyond a region that fails to solve: the polish stops at its edge, never inside it
    q = _Quadratic([1.5, 0.0], fail_above=1.0)
    x, f = polish_optimum(q, np.zeros(2), float(q.nll_many(np.zeros(2))[0]), 100)
    assert x[0] <= 1.0 and f < q.nll_many(np.zeros(2))[0]
    # a start that is already optimal is returned unchanged
    start = np.array([0.3, -1.2, 1.9])
    q = _Quadratic(start)
    x, f = polish_optimum(q, start, 0.0, 100)
    assert np.array_equal(x, start) and f == 0.0


def test_a_polish_setting_leaves_the_digest_of_a_spec_without_it_unchanged():
    base = TargetFitSpec(name="x", targets=("mouse_cisplatin_day4",), parameters=({"name": "cis_k_uptake"},))
    explicit = base.model_copy(update={"fit": base.fit.model_copy(update={"polish": 0})})
    polished = base.model_copy(update={"fit": base.fit.model_copy(update={"polish": 50})})
    assert base.digest() == explicit.digest() != polished.digest()


def test_a_fraction_whose_range_starts_at_zero_is_searched_on_its_own_scale():
    """tgf_feedback_max's cited range is 0–0.9: a log10 search cannot reach 0, so it is refused there
    with the fix, and ``scale: linear`` searches (and simulates) the value itself. The scale leaves the
    digest of a spec that does not set it unchanged."""
    log = TargetFitSpec(name="x", targets=("mouse_iri_gfr_lag",), parameters=({"name": "tgf_feedback_max"},))
    with pytest.raises(CalibrationConfigError, match="search it with scale: linear"):
        TargetProblem(log)
    lin = TargetFitSpec(name="x", targets=("mouse_iri_gfr_lag",),
                        parameters=({"name": "tgf_feedback_max", "scale": "linear"},))
    problem = TargetProblem(lin)
    assert (problem.lower[0], problem.upper[0]) == (0.0, 0.9) and problem.range_name(0) == "cited range"
    assert problem.natural(0, 0.45) == 0.45
    # the value reaches the simulation unchanged: no feedback (0) leaves GFR higher at 72 h than 0.9 does
    runs, ok = problem.runs_many(np.array([[0.0], [0.9]]))
    gfr72 = [float(np.interp(72, r["mouse_iri_18"]["time_h"], r["mouse_iri_18"]["gfr"])) for r in runs]
    assert ok.all() and gfr72[0] > gfr72[1]
    plain = TargetFitSpec(name="x", targets=("mouse_cisplatin_day4",), parameters=({"name": "cis_k_uptake"},))
    explicit = TargetFitSpec(name="x", targets=("mouse_cisplatin_day4",),
                             parameters=({"name": "cis_k_uptake", "scale": "log10"},))
    assert plain.digest() == explicit.digest() != lin.digest()
