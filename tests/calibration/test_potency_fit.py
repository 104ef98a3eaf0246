"""The formal MSC-potency fit (calibration/msc_potency.yaml, kept in calibration/runs/msc_potency/).

The run is reproducible from its data: its config and evidence digests match what the config
builds today, and the likelihood recomputed at its estimate is the one it recorded. Its verdict is
checked independently of the run's own profile: the likelihood at both ends of the cited range
stays within χ²₁(0.95)/2 of the optimum, so the 95 % profile interval is open on both sides and
the parameter table must keep the row ``assumed`` (a row is ``fitted`` only where a shipped run
identifies it).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from calib_problems import assert_run_belongs, kept_run

from nephrosim.biology.parameters import ParameterTable
from nephrosim.calibration import PROFILE_THRESHOLD

LABEL = "paracrine_ec50_cell_h_per_kg[rat]"


@pytest.fixture(scope="module")
def kept():
    return kept_run("msc_potency")


@pytest.fixture(scope="module")
def run(kept):
    return kept[1]


@pytest.fixture(scope="module")
def problem(kept):
    return kept[2]


def test_the_run_belongs_to_its_config_and_its_data(kept):
    cfg, run, problem = kept
    assert_run_belongs(run, cfg, problem, 1, "Cai2014_msc", "Cai 2014")


def test_the_recorded_optimum_is_reproduced_and_the_profile_is_open(run, problem):
    x = np.asarray(run["x"])
    nll = problem.nll(x)
    assert nll == pytest.approx(run["nll"], abs=1e-6)
    # the contrast alone: log ratio −0.300 ± 0.312, so no effect (ratio 1) is within 1 SE
    assert 0.5 * (0.300 / 0.312) ** 2 < PROFILE_THRESHOLD
    at_bounds = [problem.nll(np.array([b])) - nll for b in (problem.lower[0], problem.upper[0])]
    assert all(0 <= d < PROFILE_THRESHOLD for d in at_bounds)
    assert run["intervals_95"][LABEL] == [None, None]  # the run's own profile agrees: open on both sides
    lo, hi = run["cited_ranges"][LABEL]
    assert lo <= run["parameters"][LABEL] <= hi


def test_a_potency_row_is_fitted_only_where_a_run_identifies_it(run):
    rec = ParameterTable.default().record("paracrine_ec50_cell_h_per_kg", "rat")
    identified = all(v is not None for v in run["intervals_95"][LABEL])
    assert rec.provenance == ("fitted" if identified else "assumed")
    assert (rec.lower, rec.upper) == tuple(run["cited_ranges"][LABEL])  # the range stays for the bands
    assert math.isclose(rec.value, 5e7)  # an assumed row keeps its stated value


@pytest.mark.slow
def test_the_exact_gradient_of_a_treated_arm_finishes_and_equals_central_differences(problem):
    """The forward sensitivities of an arm given MSC into the renal artery used to creep on in
    10⁻⁹-h steps and never finish: libRoadRunner scaled the one scalar absolute tolerance by each
    state's value at the dose event, so a sensitivity of 10⁻²⁷ was solved to 10⁻³⁶. With one
    tolerance per state (``SensitivitySimulator``) the gradient is the central difference of the
    likelihood, at the nominal point and at the two ends of the cited range."""
    for x in (problem.x_nominal, problem.lower + 0.1, problem.upper - 0.1):
        _, g = problem.nll_and_grad(x)
        h = 1e-4
        fd = (problem.nll(x + h) - problem.nll(x - h)) / (2 * h)
        assert np.isfinite(g[0]) and g[0] == pytest.approx(fd, rel=1e-4, abs=1e-7)
