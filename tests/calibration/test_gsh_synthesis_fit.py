"""MSC induction of renal GSH synthesis and its formal fit (calibration/msc_gsh_synthesis.yaml,
kept in calibration/runs/msc_gsh_synthesis/).

The term (nephrosim.biology.injury.oxidative_stress) multiplies GSH synthesis by
1 + antioxidant_gsh_synthesis_gain · paracrine_antioxidant. Checked here:

* without a product it is exactly nothing: untreated arms (and a treated arm before its dose) are bit
  for bit the same whatever the gain;
* the kept run belongs to its config and its data (digests), its optimum is reproduced, and its
  verdict is checked independently of its own profile: the likelihood at the upper end of the
  assumed range lies within χ²₁(0.95)/2 of the optimum, so the interval is open and the table row
  stays ``assumed`` with its stated value (a row is ``fitted`` only where a shipped run identifies it);
* against Ashour 2016 (Table 2): the fitted model's MDA ratio on day 4, which the fit never saw, lies
  in the observation's 95 % interval; its GSH ratio on day 7 does not (a strict known miss: the MSC
  antioxidant exposure in the model lasts as long as the cells, about 3 days after the dose, and the
  observed GSH gain lasts 30 days).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from calib_problems import assert_run_belongs, kept_run

from nephrosim import simulate
from nephrosim.biology.parameters import ParameterTable
from nephrosim.calibration import PROFILE_THRESHOLD

NAME = "antioxidant_gsh_synthesis_gain"
LABEL = f"{NAME}[rat]"
Z95 = 1.959964


@pytest.fixture(scope="module")
def kept():
    return kept_run("msc_gsh_synthesis")


@pytest.fixture(scope="module")
def run(kept):
    return kept[1]


@pytest.fixture(scope="module")
def problem(kept):
    return kept[2]


@pytest.fixture(scope="module")
def ashour_at_fit(kept):
    """The config's Ashour scenario (rBMSC vs DMEM) at the fitted gain: GSH and MDA on days 4 and 7."""
    config, run, _ = kept
    study = config.studies[0]
    scenario = {**study.scenario, "readouts": ["gsh", "mda"], "times_h": [96, 168]}
    r = simulate(scenario, parameters={NAME: run["parameters"][LABEL]})
    assert r.ok, r.statuses
    return {k: r.get("rbmsc_iv", k) / r.get("dmem_iv", k) for k in ("gsh", "mda")}


def test_without_a_product_the_induction_is_exactly_nothing():
    sc = {"species": "rat", "injury": {"model": "cisplatin", "dose_mg_per_kg": 5.0},
          "arms": [{"name": "vehicle"},
                   {"name": "msc", "treatments": [{"product": "msc", "dose": 5e6, "route": "iv", "time_h": 24}]}],
          "readouts": ["gsh", "ros", "mda", "serum_creatinine"], "times_h": [6, 12, 23, 96, 168, 720]}
    runs = {g: simulate(sc, parameters={NAME: g}) for g in (0.0, 30.0)}
    assert all(r.ok for r in runs.values())
    before_dose = slice(0, 3)
    for k in sc["readouts"]:
        assert np.array_equal(runs[0.0].get("vehicle", k), runs[30.0].get("vehicle", k)), k
        assert np.array_equal(runs[0.0].get("msc", k)[before_dose], runs[30.0].get("msc", k)[before_dose]), k
    # and with MSC it acts: GSH on day 4 rises with the gain
    assert runs[30.0].get("msc", "gsh")[3] > 2 * runs[0.0].get("msc", "gsh")[3]


def test_the_run_belongs_to_its_config_and_its_data(kept):
    cfg, run, problem = kept
    assert_run_belongs(run, cfg, problem, 4, "Ashour2016_rbmsc", "Ashour 2016")
    # the contrasts are Table 2's rBMSC vs DMEM GSH means, SE from the SDs with n = 5 (delta method)
    table2 = {96: (0.78, 0.04, 0.26, 0.02), 168: (2.65, 0.15, 0.52, 0.03),
              264: (3.36, 0.14, 1.32, 0.30), 720: (5.05, 0.12, 1.91, 0.05)}
    for c in cfg.studies[0].contrasts:
        mt, st, mc, sc = table2[int(c.time_h)]
        assert c.estimate == pytest.approx(math.log(mt / mc), abs=1e-4)
        assert c.se == pytest.approx(math.sqrt(((st / mt) ** 2 + (sc / mc) ** 2) / 5), abs=1e-4)


def test_the_recorded_optimum_is_reproduced_and_the_profile_is_open_above(run, problem):
    x = np.asarray(run["x"])
    nll = problem.nll(x)
    assert nll == pytest.approx(run["nll"], abs=1e-6)
    lower, upper = problem.nll(problem.lower) - nll, problem.nll(problem.upper) - nll
    assert lower > PROFILE_THRESHOLD  # closed below ...
    assert 0 <= upper < PROFILE_THRESHOLD  # ... open above: the estimate sits at the end of the assumed range
    lo, hi = run["intervals_95"][LABEL]
    assert lo is not None and hi is None  # the run's own profile agrees


def test_the_row_is_fitted_only_where_a_shipped_run_identifies_it(run):
    rec = ParameterTable.default().record(NAME, "rat")
    identified = all(v is not None for v in run["intervals_95"][LABEL])
    assert rec.provenance == ("fitted" if identified else "assumed")
    assert (rec.lower, rec.upper) == tuple(run["cited_ranges"][LABEL])  # the range stays for the bands
    assert math.isclose(rec.value, 1.0)  # an assumed row keeps its stated value


def test_fitted_mda_on_day_4_is_inside_the_observation_interval(ashour_at_fit):
    """Not fitted: Ashour Table 2 MDA day 4, rBMSC 34.7 ± 4.95 vs DMEM 66.6 ± 2.86 (SD, n = 5)."""
    est = math.log(34.7 / 66.6)
    se = math.sqrt(((4.95 / 34.7) ** 2 + (2.86 / 66.6) ** 2) / 5)
    assert abs(math.log(ashour_at_fit["mda"][0]) - est) < Z95 * se


@pytest.mark.xfail(strict=True, reason="known miss: the fitted model's day-7 GSH ratio is ~1.9 against Ashour's 5.1 "
                   "(95 % 4.7-5.5); the model's MSC antioxidant exposure ends ~3 days after the dose "
                   "(docs/calibration.md, 'MSC and renal glutathione')")
def test_fitted_gsh_on_day_7_is_inside_the_observation_interval(ashour_at_fit, kept):
    contrast = next(c for c in kept[0].studies[0].contrasts if c.time_h == 168)
    assert abs(math.log(ashour_at_fit["gsh"][1]) - contrast.estimate) < Z95 * contrast.se
