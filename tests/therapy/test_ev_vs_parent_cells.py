"""EVs vs their parent MSCs at the doses of the meta-analyses, in mouse and rat IRI.

Issue 4: "EVs and parent cells have effects on SCr that do not differ much at the doses
used in the meta-analyses, and both give large effects in rodent IRI (pooled SMD ≈ −3.5
on SCr)". Sources (``evidence/meta_analyses_ev.md``):

* Zhang 2020 (doi:10.1186/s13287-019-1530-4, 31 rodent AKI studies): SCr SMD −3.71
  (−4.32, −3.10); "no significant difference was found between stem cell-derived EVs
  and stem cells".
* Li XQ 2022 (Syst Rev 11:197, doi:10.1186/s13643-022-02003-5, 30 rodent IRI studies):
  SCr SMD −3.47 (−4.15, −2.80); SMD thresholds 0.2 / 0.5 / 0.8 / 1.0.

Typical doses (Li XQ 2022 Table 1 and review tables in meta_analyses_ev.md), each a single
IV dose at reperfusion:

* mouse EV: 15 µg (Bruno 2009, the lowest rodent AKI dose) and 80 µg (Cao, hP-MSC EVs,
  mouse IRI); MSC: 5×10⁵ cells (2×10⁷/kg, the efficacious mouse dose of
  ``paracrine_ec50_cell_h_per_kg``).
* rat EV: 30 µg (Gatti 2011, BM-MSC MVs, 45-min IRI of a solitary kidney) and 100 µg
  (Gu, Wang 2014, Zhang 2014); MSC: 1×10⁶ cells (Alzahrani 2019, Cao 2010, Xiu 2018,
  Lam: 1×10⁶ per rat in evidence/).

SCr is read at 24 and 48 h (the meta-analysed read-outs are days 1–3).
"""

import csv
import statistics
from importlib import resources

import numpy as np
import pytest

READ_H = (24.0, 48.0)
TIMES = (0.0, 6.0, 12.0, 24.0, 48.0, 72.0)
EV_DOSES_UG = {"mouse": (15, 80), "rat": (30, 100)}
MSC_CELLS = {"mouse": 5e5, "rat": 1e6}
INJURY = {"mouse": {"model": "ischemia_reperfusion", "clamp_min": 30},
          "rat": {"model": "ischemia_reperfusion", "clamp_min": 45, "bilateral": False,
                  "contralateral_nephrectomy": True}}
#: Ratio of SCr reductions (EV / MSC) counted as "not much different".
RATIO_RANGE = (0.5, 2.0)
#: Model SMD at or below which an effect counts as large (see test_both_give_a_large_effect).
SMD_LARGE = -1.5


def control_scr_cv() -> float:
    """Median coefficient of variation of SCr in the control (vehicle/untreated) arms of the
    rodent studies in ``evidence/preclinical_msc.csv`` and ``preclinical_secretome.csv``.

    Dispersions are taken as reported (the curated rows say "not stated" for SD vs SEM), i.e.
    as the meta-analyses would have used them. Duplicate rows of one study arm count once.
    """
    cvs = {}
    data = resources.files("nephrosim.evidence").joinpath("data")
    for name in ("preclinical_msc.csv", "preclinical_secretome.csv"):
        for r in csv.DictReader(data.joinpath(name).read_text("utf-8").splitlines()):
            if r["species"] not in ("mouse", "rat") or "creatinine" not in r["readout"].lower():
                continue
            arm = r["arm"].lower()
            if "sham" in arm or not any(w in arm for w in ("vehicle", "untreated", "control", "rm (")):
                continue
            if "+ bm +" in arm or "msc" in arm:
                continue
            try:
                mean, sd = float(r["mean"]), float(r["dispersion"])
            except ValueError:
                continue
            cvs[(round(mean, 2), round(sd, 2))] = sd / mean
    assert len(cvs) >= 4, cvs
    return statistics.median(cvs.values())


def test_control_cv_comes_from_the_evidence():
    cv = control_scr_cv()
    # Cai 2014 rat IRI 5.22 ± 0.43 and 5.01 ± 0.87; glycerol mouse 221.75 ± 24.60 and
    # 206.68 ± 21.75; cisplatin mouse 244.5 ± 34.5 µmol/L → median CV ≈ 0.11
    assert 0.08 < cv < 0.2


@pytest.fixture(scope="module", params=("mouse", "rat"))
def head_to_head(request):
    from nephrosim import simulate

    species = request.param
    arms = [{"name": "vehicle"},
            {"name": "msc", "treatments": [{"product": "msc", "dose": MSC_CELLS[species], "route": "iv",
                                            "donor": "allogeneic"}]}]
    arms += [{"name": f"ev_{d}ug", "treatments": [{"product": "ev", "dose": d, "dose_unit": "ug_protein",
                                                   "route": "iv"}]} for d in EV_DOSES_UG[species]]
    result = simulate({"species": species, "injury": INJURY[species], "arms": arms,
                       "readouts": ["serum_creatinine"], "times_h": list(TIMES)})
    assert result.ok, result.statuses
    return species, result


def _scr(result, arm, t):
    return float(np.interp(t, result.times_h, result.get(arm, "serum_creatinine")))


def _reduction(result, arm, t):
    """Fractional SCr reduction vs vehicle at ``t`` (0 = none, 1 = SCr at zero)."""
    return 1 - _scr(result, arm, t) / _scr(result, "vehicle", t)


def model_smd(result, arm, t, cv):
    """(treated − control) / SD with SD = cv × control SCr (Glass's Δ on the control arm)."""
    control = _scr(result, "vehicle", t)
    return (_scr(result, arm, t) - control) / (cv * control)


def test_vehicle_is_injured(head_to_head):
    _, r = head_to_head
    assert _scr(r, "vehicle", 24) > 3 * _scr(r, "vehicle", 0)


def test_evs_and_parent_cells_do_not_differ_much(head_to_head):
    """Zhang 2020: "no significant difference ... between stem cell-derived EVs and stem
    cells". At each typical EV dose the SCr reduction is within a factor 2 of the parent
    cells' (0.5–2), at 24 and 48 h."""
    species, r = head_to_head
    for dose in EV_DOSES_UG[species]:
        for t in READ_H:
            msc, ev = _reduction(r, "msc", t), _reduction(r, f"ev_{dose}ug", t)
            assert msc > 0.1 and ev > 0.1, (species, dose, t, msc, ev)
            assert RATIO_RANGE[0] <= ev / msc <= RATIO_RANGE[1], (species, dose, t, msc, ev)


def test_both_give_a_large_effect(head_to_head):
    """Model SMD = (treated − vehicle SCr) / SD, SD = CV × vehicle SCr, CV = median CV of
    control-arm SCr in the curated rodent studies (:func:`control_scr_cv`, ≈ 0.11).

    Threshold −1.5: the pooled SMDs (−3.47 in IRI, Li XQ 2022; −3.71 in all AKI, Zhang
    2020) come from small, unblinded studies with probable publication bias, and
    meta_analyses_ev.md §D says to treat them as upper bounds, not as calibrated effects. A
    model of the mean biology should therefore sit below the pooled value but still well
    inside the "very large" class (|SMD| > 1.0, Li XQ 2022's top threshold); −1.5 is that
    bound with a margin, and roughly the lower end of the per-study effects that pool to
    −3.5. For CV 0.11 it asks for a ≥ 17 % SCr reduction.
    """
    species, r = head_to_head
    cv = control_scr_cv()
    for arm in ("msc", *(f"ev_{d}ug" for d in EV_DOSES_UG[species])):
        for t in READ_H:
            smd = model_smd(r, arm, t, cv)
            assert smd <= SMD_LARGE, (species, arm, t, round(smd, 2))
