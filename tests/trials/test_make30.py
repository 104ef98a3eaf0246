"""Dialysis, death or dialysis, and MAKE30 in virtual trials (issue 16: the secondary endpoints
of ACT-AKI and the composite phase-3 AKI trials use).

Checked against things outside the code under test: KDIGO stages of hand-built SCr courses,
the derivation of the dialysis share from Hu 2016's numbers, the composite probability rule
done by hand, Fisher's exact test on a table whose p-value is textbook (Fisher's tea tasting,
[[3, 1], [1, 3]]: two-sided p = 0.4857), binomial limits on Bernoulli event rates, and power
≤ alpha for two identical arms against ≈ 1 for a large difference.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from nephrosim.trials.analysis import binary_endpoints, fisher_p, summarise
from nephrosim.trials.design import Endpoints
from nephrosim.trials.endpoints import DEATH_BY_STAGE, RRT_GIVEN_STAGE3, PatientOutcomes, outcomes
from nephrosim.trials.population import TIMES_H
from nephrosim.trials.search import design_power


def _course(peak: float, end: float, base: float = 1.0) -> np.ndarray:
    """SCr rising linearly to ``peak`` at 48 h, then linearly to ``end`` at the last output time."""
    t = TIMES_H
    return np.where(t <= 48.0, base + (peak - base) * t / 48.0, peak + (end - peak) * (t - 48.0) / (t[-1] - 48.0))


def _outcomes(courses: list[np.ndarray], ratio: float = 2.0) -> PatientOutcomes:
    scr = np.vstack(courses)
    n = scr.shape[0]
    return outcomes(TIMES_H, scr, np.ones_like(scr), np.full(n, 48.0), scr[:, 0],
                    Endpoints(persistent_dysfunction_ratio=ratio))


def test_dialysis_share_is_derived_from_hu_2016():
    # Hu 2016: "13.6%, 3.8%, and 2.7% at stages 1, 2, and 3"; "2.3% of patients received renal
    # replacement therapy" — RRT counted within stage 3, as KDIGO defines it
    assert RRT_GIVEN_STAGE3 == pytest.approx(2.3 / 2.7)


def test_per_patient_dialysis_persistence_and_make30_follow_the_stage_and_the_final_scr():
    # peak 3.5 x baseline (stage 3) ending at 2.2 x; peak 2.4 x (stage 2) ending at 1.1 x;
    # peak 1.6 x (stage 1) ending at 1.0 x; no AKI
    o = _outcomes([_course(3.5, 2.2), _course(2.4, 1.1), _course(1.6, 1.0), _course(1.1, 1.0)])
    stages = np.array([3, 2, 1, 0])
    np.testing.assert_allclose(o.death_by_stage, DEATH_BY_STAGE[stages])
    np.testing.assert_allclose(o.dialysis, [RRT_GIVEN_STAGE3, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(o.persistent_dysfunction, [True, False, False, False])
    d = DEATH_BY_STAGE[stages]
    r = np.array([RRT_GIVEN_STAGE3, 0, 0, 0])
    np.testing.assert_allclose(o.death_or_dialysis, d + r - d * r)  # P(A or B), independent given the course
    np.testing.assert_allclose(o.make30, [1.0, d[1], d[2], d[3]])
    # the persistence threshold is the design's: at 2.5 x baseline the first patient (2.2 x) is not persistent
    assert not _outcomes([_course(3.5, 2.2)], ratio=2.5).persistent_dysfunction[0]


def test_fisher_p_is_the_textbook_value():
    ctl = np.array([1, 1, 1, 0], bool)
    trt = np.array([1, 0, 0, 0], bool)
    assert fisher_p(ctl, trt) == pytest.approx(0.4857, abs=5e-5)


def test_bernoulli_event_rates_match_the_probabilities_within_binomial_limits():
    rng = np.random.default_rng(3)
    n = 4000
    ctl = _outcomes([_course(3.5, 2.2)] * 2 + [_course(1.6, 1.0)] * 2)  # half stage 3, half stage 1
    trt = _outcomes([_course(1.6, 1.0)] * 4)
    idx = np.arange(n) % 4
    out = binary_endpoints(rng, ctl.rows(idx), trt.rows(idx))
    for key, o in (("dialysis_control", ctl.rows(idx).dialysis), ("make_control", ctl.rows(idx).make30),
                   ("death_dialysis_treatment", trt.rows(idx).death_or_dialysis)):
        p = float(o.mean())
        lo, hi = binom.ppf([0.0005, 0.9995], n, p) / n
        assert lo <= out[key] <= hi, (key, out[key], p)
    assert out["p_make"] < 1e-10  # 0.5 vs 0.043 with 4000 per arm


def test_make30_power_is_at_most_alpha_for_identical_arms_and_near_one_for_a_large_difference():
    same = _outcomes([_course(3.5, 2.2), _course(2.4, 1.1), _course(1.6, 1.0), _course(1.1, 1.0)] * 50)
    null = design_power(same, [same], 40, "make30", replicates=300, seed=1, alpha=0.05, minimal_effect=0.1)
    # Fisher's exact test is conservative: power <= alpha, up to Monte Carlo error (3 SE)
    assert null["power"] <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 300)
    better = _outcomes([_course(1.1, 1.0)] * 200)
    alt = design_power(same, [better], 40, "make30", replicates=100, seed=1, alpha=0.05, minimal_effect=0.1)
    assert alt["power"] > 0.95 and alt["p_success"] > 0.95 and alt["true_effect_median"] > 0.7


def test_summary_uses_fisher_for_a_make30_primary():
    reps = [{"p_logrank": 0.9, "p_auc": 0.9, "p_make": p, "median_control": 10.0, "median_treatment": 9.0,
             "hr": 1.1, "recovered_control": 0.5, "recovered_treatment": 0.6, "death_control": 0.1,
             "death_treatment": 0.1, "auc_control": 5.0, "auc_treatment": 4.0, "death_stage_control": 0.2,
             "death_stage_treatment": 0.1, "dialysis_control": 0.1, "dialysis_treatment": 0.0,
             "death_dialysis_control": 0.3, "death_dialysis_treatment": 0.1, "make_control": 0.4,
             "make_treatment": 0.2} for p in (0.01, 0.02, 0.2, 0.5)]
    s = summarise(reps, ("placebo", "msc"), 0.05, "make30")
    assert s["power"] == 0.5 and s["make30_power"] == 0.5
    assert s["make30"] == {"placebo": 0.4, "msc": 0.2}
    assert s["make30_risk_difference"]["median"] == pytest.approx(-0.2)
    assert summarise(reps, ("placebo", "msc"), 0.05, "recovery")["power"] == 0.0


def test_an_almost_event_free_replicate_gives_infinite_hr_bounds_without_a_warning():
    """One recovery among six patients: the Cox CI bound's log-HR passes ±709, so exp() overflows;
    the bound is reported as 0 / inf (skipped by the summary's quantiles), not printed as a warning."""
    import warnings

    from nephrosim.trials.analysis import analyse_replicate

    t = np.array([30.0, 30.0, 30.0, 30.0, 5.0, 30.0])
    e = np.array([0, 0, 0, 0, 1, 0], bool)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = analyse_replicate(t[:3], e[:3], t[3:], e[3:])
    assert out["hr_lo"] == 0.0 and out["hr_hi"] == np.inf and out["hr"] > 1.0
