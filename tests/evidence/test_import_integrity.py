"""Import keeps groups apart and is safe against a concurrent import of the same study."""

import multiprocessing as mp
import sys

import pytest

from nephrosim.evidence import EvidenceStore, ImportRejected

from .test_store import GOOD, sha

HEAD = ("study_id,species,injury,arm_id,arm,role,product,dose,route,readout,time_h,unit,mean,dispersion,"
        "dispersion_type,n\n")

# the MSC group's creatinine written under the vehicle group's arm_id
SHARED_ID = HEAD + (
    "Mixed 2024,rat,ischemia_reperfusion,A,vehicle,control,none,,,serum_creatinine,24,mg/dL,2.4,0.4,SD,8\n"
    "Mixed 2024,rat,ischemia_reperfusion,A,MSC 1e6 IV,treated,msc,1000000,iv,serum_creatinine,48,mg/dL,1.5,0.3,SD,8\n"
)

# same label and id, different dose: two groups, one id
SAME_LABEL_TWO_DOSES = HEAD + """Dose 2024,rat,cisplatin,M,MSC,treated,msc,100000,iv,bun,72,mg/dL,60,5,SD,6
Dose 2024,rat,cisplatin,M,MSC,treated,msc,1000000,iv,bun,96,mg/dL,50,5,SD,6
Dose 2024,rat,cisplatin,V,vehicle,control,none,,,bun,72,mg/dL,90,5,SD,6
"""

# two groups with the same label but their own arm_ids: accepted, kept apart
TWO_IDS = HEAD + """Dose 2025,rat,cisplatin,lo,MSC,treated,msc,100000,iv,bun,72,mg/dL,60,5,SD,6
Dose 2025,rat,cisplatin,hi,MSC,treated,msc,1000000,iv,bun,72,mg/dL,50,5,SD,6
Dose 2025,rat,cisplatin,V,vehicle,control,none,,,bun,72,mg/dL,90,5,SD,6
"""


def test_two_groups_sharing_an_arm_id_are_rejected_naming_both_rows(store, tmp_path):
    f = tmp_path / "shared.csv"
    f.write_text(SHARED_ID)
    before = sha(store.path)
    with pytest.raises(ImportRejected) as ei:
        store.import_csv(f)
    assert sha(store.path) == before
    issue = next(i for i in ei.value.issues if i.column == "arm_id")
    assert issue.row == 3
    assert "rows 2 and 3" in issue.reason and "'A'" in issue.reason
    assert "'vehicle' vs 'MSC 1e6 IV'" in issue.reason and "role 'control' vs 'treated'" in issue.reason
    assert "give each group its own arm_id" in issue.reason
    assert "Mixed 2024" not in store.study_ids()


def test_same_label_and_id_with_different_doses_is_rejected(store, tmp_path):
    f = tmp_path / "doses.csv"
    f.write_text(SAME_LABEL_TWO_DOSES)
    with pytest.raises(ImportRejected) as ei:
        store.import_csv(f)
    (issue,) = [i for i in ei.value.issues if i.column == "arm_id"]
    assert issue.row == 3 and "dose 100000.0 vs 1000000.0" in issue.reason


def test_groups_with_their_own_arm_ids_stay_apart(store, tmp_path):
    f = tmp_path / "ids.csv"
    f.write_text(TWO_IDS)
    store.import_csv(f)
    arms = {a.arm_id: a for a in store.study("Dose 2025").arms}
    assert set(arms) == {"lo", "hi", "V"}
    assert (arms["lo"].dose, arms["hi"].dose) == (1e5, 1e6)
    assert [o.mean for o in arms["hi"].outcomes] == [50.0]


def _import_after_barrier(db, csv_path, barrier, q):
    from nephrosim.evidence import EvidenceStore, ImportRejected

    st = EvidenceStore(db)
    barrier.wait(60)
    try:
        st.import_csv(csv_path)
        q.put(("ok", ""))
    except ImportRejected as exc:
        q.put(("rejected", str(exc)))
    except BaseException as exc:  # reported to the parent, which fails the test with it
        q.put(("crash", f"{type(exc).__module__}.{type(exc).__name__}: {exc}"))


@pytest.mark.skipif(sys.platform == "win32", reason="fork/flock semantics")
def test_concurrent_imports_of_one_study_give_one_copy_and_one_clean_reject(store, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    ctx = mp.get_context("spawn")
    q, barrier = ctx.Queue(), ctx.Barrier(2)
    procs = [ctx.Process(target=_import_after_barrier, args=(str(store.path), str(good), barrier, q))
             for _ in range(2)]
    for p in procs:
        p.start()
    results = sorted(q.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(60)
    assert [r[0] for r in results] == ["ok", "rejected"], results
    assert "UserStudy 2024" in results[1][1] and "already exists" in results[1][1]
    fresh = EvidenceStore(store.path)
    assert fresh.study_ids().count("UserStudy 2024") == 1
    assert len(fresh.records(study_id="UserStudy 2024")) == 5  # one copy of the 5 rows
