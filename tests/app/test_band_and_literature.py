"""Uncertainty bands and literature data points on a run's plots, in a real browser.

The band comes from the parameter table's ranges (``nephrosim ensemble --prior table``; the band
run is started by a module fixture before the other tests, which run while it computes) or from
the shipped calibration (``nephrosim simulate --uncertainty shipped``, its own test: its draws
first compile the calibration's sensitivities, ~20–30 s, while the test computes the command
line's interval to compare with).

The literature points are checked against the evidence store read here through its own API,
with the unit conversion of creatinine written out from KDIGO's table (1 mg/dL = 88.4 µmol/L),
independently of the package's converter.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest
import yaml

# rat renal IRI: the species and injury model of the shipped calibration (in its domain)
BAND_SCENARIO = {
    "name": "ui_band",
    "species": "rat",
    "injury": {"model": "ischemia_reperfusion", "clamp_min": 45},
    "arms": [
        {"name": "vehicle"},
        {"name": "msc_iv", "treatments": [{"product": "msc", "source": "bone_marrow", "donor": "allogeneic",
                                           "dose": 1.0e6, "dose_unit": "cells", "route": "iv", "time_h": 0}]},
    ],
    "readouts": ["serum_creatinine"],
    "units": {"serum_creatinine": "mg/dL"},
    "times_h": [0, 6, 24, 48, 72],
}
BAND_DRAWS = 8

# the same design with SCr in µmol/L (the store reports mg/dL: every point is converted) and BUN
LITERATURE_SCENARIO = {**BAND_SCENARIO, "name": "ui_literature", "arms": [{"name": "vehicle"}],
                       "readouts": ["serum_creatinine", "bun"], "units": {"serum_creatinine": "umol/L"}}
KDIGO_UMOL_PER_MGDL = 88.4  # creatinine, KDIGO 2012 AKI guideline conversion table


def load(page, scenario):
    page.goto("/builder")
    page.set_input_files("#load-file", files=[{"name": "s.yaml", "mimeType": "application/x-yaml",
                                               "buffer": yaml.safe_dump(scenario).encode()}])
    page.click("#load-button")
    assert "loaded s.yaml" in page.inner_text("#builder-message")


def wait_done(page, timeout=60_000):
    page.wait_for_selector("#run-state.state-done, #run-state.state-failed", timeout=timeout)
    assert page.inner_text("#run-state") == "done", page.inner_text("#run")


def download(page, selector) -> bytes:
    with page.expect_download() as info:
        page.click(selector)
    with open(info.value.path(), "rb") as f:
        return f.read()


def start_band_run(browser, app_url, source: str):
    """A browser context and its page on a just-started simulation of BAND_SCENARIO with a band of
    BAND_DRAWS draws from ``source`` (table or shipped); the caller closes the context."""
    context = browser.new_context(base_url=app_url, accept_downloads=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    load(page, BAND_SCENARIO)
    page.check("#band")
    page.fill("#band-draws", str(BAND_DRAWS))
    page.select_option("#band-source", source)
    page.click("#simulate")
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    return context, page


@pytest.fixture(scope="module")
def band_run(browser, app_url):
    """A page on a simulation with an uncertainty band of 8 draws, started first (it computes
    while the other tests of this module run)."""
    context, page = start_band_run(browser, app_url, "table")
    yield page
    context.close()


def test_a_bad_band_input_names_the_field_and_runs_nothing(page, band_run):
    load(page, BAND_SCENARIO)
    for draws in ("0", "100000", "many"):
        page.check("#band")
        page.fill("#band-draws", draws)
        page.click("#simulate")
        problems = page.inner_text("#problems")
        assert "uncertainty band draws" in problems, problems
        assert ("use a whole number from 8 to 2000" if draws != "many" else "'many' is not a whole number") in problems
        assert "uncertainty band draws" in page.inner_text("#band-error")  # beside the input too
        assert page.input_value("#band-draws") == draws  # what was typed stays, to be corrected
    assert page.inner_text("#nav-runs") == "Runs (0)"


def test_literature_points_are_the_stores_matching_values_with_their_study(page, band_run, evidence_db):
    from nephrosim.app.literature import design_match
    from nephrosim.evidence import EvidenceStore
    from nephrosim.scenarios.schema import scenario_from_dict

    load(page, LITERATURE_SCENARIO)
    page.click("#simulate")
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    wait_done(page)
    page.wait_for_selector("#plots[data-ready='1']")

    rows = EvidenceStore(evidence_db).records(species="rat", injury="ischemia_reperfusion")
    rows = rows[rows["readout"].isin(["serum_creatinine", "bun"])]
    # the studies (each group of arms with its own design: a series of clamp times is one design per group)
    # of the scenario's clamp time (the design rule is tested on its own below)
    details = rows["injury_details"].astype(object).where(rows["injury_details"].notna(), "")
    rows = rows.assign(group=list(zip(rows["study_id"], details)))
    design = {key: design_match(scenario_from_dict(LITERATURE_SCENARIO).injury, group_rows)
              for key, group_rows in rows.groupby("group")}
    rows = rows[[design[g][0] or design[g][1] is not None for g in rows["group"]]]
    unknown = rows["group"].map(lambda g: design[g][1] is not None)
    drawable = rows[~unknown & rows["role"].isin(["control", "treated", "comparator"]) & rows["mean"].notna()
                    & rows["time_h"].between(0, 72) & rows["unit"].isin(["mg/dL", "umol/L"])]
    assert int(page.inner_text("#lit-matched")) == len(rows)
    assert int(page.inner_text("#lit-drawn")) == len(drawable) > 0
    assert int(page.inner_text("#lit-skipped")) == len(rows) - len(drawable)
    assert "no mean value reported" in page.inner_text("#lit-skipped-reasons")
    # drawn rows whose study states no clamp temperature (no "<number> °C" anywhere in its rows) are
    # counted as such under the summary
    said = rows.assign(text=rows[["injury_details", "arm", "notes", "quote"]].astype(str).agg(" ".join, axis=1))
    stated = {s for s, g in said.groupby("study_id") if g["text"].str.contains(r"\d\s*(?:°|º)\s*C").any()}
    unstated = int((~drawable["study_id"].isin(stated)).sum())
    if unstated:
        assert f"{unstated} drawn: temperature not stated" in page.inner_text("#lit-drawn-notes")

    for readout in ("serum_creatinine", "bun"):
        want = drawable[drawable["readout"] == readout]
        factor = np.where(want["unit"] == "mg/dL", KDIGO_UMOL_PER_MGDL if readout == "serum_creatinine" else 1.0, 1.0)
        expected = sorted(zip(want["study_id"], want["time_h"].astype(float), want["mean"] * factor))
        traces = page.evaluate(f"document.getElementById('plot-{readout}').data"
                               ".filter(t => t.meta === 'literature').map(t => [t.customdata, t.x, t.y, t.text])")
        got = sorted((s, x, y) for ids, xs, ys, _ in traces for s, x, y in zip(ids, xs, ys))
        assert [(s, x) for s, x, _ in got] == [(s, x) for s, x, _ in expected]
        np.testing.assert_allclose([y for *_, y in got], [y for *_, y in expected], rtol=1e-3)
        # each point names its study on hover, with a piece of the quote the value comes from
        for ids, _, _, texts in traces:
            for study, text in zip(ids, texts):
                shown = " ".join(text.replace("<br>", " ").replace("&amp;", "&").replace("&lt;", "<").split())
                assert f"<b>{study}</b>" in shown
                quotes = [" ".join(q[:40].split()) if isinstance(q, str) and q else
                          "(no source quote in the evidence store)" for q in want.loc[want["study_id"] == study, "quote"]]
                assert any(q in shown for q in quotes), shown


def test_a_band_run_draws_the_band_behind_each_arm_and_downloads_it(band_run, tmp_path):
    from nephrosim.run.ensemble import ensemble
    from nephrosim.scenarios.schema import scenario_from_dict

    page = band_run
    assert page.inner_text("#run-steps").endswith("/ 5 steps")  # build, 2 arms, the draws, their simulations
    page.reload()  # the run is the server's: a reload finds it again
    wait_done(page)
    page.wait_for_selector("#plots[data-ready='1']")
    traces = page.evaluate("document.getElementById('plot-serum_creatinine').data"
                           ".map(t => ({meta: t.meta || '', fill: t.fill || '', name: t.name, legend: t.showlegend}))")
    highs = [t for t in traces if t["meta"] == "band-hi"]
    assert len(highs) == 2 and all(t["fill"] == "tonexty" for t in highs)  # one band per arm
    assert sum(t["meta"] == "band-median" for t in traces) == 2
    assert traces.index(highs[-1]) < [t["name"] for t in traces].index("msc_iv")  # behind the arms' lines
    legend = [t["name"].replace("<br>", " ") for t in highs if t["legend"]]  # one entry says what the band is
    assert len(legend) == 1 and f"{BAND_DRAWS}\u00a0draws" in legend[0] and "table ranges" in legend[0]
    assert page.locator("#plot-serum_creatinine .js-fill").count() >= 2  # the shaded areas are drawn
    assert page.inner_text("#band-draws") == str(BAND_DRAWS)
    assert "ensemble --prior table" in page.inner_text("#band-source")

    got = pd.read_csv(io.BytesIO(download(page, "#dl-csv")))
    assert len(got) == len(BAND_SCENARIO["arms"]) * len(BAND_SCENARIO["times_h"])
    assert got[["lo", "median", "hi"]].notna().all().all()
    assert (got["lo"] <= got["median"]).all() and (got["median"] <= got["hi"]).all()
    assert (got["lo"] < got["hi"]).any()  # a band, not a line
    # the band is the 2.5 / 50 / 97.5 % quantiles of `nephrosim ensemble --prior table` with the same seed
    samples = pd.read_parquet(ensemble(scenario_from_dict(BAND_SCENARIO), BAND_DRAWS, tmp_path / "e.parquet",
                                       prior="table", seed=0, chunk_size=BAND_DRAWS).path)
    q = samples.groupby(["arm", "time_h"])["value"].quantile([0.025, 0.5, 0.975]).unstack()
    got = got.set_index(["arm", "time_h"]).loc[q.index]
    for column, quantile in (("lo", 0.025), ("median", 0.5), ("hi", 0.975)):
        np.testing.assert_allclose(got[column], q[quantile], rtol=1e-12)


def test_a_shipped_band_is_the_command_lines_prediction_interval(browser, app_url):
    """Source ``shipped``: the band is ``nephrosim simulate --uncertainty shipped --samples 8`` with the
    same seed (the shipped calibration's Laplace draws, a new lab per draw, assumed parameters on their
    ranges), number for number. The reference is computed here after the app has computed its own (it
    then reads the Fisher information the app's process cached on disk instead of compiling the
    sensitivity models a second time: calibration.problem.fisher_cache_dir)."""
    from nephrosim.calibration.commands import simulate_uncertainty_command
    from nephrosim.scenarios.schema import scenario_from_dict

    context, page = start_band_run(browser, app_url, "shipped")
    try:
        wait_done(page, timeout=240_000)
        want = simulate_uncertainty_command(scenario_from_dict(BAND_SCENARIO), "shipped", n=BAND_DRAWS, seed=0)
        page.wait_for_selector("#plots[data-ready='1']")
        legend = page.evaluate("document.getElementById('plot-serum_creatinine').data"
                               ".filter(t => t.meta === 'band-hi' && t.showlegend).map(t => t.name)")
        # the legend says what varies: the calibration's two fitted rat parameters (iri_t50_min, iri_q10)
        # from its posterior with a new lab, the assumed ones on their ranges
        text = legend[0].replace("<br>", " ").replace("\u00a0", " ") if len(legend) == 1 else legend
        assert "2 fitted parameters from the calibration's posterior with a new lab's deviation" in text, legend
        got = pd.read_csv(io.BytesIO(download(page, "#dl-csv"))).set_index(["arm", "time_h"])
    finally:
        context.close()
    want = want[want["readout"] == "serum_creatinine"].set_index(["arm", "time_h"])
    got = got.loc[want.index]
    for column, reference in (("lo", "lower"), ("median", "median"), ("hi", "upper")):
        np.testing.assert_allclose(got[column], want[reference], rtol=1e-9)
    assert (got["hi"] > got["lo"]).any()  # a band, not a line


# --- the design rule of literature matching (issue 18): fast, no browser -----------------------

def _injury(**fields):
    from nephrosim.scenarios.schema import scenario_from_dict

    return scenario_from_dict({"name": "m", "species": "rat", "injury": fields, "arms": [{"name": "v"}],
                               "readouts": ["serum_creatinine"], "times_h": [0, 24]}).injury


def _study(injury: str, details: str | None) -> pd.DataFrame:
    """A study's rows as :meth:`EvidenceStore.records` gives them (the design is the study's text)."""
    return pd.DataFrame({"injury": [injury, injury], "injury_details": [details, details]})


def test_a_45_min_clamp_study_matches_a_45_min_scenario_not_a_25_min_one():
    from nephrosim.app.literature import design_match

    study = _study("ischemia_reperfusion", "bilateral renal pedicle clamping for 45 min at 37 °C")
    assert design_match(_injury(model="ischemia_reperfusion", clamp_min=45), study) == (True, None)
    assert design_match(_injury(model="ischemia_reperfusion", clamp_min=25), study) == (False, None)
    # ±20 % of the scenario's clamp time
    assert design_match(_injury(model="ischemia_reperfusion", clamp_min=40), study)[0]  # 45 within 40 ± 8
    assert not design_match(_injury(model="ischemia_reperfusion", clamp_min=35), study)[0]  # 45 > 35 + 7
    assert design_match(_injury(model="ischemia_reperfusion", clamp_min=50), study)[0]  # 45 within 50 ± 10


def test_a_clamp_study_of_another_laterality_does_not_match_and_an_unstated_one_is_not_compared():
    from nephrosim.app.literature import design_match

    solitary = _study("ischemia_reperfusion", "45 min occlusion of left renal pedicle + right nephrectomy")
    bilateral = _injury(model="ischemia_reperfusion", clamp_min=45)
    assert design_match(bilateral, solitary) == (False, None)
    assert design_match(_injury(model="ischemia_reperfusion", clamp_min=45, bilateral=False,
                                contralateral_nephrectomy=True), solitary) == (True, None)
    unstated = _study("ischemia_reperfusion", "renal artery occlusion 45 min")
    assert design_match(_injury(model="ischemia_reperfusion", clamp_min=45, bilateral=False), unstated) == (True, None)


def test_a_study_without_its_clamp_time_or_dose_is_skipped_with_the_reason():
    from nephrosim.app.literature import design_match

    for details in ("bilateral renal artery clamping", None):
        agrees, reason = design_match(_injury(model="ischemia_reperfusion", clamp_min=45),
                                      _study("ischemia_reperfusion", details))
        assert not agrees and reason.startswith("design not given") and "clamp time" in reason
    agrees, reason = design_match(_injury(model="cisplatin", dose_mg_per_kg=5),
                                  _study("cisplatin", "cisplatin AKI (dose not in abstract)"))
    assert not agrees and reason.startswith("design not given") and "mg/kg" in reason


def test_a_20_mg_per_kg_cisplatin_study_is_not_drawn_on_a_5_mg_per_kg_scenario():
    from nephrosim.app.literature import design_match

    high = _study("cisplatin", "cisplatin 20 mg/kg i.p. single")
    low = _study("cisplatin", "single IP cisplatin 5 mg/kg")
    assert design_match(_injury(model="cisplatin", dose_mg_per_kg=5), high) == (False, None)
    assert design_match(_injury(model="cisplatin", dose_mg_per_kg=5), low) == (True, None)
    assert design_match(_injury(model="cisplatin", dose_mg_per_kg=20), high) == (True, None)


def test_the_points_of_a_45_min_rat_scenario_are_of_38_to_54_min_studies_and_the_rest_are_counted(tmp_path):
    """On the shipped evidence: every drawn point's study names a clamp of 45 ± 9 min, and the rows of
    studies that name no single clamp time are in the skipped count under their reason."""
    from nephrosim.app.literature import literature_points
    from nephrosim.evidence import EvidenceStore
    from nephrosim.scenarios.schema import scenario_from_dict

    store = EvidenceStore(tmp_path / "e.duckdb")
    scenario = scenario_from_dict(LITERATURE_SCENARIO)
    out = literature_points(scenario, {"serum_creatinine": "mg/dL", "bun": "mg/dL"}, store)
    details = store.records(species="rat", injury="ischemia_reperfusion").groupby("study_id")["injury_details"].first()
    assert out["drawn"] > 0
    for point in out["points"]:
        minutes = [float(m) for m in re.findall(r"(\d+(?:\.\d+)?)\s*-?\s*min", details[point["study_id"]])]
        assert minutes and all(36 <= m <= 54 for m in minutes), (point["study_id"], details[point["study_id"]])
    reasons = {s["reason"]: s["rows"] for s in out["skipped"]}
    assert any(r.startswith("design not given") for r in reasons)
    assert out["matched"] == out["drawn"] + sum(reasons.values())
