"""MSC in rat 5/6 nephrectomy against the CKD meta-analysis (issue 14 items 7–8).

Papazova 2015 (71 articles of cell therapy in preclinical CKD; evidence/meta_analyses.md #3):
"This was most prominent for urinary protein (SMD, 1.34; 95% CI, 1.00–1.68) and urea (1.09;
0.66–1.51), both P<0.001" — positive SMD is benefit. "The timing of therapy ..., and cell origin
and dose, were not associated with efficacy"; IV and renal-artery routes were both effective.

The model gives means, not an SMD. With a common SD, SMD = (vehicle − treated) / SD, so the
treated/vehicle ratio is ``1 − SMD · CV`` where CV = SD / vehicle mean:

* urea: no CV of urea in 5/6-Nx vehicle groups is curated; 0.15–0.35 is assumed (the usual spread
  of rodent BUN in CKD groups). With the CI of the SMD: ratio 1 − 1.51·0.35 = 0.47 to
  1 − 0.66·0.15 = 0.90.
* urinary protein: CV 54/140 = 0.39 in 3/4-nephrectomised SD rats (Nephron 1991, PMID 1944721,
  "140 +/- 54 mg/day", untreated_timecourses). Ratio 1 − 1.68·0.39 = 0.34 to 1 − 1.00·0.39 = 0.61.

The design is one the curated 5/6-Nx MSC studies used: 1×10⁶ MSC i.v. at the nephrectomy and
every other week (growth-factor-conditioned MSC, J Cell Mol Med 2012, evidence/
preclinical_secretome.csv), read at week 12, the last time of the untreated course (Faraj &
Morley). A single dose (0.5×10⁶ i.v., Villanueva 2011: "a marked reduction in plasma creatinine
levels" at 5 weeks) and the renal-artery route must act in the same direction.
"""

from __future__ import annotations

import numpy as np
import pytest

from nephrosim import simulate

WEEK = 168.0
TIMES = [0.0, 4 * WEEK, 5 * WEEK, 8 * WEEK, 12 * WEEK]
_MSC = {"product": "msc", "source": "bone_marrow", "donor": "allogeneic", "dose_unit": "cells"}


@pytest.fixture(scope="module")
def nx():
    """Rat 5/6 nephrectomy: vehicle, MSC every other week i.v., one i.v. dose, one renal-artery dose."""
    every_other_week = [{**_MSC, "dose": 1e6, "route": "iv", "time_h": t} for t in np.arange(0, 12 * WEEK + 1, 2 * WEEK)]
    result = simulate({
        "species": "rat", "injury": {"model": "nephrectomy_5_6"},
        "arms": [{"name": "vehicle"},
                 {"name": "msc_q2w_iv", "treatments": every_other_week},
                 {"name": "msc_once_iv", "treatments": [{**_MSC, "dose": 5e5, "route": "iv", "time_h": 24}]},
                 {"name": "msc_once_renal_artery", "treatments": [{**_MSC, "dose": 1e5, "route": "renal_artery",
                                                                   "time_h": 24}]}],
        "readouts": ["serum_creatinine", "bun", "proteinuria", "glomerulosclerosis"],
        "times_h": TIMES,
    })
    assert all(s.ok for s in result.statuses.values()), result.statuses
    return result


def _ratio(result, arm, readout, t):
    i = TIMES.index(t)
    return float(result.get(arm, readout)[i] / result.get("vehicle", readout)[i])


def test_repeated_msc_lower_urea_by_the_meta_analytic_amount(nx):
    assert 0.47 <= _ratio(nx, "msc_q2w_iv", "bun", 12 * WEEK) <= 0.90


@pytest.mark.xfail(strict=True, reason=(
    "known miss: at week 12 the model's proteinuria ratio is ~0.9, not 0.34–0.61: treated remnants keep more "
    "nephrons, and each still hyperfilters and leaks; the glomerular protection (glom_msc_max_protection 0.5) "
    "and its duration are assumed, not fitted"))
def test_repeated_msc_lower_proteinuria_by_the_meta_analytic_amount(nx):
    assert 0.34 <= _ratio(nx, "msc_q2w_iv", "proteinuria", 12 * WEEK) <= 0.61


@pytest.mark.parametrize("arm", ["msc_q2w_iv", "msc_once_iv", "msc_once_renal_artery"])
def test_every_schedule_and_route_lowers_creatinine_and_urea(nx, arm):
    """The issue's finding was a ratio of exactly 1.000 for every schedule and route: now each helps."""
    for readout in ("serum_creatinine", "bun"):
        for t in (5 * WEEK, 8 * WEEK, 12 * WEEK):
            assert _ratio(nx, arm, readout, t) < 0.99, (arm, readout, t)


def test_ckd_readouts_are_in_the_catalogue_with_units_and_rest_in_a_sham():
    from nephrosim.biology.readouts import available_readouts

    catalogue = available_readouts()
    assert catalogue["proteinuria"].unit == "fold" and catalogue["glomerulosclerosis"].unit == "%"
    sham = simulate({"species": "mouse", "injury": {"model": "sham"}, "readouts": ["proteinuria", "glomerulosclerosis"],
                     "times_h": [0, 8 * WEEK]})
    assert np.allclose(sham.get("vehicle", "proteinuria"), 1.0, atol=1e-6)
    assert np.allclose(sham.get("vehicle", "glomerulosclerosis"), 0.0, atol=1e-4)


def test_msc_after_adriamycin_lower_proteinuria_creatinine_and_urea():
    """Rat adriamycin FSGS: "BMSC transplantation reduced the 24-h urinary protein excretion, and serum
    creatinine and urea nitrogen levels" at 8 weeks (BMC Nephrology 2018, doi:10.1186/s12882-018-1137-5,
    evidence/preclinical_secretome.csv; dose and timing not read: 1×10⁶ i.v. on day 1 here). Direction only."""
    t = 8 * WEEK
    result = simulate({"species": "rat", "injury": {"model": "adriamycin", "dose_mg_per_kg": 7.5},
                       "arms": [{"name": "vehicle"}, {"name": "msc", "treatments": [{**_MSC, "dose": 1e6, "route": "iv",
                                                                                      "time_h": 24}]}],
                       "readouts": ["serum_creatinine", "bun", "proteinuria"], "times_h": [0, t]})
    for readout in ("proteinuria", "serum_creatinine", "bun"):
        assert result.get("msc", readout)[-1] < result.get("vehicle", readout)[-1], readout
