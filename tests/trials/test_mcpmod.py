"""The MCP-Mod multiple contrast test (nephrosim.trials.mcpmod) against independent references: the
contrasts' closed form and their optimality against random contrasts, statsmodels' OLS contrast t-test,
Student's t for one shape, the type-I error on simulated normal data, and the trial's replicate statistic
recomputed by hand from the documented draws."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from nephrosim.trials import TrialError, trial_from_dict
from nephrosim.trials.mcpmod import contrast_correlation, contrast_statistics, critical_value, fit_dose_response, \
    model_means, model_step, optimal_contrasts, predict, target_dose
from nephrosim.trials.run import _replicate_task

from .conftest import synthetic_pool

DOSES = (0.0, 2.0e6, 1.0e7)
SHAPES = (("linear", None, None), ("emax", 2.0e6, None), ("quadratic", None, -1.0e-7))


def _means(doses=DOSES):
    return np.vstack([model_means(s, doses, ed50, delta) for s, ed50, delta in SHAPES])


def _kept_samples(arms, seed: int, r: int) -> list[np.ndarray]:
    """Replicate ``r``'s −SCr AUC per arm of 30 drawn from pools of 300, recomputed from its documented
    draws: the patients from ``default_rng([seed, 2, r])``, loss to follow-up (10 %) from ``[seed, 6, r]``."""
    idx = np.split(np.random.default_rng([seed, 2, r]).permutation(300)[:90], [30, 60])
    drop = np.random.default_rng([seed, 6, r])
    kept = []
    for _ in range(3):
        lost = drop.random(30) < 0.1
        drop.random(30)  # the loss times
        kept.append(~lost)
    return [-o.scr_auc[i][k] for o, i, k in zip(arms, idx, kept)]


#: Placebo and two MSC doses of 20 patients (a design to validate, never simulated here).
THREE_ARMS = {"arms": [{"name": "placebo", "n": 20},
                       {"name": "low", "n": 20, "treatment": {"product": "msc", "dose": 2.0e6, "dose_unit": "cells/kg",
                                                              "route": "intra_arterial_aorta"},
                        "timing": {"relative_to": "diagnosis", "delay_h": 6}},
                       {"name": "high", "n": 20, "treatment": {"product": "msc", "dose": 1.0e7, "dose_unit": "cells/kg",
                                                               "route": "intra_arterial_aorta"},
                        "timing": {"relative_to": "diagnosis", "delay_h": 6}}]}


def test_contrasts_have_their_closed_form_and_beat_any_other_contrast():
    # equal arms, a linear shape over equally spaced doses: (-1, 0, 1) / sqrt(2)
    c = optimal_contrasts(model_means("linear", (0, 1, 2)), (20, 20, 20))
    np.testing.assert_allclose(c[0], np.array([-1.0, 0.0, 1.0]) / math.sqrt(2), atol=1e-12)
    n = np.array([30, 20, 25])
    mu = _means()
    c = optimal_contrasts(mu, n)
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 1.0)
    np.testing.assert_allclose(c.sum(axis=1), 0.0, atol=1e-12)  # a contrast: a flat response gives 0
    rng = np.random.default_rng(0)
    others = rng.standard_normal((20_000, 3))
    others -= others.mean(axis=1, keepdims=True)
    for m in range(len(SHAPES)):
        def noncentrality(x):
            return np.abs(x @ mu[m]) / np.sqrt((x ** 2 / n).sum(axis=-1))

        assert noncentrality(c[m]) >= noncentrality(others).max() - 1e-12
    with pytest.raises(ValueError, match="flat over these doses"):
        optimal_contrasts(model_means("linear", (1, 1, 1)), (20, 20, 20))


def test_one_contrast_is_the_ols_contrast_t_test():
    rng = np.random.default_rng(4)
    samples = [rng.normal(mean, 1.3, size) for mean, size in ((5.0, 21), (4.4, 18), (4.1, 25))]
    c = optimal_contrasts(model_means("emax", DOSES, ed50=2.0e6), [s.size for s in samples])
    t = contrast_statistics(samples, c)[0]
    data = pd.DataFrame({"y": np.concatenate(samples), "arm": np.repeat(["a0", "a1", "a2"], [s.size for s in samples])})
    fit = smf.ols("y ~ C(arm) - 1", data).fit()
    assert t == pytest.approx(float(fit.t_test(c[0]).tvalue.item()), rel=1e-10)


def test_the_critical_value_keeps_alpha_on_simulated_flat_dose_responses():
    from scipy.stats import t as student

    n = (20, 20, 20)
    c = optimal_contrasts(_means(), n)
    assert critical_value(contrast_correlation(c[:1], n), 57, 0.025) == pytest.approx(student.isf(0.025, 57))
    q = critical_value(contrast_correlation(c, n), 57, 0.025)
    assert student.isf(0.025, 57) < q < student.isf(0.025 / 3, 57)  # between one test and Bonferroni
    rng = np.random.default_rng(8)
    trials = 20_000
    y = rng.normal(3.0, 2.0, (trials, 3, 20))  # a flat dose response
    means, pooled = y.mean(axis=2), y.var(axis=2, ddof=1).mean(axis=1)
    t = (means @ c.T) / np.sqrt(pooled[:, None] * (c ** 2 / 20).sum(axis=1)[None, :])
    share = float((t.max(axis=1) >= q).mean())
    assert abs(share - 0.025) <= 4 * math.sqrt(0.025 * 0.975 / trials), share


def test_a_replicate_statistic_is_the_contrast_on_its_own_patients():
    rng = np.random.default_rng(21)
    arms = (synthetic_pool(300, 12.0, rng), synthetic_pool(300, 8.0, rng), synthetic_pool(300, 6.0, rng))
    c = optimal_contrasts(_means(), (30, 30, 30))
    seed = 7
    reps = _replicate_task((seed, 0, 4, (30, 30, 30), arms, (0.1, 30.0), None, None, ("scr_auc", c)))
    for r, rep in enumerate(reps):
        samples = _kept_samples(arms, seed, r)
        expected = contrast_statistics(samples, c)
        assert [rep[f"mcp_t_{m}"] for m in (1, 2, 3)] == pytest.approx(list(expected), rel=1e-12)


def test_bad_mcp_mod_settings_name_the_field():
    base = THREE_ARMS
    good = {"doses": list(DOSES), "shapes": [{"shape": "linear"}, {"shape": "emax", "ed50": 2.0e6}]}
    assert trial_from_dict({**base, "mcp_mod": good}).mcp_mod.shapes[1].label == "emax ED50 2e+06"
    for bad, words in (({**good, "doses": [0, 1]}, "mcp_mod.doses: 2 doses for 3 arms"),
                       ({**good, "shapes": [{"shape": "emax"}]}, "the emax shape needs ed50"),
                       ({**good, "shapes": [{"shape": "linear", "delta": 1}]}, "delta is not a parameter of the linear"),
                       ({**good, "shapes": [{"shape": "quadratic", "delta": 0}]}, "must be != 0"),
                       ({**good, "doses": [1, 1, 1]}, "mcp_mod.shapes.0 (linear): a candidate shape is flat"),
                       ({**good, "shapes": [{"shape": "sigmoid"}]}, "shape")):
        with pytest.raises(TrialError, match="mcp_mod") as err:
            trial_from_dict({**base, "mcp_mod": bad})
        assert words in str(err.value), (words, str(err.value))


# --- the modelling step ------------------------------------------------------------------------------------

FOUR = np.array([0.0, 1.0e6, 3.0e6, 1.0e7])
#: (shape, coefficients, nonlinear parameter) of a true curve on FOUR
TRUE = (("linear", (1.0, 3.0e-7), None), ("emax", (1.0, 4.0), 2.0e6), ("exponential", (1.0, 0.8), 4.0e6),
        ("quadratic", (1.0, 9.0e-7, -6.0e-14), None))


def _curve(shape, coef, theta, d):
    return predict({"shape": shape, "coef": np.asarray(coef, float), "theta": theta}, d)


def test_each_model_recovers_a_noise_free_curve_and_its_target_dose_is_the_root_of_the_curve():
    from scipy.optimize import brentq

    n = np.array([25, 25, 25, 25])
    for shape, coef, theta in TRUE:
        means = _curve(shape, coef, theta, FOUR)
        fit = fit_dose_response(shape, FOUR, means, n, within_ss=40.0)
        np.testing.assert_allclose(predict(fit, FOUR), means, rtol=1e-7, err_msg=shape)
        assert fit["rss"] == pytest.approx(40.0, rel=1e-9), shape  # only the within-arm part is left
        if theta is not None:
            assert fit["theta"] == pytest.approx(theta, rel=1e-5), shape
        effect = 1.5
        root = brentq(lambda d: (_curve(shape, coef, theta, d) - _curve(shape, coef, theta, 0.0))[0] - effect,
                      1.0, 5.5e6)  # every true curve passes 1.5 between 1 and 5.5e6
        assert target_dose(fit, effect, FOUR.max()) == pytest.approx(root, rel=1e-5), shape


def test_a_target_dose_the_fitted_curve_does_not_reach_within_the_doses_is_nan():
    umbrella = {"shape": "quadratic", "coef": np.array([1.0, 9.0e-7, -6.0e-14]), "theta": None}
    peak = 9.0e-7 ** 2 / (4 * 6.0e-14)  # the umbrella's largest gain over placebo, 3.375
    assert math.isnan(target_dose(umbrella, peak * 1.01, 1.0e7))
    assert target_dose(umbrella, 3.0, 1.0e7) == pytest.approx(
        (9.0e-7 - math.sqrt(9.0e-7 ** 2 - 4 * 6.0e-14 * 3.0)) / (2 * 6.0e-14), rel=1e-12)  # the smaller root
    emax = {"shape": "emax", "coef": np.array([1.0, 4.0]), "theta": 2.0e6}
    assert math.isnan(target_dose(emax, 4.0, 1.0e7))  # Emax itself is never reached
    assert math.isnan(target_dose(emax, 3.9, 1.0e7))  # reached at 7.8e7, beyond the largest dose
    harm = {"shape": "linear", "coef": np.array([1.0, -1.0e-7]), "theta": None}
    assert math.isnan(target_dose(harm, 0.5, 1.0e7))
    with pytest.raises(ValueError, match="must be > 0"):
        target_dose(emax, 0.0, 1.0e7)


def test_fits_equal_scipy_curve_fit_and_statsmodels_ols_on_every_patient():
    from scipy.optimize import curve_fit

    rng = np.random.default_rng(3)
    n = np.array([20, 31, 24, 27])
    d_all = np.repeat(FOUR, n)
    for shape, coef, theta in TRUE:
        y = _curve(shape, coef, theta, d_all) + rng.normal(0.0, 1.2, d_all.size)
        arms = np.split(y, np.cumsum(n)[:-1])
        means = np.array([a.mean() for a in arms])
        within = float(sum(((a - a.mean()) ** 2).sum() for a in arms))
        fit = fit_dose_response(shape, FOUR, means, n, within)
        if shape in ("linear", "quadratic"):
            x = np.column_stack([d_all, d_all ** 2])[:, : 1 if shape == "linear" else 2] / 1e6
            ols = sm.OLS(y, sm.add_constant(x)).fit()
            np.testing.assert_allclose(predict(fit, FOUR), ols.predict(sm.add_constant(
                np.column_stack([FOUR, FOUR ** 2])[:, : x.shape[1]] / 1e6, has_constant="add")), rtol=1e-9)
            assert fit["rss"] == pytest.approx(ols.ssr, rel=1e-9)
            # R's AIC (DoseFinding's) counts the error variance as a parameter; statsmodels' does not
            assert fit["aic"] == pytest.approx(ols.aic + 2.0, rel=1e-10)
        else:
            def f(d, e0, e1, th):
                return _curve(shape, (e0, e1), th, d)

            lo, hi = {"emax": (0.001, 1.5), "exponential": (0.1, 2.0)}[shape]
            ref, _ = curve_fit(f, d_all, y, p0=(coef[0], coef[1], theta), bounds=([-np.inf, -np.inf, lo * 1e7],
                                                                                     [np.inf, np.inf, hi * 1e7]),
                               x_scale=(1.0, 1.0, 1e6), xtol=1e-14, ftol=1e-14)
            ref_ss = float(np.sum((y - f(d_all, *ref)) ** 2))
            assert fit["rss"] <= ref_ss * (1 + 1e-9), shape  # at least as good as scipy's fit
            assert fit["rss"] == pytest.approx(ref_ss, rel=1e-6), shape
            assert fit["theta"] == pytest.approx(ref[2], rel=1e-3), shape


def test_aic_selects_the_generating_shape_when_the_arms_are_large():
    rng = np.random.default_rng(11)
    n = 200
    hits = 0
    for _ in range(40):
        samples = [rng.normal(m, 1.0, n) for m in _curve("emax", (1.0, 4.0), 1.0e6, FOUR)]
        shape, dose = model_step(samples, FOUR, ("linear", "emax"), (True, True), 2.0)
        hits += shape == 2
        if shape == 2:
            assert dose == pytest.approx(1.0e6, rel=0.3)  # the true target dose: 2·1e6/(4 − 2)
    assert hits >= 38
    assert model_step(samples, FOUR, ("linear", "emax"), (False, False), 2.0)[0] == 0  # nothing significant
    assert model_step(samples, FOUR, ("linear", "emax"), (True, False), 2.0)[0] == 1  # only the linear fitted


def test_a_replicate_target_dose_is_the_model_step_on_its_own_patients():
    rng = np.random.default_rng(21)
    arms = (synthetic_pool(300, 12.0, rng), synthetic_pool(300, 8.0, rng), synthetic_pool(300, 6.0, rng))
    for o, shift in zip(arms, (0.0, 3.0, 5.0)):
        o.scr_auc[:] = rng.normal(10.0 - shift, 2.0, 300)  # a falling AUC with the dose: a benefit
    c, q = optimal_contrasts(_means(), (30, 30, 30)), 2.2
    shapes = tuple(s for s, *_ in SHAPES)
    seed = 7
    reps = _replicate_task((seed, 0, 6, (30, 30, 30), arms, (0.1, 30.0), None, None, ("scr_auc", c),
                            (q, DOSES, shapes, 2.5)))
    estimated = 0
    for r, rep in enumerate(reps):
        samples = _kept_samples(arms, seed, r)
        t = contrast_statistics(samples, c)
        shape, dose = model_step(samples, DOSES, shapes, t >= q, 2.5)
        assert rep["mod_shape"] == shape
        assert rep["mod_target_dose"] == pytest.approx(dose, rel=1e-12, nan_ok=True)
        estimated += math.isfinite(dose)
    assert estimated >= 3  # the check compared estimated target doses, not only NaNs


def test_the_modelling_summary_reads_the_replicates():
    from nephrosim.trials.run import modelling_summary

    base = {**THREE_ARMS,
            "mcp_mod": {"doses": list(DOSES), "shapes": [{"shape": "linear"}, {"shape": "emax", "ed50": 2.0e6}],
                        "target_effect": 1.0}}
    design = trial_from_dict(base)
    assert design.mcp_modelling()[1:] == (DOSES, ("linear", "emax"), 1.0, False)
    reps = []
    for shape, dose, low, high in ((0, math.nan, 0.5, 1.0), (1, 4.0e6, 1.0, 2.0), (2, 2.0e6, 1.5, 3.0),
                                   (2, math.nan, 0.0, 0.5)):
        reps.append({"mod_shape": shape, "mod_target_dose": dose, "arm1:auc_control": 6.0,
                     "arm1:auc_treatment": 6.0 - low, "arm2:auc_control": 6.0, "arm2:auc_treatment": 6.0 - high})
    out = modelling_summary(design, reps)
    assert out["selected_by_shape"] == {"linear": 0.25, "emax ED50 2e+06": 0.5}
    assert out["target_dose_estimated"] == 0.5
    assert out["target_dose"]["median"] == pytest.approx(3.0e6)
    assert out["not_reached_when_significant"] == pytest.approx(1 / 3, abs=1e-4)
    assert out["effect_by_arm"] == {"low": 0.75, "high": 1.625} and out["target_effect"] == 1.0
    with pytest.raises(TrialError, match="mcp_mod.target_effect"):
        trial_from_dict({**base, "mcp_mod": {**base["mcp_mod"], "target_effect": 0}})


# --- the generalized contrast test on time to recovery ----------------------------------------------------

def test_placebo_adjusted_contrasts_beat_any_other_and_the_normal_critical_value_keeps_alpha():
    from nephrosim.trials.mcpmod import placebo_adjusted_contrasts, planned_log_hr_covariance, planned_test

    n = (68, 50, 80)
    S = planned_log_hr_covariance(n)
    np.testing.assert_allclose(S, [[1 / 68 + 1 / 50, 1 / 68], [1 / 68, 1 / 68 + 1 / 80]])
    mu = _means()[:, 1:] - _means()[:, :1]
    c = placebo_adjusted_contrasts(mu, S)
    others = np.random.default_rng(0).standard_normal((20_000, 2))
    for m in range(len(SHAPES)):
        def noncentrality(x):
            return (x @ mu[m]) / np.sqrt(np.einsum("...i,ij,...j->...", x, S, x))

        assert noncentrality(c[m]) >= noncentrality(others).max() - 1e-12
    contrasts, q = planned_test(DOSES, SHAPES, n, 0.025, "recovery")
    np.testing.assert_allclose(contrasts, c)
    # the critical value keeps alpha for estimates ~ N(0, S): the large-sample law of the log hazard ratios
    beta = np.random.default_rng(9).multivariate_normal(np.zeros(2), S, 400_000)
    t = (beta @ c.T) / np.sqrt(np.einsum("mi,ij,mj->m", c, S, c))
    share = float((t.max(axis=1) >= q).mean())
    assert abs(share - 0.025) <= 4 * math.sqrt(0.025 * 0.975 / 400_000), share


def test_log_hazard_ratios_equal_statsmodels_phreg():
    from statsmodels.duration.hazard_regression import PHReg

    from nephrosim.trials.mcpmod import log_hazard_ratios

    rng = np.random.default_rng(5)
    times, events = [], []
    for rate, size in ((0.08, 40), (0.11, 35), (0.16, 45)):  # recovery sooner with the dose
        t = np.round(rng.exponential(1 / rate, size), 0) + 1  # whole days: ties, as with daily samples
        times.append(np.minimum(t, 30.0))
        events.append(t < 30.0)
    beta, cov = log_hazard_ratios(times, events)
    arm = np.repeat([0, 1, 2], [t.size for t in times])
    exog = np.column_stack([arm == 1, arm == 2]).astype(float)
    ref = PHReg(np.concatenate(times), exog, status=np.concatenate(events).astype(int), ties="efron").fit()
    np.testing.assert_allclose(beta, ref.params, rtol=1e-5)
    np.testing.assert_allclose(cov, ref.cov_params(), rtol=1e-4)
    assert beta[1] > beta[0] > 0
    nan_beta, _ = log_hazard_ratios([times[0], times[1], times[2]], [events[0], np.zeros(35, bool), events[2]])
    assert np.isnan(nan_beta).all()  # an arm without a recovery: no estimate, not a crash


def test_a_replicate_recovery_statistic_is_the_contrast_of_its_own_cox_fit():
    from nephrosim.trials.mcpmod import estimate_statistics, log_hazard_ratios, model_step_estimates, planned_test
    from nephrosim.trials.run import censor_at_loss, losses

    rng = np.random.default_rng(21)
    arms = (synthetic_pool(300, 12.0, rng), synthetic_pool(300, 8.0, rng), synthetic_pool(300, 6.0, rng))
    c, q = planned_test(DOSES, SHAPES, (30, 30, 30), 0.025, "recovery")
    seed = 7
    shapes = tuple(shape for shape, *_ in SHAPES)
    reps = _replicate_task((seed, 0, 5, (30, 30, 30), arms, (0.1, 30.0), None, None, ("recovery", c),
                            (q, DOSES, shapes, 0.2)))
    effects = _means()[:, 1:] - _means()[:, :1]
    own = _replicate_task((seed, 0, 5, (30, 30, 30), arms, (0.1, 30.0), None, None,
                           ("recovery", c, effects, 0.025), (q, DOSES, shapes, 0.2)))
    estimated = 0
    for r, rep in enumerate(reps):
        idx = np.split(np.random.default_rng([seed, 2, r]).permutation(300)[:90], [30, 60])
        times = [(o.recovery(r)[0][i], o.recovery(r)[1][i]) for o, i in zip(arms, idx)]
        for j, (lost, when) in enumerate(losses(seed, r, [30, 30, 30], 0.1, 30.0)):
            times[j] = censor_at_loss(*times[j], lost, when)
        log_hr = log_hazard_ratios([d for d, _ in times], [e for _, e in times])
        expected = estimate_statistics(*log_hr, c)
        assert [rep[f"mcp_t_{m}"] for m in (1, 2, 3)] == pytest.approx(list(expected), rel=1e-10)
        shape, dose = model_step_estimates(*log_hr, DOSES, shapes, expected >= q, 0.2)
        assert rep["mod_shape"] == shape and rep["mod_target_dose"] == pytest.approx(dose, rel=1e-10, nan_ok=True)
        estimated += math.isfinite(dose)
        # with the trial's own covariance: its own contrasts c ∝ V̂⁻¹μ, and significance by adjusted p
        beta, cov = log_hr
        c_own = np.linalg.solve(cov, effects.T).T
        c_own /= np.linalg.norm(c_own, axis=1)[:, None]
        t_own = (c_own @ beta) / np.sqrt(np.einsum("mi,ij,mj->m", c_own, cov, c_own))
        assert [own[r][f"mcp_t_{m}"] for m in (1, 2, 3)] == pytest.approx(list(t_own), rel=1e-10)
        p_own = np.array([own[r][f"mcp_p_{m}"] for m in (1, 2, 3)])
        assert np.all(np.diff(p_own[np.argsort(t_own)]) <= 1e-4)  # a larger statistic, a smaller adjusted p
        shape, dose = model_step_estimates(*log_hr, DOSES, shapes, p_own <= 0.025, 0.2)
        assert own[r]["mod_shape"] == shape
        assert own[r]["mod_target_dose"] == pytest.approx(dose, rel=1e-10, nan_ok=True)
    assert estimated >= 2  # target doses were compared, not only NaNs
    # a faster recovery with the dose: the rising (linear, emax) contrasts are positive in most trials
    assert np.mean([rep["mcp_t_1"] > 0 for rep in reps]) >= 0.8


def test_a_recovery_mcp_mod_takes_its_target_effect_on_the_log_hazard_ratio_scale():
    base = THREE_ARMS
    good = {"doses": list(DOSES), "shapes": [{"shape": "linear"}, {"shape": "emax", "ed50": 2.0e6}],
            "endpoint": "recovery"}
    design = trial_from_dict({**base, "mcp_mod": good})
    contrasts, _ = design.mcp_contrasts()
    assert contrasts.shape == (2, 2)  # shape x treated arm
    with_target = trial_from_dict({**base, "mcp_mod": {**good, "target_effect": 0.223}})
    assert with_target.mcp_modelling()[1:] == (DOSES, ("linear", "emax"), 0.223, False)
    with pytest.raises(TrialError, match="mcp_mod.endpoint"):
        trial_from_dict({**base, "mcp_mod": {**good, "endpoint": "death"}})


def test_placebo_adjusted_fits_recover_their_curve_and_equal_statsmodels_gls():
    from scipy.optimize import brentq

    from nephrosim.trials.mcpmod import fit_placebo_adjusted

    cov = np.array([[0.05, 0.02, 0.02], [0.02, 0.06, 0.02], [0.02, 0.02, 0.04]])  # a shared control
    for shape, coef, theta in TRUE:
        curve = _curve(shape, coef, theta, FOUR)
        effects = curve[1:] - curve[0]
        fit = fit_placebo_adjusted(shape, FOUR, effects, cov)
        got = predict(fit, FOUR)
        np.testing.assert_allclose(got[1:] - got[0], effects, rtol=1e-7, atol=1e-9, err_msg=shape)
        assert fit["gls"] == pytest.approx(0.0, abs=1e-12)
        root = brentq(lambda d: (_curve(shape, coef, theta, d) - _curve(shape, coef, theta, 0.0))[0] - 1.5, 1.0, 5.5e6)
        assert target_dose(fit, 1.5, FOUR.max()) == pytest.approx(root, rel=1e-5), shape
    rng = np.random.default_rng(2)
    y = rng.multivariate_normal(np.array([0.3, 0.5, 0.6]), cov)
    for shape, columns in (("linear", [FOUR[1:]]), ("quadratic", [FOUR[1:], FOUR[1:] ** 2])):
        x = np.column_stack(columns) / 1e6
        ref = sm.GLS(y, x, sigma=cov).fit()
        fit = fit_placebo_adjusted(shape, FOUR, y, cov)
        got = predict(fit, FOUR)
        np.testing.assert_allclose(got[1:] - got[0], ref.fittedvalues, rtol=1e-9)
        resid = y - ref.fittedvalues
        assert fit["gls"] == pytest.approx(float(resid @ np.linalg.solve(cov, resid)), rel=1e-9)
        assert fit["aic"] == pytest.approx(fit["gls"] + 2 * x.shape[1])


def test_adjusted_p_values_equal_monte_carlo_and_decide_as_the_critical_value():
    """The adjusted p of each contrast is P(max Z ≥ T_m) under N(0, R): checked against 10⁶ draws of max Z,
    and p ≤ alpha decides exactly as T_m ≥ the critical value of the same R (away from the boundary)."""
    from nephrosim.trials.mcpmod import adjusted_p_values, placebo_adjusted_contrasts

    cov = np.array([[0.09, 0.03], [0.03, 0.05]])  # unequal event counts: not the planned shape
    c = placebo_adjusted_contrasts(_means()[:, 1:] - _means()[:, :1], cov)
    s = c @ cov @ c.T
    r = s / np.sqrt(np.outer(np.diag(s), np.diag(s)))
    t = np.array([1.2, 2.1, 2.6])
    p = adjusted_p_values(t, r, 0.025)
    z = np.random.default_rng(3).multivariate_normal(np.zeros(3), r, 1_000_000).max(axis=1)
    for m in range(3):
        share = float((z >= t[m]).mean())
        assert abs(p[m] - share) <= 4 * math.sqrt(share * (1 - share) / 1e6) + 1e-3, (m, p[m], share)
    q = critical_value(r, None, 0.025)
    for value in (q - 0.02, q + 0.02, q - 0.3, q + 0.5):
        assert (adjusted_p_values(np.array([value, -1.0, 0.0]), r, 0.025)[0] <= 0.025) == (value >= q)
    assert np.isnan(adjusted_p_values(np.array([np.nan, 1.0, 2.0]), r, 0.025)[0])


def test_the_generalized_test_uses_the_trials_own_covariance_and_keeps_alpha():
    """DoseFinding's MCTtest(S = vCov, type = "general") on one trial: the contrasts are optimal for the trial's
    covariance, not the planned one; on estimates ~ N(0, V) the test rejects at one-sided alpha (the same
    decision as the max statistic against the critical value of V's contrasts, which is then checked on
    400,000 draws)."""
    from nephrosim.trials.mcpmod import generalized_test, placebo_adjusted_contrasts, planned_log_hr_covariance

    effects = _means()[:, 1:] - _means()[:, :1]
    v = np.array([[0.09, 0.03], [0.03, 0.05]])
    planned = placebo_adjusted_contrasts(effects, planned_log_hr_covariance((30, 30, 30)))
    own = placebo_adjusted_contrasts(effects, v)
    assert np.abs(own - planned).max() > 0.05  # the two contrasts differ for this covariance
    beta = np.array([0.35, 0.52])
    t, p = generalized_test(beta, v, effects, 0.025)
    np.testing.assert_allclose(t, (own @ beta) / np.sqrt(np.einsum("mi,ij,mj->m", own, v, own)), rtol=1e-12)
    s = own @ v @ own.T
    r = s / np.sqrt(np.outer(np.diag(s), np.diag(s)))
    q = critical_value(r, None, 0.025)
    draws = np.random.default_rng(11).multivariate_normal(np.zeros(2), v, 400_000)
    stats = (draws @ own.T) / np.sqrt(np.diag(s))
    share = float((stats.max(axis=1) >= q).mean())
    assert abs(share - 0.025) <= 4 * math.sqrt(0.025 * 0.975 / 400_000), share
    for b in draws[:60] * 2.2:  # trials around the boundary: the per-trial decision is the critical value's
        tb, pb = generalized_test(b, v, effects, 0.025)
        if np.all(np.abs(tb - q) > 1e-3):
            assert (pb.min() <= 0.025) == (tb.max() >= q)
    nan_t, nan_p = generalized_test(np.array([np.nan, 0.1]), v, effects, 0.025)
    assert np.isnan(nan_t).all() and np.isnan(nan_p).all()  # a failed Cox fit: not testable, not a crash


def test_covariance_is_a_recovery_setting():
    base = THREE_ARMS
    good = {"doses": list(DOSES), "shapes": [{"shape": "linear"}, {"shape": "emax", "ed50": 2.0e6}]}
    with pytest.raises(TrialError, match="mcp_mod.covariance: 'planned' applies to the estimate endpoints"):
        trial_from_dict({**base, "mcp_mod": {**good, "covariance": "planned"}})
    design = trial_from_dict({**base, "mcp_mod": {**good, "endpoint": "recovery"}})
    assert design.mcp_mod.estimated_covariance and len(design.mcp_task()) == 4
    planned = trial_from_dict({**base, "mcp_mod": {**good, "endpoint": "recovery", "covariance": "planned"}})
    assert not planned.mcp_mod.estimated_covariance and len(planned.mcp_task()) == 2


def test_log_odds_ratios_equal_statsmodels_logit():
    """The saturated logistic model's estimates in closed form equal statsmodels' Logit fit (params and
    covariance), sign flipped so that fewer events is positive; an arm without an event gives NaN."""
    from nephrosim.trials.mcpmod import log_odds_ratios

    rng = np.random.default_rng(17)
    events = [rng.random(60) < 0.35, rng.random(55) < 0.25, rng.random(70) < 0.15]
    est, cov = log_odds_ratios(events)
    arm = np.repeat([0, 1, 2], [e.size for e in events])
    exog = sm.add_constant(np.column_stack([arm == 1, arm == 2]).astype(float))
    fit = sm.Logit(np.concatenate(events).astype(float), exog).fit(disp=0)
    np.testing.assert_allclose(est, -fit.params[1:], rtol=1e-6)
    np.testing.assert_allclose(cov, fit.cov_params()[1:, 1:], rtol=1e-5)
    assert est[1] > est[0] > 0  # fewer events with the dose: positive, larger at the higher dose
    nan_est, nan_cov = log_odds_ratios([events[0], np.zeros(55, bool), events[2]])
    assert np.isnan(nan_est).all() and np.isnan(nan_cov).all()


def test_a_replicate_make_statistic_is_the_contrast_of_its_own_log_odds_ratios():
    """MCP-Mod on MAKE30: a replicate's statistics and adjusted p-values are generalized_test on the log odds
    ratios of the MAKE30 events that replicate drew (recomputed with the search's documented copy of the
    trial's event stream), and its modelling step is model_step_estimates on them."""
    from nephrosim.trials.mcpmod import generalized_test, log_odds_ratios, model_step_estimates, planned_test
    from nephrosim.trials.search import _replicate_arms

    rng = np.random.default_rng(23)
    arms = (synthetic_pool(300, 12.0, rng), synthetic_pool(300, 8.0, rng), synthetic_pool(300, 6.0, rng))
    for o, risk in zip(arms, (0.5, 0.3, 0.15)):  # MAKE30 risk falling with the dose (all of it dialysis)
        o.death_by_stage[:], o.persistent_dysfunction[:], o.dialysis[:] = 0.0, False, risk
        assert np.allclose(o.make30, risk)
    c, q = planned_test(DOSES, SHAPES, (40, 40, 40), 0.025, "make30")
    effects = _means()[:, 1:] - _means()[:, :1]
    shapes = tuple(shape for shape, *_ in SHAPES)
    seed = 4
    reps = _replicate_task((seed, 0, 6, (40, 40, 40), arms, None, None, None, ("make30", c, effects, 0.025),
                            (q, DOSES, shapes, 0.3)))
    significant_somewhere = 0
    for r, rep in enumerate(reps):
        idx = np.split(np.random.default_rng([seed, 2, r]).permutation(300)[:120], [40, 80])
        events = [e for e, _ in _replicate_arms("make30", list(arms), idx, r, seed, None)]
        est = log_odds_ratios(events)
        t, p = generalized_test(*est, effects, 0.025)
        assert [rep[f"mcp_t_{m}"] for m in (1, 2, 3)] == pytest.approx(list(t), rel=1e-10)
        assert [rep[f"mcp_p_{m}"] for m in (1, 2, 3)] == pytest.approx(list(p), rel=1e-10)
        shape, dose = model_step_estimates(*est, DOSES, shapes, p <= 0.025, 0.3)
        assert rep["mod_shape"] == shape and rep["mod_target_dose"] == pytest.approx(dose, rel=1e-10, nan_ok=True)
        significant_somewhere += shape > 0
    assert significant_somewhere >= 1  # the modelling step ran, not only NaNs


def test_make_mcp_mod_settings_name_the_field():
    good = {"doses": list(DOSES), "shapes": [{"shape": "linear"}, {"shape": "emax", "ed50": 2.0e6}]}
    design = trial_from_dict({**THREE_ARMS, "mcp_mod": {**good, "endpoint": "make30", "target_effect": 0.405}})
    assert design.mcp_mod.on_estimates and design.mcp_task()[0] == "make30"
    with pytest.raises(TrialError, match="mcp_mod.endpoint make90 reads MAKE at day 90 but endpoints.horizon_days is 30"):
        trial_from_dict({**THREE_ARMS, "mcp_mod": {**good, "endpoint": "make90"}})


def test_model_averaging_is_dosefindings_ave_aic():
    """selection: ave_aic — the target dose is Σ w_m TD_m with w_m = exp(−AIC_m/2) / Σ exp(−AIC_l/2) over the
    significant shapes (DoseFinding's MCPMod(selModel = "aveAIC"): doseEst %*% selMod), NaN when a shape's fit
    does not reach Δ; the index is the shape with the largest weight. Checked on 4 arms, the weights computed
    here from the AICs (unshifted), against the module's (shifted by the mean AIC)."""
    doses = (0.0, 2.0e6, 5.0e6, 1.0e7)
    rng = np.random.default_rng(31)
    true = 1.2 * np.array(doses) / (3.0e6 + np.array(doses))  # an emax curve
    samples = [m + rng.standard_normal(40) for m in true]
    shapes = ("linear", "emax", "quadratic")
    means = np.array([x.mean() for x in samples])
    within = float(sum(((x - x.mean()) ** 2).sum() for x in samples))
    fits = [fit_dose_response(sh, doses, means, np.full(4, 40.0), within) for sh in shapes]
    aic = np.array([f["aic"] for f in fits])
    w = np.exp(-aic / 2) / np.exp(-aic / 2).sum()
    tds = np.array([target_dose(f, 0.3, max(doses)) for f in fits])
    assert np.isfinite(tds).all()
    index, dose = model_step(samples, doses, shapes, [True, True, True], 0.3, average=True)
    assert dose == pytest.approx(float(w @ tds), rel=1e-12) and index == int(np.argmax(w)) + 1
    best, single = model_step(samples, doses, shapes, [True, True, True], 0.3)
    assert best == int(np.argmin(aic)) + 1 and single == pytest.approx(tds[best - 1], rel=1e-12)
    # a shape whose fit does not reach Δ makes the average NaN, as DoseFinding's NA does
    assert math.isnan(model_step(samples, doses, shapes, [True, True, True], 5.0, average=True)[1])
    # on one trial's replicate: the flag reaches the modelling step
    design = trial_from_dict({**THREE_ARMS, "mcp_mod": {"doses": list(DOSES), "shapes": [{"shape": "linear"}],
                                                        "target_effect": 1.0, "selection": "ave_aic"}})
    assert design.mcp_modelling()[4] is True


def _fit_arms_of(shape, doses, truth, rng):
    """Arms of 30 patients drawn around ``truth`` (SD 0.4), and ``shape`` fitted to their means: (the fit, every
    patient's dose, every patient's response)."""
    samples = [m + 0.4 * rng.standard_normal(30) for m in truth]
    means = np.array([x.mean() for x in samples])
    within = float(sum(((x - x.mean()) ** 2).sum() for x in samples))
    fit = fit_dose_response(shape, doses, means, np.full(len(doses), 30.0), within)
    return fit, np.repeat(doses, 30), np.concatenate(samples)


def test_sigmoid_emax_fits_beat_scipy_and_its_target_dose_is_the_root_of_the_curve():
    """DoseFinding's sigEmax shape (sig_emax): its standardized means in closed form; on five arms drawn from
    a steep curve, the profiled least-squares fit (grid then L-BFGS-B over ED50 and the Hill exponent) is
    at least as good as scipy's curve_fit on every patient from the truth, its AIC counts four parameters
    and the variance, its target dose is the brentq root of the fitted effect, and the placebo-adjusted
    (GLS) fit is at least as good as scipy's least_squares on the whitened estimates."""
    from scipy.optimize import brentq, curve_fit, least_squares

    from nephrosim.trials.mcpmod import fit_placebo_adjusted

    doses = (0.0, 1.0e6, 2.0e6, 4.0e6, 1.0e7)
    np.testing.assert_allclose(model_means("sig_emax", doses, 2.0e6, hill=3.0),
                               np.array(doses) ** 3 / (2.0e6 ** 3 + np.array(doses) ** 3))

    def curve(d, e0, emax, ed50, h):
        return e0 + emax * d ** h / (ed50 ** h + d ** h)

    rng = np.random.default_rng(37)
    truth = curve(np.array(doses), 0.0, 1.5, 2.5e6, 4.0)
    fit, d_all, y_all = _fit_arms_of("sig_emax", doses, truth, rng)
    ref, _ = curve_fit(curve, d_all, y_all, p0=[0.0, 1.5, 2.5e6, 4.0],
                       bounds=([-np.inf, -np.inf, 0.001 * 1e7, 0.5], [np.inf, np.inf, 1.5e7, 10.0]))
    ref_rss = float(np.sum((y_all - curve(d_all, *ref)) ** 2))
    assert fit["rss"] <= ref_rss * (1 + 1e-9)
    n = 150
    assert fit["aic"] == pytest.approx(n * math.log(2 * math.pi * fit["rss"] / n) + n + 2 * 5)
    td = target_dose(fit, 0.75, max(doses))
    root = brentq(lambda d: predict(fit, [d])[0] - predict(fit, [0.0])[0] - 0.75, 1.0, 1.0e7)
    assert td == pytest.approx(root, rel=1e-8)
    # placebo-adjusted estimates with a shared control's covariance
    cov = np.full((4, 4), 0.01) + np.diag([0.02, 0.03, 0.02, 0.025])
    est = truth[1:] - truth[0] + np.linalg.cholesky(cov) @ rng.standard_normal(4)
    gfit = fit_placebo_adjusted("sig_emax", doses, est, cov)
    root_l = np.linalg.cholesky(cov)

    def whitened(u):
        emax, ed50, h = u
        f = emax * np.array(doses[1:]) ** h / (ed50 ** h + np.array(doses[1:]) ** h)
        return np.linalg.solve(root_l, est - f)

    ls = least_squares(whitened, x0=[1.5, 2.5e6, 4.0], bounds=([-np.inf, 1e4, 0.5], [np.inf, 1.5e7, 10.0]),
                       x_scale=[1.0, 1e6, 1.0])
    assert gfit["gls"] <= 2 * ls.cost * (1 + 1e-9) + 1e-12
    assert gfit["aic"] == pytest.approx(gfit["gls"] + 2 * 3)


def test_sig_emax_settings_name_the_field():
    good = {"doses": list(DOSES), "shapes": [{"shape": "sig_emax", "ed50": 2.0e6, "hill": 3.0}]}
    design = trial_from_dict({**THREE_ARMS, "mcp_mod": good})
    assert design.mcp_mod.shapes[0].label == "sig_emax ED50 2e+06 h 3"
    contrasts, _ = design.mcp_contrasts()
    assert contrasts.shape == (1, 3)
    with pytest.raises(TrialError, match="the sig_emax shape needs hill"):
        trial_from_dict({**THREE_ARMS, "mcp_mod": {**good, "shapes": [{"shape": "sig_emax", "ed50": 2.0e6}]}})
    with pytest.raises(TrialError, match="hill is not a parameter of the emax shape"):
        trial_from_dict({**THREE_ARMS, "mcp_mod": {**good, "shapes": [{"shape": "emax", "ed50": 2.0e6, "hill": 2}]}})


def test_model_weights_do_not_overflow_when_the_aics_are_far_apart():
    from nephrosim.trials.mcpmod import model_weights

    w = model_weights([{"aic": -3000.0}, {"aic": 0.0}, {"aic": 10.0}])
    assert np.isfinite(w).all() and w[0] == pytest.approx(1.0) and w.sum() == pytest.approx(1.0)
    w = model_weights([{"aic": 10.0}, {"aic": 12.0}])
    assert w[0] / w[1] == pytest.approx(math.exp(1.0))  # exp(-AIC/2) ratios, whatever the shift


def test_beta_model_fits_beat_scipy_and_its_target_dose_is_the_rising_root():
    """DoseFinding's betaMod (beta): standardized means with the dose scale 1.2 × the largest dose (peak 1 at
    scal·δ1/(δ1 + δ2)); on five arms drawn from an umbrella, the profiled fit (grid then L-BFGS-B over δ1,
    δ2) is at least as good as scipy's curve_fit on every patient, its AIC counts four parameters and the
    variance, and its target dose is the first root of the fitted effect (brentq on the fitted curve)."""
    from scipy.optimize import brentq, curve_fit

    from nephrosim.trials.mcpmod import beta_curve

    doses = (0.0, 1.0e6, 2.0e6, 4.0e6, 1.0e7)
    scal = 1.2e7
    means0 = model_means("beta", doses, delta1=1.0, delta2=2.0)
    np.testing.assert_allclose(means0, beta_curve(doses, 1.0, 2.0, scal))
    assert beta_curve(scal / 3, 1.0, 2.0, scal) == pytest.approx(1.0)  # its mode and maximum

    def curve(d, e0, emax, d1, d2):
        return e0 + emax * beta_curve(d, d1, d2, scal)

    rng = np.random.default_rng(43)
    truth = curve(np.array(doses), 0.0, 1.2, 0.8, 1.6)
    fit, d_all, y_all = _fit_arms_of("beta", doses, truth, rng)
    ref, _ = curve_fit(curve, d_all, y_all, p0=[0.0, 1.2, 0.8, 1.6], bounds=([-np.inf, -np.inf, 0.05, 0.05],
                                                                          [np.inf, np.inf, 4.0, 4.0]))
    assert fit["rss"] <= float(np.sum((y_all - curve(d_all, *ref)) ** 2)) * (1 + 1e-9)
    assert fit["aic"] == pytest.approx(150 * math.log(2 * math.pi * fit["rss"] / 150) + 150 + 2 * 5)
    td = target_dose(fit, 0.5, max(doses))
    grid = np.linspace(1.0, max(doses), 20001)
    rise = predict(fit, grid) - predict(fit, [0.0])[0]
    first = grid[np.argmax(rise >= 0.5)]
    root = brentq(lambda d: predict(fit, [d])[0] - predict(fit, [0.0])[0] - 0.5, grid[0], first)
    assert td == pytest.approx(root, rel=1e-7)
    assert math.isnan(target_dose(fit, 10.0, max(doses)))  # beyond the fitted maximum: not reached
    design = trial_from_dict({**THREE_ARMS, "mcp_mod": {"doses": list(DOSES), "shapes": [
        {"shape": "beta", "delta1": 1.0, "delta2": 2.0}]}})
    assert design.mcp_mod.shapes[0].label == "beta delta1 1 delta2 2" and design.mcp_contrasts()[0].shape == (1, 3)
    with pytest.raises(TrialError, match="the beta shape needs delta2"):
        trial_from_dict({**THREE_ARMS, "mcp_mod": {"doses": list(DOSES), "shapes": [{"shape": "beta", "delta1": 1}]}})
