"""The virtual-trial and mechanisms pages in a real browser, against the Python API.

Each test starts the run in the app (a child process of the server) and computes the same
thing with the public API in this process while the app works; the page's numbers and the
downloaded JSON must equal the API's exactly (same design or scenario, same seed).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.app.pages import download, wait_done


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "trials" / "act_aki.yaml"


def test_virtual_trial_page_equals_run_trial(page, tmp_path):
    """A design uploaded into the form, edited there, and run: the page's numbers are run_trial's
    on the edited design, and the design it ran is the edited one."""
    from nephrosim.trials import load_trial, run_trial, trial_from_dict

    # examples/trials/act_aki.yaml as shipped (40,000 virtual patients) takes minutes; the test runs
    # the same design with a smaller virtual population and arms, uploaded as a user would
    design = yaml.safe_load(EXAMPLE.read_text())
    design["virtual_patients"] = 250
    for arm in design["arms"]:
        arm["n"] = 4
    # a look at half the patients with beta-spending futility boundaries: the form must keep them
    design["interim"] = {"information": [0.5], "futility_beta": {"beta": 0.2}}
    small = tmp_path / "act_aki_small.yaml"
    small.write_text(yaml.safe_dump(design, sort_keys=False))

    page.goto("/trials")
    offered = page.locator("#trial-example option").all_inner_texts()
    assert "act_aki.yaml" in offered and "act_aki_design.yaml" not in offered  # a design search is no trial
    page.set_input_files("#trial-file", str(small))
    page.click("#trial-load")
    assert "loaded act_aki_small.yaml" in page.inner_text("#trial-message")
    assert page.input_value("#f-arms-1-treatment-dose") in ("2000000", "2000000.0")
    # edited in the form: 5×10⁶ cells/kg, 2 h after diagnosis
    page.fill("#f-arms-1-treatment-dose", "5000000")
    page.fill("#f-arms-1-timing-delay_h", "2")
    page.fill("#trial-replicates", "6")
    page.fill("#trial-seed", "3")
    page.click("#trial-run")
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    assert page.inner_text("#scenario-name") == "ACT-AKI (AC607) virtual replicate"

    design["arms"][1]["treatment"]["dose"] = 5.0e6
    design["arms"][1]["timing"]["delay_h"] = 2
    edited = trial_from_dict(design)
    expected = run_trial(edited, replicates=6, seed=3).to_dict()  # while the app computes
    wait_done(page, timeout=120_000)
    assert float(page.inner_text("#trial-power")) == expected["power"]
    hr = expected["hazard_ratio"]
    assert [float(page.inner_text(f"#trial-hr{s}")) for s in ("", "-lo", "-hi")] == [hr["median"], hr["lo"], hr["hi"]]
    medians = {c.get_attribute("data-arm"): c.inner_text() for c in page.locator(".trial-median").all()}
    assert set(medians) == {"placebo", "AC607"}
    for arm, days in expected["median_recovery_days"].items():
        assert medians[arm] == ("not reached" if days is None else str(days))
    # MAKE30 per arm as the JSON gives it (a 30-day design: no MAKE90 row)
    make30 = {c.get_attribute("data-arm"): float(c.inner_text()) for c in page.locator(".trial-make30").all()}
    assert make30 == expected["make30"] and page.locator(".trial-make90").count() == 0
    gs = expected["group_sequential"]  # the group-sequential row, with the futility boundary it spent beta on
    assert float(page.inner_text("#trial-gs-power")) == gs["power"]
    assert float(page.inner_text("#trial-gs-futility")) == gs["futility_stop_share"]
    assert [float(z) for z in page.inner_text("#trial-gs-futility-z").split(",")] == gs["futility_boundaries_z"]
    assert json.loads(download(page, "#dl-trial-json")) == json.loads(json.dumps(expected))
    # the design it ran is the edited one
    assert edited.model_dump() == load_trial(_write(tmp_path / "back.yaml", download(page, "#dl-trial-yaml"))).model_dump()


def test_a_dose_ranging_trial_page_shows_run_trials_arm_dropping_and_mcp_mod(page, tmp_path):
    """Three arms with a futility look that drops arms and MCP-Mod's contrast test and target dose: the
    rows the page adds for them hold run_trial's numbers on the same design and seed."""
    from nephrosim.trials import run_trial, trial_from_dict

    design = yaml.safe_load((EXAMPLE.parent / "act_aki_dose_ranging.yaml").read_text())
    design["virtual_patients"] = 250
    for arm in design["arms"]:
        arm["n"] = 6
    design["interim"] = {"information": [0.5], "futility_z": 0}
    design["accrual"] = {"patients_per_month": 3}  # calendar time: 18 patients over 6 months
    design["subgroups"] = ["baseline_egfr"]
    small = _write(tmp_path / "dose_ranging_small.yaml", yaml.safe_dump(design, sort_keys=False).encode())

    page.goto("/trials")
    page.set_input_files("#trial-file", str(small))
    page.click("#trial-load")
    assert "loaded dose_ranging_small.yaml" in page.inner_text("#trial-message")
    page.fill("#trial-replicates", "6")
    page.fill("#trial-seed", "3")
    page.click("#trial-run")
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    expected = run_trial(trial_from_dict(design), replicates=6, seed=3).to_dict()  # while the app computes
    wait_done(page, timeout=120_000)

    drop = expected["arm_dropping"]
    assert float(page.inner_text("#trial-drop-power")) == drop["power"]
    assert float(page.inner_text("#trial-duration")) == expected["accrual"]["planned_duration_months"]
    assert float(page.inner_text("#trial-expected-duration")) == drop["expected_duration_months"]
    sub = expected["subgroups"]["baseline_egfr"]
    rows = page.locator(".trial-subgroup")
    assert rows.count() == 2  # one per treated arm
    for row in rows.all():
        r = sub["by_arm"][row.get_attribute("data-arm")]
        assert float(row.locator(".trial-subgroup-power").inner_text()) == r["interaction_power"]
        shown = {c.get_attribute("data-subgroup"): c.inner_text() for c in row.locator(".trial-subgroup-hr").all()}
        assert shown == {label: str(r[label]["median"]) for label in sub["subgroups"]}
    shown = {c.get_attribute("data-arm"): float(c.inner_text()) for c in page.locator(".trial-dropped").all()}
    assert shown == drop["dropped_share"] and set(shown) == {"AC607 2e6/kg", "AC607 1e7/kg"}
    assert float(page.inner_text("#trial-drop-n")) == drop["expected_total_n"] < drop["planned_total_n"]
    mcp = expected["mcp_mod"]
    assert float(page.inner_text("#trial-mcp-power")) == mcp["power"]
    assert page.inner_text("#trial-mcp-rule") == mcp["rule"]
    by_shape = {c.get_attribute("data-shape"): float(c.inner_text()) for c in page.locator(".trial-mcp-shape").all()}
    assert by_shape == mcp["significant_by_shape"] and len(by_shape) == 3
    fit = mcp["modelling"]  # the example asks for the target dose of a 0.5 mg/dL·day reduction
    assert page.inner_text("#trial-mcp-td") == ("none" if fit["target_dose"] is None
                                                else f"{fit['target_dose']['median']:.4g}")
    assert float(page.inner_text("#trial-mcp-td-share")) == fit["target_dose_estimated"]
    selected = {c.get_attribute("data-shape"): float(c.inner_text()) for c in page.locator(".trial-mcp-selected").all()}
    assert selected == fit["selected_by_shape"] and len(selected) == 3
    assert json.loads(download(page, "#dl-trial-json")) == json.loads(json.dumps(expected))


def test_a_trial_built_in_the_form_is_checked_saved_and_kept(page):
    """Add an arm, give it a refused size (named beside the input), an EV treatment, check, save the
    YAML (it reloads to the design built), and find the design again after a reload."""
    from nephrosim.trials import trial_from_dict

    page.goto("/trials")
    page.click("button[value='add:arms']")
    assert page.input_value("#f-arms-2-name") == "arm_3"
    page.fill("#f-arms-2-n", "1")
    page.click("#trial-check")
    assert "greater than or equal to 2" in page.inner_text("#f-arms-2-n-error")
    assert any(p.startswith("arms.2.n: '1'") for p in page.locator("pre.problems").all_inner_texts())
    page.fill("#f-arms-2-n", "30")
    page.click("button[value='add:arms.2.treatment']")
    page.select_option("#f-arms-2-treatment-product", "ev")  # redraws the treatment's fields
    page.wait_for_selector("#f-arms-2-treatment-dose_unit option[value='ug_protein']", state="attached")
    page.select_option("#f-arms-2-treatment-dose_unit", "ug_protein")
    page.fill("#f-arms-2-treatment-dose", "100")
    page.click("#trial-check")
    assert page.inner_text("#trial-message").startswith("valid: my_trial, 3 arms (2 treated")
    built = trial_from_dict(yaml.safe_load(download(page, "#trial-save")))
    assert [(a.name, a.n) for a in built.arms] == [("placebo", 68), ("msc", 67), ("arm_3", 30)]
    ev = built.arms[2].treatment
    assert (ev.product, ev.dose, ev.dose_unit) == ("ev", 100.0, "ug_protein")
    page.goto("/trials")  # the design is kept for this browser
    assert page.input_value("#f-arms-2-treatment-dose") == "100"


def test_a_bad_trial_upload_is_named_and_runs_nothing(page, tmp_path):
    bad = tmp_path / "bad_trial.yaml"
    bad.write_text("name: x\nvirtual_patients: -5\n")
    page.goto("/trials")
    page.set_input_files("#trial-file", str(bad))
    page.click("#trial-load")
    problems = " ".join(page.locator("pre.problems").all_inner_texts())
    assert "bad_trial.yaml" in problems and "virtual_patients" in problems
    assert page.url.endswith("/trials/load") and page.input_value("#f-name") == "my_trial"  # the form is unchanged
    assert "Runs (0" in page.inner_text("#nav-runs")


def test_mechanisms_page_shares_sum_to_total_and_equal_attribute(page, tmp_path):
    from nephrosim.analysis.attribution import attribute
    from nephrosim.scenarios.schema import scenario_from_dict

    page.goto("/mechanisms")  # the builder's draft of a fresh session: its IRI example with an MSC arm
    page.select_option("#mech-outcome", "scr_24h")
    page.fill("#mech-samples", "2")
    page.fill("#mech-seed", "5")
    page.click("#mech-run")
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    scenario = scenario_from_dict(yaml.safe_load(download(page, "#dl-yaml")))  # what the app runs
    assert any(a.treatments for a in scenario.arms) and not all(a.treatments for a in scenario.arms)
    expected = attribute(scenario, "scr_24h", samples=2, seed=5, cv=0.3).to_dict()  # while the app computes
    wait_done(page, timeout=120_000)
    page.wait_for_selector("#mech-plot[data-ready='1']")

    tables = page.locator("table.mech-table").all()
    assert [t.get_attribute("data-arm") for t in tables] == list(expected)
    for table in tables:
        want = expected[table.get_attribute("data-arm")]
        shares = {r.get_attribute("data-mechanism"): r for r in table.locator("tr.mech-share").all()}
        assert set(shares) == set(want["shares"])
        values = {m: json.loads(r.locator(".share").get_attribute("data-value")) for m, r in shares.items()}
        total = json.loads(table.locator(".total").get_attribute("data-value"))
        # efficiency: the shares shown add up to the total shown
        assert abs(sum(values.values()) - total) <= 1e-9 * max(1.0, abs(total))
        assert total == want["total"]
        for m, row in shares.items():
            assert values[m] == want["shares"][m]["value"]
            assert json.loads(row.locator(".lo").get_attribute("data-value")) == want["shares"][m]["lo"]
            assert json.loads(row.locator(".hi").get_attribute("data-value")) == want["shares"][m]["hi"]
    # the chart draws the same shares
    bars = page.evaluate("document.getElementById('mech-plot').data.map(t => [t.name, t.x, t.y])")
    for name, x, y in bars:
        assert dict(zip(x, y)) == {m: v["value"] for m, v in expected[name]["shares"].items()}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
