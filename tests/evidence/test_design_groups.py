"""A study's series (clamp times, toxin doses, body temperatures) is one design per group of arms.

The evidence CSVs give each row its own ``injury_details``; the store used to keep the first row's
for the whole study, so Zager 1989's normothermic (37 °C) and hypothermic (32–33 °C) groups were
simulated as one design, and a cisplatin dose series as one dose. Checked against the curated rows
themselves (the numbers written in each group's design text), and against a store written by the
schema before arms carried their own design (it must be upgraded in place, losing nothing).
"""

from __future__ import annotations

import duckdb
import pytest

from nephrosim.calibration.designs import NotEvaluable, design_groups, design_of, injury_of
from nephrosim.evidence import EvidenceStore, shipped_records


@pytest.fixture(scope="module")
def records():
    return shipped_records()


def _designs(records, study_id):
    rows = records[records["study_id"] == study_id]
    out = {}
    for details, group in design_groups(rows):
        try:
            out[details] = injury_of(group)[0]
        except NotEvaluable as exc:
            out[details] = exc
    return out


def test_zager_1989_temperature_groups_are_simulated_at_their_own_temperature(records):
    designs = _designs(records, "Zager1989_hypothermia_rat")
    evaluable = {d["temperature_c"] for d in designs.values() if isinstance(d, dict)}
    # "normothermic 37°C" and "body 32-33°C during occlusion only" (the range's midpoint)
    assert evaluable == {37.0, 32.5}
    # hypothermia during reflow only, after a 37 °C clamp: two temperatures in one group's design, not evaluable
    refused = [d for d in designs.values() if isinstance(d, NotEvaluable)]
    assert len(refused) == 1 and str(refused[0]).startswith("temperature:")
    rows = records[records["study_id"] == "Zager1989_hypothermia_rat"]
    by_arm = rows.groupby("arm_id")["injury_details"].nunique()
    assert (by_arm == 1).all()  # every arm has one design ...
    assert rows["arm_id"].nunique() == len(designs)  # ... and each group is its own arm


@pytest.mark.parametrize("study_id, field, values", [
    ("JCI1947_temporary_cessation_RBF_rat", "clamp_min", {30.0, 60.0, 90.0, 120.0}),
    ("Perse2018_review_Table3", "dose_mg_per_kg", {7.5, 10.0, 12.5, 15.0}),
])
def test_a_series_gives_one_design_per_group(records, study_id, field, values):
    designs = _designs(records, study_id)
    assert {d[field] for d in designs.values() if isinstance(d, dict)} == values


def test_a_study_with_one_design_is_one_group(records):
    rows = records[records["study_id"] == "Ashour 2016"]  # cisplatin 5 mg/kg, six arms
    assert rows["arm_id"].nunique() > 2
    [(details, group)] = design_groups(rows)
    assert len(group) == len(rows) and injury_of(group)[0]["dose_mg_per_kg"] == 5.0


def test_a_store_of_the_first_schema_is_upgraded_in_place(tmp_path):
    path = tmp_path / "e.duckdb"
    store = EvidenceStore(path).ensure()
    before = store.records()
    with duckdb.connect(str(path)) as con:  # what a version-1 store looked like
        con.execute("ALTER TABLE arms DROP COLUMN injury_details")
        con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    old = EvidenceStore(path)
    after = old.records()
    assert len(after) == len(before)
    with duckdb.connect(str(path), read_only=True) as con:
        cols = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'arms'").fetchall()}
        version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    assert "injury_details" in cols and version == "2"
    # with no arm designs, every row reads its study's design, as version 1 did
    zager = after[after["study_id"] == "Zager1989_hypothermia_rat"]
    assert zager["injury_details"].nunique() == 1
    # the upgraded store's study is one design, as before: its rows name two temperatures, so it is refused
    assert len(design_groups(zager)) == 1
    with pytest.raises(NotEvaluable, match="temperature"):
        design_of("Zager1989_hypothermia_rat", zager)
