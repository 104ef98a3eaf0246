"""The protocol-search page in a real browser, against ``optimize_protocol`` in this process.

The experiment is the builder's scenario of a fresh session (the IRI example); the search is edited
in its form. The test runs the same spec (downloaded from the run) with the public API while the app
works: the front the page shows, and its CSV, must equal ``optimize_protocol``'s exactly.
"""

from __future__ import annotations

import io
import json
import re

import pandas as pd
import yaml

from tests.app.pages import download, wait_done


def test_a_protocol_search_in_the_builder_experiment_equals_optimize_protocol(page, tmp_path):
    from nephrosim.analysis.protocol_search import as_spec, optimize_protocol

    page.goto("/protocols")
    experiment = page.inner_text("#protocol-scenario")
    # a small search: MSC only, two tissue sources, IV, 4 trials in generations of 2, 2 parameter sets each
    page.uncheck("input[name='search.product[]'][value='ev']")
    page.uncheck("input[name='search.tissue_source[]'][value='umbilical_cord']")
    page.uncheck("input[name='search.route[]'][value='renal_artery']")
    page.fill("#f-search-dose", '{"msc": {"low": 100000, "high": 2000000, "unit": "cells"}}')
    page.fill("#f-uncertainty-samples", "2")
    page.fill("#f-optimizer-trials", "4")
    page.fill("#f-optimizer-population", "2")
    page.fill("#f-optimizer-seed", "3")
    page.click("#protocol-check")
    assert page.inner_text("#protocol-message").startswith("valid: my protocol search in mouse ischemia_reperfusion: "
                                                           "4 trials in generations of 2, 2 parameter sets")
    page.click("#protocol-run")
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    spec = as_spec(yaml.safe_load(download(page, "#dl-protocol-yaml")))[0]  # what the app runs
    assert spec.search.product == ("msc",) and spec.search.route == ("iv",) and spec.optimizer.seed == 3
    assert spec.scenario["name"] in experiment and spec.scenario["injury"]["model"] == "ischemia_reperfusion"
    expected = optimize_protocol(spec, tmp_path / "study")  # while the app computes
    wait_done(page, timeout=300_000)
    page.wait_for_selector("#protocol-plot[data-ready='1']")

    rows = page.locator("tr.protocol-row").all()
    assert [int(r.get_attribute("data-trial")) for r in rows] == expected.front["trial"].tolist()
    assert [json.loads(r.get_attribute("data-efficacy")) for r in rows] == expected.front["efficacy"].tolist()
    assert [r.locator(".protocol").inner_text() for r in rows] == expected.front["protocol"].tolist()
    shown = pd.read_csv(io.BytesIO(download(page, "#dl-front-csv")))
    pd.testing.assert_frame_equal(shown, pd.read_csv(tmp_path / "study" / "front.csv"))
    assert f"of {expected.completed} completed trials" in page.inner_text("#protocol-summary")


def test_a_refused_search_is_named_beside_its_input_and_nothing_runs(page):
    page.goto("/protocols")
    runs_before = page.inner_text("#nav-runs")
    page.fill("#f-search-dose", '{"msc": {"low": 2000000, "high": 100000, "unit": "cells"}}')
    page.fill("#f-optimizer-population", "1")
    page.click("#protocol-run")
    problems = "\n".join(page.locator("pre.problems").all_inner_texts())
    assert "search.dose.msc" in problems and "swap them" in problems
    assert "optimizer.population" in problems
    assert "swap them" in page.inner_text("#protocol-form")  # beside the input too
    assert page.inner_text("#nav-runs") == runs_before
