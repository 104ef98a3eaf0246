"""trial-design: power against analytic results, zero effect at alpha, bad specs, resume, serial = Dask."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import norm
from typer.testing import CliRunner

from nephrosim.errors import UserInputError
from nephrosim.trials.design import Interim
from nephrosim.trials.endpoints import PatientOutcomes
from nephrosim.trials.search import SearchError, _logrank_p, design_power, load_search, multi_arm_power, \
    pareto_front, run_search, sample_sizes, search_from_dict

HORIZON = 30.0


def _exponential_pool(n, median_days, rng, horizon=HORIZON):
    t = rng.exponential(median_days / math.log(2), n)
    return PatientOutcomes(np.minimum(t, horizon), t < horizon, np.zeros(n), t.copy(), np.zeros(n), np.zeros(n),
                           np.zeros(n, bool), np.full(n, np.nan), np.full(n, np.nan))


def test_logrank_equals_lifelines_with_ties_and_censoring():
    """statsmodels' survdiff (used by the search) gives lifelines' log-rank p (used by `trial`)."""
    from lifelines.statistics import logrank_test

    rng = np.random.default_rng(1)
    for _ in range(5):
        a = np.minimum(np.round(rng.exponential(12, 60) * 4) / 4, HORIZON)
        b = np.minimum(np.round(rng.exponential(9, 55) * 4) / 4, HORIZON)
        ea, eb = a < HORIZON, b < HORIZON
        ref = logrank_test(a, b, event_observed_A=ea, event_observed_B=eb).p_value
        assert _logrank_p(a, ea, b, eb) == pytest.approx(ref, rel=1e-9)


def test_power_matches_schoenfeld_and_a_large_effect_gives_power_one():
    """Exponential recovery, no censoring: power of the log-rank test vs Schoenfeld (1981).

    Schoenfeld: power = Φ(√(d/4)·|ln HR| − z_{1−α/2}) with d events, 1:1 allocation.
    """
    rng = np.random.default_rng(2)
    control = _exponential_pool(40_000, 10.0, rng, horizon=1e9)
    moderate = _exponential_pool(40_000, 10.0 / 1.5, rng, horizon=1e9)   # HR 1.5 (faster recovery)
    large = _exponential_pool(40_000, 10.0 / 4.0, rng, horizon=1e9)      # HR 4
    n = 100
    expected = norm.cdf(math.sqrt(2 * n / 4) * math.log(1.5) - norm.ppf(0.975))  # 0.82
    res = design_power(control, [moderate], n, "recovery", 600, seed=3, alpha=0.05, minimal_effect=0.1)
    mc = 3 * math.sqrt(expected * (1 - expected) / 600)
    assert abs(res["power"] - expected) < mc + 0.03, (res["power"], expected)
    assert res["power_lo"] <= res["power"] <= res["power_hi"]
    assert res["true_effect_median"] == pytest.approx(1 - 1 / 1.5, abs=0.02)  # mean time falls by a third
    big = design_power(control, [large], 30, "recovery", 300, seed=3, alpha=0.05, minimal_effect=0.1)
    assert big["power"] >= 0.99 and big["p_success"] >= 0.99 and big["p_correct"] >= 0.99


@pytest.mark.parametrize("endpoint", ["recovery", "scr_auc"])
def test_zero_effect_rejects_at_alpha(endpoint):
    """Both arms carry each patient's same outcome: the rejection share is alpha within MC error."""
    rng = np.random.default_rng(4)
    pool = _exponential_pool(5000, 12.0, rng)
    reps = 1000
    res = design_power(pool, [pool], 40, endpoint, reps, seed=5, alpha=0.05, minimal_effect=0.1)
    se = math.sqrt(0.05 * 0.95 / reps)
    assert abs(res["power"] - 0.05) < 3.5 * se, res
    assert res["power_lo"] < 0.05 < res["power_hi"]
    assert res["p_correct"] == pytest.approx(1 - res["p_success"])  # no true effect: claiming one is wrong


def test_pareto_front():
    power = np.array([0.9, 0.8, 0.5, 0.9, 0.3])
    n = np.array([400, 200, 100, 500, 200])
    assert pareto_front(power, n).tolist() == [True, True, True, False, False]


BASE = {"name": "small", "virtual_patients": 800,
        "inclusion": {"kind": "scr_rise", "rise_mg_dl": 0.3, "within_h": 48},
        "arms": [{"name": "placebo", "n": 20},
                 {"name": "msc", "n": 20,
                  "treatment": {"product": "msc", "dose": 2.0e6, "dose_unit": "cells/kg",
                                "route": "intra_arterial_aorta"},
                  "timing": {"relative_to": "surgery", "delay_h": 48}}]}


@pytest.mark.parametrize("data, words", [
    ({"base": BASE, "colour": 1}, ["colour", "Extra inputs"]),
    ({}, ["base"]),
    ({"base": BASE, "candidates": {"n_per_arm": [1]}}, ["candidates.n_per_arm.0"]),
    ({"base": BASE, "candidates": {"endpoint": ["death"]}}, ["candidates.endpoint.0", "recovery", "scr_auc"]),
    ({"base": BASE, "candidates": {"treatment": [{"product": "msc", "dose": 1e6, "route": "nose"}]}},
     ["candidates.treatment.0", "route"]),
    ({"base": BASE, "replicates": 5}, ["replicates"]),
    ({"base": BASE, "candidates": {"multi_arm": [[0]]}}, ["candidates.multi_arm", "two or more"]),
    ({"base": BASE, "candidates": {"treatment": [None, None], "multi_arm": [[1, 1]]}},
     ["candidates.multi_arm", "twice"]),
    ({"base": BASE, "candidates": {"treatment": [None, None], "multi_arm": [[0, 2]]}},
     ["candidates.multi_arm.0: position 2", "lists 2"]),
    ({"base": BASE, "candidates": {"multi_arm": [[-1, 0]]}}, ["candidates.multi_arm.0.0"]),
    ({"base": BASE, "uncertainty": {"parameters": [], "draws": 2}}, ["uncertainty.parameters"]),
    ({"base": BASE, "candidates": {"n_per_arm": list(range(2, 22)), "endpoint": ["recovery", "scr_auc"],
                                   "timing": [{"delay_h": d} for d in range(20)],
                                   "treatment": [None] * 10}}, ["designs", "shorten"]),
])
def test_bad_specs_name_the_field(data, words):
    with pytest.raises(SearchError) as err:
        search_from_dict(data, "s.yaml")
    for w in words:
        assert w in str(err.value)


@pytest.mark.parametrize("parameter, words", [
    ("paracrine_ec50_cell_h_per_kgg", ["uncertainty.parameters", "not in the parameter table"]),
    ("k_tub_recovery", ["untreated", "therapy parameters"]),
])
def test_bad_uncertain_parameters_are_refused_before_simulating(tmp_path, parameter, words):
    spec = search_from_dict({"base": BASE, "uncertainty": {"parameters": [parameter], "draws": 2}})
    base = load_search_from(tmp_path, {"base": BASE})[1]
    with pytest.raises(UserInputError) as err:
        run_search(spec, base, tmp_path / "t.csv")
    for w in words:
        assert w in str(err.value)
    assert not (tmp_path / "t.csv.parts").exists()


def load_search_from(tmp_path, data):
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(data))
    return load_search(p)


def test_cli_bad_spec_one_line(app, tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump({"base": BASE, "candidates": {"endpoint": ["death"]}}))
    res = CliRunner().invoke(app, ["trial-design", str(p), "-o", str(tmp_path / "t.csv")])
    assert res.exit_code == 2
    err = res.stderr if hasattr(res, "stderr") else res.output
    assert err.startswith("error: ") and err.count("\n") == 1 and "candidates.endpoint" in err


#: A small search: zero-effect control and one MSC timing, 2 uncertainty draws.
SEARCH = {"name": "small search", "base": BASE,
          "candidates": {"treatment": [None, BASE["arms"][1]["treatment"]], "n_per_arm": [8, 15],
                         "endpoint": ["recovery", "scr_auc"]},
          "uncertainty": {"parameters": ["paracrine_ec50_cell_h_per_kg"], "draws": 2},
          "replicates": 100, "pool_limit": 30}
SEARCH["candidates"]["multi_arm"] = [[0, 1]]  # placebo (zero effect) and MSC as two treated arms


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    """The small search, interrupted after one simulated condition, then resumed by the command."""
    import typer

    from nephrosim.commands.trials import register

    tmp = tmp_path_factory.mktemp("search")
    spec, base = load_search_from(tmp, SEARCH)
    out = tmp / "designs.csv"
    assert run_search(spec, base, out, seed=7, max_conditions=1) is None
    parts = sorted(p.name for p in (tmp / "designs.csv.parts").iterdir())
    assert sum(n.startswith("condition-") for n in parts) == 1 and not out.exists()
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    res = CliRunner().invoke(app, ["trial-design", str(tmp / "s.yaml"), "-o", str(out), "--seed", "7", "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout), out


def test_resume_computes_only_the_rest_and_the_zero_effect_design_is_null(resumed):
    summary, out = resumed
    assert summary["computed_this_run"]["conditions"] == 1  # the other draw was kept from the interrupted run
    # one sample-size answer per design (inclusion, timing, treatment, endpoint), within the candidate sizes
    assert len(summary["sample_size"]) == 6 and summary["target_success"] == 0.8
    assert all(8 <= e["n_per_arm"] <= 15 if e["reached"] else e["at_n_per_arm"] in (8, 15)
               for e in summary["sample_size"])
    assert summary["uncertain_parameters"][0]["provenance"] in ("source", "derived", "fitted", "assumed")
    assert len(summary["table"]) == 12
    assert out.exists() and not out.with_name("designs.csv.parts").exists()
    table = pd.read_csv(out)
    runnable = table["skipped"].isna() | (table["skipped"] == "")
    assert len(table) == 12 and runnable.sum() == 10
    # a three-arm trial of 15 per arm needs 45 of the 30 eligible patients: skipped, saying so
    assert (table.loc[~runnable, "total_n"] == 45).all() and table.loc[~runnable, "skipped"].str.contains("30").all()
    multi = table[runnable & (table["treated_arms"] == 2)]
    assert len(multi) == 2 and (multi["total_n"] == 24).all() and (multi["multiplicity"] == "holm").all()
    for _, r in multi.iterrows():
        assert r["treatment"].startswith("placebo (zero effect) + msc")
        assert r["power_all"] <= r["p_success"] <= r["power"]
        assert json.loads(r["true_effect_by_arm"])[0] == 0  # the placebo arm
    table = table[table["treated_arms"] == 1]
    placebo = table[table["treatment"].str.startswith("placebo")]
    assert (placebo["true_effect_median"] == 0).all()
    for _, r in placebo.iterrows():  # 100 replicates each: alpha within a generous MC interval
        assert r["power"] <= 0.15 and r["power_lo"] <= 0.05
    msc = table[table["treatment"].str.startswith("msc")]
    # aortic MSC lower the SCr AUC at every draw of the potency; their effect on the recovery time is near 0
    # (±0.007 at the two draws: the arterial route's fitted microembolic harm against a weak paracrine effect)
    assert (msc.loc[msc["endpoint"] == "scr_auc", "true_effect_min"] > 0).all()
    ranked = table["p_success"].to_numpy()
    assert (np.diff(ranked) <= 0).all()


def test_dask_scheduler_gives_the_serial_result(resumed, tmp_path):
    """A scheduler and two workers on 127.0.0.1 started here: the same seed gives the same design
    table (simulations and uncertainty draws on the workers) and the same replicate trials."""
    from distributed import Client, LocalCluster

    from nephrosim.trials.execute import DaskExecutor, SerialExecutor, collect
    from nephrosim.trials.run import _replicate_task

    _, out = resumed
    spec, base = load_search_from(tmp_path, SEARCH)
    rng = np.random.default_rng(8)
    control, treated = _exponential_pool(60, 12.0, rng), _exponential_pool(60, 8.0, rng)
    tasks = [(7, 0, 6, (10, 10), (control, treated)), (7, 6, 12, (10, 10), (control, treated))]
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                      processes=True) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        with pytest.warns(UserWarning, match="unauthenticated"):
            dask_res = run_search(spec, base, tmp_path / "dask.csv", seed=7, scheduler=address)
        with Client(address) as client:
            assert len(client.nthreads()) == 2
            dask_reps = collect(DaskExecutor(client), _replicate_task, tasks)
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(tmp_path / "dask.csv"))
    assert dask_res.computed["conditions"] == 2
    serial_reps = collect(SerialExecutor(), _replicate_task, tasks)
    assert json.dumps(serial_reps) == json.dumps(dask_reps)
    assert len(serial_reps[1]) == 6 and serial_reps[0][0] != serial_reps[1][0]


def test_the_interval_covers_the_spread_between_model_draws():
    """Two draws of the therapy's uncertain parameters, one with no effect and one with a large effect:
    the power over both is about one half, and its interval must say that two draws cannot pin it down
    (the replicates alone would give ±0.03)."""
    rng = np.random.default_rng(6)
    control = _exponential_pool(5000, 10.0, rng)
    large = _exponential_pool(5000, 2.5, rng)
    res = design_power(control, [control, large], 40, "recovery", 300, seed=3, alpha=0.05, minimal_effect=0.1)
    assert 0.4 < res["power"] < 0.6
    assert res["power_lo"] < 0.1 and res["power_hi"] > 0.9
    one = design_power(control, [large], 40, "recovery", 300, seed=3, alpha=0.05, minimal_effect=0.1)
    assert one["power_hi"] - one["power_lo"] < 0.06  # one draw: replicate noise only (Clopper-Pearson)


@pytest.mark.parametrize("endpoint, column", [("recovery", "p_logrank"), ("scr_auc", "p_auc"), ("make30", "p_make")])
def test_dropout_loses_the_patients_a_trial_loses(endpoint, column):
    """With loss to follow-up the search's replicate r censors (recovery) or leaves out (SCr AUC) the
    same patients as `nephrosim trial`'s replicate r: one draw's power equals the trial's share of
    replicates with p < alpha, replicate by replicate (statsmodels' and lifelines' log-rank agree to 1e-9).
    MAKE30: the search also draws the trial's own MAKE events (its replicate stream), so Fisher's test
    sees the same events."""
    from nephrosim.trials.run import _replicate_task

    from .conftest import synthetic_pool

    rng = np.random.default_rng(8)
    control, treated = synthetic_pool(400, 12.0, rng), synthetic_pool(400, 7.0, rng)
    n, reps, seed = 40, 120, 11
    trial = _replicate_task((seed, 0, reps, (n, n), (control, treated), (0.3, HORIZON)))
    expected = np.mean([r[column] < 0.05 for r in trial])
    res = design_power(control, [treated], n, endpoint, reps, seed=seed, alpha=0.05, minimal_effect=0.1,
                       dropout=(0.3, HORIZON))
    assert res["power"] == round(float(expected), 4)
    plain = design_power(control, [treated], n, endpoint, reps, seed=seed, alpha=0.05, minimal_effect=0.1)
    assert design_power(control, [treated], n, endpoint, reps, seed=seed, alpha=0.05, minimal_effect=0.1,
                        dropout=(0.0, HORIZON)) == plain  # no dropout: the draws of earlier versions
    if endpoint == "recovery":
        assert res["power"] < plain["power"]  # losing 30 % of the patients costs power


@pytest.mark.parametrize("endpoint, column", [("recovery", "p_logrank"), ("scr_auc", "p_auc")])
def test_interim_looks_in_the_search_are_the_trials_group_sequential_reading(endpoint, column):
    """A design with a look at half the patients (and dropout): the search's power and expected n equal
    `nephrosim trial`'s group-sequential summary of the same replicates (nephrosim.trials.sequential)."""
    from nephrosim.trials.run import _replicate_task
    from nephrosim.trials.sequential import sequential_summary

    from .conftest import synthetic_pool

    rng = np.random.default_rng(9)
    control, treated = synthetic_pool(400, 12.0, rng), synthetic_pool(400, 5.0, rng)
    n, reps, seed, looks = 40, 120, 12, (0.5,)
    trial = _replicate_task((seed, 0, reps, (n, n), (control, treated), (0.2, HORIZON), (endpoint, looks)))
    p = np.array([[r["p_interim_1"], r[column]] for r in trial])
    gs = sequential_summary(p, (*looks, 1.0), (n, n), 0.05, "obrien_fleming")
    res = design_power(control, [treated], n, endpoint, reps, seed=seed, alpha=0.05, minimal_effect=0.1,
                       dropout=(0.2, HORIZON), interim=Interim(information=looks))
    assert res["power"] == gs["power"] and res["early_stop_share"] == gs["early_stop_share"]
    assert res["expected_n_per_arm"] == gs["expected_n_per_arm"][0]
    if endpoint == "recovery":  # (the synthetic pools' SCr AUCs carry no effect)
        assert gs["early_stop_share"] > 0.05  # the look matters here: some trials stop at half the patients
    # with a non-binding futility rule at signed z < 0.5: the same replicates, the same reading
    favours = np.array([[r["favours_interim_1"], False] for r in trial], bool)
    gs = sequential_summary(p, (*looks, 1.0), (n, n), 0.05, "obrien_fleming", favours, 0.5)
    res = design_power(control, [treated], n, endpoint, reps, seed=seed, alpha=0.05, minimal_effect=0.1,
                       dropout=(0.2, HORIZON), interim=Interim(information=looks, futility_z=0.5))
    assert res["power"] == gs["power"] and res["early_stop_share"] == gs["early_stop_share"]
    assert res["futility_stop_share"] == gs["futility_stop_share"] > 0
    assert res["expected_n_per_arm"] == gs["expected_n_per_arm"][0]
    # in calendar time: 20 patients a month; the same stops, read as durations and patients enrolled (by the
    # look, 29 of each arm's 40 are randomized while the first 20 complete follow-up: the overrun)
    from nephrosim.trials.design import Accrual

    accrual = Accrual(patients_per_month=20.0)
    calendar = accrual.calendar((n, n), (*looks, 1.0), HORIZON)[:2]
    gs = sequential_summary(p, (*looks, 1.0), (n, n), 0.05, "obrien_fleming", favours, 0.5, calendar=calendar)
    res = design_power(control, [treated], n, endpoint, reps, seed=seed, alpha=0.05, minimal_effect=0.1,
                       dropout=(0.2, HORIZON), interim=Interim(information=looks, futility_z=0.5), accrual=accrual)
    assert res["expected_duration_months"] == gs["expected_duration_months"] < gs["look_months"][-1]
    assert res["expected_enrolled_per_arm"] == gs["expected_enrolled_per_arm"][0] > gs["expected_n_per_arm"][0]
    assert res["planned_duration_months"] == gs["look_months"][-1] == round(80 / 20.0 + HORIZON / (365.25 / 12), 2)
    # with beta-spending futility boundaries (gsDesign's defaults: Hwang-Shih-DeCani, gamma -2)
    gs = sequential_summary(p, (*looks, 1.0), (n, n), 0.05, "obrien_fleming", favours,
                            futility_beta=(0.2, "hwang_shih_decani", -2.0))
    res = design_power(control, [treated], n, endpoint, reps, seed=seed, alpha=0.05, minimal_effect=0.1,
                       dropout=(0.2, HORIZON), interim=Interim(information=looks, futility_beta={"beta": 0.2}))
    assert res["power"] == gs["power"] and res["early_stop_share"] == gs["early_stop_share"]
    assert res["futility_stop_share"] == gs["futility_stop_share"]
    assert res["expected_n_per_arm"] == gs["expected_n_per_arm"][0]


def test_uncertainty_draws_centre_on_the_models_values_and_keep_the_log_uniform_choice():
    """prior: range (default) draws each parameter around the table's value within its range (the draws of
    simulate --uncertainty); prior: log_uniform is the old choice. Both read the same uniforms, so each
    draw is the same quantile under either prior."""
    from scipy.stats import kstest, truncnorm

    from nephrosim.biology.parameters import ParameterTable
    from nephrosim.trials.search import uncertainty_draws

    names = ["ev_kidney_ec50_reference_doses", "msc_embolism_half_max_cells_per_kg"]
    table = ParameterTable.default()
    def many(spec):  # more draws than a search allows (200), to test the law
        return spec.model_copy(update={"uncertainty": spec.uncertainty.model_copy(update={"draws": 4000})})

    spec = search_from_dict({"base": BASE, "uncertainty": {"parameters": names, "draws": 200}})
    assert spec.uncertainty.prior == "range"
    got, draws, ranges = uncertainty_draws(many(spec), seed=5)
    flat = search_from_dict({"base": BASE, "uncertainty": {"parameters": names, "draws": 200, "prior": "log_uniform"}})
    _, uniform, _ = uncertainty_draws(many(flat), seed=5)
    assert np.array_equal(uncertainty_draws(spec, seed=5)[1], draws[:200])  # a draw depends on the seed and its index
    assert got == names and [r["parameter"] for r in ranges] == names
    for j, name in enumerate(names):
        rec = table.record(name, "human")
        lo, hi, nominal = np.log(rec.lower), np.log(rec.upper), np.log(rec.value)
        x = np.log(draws[:, j])
        assert lo <= x.min() and x.max() <= hi
        assert np.median(x) == pytest.approx(nominal, abs=0.08)  # the model's value (~4 SE), not the midpoint
        below, above = x[x < nominal], x[x >= nominal]  # each side: a half-normal of SD = its width / 1.96
        for side, width, sign in ((below, nominal - lo, -1), (above, hi - nominal, 1)):
            law = truncnorm(0, 1.96, loc=0.0, scale=width / 1.96)
            assert kstest(sign * (side - nominal), law.cdf).pvalue > 1e-3
        u = np.log(uniform[:, j])
        assert abs((lo + hi) / 2 - nominal) > 0.5  # these two rows' values lie far from their range's midpoint
        assert abs(np.median(u) - (lo + hi) / 2) < 0.1  # log-uniform: the geometric midpoint
        assert np.array_equal(np.argsort(x, kind="stable"), np.argsort(u, kind="stable"))  # the same quantiles
    with pytest.raises(SearchError, match="uncertainty.prior"):
        search_from_dict({"base": BASE, "uncertainty": {"parameters": names, "prior": "uniform"}})


@pytest.mark.parametrize("endpoint, column", [("recovery", "p_logrank"), ("scr_auc", "p_auc")])
def test_a_multi_arm_design_is_the_trials_adjusted_reading(endpoint, column):
    """Three arms (control, an effective and an ineffective one) with loss to follow-up: the search's
    replicate r is `nephrosim trial`'s replicate r, so its disjunctive power, success and all-arms success
    equal the trial's per-comparison p-values adjusted with statsmodels' Holm, replicate by replicate."""
    from statsmodels.stats.multitest import multipletests

    from nephrosim.trials.analysis import comparison_column
    from nephrosim.trials.run import _replicate_task

    from .conftest import synthetic_pool

    rng = np.random.default_rng(10)
    control, good, none = synthetic_pool(400, 12.0, rng), synthetic_pool(400, 6.0, rng), synthetic_pool(400, 12.0, rng)
    n, reps, seed = 30, 80, 13
    trial = _replicate_task((seed, 0, reps, (n, n, n), (control, good, none), (0.2, HORIZON)))
    p = np.array([[r[comparison_column(a, column)] for a in (1, 2)] for r in trial])
    reject = np.array([multipletests(row, alpha=0.05, method="holm")[0] for row in p])
    res = multi_arm_power(control, [[good, none]], n, endpoint, reps, seed=seed, alpha=0.05, minimal_effect=0.1,
                          multiplicity="holm", dropout=(0.2, HORIZON))
    assert res["power"] == round(float(reject.any(axis=1).mean()), 4)
    if endpoint == "recovery":  # (the synthetic pools' SCr AUCs carry no effect)
        assert res["power"] > 0.3  # the effective arm is found in part of the trials
        assert res["power_all"] <= res["p_success"] <= res["power"]
    assert res["trials"] == reps and len(json.loads(res["true_effect_by_arm"])) == 2


@pytest.mark.parametrize("multiplicity, exact", [("dunnett", True), ("holm", False), ("bonferroni", False)])
def test_a_multi_arm_design_without_effect_keeps_the_family_wise_error(multiplicity, exact):
    """Every arm carries each patient's control outcome: at least one rejection in alpha of the trials with
    Dunnett (exact for the comparisons' shared control), at most alpha with Holm and Bonferroni."""
    rng = np.random.default_rng(12)
    pool = _exponential_pool(6000, 12.0, rng)
    reps = 1500
    res = multi_arm_power(pool, [[pool, pool, pool]], 30, "scr_auc", reps, seed=3, alpha=0.05, minimal_effect=0.1,
                          multiplicity=multiplicity)
    se = math.sqrt(0.05 * 0.95 / reps)
    assert res["power"] <= 0.05 + 3.5 * se, res
    if exact:
        assert res["power"] >= 0.05 - 3.5 * se, res
    assert res["p_correct"] == pytest.approx(1 - res["p_success"])  # no arm helps: every claim is wrong
    with pytest.raises(UserInputError, match="6000 patients, fewer than the 8000 one trial of 4 arms needs"):
        multi_arm_power(pool, [[pool, pool, pool]], 2000, "scr_auc", 10, seed=3, alpha=0.05, minimal_effect=0.1)


@pytest.mark.parametrize("endpoint, column", [("recovery", "p_logrank"), ("scr_auc", "p_auc")])
def test_a_multi_arm_design_drops_arms_as_the_trial_does(endpoint, column):
    """With a look at half the patients and futility_z 0, the search's multi-arm power, arms dropped and
    expected n equal nephrosim.trials.sequential.arm_dropping on `nephrosim trial`'s replicates."""
    from nephrosim.trials.analysis import comparison_column
    from nephrosim.trials.run import _replicate_task
    from nephrosim.trials.sequential import arm_dropping

    from .conftest import synthetic_pool

    rng = np.random.default_rng(14)
    control, good, none = synthetic_pool(400, 12.0, rng), synthetic_pool(400, 6.0, rng), synthetic_pool(400, 12.0, rng)
    n, reps, seed, looks = 30, 80, 15, (0.5,)
    trial = _replicate_task((seed, 0, reps, (n, n, n), (control, good, none), (0.2, HORIZON), (endpoint, looks)))
    p_final = np.array([[r[comparison_column(a, column)] for r in trial] for a in (1, 2)])
    p_looks = np.array([[[r[comparison_column(a, "p_interim_1")]] for r in trial] for a in (1, 2)])
    favours = np.array([[[r[comparison_column(a, "favours_interim_1")]] for r in trial] for a in (1, 2)])
    expected = arm_dropping(p_final, p_looks, favours, looks, (n, n, n), 0.05, "holm", 0.0)
    res = multi_arm_power(control, [[good, none]], n, endpoint, reps, seed=seed, alpha=0.05, minimal_effect=0.1,
                          multiplicity="holm", dropout=(0.2, HORIZON),
                          interim=Interim(information=looks, futility_z=0.0))
    assert res["power"] == expected["power"]
    assert json.loads(res["dropped_share"]) == expected["dropped_share"]
    assert res["stopped_for_futility_share"] == expected["stopped_for_futility_share"]
    assert res["expected_total_n"] == pytest.approx(expected["expected_total_n"], abs=0.01)
    assert max(expected["dropped_share"]) > 0.1  # the rule acted
    # beta-spending boundaries (a comparison planned at alpha/2 for power 0.8): the same reading
    beta_interim = Interim(information=looks, futility_beta={"beta": 0.2})
    bounds = beta_interim.arm_futility(0.05, 2)
    expected = arm_dropping(p_final, p_looks, favours, looks, (n, n, n), 0.05, "holm", bounds)
    res = multi_arm_power(control, [[good, none]], n, endpoint, reps, seed=seed, alpha=0.05, minimal_effect=0.1,
                          multiplicity="holm", dropout=(0.2, HORIZON), interim=beta_interim)
    assert res["power"] == expected["power"] and json.loads(res["dropped_share"]) == expected["dropped_share"]
    # in calendar time (3 patients a month): the trial's own calendar reading of the same drops
    from nephrosim.trials.design import Accrual

    accrual = Accrual(patients_per_month=3.0)
    calendar = accrual.calendar((n, n, n), (*looks, 1.0), HORIZON)[:2]
    expected = arm_dropping(p_final, p_looks, favours, looks, (n, n, n), 0.05, "holm", bounds, calendar)
    res = multi_arm_power(control, [[good, none]], n, endpoint, reps, seed=seed, alpha=0.05, minimal_effect=0.1,
                          multiplicity="holm", dropout=(0.2, HORIZON), interim=beta_interim, accrual=accrual)
    assert res["expected_duration_months"] == expected["expected_duration_months"]
    assert res["planned_duration_months"] == expected["look_months"][-1]
    with pytest.raises(UserInputError, match="interim.futility_z or interim.futility_beta"):
        multi_arm_power(control, [[good, none]], n, endpoint, 5, seed=seed, alpha=0.05, minimal_effect=0.1,
                        interim=Interim(information=looks))


def test_sample_sizes_interpolate_between_the_candidates():
    """Per design, the patients per arm where P(success) first reaches the target, linearly between the two
    candidate sizes around it; reached at the smallest size; or never, with the best seen."""
    rows = []
    for treatment, curve in (("A", {34: 0.5, 68: 0.7, 100: 0.9}), ("B", {34: 0.85, 68: 0.95, 100: 0.97}),
                             ("C", {34: 0.1, 68: 0.3, 100: 0.25})):
        for n, p in curve.items():
            rows.append({"inclusion": "rise", "timing": "6 h", "treatment": treatment, "endpoint": "recovery",
                         "n_per_arm": n, "p_success": p, "treated_arms": 1, "skipped": ""})
    rows.append({**rows[0], "n_per_arm": 150, "p_success": 1.0, "skipped": "pool too small"})  # ignored
    out = sample_sizes(pd.DataFrame(rows), 0.8)
    assert [e["treatment"] for e in out] == ["B", "A", "C"]
    b, a, c = out
    assert b["n_per_arm"] == 34 and b["interpolated"] is False
    assert a["n_per_arm"] == math.ceil(68 + (0.8 - 0.7) / (0.9 - 0.7) * (100 - 68)) == 84 and a["interpolated"]
    assert c["n_per_arm"] is None and not c["reached"] and c["best_p_success"] == 0.3 and c["at_n_per_arm"] == 68
