"""Pre-treatment: products given before the insult (time_h < 0).

Preconditioning designs give MSC or EVs before the injury: BMSC 24 h before gentamicin
(Reis 2012, PLoS One, doi:10.1371/journal.pone.0044092: "In the prevention groups, the
animals received the BMSCs 24 h before or on the 5th day of G treatment"), BM-MSC EVs 1 h
before a 45-min mouse IRI (Pharmaceutics 2023 Table 1, evidence/meta_analyses_ev.md).
Integration then starts at the first dose, from the healthy steady state.
"""

import numpy as np
import pytest

from nephrosim.scenarios.products import EV, MSC, ConditionedMedium
from therapy.conftest import msc, run


@pytest.mark.parametrize("product", [MSC, EV, ConditionedMedium])
def test_pretreatment_window_is_validated(product):
    kw = {"dose": 10.0, "dose_unit": "ug_protein"} if product is EV else {"dose": 1e5}
    assert product(time_h=-24, **kw).dose_times_h() == [-24.0]
    assert product(time_h=-720, **kw).time_h == -720
    with pytest.raises(ValueError, match=r"time_h=-721.*30 days"):
        product(time_h=-721, **kw)


def test_scenario_error_names_the_dose_time():
    from nephrosim.scenarios.errors import ScenarioError
    from nephrosim.run.simulation import as_scenario

    with pytest.raises(ScenarioError, match="time_h"):
        as_scenario({"species": "mouse", "arms": [{"name": "a", "treatments": [
            {"product": "msc", "dose": 1e5, "time_h": -2000}]}]})


def test_pretreatment_is_given_before_the_insult_end_to_end():
    """MSC 24 h before a prescribed clearance fall (defined at rest before t = 0): at t = 0
    the lung holds what a dose at t = 0 holds 24 h later (half the dose, t½ 24 h), and the
    paracrine factors are already acting at the insult."""
    r = run([{"name": "pre", "treatments": [msc(time_h=-24)]}, {"name": "at0", "treatments": [msc()]}],
            readouts=("msc_lung", "paracrine_hgf", "serum_creatinine"), times=(0, 24, 48))
    lung_pre, lung_at0 = r.get("pre", "msc_lung"), r.get("at0", "msc_lung")
    assert lung_pre[0] == pytest.approx(lung_at0[1], rel=0.02)
    assert 0.4 * 5e5 < lung_pre[0] < 0.55 * 5e5
    assert r.get("pre", "paracrine_hgf")[0] > 0.2
    assert r.get("at0", "paracrine_hgf")[0] < 0.01


@pytest.mark.parametrize("injury", [{"model": "ischemia_reperfusion", "clamp_min": 30},
                                    {"model": "cisplatin", "dose_mg_per_kg": 10}])
def test_the_insult_waits_for_time_zero(injury):
    """Integration from a dose 24 h before the insult: nothing of the insult acts before
    t = 0 (no reperfusion pulse running backwards, no cisplatin distributing early), so an
    inert pre-treatment (RNase-treated EVs of VEGF-knockdown cells: neither modelled cargo acts; RNase
    alone leaves the VEGF protein cargo, Zou 2016) gives the vehicle's course."""
    from nephrosim import simulate

    ev_inert = {"product": "ev", "dose": 30, "dose_unit": "ug_protein", "knockouts": ["rna_cargo", "vegf"],
              "time_h": -24}
    r = simulate({"species": "mouse", "injury": injury, "readouts": ["serum_creatinine", "tubular_injury_score"],
                  "arms": [{"name": "vehicle"}, {"name": "inert_pre", "treatments": [ev_inert]}],
                  "times_h": [0, 24, 96]})
    assert r.ok, r.statuses
    for readout in ("serum_creatinine", "tubular_injury_score"):
        np.testing.assert_allclose(r.get("inert_pre", readout), r.get("vehicle", readout), rtol=0.01, atol=1e-6)
    assert r.get("vehicle", "serum_creatinine").max() > 1.5 * r.get("vehicle", "serum_creatinine")[0]


def test_pretreatment_helps_in_mouse_iri():
    """MSC 24 h before a 30-min bilateral clamp lower the 24-h SCr (preconditioning), while
    an inert pre-treatment (RNase-treated EVs: no active cargo) leaves the injury as it is."""
    from nephrosim import simulate

    ev_inert = {"product": "ev", "dose": 30, "dose_unit": "ug_protein", "knockouts": ["rna_cargo", "vegf"],
              "time_h": -24}
    r = simulate({"species": "mouse", "injury": {"model": "ischemia_reperfusion", "clamp_min": 30},
                  "arms": [{"name": "vehicle"}, {"name": "inert_pre", "treatments": [ev_inert]},
                           {"name": "msc_pre", "treatments": [msc(time_h=-24, donor="allogeneic")]}],
                  "readouts": ["serum_creatinine"], "times_h": [0, 6, 24, 48]})
    assert r.ok, r.statuses
    np.testing.assert_allclose(r.get("inert_pre", "serum_creatinine"), r.get("vehicle", "serum_creatinine"),
                               rtol=0.01)
    assert r.get("msc_pre", "serum_creatinine")[2] < 0.8 * r.get("vehicle", "serum_creatinine")[2]


def test_each_pretreatment_dose_is_given_at_its_own_time():
    """Two doses, 48 h and 24 h before the insult (lung t½ 24 h): at t = 0 the lung holds
    ¼ + ½ of a dose. (An SBML simulator that evaluated every trigger at model time 0 would
    give both at the start: ½ a dose.)"""
    r = run([{"name": "two", "treatments": [msc(time_h=-48), msc(time_h=-24)]}],
            readouts=("msc_lung",), times=(0, 24))
    assert r.get("two", "msc_lung")[0] == pytest.approx(0.75 * 5e5, rel=0.05)
