"""The sensitivity page in a real browser, against ``scenario_sensitivity`` in this process.

The run starts in the app (a child process of the server); the test computes the same analysis with
the public API while the app works, and the page's indices, the order they are shown in, and the
downloaded JSON must equal the API's exactly (same scenario, design and seed).
"""

from __future__ import annotations

import io
import json
import re

import pandas as pd
import yaml

from tests.app.pages import download, wait_done


def test_group_sobol_of_the_builder_scenario_equals_scenario_sensitivity(page):
    from nephrosim.analysis.sensitivity import scenario_sensitivity
    from nephrosim.scenarios.schema import scenario_from_dict

    page.goto("/sensitivity")  # a fresh session's builder draft: the IRI example with an MSC arm
    treated = page.input_value("#sens-arm")  # the first treated arm is offered first
    page.select_option("#sens-method", "sobol")
    page.select_option("#sens-readout", "serum_creatinine")
    page.fill("#sens-at_h", "48")
    page.fill("#sens-samples", "4")
    page.fill("#sens-seed", "7")
    assert page.is_checked("#sens-groups")
    page.click("#sens-run")
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    scenario = scenario_from_dict(yaml.safe_load(download(page, "#dl-yaml")))  # what the app runs
    assert scenario.arm(treated).treatments
    expected = scenario_sensitivity(scenario, "serum_creatinine", 48.0, treated, "sobol", 4, 7, groups=True)
    wait_done(page, timeout=180_000)
    page.wait_for_selector("#sens-plot[data-ready='1']")

    # the groups, most influential (by the total index) first, each index and interval the API's
    rows = page.locator("tr.sens-row").all()
    assert [r.get_attribute("data-name") for r in rows] == expected.ranking()
    for r in rows:
        name = r.get_attribute("data-name")
        for key in ("first", "total"):
            shown = [json.loads(r.locator(f"{c}[data-index='{key}']").get_attribute("data-value"))
                     for c in (".idx", ".lo", ".hi")]
            assert shown == [expected.value(key, name), *(float(a[expected.names.index(name)])
                                                          for a in expected.indices[key][1:])]
    assert f"{expected.evaluations} simulations" in page.inner_text("#sens-definition")
    assert expected.evaluations == 4 * (len(expected.names) + 2)  # samples × (G + 2)
    # the downloads: the JSON is `nephrosim sensitivity --json`, the CSV the indices table
    assert json.loads(download(page, "#dl-sens-json")) == json.loads(json.dumps(expected.to_dict()))
    table = pd.read_csv(io.BytesIO(download(page, "#dl-sens-csv"))).set_index("parameter")
    pd.testing.assert_frame_equal(table, expected.to_frame(), check_names=False)
    # the chart draws the total and first-order indices in the table's order
    bars = page.evaluate("document.getElementById('sens-plot').data.map(t => [t.name, t.x, t.y])")
    assert {name: (x, y) for name, x, y in bars} == {
        label: (expected.ranking(), [expected.value(key, n) for n in expected.ranking()])
        for key, label in (("total", "total (ST)"), ("first", "first-order (S1)"))}


def test_a_design_the_method_cannot_use_is_named_and_runs_nothing(page):
    page.goto("/sensitivity")
    runs_before = page.inner_text("#nav-runs")
    page.select_option("#sens-method", "sobol")
    page.fill("#sens-samples", "6")
    page.click("#sens-run")
    problems = page.inner_text("pre.problems")
    assert "samples: 6 is not a power of 2" in problems and "use 4 or 8" in problems
    assert page.input_value("#sens-samples") == "6"  # what was typed is kept
    page.select_option("#sens-method", "morris")
    page.fill("#sens-samples", "4")
    page.fill("#sens-parameters", "gfr_ml_min_per_kg, gfr_ml_min_per_kgg")
    page.uncheck("#sens-groups")
    page.click("#sens-run")
    assert re.search(r"parameters: 'gfr_ml_min_per_kgg' \(did you mean 'gfr_ml_min_per_kg'.*\) not in the parameter "
                     "table", page.inner_text("pre.problems"))
    assert page.inner_text("#nav-runs") == runs_before  # nothing was started
    # a table row this injury model does not use (cisplatin's dose) is found when the model is built:
    # the run fails with the analysis's own reason
    page.fill("#sens-parameters", "gfr_ml_min_per_kg cis_dose_mg_per_kg")
    page.click("#sens-run")
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    page.wait_for_selector("#run-state.state-done, #run-state.state-failed", timeout=120_000)
    assert page.inner_text("#run-state") == "failed"
    assert "'cis_dose_mg_per_kg' not a parameter of this arm's model" in page.inner_text("#run")
    page.goto("/sensitivity")
    page.select_option("#sens-method", "delta")
    page.fill("#sens-samples", "64")
    page.check("#sens-groups")
    page.click("#sens-run")
    assert "groups: group sensitivity is for method sobol, not delta" in page.inner_text("pre.problems")


def test_a_sensitivity_run_keeps_its_chunks_and_a_rerun_on_them_gives_the_same_indices(tmp_path):
    """The app's sensitivity runs are resumable: finished chunks are kept in the run's work folder, a
    rerun on it simulates only the missing ones (what *Resume* does after a crash) and gives the same
    indices; progress counts the kept chunks too."""
    from nephrosim.app import worker
    from nephrosim.scenarios.schema import load_scenario

    scenario = load_scenario("examples/mouse_clearance_drop.yaml").model_dump(mode="json")
    options = {"method": "morris", "readout": "serum_creatinine", "at_h": 24.0, "arm": "vehicle", "samples": 12,
               "seed": 1, "groups": False, "parameters": ["gfr_ml_min_per_kg", "tbw_fraction"]}
    seen = []
    first = worker.execute("sensitivity", scenario, lambda *a: seen.append(a[:2]), options, str(tmp_path))
    chunks = sorted((tmp_path / worker.SENSITIVITY_FOLDER).glob("rows-*.npz"))
    assert len(chunks) == 2 and seen[-1] == (2, 2)  # 12 × 3 = 36 simulations in chunks of 32
    chunks[1].unlink()  # interrupted before its second chunk was written
    seen.clear()
    again = worker.execute("sensitivity", scenario, lambda *a: seen.append(a[:2]), options, str(tmp_path))
    assert seen[1:] == [(1, 2), (2, 2)]  # the kept chunk is counted as done from the start
    assert again["sensitivity"] == first["sensitivity"] and again["ranking"] == first["ranking"]
