"""Screenshots of every page of ``nephrosim app`` into docs/screenshots/ (rerun after UI changes).

    python scripts/app_screenshots.py [--out docs/screenshots] [--example examples/mouse_iri_msc.yaml]

Starts a real app server on a free port, loads the headline example in Debian's Chromium
(driven by Playwright, as the UI tests do), runs a comparison and photographs: the builder,
a bad input, a run in progress, the results (plots and tables), an ensemble's bands, a rat comparison with the shipped
calibration's band and literature points (and one point's hover), the runs list, the parameter table,
the evidence page with a forest plot, the mechanisms, sensitivity and protocol-search pages, a small virtual trial and a
design search around it. About a minute on two cores, most of it the simulations.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from nephrosim.app.browser import app_server, launch

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--example", type=Path, default=ROOT / "examples" / "mouse_iri_msc.yaml")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    import tempfile

    db = Path(tempfile.mkdtemp(prefix="nephrosim-screenshots-")) / "evidence.duckdb"  # not the user's store
    with app_server(env={"NEPHROSIM_DB": str(db)}) as url, sync_playwright() as p:
        browser = launch(p)
        page = browser.new_context(base_url=url, viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(180_000)

        def shot(name: str, full_page: bool = False) -> None:
            path = args.out / f"{name}.png"
            page.screenshot(path=str(path), full_page=full_page)
            print(f"wrote {path}")

        def shot_plots_when_done(name: str) -> None:
            """After starting a run: wait for its plots, switch to log time and photograph them."""
            page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
            page.wait_for_selector("#run-state.state-done")
            page.wait_for_selector("#plots[data-ready='1']")
            page.check("#time-log")
            page.wait_for_timeout(500)
            page.locator("#plots").scroll_into_view_if_needed()
            shot(name)

        page.goto("/builder")
        page.set_input_files("#load-file", str(args.example))
        page.click("#load-button")
        page.wait_for_selector("#builder-message")
        shot("01_builder")
        page.locator("#g-arms").scroll_into_view_if_needed()
        shot("02_builder_arms")
        page.locator("#g-readouts").scroll_into_view_if_needed()
        shot("03_builder_readouts")

        page.fill("#f-injury-clamp_min", "-5")
        page.click("#check")
        page.wait_for_selector("#problems")
        page.locator("#f-injury-clamp_min").scroll_into_view_if_needed()
        shot("04_bad_input")
        page.fill("#f-injury-clamp_min", "25")

        page.click("#compare")
        page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
        page.wait_for_function("Number(document.getElementById('run-progress').value) >= 2")
        shot("05_run_in_progress")
        page.wait_for_selector("#run-state.state-done")
        page.wait_for_selector("#plots[data-ready='1']")
        shot("06_compare_tables")
        page.locator("#plots").scroll_into_view_if_needed()
        shot("07_plots_linear")
        page.check("#time-log")
        page.wait_for_timeout(500)
        page.locator("#plots").scroll_into_view_if_needed()
        shot("08_plots_log_time")

        page.goto("/builder")
        page.fill("#ens-samples", "40")
        page.click("#ensemble")
        shot_plots_when_done("12_ensemble_bands")

        # a rat comparison (45-min clamp, vehicle vs MSC IV) with the shipped calibration's band and the
        # store's literature points
        band_scenario = Path(tempfile.mkdtemp(prefix="nephrosim-screenshots-")) / "rat_iri_msc_band.yaml"
        band_scenario.write_text(
            "name: rat_iri_msc_band\nspecies: rat\n"
            "injury: {model: ischemia_reperfusion, clamp_min: 45, bilateral: true, temperature_c: 37}\n"
            "arms:\n  - name: vehicle\n  - name: msc_iv\n    treatments:\n"
            "      - {product: msc, donor: syngeneic, dose: 1.0e6, route: iv, time_h: 0}\n"
            "readouts: [serum_creatinine, bun]\ntimes_h: [0, 2, 6, 12, 24, 36, 48, 72, 96, 120, 144, 168]\n",
            encoding="utf-8")
        page.goto("/builder")
        page.set_input_files("#load-file", str(band_scenario))
        page.click("#load-button")
        page.wait_for_selector("#builder-message")
        page.check("#band")
        page.fill("#band-draws", "32")
        page.select_option("#band-source", "shipped")
        page.click("#compare")
        shot_plots_when_done("13_band_literature")
        # the hover of a literature point: its study, design and quoted sentence (Plotly's own hover, on
        # the creatinine panel's point whose label has the shortest widest line, so that it fits the panel)
        page.evaluate("""() => {
            const gd = document.getElementById("plot-serum_creatinine");
            let best = null;
            gd.data.forEach((t, k) => {
                if (t.meta !== "literature") return;
                (t.text || []).forEach((text, i) => {
                    const width = Math.max(...String(text).split("<br>").map((line) => line.length));
                    if (best === null || width < best.width) best = {k, i, width};
                });
            });
            if (best === null) throw new Error("no literature point on the creatinine panel");
            Plotly.Fx.hover(gd, [{curveNumber: best.k, pointNumber: best.i}]);
        }""")
        page.wait_for_selector("#plot-serum_creatinine .hoverlayer .hovertext")
        page.locator("#plot-serum_creatinine").scroll_into_view_if_needed()
        shot("14_literature_hover")

        page.goto("/runs")
        page.wait_for_load_state()
        shot("09_runs")
        page.goto("/parameters?name=msc&provenance=source")
        shot("10_parameters")
        page.goto("/evidence?readout=serum_creatinine&injury=aki&product=msc")
        page.wait_for_selector("#forest")
        shot("11_evidence_forest")

        # the mechanisms page, on the builder's draft (the rat comparison above: vehicle and MSC IV)
        page.goto("/mechanisms")
        page.select_option("#mech-outcome", "scr_24h")
        page.fill("#mech-samples", "4")
        page.click("#mech-run")
        page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
        page.wait_for_selector("#run-state.state-done")
        page.wait_for_selector("#mech-plot[data-ready='1']")
        shot("15_mechanisms", full_page=True)

        # the sensitivity page, on the same draft: Sobol' indices of the four biology groups for SCr at 24 h
        page.goto("/sensitivity")
        page.select_option("#sens-method", "sobol")
        page.fill("#sens-at_h", "24")
        page.fill("#sens-samples", "8")
        page.click("#sens-run")
        page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
        page.wait_for_selector("#run-state.state-done")
        page.wait_for_selector("#sens-plot[data-ready='1']")
        shot("18_sensitivity", full_page=True)

        # the protocol-search page in the same experiment: MSC and EV, a small search (12 trials)
        page.goto("/protocols")
        shot("21_protocols")
        page.fill("#f-optimizer-trials", "12")
        page.fill("#f-optimizer-population", "4")
        page.fill("#f-uncertainty-samples", "2")
        page.click("#protocol-run")
        page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
        page.wait_for_selector("#run-state.state-done", timeout=900_000)
        page.wait_for_selector("#protocol-plot[data-ready='1']")
        shot("22_protocol_run", full_page=True)

        # the virtual-trial page: ACT-AKI's design with a smaller population and arms (the shipped
        # example draws 40,000 plausible patients, minutes of work), on the batch engine
        import yaml

        trial = yaml.safe_load((ROOT / "examples" / "trials" / "act_aki.yaml").read_text(encoding="utf-8"))
        trial.update(virtual_patients=8000, solver={"engine": "batch"})
        for arm in trial["arms"]:
            arm["n"] = 20
        trial_file = band_scenario.parent / "act_aki_small.yaml"
        trial_file.write_text(yaml.safe_dump(trial, sort_keys=False), encoding="utf-8")
        page.goto("/trials")
        page.set_input_files("#trial-file", str(trial_file))
        page.click("#trial-load")  # the design, in the form generated from the trial schema
        shot("16_trials")
        page.fill("#trial-replicates", "100")
        page.click("#trial-run")
        page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
        page.wait_for_selector("#run-state.state-done")
        shot("17_trial_run", full_page=True)

        # the design-search page around that design with 2,000 virtual patients: the default candidates
        # (two timings, MSC and a placebo control, 34 and 68 per arm, the recovery endpoint)
        trial.update(virtual_patients=2000)
        trial_file.write_text(yaml.safe_dump(trial, sort_keys=False), encoding="utf-8")
        page.goto("/trials")
        page.set_input_files("#trial-file", str(trial_file))
        page.click("#trial-load")
        page.goto("/designs")
        shot("19_designs")
        page.click("#design-run")
        page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
        page.wait_for_selector("#run-state.state-done", timeout=900_000)
        page.wait_for_selector("#design-plot[data-ready='1']")
        shot("20_design_run", full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
