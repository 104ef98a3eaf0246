import json

import pytest
import typer
from typer.testing import CliRunner

from nephrosim.evidence.cli import evidence_app, meta

from .test_store import BAD, GOOD, sha


@pytest.fixture(scope="module")
def app():
    a = typer.Typer()
    a.add_typer(evidence_app, name="evidence")
    a.command("meta")(meta)
    return a


runner = CliRunner()


def run(app, args):
    return runner.invoke(app, [str(a) for a in args])


def test_meta_json_bcg_reml_knha(app, tmp_path):
    from pathlib import Path

    bcg = Path(__file__).parent / "data" / "dat_bcg.csv"
    r = run(app, ["meta", bcg, "--measure", "RR", "--knha", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert abs(d["estimate"] - (-0.7145)) < 5e-5
    assert abs(d["se"] - 0.1808) < 5e-5
    assert abs(d["ci_lb"] - (-1.1084)) < 5e-5 and abs(d["ci_ub"] - (-0.3206)) < 5e-5
    assert abs(d["tau2"] - 0.3132) < 5e-5
    assert abs(d["i2"] - 92.22) < 0.005
    assert abs(d["q"] - 152.2330) < 5e-5 and d["k"] == 13
    assert d["method"] == "REML" and d["measure"] == "RR"
    r = run(app, ["meta", bcg, "--measure", "RR", "--method", "DL", "--json"])
    d = json.loads(r.stdout)
    assert abs(d["tau2"] - 0.3088) < 5e-5 and abs(d["i2"] - 92.1173) < 5e-5
    r = run(app, ["meta", bcg, "--measure", "RR", "--mods", "ablat", "--knha", "--json"])
    d = json.loads(r.stdout)
    assert abs(d["coefficients"][1]["estimate"] - (-0.0291)) < 5e-5 and abs(d["r2"] - 75.62) < 0.005


def test_meta_yi_vi_table_and_plots(app, tmp_path, bcg_rr):
    f = tmp_path / "yv.csv"
    bcg_rr[["author", "year", "yi", "vi"]].to_csv(f, index=False)
    r = run(app, ["meta", f, "--forest", tmp_path / "f.svg", "--funnel", tmp_path / "f.png"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "f.svg").exists() and (tmp_path / "f.png").exists()
    assert "Random-effects model (k = 13" in r.stdout


def test_meta_bad_input_exit_2_no_traceback(app, tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("a,b\n1,2\n")
    r = run(app, ["meta", f])
    assert r.exit_code == 2
    assert "yi,vi" in r.output and "Traceback" not in r.output
    r = run(app, ["meta", f, "--measure", "XYZ"])
    assert r.exit_code == 2 and "measure" in r.output


def test_meta_from_store_lists_exclusions(app, store, tmp_path):
    r = run(app, ["meta", "--readout", "serum_creatinine", "--injury", "aki", "--species", "rodent",
                  "--product", "msc", "--json", "--db", store.path, "--forest", tmp_path / "scr.png"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["estimate"] < 0 and d["measure"] == "SMD"
    assert any(e["reason"] == "n not reported" for e in d["excluded"])
    assert (tmp_path / "scr.png").exists()
    r = run(app, ["meta", "--readout", "mortality", "--injury", "sepsis", "--product", "msc", "--db", store.path])
    assert r.exit_code == 0, r.output
    assert "Excluded:" in r.stdout or "Assumptions:" in r.stdout


def test_evidence_import_list_show_export(app, store, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD)
    before = sha(store.path)
    r = run(app, ["evidence", "import", bad, "--db", store.path])
    assert r.exit_code == 2
    assert "row 2, column 'unit'" in r.output and "row 9, column 'mean'" in r.output
    assert sha(store.path) == before
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    r = run(app, ["evidence", "import", good, "--db", store.path])
    assert r.exit_code == 0, r.output
    r = run(app, ["evidence", "list", "--readout", "serum_creatinine", "--species", "rat", "--db", store.path])
    assert "UserStudy 2024" in r.stdout
    r = run(app, ["evidence", "show", "UserStudy 2024", "--db", store.path])
    assert "no mean reported" in r.stdout and "treated" in r.stdout
    r = run(app, ["evidence", "show", "nope", "--db", store.path])
    assert r.exit_code == 2
    out = tmp_path / "e.csv"
    r = run(app, ["evidence", "export", out, "--product", "msc", "--db", store.path])
    assert r.exit_code == 0 and out.exists()
