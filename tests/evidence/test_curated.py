"""The curated batches (data/curated/*.csv) follow FORMAT.md and load into the seed store.

The format is read from FORMAT.md itself (its column table and its backticked vocabularies),
and the files with the csv module, so these checks do not lean on the loader they test.
"""

import csv
import re
import shutil
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from nephrosim.evidence import EvidenceStore, ImportRejected, meta_analyse
from nephrosim.evidence.vocab import READOUTS

CURATED = Path(str(resources.files("nephrosim.evidence") / "data" / "curated"))
FILES = sorted(p.name for p in CURATED.glob("*.csv") if not p.name.startswith("contrasts"))
FORMAT = (CURATED / "FORMAT.md").read_text(encoding="utf-8")
VOCAB_COLUMNS = ("species", "sex", "injury", "laterality", "toxin_dose_unit", "role", "product", "cell_source",
                 "donor", "dose_unit", "route", "dispersion_type", "value_source", "randomised", "blinded",
                 "sample_size_calc")


def _format_table():
    """{column: allowed-values cell} from FORMAT.md section 1, in order."""
    section = FORMAT.split("## 2.")[0]
    cols = {}
    for line in section.splitlines():
        m = re.match(r"\|\s*([a-z_0-9]+)\s*\|(.*)\|(.*)\|\s*$", line)
        if m and m.group(1) != "column":
            cols[m.group(1)] = m.group(3)
    return cols


TABLE = _format_table()
# backticked values of each vocabulary column (minus column names cited in the prose, e.g. "say how in `notes`")
ALLOWED = {c: set(re.findall(r"`([^`]+)`", TABLE[c])) - set(TABLE) for c in VOCAB_COLUMNS}
READOUT_VOCAB = set(re.findall(r"`([a-z0-9_]+)`", FORMAT.split("Readout vocabulary")[1].split("column):")[1]
                                .split("(use")[0]))


def _rows(name):
    with open(CURATED / name, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return reader.fieldnames, list(reader)


def test_all_curated_files_are_covered():
    assert {"msc_iri.csv", "msc_other_models.csv", "secretome.csv", "untreated_timecourses_2.csv"} <= set(FILES)
    assert len(TABLE) == 41 and "kim1" in READOUT_VOCAB and "serum_creatinine" in READOUT_VOCAB


@pytest.mark.parametrize("name", FILES)
def test_curated_file_follows_format(name):
    header, rows = _rows(name)
    assert header == list(TABLE), "header must be FORMAT.md section 1, in order"
    for i, r in enumerate(rows, start=2):
        where = f"{name} row {i}"
        assert re.fullmatch(r"[A-Za-z0-9_-]+", r["study_id"]), where
        assert re.fullmatch(r"[A-Za-z0-9_-]+", r["arm_id"]), where
        assert r["source_location"].strip(), where
        if r["mean"].strip():
            assert r["quote"].strip() and r["source_location"].strip(), where
            float(r["mean"])
        for col in VOCAB_COLUMNS:
            assert r[col] == "" or r[col] in ALLOWED[col], (where, col, r[col])
        assert r["readout"] in READOUT_VOCAB, (where, r["readout"])
        if r["role"] == "treated":
            assert r["product"] in ("msc", "cm", "ev"), where
    for sid in {r["study_id"] for r in rows}:
        roles = {r["role"] for r in rows if r["study_id"] == sid}
        if "treated" in roles:
            assert "control" in roles, f"{name}: study {sid} has a treated arm but no control arm"
        arms = {}
        for r in rows:
            if r["study_id"] == sid:
                group = tuple(r[c] for c in ("arm", "role", "product", "dose", "route", "timing_h"))
                assert arms.setdefault(r["arm_id"], group) == group, f"{name}: arm_id {r['arm_id']} reused"


@pytest.mark.parametrize("name", FILES)
def test_curated_file_loads_into_a_fresh_store(name, _seeded_template, tmp_path):
    path = tmp_path / "fresh.duckdb"
    shutil.copyfile(_seeded_template, path)  # the store a first use creates from the packaged seed
    rec = EvidenceStore(path).records()
    mine = rec[rec.source_file == f"curated/{name}"]
    _, rows = _rows(name)
    assert len(mine) == len(rows)
    assert set(mine.study_id) == {r["study_id"] for r in rows}
    for r in rows:
        hit = mine[(mine.study_id == r["study_id"]) & (mine.arm_id == r["arm_id"]) & (mine.readout == r["readout"])
                   & (mine.mean_raw.fillna("") == r["mean"]) & (mine.time_raw.fillna("") == r["time_h"])]
        assert len(hit) >= 1, r
        h = hit.iloc[0]
        if r["mean"] and r["time_h"]:
            assert h["mean"] == float(r["mean"]) and h.time_h == float(r["time_h"])
            assert h.quote == r["quote"] and h.source_location == r["source_location"]
        else:  # no time stated: design-only, the number kept as text, no time invented
            assert pd.isna(h["mean"]) and pd.isna(h.time_h)
        assert f"value_source={r['value_source']}" in (h.notes or "") if r["value_source"] else True
        assert f"randomised={r['randomised']}" in (h.notes or "") if r["randomised"] else True


def test_formats_new_readouts_exist():
    for name in ("kim1", "ngal", "tnf_alpha", "il10", "glomerulosclerosis"):
        assert name in READOUTS
    assert READOUT_VOCAB <= set(READOUTS)
    from nephrosim.evidence.curated import VOCABULARY

    assert {c: set(v) for c, v in VOCABULARY.items() if c in ALLOWED} == ALLOWED
    assert set(VOCABULARY["readout"]) == READOUT_VOCAB


HEADER = ",".join(TABLE)


def _line(**kw):
    base = dict(study_id="Bad2024_X", species="rat", injury="cisplatin", arm_id="t", arm="MSC", role="treated",
                product="msc", readout="bun", time_h="72", unit="mg/dL", mean="50", dispersion="5",
                dispersion_type="SD", n="6", value_source="table", quote="BUN 50 ± 5", source_location="Table 1",
                randomised="not_stated", blinded="not_stated", sample_size_calc="not_stated")
    base.update(kw)
    return ",".join(base.get(c, "") for c in TABLE)


def test_loader_reports_every_problem_with_row_and_column(tmp_path):
    from nephrosim.evidence.curated import read_curated

    f = tmp_path / "bad.csv"
    f.write_text("\n".join([HEADER,
                            _line(),                                       # 2: treated, no control in study
                            _line(study_id="Bad 2024"),                    # 3: space in id
                            _line(study_id="B2", readout="kim_1"),         # 4: unknown readout
                            _line(study_id="B2", arm_id="c", arm="veh", role="control", product="none", quote=""),
                            _line(study_id="B2", arm_id="c", arm="MSC", role="treated", time_h="96"),  # 6: reused id
                            ]) + "\n")
    issues = {(i.row, i.column) for i in read_curated(f).issues}
    assert {(3, "study_id"), (4, "readout"), (5, "quote")} <= issues, issues
    f.write_text("\n".join([HEADER, _line(),
                            _line(arm_id="c", arm="veh", role="control", product="none"),
                            _line(arm_id="c", arm="MSC", role="treated", time_h="96")]) + "\n")
    issues = read_curated(f).issues
    assert [(i.row, i.column) for i in issues] == [(4, "arm_id")]
    assert "give each group its own arm_id" in issues[0].reason
    f.write_text("\n".join([HEADER, _line()]) + "\n")
    (issue,) = read_curated(f).issues
    assert issue.column == "role" and "no control arm" in issue.reason


@pytest.mark.parametrize("bad", ["invalid_row", "id_of_a_seed_study"])
def test_seed_store_is_all_or_nothing(bad, tmp_path, monkeypatch):
    from nephrosim.evidence import seed

    data = tmp_path / "data"
    shutil.copytree(str(seed.data_dir()), data)
    if bad == "invalid_row":
        (data / "curated" / "zz_bad.csv").write_text(
            "\n".join([HEADER, _line(study_id="Good2024_A"), _line(study_id="Good2024_A", arm_id="c", arm="vehicle",
                                                                   role="control", product="none"),
                       _line(study_id="Good2024_A", arm_id="c2", arm="saline", role="control", product="none",
                             mean="-3")]) + "\n")
        fragment = "zz_bad.csv"
    else:
        (data / "curated" / "zz_clash.csv").write_text(
            "\n".join([HEADER, _line(study_id="Gatti_2011"), _line(study_id="Gatti_2011", arm_id="c", arm="vehicle",
                                                                   role="control", product="none")]) + "\n")
        fragment = "Gatti_2011"
    monkeypatch.setattr(seed, "data_dir", lambda: data)
    seed.load_seed.cache_clear()
    db = tmp_path / "store" / "evidence.duckdb"
    try:
        with pytest.raises(ImportRejected) as ei:
            EvidenceStore(db).ensure()
    finally:
        seed.load_seed.cache_clear()
    assert fragment in str(ei.value)
    assert not db.exists()
    assert [p.name for p in db.parent.iterdir()] == ["evidence.duckdb.lock"]  # no partial or temporary store


PUB = """study_id,species,injury,arm,role,product,readout,time_h,unit,mean,dispersion,dispersion_type,n,doi
{sid},rat,cisplatin,vehicle,control,none,bun,72,mg/dL,{c},5,SD,6,10.9999/same.paper
{sid},rat,cisplatin,MSC,treated,msc,bun,72,mg/dL,{t},5,SD,6,10.9999/same.paper
"""


def test_one_publication_under_two_ids_is_pooled_once(store, tmp_path):
    for sid, c, t in (("PaperA", 90, 60), ("PaperA_again", 91, 58)):
        f = tmp_path / f"{sid}.csv"
        f.write_text(PUB.format(sid=sid, c=c, t=t))
        store.import_csv(f)
    res = meta_analyse(readout="bun", injury="cisplatin", product="msc", store=store)
    assert "PaperA" in set(res.effects.study_id) and "PaperA_again" not in set(res.effects.study_id)
    reason = {e.study_id: e.reason for e in res.excluded}["PaperA_again"]
    assert "same publication as study 'PaperA'" in reason and "10.9999/same.paper" in reason
