"""Which evidence rows a run's plots draw: the clamp's body temperature and the animals' sex
(issue 18). Fast, no browser.

The studies are written here by hand as an evidence CSV in the store's import format and imported
into a real store (next to the shipped evidence), so they pass through the same importer and
``EvidenceStore.records`` as a user's own data. Each study states its clamp temperature the way
papers do (``at 32 °C``, ``37 °C``, or not at all); what must happen to it follows from the
matching rule written in :mod:`nephrosim.app.literature`, with the tolerance restated here:
a clamp at 32 °C is 5 °C from a 37 °C scenario (beyond ±1.9 °C), a clamp at 37 °C is 5 °C from a
32 °C one, and a study that states none is drawn on both.
"""

from __future__ import annotations

import csv

import pytest

HEADER = ("study_id", "species", "strain", "sex", "injury", "injury_details", "arm", "arm_id", "role", "product",
          "readout", "time_h", "unit", "mean", "dispersion", "dispersion_type", "n", "quote")


def _row(study, details, mean, *, strain="Sprague-Dawley", sex="male", arm="IRI + vehicle", arm_id="vehicle",
         quote="serum creatinine at 24 h"):
    return (study, "rat", strain, sex, "ischemia_reperfusion", details, arm, arm_id, "control", "none",
            "serum_creatinine", "24", "mg/dL", str(mean), "0.2", "SD", "6", quote)


ROWS = [
    _row("T18_hypothermic_32C", "bilateral renal artery clamp 45 min at 32 °C (rectal)", 0.7),
    _row("T18_normothermic_37C", "bilateral renal artery clamp 45 min, body temperature 37 °C", 2.1,
         strain="Wistar", sex="female"),
    _row("T18_unstated", "bilateral renal artery clamp 45 min", 1.8, strain="Lewis", sex=""),
    # one design text for both groups: the group cooled during the clamp is only in its quote
    _row("T18_two_temperatures", "bilateral renal artery clamp 45 min at 37 °C", 2.3),
    _row("T18_two_temperatures", "bilateral renal artery clamp 45 min at 37 °C", 0.8, arm="IRI, cooled",
         arm_id="cooled", quote="Hypothermia (32 °C) during the clamp was protective"),
]
OURS = {"T18_hypothermic_32C", "T18_normothermic_37C", "T18_unstated", "T18_two_temperatures"}
UNITS = {"serum_creatinine": "mg/dL"}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from nephrosim.evidence import EvidenceStore

    folder = tmp_path_factory.mktemp("evidence")
    with open(folder / "t18.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(ROWS)
    store = EvidenceStore(folder / "e.duckdb")
    store.import_csv(folder / "t18.csv")
    return store


def _scenario(temperature_c=37.0, sex=None):
    from nephrosim.scenarios.schema import scenario_from_dict

    return scenario_from_dict({
        "name": "t18", "species": "rat", **({"sex": sex} if sex else {}),
        "injury": {"model": "ischemia_reperfusion", "clamp_min": 45, "temperature_c": temperature_c},
        "arms": [{"name": "vehicle"}], "readouts": ["serum_creatinine"], "times_h": [0, 24, 48]})


def _ours(out):
    studies = {s["study_id"]: s for s in out["studies"] if s["study_id"] in OURS}
    points = {p["study_id"]: p for p in out["points"] if p["study_id"] in OURS}
    return studies, points


def test_a_hypothermic_clamp_is_not_drawn_on_a_normothermic_scenario(store):
    from nephrosim.app.literature import literature_points

    out = literature_points(_scenario(37.0), UNITS, store)
    studies, points = _ours(out)
    assert set(studies) == OURS  # all four match on species, injury, readout and the 45-min clamp
    assert set(points) == {"T18_normothermic_37C", "T18_unstated"}
    assert points["T18_normothermic_37C"]["value"] == pytest.approx(2.1)
    assert points["T18_unstated"]["value"] == pytest.approx(1.8)
    hypothermic = studies["T18_hypothermic_32C"]
    assert hypothermic["drawn"] == 0 and hypothermic["skipped"] == (
        "temperature: the study's clamp is hypothermic, at 32 °C; the scenario's clamp is at 37 °C (±1.9 °C)")
    two = studies["T18_two_temperatures"]
    assert two["matched"] == 2 and two["drawn"] == 0
    assert two["skipped"].startswith("temperature: the rows of one design name several temperatures (32 °C, 37 °C")
    # each skip reason is counted on the page with its rows
    reasons = {s["reason"]: s["rows"] for s in out["skipped"]}
    assert reasons[hypothermic["skipped"]] == 1 and reasons[two["skipped"]] == 2
    assert out["matched"] == out["drawn"] + sum(reasons.values())


def test_a_normothermic_clamp_is_not_drawn_on_a_hypothermic_scenario_and_an_unstated_one_is(store):
    from nephrosim.app.literature import TEMPERATURE_NOT_STATED, literature_points

    out = literature_points(_scenario(32.0), UNITS, store)
    studies, points = _ours(out)
    assert set(points) == {"T18_hypothermic_32C", "T18_unstated"}
    assert studies["T18_normothermic_37C"]["skipped"] == (
        "temperature: the study's clamp is at 37 °C; the scenario's clamp is at 32 °C (±1.9 °C)")
    # unstated is not read as 37 °C: drawn, and counted on the page as not stated
    assert studies["T18_unstated"]["temperature"] == TEMPERATURE_NOT_STATED
    notes = {n["note"]: n["rows"] for n in out["drawn_notes"]}
    unstated_drawn = sum(s["drawn"] for s in out["studies"] if s["temperature"] == TEMPERATURE_NOT_STATED)
    assert notes[TEMPERATURE_NOT_STATED] == unstated_drawn >= 1
    # within the tolerance: a 32 °C study is drawn on a 33 °C scenario, not on a 34 °C one
    assert "T18_hypothermic_32C" in _ours(literature_points(_scenario(33.0), UNITS, store))[1]
    assert "T18_hypothermic_32C" not in _ours(literature_points(_scenario(34.0), UNITS, store))[1]


def test_each_point_carries_its_studys_strain_sex_and_temperature(store):
    from nephrosim.app.literature import TEMPERATURE_NOT_STATED, literature_points

    _, points = _ours(literature_points(_scenario(37.0), UNITS, store))
    assert (points["T18_normothermic_37C"]["strain"], points["T18_normothermic_37C"]["sex"],
            points["T18_normothermic_37C"]["temperature"]) == ("Wistar", "female", "37 °C")
    assert (points["T18_unstated"]["strain"], points["T18_unstated"]["sex"],
            points["T18_unstated"]["temperature"]) == ("Lewis", "", TEMPERATURE_NOT_STATED)


def test_a_scenario_that_states_male_skips_a_female_study_and_keeps_an_unstated_one(store):
    from nephrosim.app.literature import literature_points

    studies, points = _ours(literature_points(_scenario(37.0, sex="male"), UNITS, store))
    assert set(points) == {"T18_unstated"}
    assert studies["T18_normothermic_37C"]["skipped"] == "sex: the study's animals are female; the scenario is male"
    # without a sex in the scenario, sex is shown, not matched (the female study is drawn above)


@pytest.mark.parametrize("details, low, high", [
    ("clamp 40 min, body 32-33°C during occlusion only", 32.0, 33.0),
    ("45 min ischemia; rectal temperature 37 ± 0.5 °C", 36.5, 37.5),
    ("30 min at 36.5–37.5 ºC on a heating pad", 36.5, 37.5),
    ("60 min clamp at 37 degrees C", 37.0, 37.0),
])
def test_the_temperature_is_read_as_papers_write_it(details, low, high):
    import pandas as pd

    from nephrosim.evidence.study_design import study_temperature

    got = study_temperature(pd.DataFrame({"injury_details": [details]}))
    assert (got.low, got.high, got.conflict) == (low, high, None)


def test_what_is_not_a_body_temperature_is_not_read():
    import pandas as pd

    from nephrosim.evidence.study_design import study_sex, study_temperature

    for details, quote in (("45 min warm ischemia of one kidney", "SCr rose"),  # warm = not cooled, no number
                           ("bilateral clamp 45 min", "MSCs were cultured at 37 °C in 5 % CO2"),
                           ("bilateral clamp 45 min (temperature not in abstract)", "kidneys stored at 4 °C")):
        assert not study_temperature(pd.DataFrame({"injury_details": [details], "quote": [quote]})).stated
    prevented = study_temperature(pd.DataFrame({"injury_details": ["45 min; a heating pad prevented hypothermia"]}))
    assert not prevented.stated
    # sex is read from either field the curators used
    assert study_sex(pd.DataFrame({"sex": [None], "strain": ["female (strain not read)"]})) == "female"
    assert study_sex(pd.DataFrame({"sex": ["male and female (MeSH terms)"], "strain": [None]})) == "male and female"
    assert study_sex(pd.DataFrame({"sex": ["not in abstract"], "strain": ["Sprague-Dawley"]})) is None
