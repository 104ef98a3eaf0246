"""The design-search page in a real browser, against ``run_search`` in this process.

The base of the search is the design in the trial form (here ACT-AKI with a small virtual
population, uploaded as a user would); the candidates are edited in the search's own form. The
test computes the same search with the public API while the app works: the page's table, its
order and the JSON download must equal ``run_search``'s exactly (same spec, base and seed).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.app.pages import download, wait_done

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "trials" / "act_aki.yaml"


def _small_base(page, tmp_path) -> None:
    design = yaml.safe_load(EXAMPLE.read_text())
    design["virtual_patients"] = 250
    small = tmp_path / "act_aki_small.yaml"
    small.write_text(yaml.safe_dump(design, sort_keys=False))
    page.goto("/trials")
    page.set_input_files("#trial-file", str(small))
    page.click("#trial-load")
    assert "loaded act_aki_small.yaml" in page.inner_text("#trial-message")


def test_a_search_around_the_trial_form_design_equals_run_search(page, tmp_path):
    from nephrosim.trials import trial_from_dict
    from nephrosim.trials.search import run_search, search_from_dict

    _small_base(page, tmp_path)
    page.goto("/designs")
    assert page.inner_text("#design-base-name").startswith("ACT-AKI (AC607) virtual replicate: 250 virtual patients")
    # the default search: 2 timings x (MSC, placebo); edited: smaller arms, fewer replicates, one timing removed
    page.click("button[value='remove:candidates.timing.1']")
    page.wait_for_load_state()
    assert page.locator("button[value='remove:candidates.timing.1']").count() == 0
    page.fill("#f-candidates-n_per_arm", "4, 8")
    page.fill("#f-replicates", "20")
    page.fill("#design-seed", "2")
    page.click("#design-check")
    assert page.inner_text("#design-message").startswith("valid: my design search, 4 candidate designs around ACT-AKI")
    assert page.input_value("#design-seed") == "2"  # the run settings typed are kept by the redrawn page
    page.click("#design-run")
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    spec = search_from_dict(yaml.safe_load(download(page, "#dl-search-yaml")))  # what the app runs
    assert spec.candidates.n_per_arm == (4, 8) and spec.replicates == 20 and len(spec.candidates.timing) == 1
    assert spec.candidates.treatment[1] is None  # the placebo (zero-effect) candidate
    expected = run_search(spec, trial_from_dict(spec.base), tmp_path / "designs.csv", seed=2)  # while the app works
    wait_done(page, timeout=300_000)
    page.wait_for_selector("#design-plot[data-ready='1']")

    rows = page.locator("tr.design-row").all()
    table = expected.table[expected.table["skipped"] == ""]
    assert len(rows) == len(table) == 4
    assert [json.loads(r.get_attribute("data-power")) for r in rows] == table["power"].tolist()
    assert [json.loads(r.get_attribute("data-p-success")) for r in rows] == table["p_success"].tolist()
    assert [int(r.get_attribute("data-n")) for r in rows] == table["n_per_arm"].tolist()
    assert [r.get_attribute("data-pareto") == "1" for r in rows] == table["pareto"].tolist()
    sizes = page.locator("tr.sample-size-row").all()  # the sample-size answer, one row per design
    assert len(sizes) == len(expected.summary["sample_size"]) == 2
    for row, e in zip(sizes, expected.summary["sample_size"]):
        assert row.get_attribute("data-n") == (str(e["n_per_arm"]) if e["reached"] else "")
        assert row.get_attribute("data-best") == ("" if e["reached"] else str(e["best_p_success"]))
    body = json.loads(download(page, "#dl-designs-json"))
    assert body["table"] == json.loads(expected.table.to_json(orient="records"))
    assert {k: v for k, v in body.items() if k not in ("table", "output")} == json.loads(json.dumps(
        {k: v for k, v in expected.summary.items() if k != "output"}))
    assert b"<html" in download(page, "#dl-report")[:200].lower()


def test_a_refused_candidate_is_named_beside_its_input_and_nothing_runs(page, tmp_path):
    _small_base(page, tmp_path)
    page.goto("/designs")
    runs_before = page.inner_text("#nav-runs")
    page.fill("#f-candidates-n_per_arm", "1, 8")
    page.fill("#f-candidates-timing-0-delay_h", "-5")
    page.click("#design-run")
    problems = "\n".join(page.locator("pre.problems").all_inner_texts())
    assert "candidates.n_per_arm.0: '1'" in problems and "candidates.timing.0.delay_h: '-5'" in problems
    assert "greater than or equal to 0" in page.inner_text("#design-form")  # beside the input too
    assert page.input_value("#f-candidates-n_per_arm") == "1, 8"  # what was typed is kept
    assert page.inner_text("#nav-runs") == runs_before
    # a base trial with three arms cannot be searched: the page says why
    design = yaml.safe_load(EXAMPLE.read_text())
    design["arms"].append({**design["arms"][1], "name": "second"})
    three = tmp_path / "three.yaml"
    three.write_text(yaml.safe_dump(design, sort_keys=False))
    page.goto("/trials")
    page.set_input_files("#trial-file", str(three))
    page.click("#trial-load")
    page.goto("/designs")
    page.click("#design-check")
    assert "the design search varies the one treated arm of a two-arm base design" in page.inner_text("pre.problems")
