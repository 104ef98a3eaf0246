"""Donor-to-donor variability is a distribution, not a constant (issue 4, item 4).

A treatment without ``donor_potency`` is an unknown donor: a single simulation uses the
median donor, and an ensemble draws one donor per treatment from the log-normal donor
distribution (``msc_donor_potency_sigma`` = 0.5, assumed: Boyt 2020 "pre-licensing dose and
duration are revealed to be minor modifiers of MSCs inherent potency"). A stated
``donor_potency`` is a characterised donor and stays fixed.
"""

import numpy as np
import pandas as pd
import pytest
import yaml

from nephrosim import ensemble, simulate
from nephrosim.run.ensemble import donor_priors
from nephrosim.run.simulation import as_scenario

IRI = {"model": "ischemia_reperfusion", "clamp_min": 30}
MSC = {"product": "msc", "dose": 2e5, "route": "iv"}


def _scenario(**msc):
    return {"species": "mouse", "injury": IRI, "readouts": ["serum_creatinine"], "times_h": [0.0, 24.0],
            "arms": [{"name": "vehicle"}, {"name": "msc", "treatments": [{**MSC, **msc}]},
                     {"name": "ev", "treatments": [{"product": "ev", "dose": 5, "dose_unit": "ug_protein"}]}]}


def test_a_better_donor_protects_more():
    arms = [{"name": "vehicle"}] + [{"name": f"d{d}", "treatments": [{**MSC, "donor_potency": d}]} for d in (0.5, 1, 2)]
    r = simulate({"species": "mouse", "injury": IRI, "arms": arms, "readouts": ["serum_creatinine"],
                  "times_h": [0.0, 24.0]})
    assert r.ok, r.statuses
    scr = [r.get(a, "serum_creatinine")[-1] for a in ("vehicle", "d0.5", "d1", "d2")]
    assert scr[0] > scr[1] > scr[2] > scr[3]
    # the unknown donor simulates as the median donor
    median = simulate(_scenario()).get("msc", "serum_creatinine")[-1]
    assert median == pytest.approx(scr[2], rel=1e-6)


def test_unknown_donors_are_drawn_and_stated_donors_are_fixed():
    sc = as_scenario(_scenario())
    priors = donor_priors(sc)
    # treatment 1 of every arm is one donor (MSC and EVs of one donor, a matched comparison)
    assert [(p.name, p.distribution, p.a, p.b) for p in priors] == [("donor_potency_1", "lognormal", 1.0, 0.5)]
    assert donor_priors(as_scenario({**_scenario(donor_potency=1.3),
                                     "arms": _scenario(donor_potency=1.3)["arms"][:2]})) == []


@pytest.fixture(scope="module")
def spread(tmp_path_factory):
    """SCr at 24 h across 16 samples with parameter uncertainty off (cv = 0)."""
    def run(name, donor_variability=True, **msc):
        path = tmp_path_factory.mktemp(name) / "s.yaml"
        path.write_text(yaml.safe_dump(_scenario(**msc)))
        s = ensemble(path, 16, path.with_suffix(".parquet"), cv=0.0, seed=3, donor_variability=donor_variability)
        assert s.failure_fraction == 0, s.failures
        f = pd.read_parquet(s.path)
        f = f[(f.readout == "serum_creatinine") & (f.time_h == 24)]
        return {a: f[f.arm == a]["value"].to_numpy() for a in ("vehicle", "msc", "ev")}
    return run


def test_ensembles_draw_the_donor(spread):
    drawn = spread("drawn")
    assert np.ptp(drawn["vehicle"]) == 0  # nothing else varies at cv = 0
    for arm in ("msc", "ev"):
        assert drawn[arm].std() > 0.05 * drawn[arm].mean(), arm
    # one donor drives both products of a sample: their SCr move together
    assert np.corrcoef(drawn["msc"], drawn["ev"])[0, 1] > 0.9


def test_ensembles_keep_a_stated_donor_and_can_switch_variability_off(spread):
    stated = spread("stated", donor_potency=1.0)
    assert np.ptp(stated["msc"]) == 0
    assert np.ptp(stated["ev"]) > 0  # the EV treatment's donor is still unknown
    off = spread("off", donor_variability=False)
    assert np.ptp(off["msc"]) == 0 and np.ptp(off["ev"]) == 0
