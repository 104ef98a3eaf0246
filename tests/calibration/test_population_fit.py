"""The population calibration of the human cardiac-surgery model (nephrosim.calibration.population):
the AKI-duration rule on hand-made trajectories, the likelihood against scipy, the refusals, and
what the shipped fit does to the virtual population — fitted shares (in-sample) apart from the
ACT-AKI placebo arm and the onset peak (held out: never in the likelihood)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from nephrosim.biology.parameters import ParameterTable, shipped_target_fits
from nephrosim.calibration.config import CalibrationConfigError
from nephrosim.calibration.population import (STATISTICS, PopulationFitSpec, PopulationProblem,
                                              aki_durations_days, load_population_fit, population_shares,
                                              share_nll)

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "calibration" / "population" / "cardiac_surgery.yaml"


def test_aki_duration_counts_whole_days_above_the_baseline_criterion():
    t = np.arange(0.0, 240.0 + 1e-9, 6.0)
    base = 1.0
    # above min(base + 0.3, 1.5 base) = 1.3 from 24 h to 66 h inclusive, below at 72 h: 48 h -> 2 days
    two = np.where((t >= 24) & (t < 72), 1.6, base)
    # above from 24 h to 150 h, below at 156 h: 132 h -> 6 days
    six = np.where((t >= 24) & (t < 156), 2.2, base)
    # never below again within 240 h
    open_ended = np.where(t >= 24, 3.5, base)
    # a 0.3 rise within 48 h that stays under the baseline criterion only for high baselines: base 2.0,
    # criterion min(2.3, 3.0) = 2.3; SCr 2.3 from 30 h to 42 h (below at 48 h) -> 18 h -> 1 day
    short = np.where((t >= 30) & (t < 48), 2.3, 2.0)
    scr = np.vstack([two, six, open_ended, short, np.full(t.size, base)])
    from nephrosim.trials.population import kdigo

    stage, _ = kdigo(t, scr)
    assert stage.tolist() == [1, 2, 3, 1, 0]
    d = aki_durations_days(t, scr, stage)
    assert d[:4].tolist() == [2.0, 6.0, math.inf, 1.0] and math.isnan(d[4])
    shares, n_all, n_aki = population_shares(t, scr, np.ones(5, dtype=bool))
    assert (n_all, n_aki) == (5, 4)
    assert shares["aki_incidence"] == pytest.approx(0.8)
    assert shares["aki_lasting_1_2_days"] == pytest.approx(0.5)      # 2 d and 1 d
    assert shares["aki_lasting_3_6_days"] == pytest.approx(0.25)     # 6 d
    assert shares["stage1_share_of_aki"] == pytest.approx(0.5)


def test_share_likelihood_is_a_lognormal_with_source_and_simulation_sampling_error():
    brown = STATISTICS["aki_lasting_1_2_days"]
    sim, n_sim, sigma = 0.40, 300, 0.1
    p = brown.value
    se = math.sqrt(sigma ** 2 + (1 - p) / (brown.n * p) + (1 - p) / (n_sim * p))
    expected = -stats.norm(0.0, se).logpdf(math.log(sim / brown.value)) - 0.5 * math.log(2 * math.pi)
    assert share_nll(sim, brown, sigma, n_sim) == pytest.approx(expected, rel=1e-12)
    # the incidence carries the meta-analysis' CI instead of a binomial n
    hu = STATISTICS["aki_incidence"]
    assert hu.se_log == pytest.approx((math.log(25.1) - math.log(19.8)) / 3.92)
    # a share no simulated patient showed is half a patient, not an infinite misfit
    assert math.isfinite(share_nll(0.0, brown, sigma, 200)) and share_nll(0.0, brown, sigma, 200) > 100


@pytest.mark.parametrize("change, words", [
    ({"statistics": ["aki_incidence", "dialysis_share"]}, ["dialysis_share", "statistics", "choose from"]),
    ({"parameters": [{"name": "allometric_exponent", "species": "human"}]}, ["allometric_exponent", "scale: linear"]),
    ({"parameters": [{"name": "no_such_rate"}]}, ["no_such_rate"]),
])
def test_a_bad_spec_names_the_field_before_anything_runs(change, words):
    data = {**load_population_fit(SPEC).model_dump(mode="json"), **change}
    with pytest.raises(CalibrationConfigError) as err:
        PopulationProblem(PopulationFitSpec.model_validate(data))
    for w in words:
        assert w in str(err.value)


def _shipped():
    fits = {f["name"]: f for f in shipped_target_fits()}
    if "cardiac_surgery" not in fits:
        pytest.fail("src/nephrosim/biology/fitted/cardiac_surgery.json is missing: run nephrosim calibrate-population "
                    "calibration/population/cardiac_surgery.yaml --ship and copy it")
    return fits["cardiac_surgery"]


def test_the_shipped_fit_is_the_run_of_its_current_spec_and_replaces_the_hand_tuned_rows():
    fit = _shipped()
    assert fit["kind"] == "population"
    assert load_population_fit(SPEC).digest() == fit["spec_digest"], (
        "src/nephrosim/biology/fitted/cardiac_surgery.json is stale: re-run nephrosim calibrate-population "
        "calibration/population/cardiac_surgery.yaml --ship and copy it")
    table, cited = ParameterTable.default(), ParameterTable.default(calibrated=False, target_fits=False)
    for label, est in fit["parameters"].items():
        name, _, species = label.partition("[")
        rec = table.record(name, species.rstrip("]") or "human")
        assert rec.value == est["point"] and "hand-tuned, not formally fitted" not in rec.reason and not rec.problems()
        assert rec.provenance == ("fitted" if est["identifiable"] else "assumed")
        assert cited.record(name, species.rstrip("]") or "human").value == pytest.approx(est["hand_tuned_value"])
    # the mouse and rat time scales are the quarter power still: the fit is of human rows only
    assert table.record("allometric_exponent", "rat").value == 0.25
    assert table.record("repair_allometric_exponent", "mouse").value == 0.25


@pytest.fixture(scope="module")
def shipped_population():
    """The plausible population at the shipped point (the fit's own patients) and the held-out checks."""
    from nephrosim.calibration.population import held_out_checks

    fit = _shipped()
    problem = PopulationProblem(load_population_fit(SPEC))
    point = np.array([v["point"] if problem.linear[k] else math.log10(v["point"])
                      for k, v in enumerate(fit["parameters"][lab] for lab in problem.labels)])
    return fit, problem, point, held_out_checks(problem, point)


def test_in_sample_the_shipped_point_reproduces_its_saved_fit(shipped_population):
    """In-sample: the shares at the shipped point are those the fit saved (a regression check of the
    fit's own numbers, not a validation)."""
    fit, problem, point, _ = shipped_population
    now = problem.report(point)
    for name in fit["spec"]["statistics"]:
        assert now[name]["simulated"] == pytest.approx(fit["statistics_point"][name]["simulated"], abs=1e-9)


def test_held_out_act_aki_placebo_recovery_lies_in_the_trials_iqr(shipped_population):
    """Held out: ACT-AKI placebo, median time to recovery 12 days (IQR 6-21), Swaminathan 2018, under the
    trial's own rule (first SCr <= the pre-operative value) read on measured SCr (daily samples, sourced
    within-subject and assay CVs). Never fitted; but the measurement model was added after the noise-free
    proxy (SCr <= baseline + max(0.3 mg/dL, 25 %)) had missed (3.5 days), so this is a check of a
    rule chosen after seeing the data's definition, not a blind prediction (docs/trials.md §3)."""
    checks = shipped_population[3]
    check = checks["act_aki_placebo_median_recovery_days"]
    assert 6.0 <= check["simulated"] <= 21.0, check
    # the proxy is a different endpoint: model AKI falls back under +0.3 mg/dL within days (Brown 2010's
    # mostly short AKI, fitted), and SCr then approaches baseline slowly — measured noise decides when
    assert checks["act_aki_placebo_median_recovery_days_kdigo_margin"]["simulated"] < check["simulated"]


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "known miss: AKIN AKI by POD 3 in plausible patients with eGFR > 40 is 14 % at the shipped fit, against 49.25 % "
    "(95 % CI 41-58 %) in PMC7034201 (held-out split). The fit matches Hu 2016's pooled 22.3 %; this young cohort "
    "(mean age 38, surgery type not given) had twice that, which a population drawn for all-comer CABG does not reach"))
def test_held_out_pmc7034201_akin_incidence_by_pod3(shipped_population):
    """Held out (validation/held_out.yaml): PMC7034201, "About 49.25% of patients suffered from CSA-AKI by the
    3rd postoperative day" (n = 134, eGFR > 40, AKIN)."""
    check = shipped_population[3]["akin_incidence_by_pod3_egfr_over_40"]
    assert check["reported_ci95"][0] <= check["simulated"] <= check["reported_ci95"][1], check


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "held-out known miss: 1-2 % of virtual patients with AKI after cardiac surgery and eGFR >= 60 have eGFR < 60 at "
    "day 90 (median day-90 eGFR 0.99 of baseline), against 19.1 % (95 % CI 16.0-22.6 %) in Fan 2023: the model's "
    "mild and moderate AKI heals without nephron loss (as after a 20-min rat clamp, "
    "rat_iri_proteinuria_by_clamp_9mo), so its AKI-to-CKD transition is far too rare"))
def test_held_out_fan_2023_ckd_90_days_after_cardiac_surgery_aki():
    """Held out (validation/held_out.yaml, FuwaiCS_AKI_to_CKD_2023): 108 of 564 patients with AKI after cardiac
    surgery and no prior CKD had CKD at the 90-day follow-up. The virtual population is simulated to day 90; nothing
    in it was fitted past day 7 of AKI duration."""
    from nephrosim.calibration.population import ckd_at_90_days_check
    from nephrosim.engine.simulator import SolverOptions

    check = ckd_at_90_days_check(4000, seed=0, solver=SolverOptions(engine="batch"))
    assert check["patients"] >= 100  # enough patients in the cohort for the share to mean something
    assert check["reported_ci95"][0] <= check["simulated"] <= check["reported_ci95"][1], check


def test_cli_refuses_a_bad_spec_on_one_line_naming_the_field(tmp_path):
    from typer.testing import CliRunner

    from nephrosim.cli import app

    bad = tmp_path / "bad.yaml"
    text = SPEC.read_text()
    assert text.count(" aki_lasting_3_6_days,") == 1  # the spec must really change, or the CLI runs a whole fit
    bad.write_text(text.replace(" aki_lasting_3_6_days,", " aki_lasting_3_6_weeks,"))
    r = CliRunner().invoke(app, ["calibrate-population", str(bad), "--out", str(tmp_path / "out")])
    assert r.exit_code == 2, r.output
    assert "aki_lasting_3_6_weeks" in r.output and "statistics" in r.output
    assert not (tmp_path / "out" / "result.json").exists()


@pytest.mark.xfail(strict=True, reason=(
    "held-out known miss since the joint fit of the injury core and the population refit on it: dialysis 18.4 % "
    "against 7.4 % (95 % CI 2.4-16.3 %); the population reaches peak stage 3 more often in the trial's severe "
    "third (on the hand-tuned core and its population fit: 14.2 %, inside the interval)"))
def test_held_out_act_aki_placebo_dialysis_lies_in_the_trials_interval(shipped_population):
    """Held out: ACT-AKI placebo dialysis by 30 days, 7.4 % (5/68; 95 % CI 2.4-16.3 %), Swaminathan 2018.
    The model's dialysis is the derived share of peak KDIGO stage 3 (Hu 2016's 2.3 % RRT of 2.7 % stage 3,
    all-comers), applied to the trial's entry rule: nothing in it was set from ACT-AKI."""
    check = shipped_population[3]["act_aki_placebo_dialysis"]
    assert check["reported_ci95"][0] <= check["simulated"] <= check["reported_ci95"][1], check


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "held-out known miss: of the accepted virtual patients with peak KDIGO stage 2-3 (32 of 498), 94 % reverse "
    "within 7 days of the AKI onset, 6 % later and none never, against 63.8 / 9.7 / 26.5 % in Kellum 2017 "
    "(general ICU, not cardiac surgery; its no-reversal group includes deaths); no relapse against 37.3 %: the "
    "model has one insult, so nothing injures the kidney again after it reverses"))
def test_held_out_kellum_2017_recovery_phenotypes_of_severe_aki(shipped_population):
    """Held out: Kellum 2017's phenotypes of KDIGO stage 2-3 AKI (calibration.population.KELLUM_2017), each share
    within a factor 2 on the accepted virtual patients with peak stage 2-3."""
    check = shipped_population[3]["recovery_phenotypes_kellum_2017"]
    assert check["patients"] >= 20, check  # enough severe AKI to read shares from
    shares = check["simulated"]
    three = ("no reversal", "late reversal (after day 7)", "early reversal (within 7 days)")
    assert sum(shares[k] for k in three) == pytest.approx(1.0)
    assert check["met"], check
