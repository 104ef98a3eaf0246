"""``knockout_kept`` in the outputs of ``nephrosim attribute``: the fraction of an arm's paracrine
benefit that a single-factor knockout keeps, v(N∖{m}) / v(N) = 1 − [v(N) − v(N∖{m})] / v(N), with its
interval over the same parameter draws as the shares."""

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from nephrosim.analysis.attribution import ArmAttribution, attribute, shapley, shapley_interactions
from nephrosim.biology.therapy.paracrine import MECHANISMS
from tests.analysis._cli import mechanisms_app

HEAD_TO_HEAD = "examples/head_to_head_mouse_iri.yaml"


def test_hand_computed_game():
    """v(S) = (Σ_{i∈S} w_i)² with w = (1, 2, 3): v(N) = 36; knocking out player 3 leaves v({1, 2}) = 9,
    so it keeps 9/36 = 1 − (36 − 9)/36 = 0.25; player 1 keeps 25/36, player 2 keeps 16/36. Two draws
    scale the game by 2 and by 0.5: every fraction is the same in both, so the interval is the point.
    A third draw with w = (0, 2, 3) (player 1 a null player) moves the interval by hand-computable
    percentiles."""
    names = ("a", "b", "c")

    def game(w):
        return np.array([sum(w[i] for i in range(3) if m >> i & 1) ** 2 for m in range(8)], float)

    def arm(v, draws):
        phi = shapley(v)
        dv = np.array(draws)
        return ArmAttribution("x", names, float(v[-1]), float(v[-1]), 0.0, dict(zip(names, phi)),
                              shapley_interactions(v), v, draw_shares=np.array([shapley(d) for d in dv]),
                              draw_totals=dv[:, -1], draw_vs_vehicle=dv[:, -1], draw_coalitions=dv)

    v = game((1.0, 2.0, 3.0))
    a = arm(v, [2 * v, 0.5 * v])
    assert a.knockout_kept("c") == pytest.approx((0.25, 0.25, 0.25), rel=1e-12)
    assert a.knockout_kept("a") == pytest.approx((25 / 36, 25 / 36, 25 / 36), rel=1e-12)
    assert a.knockout_kept("b")[0] == pytest.approx(1 - (36 - 16) / 36, rel=1e-12)
    d = a.to_dict()["knockout_kept"]
    assert set(d) == set(names) and d["c"] == pytest.approx({"value": 0.25, "lo": 0.25, "hi": 0.25})

    # draws: the game above (c keeps 9/36) and w = (0, 2, 3) (v(N) = 25, c keeps 4/25); with two values
    # x < y the p-th percentile is x + p/100 · (y − x) (linear interpolation)
    b = arm(v, [v, game((0.0, 2.0, 3.0))])
    x, y = 4 / 25, 9 / 36
    assert b.knockout_kept("c") == pytest.approx((0.25, x + 0.025 * (y - x), x + 0.975 * (y - x)), rel=1e-12)
    assert b.knockout_kept("a")[1:] == pytest.approx((25 / 36 + 0.025 * (1 - 25 / 36), 25 / 36 + 0.975 * (1 - 25 / 36)))

    # an arm with no paracrine benefit has no fraction to keep: None in the JSON, not NaN
    zero = arm(np.zeros(8), [np.zeros(8)])
    assert zero.to_dict()["knockout_kept"]["a"] == {"value": None, "lo": None, "hi": None}


def test_command_json_and_text_give_the_knockout_kept_of_the_run(tmp_path):
    """The EV arm of the head-to-head example, nominal + 2 draws: the JSON's knockout_kept is
    v(N∖{m}) / v(N) of the run's own coalitions (read back from --out, not recomputed), with the
    shares' percentile convention over the same draws."""
    with open(HEAD_TO_HEAD) as f:
        data = yaml.safe_load(f)
    data["arms"] = [a for a in data["arms"] if a["name"] in ("vehicle", "ev")]
    scenario = tmp_path / "ev.yaml"
    scenario.write_text(yaml.safe_dump(data))
    out = tmp_path / "run"
    runner = CliRunner()
    args = ["attribute", str(scenario), "--samples", "2", "--seed", "4", "--out", str(out)]
    done = runner.invoke(mechanisms_app(), [*args, "--json"])
    assert done.exit_code == 0, done.output
    ev = json.loads(done.stdout)["ev"]
    assert set(ev["knockout_kept"]) == set(MECHANISMS)

    # the same run, read back from its kept pieces (no task left to simulate)
    kept = {p.name: p.stat().st_mtime_ns for p in out.glob("*.npz")}
    r = attribute(scenario, samples=2, seed=4, out_dir=out).arms["ev"]
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.npz")} == kept
    full = (1 << len(MECHANISMS)) - 1
    for i, m in enumerate(MECHANISMS):
        without = full & ~(1 << i)
        nominal = r.coalitions[without] / r.coalitions[full]
        draws = r.draw_coalitions[:, without] / r.draw_coalitions[:, full]
        lo, hi = np.percentile(draws, [2.5, 97.5])
        got = ev["knockout_kept"][m]
        assert (got["value"], got["lo"], got["hi"]) == pytest.approx((nominal, lo, hi), rel=1e-12), m
        assert (got["value"], got["lo"], got["hi"]) == pytest.approx(r.knockout_kept(m), rel=1e-12), m
        # 1 − marginal loss / total
        assert got["value"] == pytest.approx(1 - (ev["total"] - r.coalitions[without]) / ev["total"], rel=1e-12)
    # EVs carry no HGF, IGF-1 or antioxidant action: knocking one out keeps everything, in every draw
    for m in ("paracrine_hgf", "paracrine_igf1", "paracrine_antioxidant"):
        assert ev["knockout_kept"][m] == {"value": 1.0, "lo": 1.0, "hi": 1.0}
    # RNase (no RNA cargo) keeps under 5 % of the EV benefit (test_attribution: the RNase coalition)
    assert ev["knockout_kept"]["paracrine_ev_rna"]["hi"] < 0.05

    text = runner.invoke(mechanisms_app(), args)  # the kept run again, as text
    assert text.exit_code == 0, text.output
    rna = next(line for line in text.stdout.splitlines() if line.strip().startswith("paracrine_ev_rna"))
    value, lo, hi = (ev["knockout_kept"]["paracrine_ev_rna"][k] for k in ("value", "lo", "hi"))
    assert f"knockout keeps {value:.1%} [{lo:.1%}, {hi:.1%}]" in rna
