"""The shipped calibration: it belongs to calibration/default.yaml and is what simulate uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nephrosim.calibration import CalibrationProblem, calibrate, load_config
from nephrosim.biology.parameters import ParameterTable, shipped_calibration
from nephrosim.run.simulation import simulate

DEFAULT = Path(__file__).resolve().parents[2] / "calibration" / "default.yaml"


@pytest.fixture(scope="module")
def shipped():
    data = shipped_calibration()
    assert data is not None, "src/nephrosim/biology/calibrated.json is missing: run " \
                             "`nephrosim calibrate calibration/default.yaml --out DIR --report --ship`"
    return data


def _split(label):
    name, _, species = label.partition("[")
    return name, species.rstrip("]") or "all"


def test_shipped_set_belongs_to_the_default_config_and_its_data(shipped):
    """Edit default.yaml (studies, data, settings) without re-shipping and this fails."""
    cfg = load_config(DEFAULT)
    assert shipped["config"] == cfg.name
    assert shipped["config_digest"] == cfg.digest()
    assert shipped["seed"] == cfg.fit.seed
    problem = CalibrationProblem(cfg)
    assert shipped["evidence"]["digest"] == problem.evidence_digest()
    assert shipped["studies"] == list(problem.study_ids)
    assert set(shipped["parameters"]) == {"iri_t50_min[rat]", "iri_q10"}
    assert shipped["date"][:2] == "20" and shipped["nephrosim_version"]


def test_default_table_carries_the_estimates_with_provenance(shipped):
    calibrated, cited = ParameterTable.default(), ParameterTable.default(calibrated=False)
    assert calibrated.problems() == []  # every estimate inside its cited range, reason given
    for label, value in shipped["parameters"].items():
        name, species = _split(label)
        rec = calibrated.record(name, species if species != "all" else "rat")
        assert rec.value == pytest.approx(value)
        assert rec.provenance == "fitted" and "95 % profile interval" in rec.reason
        assert shipped["config_digest"] in rec.reason and shipped["date"] in rec.reason
        old = cited.record(name, species if species != "all" else "rat")
        assert f"table value {old.value:g}" in rec.reason
        assert (rec.lower, rec.upper) == (old.lower, old.upper)


def test_simulate_uses_the_shipped_calibration_unless_told_otherwise(shipped):
    scenario = {"species": "rat", "injury": {"model": "ischemia_reperfusion", "clamp_min": 40},
                "readouts": ["serum_creatinine"], "times_h": [0, 24]}

    def scr24(**extra):
        r = simulate({**scenario, **extra}).to_frame()
        return float(r[r.time_h == 24].value.iloc[0])

    by_default = scr24()
    as_cited = scr24(parameter_set="table")
    by_hand = scr24(parameter_set="table", parameters={_split(k)[0]: v for k, v in shipped["parameters"].items()})
    assert by_default == pytest.approx(by_hand, rel=1e-9)
    assert abs(by_default - as_cited) > 0.05 * as_cited  # the calibration changed the prediction


def test_ship_writes_provenance_and_refuses_a_self_fed_fit(tmp_path, synthetic_config):
    cal = calibrate(synthetic_config.replace(fit={"n_starts": 1}, parameter_set="table"))
    path = cal.ship(tmp_path / "calibrated.json")
    data = json.loads(path.read_text())
    # species-specific table rows are shipped with the species of the studies that informed them
    assert data["parameters"]["gfr_ml_min_per_kg[rat]"] == pytest.approx(cal.parameters_["gfr_ml_min_per_kg"])
    assert data["evidence"]["n_observations"] == cal.problem_.n_observations
    table = ParameterTable.default(calibrated=False).with_calibration(data)
    rec = table.record("gfr_ml_min_per_kg", "rat")
    assert rec.value == pytest.approx(cal.parameters_["gfr_ml_min_per_kg"]) and rec.provenance == "fitted"
    # a fit that started from the shipped set must not replace it
    fed = calibrate(synthetic_config.replace(fit={"n_starts": 1}, parameter_set="calibrated"))
    with pytest.raises(ValueError, match="parameter_set: table"):
        fed.ship(tmp_path / "other.json")
    assert not (tmp_path / "other.json").exists()


def test_publications_are_held_out_and_share_one_lab_effect():
    cfg = load_config(DEFAULT)
    groups = cfg.study_groups()
    assert groups["Zager1989"] == ("Zager1989_normothermic", "Zager1989_hypothermic")
    left = {s.id for s in cfg.without_study("Zager1989").selected_studies()}
    assert left.isdisjoint(groups["Zager1989"]) and left
    problem = CalibrationProblem(cfg)
    slots = {(g, p) for g, p, _ in problem.re_slots}
    assert slots == {(g, "iri_t50_min") for g in groups}
    normo, hypo = (next(e for e in problem.experiments if e.study == s) for s in groups["Zager1989"])
    assert normo.re_index == hypo.re_index  # one lab effect for both temperature groups


def test_prediction_intervals_from_the_shipped_calibration(shipped):
    """`simulate --uncertainty shipped`: intervals around the shipped estimate, wider for a new lab."""
    from nephrosim.calibration.commands import simulate_uncertainty_command
    from nephrosim.calibration.fit import Calibration

    cal = Calibration.from_shipped()
    assert cal.parameters_ == pytest.approx(shipped["parameters"])
    scenario = {"species": "rat", "injury": {"model": "ischemia_reperfusion", "clamp_min": 40},
                "readouts": ["serum_creatinine"], "times_h": [0, 24]}
    # 200 draws: the band also carries the ranges of every assumed row, so the between-lab effect is a
    # small share of its width, and with 40 draws the comparison below was Monte Carlo noise
    pi = simulate_uncertainty_command(scenario, "shipped", n=200, seed=1)
    at24 = pi[pi.time_h == 24].iloc[0]
    r = simulate(scenario).to_frame()
    point = float(r[r.time_h == 24].value.iloc[0])
    assert at24.lower < point < at24.upper and at24.n_ok == 200
    typical = cal.predict_interval(scenario, cal.sample(200, seed=1), new_study=False)
    t24 = typical[typical.time_h == 24].iloc[0]
    assert (at24.upper - at24.lower) > (t24.upper - t24.lower)
