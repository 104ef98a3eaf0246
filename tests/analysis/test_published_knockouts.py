"""The model's single-factor knockouts against the published ones that give numbers.

A single-factor knockout of an experiment (siRNA/shRNA knockdown in the cells, a blocking
antibody, RNase) is the attribution coalition of the other mechanisms:
``ArmAttribution.knockout_kept(m)`` is the fraction of the product's benefit it keeps. The
published fraction is computed from the curated arm rows of the study, never typed in here:

    kept = (vehicle − knockdown) / (vehicle − treated)        (serum creatinine)

Rule (docs/mechanisms.md, "Compared with the published single-factor knockouts"): the model
matches when the published fraction lies inside the model's interval over the parameter draws.

Only one study in the evidence gives numbers for a single-factor knockout of an MSC product in
kidney injury: TSG-6-silenced BMSC in rat bilateral 45-min IRI (``TSG6BMSC2019_BioMedResInt``,
``curated/abstract_numbers.csv``). The VEGF (Tögel 2009), IGF-1 (Imberti 2007), IL-10 (Milwid
2012) and RNase-EV (Gatti 2011, Bruno 2009, Zou 2016) reports read are qualitative
(``curated/knockouts.md``); the
RNase-EV and VEGF directions are tested in ``test_attribution.py``.
"""

import numpy as np
import pytest

from nephrosim.analysis.attribution import attribute
from nephrosim.evidence.curated import curated_dir, read_curated
from nephrosim.scenarios.schema import scenario_from_dict

TSG6_STUDY = "TSG6BMSC2019_BioMedResInt"

#: The study's design as far as it was read: rat, both renal pedicles clamped 45 min at 37 °C,
#: bone-marrow MSC. Dose, route and timing were not on any page read; the scenario gives the
#: head-to-head example's dose per kg (2×10⁷ cells/kg, = 5×10⁵ cells in a 25-g mouse) IV at
#: reperfusion, as ``attribute --species rat`` does.
RAT_IRI_MSC = {
    "name": "tsg6_knockdown_rat_iri45",
    "species": "rat",
    "sex": "male",
    "injury": {"model": "ischemia_reperfusion", "clamp_min": 45, "bilateral": True, "temperature_c": 37},
    "arms": [
        {"name": "vehicle"},
        {"name": "msc", "treatments": [{"product": "msc", "source": "bone_marrow", "donor": "allogeneic",
                                         "dose": 2.0e7, "dose_unit": "cells/kg", "route": "iv", "time_h": 0}]},
    ],
    "readouts": ["serum_creatinine"],
    "times_h": [0, 24, 48, 168],
}


def published_fraction_kept(study: str, vehicle_arm: str, treated_arm: str, knockdown_arm: str) -> float:
    """(vehicle − knockdown) / (vehicle − treated) on serum creatinine, from the curated rows."""
    curated = read_curated(curated_dir() / "abstract_numbers.csv")
    assert not curated.issues, curated.issues
    rows = curated.frame
    rows = rows[(rows["study_id"] == study) & (rows["readout"] == "serum_creatinine")]
    scr = {arm: float(rows.loc[rows["arm_id"] == arm, "mean"].astype(float).squeeze())
           for arm in (vehicle_arm, treated_arm, knockdown_arm)}
    return (scr[vehicle_arm] - scr[knockdown_arm]) / (scr[vehicle_arm] - scr[treated_arm])


@pytest.fixture(scope="module")
def rat_msc():
    """The MSC arm of the rat 45-min IRI scenario over the first 4 parameter draws of seed 0
    (the same draws as the 20-draw run in docs/mechanisms.md)."""
    return attribute(scenario_from_dict(RAT_IRI_MSC), "scr_auc", samples=4, seed=0).arms["msc"]


def test_the_tsg6_study_reports_a_loss_of_most_of_the_benefit():
    # against the culture-medium vehicle (DMEM) and against untreated IRI: both say most is lost
    against_dmem = published_fraction_kept(TSG6_STUDY, "IRI_DMEM", "BMSC_2", "BMSC_shTSG6")
    against_untreated = published_fraction_kept(TSG6_STUDY, "IRI_noBMSC", "BMSC_2", "BMSC_shTSG6")
    assert 0.0 < against_dmem < against_untreated < 0.5


def test_anti_inflammatory_knockout_is_worth_little_in_the_model(rat_msc):
    """What the model says, independently of the study: removing the whole anti-inflammatory
    class (IL-10, TSG-6, PGE2/IDO together) keeps almost all of the MSC benefit, in every draw,
    because the class acts on leukocytes, TNF and glomeruli, not on tubular survival, and overlaps
    with the mechanisms that do (its Shapley share, ~7 %, is mostly shared credit)."""
    value, _, _ = rat_msc.knockout_kept("paracrine_antiinflammatory")
    assert value > 0.9
    d = rat_msc.draw_coalitions
    full = (1 << len(rat_msc.mechanisms)) - 1
    no_ai = full & ~(1 << rat_msc.mechanisms.index("paracrine_antiinflammatory"))
    assert np.all(d[:, no_ai] / d[:, full] > 0.9)


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "known miss: TSG-6-silenced BMSC kept ~20 % of the SCr benefit in rat 45-min IRI (40 % against "
    "untreated IRI); in the model, knocking out the whole anti-inflammatory class (of which TSG-6 is an "
    "assumed 0.4 share) keeps ~99 % (95 % interval of 20 draws 95-100 %), because the class acts on "
    "leukocyte recruitment, TNF, macrophage polarisation and glomeruli (ai_max_suppression, "
    "ai_max_polarization, assumed), not on tubular survival, and overlaps with the other mechanisms; the study's TSG-6 also raised tubular "
    "proliferation (Ki67 43 vs 30 %), which the model gives to HGF and EV RNA only."))
def test_tsg6_knockdown_keeps_what_the_study_found(rat_msc):
    published = published_fraction_kept(TSG6_STUDY, "IRI_DMEM", "BMSC_2", "BMSC_shTSG6")
    # the class knockout keeps no more than the TSG-6 share alone would: an upper bound on the loss
    _, lo, hi = rat_msc.knockout_kept("paracrine_antiinflammatory")
    assert lo <= published <= hi


def test_vegf_knockdown_reduces_the_benefit_in_every_draw(rat_msc):
    """Tögel 2009 (rat ischemic AKI): VEGF-siRNA MSC had "reduced effectiveness" — qualitative, so the
    rule is direction only: the knockdown loses at least a tenth of the benefit in every draw."""
    _, _, hi = rat_msc.knockout_kept("paracrine_vegf")
    assert hi < 0.9


#: Milwid 2012 (Stem Cells Int 2012:392050): rat cisplatin 7.5 mg/kg i.p., 1 mL BMSC-CM i.v. at
#: 3, 9, 24, 48 and 72 h. The CM's cell-equivalents per mL were not read: 2×10⁷ cell-eq./kg per
#: dose, the head-to-head dose per kg.
RAT_CISPLATIN_CM = {
    "name": "il10_blockade_rat_cisplatin_cm",
    "species": "rat",
    "sex": "male",
    "injury": {"model": "cisplatin", "dose_mg_per_kg": 7.5},
    "arms": [
        {"name": "vehicle"},
        {"name": "cm", "treatments": [{"product": "conditioned_medium", "source": "bone_marrow", "dose": 2.0e7,
                                        "dose_unit": "cell_equivalents/kg", "route": "iv", "time_h": t}
                                       for t in (3, 9, 24, 48, 72)]},
    ],
    "readouts": ["serum_creatinine"],
    "times_h": [0, 24, 72, 120, 168],
}


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "known miss: an anti-IL-10 antibody in BMSC-CM 'abates the survival benefit' and 'reduces the tissue "
    "sparing capacity' in rat cisplatin AKI (Milwid 2012, qualitative); in the model the whole "
    "anti-inflammatory class of the CM keeps ~97 % of its benefit when knocked out (the class does not act "
    "on tubular survival and overlaps with VEGF and EV RNA), and the antibody's neutralisation of the "
    "host's own IL-10 has no counterpart in a product knockout."))
def test_il10_blockade_of_conditioned_medium_reduces_its_benefit():
    cm = attribute(scenario_from_dict(RAT_CISPLATIN_CM), "tubular_injury_auc", samples=0).arms["cm"]
    assert cm.total > 0
    kept, _, _ = cm.knockout_kept("paracrine_antiinflammatory")
    assert kept < 0.9  # the qualitative rule: a reported loss means the model loses at least a tenth
