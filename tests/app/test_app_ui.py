"""The web app in a real browser: build, run, plot, compare, download, bad input, sessions.

The numbers the app shows and offers are checked against nephrosim's own Python API
(``nephrosim.simulate``, ``nephrosim.analysis.compare.compare``) on the same scenario, written
out here independently of the form.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import yaml

# What the test types into the form, as the scenario it must become.
CLEARANCE_SCENARIO = {
    "name": "ui_clearance_drop",
    "species": "mouse",
    "injury": {"model": "clearance_change", "fraction": 0.9, "duration_h": 48, "recovery_h": 72},
    "arms": [
        {"name": "vehicle"},
        {"name": "msc_iv", "treatments": [{"product": "msc", "source": "bone_marrow", "donor": "allogeneic",
                                           "dose": 5.0e5, "dose_unit": "cells", "route": "iv", "time_h": 0}]},
    ],
    "readouts": ["serum_creatinine", "bun", "gfr"],
    "units": {"serum_creatinine": "mg/dL"},
    "times_h": [0, 6, 24, 48, 96],
}


def build_clearance_scenario(page):
    """Fill the builder's form (starting from its default IRI example) with CLEARANCE_SCENARIO."""
    page.goto("/builder")
    page.fill("#f-name", "ui_clearance_drop")
    page.select_option("#f-injury-model", "clearance_change")  # redraws the injury's fields
    page.wait_for_selector("#f-injury-fraction")
    page.fill("#f-injury-fraction", "0.9")
    page.fill("#f-injury-duration_h", "48")
    page.fill("#f-injury-recovery_h", "72")
    page.locator('input[name="readouts[]"][value="tubular_injury_score"]').uncheck()
    page.fill("#f-times_h", "0, 6, 24, 48, 96")
    # the default MSC arm: 5e5 cells IV at reperfusion, as in CLEARANCE_SCENARIO
    assert page.input_value("#f-arms-1-treatments-0-dose") == "500000"


def wait_done(page, timeout=60_000):
    page.wait_for_selector("#run-state.state-done", timeout=timeout)


def download(page, selector) -> bytes:
    with page.expect_download() as info:
        page.click(selector)
    with open(info.value.path(), "rb") as f:
        return f.read()


def test_build_simulate_plot_download_change_arm_compare(page):
    import nephrosim
    from nephrosim.analysis.compare import compare
    from nephrosim.scenarios.schema import scenario_from_dict

    build_clearance_scenario(page)
    page.click("#simulate")
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    about = page.inner_text("#run-about")  # what is being run, in words
    assert "clearance_change (fraction 0.9, onset_h 0 h, duration_h 48 h, recovery_h 72 h)" in about
    assert "msc 500000 cells iv at 0 h" in about
    wait_done(page)

    # the plot: one chart per readout, both arms overlaid, linear then log time
    page.wait_for_selector("#plots[data-ready='1']")
    assert page.locator("#plots .plot").count() == 3
    traces = page.evaluate("document.getElementById('plot-serum_creatinine').data.map(t => [t.name, t.x])")
    assert [name for name, _ in traces] == ["vehicle (untreated)", "msc_iv", "dose"]
    # clearance_change is not a study design: no literature points, and the page says why
    assert "not a study design of the evidence store" in page.inner_text("#literature-summary")
    assert traces[0][1] == CLEARANCE_SCENARIO["times_h"] and traces[2][1] == [0]  # hours; one dose at t = 0
    assert page.evaluate("document.getElementById('plot-bun').layout.xaxis.type") == "linear"
    page.check("#time-log")
    page.wait_for_function("document.getElementById('plot-bun').layout.xaxis.type === 'log'")

    # the CSV equals nephrosim's own result for the same scenario
    api = nephrosim.simulate(scenario_from_dict(CLEARANCE_SCENARIO))
    expected = api.to_frame()
    got = pd.read_csv(io.BytesIO(download(page, "#dl-csv")))
    assert list(got.columns) == list(expected.columns)
    assert got[["arm", "readout", "unit", "status"]].equals(expected[["arm", "readout", "unit", "status"]])
    np.testing.assert_allclose(got["time_h"], expected["time_h"])
    np.testing.assert_allclose(got["value"], expected["value"], rtol=1e-12)
    assert set(got.loc[got.readout == "serum_creatinine", "unit"]) == {"mg/dL"}
    # the HTML report is nephrosim.report's report of the same result, but for the minute it was made
    from nephrosim.report import render, simulate_report

    def undated(html: str) -> str:
        return re.sub(r"<dt>date</dt><dd>[^<]*</dd>", "", html)

    report = download(page, "#dl-report").decode()
    assert "data:image/png;base64," in report and "ui_clearance_drop" in report
    assert undated(report) == undated(render(simulate_report(api, argv=["nephrosim", "app"])))
    # the scenario YAML it offers is the same scenario
    saved = yaml.safe_load(download(page, "#dl-yaml"))
    assert scenario_from_dict(saved).model_dump() == scenario_from_dict(CLEARANCE_SCENARIO).model_dump()
    # the SBML of an arm is the model simulate ran
    sbml = download(page, ".dl-sbml >> nth=1").decode()
    assert sbml == nephrosim.export_sbml(scenario_from_dict(CLEARANCE_SCENARIO), "msc_iv")

    # change an arm (the builder kept the draft for this browser), then compare
    page.goto("/builder")
    assert page.input_value("#f-injury-model") == "clearance_change"
    page.fill("#f-arms-1-treatments-0-dose", "2e7")
    page.select_option("#f-arms-1-treatments-0-dose_unit", "cells/kg")
    page.click("#compare")
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    wait_done(page)
    changed = {**CLEARANCE_SCENARIO, "arms": [CLEARANCE_SCENARIO["arms"][0], {"name": "msc_iv", "treatments": [
        {**CLEARANCE_SCENARIO["arms"][1]["treatments"][0], "dose": 2.0e7, "dose_unit": "cells/kg"}]}]}
    efficacy, _ = compare(scenario_from_dict(changed))
    table = page.locator("#efficacy-table")
    headers = table.locator("thead th").all_inner_texts()
    rows = [r.locator("td").all_inner_texts() for r in table.locator("tbody tr").all()]
    assert [r[0] for r in rows] == ["vehicle", "msc_iv"]
    col = headers.index("peak_serum_creatinine [mg/dL]")
    for row, (_, want) in zip(rows, efficacy.iterrows()):
        assert row[col] == f"{want['peak_serum_creatinine [mg/dL]']:.4g}"
    assert "reference arm" in page.inner_text("#efficacy-definition")
    assert page.locator("#risk-table tbody tr").count() == 2


def test_bad_input_shows_a_clear_message_and_runs_nothing(page):
    page.goto("/builder")
    page.fill("#f-injury-clamp_min", "-5")
    page.fill("#f-times_h", "0, 24, 12")
    page.click("#simulate")
    problems = page.inner_text("#problems")
    assert "2 problem(s)" in problems
    assert "clamp_min" in problems and "greater than 0" in problems
    assert "times_h must be strictly increasing" in problems
    # each message sits beside its input
    assert "greater than 0" in page.inner_text("#f-injury-clamp_min-error")
    assert "sort them" in page.inner_text("#f-times_h-error")
    assert page.inner_text("#nav-runs") == "Runs (0)"
    # a misspelt parameter override is named with the closest table names
    page.fill("#f-injury-clamp_min", "25")
    page.fill("#f-times_h", "0, 24")
    page.fill("#f-parameters-0-name", "gfr_ml_min_per_kgg")
    page.fill("#f-parameters-0-value", "2")
    page.click("#check")
    assert re.search(r"'gfr_ml_min_per_kgg' \(did you mean '[a-z_]+", page.inner_text("#problems"))
    assert "did you mean" in page.inner_text("#f-parameters-0-name-error")
    # a known name shows the parameter table's unit, range and provenance beside the value
    from nephrosim.biology.parameters import ParameterTable

    row = ParameterTable.default().record("gfr_ml_min_per_kg", "mouse")
    page.fill("#f-parameters-0-name", "gfr_ml_min_per_kg")
    page.click("#check")
    assert page.inner_text("#builder-message").startswith("valid: my_experiment, mouse, ischemia_reperfusion")
    value_field = page.inner_text("[data-name='parameters.0.value']")
    assert row.unit in value_field and f"table value {row.value:g} ({row.provenance}" in value_field
    # Save YAML gives the scenario of the form, which loads back as the same scenario
    from nephrosim.scenarios.schema import scenario_from_dict

    saved = scenario_from_dict(yaml.safe_load(download(page, "#save-yaml")))
    assert saved.parameters == {"gfr_ml_min_per_kg": 2.0} and saved.times_h == (0.0, 24.0)
    assert saved.injury.model == "ischemia_reperfusion" and saved.injury.clamp_min == 25
    # a scenario file that is not YAML is refused with the line of the problem
    page.set_input_files("#load-file", files=[{"name": "broken.yaml", "mimeType": "application/x-yaml",
                                               "buffer": b"species: mouse\narms: [\n"}])
    page.click("#load-button")
    assert re.search(r"broken\.yaml: line \d+ column \d+: YAML syntax error", page.inner_text("#problems"))


def test_a_run_that_fails_says_why_in_the_page(page):
    """A problem found only when the model is built (a readout this injury model does not compute)."""
    scenario = {**CLEARANCE_SCENARIO, "arms": [{"name": "vehicle"}], "readouts": ["tubular_injury_score"]}
    page.goto("/builder")
    page.set_input_files("#load-file", files=[{"name": "s.yaml", "mimeType": "application/x-yaml",
                                               "buffer": yaml.safe_dump(scenario).encode()}])
    page.click("#load-button")
    page.click("#simulate")
    page.wait_for_selector("#run-state.state-failed")
    text = page.inner_text("#run-error")
    assert "The scenario cannot run" in text
    message = "readouts: ['tubular_injury_score'] are not computed for injury model 'clearance_change'"
    assert message in text
    assert page.locator("#dl-csv").count() == 0
    # Check finds it before a run, as `nephrosim check` does (it builds every arm's model)
    page.goto("/builder")
    page.click("#check")
    assert message in page.inner_text("#problems")


def test_two_browser_sessions_do_not_see_each_others_runs(browser, app_url):
    one_arm = {**CLEARANCE_SCENARIO, "arms": [{"name": "vehicle"}], "readouts": ["serum_creatinine"]}
    a = browser.new_context(base_url=app_url)
    b = browser.new_context(base_url=app_url)
    try:
        pa, pb = a.new_page(), b.new_page()
        for p in (pa, pb):
            p.set_default_timeout(30_000)
            p.goto("/builder")
            p.set_input_files("#load-file", files=[{"name": "s.yaml", "mimeType": "application/x-yaml",
                                                    "buffer": yaml.safe_dump(one_arm).encode()}])
            p.click("#load-button")
            assert "loaded s.yaml" in p.inner_text("#builder-message")
        pa.click("#simulate")
        pa.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
        run_a = pa.url.rsplit("/", 1)[1]
        pb.fill("#f-name", "session_b")
        pb.click("#simulate")
        pb.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
        run_b = pb.url.rsplit("/", 1)[1]
        # each session lists only its own run, and cannot open the other's
        pa.goto("/runs")
        pb.goto("/runs")
        assert pa.locator("#runs-table tbody tr").count() == 1 and pa.locator(f"tr[data-run='{run_a}']").count() == 1
        assert pb.locator("#runs-table tbody tr").count() == 1 and pb.locator(f"tr[data-run='{run_b}']").count() == 1
        for p, other in ((pb, run_a), (pa, run_b)):
            response = p.goto(f"/runs/{other}")
            assert response.status == 404
            assert "not one of this browser session's runs" in p.inner_text("main")
            assert p.request.get(f"/api/runs/{other}").status == 404
            assert p.request.get(f"/runs/{other}/download/results.csv").status == 404
        # each run is of its own session's scenario
        for p, run, name in ((pa, run_a, "ui_clearance_drop"), (pb, run_b, "session_b")):
            p.goto(f"/runs/{run}")
            assert p.inner_text("#scenario-name") == name
    finally:
        a.close()
        b.close()


def test_a_run_survives_a_reload_and_can_be_cancelled(page):
    page.goto("/builder")  # the default: 25-min mouse IRI, two arms, 2 weeks (several seconds per arm)
    page.click("#compare")
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    page.wait_for_selector("#run-state.state-running, #run-state:text('running')")
    page.reload()  # the run is the server's, not the page's
    state = page.inner_text("#run-state")
    assert state in ("queued", "running"), state
    page.click("#cancel")
    page.wait_for_selector("#run-state.state-cancelled", timeout=15_000)
    assert re.match(r"cancelled (after \d of 4 steps|before it started)", page.inner_text("#run-label"))
    assert page.locator("#dl-csv").count() == 0
    status = page.request.get(page.url.replace("/runs/", "/api/runs/")).json()
    assert status["state"] == "cancelled"
    # its scenario goes back to the builder (over a newer draft), to be changed and run again
    run_url = page.url
    page.goto("/builder")
    page.fill("#f-name", "something_else")
    page.click("button[value='add_arm']")  # the draft is stored with the new name
    page.wait_for_selector("#f-arms-2-name")
    assert page.input_value("#f-name") == "something_else"
    page.goto(run_url)
    page.click("#edit")
    page.wait_for_url(re.compile(r"/builder$"))
    assert page.input_value("#f-name") == "my_experiment"


def test_evidence_page_pools_the_store_as_the_api_does(page, evidence_db):
    from nephrosim.evidence import meta_analyse

    page.goto("/evidence")
    page.select_option("#ev-readout", "serum_creatinine")
    page.select_option("#ev-injury", "aki")
    page.select_option("#ev-product", "msc")
    page.click("#ev-go")
    page.wait_for_selector("#forest")
    assert page.evaluate("document.getElementById('forest').naturalWidth") > 0  # the forest plot drew
    expected = meta_analyse(readout="serum_creatinine", injury="aki", product="msc", db=evidence_db)
    assert page.inner_text("#meta-report").strip() == expected.report().strip()
    # a filter value that is not in the vocabulary is named, with what is allowed
    response = page.goto("/evidence?species=dogs")
    assert response.status == 422 and "species 'dogs': use one of mouse, rat" in page.inner_text(".problems")


def test_ensemble_draws_bands_from_the_same_samples_as_the_api(page, tmp_path):
    from nephrosim.run.ensemble import ensemble
    from nephrosim.scenarios.schema import scenario_from_dict

    scenario = {**CLEARANCE_SCENARIO, "arms": [CLEARANCE_SCENARIO["arms"][1]], "readouts": ["serum_creatinine"]}
    page.goto("/builder")
    page.set_input_files("#load-file", files=[{"name": "s.yaml", "mimeType": "application/x-yaml",
                                               "buffer": yaml.safe_dump(scenario).encode()}])
    page.click("#load-button")
    page.fill("#ens-samples", "20")
    page.fill("#ens-seed", "3")
    page.click("#ensemble")
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    assert page.inner_text("#run-steps").endswith("/ 11 steps")  # 10 chunks of 2 parameter sets, then the bands
    wait_done(page)
    assert "20 parameter sets" in page.inner_text("#ensemble-summary")
    page.wait_for_selector("#plots[data-ready='1']")
    names = page.evaluate("document.getElementById('plot-serum_creatinine').data.map(t => t.name)")
    assert "msc_iv: 95 % band" in names
    # the samples are nephrosim ensemble's for the same seed; the band is their 2.5-50-97.5 % quantiles
    expected = pd.read_parquet(ensemble(scenario_from_dict(scenario), 20, tmp_path / "e.parquet", cv=0.3, seed=3,
                                        chunk_size=2).path)
    got = pd.read_parquet(io.BytesIO(download(page, "#dl-parquet")))
    pd.testing.assert_frame_equal(got, expected)
    bands = pd.read_csv(io.BytesIO(download(page, "#dl-bands")))
    q = expected.groupby("time_h")["value"].quantile([0.025, 0.5, 0.975]).unstack()
    np.testing.assert_allclose(bands["lower"], q[0.025].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(bands["median"], q[0.5].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(bands["upper"], q[0.975].to_numpy(), rtol=1e-12)
