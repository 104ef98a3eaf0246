"""The test for trend across the arms of a dose-ranging trial, against lifelines and statsmodels."""

from __future__ import annotations

import numpy as np
import pytest

from nephrosim.trials.analysis import logrank_trend, trend_test


def _groups(rng, sizes, rates, horizon=30.0, rounding=None):
    times, events = [], []
    for n, rate in zip(sizes, rates):
        t = rng.exponential(1.0 / rate, n)
        if rounding:
            t = np.ceil(t / rounding) * rounding  # daily labs: many tied times
        times.append(np.minimum(t, horizon))
        events.append(t < horizon)
    return times, events


@pytest.mark.parametrize("rounding", [None, 1.0])
def test_two_groups_scored_0_and_1_are_the_log_rank_test(rounding):
    from lifelines.statistics import logrank_test

    rng = np.random.default_rng(4)
    for _ in range(20):
        (tc, tt), (ec, et) = _groups(rng, (30, 25), (0.08, 0.12), rounding=rounding)
        z, p = logrank_trend([tc, tt], [ec, et], [0.0, 1.0])
        ref = logrank_test(tc, tt, event_observed_A=ec, event_observed_B=et)
        assert p == pytest.approx(ref.p_value, rel=1e-10, abs=1e-14)
        assert z * z == pytest.approx(ref.test_statistic, rel=1e-10)


def test_many_groups_without_ties_are_the_cox_score_test_of_the_score():
    """Without tied times the log-rank trend statistic is the Cox model's score test of the arm
    score at beta = 0 (Breslow): U = score, V = information (statsmodels PHReg)."""
    from statsmodels.duration.hazard_regression import PHReg

    rng = np.random.default_rng(9)
    scores = [0.0, 1.0, 2.5, 4.0]
    for _ in range(10):
        times, events = _groups(rng, (20, 22, 18, 25), (0.05, 0.07, 0.09, 0.12))
        z, p = logrank_trend(times, events, scores)
        x = np.repeat(scores, [len(t) for t in times])[:, None]
        model = PHReg(np.concatenate(times), x, status=np.concatenate(events).astype(int), ties="breslow")
        u, info = model.score(np.zeros(1))[0], -model.hessian(np.zeros(1))[0, 0]
        assert z == pytest.approx(u / np.sqrt(info), rel=1e-9)


def test_scores_are_an_interval_scale_and_the_sign_says_which_way():
    rng = np.random.default_rng(2)
    times, events = _groups(rng, (40, 40, 40), (0.05, 0.1, 0.2))  # recovery faster with the dose
    z, p = logrank_trend(times, events, [0, 1, 2])
    assert z > 0 and p < 0.01
    assert logrank_trend(times, events, [10, 20, 30]) == pytest.approx((z, p), rel=1e-12)  # affine in the scores
    assert logrank_trend(times, events, [2, 1, 0]) == pytest.approx((-z, p), rel=1e-12)
    nothing = [np.zeros(len(t), bool) for t in times]
    assert np.isnan(logrank_trend(times, nothing, [0, 1, 2])[1])


def test_auc_and_make_trends_point_the_same_way_as_recovery():
    from scipy.stats import kendalltau, norm

    rng = np.random.default_rng(5)
    auc = [rng.normal(m, 1.0, 30) for m in (6.0, 5.0, 4.0)]  # lower AUC with the dose: better
    z, p = trend_test("scr_auc", [0, 1, 2], auc=auc)
    assert z > 0 and p == pytest.approx(kendalltau(np.repeat([0, 1, 2], 30), np.concatenate(auc)).pvalue)
    events = [rng.random(50) < q for q in (0.4, 0.3, 0.15)]  # fewer MAKE events with the dose: better
    events[2][:] = False  # an arm without events: a zero cell, which must not be shifted
    z, p = trend_test("make30", [0, 1, 2], events=events)
    # the linear-by-linear statistic is sqrt(N - 1) times the Pearson correlation of score and event
    score = np.repeat([0.0, 1.0, 2.0], 50)
    r = np.corrcoef(score, np.concatenate(events).astype(float))[0, 1]
    assert z == pytest.approx(-np.sqrt(score.size - 1) * r, rel=1e-10) and z > 0
    assert p == pytest.approx(2 * norm.sf(abs(z)), rel=1e-10)


# --- in a trial: one test per replicate, on the patients each arm keeps --------------------------

def _pools(rng, medians, n=90):
    from tests.trials.conftest import synthetic_pool

    return tuple(synthetic_pool(n, m, rng) for m in medians)


def test_a_two_arm_trend_is_the_log_rank_comparison_and_draws_nothing():
    from nephrosim.trials.run import _replicate_task

    rng = np.random.default_rng(3)
    arms = _pools(rng, (12.0, 8.0))
    plain = _replicate_task((5, 0, 15, (20, 18), arms, None, None))
    trend = _replicate_task((5, 0, 15, (20, 18), arms, None, None, ("recovery", (0.0, 1.0))))
    for a, b in zip(plain, trend):
        assert b["p_trend"] == pytest.approx(a["p_logrank"], rel=1e-10, abs=1e-14)
        assert {k: v for k, v in b.items() if not k.endswith("_trend")} == a  # every other number unchanged


def test_a_three_arm_trend_depends_on_the_scores_order_only_through_their_spacing():
    from nephrosim.trials.run import _replicate_task

    rng = np.random.default_rng(8)
    arms = _pools(rng, (12.0, 9.0, 6.0))
    task = (2, 0, 12, (20, 20, 20), arms, (0.1, 30.0), None)  # with loss to follow-up: censored where lost
    by_rank = _replicate_task((*task, ("recovery", (0.0, 1.0, 2.0))))
    by_dose = _replicate_task((*task, ("recovery", (0.0, 2.0e6, 4.0e6))))
    reversed_ = _replicate_task((*task, ("recovery", (2.0, 1.0, 0.0))))
    uneven = _replicate_task((*task, ("recovery", (0.0, 1.0, 10.0))))
    for a, b, c, d in zip(by_rank, by_dose, reversed_, uneven):
        assert b["p_trend"] == pytest.approx(a["p_trend"], rel=1e-10)  # equally spaced scores: the same test
        assert (c["z_trend"], c["p_trend"]) == pytest.approx((-a["z_trend"], a["p_trend"]), rel=1e-10)
    assert any(abs(d["p_trend"] - a["p_trend"]) > 1e-6 for a, d in zip(by_rank, uneven))  # spacing matters
    for endpoint in ("scr_auc", "make30"):
        for rep in _replicate_task((*task, (endpoint, (0.0, 1.0, 2.0)))):
            assert 0.0 <= rep["p_trend"] <= 1.0 or np.isnan(rep["p_trend"])


def test_the_design_names_a_bad_trend_and_its_summary_counts_the_replicates():
    import yaml

    from nephrosim.trials import TrialError, trial_from_dict
    from nephrosim.trials.run import trend_summary
    from tests.trials.conftest import SMALL

    design = yaml.safe_load(SMALL)
    with pytest.raises(TrialError, match=r"trend.scores: 3 scores for 2 arms; give one per arm"):
        trial_from_dict({**design, "trend": {"scores": [0, 1, 2]}})
    with pytest.raises(TrialError, match="every arm has the same score"):
        trial_from_dict({**design, "trend": {"scores": [1, 1]}})
    d = trial_from_dict({**design, "trend": {}})
    assert d.trend_scores == (0.0, 1.0)
    reps = [{"z_trend": z, "p_trend": p} for z, p in ((2.5, 0.01), (-2.2, 0.03), (0.5, 0.6), (np.nan, np.nan))]
    s = trend_summary(d, reps)
    assert s["power"] == 0.5 and s["power_favouring_the_score"] == 0.25 and s["not_testable"] == 1
    assert s["scores"] == {"placebo": 0.0, "msc": 1.0} and s["test"] == "log-rank test for trend"
