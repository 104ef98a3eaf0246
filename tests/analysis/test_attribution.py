"""Mechanism attribution by exact Shapley values over the 64 knockout coalitions."""

import json
from itertools import product

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from nephrosim.analysis.attribution import attribute, knockout_values, shapley, shapley_interactions
from nephrosim.biology.therapy.paracrine import MECHANISMS
from tests.analysis._cli import mechanisms_app
from nephrosim.errors import UserInputError
from nephrosim.scenarios.schema import scenario_from_dict

HEAD_TO_HEAD = "examples/head_to_head_mouse_iri.yaml"


def reduced(arms):
    """The head-to-head example with only ``arms`` (compiling each arm is the slow part)."""
    with open(HEAD_TO_HEAD) as f:
        data = yaml.safe_load(f)
    data["arms"] = [a for a in data["arms"] if a["name"] in arms]
    return scenario_from_dict(data)


@pytest.fixture(scope="module")
def result():
    return attribute(reduced({"vehicle", "msc", "ev", "ev_rnase"}), "scr_auc")


def test_shapley_of_a_known_game():
    # v(S) = (Σ w_i)² on 3 players: φ_i = w_i · Σ w; interactions 2 w_i w_j
    w = np.array([1.0, 2.0, 3.0])
    v = np.array([sum(w[i] for i in range(3) if m >> i & 1) ** 2 for m in range(8)])
    np.testing.assert_allclose(shapley(v), w * w.sum())
    inter = shapley_interactions(v)
    np.testing.assert_allclose(inter[0, 1], 2 * w[0] * w[1])
    np.testing.assert_allclose(np.diag(inter), 0.0)


def test_knockouts_use_the_schema_where_it_has_them():
    scenario = reduced({"vehicle", "msc", "ev", "ev_rnase"})
    ev = knockout_values(scenario, "ev")
    assert ev["paracrine_ev_rna"] == {"ev1_rna_potency": 0.0}  # = knockouts: [rna_cargo]
    assert ev["paracrine_vegf"] == {"ev1_vegf_potency": 0.0}  # = knockouts: [vegf]
    assert ev["paracrine_antiinflammatory"] == {"ev_antiinflammatory_relative": 0.0}
    assert ev["paracrine_hgf"] == ev["paracrine_igf1"] == ev["paracrine_antioxidant"] == {}
    assert knockout_values(scenario, "ev_rnase")["paracrine_ev_rna"] == {}  # already knocked out
    msc = knockout_values(scenario, "msc")
    assert msc["paracrine_vegf"] == {"msc1_potency_vegf": 0.0}
    assert msc["paracrine_antioxidant"] == {"msc1_potency_antioxidant": 0.0}


def test_shapley_efficiency(result):
    assert set(result.arms) == {"msc", "ev", "ev_rnase"}
    for r in result.arms.values():
        assert sum(r.shares.values()) == pytest.approx(r.total, rel=1e-9, abs=1e-12)
        assert r.coalition(MECHANISMS) == r.total
        # IV products act only through the paracrine mechanisms (solver tolerance aside)
        assert abs(r.non_paracrine) < 1e-5 * result.vehicle_outcome
    msc, ev = result.arms["msc"], result.arms["ev"]
    assert msc.total > 0 and ev.total > 0
    assert all(v >= 0 for v in msc.shares.values())
    for m in ("paracrine_hgf", "paracrine_igf1", "paracrine_antioxidant"):  # EVs carry none of these
        assert ev.shares[m] == 0.0


def test_vegf_gate_is_cooperative(result):
    msc, ev = result.arms["msc"], result.arms["ev"]
    for m in ("paracrine_hgf", "paracrine_igf1", "paracrine_ev_rna"):
        assert msc.interaction("paracrine_vegf", m) > 0, m
    assert ev.interaction("paracrine_vegf", "paracrine_ev_rna") > 0.5 * ev.total
    # plain 2-way synergy at the empty coalition agrees in sign
    v = ev.coalitions
    bits = {m: 1 << ev.mechanisms.index(m) for m in ("paracrine_vegf", "paracrine_ev_rna")}
    both = bits["paracrine_vegf"] | bits["paracrine_ev_rna"]
    assert v[both] - v[bits["paracrine_vegf"]] - v[bits["paracrine_ev_rna"]] + v[0] > 0


def test_rnase_like_coalition_loses_most_of_the_ev_benefit(result):
    ev = result.arms["ev"]
    no_rna = ev.coalition([m for m in MECHANISMS if m != "paracrine_ev_rna"])
    assert no_rna < 0.05 * ev.total
    # the coalition is the schema's RNase-treated EV: the ev_rnase arm, simulated on its own
    assert no_rna + ev.non_paracrine == pytest.approx(result.arms["ev_rnase"].vs_vehicle, rel=1e-4)
    # VEGF knockdown of the MSC keeps well under the full benefit (Tögel 2009: reduced effectiveness)
    msc = result.arms["msc"]
    assert msc.coalition([m for m in MECHANISMS if m != "paracrine_vegf"]) < 0.6 * msc.total


def test_attribute_refuses_bad_input():
    scenario = reduced({"vehicle", "msc"})
    with pytest.raises(UserInputError, match="outcome"):
        attribute(scenario, outcome="scr")
    with pytest.raises(UserInputError, match="no treatments"):
        attribute(scenario, arms=["vehicle"])
    with pytest.raises(UserInputError, match="vehicle arm"):
        attribute(reduced({"msc"}))


def test_attribute_command_json(tmp_path):
    path = tmp_path / "ev.yaml"
    with open(HEAD_TO_HEAD) as f:
        data = yaml.safe_load(f)
    data["arms"] = [a for a in data["arms"] if a["name"] in ("vehicle", "ev")]
    path.write_text(yaml.safe_dump(data))
    runner, app = CliRunner(), mechanisms_app()
    done = runner.invoke(app, ["attribute", str(path), "--outcome", "scr_auc", "--samples", "0", "--json"])
    assert done.exit_code == 0, done.output
    out = json.loads(done.stdout)
    assert set(out) == {"ev"}
    ev = out["ev"]
    assert set(ev["shares"]) == set(MECHANISMS)
    assert sum(s["value"] for s in ev["shares"].values()) == pytest.approx(ev["total"], rel=1e-9)
    for s in ev["shares"].values():
        assert s["lo"] == s["value"] == s["hi"]  # --samples 0: nominal parameters only
    bad = runner.invoke(app, ["attribute", str(path), "--outcome", "nope"])
    assert bad.exit_code == 2 and "--outcome" in bad.output and "scr_auc" in bad.output
    bad = runner.invoke(app, ["attribute", str(path), "--arm", "vehicle"])
    assert bad.exit_code == 2 and "--arm" in bad.output
    bad = runner.invoke(app, ["attribute", str(path), "--samples", "-1"])
    assert bad.exit_code == 2 and "--samples" in bad.output and "Traceback" not in bad.output
    bad = runner.invoke(app, ["attribute", str(path), "--prior", "uniform"])
    assert bad.exit_code == 2 and "--prior" in bad.output


@pytest.fixture(scope="module")
def uncertain():
    """The EV arm over 8 parameter draws (EVs carry 3 of the 6 mechanisms — VEGF, RNA cargo and the
    anti-inflammatory action —, so 8 distinct coalitions per draw)."""
    return attribute(reduced({"vehicle", "ev"}), "scr_auc", samples=8, seed=5)


def test_efficiency_holds_in_every_parameter_draw(uncertain):
    for r in uncertain.arms.values():
        assert r.draw_shares.shape == (8, len(MECHANISMS)) and r.draw_totals.shape == (8,)
        np.testing.assert_allclose(r.draw_shares.sum(axis=1), r.draw_totals, rtol=1e-9, atol=1e-12)
        assert np.ptp(r.draw_totals) > 0.1 * r.total  # the draws do vary the benefit
        # a product without a mechanism gets exactly 0 for it in every draw (null player)
    ev = uncertain.arms["ev"]
    for m in ("paracrine_hgf", "paracrine_igf1", "paracrine_antioxidant"):
        assert np.all(ev.draw_shares[:, ev.mechanisms.index(m)] == 0.0)


def test_intervals_contain_the_nominal_split(uncertain):
    """How the benefit is split (share / total) is what attribution is about: the nominal split
    lies inside the draws' 95 % interval of each mechanism's fraction."""
    for r in uncertain.arms.values():
        for m, v in r.shares.items():
            lo, hi = r.fraction_interval(m)
            assert lo <= v / r.total <= hi, (r.arm, m, lo, v / r.total, hi)
        # JSON: per arm total and shares with value, lo, hi
        d = r.to_dict()
        assert d["draws"] == 8 and set(d["shares"]) == set(MECHANISMS)
        assert sum(s["value"] for s in d["shares"].values()) == pytest.approx(d["total"], rel=1e-9)
        assert all(s["lo"] <= s["hi"] and s["fraction_lo"] <= s["fraction"] <= s["fraction_hi"]
                   for s in d["shares"].values() if s["hi"] > 0)


def test_attribution_resumes_and_draws_depend_only_on_seed_and_index(tmp_path, uncertain):
    scenario = reduced({"vehicle", "ev", "ev_rnase"})  # ev_rnase adds no varied parameter: same priors
    first = attribute(scenario, arms=["ev"], samples=3, seed=5, out_dir=tmp_path)
    # draw k depends only on the seed and k: these 3 draws are the first 3 of the 8-draw fixture
    ev, ev8 = first.arms["ev"], uncertain.arms["ev"]
    np.testing.assert_allclose(ev.draw_shares, ev8.draw_shares[:3], rtol=1e-12)
    np.testing.assert_allclose(ev.draw_vs_vehicle, ev8.draw_vs_vehicle[:3], rtol=1e-12)
    assert ev.total == ev8.total  # the nominal split does not depend on the draws
    kept = (tmp_path / "arm-0.npz").stat().st_mtime_ns
    both = attribute(scenario, arms=["ev", "ev_rnase"], samples=3, seed=5, out_dir=tmp_path)
    assert (tmp_path / "arm-0.npz").stat().st_mtime_ns == kept  # ev was read back, not simulated again
    assert (tmp_path / "arm-1.npz").is_file()
    assert both.arms["ev"].shares == ev.shares
    np.testing.assert_array_equal(both.arms["ev"].draw_shares, ev.draw_shares)
    with pytest.raises(UserInputError, match="different request"):
        attribute(scenario, arms=["ev"], samples=2, seed=5, out_dir=tmp_path)
