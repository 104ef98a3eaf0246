"""Subgroup hazard ratios and interaction p-values of the trial report (issue 16, item 6), checked on
hand-built tables against independent lifelines fits: each subgroup refitted on its own rows, and
the interaction test refitted through lifelines' formula interface (``treated * sub``)."""

from types import SimpleNamespace

import numpy as np
import pandas as pd

from nephrosim.report.trial_subgroups import SUBGROUP_CUTS, analysed_rows, subgroup_table, trial_subgroups
from nephrosim.trials.endpoints import PatientOutcomes
from nephrosim.trials.population import PopulationSpec, draw_covariates

HORIZON = 30.0
#: two cuts (a clinical one and a pool median) where a test is about rows and draws, not about the cuts
SOME = (SUBGROUP_CUTS[0], SUBGROUP_CUTS[5])


def _paired_pool(hazard_ratio, rng):
    """Each patient's time to recovery untreated and treated (exponential, a patient frailty shared
    by both), censored at the horizon; ``hazard_ratio`` per patient (> 1: faster on treatment)."""
    n = hazard_ratio.size
    rate = np.exp(0.5 * rng.normal(size=n)) / 12.0
    t_c, t_t = rng.exponential(1 / rate), rng.exponential(1 / (rate * hazard_ratio))
    return (np.minimum(t_c, HORIZON), t_c < HORIZON), (np.minimum(t_t, HORIZON), t_t < HORIZON)


def _population_like(n, rng):
    return draw_covariates(PopulationSpec(), n, rng)


def test_every_population_covariate_has_a_cut():
    """A covariate added to the virtual population must get a documented cut (or this fails)."""
    drawn = set(_population_like(5, np.random.default_rng(0)))
    assert drawn == {c.covariate for c in SUBGROUP_CUTS}
    for c in SUBGROUP_CUTS:
        assert c.source and (c.threshold is not None) == (c.rule in ("<", ">"))


def test_cut_labels_and_counts_on_a_hand_built_table():
    rng = np.random.default_rng(1)
    n = 40

    def shuffled(*blocks):  # values in hand-counted blocks, in a random patient order
        return rng.permutation(np.concatenate([np.full(k, v, dtype=float) for k, v in blocks]))

    cov = {
        "baseline_egfr": shuffled((12, 59.9), (28, 60.0)),        # 60 itself is not < 60
        "age_years": shuffled((17, 65.0), (23, 72.0)),             # 65 itself is not > 65
        "male": shuffled((30, 1.0), (10, 0.0)).astype(bool),
        "bypass_min": shuffled((15, 120.0), (25, 121.0)),          # 120 itself is not > 120
        "weight_kg": rng.permutation(np.arange(1.0, 41.0)),       # median 20.5: 20 patients at or above
        "severity": shuffled((25, 1.0), (15, 2.0)),               # median 1: nobody below it
        "susceptibility": rng.permutation(np.arange(40.0)),
        "repair": rng.permutation(np.arange(40.0)),
        "fluid": rng.permutation(np.arange(40.0)),
    }
    control, treated = _paired_pool(np.full(n, 1.5), rng)
    table = subgroup_table(cov, control, treated).set_index("subgroup")
    expected = {"all": 40, "eGFR < 60": 12, "eGFR ≥ 60": 28, "age > 65 y": 23, "age ≤ 65 y": 17,
                "male": 30, "female": 10, "bypass > 120 min": 25, "bypass ≤ 120 min": 15,
                "weight ≥ 20.5 kg": 20, "weight < 20.5 kg": 20,
                "injury severity factor ≥ 1": 40, "injury severity factor < 1": 0}
    for label, count in expected.items():
        assert table.loc[label, "patients"] == count, label
    assert table.loc["all", "events"] == control[1].sum() + treated[1].sum()
    ids = np.flatnonzero(cov["age_years"] > 65)
    assert table.loc["age > 65 y", "events"] == control[1][ids].sum() + treated[1][ids].sum()
    # an empty subgroup has no hazard ratio and its covariate no interaction test: NaN, not a number
    assert np.isnan(table.loc["injury severity factor < 1", ["hr", "hr_lo", "hr_hi"]].to_numpy(float)).all()
    assert np.isnan(table.loc["injury severity factor ≥ 1", "interaction_p"])
    cuts = table.drop_duplicates("covariate").set_index("covariate")["cut"]
    assert "AKICS" in cuts["age"] and "PMID 17622275" in cuts["bypass"] and "KDIGO" in cuts["eGFR"]
    assert cuts["weight"].startswith("pool median 20.5 kg")
    assert "not measurable at entry" in cuts["fluid load factor"]
    assert len(table) == 1 + 2 * len(SUBGROUP_CUTS)


def _long(rows, control, treated, sub=None):
    (t_c, e_c), (t_t, e_t) = control, treated
    parts = [pd.DataFrame({"time": t[rows], "event": e[rows].astype(int), "arm_treated": a, "id": rows})
             for a, (t, e) in ((0, (t_c, e_c)), (1, (t_t, e_t)))]
    long = pd.concat(parts, ignore_index=True)
    if sub is not None:
        long["sub"] = np.r_[sub[rows], sub[rows]].astype(float)
    return long


def test_hazard_ratios_and_interaction_p_match_independent_lifelines_fits():
    """Treatment doubles the recovery hazard below eGFR 60 and does nothing above it: each subgroup's
    HR and interval equal a separate lifelines fit on that subgroup's rows, and each covariate's
    interaction p equals lifelines' formula fit of ``treated * sub`` (robust, clustered by patient)."""
    from lifelines import CoxPHFitter

    rng = np.random.default_rng(2)
    n = 200
    cov = _population_like(n, rng)
    low = cov["baseline_egfr"] < 60
    control, treated = _paired_pool(np.where(low, 2.0, 1.0), rng)
    table = subgroup_table(cov, control, treated)
    everyone = np.arange(n)
    ref = CoxPHFitter().fit(_long(everyone, control, treated), "time", "event", cluster_col="id", robust=True)
    s = ref.summary.loc["arm_treated"]
    np.testing.assert_allclose(table.iloc[0][["hr", "hr_lo", "hr_hi"]].to_numpy(float),
                               [s["exp(coef)"], s["exp(coef) lower 95%"], s["exp(coef) upper 95%"]], rtol=1e-6)
    for cut in SUBGROUP_CUTS:
        inside, labels, _ = cut.split(cov[cut.covariate])
        mine = table[table["covariate"] == cut.name].set_index("subgroup")
        for label, keep in zip(labels, (inside, ~inside)):
            rows = np.flatnonzero(keep)
            fit = CoxPHFitter().fit(_long(rows, control, treated), "time", "event", cluster_col="id", robust=True)
            s = fit.summary.loc["arm_treated"]
            np.testing.assert_allclose(mine.loc[label, ["hr", "hr_lo", "hr_hi"]].to_numpy(float),
                                       [s["exp(coef)"], s["exp(coef) lower 95%"], s["exp(coef) upper 95%"]],
                                       rtol=1e-6, err_msg=label)
            assert mine.loc[label, "patients"] == rows.size
        inter = CoxPHFitter().fit(_long(everyone, control, treated, inside), "time", "event", cluster_col="id",
                                  robust=True, formula="arm_treated * sub")
        p = inter.summary.loc["arm_treated:sub", "p"]
        np.testing.assert_allclose(mine["interaction_p"].to_numpy(float), [p, p], rtol=1e-6, err_msg=cut.name)
    egfr = table[table["covariate"] == "eGFR"].set_index("subgroup")
    assert egfr.loc["eGFR < 60", "hr"] > 1.5 > egfr.loc["eGFR ≥ 60", "hr"]
    assert egfr["interaction_p"].iloc[0] < 0.01  # the covariate with a built-in difference is found


def test_a_trial_result_is_analysed_on_its_pool_rows_and_large_pools_on_a_seeded_subset():
    """``trial_subgroups`` reads the covariates of the pool patients (pool = indices into the accepted
    population) and the first noise draw; above the limit it analyses a seeded, sorted subset."""
    rng = np.random.default_rng(3)
    population = _population_like(300, rng)
    pool = np.sort(rng.choice(300, 100, replace=False))
    control, treated = _paired_pool(np.full(pool.size, 1.4), rng)
    noise_draws = 3  # measured SCr: one column per draw; the report reads draw 0

    def outcomes(days, rec):
        shifted = np.column_stack([days] + [np.roll(days, k) for k in range(1, noise_draws)])
        flags = np.column_stack([rec] + [np.roll(rec, k) for k in range(1, noise_draws)])
        zero = np.zeros(pool.size)
        nan = np.full(pool.size, np.nan)  # a 30-day follow-up: no MAKE90
        return PatientOutcomes(shifted, flags, zero, zero, zero, zero, zero.astype(bool), nan, nan)
    result = SimpleNamespace(
        design=SimpleNamespace(arms=(SimpleNamespace(name="placebo"), SimpleNamespace(name="msc"))), seed=11,
        pool=pool, population=SimpleNamespace(covariates=population),
        arm_outcomes={"placebo": outcomes(*control), "msc": outcomes(*treated)})
    np.testing.assert_array_equal(analysed_rows(pool.size, 11), np.arange(pool.size))  # below the limit: all

    limited, rows, draws = trial_subgroups(result, limit=40, cuts=SOME)
    assert rows.size == 40 and np.all(np.diff(rows) > 0) and draws == 1  # 40 patients fill the 40 rows
    np.testing.assert_array_equal(rows, analysed_rows(pool.size, 11, 40))  # deterministic for the seed
    assert not np.array_equal(rows, analysed_rows(pool.size, 12, 40))
    assert limited["patients"].iloc[0] == 40
    sub = subgroup_table({k: v[pool[rows]] for k, v in population.items()},
                         tuple(x[rows] for x in control), tuple(x[rows] for x in treated), SOME)
    pd.testing.assert_frame_equal(limited, sub)

    # room for two noise draws of every pool patient: both pooled, one row per patient, arm and draw
    pooled, rows, draws = trial_subgroups(result, limit=2 * pool.size, cuts=SOME)
    assert rows.size == pool.size and draws == 2
    arms = [result.arm_outcomes[a] for a in ("placebo", "msc")]
    expected = subgroup_table({k: v[pool] for k, v in population.items()},
                              *[(o.recovery_days[:, :2], o.recovered[:, :2]) for o in arms], SOME)
    pd.testing.assert_frame_equal(pooled, expected)
    assert pooled["events"].iloc[0] == sum(int(o.recovered[:, :2].sum()) for o in arms)


def test_forest_figure_marks_each_covariates_interaction_p():
    from nephrosim.report.trial_figures import forest_figure

    rng = np.random.default_rng(4)
    cov = _population_like(120, rng)
    control, treated = _paired_pool(np.full(120, 1.3), rng)
    table = subgroup_table(cov, control, treated, SUBGROUP_CUTS[:4])
    fig, caption = forest_figure(table, ("placebo", "msc"))
    ax = fig.axes[0]
    notes = [t.get_text() for t in ax.texts]
    first = table.drop_duplicates("covariate").iloc[1:]
    assert notes == [f"interaction p {p:.2g}" for p in first["interaction_p"]]
    points = ax.containers[0].lines[0].get_xdata()
    np.testing.assert_allclose(points, table["hr"].dropna().to_numpy())
    assert "robust variance clustered by patient" in caption and "pool median" in caption
