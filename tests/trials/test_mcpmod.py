"""The MCP-Mod multiple contrast test (nephrosim.trials.mcpmod) against independent references: the
contrasts' closed form and their optimality against random contrasts, statsmodels' OLS contrast t-test,
Student's t for one shape, the type-I error on simulated normal data, and the trial's replicate statistic
recomputed by hand from the documented draws."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from nephrosim.trials import TrialError, trial_from_dict
from nephrosim.trials.mcpmod import contrast_correlation, contrast_statistics, critical_value, model_means, \
    optimal_contrasts
from nephrosim.trials.run import _replicate_task

from .conftest import synthetic_pool

DOSES = (0.0, 2.0e6, 1.0e7)
SHAPES = (("linear", None, None), ("emax", 2.0e6, None), ("quadratic", None, -1.0e-7))


def _means(doses=DOSES):
    return np.vstack([model_means(s, doses, ed50, delta) for s, ed50, delta in SHAPES])


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
    reps = _replicate_task((seed, 0, 4, (30, 30, 30), arms, (0.1, 30.0), None, None, c))
    for r, rep in enumerate(reps):
        idx = np.split(np.random.default_rng([seed, 2, r]).permutation(300)[:90], [30, 60])
        drop = np.random.default_rng([seed, 6, r])
        kept = []
        for _ in range(3):
            lost = drop.random(30) < 0.1
            drop.random(30)  # the loss times
            kept.append(~lost)
        samples = [-o.scr_auc[i][k] for o, i, k in zip(arms, idx, kept)]
        expected = contrast_statistics(samples, c)
        assert [rep[f"mcp_t_{m}"] for m in (1, 2, 3)] == pytest.approx(list(expected), rel=1e-12)


def test_bad_mcp_mod_settings_name_the_field():
    base = {"arms": [{"name": "placebo", "n": 20},
                     {"name": "low", "n": 20, "treatment": {"product": "msc", "dose": 2.0e6, "dose_unit": "cells/kg",
                                                            "route": "intra_arterial_aorta"},
                      "timing": {"relative_to": "diagnosis", "delay_h": 6}},
                     {"name": "high", "n": 20, "treatment": {"product": "msc", "dose": 1.0e7, "dose_unit": "cells/kg",
                                                             "route": "intra_arterial_aorta"},
                      "timing": {"relative_to": "diagnosis", "delay_h": 6}}]}
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
