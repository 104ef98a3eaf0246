"""Cultivation protocol → product attributes (fold changes with bounds and sources)."""

import pytest

from nephrosim.biology.parameters import ParameterTable
from nephrosim.biology.therapy import potency
from nephrosim.scenarios.protocols import Protocol, as_protocol, load_protocol
from therapy.conftest import msc, run

TABLE = ParameterTable.default()


def product_attributes(protocol, table=TABLE):
    return potency.product_attributes(as_protocol(protocol), table)


def lot_attributes(protocol, table=TABLE):
    return potency.lot_attributes(protocol, table)


def attr(protocol, name):
    df = product_attributes(protocol).set_index("attribute")
    return df.loc[name]


def test_reference_protocol_has_no_modifiers():
    df = product_attributes(None)
    assert set(df.columns) == {"attribute", "value", "lower", "upper", "unit", "source"}
    for m in ("potency_vegf", "potency_hgf", "ev_yield_fold", "cell_volume_ratio"):
        assert df.set_index("attribute").loc[m, "value"] == 1.0
    assert (df["lower"] <= df["value"]).all() and (df["value"] <= df["upper"]).all()


@pytest.mark.parametrize("source,fold", [("adipose", 5.0), ("bone_marrow", 2.0)])
def test_hypoxia_raises_vegf(source, fold):
    a = attr({"tissue_source": source, "hypoxia_o2_percent": 1, "hypoxia_hours": 48}, "potency_vegf")
    base = attr({"tissue_source": source}, "potency_vegf")
    assert a["value"] / base["value"] == pytest.approx(fold)
    assert a["lower"] < a["value"] < a["upper"]
    assert "Rehman" in a["source"] if source == "adipose" else "17276151" in a["source"]
    # mild hypoxia or short exposure: smaller effect
    mild = attr({"tissue_source": source, "hypoxia_o2_percent": 3, "hypoxia_hours": 48}, "potency_vegf")
    assert base["value"] < mild["value"] < a["value"]


def test_3d_culture_attributes():
    assert attr({"culture": "microcarrier"}, "ev_yield_fold")["value"] == pytest.approx(20)
    assert attr({"culture": "hollow_fibre"}, "ev_yield_fold")["value"] == pytest.approx(19.4)
    sph = product_attributes({"culture": "spheroid"}).set_index("attribute")
    assert sph.loc["cell_volume_ratio", "value"] == pytest.approx(0.25)
    assert sph.loc["lung_passage_fold", "value"] > 1
    assert sph.loc["potency_antiinflammatory", "value"] > 1


def test_passage_and_donor_age_lower_potency_and_raise_tissue_factor():
    young = attr({"passage": 3, "donor_age_years": 25}, "overall_potency")["value"]
    old = attr({"passage": 10, "donor_age_years": 70}, "overall_potency")["value"]
    assert old < young == 1.0
    assert attr({"passage": 10}, "tissue_factor_fold")["value"] > 1


def test_donor_variability_is_a_lognormal_distribution():
    d = attr(None, "donor_potency")
    assert d["value"] == 1.0 and d["lower"] < 0.6 and d["upper"] > 1.8
    assert d["lower"] * d["upper"] == pytest.approx(1.0)  # symmetric on the log scale
    assert "assumed" in d["source"]


def test_ifn_gamma_priming_decays_within_two_days():
    primed = {"priming": ["ifn_gamma"], "priming_hours": 24}
    assert lot_attributes(Protocol(**primed))["priming_antiinflammatory_excess"] > 0.5
    r = run([{"name": "plain", "treatments": [msc(dose=1e5, route="intraparenchymal")]},
             {"name": "primed", "treatments": [msc(dose=1e5, route="intraparenchymal", protocol=primed)]}],
            readouts=("paracrine_antiinflammatory_exposure",), times=(1, 48), injury={"model": "sham"})
    ratio = r.get("primed", "paracrine_antiinflammatory_exposure") / r.get("plain", "paracrine_antiinflammatory_exposure")
    assert ratio[0] > 1.5
    assert ratio[1] < 1 + 0.15 * (ratio[0] - 1)


def test_example_protocols_load():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "examples" / "protocols"
    # optimize.yaml is the search specification of `nephrosim optimize-protocol`, not a protocol
    files = sorted(f for f in folder.glob("*.yaml") if f.name != "optimize.yaml")
    assert len(files) >= 4
    for f in files:
        assert isinstance(load_protocol(f), Protocol)
        assert len(product_attributes(f)) > 5


def test_a_lower_bound_of_zero_is_a_bound():
    """Potency loss per passage has lower bound 0: the best case at passage 10 is no loss (1.0).

    (The bounds used to be read with ``lower or value``, which took a 0 for "missing" and
    reported 0.698 as the upper potency.)"""
    row = TABLE.record("protocol_passage_potency_loss_per_passage", "all")
    assert row.lower == 0.0
    assert attr({"passage": 10}, "overall_potency")["upper"] == pytest.approx(1.0)


def test_protocol_rows_come_from_the_table_given():
    """An override of a protocol row changes the attribute (no global table is read)."""
    name = "protocol_hypoxia_vegf_fold_bm"
    hyp = Protocol(hypoxia_o2_percent=1, hypoxia_hours=48)
    doubled = TABLE.with_overrides({name: 2 * TABLE.record(name, "all").value}, "all")
    assert lot_attributes(hyp, doubled)["potency_vegf"] == pytest.approx(2 * lot_attributes(hyp)["potency_vegf"])
