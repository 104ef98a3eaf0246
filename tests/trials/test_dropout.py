"""Loss to follow-up in virtual trials (issue 16: "no dropout").

A lost patient's time to recovery is censored when they are lost, unless they recovered first;
the other endpoints are analysed on the patients not lost. Checked against lifelines run by hand
on the same patients (the loss draws come from their documented stream, ``default_rng([seed, 6,
r])``), against binomial limits for the share lost, and against a design without dropout, whose
draws must not move.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from lifelines.statistics import logrank_test
from scipy.stats import binom

from nephrosim.trials import TrialError, trial_from_dict
from nephrosim.trials.run import _replicate_task

from .conftest import synthetic_pool

HORIZON = 30.0


@pytest.fixture(scope="module")
def pools():
    rng = np.random.default_rng(21)
    return synthetic_pool(200, 12.0, rng), synthetic_pool(200, 7.0, rng)


def test_no_dropout_draws_exactly_as_before(pools):
    control, treated = pools
    plain = _replicate_task((3, 0, 10, (40, 40), (control, treated)))
    zero = _replicate_task((3, 0, 10, (40, 40), (control, treated), (0.0, HORIZON)))
    assert plain == zero and "lost_control" not in plain[0]


def test_lost_patients_are_censored_when_lost_and_left_out_of_the_other_endpoints(pools):
    control, treated = pools
    seed, share = 3, 0.3
    reps = _replicate_task((seed, 0, 12, (40, 40), (control, treated), (share, HORIZON)))
    for r, rep in enumerate(reps):
        # the replicate's patients, as _replicate_task draws them
        rng = np.random.default_rng([seed, 2, r])
        ic, it = np.split(rng.permutation(control.size)[:80], [40])
        drop = np.random.default_rng([seed, 6, r])
        data = []
        for o, i in ((control, ic), (treated, it)):
            lost = drop.random(i.size) < share
            when = drop.random(i.size) * HORIZON
            days, event = o.recovery_days[i], o.recovered[i]
            censored = lost & (when < days)
            data.append((np.where(censored, when, days), event & ~censored, ~lost, o.scr_auc[i]))
        (tc, ec, kc, auc_c), (tt, et, kt, auc_t) = data
        expected = logrank_test(tc, tt, event_observed_A=ec, event_observed_B=et).p_value
        assert rep["p_logrank"] == pytest.approx(expected, rel=1e-12)
        assert rep["lost_control"] == pytest.approx(1 - kc.mean()) and rep["lost_treatment"] == pytest.approx(1 - kt.mean())
        assert rep["auc_control"] == pytest.approx(auc_c[kc].mean()) and rep["auc_treatment"] == pytest.approx(auc_t[kt].mean())
    lost = np.array([[rep["lost_control"], rep["lost_treatment"]] for rep in reps]) * 40
    lo, hi = binom.ppf([0.0005, 0.9995], lost.size * 40, share)
    assert lo <= lost.sum() <= hi


def test_dropout_costs_power_for_an_effective_treatment(pools):
    control, treated = pools
    power = {}
    for share in (0.0, 0.4):
        reps = _replicate_task((5, 0, 150, (40, 40), (control, treated), (share, HORIZON)))
        power[share] = np.mean([rep["p_logrank"] < 0.05 for rep in reps])
    assert power[0.4] < power[0.0]


def test_a_dropout_above_one_half_is_refused_with_the_field():
    arms = [{"name": "placebo", "n": 20}, {"name": "msc", "n": 20, "treatment": {"product": "msc", "dose": 2e6,
                                                                               "dose_unit": "cells/kg"}}]
    with pytest.raises(TrialError, match="endpoints.dropout.probability"):
        trial_from_dict({"arms": arms, "endpoints": {"dropout": {"probability": 0.8}}}, "t.yaml")
    assert trial_from_dict({"arms": arms, "endpoints": {"dropout": {"probability": 0.1}}}).endpoints.dropout.probability == 0.1


def test_the_design_search_carries_the_base_designs_dropout_into_every_candidate():
    """The search used to refuse a base with dropout; since session 14 every candidate keeps it (and
    tests/trials/test_search.py::test_dropout_loses_the_patients_a_trial_loses checks the losses)."""
    from nephrosim.trials.search import DesignSearch, candidates

    arms = [{"name": "placebo", "n": 20}, {"name": "msc", "n": 20, "treatment": {"product": "msc", "dose": 2e6,
                                                                               "dose_unit": "cells/kg"}}]
    base = trial_from_dict({"arms": arms, "endpoints": {"dropout": {"probability": 0.1}}})
    spec = DesignSearch.model_validate({"base": "base.yaml", "candidates": {"n_per_arm": [20, 30]}})
    designs = [c.design for c in candidates(spec, base) if c.design is not None]
    assert designs and all(d.endpoints.dropout.probability == 0.1 for d in designs)


def test_an_arm_lost_entirely_gives_nan_statistics_not_a_crash_or_a_warning(pools):
    import warnings

    control, treated = pools
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reps = _replicate_task((1, 0, 40, (2, 2), (control, treated), (0.5, HORIZON)))
    emptied = [rep for rep in reps if rep["lost_control"] == 1.0]
    assert emptied, "with 2 patients per arm and half lost, some replicate loses a whole arm"
    for rep in emptied:
        assert math.isnan(rep["death_control"]) and math.isnan(rep["p_auc"]) and math.isnan(rep["p_make"])


def test_the_command_and_its_report_give_the_lost_shares_of_the_json(app, tmp_path):
    import json

    import yaml
    from typer.testing import CliRunner

    from .conftest import SMALL

    design = yaml.safe_load(SMALL)
    design.update(virtual_patients=300, endpoints={"dropout": {"probability": 0.25}})
    for arm in design["arms"]:
        arm["n"] = 8
    path = tmp_path / "dropout.yaml"
    path.write_text(yaml.safe_dump(design))
    args = ["trial", str(path), "-n", "6", "--seed", "2", "--no-progress"]
    out = json.loads(CliRunner().invoke(app, [*args, "--json"]).output)
    lost = out["lost_to_follow_up"]
    assert set(lost) == {"placebo", "msc"} and all(0 < v < 1 for v in lost.values())
    res = CliRunner().invoke(app, [*args, "--report", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    shares = "; ".join(f"{arm} {v:.3f}" for arm, v in lost.items())
    assert f"lost to follow-up (censored for recovery, left out of the other endpoints): {shares}" in res.output
    assert f"not lost): {shares}." in (tmp_path / "r.html").read_text(encoding="utf-8")
