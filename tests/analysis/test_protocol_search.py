"""Protocol optimization (optuna NSGA-II): determinism, resume, Pareto optimality, spec errors."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from nephrosim.analysis.protocol_search import EFFICACY, Evaluator, load_spec, optimize_protocol
from tests.analysis._cli import mechanisms_app
from nephrosim.errors import UserInputError

PROTOCOLS = Path("examples/protocols").resolve()
RISKS = ["thrombosis_index", "tumorigenicity_exposure_cell_days"]


def small_spec(**changes) -> dict:
    """MSC only, IV at reperfusion (one compiled structure), 2 parameter sets, 8 trials."""
    spec = {
        "name": "small search",
        "scenario": {"species": "mouse", "body_weight_g": 25,
                     "injury": {"model": "ischemia_reperfusion", "clamp_min": 30, "bilateral": True}},
        "outcome": "scr_auc",
        "efficacy_quantile": 0.25,
        "risks": RISKS,
        "search": {"product": ["msc"], "tissue_source": ["bone_marrow", "adipose", "umbilical_cord"],
                   "passage": [2, 8], "hypoxia_o2_percent": [None, 1], "priming": [[], ["ifn_gamma"]],
                   "culture": ["2d", "spheroid"], "dose": {"msc": {"low": 1.0e5, "high": 2.0e6, "unit": "cells"}}},
        "uncertainty": {"samples": 2},
        "optimizer": {"trials": 8, "population": 4, "seed": 3},
        "compare": [{"protocol": str(PROTOCOLS / "standard_bm_msc.yaml"), "product": "msc", "dose": 5.0e5,
                     "dose_unit": "cells"}],
    }
    spec.update(changes)
    return spec


@pytest.fixture(scope="module")
def evaluator(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "spec.yaml"
    path.write_text(yaml.safe_dump(small_spec()))
    return Evaluator(load_spec(path)), path


def objectives(frame):
    return frame[[EFFICACY, *RISKS]].to_numpy(float)


def test_same_seed_same_front_and_the_front_is_non_dominated(evaluator, tmp_path):
    ev, path = evaluator
    a = optimize_protocol(path, tmp_path / "a", evaluator=ev)
    b = optimize_protocol(path, tmp_path / "b", evaluator=ev)
    assert a.completed == b.completed == 8 and a.failed == 0
    assert a.trials["protocol"].tolist() == b.trials["protocol"].tolist()
    np.testing.assert_array_equal(objectives(a.trials), objectives(b.trials))
    # Pareto optimality, checked by brute force: efficacy maximised, risks minimised
    pts = objectives(a.trials) * np.array([-1.0] + [1.0] * len(RISKS))  # all minimised
    dominated = [bool(np.any(np.all(pts <= p, axis=1) & np.any(pts < p, axis=1))) for p in pts]
    assert set(a.front["protocol"]) == set(a.trials["protocol"][~np.array(dominated)])
    assert len(a.front) >= 1 and not a.front["protocol"].duplicated().any()
    # every front member says which protocol rows it relies on, cited apart from assumed
    assert (a.front["n_assumed"] >= 1).all()  # protocol_reference_passage is assumed
    assert a.front["assumed_modifiers"].str.contains("protocol_reference_passage").all()
    # the reference protocol: dominated by exactly the members that are better on every objective
    ref = a.references.iloc[0]
    point = np.array([-ref[EFFICACY], *(ref[r] for r in RISKS)])
    front_pts = objectives(a.front) * np.array([-1.0] + [1.0] * len(RISKS))
    winners = a.front["trial"][np.all(front_pts <= point, axis=1) & np.any(front_pts < point, axis=1)].tolist()
    assert ref["dominated_by_trials"] == " ".join(map(str, winners))
    assert ref["verdict"].startswith("dominated by" if winners else "none dominates")
    assert (tmp_path / "a" / "front.csv").is_file() and (tmp_path / "a" / "study.journal").is_file()


def test_resume_continues_the_study(evaluator, tmp_path):
    ev, path = evaluator
    first = optimize_protocol(path, tmp_path, trials=4, evaluator=ev)
    assert first.completed == 4 and first.computed == 4
    again = optimize_protocol(path, tmp_path, trials=6, evaluator=ev)
    assert again.computed == 2 and again.completed == 6  # continued, not restarted
    assert again.trials["protocol"].tolist()[:4] == first.trials["protocol"].tolist()
    done = optimize_protocol(path, tmp_path, trials=6, evaluator=ev)
    assert done.computed == 0 and done.completed == 6
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(small_spec(efficacy_quantile=0.5)))
    with pytest.raises(UserInputError, match="different spec"):
        optimize_protocol(other, tmp_path, trials=6)


@pytest.mark.parametrize("change, field", [
    ({"risks": ["thrombosis"]}, "risks"),
    ({"outcome": "scr"}, "outcome"),
    ({"search": {"product": ["ev"], "dose": {"msc": {"low": 1, "high": 2, "unit": "cells"}}}}, "search"),
    ({"search": {"dose": {"msc": {"low": 1, "high": 2, "unit": "ug_protein"}}}}, "search"),
    ({"search": {"culture": ["3d"], "dose": {"msc": {"low": 1, "high": 2, "unit": "cells"}}}}, "search.culture"),
    ({"scenario": {"species": "mouse", "injury": {"model": "ischemia_reperfusion"}, "arms": []}}, "scenario"),
    ({"uncertainty": {"samples": 0}}, "uncertainty.samples"),
    ({"optimiser": {"trials": 3}}, "optimiser"),
    ({"compare": [{"protocol": "x.yaml", "product": "ev", "dose": 1.0, "dose_unit": "cells"}]}, "compare.0"),
])
def test_bad_spec_names_the_field(tmp_path, change, field):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(small_spec(**change)))
    with pytest.raises(UserInputError) as err:
        load_spec(path)
    text = str(err.value)
    assert f"- {field}" in text, text
    assert "bad.yaml" in text


def test_command_refuses_a_bad_spec_with_one_message(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(small_spec(risks=["thrombosis"])))
    done = CliRunner().invoke(mechanisms_app(), ["optimize-protocol", str(path), "--out", str(tmp_path / "o")])
    assert done.exit_code == 2 and "risks" in done.output and "thrombosis_index" in done.output
    assert "Traceback" not in done.output and not (tmp_path / "o").exists()


def test_shipped_spec_is_valid():
    spec = load_spec("examples/protocols/optimize.yaml")
    assert len(spec.compare) == 4
    assert json.dumps(spec.model_dump(mode="json"))


def test_a_reused_compiled_arm_forgets_the_previous_candidate(evaluator):
    """Candidates of one structure share a compiled model; each must set all its own values."""
    ev, _ = evaluator
    c = {"product": "msc", "tissue_source": "adipose", "passage": 3, "hypoxia_o2_percent": None, "priming": (),
         "culture": "2d", "serum_free": False, "route": "iv", "time_h": 0.0, "doses_given": 1}
    high, low, again = (ev.evaluate(dict(c, dose=d)) for d in (1.5e6, 2.5e5, 1.5e6))
    assert again == high
    # retained cells scale with the dose (linear biodistribution), the dose-based thrombosis index exactly
    exposure = "tumorigenicity_exposure_cell_days"
    assert low.risks[exposure] / high.risks[exposure] == pytest.approx(2.5e5 / 1.5e6, rel=0.05)
    assert low.risks["thrombosis_index"] / high.risks["thrombosis_index"] == pytest.approx(2.5e5 / 1.5e6, rel=1e-9)
