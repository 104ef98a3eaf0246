"""``nephrosim trial-design --report``: the HTML design table holds the command's own numbers (its
``--json`` table and its ``-o`` file), in its ranked order, with the skipped designs and their reasons."""

import json
import math
from html.parser import HTMLParser

import pandas as pd
import pytest
import typer
import yaml
from typer.testing import CliRunner

from nephrosim.commands.trials import register
from tests.trials.conftest import SMALL

#: tests/trials/conftest.py's small base trial (the population of tests/report/test_trial_report_figures.py
#: at seed 3, so a run of tests/report/ simulates it once), two timings of which one is refused.
SEARCH = {
    "name": "small search",
    "base": yaml.safe_load(SMALL),
    "candidates": {"treatment": [None, {"product": "msc", "dose": 2.0e6, "dose_unit": "cells/kg",
                                        "route": "intra_arterial_aorta"}],
                   "timing": [{"relative_to": "surgery", "delay_h": 48}, {"relative_to": "surgery", "delay_h": 0}],
                   "n_per_arm": [8, 15], "endpoint": ["recovery", "scr_auc"],
                   "multi_arm": [[0, 1]]},  # a three-arm design (placebo as a treated arm, and MSC)
    "replicates": 40, "pool_limit": 30,
}
SEARCH["base"]["accrual"] = {"patients_per_month": 10}  # calendar time: each design's planned duration

#: report heading -> the command's table column (written here, not taken from the report module)
NUMBERS = {"power": "power", "power 95 % lo": "power_lo", "power 95 % hi": "power_hi", "P(success)": "p_success",
           "P(success) 95 % lo": "p_success_lo", "P(success) 95 % hi": "p_success_hi",
           "P(correct decision)": "p_correct", "n per arm": "n_per_arm", "total n": "total_n",
           "true effect (relative reduction), median over draws": "true_effect_median",
           "trials (draws × replicates)": "trials"}
OPTIONAL = {"treated arms": "treated_arms", "P(every treated arm succeeds), multi-arm": "power_all",
            "planned duration, months": "planned_duration_months"}
TEXTS = {"product, dose, route": "treatment", "timing": "timing", "endpoint": "endpoint", "entry": "inclusion"}


class Tables(HTMLParser):
    """Every <table> of a page: caption, header cells, body rows (text, entities decoded)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables, self._cell, self._row = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"caption": "", "head": [], "rows": []})
        elif tag in ("td", "th", "caption"):
            self._cell = []
        elif tag == "tr":
            self._row = []

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "caption":
            self.tables[-1]["caption"] = "".join(self._cell)
            self._cell = None
        elif tag == "tr":
            key = "head" if not self.tables[-1]["head"] else "rows"
            self.tables[-1][key] = self._row if key == "head" else self.tables[-1]["rows"] + [self._row]


def _app():
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    return app


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("design")
    (tmp / "s.yaml").write_text(yaml.safe_dump(SEARCH))
    res = CliRunner().invoke(_app(), ["trial-design", str(tmp / "s.yaml"), "-o", str(tmp / "designs.csv"), "--seed",
                                      "3", "--json", "--no-progress", "--report", str(tmp / "designs.html")])
    assert res.exit_code == 0, res.output
    parser = Tables()
    parser.feed((tmp / "designs.html").read_text(encoding="utf-8"))
    return json.loads(res.stdout), parser.tables, pd.read_csv(tmp / "designs.csv", keep_default_na=False)


def _table(tables, caption):
    [t] = [t for t in tables if t["caption"].startswith(caption)]
    return pd.DataFrame(t["rows"], columns=t["head"])


def _close(shown: str, value) -> bool:
    """A report cell (4 significant digits, '–' for NaN) against the command's number."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return shown == "–"
    return math.isclose(float(shown), float(value), rel_tol=5e-4, abs_tol=1e-12)


def test_ranked_table_holds_the_commands_numbers_in_its_order(run):
    summary, tables, csv = run
    ran = [r for r in summary["table"] if not r["skipped"]]
    shown = _table(tables, "designs ranked by P(success)")
    assert len(shown) == len(ran) == summary["designs"] > 0
    assert shown["rank"].tolist() == [str(k) for k in range(1, len(ran) + 1)]
    for (_, row), expected, (_, file_row) in zip(shown.iterrows(), ran, csv[csv["skipped"] == ""].iterrows()):
        for heading, key in NUMBERS.items():
            assert _close(row[heading], expected[key]), (heading, row[heading], expected[key])
            assert _close(row[heading], file_row[key]), (heading, "file")
        for heading, key in TEXTS.items():
            assert row[heading] == expected[key] == file_row[key]
        for heading, key in OPTIONAL.items():  # columns of multi-arm designs and of a base accrual
            assert _close(row[heading], expected[key]), (heading, row[heading], expected[key])
        favouring = expected["p_success"] / expected["power"] if expected["power"] > 0 else float("nan")
        assert _close(row["favouring treatment, share of significant"], favouring)
        assert (row["Pareto"] == "yes") == bool(expected["pareto"])
    success = [float(x) for x in shown["P(success)"]]
    assert success == sorted(success, reverse=True)
    assert set(shown["treated arms"]) == {"1", "2"}  # both kinds of design ran and are ranked together


def test_skipped_designs_and_the_search_context_are_reported(run):
    summary, tables, _ = run
    skipped = [r for r in summary["table"] if r["skipped"]]
    shown = _table(tables, "candidate designs the trial schema or the pool refused")
    assert summary["skipped"] == len(skipped) == len(shown) > 0
    assert shown["why"].tolist() == [r["skipped"] for r in skipped]
    pools = _table(tables, "eligible pool per entry rule")
    assert dict(zip(pools["entry"], pools["pool patients"].astype(int))) == summary["eligible_pool"]


def test_a_bad_report_path_is_refused_before_the_search(tmp_path):
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(SEARCH))
    res = CliRunner().invoke(_app(), ["trial-design", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "d.csv"),
                                      "--report", str(tmp_path / "designs.pdf")])
    assert res.exit_code == 2
    assert "--report" in res.output and ".html" in res.output
    assert not (tmp_path / "d.csv").exists() and not (tmp_path / "d.csv.parts").exists()
