"""Trials of more than two arms (issue 16: a control and several doses, products or timings).

Each treated arm is compared with the control on the same replicate trial, and the family of
primary p-values is adjusted for multiplicity (Holm by default). Checked against independent
facts: the arithmetic of Holm and Bonferroni on hand-made p-values; a three-arm trial's first
comparison sees exactly the patients of the two-arm trial with the same seed (the arms take
consecutive slices of one permutation), so its log-rank p-values and hazard ratios are the
two-arm ones; and identical treated arms give identical comparisons.
"""

import math

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from nephrosim.trials import TrialError, run_trial, trial_from_dict
from nephrosim.trials.analysis import comparison_replicates, summarise_trial
from nephrosim.trials.endpoints import PatientOutcomes
from nephrosim.trials.run import _replicate_task

from .conftest import SMALL

MSC = {"product": "msc", "dose": 2.0e6, "dose_unit": "cells/kg", "route": "intra_arterial_aorta"}


def _rep(p_logrank: float) -> dict:
    return {"p_logrank": p_logrank, "p_auc": 0.9, "p_make": 0.9, "median_control": 10.0, "median_treatment": 9.0,
            "hr": 1.1, "recovered_control": 0.5, "recovered_treatment": 0.6, "death_control": 0.1,
            "death_treatment": 0.1, "auc_control": 5.0, "auc_treatment": 4.0, "death_stage_control": 0.2,
            "death_stage_treatment": 0.1, "dialysis_control": 0.1, "dialysis_treatment": 0.0,
            "death_dialysis_control": 0.3, "death_dialysis_treatment": 0.1, "make_control": 0.4,
            "make_treatment": 0.2}


def _three_arm_reps(pairs):
    return [{**{f"arm1:{k}": v for k, v in _rep(p1).items()}, **{f"arm2:{k}": v for k, v in _rep(p2).items()}}
            for p1, p2 in pairs]


# (p of arm 1, p of arm 2) per replicate, alpha 0.05. Holm: the smaller p against 0.025, then the
# larger against 0.05 (only if the smaller was rejected). Bonferroni: each against 0.025.
PAIRS = [(0.01, 0.04),   # Holm rejects both (0.01 < 0.025, then 0.04 < 0.05); Bonferroni only arm 1
         (0.03, 0.04),   # Holm: 0.03 > 0.025, nothing; Bonferroni nothing
         (0.02, 0.30),   # both methods: arm 1 only
         (0.60, 0.001),  # both methods: arm 2 only
         (0.50, 0.70)]   # nothing


def test_holm_and_bonferroni_follow_their_textbook_arithmetic():
    reps = _three_arm_reps(PAIRS)
    holm = summarise_trial(reps, ("placebo", "low", "high"), 0.05, "recovery", "holm")
    assert holm["multiplicity"] == "holm"
    assert holm["comparisons"]["low"]["power"] == 0.6          # 0.01, 0.03, 0.02 < 0.05 unadjusted
    assert holm["comparisons"]["low"]["power_adjusted"] == 0.4  # replicates 1 and 3
    assert holm["comparisons"]["high"]["power"] == 0.6          # 0.04, 0.04, 0.001
    assert holm["comparisons"]["high"]["power_adjusted"] == 0.4  # replicates 1 and 4
    assert holm["power"] == 0.6 and holm["null_share"] == 0.4   # replicates 1, 3, 4 are positive
    bonf = summarise_trial(reps, ("placebo", "low", "high"), 0.05, "recovery", "bonferroni")
    assert bonf["comparisons"]["low"]["power_adjusted"] == 0.4   # 0.01 and 0.02
    assert bonf["comparisons"]["high"]["power_adjusted"] == 0.2  # 0.001 only
    assert bonf["power"] == 0.6
    # per-arm entries name every arm once; comparison entries live under `comparisons` only
    assert holm["make30"] == {"placebo": 0.4, "low": 0.2, "high": 0.2}
    assert "hazard_ratio" not in holm and set(holm["comparisons"]["low"]) >= {"hazard_ratio", "make30_power"}


def test_dunnett_p_values_are_scipys_on_large_samples():
    """Dunnett's many-to-one p-values from the comparisons' z and their correlation through the shared
    control (unequal arms) equal scipy.stats.dunnett's (multivariate t with 59,996 df, so normal to the
    digits compared), computed from the same samples."""
    from scipy.stats import dunnett

    from nephrosim.trials.analysis import dunnett_correlation, dunnett_critical_z, dunnett_p

    rng = np.random.default_rng(0)
    n0, sizes = 20000, (15000, 20000, 25000)
    control = rng.normal(0.0, 1.0, n0)
    arms = [rng.normal(0.015 * k, 1.0, n) for k, n in enumerate(sizes)]
    reference = dunnett(*arms, control=control)
    ours = dunnett_p(reference.statistic, dunnett_correlation(n0, sizes))
    assert ours == pytest.approx(reference.pvalue, rel=2e-3, abs=2e-5)
    # two comparisons of equal arms: Dunnett's tabulated two-sided 5 % point for infinite df, 2.21
    assert dunnett_critical_z(dunnett_correlation(40, (40, 40)), 0.05) == pytest.approx(2.212, abs=0.002)


def test_dunnett_rejects_between_bonferroni_and_the_unadjusted_test():
    """On the hand-made replicates: a comparison is significant when |z| >= Dunnett's critical value,
    i.e. when its adjusted p (dunnett_p) < alpha; Dunnett keeps every Bonferroni rejection (it uses the
    correlation Bonferroni ignores) and adds none the unadjusted test does not make."""
    from nephrosim.trials.analysis import adjusted_rejections, dunnett_correlation, dunnett_p
    from nephrosim.trials.sequential import z_of_p

    p = np.array(PAIRS, float).T  # [comparison, replicate]
    dun = adjusted_rejections(p, 0.05, "dunnett", 40, (40, 40))
    corr = dunnett_correlation(40, (40, 40))
    by_hand = np.array([dunnett_p(z_of_p(p[:, r]), corr) < 0.05 for r in range(p.shape[1])]).T
    assert np.array_equal(dun, by_hand)
    bonf = adjusted_rejections(p, 0.05, "bonferroni")
    assert np.all(dun >= bonf) and np.all(dun <= (p < 0.05))
    summary = summarise_trial(_three_arm_reps(PAIRS), ("placebo", "low", "high"), 0.05, "recovery", "dunnett",
                              (40, 40, 40))
    assert summary["multiplicity"] == "dunnett"
    assert summary["comparisons"]["low"]["power_adjusted"] == round(float(dun[0].mean()), 4)
    with pytest.raises(ValueError, match="sizes"):
        adjusted_rejections(p, 0.05, "dunnett")


def test_holm_for_every_replicate_at_once_is_statsmodels_holm():
    """The vectorized Holm equals statsmodels' multipletests replicate by replicate, on random p with
    ties, values at the step thresholds and p = 1 (a NaN p is counted as 1)."""
    from statsmodels.stats.multitest import multipletests

    from nephrosim.trials.analysis import adjusted_rejections

    rng = np.random.default_rng(3)
    reps = 40  # (each multipletests call runs gc.collect: tens of ms in a test process)
    for m in (2, 3, 5):
        p = rng.choice(np.r_[rng.random(20) * 0.1, 0.05 / np.arange(1, m + 1), 1.0], size=(m, reps))
        p[0, :3] = np.nan
        ours = adjusted_rejections(p, 0.05, "holm")
        p1 = np.where(np.isfinite(p), p, 1.0)
        reference = np.column_stack([multipletests(p1[:, r], alpha=0.05, method="holm")[0] for r in range(reps)])
        assert np.array_equal(ours, reference) and 0 < ours.sum() < ours.size


def test_step_down_dunnett_is_between_holm_and_the_unadjusted_test_and_keeps_alpha():
    """Step-down Dunnett on correlated z of three comparisons with one control (ρ = 0.5): under the
    global null its family-wise error is alpha (its first step is the single-step test: 200,000
    draws, 4 SE); on any data it rejects all that single-step Dunnett and Holm reject (its critical
    values are Dunnett's of the comparisons left, never above Holm's Bonferroni ones) and nothing the
    unadjusted test does not; its last step is the plain two-sided test (1.96)."""
    from scipy.stats import norm

    from nephrosim.trials.analysis import adjusted_rejections, dunnett_correlation, dunnett_critical_z

    corr = dunnett_correlation(40, (40, 40, 40))
    assert dunnett_critical_z(corr[:1, :1], 0.05) == pytest.approx(norm.isf(0.025), abs=1e-6)
    rng = np.random.default_rng(5)
    n = 200_000
    null = rng.multivariate_normal(np.zeros(3), corr, size=n).T
    p_null = 2 * norm.sf(np.abs(null))
    fwer = adjusted_rejections(p_null, 0.05, "dunnett_stepdown", 40, (40, 40, 40)).any(axis=0).mean()
    assert abs(fwer - 0.05) <= 4 * math.sqrt(0.05 * 0.95 / n)
    shifted = rng.multivariate_normal([2.0, 1.0, 0.0], corr, size=2000).T
    p = 2 * norm.sf(np.abs(shifted))
    step = adjusted_rejections(p, 0.05, "dunnett_stepdown", 40, (40, 40, 40))
    single = adjusted_rejections(p, 0.05, "dunnett", 40, (40, 40, 40))
    holm = adjusted_rejections(p, 0.05, "holm")
    assert np.all(step >= single) and np.all(step >= holm) and np.all(step <= (p < 0.05))
    assert step.sum() > single.sum() and step.sum() > holm.sum()  # the gain is real on these data


def test_arm_dropping_by_hand():
    """Two treated arms, one look at half the patients, futility at signed z < 0, Holm at the end."""
    from nephrosim.trials.sequential import arm_dropping

    # replicate 0: both arms look good and both reject; 1: arm 2 points the wrong way at the look, is
    # dropped, and arm 1 is tested alone-but-adjusted (p 0.03 <= 0.05/2 fails, Holm over both planned
    # arms: arm 2 counts with p = 1); 2: both dropped (the trial stops, the control at half too)
    p_final = np.array([[0.001, 0.03, 0.001], [0.002, 0.001, 0.001]])
    p_looks = np.array([[[0.1], [0.2], [0.3]], [[0.1], [0.2], [0.3]]])
    favours = np.array([[[True], [True], [False]], [[True], [False], [False]]])
    d = arm_dropping(p_final, p_looks, favours, (0.5,), (10, 10, 20), 0.05, "holm", 0.0)
    assert d["power"] == pytest.approx(1 / 3, abs=1e-4) and d["power_without_dropping"] == 1.0
    assert d["power_adjusted"] == [pytest.approx(1 / 3, abs=1e-4), pytest.approx(1 / 3, abs=1e-4)]
    assert d["dropped_share"] == [pytest.approx(1 / 3, abs=1e-4), pytest.approx(2 / 3, abs=1e-4)]
    assert d["stopped_for_futility_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert d["expected_n_per_arm"] == [pytest.approx((10 + 10 + 5) / 3, abs=0.01),
                                       pytest.approx((10 + 10 + 5) / 3, abs=0.01),
                                       pytest.approx((20 + 10 + 10) / 3, abs=0.01)]
    assert d["planned_total_n"] == 40
    with pytest.raises(ValueError, match="treated arm, replicate, interim look"):
        arm_dropping(p_final, p_looks[:, :, :, None], favours, (0.5,), (10, 10, 20), 0.05, "holm", 0.0)


@pytest.mark.parametrize("method", ["holm", "dunnett"])
def test_arm_dropping_keeps_the_familywise_error_and_drops_what_points_the_wrong_way(method):
    """Comparisons of three treated arms with one shared control, from Brownian paths of the four arms'
    sums (equal sizes: the comparisons correlate 0.5, Dunnett's structure), at looks (1/3, 2/3, 1).
    Under the global null, dropping at signed z < 0 rejects, replicate by replicate, a subset of what the
    trial without dropping rejects, so the family-wise error stays below alpha. With one effective arm
    and two harmful ones, the harmful arms are dropped nearly always, the effective one rarely (and loses no
    more power than that), and the expected total n falls by over a fifth."""
    from scipy.stats import norm as normal

    from nephrosim.trials.analysis import adjusted_rejections
    from nephrosim.trials.sequential import arm_dropping

    t = np.array([1 / 3, 2 / 3, 1.0])
    n, arms = 40_000, 3
    rng = np.random.default_rng(5)
    w = np.cumsum(rng.standard_normal((arms + 1, n, t.size)) * np.sqrt(np.diff(np.r_[0.0, t])), axis=2)
    for drift in ((0.0, 0.0, 0.0), (3.0, -1.5, -1.5)):  # expected z of each comparison at t = 1
        # comparison k: (treated sum - control sum) / sqrt(2 t), positive favours treatment
        z = (w[1:] - w[0][None]) / np.sqrt(2 * t) + np.array(drift)[:, None, None] * np.sqrt(t)
        p = 2 * normal.sf(np.abs(z))
        d = arm_dropping(p[:, :, -1], p[:, :, :-1], z[:, :, :-1] > 0, t[:-1], (60, 60, 60, 60), 0.05, method, 0.0)
        plain_by_arm = adjusted_rejections(p[:, :, -1], 0.05, method, 60, (60, 60, 60))
        plain = plain_by_arm.any(axis=0)
        assert d["power_without_dropping"] == pytest.approx(plain.mean(), abs=1e-4)
        if drift[0] == 0.0:
            assert d["power"] <= d["power_without_dropping"] <= 0.05 + 4 * math.sqrt(0.05 * 0.95 / n)
            # P(an arm is dropped at the first look) = P(Z < 0) = 1/2, under the null
            for share in d["dropped_at_look"]:
                assert abs(share[0] - 0.5) <= 4 * math.sqrt(0.25 / n)
        else:
            assert d["dropped_share"][0] < 0.05 and min(d["dropped_share"][1:]) > 0.9
            # the effective arm loses at most the replicates it is dropped in: it still rejects whenever its
            # single-step test over all three planned arms would (Bonferroni for Holm, single-step Dunnett)
            single = adjusted_rejections(p[:, :, -1], 0.05, "bonferroni" if method == "holm" else method, 60,
                                         (60, 60, 60))[0].mean()
            assert d["power_adjusted"][0] >= single - d["dropped_share"][0] - 1e-4
            assert d["power_adjusted"][0] > 0.65
            assert d["expected_total_n"] < 0.8 * d["planned_total_n"]


def test_a_two_arm_summary_is_unchanged_and_names_its_one_comparison():
    reps = [_rep(p) for p in (0.01, 0.02, 0.2, 0.5)]
    s = summarise_trial(reps, ("placebo", "msc"), 0.05)
    assert s["power"] == 0.5 and s["hazard_ratio"]["median"] == 1.1
    assert s["comparisons"]["msc"]["power"] == s["comparisons"]["msc"]["power_adjusted"] == 0.5
    assert s["multiplicity"].startswith("none")


def _pool(n, median_days, rng, horizon=30.0):
    t = rng.exponential(median_days / math.log(2), n)
    return PatientOutcomes(np.minimum(t, horizon), t < horizon, rng.random(n) * 0.2, t.copy(), rng.random(n) * 0.3,
                           rng.random(n) * 0.2, rng.random(n) < 0.2, np.full(n, np.nan), np.full(n, np.nan))


def test_the_first_comparison_of_three_arms_sees_the_patients_of_the_two_arm_trial():
    rng = np.random.default_rng(11)
    control, low, high = _pool(90, 12.0, rng), _pool(90, 8.0, rng), _pool(90, 6.0, rng)
    two = _replicate_task((5, 0, 12, (20, 18), (control, low)))
    three = _replicate_task((5, 0, 12, (20, 18, 25), (control, low, high)))
    first = comparison_replicates(three, 1, 3)
    for a, b in zip(two, first):
        # the statistics that use no random draw beyond the permutation are identical
        for key in ("p_logrank", "hr", "hr_lo", "hr_hi", "median_control", "median_treatment", "p_auc",
                    "auc_control", "auc_treatment", "recovered_control", "recovered_treatment", "death_control",
                    "death_treatment"):
            assert a[key] == b[key], key
    # the second comparison uses the same control patients and events
    second = comparison_replicates(three, 2, 3)
    for a, b in zip(first, second):
        assert (a["median_control"], a["death_stage_control"], a["make_control"]) == \
               (b["median_control"], b["death_stage_control"], b["make_control"])
    assert any(a["median_treatment"] != b["median_treatment"] for a, b in zip(first, second))


def test_identical_treated_arms_give_identical_per_arm_outcomes(tmp_path):
    from statsmodels.stats.multitest import multipletests

    design = yaml.safe_load(SMALL)
    design["arms"].append({**design["arms"][1], "name": "msc_again"})
    design["interim"] = {"information": [0.5], "futility_z": 0.0}  # arm dropping: no draw moves
    result = run_trial(trial_from_dict(design), replicates=20, seed=2)
    out = result.to_dict()
    # arm dropping recomputed from the replicates: an arm whose effect at half the patients points the wrong
    # way (signed z < 0) is dropped and not rejected; Holm (statsmodels) over both arms at the end
    drop = out["arm_dropping"]
    rejected, dropped, n_used = [], {1: 0, 2: 0}, {"placebo": 0.0, "msc": 0.0, "msc_again": 0.0}
    for r in result.replicates:
        gone = {k: not r[f"arm{k}:favours_interim_1"] and r[f"arm{k}:p_interim_1"] < 1.0 for k in (1, 2)}
        p = [1.0 if gone[k] else r[f"arm{k}:p_logrank"] for k in (1, 2)]
        rejected.append(multipletests(p, alpha=0.05, method="holm")[0].any())
        for k, name in ((1, "msc"), (2, "msc_again")):
            dropped[k] += gone[k]
            n_used[name] += 10 if gone[k] else 20
        n_used["placebo"] += 10 if all(gone.values()) else 20
    assert drop["power"] == pytest.approx(np.mean(rejected), abs=1e-4)
    assert drop["dropped_share"] == {"msc": dropped[1] / 20, "msc_again": dropped[2] / 20}
    assert drop["expected_n_per_arm"] == {name: v / 20 for name, v in n_used.items()}
    assert drop["power_without_dropping"] == out["power"] and drop["power"] <= out["power"]
    assert "group_sequential" not in out
    # the same replicates read with beta-spending boundaries (the rule moves no draw): an arm is dropped when
    # its signed z at the look is below the boundary of a comparison planned at alpha/2 for power 0.8
    from scipy.stats import norm

    from nephrosim.trials.run import arm_dropping_summary
    from nephrosim.trials.sequential import arm_futility_boundaries

    beta_design = trial_from_dict({**design, "interim": {"information": [0.5], "futility_beta": {"beta": 0.2}}})
    bound = arm_futility_boundaries((0.5, 1.0), 0.05, 2, 0.2)[0][0]
    assert -1.5 < bound < 1.5
    beta_drop = arm_dropping_summary(beta_design, result.replicates)
    rejected, dropped = [], {1: 0, 2: 0}
    for r in result.replicates:
        z = {k: norm.isf(r[f"arm{k}:p_interim_1"] / 2) * (1 if r[f"arm{k}:favours_interim_1"] else -1) for k in (1, 2)}
        gone = {k: z[k] < bound for k in (1, 2)}
        p = [1.0 if gone[k] else r[f"arm{k}:p_logrank"] for k in (1, 2)]
        rejected.append(multipletests(p, alpha=0.05, method="holm")[0].any())
        for k in (1, 2):
            dropped[k] += gone[k]
    assert beta_drop["power"] == pytest.approx(np.mean(rejected), abs=1e-4)
    assert beta_drop["dropped_share"] == {"msc": dropped[1] / 20, "msc_again": dropped[2] / 20}
    assert beta_drop["futility_z"] == [round(bound, 4)] and beta_drop["futility_beta"] == 0.2
    # every pool patient is simulated under each arm: the same treatment gives the same course; the
    # arms' summaries still differ, because each replicate randomizes different patients to them
    np.testing.assert_array_equal(result.arm_outcomes["msc"].scr_auc, result.arm_outcomes["msc_again"].scr_auc)
    assert set(out["comparisons"]) == {"msc", "msc_again"} and out["n_per_arm"] == {"placebo": 20, "msc": 20,
                                                                                      "msc_again": 20}
    for c in out["comparisons"].values():
        assert c["power_adjusted"] <= c["power"] <= 1.0
    assert max(c["power_adjusted"] for c in out["comparisons"].values()) <= out["power"]
    # the two-arm trial with the same seed: its one comparison's hazard ratios are the first comparison's
    two = run_trial(trial_from_dict(yaml.safe_load(SMALL)), replicates=20, seed=2)
    assert [r["hr"] for r in two.replicates] == [r["hr"] for r in comparison_replicates(result.replicates, 1, 3)]


@pytest.mark.parametrize("arms, words", [
    ([{"name": "placebo", "n": 20}] + [{"name": f"msc{k}", "n": 20, "treatment": MSC} for k in range(6)],
     ["arms", "at most 6"]),
    ([{"name": "placebo", "n": 20}, {"name": "msc", "n": 20, "treatment": MSC},
      {"name": "msc", "n": 20, "treatment": MSC}], ["'msc' is given more than once"]),
])
def test_too_many_or_repeated_arms_are_refused_with_the_field(arms, words):
    with pytest.raises(TrialError) as err:
        trial_from_dict({"arms": arms}, "t.yaml")
    for w in words:
        assert w in str(err.value)


def test_the_design_search_refuses_a_multi_arm_base(tmp_path):
    from nephrosim.trials.search import SearchError, load_search

    design = yaml.safe_load(SMALL)
    design["arms"].append({**design["arms"][1], "name": "msc_again"})
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(design))
    (tmp_path / "search.yaml").write_text("base: base.yaml\ncandidates: {n_per_arm: [20]}\n")
    with pytest.raises(SearchError, match="two-arm base design"):
        load_search(tmp_path / "search.yaml")


def test_cli_prints_each_comparison_with_its_adjusted_power(app, tmp_path):
    import json

    design = yaml.safe_load(SMALL)
    design["virtual_patients"] = 300
    for arm in design["arms"]:
        arm["n"] = 8
    design["arms"].append({**design["arms"][1], "name": "msc_high",
                           "treatment": {**design["arms"][1]["treatment"], "dose": 2.0e7}})
    design["trend"] = {"scores": [0, 2.0e6, 2.0e7]}  # the doses per kg
    design["interim"] = {"information": [0.5], "futility_z": 0.0}
    design["mcp_mod"] = {"doses": [0, 2.0e6, 2.0e7], "shapes": [{"shape": "linear"}, {"shape": "emax", "ed50": 2.0e6}]}
    path = tmp_path / "three.yaml"
    path.write_text(yaml.safe_dump(design))
    res = CliRunner().invoke(app, ["trial", str(path), "-n", "6", "--seed", "4", "--no-progress"])
    assert res.exit_code == 0, res.output
    printed = res.output
    assert "holm-adjusted" in res.output
    assert "msc vs control: power" in res.output and "msc_high vs control: power" in res.output
    assert "trend across the arms (log-rank test for trend; scores placebo 0, msc 2e+06, msc_high 2e+07)" in res.output
    res = CliRunner().invoke(app, ["trial", str(path), "-n", "6", "--seed", "4", "--no-progress", "--json"])
    out = json.loads(res.output)
    assert set(out["comparisons"]) == {"msc", "msc_high"} and set(out["make30"]) == {"placebo", "msc", "msc_high"}
    assert out["trend"]["scores"] == {"placebo": 0, "msc": 2.0e6, "msc_high": 2.0e7} and 0 <= out["trend"]["power"] <= 1
    mcp = out["mcp_mod"]
    assert mcp["shapes"] == ["linear", "emax ED50 2e+06"] and 0 <= mcp["power"] <= 1
    assert sum(mcp["significant_by_shape"].values()) == pytest.approx(mcp["power"], abs=1e-3)
    assert mcp["covariance"] == "pooled within-arm variance" and mcp["critical_value"] > 1.96
    assert mcp["rule"] == f"largest contrast statistic >= {mcp['critical_value']:.4g}, the critical value of the planned contrasts"
    assert f"MCP-Mod contrast test on SCr AUC ({mcp['rule']}): power {mcp['power']:.3f}" in printed
    drop = out["arm_dropping"]
    assert set(drop["dropped_share"]) == {"msc", "msc_high"} and drop["planned_total_n"] == 24
    assert (f"arm dropping at 0.5 of the patients (signed z < 0): power {drop['power']:.3f} "
            f"({drop['power_without_dropping']:.3f} without dropping)") in printed
