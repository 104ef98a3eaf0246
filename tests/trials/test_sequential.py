"""Group-sequential interim looks (issue 16: "no interim").

The boundaries are checked against simulated Brownian motion, not against the code's own
arithmetic: under the null, the share of paths that first cross by look k must be the spending
function's alpha at t_k. The trial-level reading is checked on synthetic pools: the interim p is the
test of the first patients recomputed by hand (lifelines, scipy), a zero effect keeps the trial's
alpha, an effective treatment stops early and saves patients, and the single-analysis power is not
moved by adding looks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from lifelines.statistics import logrank_test
from scipy.stats import mannwhitneyu, norm

from nephrosim.trials import TrialError, trial_from_dict
from nephrosim.trials.run import _replicate_task

from .conftest import synthetic_pool
from nephrosim.trials.sequential import arm_dropping, efficacy_boundaries, futility_boundaries, sequential_summary, \
    spent, spent_alpha

HORIZON = 30.0


@pytest.mark.parametrize("looks, kind", [((0.5, 1.0), "obrien_fleming"), ((0.25, 0.5, 0.75, 1.0), "obrien_fleming"),
                                         ((1 / 3, 2 / 3, 1.0), "pocock")])
def test_boundaries_spend_alpha_as_the_spending_function_on_brownian_motion(looks, kind):
    t = np.array(looks)
    c = efficacy_boundaries(t, 0.05, kind)
    rng = np.random.default_rng(7)
    n = 400_000
    increments = rng.standard_normal((n, t.size)) * np.sqrt(np.diff(np.r_[0.0, t]))
    z = np.abs(np.cumsum(increments, axis=1)) / np.sqrt(t)  # the standardized statistic at each look
    crossed_by = np.cumsum(z >= c, axis=1) > 0
    for k in range(t.size):
        share = crossed_by[:, k].mean()
        expected = float(spent_alpha(t[k], 0.05, kind))
        se = math.sqrt(expected * (1 - expected) / n)
        assert abs(share - expected) <= 4 * se + 1e-4, (k, share, expected)
    assert np.all(np.diff(c) < 0) if kind == "obrien_fleming" else abs(c[0] - c[-1]) < 0.1


def test_one_look_is_the_fixed_sample_test():
    assert efficacy_boundaries([1.0], 0.05)[0] == pytest.approx(norm.isf(0.025), abs=1e-5)
    assert float(spent_alpha(1.0, 0.05, "obrien_fleming")) == pytest.approx(0.05, rel=1e-12)
    assert float(spent_alpha(1.0, 0.05, "pocock")) == pytest.approx(0.05, rel=1e-12)


@pytest.fixture(scope="module")
def pools():
    rng = np.random.default_rng(21)
    return synthetic_pool(300, 12.0, rng), synthetic_pool(300, 6.0, rng)


def test_the_interim_p_is_the_test_of_the_first_randomized_patients(pools):
    control, treated = pools
    seed, n, m = 4, 40, 20
    for primary in ("recovery", "scr_auc"):
        reps = _replicate_task((seed, 0, 5, (n, n), (control, treated), (0.2, HORIZON), (primary, (0.5,))))
        for r, rep in enumerate(reps):
            # the replicate's patients and losses, as _replicate_task draws them (documented streams)
            ic, it = np.split(np.random.default_rng([seed, 2, r]).permutation(control.size)[:2 * n], [n])
            drop = np.random.default_rng([seed, 6, r])
            first = []
            for o, i in ((control, ic), (treated, it)):
                lost = drop.random(n) < 0.2
                when = drop.random(n) * HORIZON
                days, event = o.recovery_days[i], o.recovered[i]
                censored = lost & (when < days)
                first.append((np.where(censored, when, days)[:m], (event & ~censored)[:m], (~lost)[:m],
                              o.scr_auc[i][:m]))
            (dc, ec, kc, ac), (dt, et, kt, at) = first
            if primary == "recovery":
                expected = logrank_test(dc, dt, event_observed_A=ec, event_observed_B=et).p_value
                favours = dt.mean() < dc.mean()
            else:
                expected = mannwhitneyu(ac[kc], at[kt]).pvalue
                favours = at[kt].mean() < ac[kc].mean()
            assert rep["p_interim_1"] == pytest.approx(expected, rel=1e-12)
            assert rep["favours_interim_1"] == favours  # the direction a futility rule reads


def test_a_look_at_every_patient_is_the_final_fisher_test(pools):
    control, treated = pools
    reps = _replicate_task((9, 0, 3, (40, 40), (control, treated), (0.0, HORIZON), ("make30", (1.0 - 1e-9,))))
    for rep in reps:
        assert rep["p_interim_1"] == pytest.approx(rep["p_make"], rel=1e-12)
    half = _replicate_task((9, 0, 3, (40, 40), (control, treated), (0.0, HORIZON), ("make30", (0.5,))))
    assert [r["p_make"] for r in half] == [r["p_make"] for r in reps]
    assert any(r["p_interim_1"] != r["p_make"] for r in half)


def test_a_zero_effect_keeps_alpha_and_an_effect_stops_early(pools):
    control, treated = pools
    looks = (0.5,)
    null = _replicate_task((1, 0, 300, (40, 40), (control, control), (0.0, HORIZON), ("recovery", looks)))
    p = np.array([[r["p_interim_1"], r["p_logrank"]] for r in null])
    gs = sequential_summary(p, (*looks, 1.0), (40, 40), 0.05, "obrien_fleming")
    assert gs["power"] <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 300)
    effect = _replicate_task((1, 0, 200, (40, 40), (control, treated), (0.0, HORIZON), ("recovery", looks)))
    p = np.array([[r["p_interim_1"], r["p_logrank"]] for r in effect])
    gs = sequential_summary(p, (*looks, 1.0), (40, 40), 0.05, "obrien_fleming")
    fixed = float(np.mean(p[:, 1] < 0.05))
    chance = float(spent_alpha(0.5, 0.05, "obrien_fleming"))  # 0.003: a look at half the patients under the null
    assert gs["early_stop_share"] > 10 * chance and gs["expected_n_per_arm"][0] < 40
    assert fixed - 0.08 <= gs["power"] <= fixed  # OBF costs little power against one analysis at alpha
    plain = _replicate_task((1, 0, 40, (40, 40), (control, treated), (0.0, HORIZON)))
    assert [r["p_logrank"] for r in plain] == [r["p_logrank"] for r in effect[:40]]  # the looks move no draw


def test_a_non_binding_futility_rule_on_brownian_motion():
    """Signed statistics of Brownian paths at looks (1/3, 2/3, 1), under the null and under a drift:
    a futility stop at signed z < 0 keeps the type-I error at most alpha (non-binding: the efficacy
    boundaries are the same), stops a share that probability theory gives under the null, and only
    removes rejections."""
    t = np.array([1 / 3, 2 / 3, 1.0])
    c = efficacy_boundaries(t, 0.05, "obrien_fleming")
    rng = np.random.default_rng(3)
    n = 200_000
    increments = rng.standard_normal((n, t.size)) * np.sqrt(np.diff(np.r_[0.0, t]))
    for drift in (0.0, 2.5):  # the drift of the standardized statistic at t = 1
        w = np.cumsum(increments, axis=1) + drift * t
        z = w / np.sqrt(t)  # signed: positive favours treatment
        p = 2 * norm.sf(np.abs(z))
        plain = sequential_summary(p, t, (90, 90), 0.05, "obrien_fleming")
        ruled = sequential_summary(p, t, (90, 90), 0.05, "obrien_fleming", z > 0, 0.0)
        assert ruled["boundaries_z"] == plain["boundaries_z"]
        assert ruled["power_without_futility"] == plain["power"]
        assert ruled["power"] <= plain["power"] and ruled["expected_n_per_arm"][0] < plain["expected_n_per_arm"][0]
        if drift == 0.0:
            se = math.sqrt(0.05 * 0.95 / n)
            assert ruled["power"] <= 0.05 + 4 * se
            # at the first look: P(Z_1 < 0) minus the paths that crossed below -c_1 first (they reject)
            first = 0.5 - norm.sf(c[0])
            assert abs(ruled["stopped_for_futility_at_look"][0] - first) <= 4 * math.sqrt(first * (1 - first) / n)
        else:
            assert ruled["futility_stop_share"] < 0.1 and plain["power"] - ruled["power"] < 0.03


# gsDesign's own output for test.type = 4 (non-binding futility by beta spending): k = 5 equally spaced
# analyses, one-sided alpha 0.025, beta 0.1, Hwang-Shih-DeCani spending with gamma -4 (alpha) and -2
# (beta). From the package's test snapshot, tests/testthat/_snaps/independent-test-print.gsDesign.md
# ("Test: checking for test.type=4,n.fix=1"), github.com/keaven/gsDesign.
GSDESIGN_TYPE4 = {
    "lower_z": (-0.90, -0.04, 0.69, 1.36, 2.03), "lower_nominal_p": (0.1836, 0.4853, 0.7563, 0.9131, 0.9786),
    "upper_z": (3.25, 2.99, 2.69, 2.37, 2.03), "beta_spent": (0.0077, 0.0115, 0.0171, 0.0256, 0.0381),
    # boundary crossing probabilities at theta = 0.1146 per patient (N = 882 at the final analysis)
    "upper_under_h1": (0.0417, 0.1679, 0.2806, 0.2654, 0.1444), "upper_under_h0_total": 0.0226,
    "theta": 0.1146, "n_final": 882,
}


def test_futility_boundaries_reproduce_gsdesign_test_type_4():
    """Two-sided symmetric efficacy boundaries at alpha 0.05 (0.025 a side) against gsDesign's one-sided
    upper bounds, and the beta-spending lower bounds and the planned drift against its design."""
    g = GSDESIGN_TYPE4
    t = np.arange(1, 6) / 5
    c = efficacy_boundaries(t, 0.05, "hwang_shih_decani", -4.0)
    b, drift = futility_boundaries(t, c, 0.1, "hwang_shih_decani", -2.0)
    np.testing.assert_allclose(c, g["upper_z"], atol=0.006)
    np.testing.assert_allclose(b, g["lower_z"], atol=0.006)
    np.testing.assert_allclose(norm.cdf(b), g["lower_nominal_p"], atol=1.5e-4)
    np.testing.assert_allclose(np.diff(np.r_[0.0, spent(t, 0.1, "hwang_shih_decani", -2.0)]), g["beta_spent"],
                               atol=6e-5)
    assert b[-1] == c[-1]
    # the expected z at the final analysis: theta * sqrt(N) (theta printed to 4 digits, N rounded up)
    assert drift == pytest.approx(g["theta"] * math.sqrt(g["n_final"]), rel=2e-3)


def test_beta_spending_futility_on_brownian_motion_with_the_planned_drift():
    """Paths of the signed statistic at the gsDesign looks, under the drift the boundaries were planned
    for and under the null, read by ``sequential_summary``: the futility stops at each look are the beta
    the spending function spends there, the efficacy crossings are gsDesign's crossing probabilities,
    the power is 1 - beta, and under the null the efficacy claims in favour of treatment are gsDesign's
    0.0226 (the rule followed) and the two-sided type-I error stays below alpha."""
    g = GSDESIGN_TYPE4
    t = np.arange(1, 6) / 5
    rng = np.random.default_rng(11)
    n = 200_000
    increments = rng.standard_normal((n, t.size)) * np.sqrt(np.diff(np.r_[0.0, t]))
    rule = (0.1, "hwang_shih_decani", -2.0)
    lower, drift = futility_boundaries(t, efficacy_boundaries(t, 0.05, "hwang_shih_decani", -4.0), *rule)

    def within(share, expected):
        return abs(share - expected) <= 4 * math.sqrt(max(expected * (1 - expected), 1e-6) / n) + 1e-4

    for mean in (drift, 0.0):
        z = (np.cumsum(increments, axis=1) + mean * t) / np.sqrt(t)  # signed: positive favours treatment
        gs = sequential_summary(2 * norm.sf(np.abs(z)), t, (100, 100), 0.05, "hwang_shih_decani", z > 0,
                                gamma=-4.0, futility_beta=rule)
        assert gs["design_drift_z"] == pytest.approx(drift, abs=1e-4)
        assert gs["futility_boundaries_z"] == pytest.approx(list(lower[:-1]), abs=1e-4)
        if mean > 0:
            for k in range(4):
                assert within(gs["stopped_for_futility_at_look"][k], g["beta_spent"][k]), k
            for k in range(5):
                assert within(gs["rejected_first_at_look"][k], g["upper_under_h1"][k]), k
            assert within(gs["power"], 0.9)
        else:
            # the rule followed: a path stops at its first crossing of either boundary; gsDesign's upper total
            efficacy = np.abs(z) >= np.array(gs["boundaries_z"])
            futile = np.zeros_like(efficacy)
            futile[:, :-1] = ~efficacy[:, :-1] & (z[:, :-1] < np.array(gs["futility_boundaries_z"]))
            stop = efficacy | futile
            first = np.where(stop.any(axis=1), stop.argmax(axis=1), t.size - 1)
            rows = np.arange(n)
            claims = (efficacy[rows, first] & (z[rows, first] > 0)).mean()
            assert within(claims, g["upper_under_h0_total"])
            assert gs["power"] <= 0.05 + 4 * math.sqrt(0.05 * 0.95 / n)
            assert gs["power"] <= gs["power_without_futility"]


def test_the_futility_reading_of_four_replicates_by_hand():
    z = np.array([[3.5, 2.5], [0.5, 2.5], [0.5, 2.5], [1.0, 1.0]])
    favours = np.array([[True, True], [False, True], [True, True], [True, True]])
    gs = sequential_summary(2 * norm.sf(z), (0.5, 1.0), (10, 10), 0.05, "obrien_fleming", favours, 0.0)
    # replicate 0 crosses at the look (|z| 3.5 >= 2.96); 1 points the wrong way at the look and stops;
    # 2 goes on and rejects at the end (2.5 >= 1.97); 3 goes on and does not
    assert gs["power"] == 0.5 and gs["power_without_futility"] == 0.75
    assert gs["futility_stop_share"] == 0.25 and gs["stopped_for_futility_at_look"] == [0.25]
    assert gs["early_stop_share"] == 0.5 and gs["rejected_first_at_look"] == [0.25, 0.25]
    assert gs["expected_n_per_arm"] == [(5 + 5 + 10 + 10) / 4] * 2
    with pytest.raises(ValueError, match="favours_looks"):
        sequential_summary(2 * norm.sf(z), (0.5, 1.0), (10, 10), 0.05, "obrien_fleming", None, 0.0)


def test_bad_interim_settings_name_the_field():
    base = {"arms": [{"name": "placebo", "n": 20}, {"name": "msc", "n": 20, "treatment": {
        "product": "msc", "dose": 2.0e6, "dose_unit": "cells/kg", "route": "intra_arterial_aorta"},
        "timing": {"relative_to": "diagnosis", "delay_h": 6}}]}
    for bad in ([0.5, 0.4], [0.0], [1.0], []):
        with pytest.raises(TrialError, match="interim"):
            trial_from_dict({**base, "interim": {"information": bad}})
    with pytest.raises(TrialError, match="spending"):
        trial_from_dict({**base, "interim": {"information": [0.5], "spending": "haybittle"}})
    three = {"arms": [*base["arms"], {**base["arms"][1], "name": "msc2"}], "interim": {"information": [0.5]}}
    with pytest.raises(TrialError, match="drops the treated arms whose signed z is below a futility boundary.*"
                                         "futility_z.*futility_beta"):
        trial_from_dict(three)
    beta_three = trial_from_dict({**three, "interim": {"information": [0.5], "futility_beta": {"beta": 0.2}}})
    assert beta_three.interim.arm_futility(0.05, 2).shape == (1,)
    with pytest.raises(TrialError, match="interim.spending: with 3 arms the looks only drop arms"):
        trial_from_dict({**three, "interim": {"information": [0.5], "futility_z": 0, "spending": "pocock"}})
    assert trial_from_dict({**three, "interim": {"information": [0.5], "futility_z": 0}}).interim.futility_z == 0
    assert trial_from_dict({**base, "interim": {"information": [0.5]}}).interim.spending == "obrien_fleming"
    with pytest.raises(TrialError, match="futility_z"):
        trial_from_dict({**base, "interim": {"information": [0.5], "futility_z": 5}})
    assert trial_from_dict({**base, "interim": {"information": [0.5]}}).interim.futility_z is None
    with pytest.raises(TrialError, match="futility_z.*futility_beta.*not both"):
        trial_from_dict({**base, "interim": {"information": [0.5], "futility_z": 0.0, "futility_beta": {"beta": 0.1}}})
    with pytest.raises(TrialError, match="futility_beta.beta"):
        trial_from_dict({**base, "interim": {"information": [0.5], "futility_beta": {"beta": 0.6}}})
    with pytest.raises(TrialError, match="gamma is the parameter of hwang_shih_decani"):
        trial_from_dict({**base, "interim": {"information": [0.5], "gamma": -4}})
    with pytest.raises(TrialError, match="futility_beta.gamma is the parameter"):
        trial_from_dict({**base, "interim": {"information": [0.5],
                                             "futility_beta": {"beta": 0.1, "spending": "pocock", "gamma": 1}}})
    hsd = trial_from_dict({**base, "interim": {"information": [0.5], "spending": "hwang_shih_decani",
                                               "futility_beta": {"beta": 0.2}}}).interim
    assert (hsd.spending_gamma, hsd.futility_beta.spending_gamma) == (-4.0, -2.0)  # gsDesign's defaults


def test_a_trial_with_an_interim_look_reports_its_group_sequential_reading(capsys):
    """The whole path on the model: a small design with a look at half the patients (as `nephrosim trial`
    runs it); its summary's group-sequential block is the replicates' p-values against the boundaries,
    and its single-analysis power is that of the same design without the look."""
    import yaml

    from nephrosim.trials import run_trial

    from .conftest import SMALL

    data = yaml.safe_load(SMALL)
    plain = run_trial(trial_from_dict(data), replicates=40, seed=3)
    looked = run_trial(trial_from_dict({**data, "interim": {"information": [0.5]}}), replicates=40, seed=3)
    gs = looked.summary["group_sequential"]
    p = np.array([[r["p_interim_1"], r["p_logrank"]] for r in looked.replicates])
    assert gs == sequential_summary(p, (0.5, 1.0), (20, 20), 0.05, "obrien_fleming")
    assert gs["boundaries_z"][0] > gs["boundaries_z"][1] > 1.96
    assert looked.summary["power"] == plain.summary["power"] and "group_sequential" not in plain.summary
    assert "futility_z" not in gs
    # the same design with a futility rule: the replicates' own directions against the rule
    ruled = run_trial(trial_from_dict({**data, "interim": {"information": [0.5], "futility_z": 0.0}}),
                      replicates=40, seed=3)
    favours = np.array([[r["favours_interim_1"], False] for r in ruled.replicates], bool)
    assert ruled.summary["group_sequential"] == sequential_summary(p, (0.5, 1.0), (20, 20), 0.05, "obrien_fleming",
                                                                   favours, 0.0)
    assert ruled.summary["group_sequential"]["power_without_futility"] == gs["power"]
    # and with beta-spending futility boundaries (the same replicates: a rule moves no draw)
    spent_rule = run_trial(trial_from_dict({**data, "interim": {"information": [0.5], "futility_beta": {"beta": 0.2}}}),
                           replicates=40, seed=3)
    gs = spent_rule.summary["group_sequential"]
    assert gs == sequential_summary(p, (0.5, 1.0), (20, 20), 0.05, "obrien_fleming", favours,
                                    futility_beta=(0.2, "hwang_shih_decani", -2.0))
    assert len(gs["futility_boundaries_z"]) == 1 and gs["futility_boundaries_z"][0] < gs["boundaries_z"][0]
    # in calendar time (accrual moves no draw): 40 patients at 4 a month enrol over 10 months; the look at half
    # the patients is made when the 10th of each arm (entered at month 5) has had 30 days of follow-up
    from nephrosim.trials.run import accrual_summary, group_sequential

    timed = trial_from_dict({**data, "interim": {"information": [0.5], "futility_z": 0.0},
                             "accrual": {"patients_per_month": 4}})
    g = group_sequential(timed, ruled.replicates)
    follow = 30 / (365.25 / 12)
    assert g["look_months"] == [round(5 + follow, 2), round(10 + follow, 2)]
    early = ruled.summary["group_sequential"]["early_stop_share"]
    assert g["expected_duration_months"] == pytest.approx(early * (5 + follow) + (1 - early) * (10 + follow), abs=0.01)
    # by month 5.99, 11 of each arm's 20 are enrolled (patient j enters at j/20 of 10 months): a stop keeps them
    assert g["expected_enrolled_per_arm"] == [pytest.approx(early * 11 + (1 - early) * 20, abs=0.01)] * 2
    assert g["expected_enrolled_per_arm"][0] >= g["expected_n_per_arm"][0]
    assert {k: v for k, v in g.items() if k not in ("look_months", "expected_duration_months",
                                                     "expected_enrolled_per_arm")} == ruled.summary["group_sequential"]
    assert accrual_summary(timed) == {"patients_per_month": 4.0, "enrolment_months": 10.0, "follow_up_days": 30.0,
                                      "planned_duration_months": round(10 + follow, 2)}
    from nephrosim.commands.trials import _print

    _print(spent_rule.to_dict())  # what nephrosim trial prints
    printed = capsys.readouterr().out
    assert (f"non-binding futility spending beta 0.2 (hwang_shih_decani; planned for a final z of "
            f"{gs['design_drift_z']:.3f}) at 0.5: z < {gs['futility_boundaries_z'][0]:.3f}: stopped for futility "
            f"{gs['futility_stop_share']:.3f}") in printed


def test_arm_dropping_boundaries_spend_beta_on_brownian_motion():
    """Multi-arm beta-spending futility (arm_futility_boundaries): one comparison's signed statistic on
    Brownian motion with the planned drift. Below the boundary at look k in the share of paths the spending
    function spends there; dropped or below the final Bonferroni critical value (one-sided alpha/(2·arms))
    in beta of them overall; and at the final look the boundaries' design has power 1 − beta. Under no drift
    the same boundaries drop most arms early."""
    from nephrosim.trials.sequential import arm_futility_boundaries

    t = np.array([1 / 3, 2 / 3, 1.0])
    arms, alpha, beta = 3, 0.05, 0.2
    lower, drift = arm_futility_boundaries(t, alpha, arms, beta, "hwang_shih_decani", -2.0)
    assert lower.shape == (2,) and np.all(np.diff(lower) > 0)
    rng = np.random.default_rng(19)
    n = 200_000
    w = np.cumsum(rng.standard_normal((n, 3)) * np.sqrt(np.diff(np.r_[0.0, t])), axis=1)
    z = (w + drift * t) / np.sqrt(t)
    below = z[:, :2] < lower
    first = np.where(below.any(axis=1), below.argmax(axis=1), 2)
    shares = [float(np.mean(below.any(axis=1) & (first == k))) for k in range(2)]
    steps = np.diff(np.r_[0.0, spent(t, beta, "hwang_shih_decani", -2.0)])
    for k in range(2):
        assert abs(shares[k] - steps[k]) <= 4 * math.sqrt(steps[k] * (1 - steps[k]) / n) + 1e-4, (k, shares, steps)
    final = norm.isf(alpha / (2 * arms))
    missed = float(np.mean(below.any(axis=1) | (z[:, 2] < final)))
    assert abs(missed - beta) <= 4 * math.sqrt(beta * (1 - beta) / n) + 1e-4
    null = w / np.sqrt(t)
    assert float(np.mean((null[:, :2] < lower).any(axis=1))) > 0.5
    # arm_dropping reads one boundary per look the same way as a scalar repeated
    p_looks = 2 * norm.sf(np.abs(z[:200, :2]))[None].repeat(2, axis=0)
    favours = (z[:200, :2] > 0)[None].repeat(2, axis=0)
    p_final = 2 * norm.sf(np.abs(z[:200, 2]))[None].repeat(2, axis=0)
    per_look = arm_dropping(p_final, p_looks, favours, t[:2], (50, 50, 50), alpha, "holm", lower)
    same = arm_dropping(p_final, p_looks, favours, t[:2], (50, 50, 50), alpha, "holm", float(lower[0]))
    flat = arm_dropping(p_final, p_looks, favours, t[:2], (50, 50, 50), alpha, "holm", [float(lower[0])] * 2)
    assert flat == {**same, "futility_z": [round(float(lower[0]), 4)] * 2}
    assert per_look["futility_z"] == [round(float(x), 4) for x in lower]


def test_accrual_calendar_by_hand_and_bad_input():
    """Accrual.calendar on unequal arms: 68 + 67 patients at 4.5 a month enrol over 30 months; the look at
    half the patients waits for the 34th of each arm (34/67 of the period for the smaller arm) plus 90 days;
    arm dropping adds its arms' enrolment at the look they were dropped at."""
    from nephrosim.trials.design import Accrual

    months, enrolled, period = Accrual(patients_per_month=4.5).calendar((68, 67), (0.5, 1.0), 90.0)
    follow = 90 / (365.25 / 12)
    assert period == 30.0
    assert months == pytest.approx([34 / 67 * 30 + follow, 30 + follow])
    assert enrolled.tolist() == [[math.floor(68 * months[0] / 30), math.floor(67 * months[0] / 30)], [68, 67]]
    with pytest.raises(TrialError, match="accrual.patients_per_month"):
        trial_from_dict({"arms": [{"name": "placebo", "n": 20}, {"name": "placebo_2", "n": 20}],
                         "accrual": {"patients_per_month": 0}})
    # arm dropping: arm 1 dropped at the look in replicate 0, both in replicate 1, none in replicate 2
    p_looks = np.array([[[0.02], [0.02], [0.5]], [[0.5], [0.02], [0.5]]])
    favours = np.array([[[False], [False], [True]], [[True], [False], [True]]])
    p_final = np.full((2, 3), 0.5)
    cal = (np.array([6.0, 12.0]), np.array([[11, 11, 11], [20, 20, 20]], float))
    d = arm_dropping(p_final, p_looks, favours, (0.5,), (20, 20, 20), 0.05, "holm", 0.0, cal)
    assert d["expected_duration_months"] == pytest.approx((12 + 6 + 12) / 3, abs=0.01)
    assert d["expected_enrolled_per_arm"] == [pytest.approx((20 + 11 + 20) / 3, abs=0.01),
                                              pytest.approx((11 + 11 + 20) / 3, abs=0.01),
                                              pytest.approx((20 + 11 + 20) / 3, abs=0.01)]
    assert d["look_months"] == [6.0, 12.0]
