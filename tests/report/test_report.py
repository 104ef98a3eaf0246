"""HTML reports (``--report out.html``): the numbers are the API's, the figure is a real image,
provenance counts agree with the parameter table, user text is escaped, nothing is external."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser

import pytest
import yaml
from typer.testing import CliRunner

import nephrosim
from nephrosim.biology.parameters import ParameterTable
from nephrosim.cli import app

runner = CliRunner()
HOSTILE = "<script>alert('x')</script>"
SCENARIO = {
    "name": "report_check",
    "species": "mouse",
    "injury": {"model": "clearance_change", "fraction": 0.8, "duration_h": 24, "recovery_h": 24},
    "arms": [{"name": "vehicle"},
             {"name": HOSTILE, "treatments": [{"product": "ev", "dose": 10, "dose_unit": "ug_protein"}]}],
    "readouts": ["serum_creatinine", "gfr"],
    "units": {"serum_creatinine": "umol/L"},
    "times_h": [0, 6, 24, 72],
    "parameters": {"tbw_fraction": 0.65},  # an override: shown as set by the scenario, not as evidence
}


class Tables(HTMLParser):
    """Every <table> as caption + rows of cell text; every <img src>, <a href>, <link>, <script>."""

    def __init__(self):
        super().__init__()
        self.tables, self.images, self.refs, self.tags = [], [], [], []
        self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "table":
            self.tables.append({"caption": "", "rows": []})
        elif tag == "tr":
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th", "caption"):
            self._cell = ""
        elif tag == "img":
            self.images.append(a["src"])
        for key in ("href", "src", "action", "srcset"):
            if key in a:
                self.refs.append(a[key])

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1]["rows"][-1].append(self._cell)
            self._cell = None
        elif tag == "caption":
            self.tables[-1]["caption"] = self._cell
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    path = d / "s.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    out = d / "sub" / "r.html"
    result = runner.invoke(app, ["simulate", str(path), "--report", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    parsed = Tables()
    parsed.feed(html)
    return html, parsed, nephrosim.simulate(SCENARIO)


def _table(parsed, caption):
    (t,) = [t for t in parsed.tables if t["caption"] == caption]
    return t["rows"][0], t["rows"][1:]


def test_readout_table_holds_the_api_numbers(report):
    _, parsed, api = report
    header, rows = _table(parsed, "readouts at the output times")
    assert header == ["arm", "time [h]", "serum_creatinine [umol/L]", "gfr [mL/min]"]
    assert len(rows) == len(SCENARIO["arms"]) * len(SCENARIO["times_h"])
    for arm, t, scr, gfr in rows:
        i = list(api.times_h).index(float(t))
        # 4 significant digits are printed
        assert float(scr) == pytest.approx(api.get(arm, "serum_creatinine")[i], rel=1e-3)
        assert float(gfr) == pytest.approx(api.get(arm, "gfr")[i], rel=1e-3)
    # the SCr rise is in the table: vehicle at 24 h is well above its baseline
    vehicle = {float(r[1]): float(r[2]) for r in rows if r[0] == "vehicle"}
    assert vehicle[24.0] > 2 * vehicle[0.0]


def test_embedded_figure_decodes_to_an_image(report):
    import matplotlib.image

    _, parsed, _ = report
    assert parsed.images, "no figure embedded"
    for src in parsed.images:
        head, data = src.split(",", 1)
        assert head == "data:image/png;base64"
        raw = base64.b64decode(data, validate=True)
        assert raw[:8] == b"\x89PNG\r\n\x1a\n"
        pixels = matplotlib.image.imread(io.BytesIO(raw), format="png")
        assert pixels.shape[0] > 200 and pixels.shape[1] > 200
        assert pixels.std() > 0.01  # not a blank canvas


def test_provenance_counts_match_the_parameter_table(report):
    _, parsed, _ = report
    _, kinds = _table(parsed, "provenance kinds")
    header, rows = _table(parsed, "parameters used")
    assert header[:2] == ["name", "species"] and "provenance" in header
    col = header.index("provenance")
    counted = {k: int(n) for k, n in kinds}
    from collections import Counter

    assert dict(Counter(r[col] for r in rows)) == counted
    table = ParameterTable.default()
    # every row shown is the table's row for mouse, with its value and provenance, except the rows
    # the scenario itself set (the clearance fall), which say so and keep the table's value in words
    for r in rows:
        rec = table.record(r[0], "mouse")
        if r[col] == "scenario":
            assert float(r[2]) != pytest.approx(rec.value, rel=1e-3) and f"table value {rec.value:g}" in r[-1]
        else:
            assert r[col] == rec.provenance
            assert float(r[2]) == pytest.approx(rec.value, rel=1e-3, abs=1e-12)
    # the creatinine mass balance (V dC/dt = G - CL C) needs GFR, generation, secretion and body water
    names = {r[0] for r in rows}
    assert {"gfr_ml_min_per_kg", "creatinine_production_mg_per_kg_h", "creatinine_secretion_fraction",
            "tbw_fraction"} <= names
    assert not any(n.startswith("iri_") for n in names)
    (tbw,) = [r for r in rows if r[0] == "tbw_fraction"]
    assert tbw[col] == "scenario" and float(tbw[2]) == 0.65  # no ischaemia in a clearance-change scenario
    assert sum(counted.values()) == len(rows)


def test_user_text_is_escaped(report):
    html, parsed, _ = report
    assert HOSTILE not in html
    assert "<script" not in html.lower()
    assert "script" not in parsed.tags
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    # and it still reads as the arm name in the tables
    _, rows = _table(parsed, "arms")
    assert [r[0] for r in rows] == ["vehicle", HOSTILE]


def test_report_is_self_contained(report):
    html, parsed, _ = report
    assert all(ref.startswith("data:") for ref in parsed.refs), [r[:60] for r in parsed.refs]
    assert "link" not in parsed.tags and "iframe" not in parsed.tags
    assert not re.search(r"url\(|@import", html)
    # the facts a colleague needs to reproduce it
    for fact in ("command", "seed", "date", "nephrosim", "libroadrunner", "numpy"):
        assert f">{fact}<" in html
    assert "fraction: 0.8" in html  # the scenario YAML itself


def test_bad_report_path_is_refused_before_the_run(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    result = runner.invoke(app, ["simulate", str(path), "--report", str(tmp_path / "r.txt")])
    assert result.exit_code == 2 and ".html" in result.output
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(app, ["simulate", str(path), "--report", str(blocker / "r.html")])
    assert result.exit_code == 2 and "cannot write" in result.output
    assert "serum_creatinine" not in result.output  # nothing was simulated
    assert not list(tmp_path.glob("**/*.html"))


def test_compare_report_states_the_reference_arm_and_the_effects(tmp_path):
    """The effect table of the compare report is the one ``compare -o`` writes, with its reference arm."""
    import pandas as pd

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**SCENARIO, "times_h": [0, 24, 48], "readouts": ["serum_creatinine"]}))
    out = tmp_path / "c.html"
    result = runner.invoke(app, ["compare", str(path), "-o", str(tmp_path / "c.csv"), "--report", str(out)])
    assert result.exit_code == 0, result.output
    parsed = Tables()
    parsed.feed(out.read_text(encoding="utf-8"))
    header, rows = _table(parsed, "effect per treated arm")
    effects = pd.read_csv(tmp_path / "c_effects.csv")
    assert header[:2] == ["arm", "reference_arm"]
    assert [r[0] for r in rows] == [HOSTILE, HOSTILE] and {r[1] for r in rows} == {"vehicle"}
    est = header.index("estimate_pct")
    assert [float(r[est]) for r in rows] == pytest.approx(effects["estimate_pct"].tolist(), abs=1e-3)
    assert "Interval: not computed" in out.read_text(encoding="utf-8")


def test_a_markdown_report_is_rendered_escaped_with_its_plots_embedded(tmp_path):
    """check-model and validate write Markdown with PNG plots beside it: the HTML report renders
    the tables, embeds the plots and escapes any raw HTML in the text."""
    import matplotlib.image

    from nephrosim.figures import subplots
    from nephrosim.report import Report, render
    from nephrosim.report.builders import markdown_section

    fig, ax = subplots()
    ax.plot([0, 1], [0, 1])
    fig.savefig(tmp_path / "plot.png")
    (tmp_path / "report.md").write_text(f"# r\n\n| study | n |\n|---|---|\n| {HOSTILE} | 3 |\n\n![fit](plot.png)\n")
    html = render(Report("t", "nephrosim check-model", (markdown_section("Report", tmp_path / "report.md"),)))
    parsed = Tables()
    parsed.feed(html)
    assert HOSTILE not in html and "script" not in parsed.tags
    (table,) = [t for t in parsed.tables if t["rows"] and t["rows"][0] == ["study", "n"]]
    assert table["rows"][1] == [HOSTILE, "3"]
    (src,) = parsed.images
    raw = base64.b64decode(src.split(",", 1)[1])
    assert matplotlib.image.imread(io.BytesIO(raw), format="png").shape[0] > 100
    assert "plot.png" not in html  # no link to the file beside it


def test_ensemble_report_quantiles_are_those_of_the_written_table(tmp_path):
    """The 5 %/median/95 % table of the ensemble report is computed from the Parquet file the
    ensemble wrote (checked here with numpy on the file itself)."""
    import numpy as np
    import pandas as pd

    path = tmp_path / "s.yaml"
    small = {**SCENARIO, "arms": SCENARIO["arms"][:1], "readouts": ["serum_creatinine"], "times_h": [0, 24]}
    path.write_text(yaml.safe_dump(small))
    out = tmp_path / "e.html"
    result = runner.invoke(app, ["ensemble", str(path), "-n", "6", "--seed", "4", "-o", str(tmp_path / "e.parquet"),
                                 "--report", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    parsed = Tables()
    parsed.feed(html)
    header, rows = _table(parsed, "5 %, median and 95 % of each readout")
    assert header == ["arm", "readout", "unit", "time [h]", "5 %", "median", "95 %"]
    frame = pd.read_parquet(tmp_path / "e.parquet")
    for arm, readout, unit, t, lo, mid, hi in rows:
        values = frame[(frame["arm"] == arm) & (frame["readout"] == readout) & (frame["time_h"] == float(t))]["value"]
        assert len(values) == 6 and unit == "umol/L"
        assert [float(lo), float(mid), float(hi)] == pytest.approx(np.quantile(values, [0.05, 0.5, 0.95]), rel=1e-3)
    assert ">seed<" in html and "<dd>4</dd>" in html


def test_meta_report_holds_the_pooled_estimate(tmp_path):
    """``nephrosim meta FILE --report``: the pooled estimate in the report is the one --json prints."""
    import json
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "evidence" / "data" / "dat_bcg.csv"
    out = tmp_path / "m.html"
    result = runner.invoke(app, ["meta", str(data), "--measure", "RR", "--report", str(out)])
    assert result.exit_code == 0, result.output
    printed = json.loads(runner.invoke(app, ["meta", str(data), "--measure", "RR", "--json"]).output)
    parsed = Tables()
    parsed.feed(out.read_text(encoding="utf-8"))
    _, rows = _table(parsed, "summary")
    summary = dict(rows)
    numeric = [k for k, v in printed.items() if isinstance(v, float)]
    assert numeric
    for key in numeric:
        assert float(summary[key]) == pytest.approx(printed[key], rel=1e-3, abs=1e-9), key
    # and it is metafor's answer: rma(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)
    assert float(summary["estimate"]) == pytest.approx(-0.7145, abs=1e-4)
    assert float(summary["tau2"]) == pytest.approx(0.3132, abs=1e-4)
    assert len(parsed.images) == 2  # forest and funnel plots
    refused = runner.invoke(app, ["meta", str(data), "--report", str(tmp_path / "m.txt")])
    assert refused.exit_code == 2 and ".html" in refused.output
