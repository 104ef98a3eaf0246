"""A 90-day follow-up and MAKE90 in virtual trials (issue 16: the composite that phase-3 AKI
trials after cardiac surgery report at 90 days, e.g. RenalRIP).

Checked against things outside the code under test: the curated evidence rows the 90-day
mortality table cites (value and quoted sentence), hand-built SCr courses whose KDIGO stage and
day-30 / day-90 SCr are known, the composite rule done by hand, and the 30-day simulation of the
same virtual patients (a longer follow-up must not change what happens in the first 32 days).
"""

from __future__ import annotations

import csv
from importlib.resources import files

import numpy as np
import pytest

from nephrosim.trials.design import Endpoints, Inclusion, TrialError, follow_up_grid, trial_from_dict
from nephrosim.trials.endpoints import DEATH_BY_STAGE, DEATH_BY_STAGE_90D, RRT_GIVEN_STAGE3, outcomes
from nephrosim.trials.population import TIMES_H, output_times_h
from nephrosim.trials.run import run_trial

from .conftest import SMALL


def _evidence_rows() -> list[dict]:
    with files("nephrosim.evidence.data").joinpath("clinical_trials.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_90_day_mortality_by_stage_is_the_curated_evidence():
    rows = _evidence_rows()

    def row(prefix, endpoint_start):
        [r] = [r for r in rows if r["trial"].startswith(prefix) and r["endpoint"].startswith(endpoint_start)]
        return r

    for stage, cls in ((1, "RIFLE-R"), (2, "RIFLE-I"), (3, "RIFLE-F")):
        r = row("EPI: Helsinki RIFLE cohort", f"90-day mortality: {cls}")
        assert "16427848" in r["trial"] + r["pmid_or_doi"]
        assert float(r["value"]) / 100 == pytest.approx(DEATH_BY_STAGE_90D[stage])
        assert f"{float(r['value']):.1f}%" in r["quote"]
    r = row("EPI: Pickering 2015", "early mortality (in-hospital or <=90 d): no AKI")
    assert float(r["value"]) / 100 == pytest.approx(DEATH_BY_STAGE_90D[0])
    assert "without CPB-AKI, 1.5%" in r["quote"]
    # the 90-day risk rises with the stage, as the source's does
    assert np.all(np.diff(DEATH_BY_STAGE_90D) > 0)


def test_the_output_grid_covers_the_latest_entry_plus_the_follow_up():
    default = Endpoints()
    np.testing.assert_array_equal(follow_up_grid(Inclusion(), default), TIMES_H)  # 30-day designs as before
    assert follow_up_grid(Inclusion(), Endpoints(horizon_days=90))[-1] == 48.0 + 90 * 24.0
    # a diagnosis up to 120 h after bypass needs 120 h + 30 days: the default 768 h would cut follow-up short
    assert follow_up_grid(Inclusion(within_h=120.0), default)[-1] == 120.0 + 720.0
    assert follow_up_grid(Inclusion(kind="all"), Endpoints(horizon_days=10))[-1] == TIMES_H[-1]
    np.testing.assert_allclose(np.diff(output_times_h(100.0)), 6.0)
    assert output_times_h(100.0)[-1] == 102.0  # rounded up onto the 6-h grid


def _course(times, points):
    """SCr by linear interpolation through (hour, value) points."""
    t, v = zip(*points)
    return np.interp(times, t, v)


def test_make90_reads_day_90_and_the_90_day_mortality():
    times = output_times_h(48.0 + 90 * 24.0)
    day = 24.0
    courses = np.vstack([
        # stage 3 (peak 3.5 x at 48 h), still 2.2 x at day 30 after entry, 1.1 x at day 90
        _course(times, [(0, 1.0), (48, 3.5), (48 + 30 * day, 2.2), (48 + 90 * day, 1.1)]),
        # stage 2 (peak 2.4 x), 1.2 x at day 30, then worse: 2.1 x at day 90 (progression)
        _course(times, [(0, 1.0), (48, 2.4), (48 + 30 * day, 1.2), (48 + 90 * day, 2.1)]),
        # no AKI
        _course(times, [(0, 1.0), (48, 1.1), (48 + 90 * day, 1.0)]),
    ])
    n = courses.shape[0]
    o = outcomes(times, courses, np.ones_like(courses), np.full(n, 48.0), courses[:, 0], Endpoints(horizon_days=90))
    np.testing.assert_array_equal(o.persistent_dysfunction, [True, False, False])  # day 30
    np.testing.assert_array_equal(o.persistent_dysfunction_90d, [0.0, 1.0, 0.0])  # day 90
    stages = np.array([3, 2, 0])
    np.testing.assert_allclose(o.death_by_stage, DEATH_BY_STAGE[stages])
    np.testing.assert_allclose(o.death_by_stage_90d, DEATH_BY_STAGE_90D[stages])
    d90, rrt = DEATH_BY_STAGE_90D[stages], np.array([RRT_GIVEN_STAGE3, 0.0, 0.0])
    np.testing.assert_allclose(o.make90, [1 - (1 - d90[0]) * (1 - rrt[0]), 1.0, d90[2]])
    assert o.has_make90
    # a 30-day follow-up of the same patients has no MAKE90, and its MAKE30 is unchanged
    short = outcomes(times, courses, np.ones_like(courses), np.full(n, 48.0), courses[:, 0], Endpoints())
    assert not short.has_make90 and np.isnan(short.make90).all()
    np.testing.assert_allclose(short.make30, o.make30)


def test_primary_make90_needs_a_90_day_horizon():
    import yaml

    data = yaml.safe_load(SMALL)
    data["endpoints"] = {"primary": "make90"}
    with pytest.raises(TrialError, match="horizon_days: 90"):
        trial_from_dict(data)
    data["endpoints"]["horizon_days"] = 90
    assert trial_from_dict(data).output_times_h[-1] == 48.0 + 90 * 24.0


def test_a_90_day_trial_keeps_the_first_32_days_and_reports_make90():
    import yaml

    data = yaml.safe_load(SMALL)
    data["solver"] = {"engine": "batch"}
    short = run_trial(trial_from_dict(data), replicates=40, seed=4)
    data["endpoints"] = {"primary": "make90", "horizon_days": 90}
    long = run_trial(trial_from_dict(data), replicates=40, seed=4)
    # the same accepted patients (acceptance reads 7 days) and the same eligible pool ...
    np.testing.assert_array_equal(long.pool, short.pool)
    # ... whose first 32 days are the 30-day run's, to the solver's tolerance
    k = TIMES_H.size
    np.testing.assert_allclose(long.population.scr[:, :k], short.population.scr, rtol=1e-5)
    assert long.population.scr.shape[1] == output_times_h(48.0 + 90 * 24.0).size
    s, lg = short.to_dict(), long.to_dict()
    assert "make90" not in s and set(lg["make90"]) == {"placebo", "msc"}
    assert lg["primary_endpoint"].startswith("MAKE90")
    assert lg["power"] == lg["make90_power"]
    # MAKE30's persistence is read at day 30 in both runs: the same per-arm risk
    for arm in ("placebo", "msc"):
        np.testing.assert_allclose(long.arm_outcomes[arm].make30, short.arm_outcomes[arm].make30)
    # every patient's MAKE90 risk is at least the risk of its own 90-day death and dialysis
    o = long.arm_outcomes["placebo"]
    assert np.all(o.make90 >= 1 - (1 - o.death_by_stage_90d) * (1 - o.dialysis) - 1e-12)
