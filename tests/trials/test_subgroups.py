"""Pre-specified subgroups analysed in every replicate trial (nephrosim.trials.subgroups): the fits against
lifelines' CoxPHFitter, a replicate's reading recomputed from its documented draws, the summary over replicates,
and bad input naming the field."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nephrosim.trials import TrialError, trial_from_dict
from nephrosim.trials.run import _replicate_task, censor_at_loss, losses
from nephrosim.trials.subgroups import SUBGROUP_CUTS, subgroup_cut, subgroup_fits

from .conftest import synthetic_pool


def _data(rng):
    """Two arms of 80; in the first subgroup (half of each arm) treatment halves the time to recovery, in the
    second it does nothing: a true interaction."""
    sub_c, sub_t = rng.random(80) < 0.5, rng.random(80) < 0.5
    t_c = rng.exponential(10.0, 80)
    t_t = rng.exponential(np.where(sub_t, 5.0, 10.0))
    t_c, t_t = np.round(t_c) + 1, np.round(t_t) + 1  # whole days: ties
    return np.minimum(t_c, 30), t_c < 30, np.minimum(t_t, 30), t_t < 30, sub_c, sub_t


def test_subgroup_fits_equal_lifelines():
    """statsmodels' PHReg (what the replicates fit) against lifelines' CoxPHFitter (Efron ties both)."""
    import pandas as pd
    from lifelines import CoxPHFitter

    t_c, e_c, t_t, e_t, s_c, s_t = _data(np.random.default_rng(41))
    hr_first, hr_second, p = subgroup_fits(t_c, e_c, t_t, e_t, s_c, s_t)
    frame = pd.DataFrame({"T": np.r_[t_c, t_t], "E": np.r_[e_c, e_t].astype(int),
                          "treated": np.r_[np.zeros(80), np.ones(80)], "sub": np.r_[s_c, s_t].astype(float)})
    frame["treated_x_sub"] = frame["treated"] * frame["sub"]
    for level, hr in ((1.0, hr_first), (0.0, hr_second)):
        ref = CoxPHFitter().fit(frame.loc[frame["sub"] == level, ["T", "E", "treated"]], "T", "E")
        assert hr == pytest.approx(math.exp(ref.params_["treated"]), rel=1e-4)
    ref = CoxPHFitter().fit(frame, "T", "E")
    assert p == pytest.approx(ref.summary.loc["treated_x_sub", "p"], rel=1e-3)
    assert hr_first > 1.5 and hr_second < hr_first  # the effect lives in the first subgroup
    # a subgroup whose treated patients never recover: no hazard ratio there, not a crash
    none = subgroup_fits(t_c, e_c, t_t, np.where(s_t, False, e_t), s_c, s_t)
    assert math.isnan(none[0]) and math.isfinite(none[1])


def test_a_replicate_subgroup_reading_is_the_fit_on_its_own_patients():
    """Replicate r's subgroup statistics are subgroup_fits on the patients it randomized (its documented
    draws: default_rng([seed, 2, r]) and the losses of default_rng([seed, 6, r]))."""
    rng = np.random.default_rng(42)
    control, treated = synthetic_pool(300, 12.0, rng), synthetic_pool(300, 7.0, rng)
    member = np.column_stack([rng.random(300) < 0.4, rng.random(300) < 0.6])
    seed, n = 9, 40
    reps = _replicate_task((seed, 0, 4, (n, n), (control, treated), (0.1, 30.0), None, None, None, None,
                            (("baseline_egfr", "age_years"), member)))
    for r, rep in enumerate(reps):
        idx = np.split(np.random.default_rng([seed, 2, r]).permutation(300)[:2 * n], [n])
        times = [(o.recovery(r)[0][i], o.recovery(r)[1][i]) for o, i in zip((control, treated), idx)]
        for j, (lost, when) in enumerate(losses(seed, r, [n, n], 0.1, 30.0)):
            times[j] = censor_at_loss(*times[j], lost, when)
        for g, cov in enumerate(("baseline_egfr", "age_years")):
            expected = subgroup_fits(*times[0], *times[1], member[idx[0], g], member[idx[1], g])
            got = (rep[f"sub_{cov}_hr_first"], rep[f"sub_{cov}_hr_second"], rep[f"sub_{cov}_p_interaction"])
            assert got == pytest.approx(expected, rel=1e-12, nan_ok=True)


def test_subgroups_name_the_field_and_the_cuts_are_the_reports():
    base = {"arms": [{"name": "placebo", "n": 20}, {"name": "placebo_2", "n": 20}]}
    with pytest.raises(TrialError, match="subgroups: 'egfr' is not a baseline covariate.*baseline_egfr"):
        trial_from_dict({**base, "subgroups": ["egfr"]})
    with pytest.raises(TrialError, match="listed twice"):
        trial_from_dict({**base, "subgroups": ["male", "male"]})
    from nephrosim.report.trial_subgroups import SUBGROUP_CUTS as REPORT_CUTS

    assert REPORT_CUTS is SUBGROUP_CUTS  # one set of cuts: the report's pool analysis and the trial's
    member, labels, _ = subgroup_cut("baseline_egfr").split(np.array([45.0, 60.0, 90.0]))
    assert member.tolist() == [True, False, False] and labels == ("eGFR < 60", "eGFR ≥ 60")


def test_a_trial_reports_its_subgroups_over_the_replicates():
    """The whole path on the model (a small design): the summary holds, per covariate, the subgroups'
    pool sizes, their hazard ratio quantiles and the interaction test's power read from the replicates."""
    import yaml

    from nephrosim.trials import run_trial
    from nephrosim.trials.analysis import quantiles

    from .conftest import SMALL

    design = yaml.safe_load(SMALL)
    design["subgroups"] = ["baseline_egfr", "male"]
    result = run_trial(trial_from_dict(design), replicates=8, seed=2)
    sub = result.to_dict()["subgroups"]
    assert set(sub) == {"baseline_egfr", "male"}
    egfr = sub["baseline_egfr"]
    assert egfr["subgroups"] == ["eGFR < 60", "eGFR ≥ 60"]
    assert sum(egfr["pool_patients"].values()) == len(result.pool)
    arm = egfr["by_arm"]["msc"]
    hr = [r["sub_baseline_egfr_hr_first"] for r in result.replicates]
    assert arm["eGFR < 60"] == quantiles(hr)
    p = np.array([r["sub_baseline_egfr_p_interaction"] for r in result.replicates])
    assert arm["interaction_power"] == round(float(np.mean(np.nan_to_num(p, nan=1.0) < 0.05)), 4)
