import hashlib
import multiprocessing as mp
import sys
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from nephrosim.evidence import EvidenceStore, ImportRejected, InputError


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


GOOD = """study_id,species,injury,arm,role,product,readout,time_h,unit,mean,dispersion,dispersion_type,n,pmid,quote
UserStudy 2024,rat,ischemia_reperfusion,vehicle,control,none,serum_creatinine,24,mg/dL,2.4,0.4,SD,8,12345,"SCr 2.4 ± 0.4"
UserStudy 2024,rat,ischemia_reperfusion,MSC 1e6 IV,treated,msc,serum_creatinine,24,mg/dL,1.5,0.3,SD,8,12345,"SCr 1.5 ± 0.3"
UserStudy 2024,rat,ischemia_reperfusion,MSC 1e6 IV,treated,msc,bun,24,mg/dL,60,10,SEM,8,12345,
UserStudy 2024,rat,ischemia_reperfusion,vehicle,control,none,bun,24,mg/dL,90,12,SEM,8,12345,
UserStudy 2024,rat,ischemia_reperfusion,MSC 1e6 IV,treated,msc,mortality,72,%,,,,8,12345,design only
"""

BAD = """study_id,species,injury,arm,role,product,readout,time_h,unit,mean,dispersion,dispersion_type,n
Bad 1,rat,ischemia_reperfusion,vehicle,control,none,serum_creatinine,24,furlongs/week,2.4,0.4,SD,8
Bad 1,rat,ischemia_reperfusion,MSC,treated,msc,serum_creatinine,24,mg/dL,1.5,0.3,,8
Bad 1,rat,ischemia_reperfusion,MSC,treated,msc,bun,24,mg/dL,60,10,SEM,
Bad 1,rat,ischemia_reperfusion,vehicle,control,none,bun,24,mg/dL,50,-3,SD,0
Bad 1,rat,ischemia_reperfusion,vehicle,control,none,il6,24,pg/mL,50,3,variance,5
Bad 1,rat,ischemia_reperfusion,MSC,treated,msc,serum_creatinine,48,mg/dL,-1.2,0.3,SD,8
Bad 1,rat,ischemia_reperfusion,MSC,treated,msc,serum_kreatinin,48,mg/dL,1.2,0.3,SD,8
Bad 1,rat,ischemia_reperfusion,MSC,treated,msc,mortality,72,%,130,,,8
Good row,rat,ischemia_reperfusion,MSC,treated,msc,serum_creatinine,24,mg/dL,1.5,0.3,SD,8
"""


def test_packaged_data_is_reachable():
    d = resources.files("nephrosim.evidence") / "data"
    for name in ("preclinical_msc.csv", "preclinical_secretome.csv", "more_treated.csv", "meta_analyses.md"):
        assert (d / name).is_file()


def test_seed_created_on_first_use_and_design_only_rows_kept(tmp_path):
    st = EvidenceStore(tmp_path / "sub" / "ev.duckdb")
    assert not st.path.exists()
    rec = st.records()
    assert st.path.exists()
    assert rec.study_id.nunique() > 100
    # design-only rows (no mean) are stored with the mean missing, never filled in
    gatti = rec[rec.study_id == "Gatti_2011"]
    assert len(gatti) > 0 and gatti["mean"].isna().all()
    # the raw text is kept next to parsed values
    cai = rec[(rec.study_id == "Cai 2014") & (rec.readout == "serum_creatinine")]
    assert cai.n.isna().all() and (cai.n_raw == "not stated in text read").all()


def test_env_var_and_explicit_path(tmp_path, monkeypatch):
    monkeypatch.setenv("NEPHROSIM_DB", str(tmp_path / "env.duckdb"))
    assert EvidenceStore().path == tmp_path / "env.duckdb"
    assert EvidenceStore(tmp_path / "x.duckdb").path == tmp_path / "x.duckdb"


def test_bad_import_lists_every_problem_and_leaves_file_unchanged(store, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD)
    before = sha(store.path)
    with pytest.raises(ImportRejected) as ei:
        store.import_csv(bad)
    assert sha(store.path) == before
    issues = {(i.row, i.column) for i in ei.value.issues}
    expected = {
        (2, "unit"),             # unknown unit
        (3, "dispersion_type"),  # dispersion without SD/SEM
        (4, "n"),                # missing n
        (5, "dispersion"),       # negative SD
        (5, "n"),                # n < 1
        (6, "dispersion_type"),  # unknown dispersion type
        (7, "mean"),             # negative creatinine
        (8, "readout"),          # unknown readout
        (9, "mean"),             # 130 %
    }
    assert expected <= issues, issues - expected
    assert not any(i.row == 10 for i in ei.value.issues)  # the good row is fine
    msg = str(ei.value)
    assert "row 7, column 'mean'" in msg and "nothing was written" in msg
    assert "Bad 1" not in store.study_ids()
    assert "Good row" not in store.study_ids()  # all-or-nothing


def test_good_import_becomes_queryable(store, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    rep = store.import_csv(good)
    assert rep.studies == 1 and rep.outcomes == 5
    rec = store.records(study_id="UserStudy 2024")
    assert len(rec) == 5
    design = rec[rec.readout == "mortality"]
    assert design["mean"].isna().all()  # design-only row kept with NULL mean
    s = store.study("UserStudy 2024")
    assert {a.role for a in s.arms} == {"treated", "control"}
    assert store.studies(readout="serum_creatinine", species="rat", injury="aki").study_id.eq("UserStudy 2024").any()
    # importing the same id again is a reject that changes nothing
    before = sha(store.path)
    with pytest.raises(ImportRejected, match="already exists"):
        store.import_csv(good)
    assert sha(store.path) == before
    store.import_csv(good, replace=True)
    assert len(store.records(study_id="UserStudy 2024")) == 5


def test_export_round_trip(store, tmp_path):
    out = tmp_path / "exp.csv"
    df = store.export(out, readout="serum_creatinine", species="rodent")
    back = pd.read_csv(out)
    assert len(back) == len(df) > 0
    assert set(back.readout) == {"serum_creatinine"}


def test_unknown_study_message(store):
    with pytest.raises(InputError, match="evidence list"):
        store.study("no such study")


def _reader(path, q):
    try:
        st = EvidenceStore(path)
        n = 0
        for _ in range(15):
            n = len(st.records(readout="serum_creatinine"))
        q.put(("ok", n))
    except Exception as exc:  # pragma: no cover
        q.put(("err", repr(exc)))


def _writer(path, csv_path, q):
    try:
        EvidenceStore(path).import_csv(csv_path)
        q.put(("ok", -1))
    except Exception as exc:  # pragma: no cover
        q.put(("err", repr(exc)))


@pytest.mark.skipif(sys.platform == "win32", reason="fork/flock semantics")
def test_concurrent_readers_and_a_writer(store, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_reader, args=(str(store.path), q)) for _ in range(4)]
    procs.append(ctx.Process(target=_writer, args=(str(store.path), str(good), q)))
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    results = [q.get(timeout=5) for _ in procs]
    assert all(r[0] == "ok" for r in results), results
    assert "UserStudy 2024" in store.study_ids()
    assert len(store.records()) > 500  # store intact
