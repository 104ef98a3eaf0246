"""Hostile inputs: one clear error (exit 2, no traceback), and the store is never touched.

The corpus is generated in ``tmp_path`` (nothing big is committed). Every file goes through
the real command line (``nephrosim evidence import FILE --db DB``); the store's bytes are
compared before and after (imports are all-or-nothing).
"""

import csv
import io
import shutil
import time

import duckdb
import pytest
from typer.testing import CliRunner

from nephrosim.cli import app

from .test_store import GOOD, sha

runner = CliRunner()

HEADER = ("study_id", "species", "injury", "arm_id", "arm", "role", "product", "dose", "readout", "time_h", "unit",
          "mean", "dispersion", "dispersion_type", "n", "quote")
BASE = dict(study_id="Hostile 1", species="rat", injury="ischemia_reperfusion", arm_id="V", arm="vehicle",
            role="control", product="none", dose="", readout="serum_creatinine", time_h="24", unit="mg/dL",
            mean="2.4", dispersion="0.4", dispersion_type="SD", n="8", quote="SCr 2.4 ± 0.4")


def table(*rows, header=HEADER) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([r.get(c, "") for c in header])
    return buf.getvalue().encode("utf-8")


def row(**kw):
    return {**BASE, **kw}


def treated(**kw):
    return row(**{**dict(arm_id="M", arm="MSC 1e6 IV", role="treated", product="msc", mean="1.5"), **kw})


# name -> (bytes of the file, or a callable(path) that writes it; a fragment the message must contain)
CORPUS = {
    "n_three_billion": (table(row(n="3000000000"), treated()), "3000000000"),
    "n_negative": (table(row(n="-5"), treated()), "n=-5"),
    "n_fraction": (table(row(n="7.5"), treated()), "whole number"),
    "n_nan": (table(row(n="NaN"), treated()), "finite"),
    "n_inf": (table(row(n="inf"), treated()), "finite"),
    "n_boolean": (table(row(n="TRUE"), treated()), "yes/no"),
    "mean_nan": (table(row(mean="nan"), treated()), "finite"),
    "mean_minus_inf": (table(row(mean="-inf"), treated()), "finite"),
    "mean_boolean": (table(row(mean="FALSE"), treated()), "yes/no"),
    "mean_overflow": (table(row(mean="1e999"), treated()), "too large"),
    "mean_thousands_separator": (table(row(mean="1,200"), treated()), "not a number"),
    "dispersion_boolean": (table(row(dispersion="yes"), treated()), "yes/no"),
    "time_absurd": (table(row(time_h="1e300"), treated()), "100 years"),
    "dose_negative": (table(row(), treated(dose="-1000")), "negative"),
    "formula_in_n": (table(row(n="=cmd|' /C calc'!A0"), treated()), "not a number"),
    "formula_in_mean": (table(row(mean="+SUM(1)"), treated()), "not a number"),
    "formula_in_time": (table(row(time_h="-2+3"), treated()), "not a number"),
    "formula_in_dispersion": (table(row(dispersion="@SUM(1)"), treated()), "not a number"),
    "hyperlink_as_species": (table(row(species='=HYPERLINK("http://evil.example","rat")'), treated()),
                             "unknown species"),
    "escape_sequence_in_arm": (table(row(arm="\x1b[2J\x1b[31mvehicle"), treated()), "control character"),
    "bidi_override_in_study_id": (table(row(study_id="Hostile\u202e1"), treated(study_id="Hostile\u202e1")),
                                  "control character"),
    "shared_arm_id": (table(row(), treated(arm_id="V")), "give each group its own arm_id"),
    "existing_study_id": (table(row(study_id="Cai 2014"), treated(study_id="Cai 2014")), "already exists"),
    "binary_png": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "PNG"),
    "binary_nul": (b"study_id,species\n" + bytes(range(256)) * 8, "binary"),
    "utf16": (table(row(), treated()).decode().encode("utf-16"), "binary"),
    "latin1": (table(row(arm="v\u00e9hicule"), treated()).decode().encode("latin-1"), "not UTF-8"),
    "excel_disguised": (b"PK\x03\x04" + bytes(200), "Excel"),
    "empty": (b"", "empty"),
    "blank_lines_only": (b"\n \n\t\n", "blank"),
    "header_only": (table(), "no data rows"),
    "duplicate_columns": (table(row(), treated(), header=HEADER + ("mean",)), "more than once"),
    "empty_column_name": (table(row(), treated(), header=HEADER + ("",)), "no name"),
    "ragged_row": (table(row(), treated()) + b"Hostile 1,rat,ischemia_reperfusion,V,a,b,c,d,e,f,g,h,i,j,k,l,m,n,o\n",
                   "well-formed"),
    "unclosed_quote": (table(row(), treated()) + b'Hostile 1,"rat,ischemia_reperfusion\n', "well-formed"),
    "missing_required_columns": (b"a,b,c\n1,2,3\n", "required column"),
    "fifty_megabytes": (lambda p: _sparse(p, 50 * 1024 * 1024), "at most 20,971,520 bytes"),
}
NAMED = {  # files whose name, not content, is the problem
    "scenario.yaml": (b"name: my scenario\narms:\n  - dose: 1e6\n", "YAML"),
    "store.duckdb": (None, "DuckDB"),
    "folder.csv": (lambda p: p.mkdir(), "is a folder"),
    "missing.csv": (lambda p: None, "does not exist"),
}


def _sparse(path, size):
    with open(path, "wb") as fh:
        fh.write(table(row(), treated()))
        fh.truncate(size)  # a sparse 50 MB file: cheap to make, and must not be read


def _write(path, content, template=None):
    if callable(content):
        content(path)
    elif content is None:
        shutil.copyfile(template, path)
    else:
        path.write_bytes(content)


def _assert_clean_refusal(result, fragment, elapsed):
    out = result.output
    assert elapsed < 10, f"took {elapsed:.1f} s"
    assert result.exit_code == 2, out
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # typer.Exit, not a crash
    assert "Traceback" not in out
    assert "\x1b" not in out and "\u202e" not in out  # escapes are shown escaped, never sent raw
    assert fragment in out, out


def test_corpus_is_big_enough():
    assert len(CORPUS) + len(NAMED) >= 25


@pytest.mark.parametrize("case", sorted(CORPUS) + sorted(NAMED))
def test_hostile_csv_is_refused_cleanly_and_store_untouched(case, store, tmp_path, _seeded_template):
    content, fragment = CORPUS.get(case) or NAMED[case]
    path = tmp_path / (case if case in NAMED else f"{case}.csv")
    _write(path, content, _seeded_template)
    before = sha(store.path)
    t0 = time.monotonic()
    result = runner.invoke(app, ["evidence", "import", str(path), "--db", str(store.path)])
    _assert_clean_refusal(result, fragment, time.monotonic() - t0)
    assert sha(store.path) == before


def test_the_base_rows_import(store, tmp_path):
    """The corpus's base rows are valid: each hostile file fails for its own reason."""
    path = tmp_path / "ok.csv"
    path.write_bytes(table(row(), treated()))
    r = runner.invoke(app, ["evidence", "import", str(path), "--db", str(store.path)])
    assert r.exit_code == 0, r.output
    assert "Hostile 1" in store.study_ids()


def _db_cases(tmp_path, template):
    text = tmp_path / "not_a_db.duckdb"
    text.write_text("study_id,species\nA,rat\n")
    empty = tmp_path / "empty.duckdb"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.duckdb"
    data = template.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    folder = tmp_path / "folder.duckdb"
    folder.mkdir()
    foreign = tmp_path / "foreign.duckdb"
    con = duckdb.connect(str(foreign))
    con.execute("CREATE TABLE t (a INTEGER)")
    con.close()
    return {"text file": (text, "not a DuckDB database"), "empty file": (empty, "empty file"),
            "truncated store": (truncated, "truncated or damaged"), "folder": (folder, "is a folder"),
            "DuckDB without the evidence tables": (foreign, "not a nephrosim evidence store")}


@pytest.mark.parametrize("command", [["evidence", "import", "GOOD"], ["evidence", "list"],
                                     ["evidence", "show", "Cai 2014"],
                                     ["meta", "--readout", "serum_creatinine", "--product", "msc"]])
def test_bad_db_is_refused_cleanly_and_never_written(command, tmp_path, _seeded_template):
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    for what, (db, fragment) in _db_cases(tmp_path, _seeded_template).items():
        before = sha(db) if db.is_file() else sorted(db.iterdir())
        t0 = time.monotonic()
        args = [str(good) if a == "GOOD" else a for a in command] + ["--db", str(db)]
        result = runner.invoke(app, args)
        _assert_clean_refusal(result, fragment, time.monotonic() - t0)
        assert "--db" in result.output, what
        assert (sha(db) if db.is_file() else sorted(db.iterdir())) == before, what


FORMULAS = {
    "arm": "=cmd|' /C calc'!A0",
    "quote": "+SUM(1)",
    "injury_details": "-2+3",
    "notes": "@SUM(1)",
    "source_location": '=HYPERLINK("http://evil.example","Table 2")',
}


def _neutral(cell):
    return not cell or cell[0] not in "=+-@\t\r"


def test_exports_neutralise_formula_cells(store, tmp_path):
    rows = [dict(study_id="Formula 1", species="rat", injury="cisplatin", arm=FORMULAS["arm"], role="control",
                 product="none", readout="bun", time_h="72", timing_h="-24", unit="mg/dL", mean="90", dispersion="5",
                 dispersion_type="SD", n="6", quote=FORMULAS["quote"], injury_details=FORMULAS["injury_details"],
                 notes=FORMULAS["notes"], source_location=FORMULAS["source_location"])]
    src = tmp_path / "formulas.csv"
    src.write_bytes(table(*rows, header=tuple(rows[0])))
    r = runner.invoke(app, ["evidence", "import", str(src), "--db", str(store.path)])
    assert r.exit_code == 0, r.output
    assert store.study("Formula 1").arms[0].label == FORMULAS["arm"]  # the text is kept as written
    out = tmp_path / "export.csv"
    r = runner.invoke(app, ["evidence", "export", str(out), "--db", str(store.path)])
    assert r.exit_code == 0, r.output
    r_stdout = runner.invoke(app, ["evidence", "export", "--db", str(store.path)])
    assert r_stdout.exit_code == 0
    for text in (out.read_text(encoding="utf-8"), r_stdout.stdout):
        records = list(csv.DictReader(io.StringIO(text)))
        assert len(records) > 500
        mine = next(x for x in records if x["study_id"] == "Formula 1")
        for col, formula in FORMULAS.items():
            assert mine[col] == "'" + formula, (col, mine[col])
        assert mine["timing_raw"] == "'-24"  # text column: neutralised
        assert float(mine["timing_h"]) == -24.0  # numeric column: stays a number
        numeric = {"dose", "timing_h", "time_h", "mean", "dispersion", "n"}
        bad = [(x["study_id"], c, v) for x in records for c, v in x.items() if c not in numeric and not _neutral(v)]
        assert not bad, bad[:5]


def test_terminal_output_shows_escape_sequences_escaped(store):
    from nephrosim.evidence import Arm, Outcome, Study

    evil = "\x1b]0;pwned\x07\x1b[2J"
    store.add_studies([Study(study_id=f"Esc{evil}", species="rat", injury="cisplatin", arms=(
        Arm(arm_id="a", label=f"vehicle{evil}", role="control", product="none",
            outcomes=(Outcome(readout="bun", time_h=72, mean=90, unit="mg/dL", n=6),)),))])
    for args in (["evidence", "list"], ["evidence", "show", f"Esc{evil}"], ["evidence", "export"]):
        r = runner.invoke(app, args + ["--db", str(store.path)])
        assert r.exit_code == 0, r.output
        assert "\x1b" not in r.output and "\x07" not in r.output
        assert "\\x1b]0;pwned\\x07\\x1b[2J" in r.output


@pytest.mark.parametrize("name, content, fragment", [
    ("scenario.yaml", b"name: x\narms:\n  - dose: 1\n", "YAML"),
    ("table.json", b'[{"yi": 1, "vi": 0.1}]', "JSON"),
    ("table.xlsx", b"PK\x03\x04" + bytes(100), "Excel"),
    ("table", b"yi,vi\n0.1,0.2\n", "without the .csv extension"),
    ("binary.csv", bytes(range(256)), "binary"),
    ("yaml_named.csv", "yi: 1\nvi: caf\u00e9\n".encode("latin-1"), "not UTF-8"),
])
def test_meta_refuses_non_csv_files_clearly(name, content, fragment, tmp_path):
    path = tmp_path / name
    path.write_bytes(content)
    t0 = time.monotonic()
    r = runner.invoke(app, ["meta", str(path)])
    _assert_clean_refusal(r, fragment, time.monotonic() - t0)
    assert "CSV" in r.output
