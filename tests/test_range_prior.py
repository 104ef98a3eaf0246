"""The ``range`` prior of an assumed parameter (the band of ``--uncertainty shipped``).

An assumed row has a best value (the nominal the model runs with) and a plausible range. Drawn
log-uniformly, the draws centre on the range's geometric midpoint: a rat CLP survival band drawn
that way had a median of 0.002 % against the nominal model's 51 %, because a quarter of the
varied rows sit in the outer quarter of their log range (k_uremic_hazard 2.3e-4 in 1e-4–5.9e-3,
clp_drive_max 1.13 in 0.67–6). The ``range`` prior keeps the nominal as the median and the range
as the support, each bound 1.96 log-SDs away on its own side.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from nephrosim.run.ensemble import draw, priors_from_table
from nephrosim.run.ensemble.priors import RANGE_Z


def test_split_lognormal_has_the_nominal_as_median_and_the_range_as_support():
    varied = {"asymmetric": (2.26e-4, 1e-4, 5.9e-3), "symmetric": (1.0, 1 / 3, 3.0),
              "at_lower_bound": (0.1, 0.1, 1.0), "signed": (0.0, -1.0, 3.0)}
    priors = priors_from_table(varied, 0.0, "range")
    assert [p.distribution for p in priors] == ["split_lognormal", "split_lognormal", "split_lognormal",
                                                "split_normal"]
    x = draw(priors, 0, 40_000, 7)
    for j, (nominal, lo, hi) in enumerate(varied.values()):
        assert lo <= x[:, j].min() and x[:, j].max() <= hi
        if j < 2:
            np.testing.assert_allclose(np.median(np.log(x[:, j])), np.log(nominal), atol=0.02)
    # each side is a half-normal of the log, truncated at ±1.96 SD: its quartile sits at the
    # truncated half-normal's quartile (scipy), scaled by the side's SD
    a = np.log(x[:, 0] / varied["asymmetric"][0])
    sd_up, sd_down = np.log(5.9e-3 / 2.26e-4) / RANGE_Z, np.log(2.26e-4 / 1e-4) / RANGE_Z
    half = stats.truncnorm(0.0, RANGE_Z)
    np.testing.assert_allclose(np.median(a[a > 0]), sd_up * half.median(), rtol=0.03)
    np.testing.assert_allclose(np.median(-a[a < 0]), sd_down * half.median(), rtol=0.03)
    # a nominal at a bound is the mode: every draw lies on the range's side of it
    assert (x[:, 2] >= 0.1).all() and np.median(x[:, 2]) > 0.1
    # not positive: a split normal on the linear scale, median at the nominal
    np.testing.assert_allclose(np.median(x[:, 3]), 0.0, atol=0.03)
    assert abs(np.mean(x[:, 3] > 0) - 0.5) < 0.01


def test_range_draws_depend_only_on_the_seed_and_the_sample_index():
    priors = priors_from_table({"k": (2.0, 0.5, 20.0)}, 0.0, "range")
    whole = draw(priors, 0, 100, 3)
    np.testing.assert_array_equal(np.vstack([draw(priors, 0, 40, 3), draw(priors, 40, 100, 3)]), whole)
    assert not np.array_equal(draw(priors, 0, 100, 4), whole)


def test_the_log_uniform_table_prior_centres_on_the_range_not_on_the_nominal():
    """Why the band does not use ``table``: the same asymmetric row drawn log-uniformly has its
    median at the geometric midpoint of the range, 3.4 × the nominal."""
    x = draw(priors_from_table({"k": (2.26e-4, 1e-4, 5.9e-3)}, 0.0, "table"), 0, 20_000, 1)[:, 0]
    np.testing.assert_allclose(np.median(x), np.sqrt(1e-4 * 5.9e-3), rtol=0.05)
