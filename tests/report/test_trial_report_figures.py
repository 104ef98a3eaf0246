"""The figures of the ``nephrosim trial`` report (issue 16, item 6), checked against independent
computations: a hand-written product-limit (Kaplan–Meier) estimator, numpy quantiles of the
replicate hazard ratios, and a separate lifelines Cox fit of each eGFR subgroup."""

import re

import numpy as np
import pandas as pd
import pytest
import yaml

from nephrosim.report import trial_figures as tf
from nephrosim.report import trial_subgroups as tf_subgroups
from nephrosim.report import trial_report
from nephrosim.trials import run_trial, trial_from_dict
from tests.trials.conftest import SMALL

#: tests/trials/conftest.py's SMALL design, with the trial's measured-SCr endpoint so that the
#: two-dimensional (one column per noise draw) recovery path is the one exercised.
DESIGN = {**yaml.safe_load(SMALL), "name": "small-measured", "endpoints": {"measurement": {"every_h": 24}}}
REPLICATES = 12


@pytest.fixture(scope="module")
def result():
    return run_trial(trial_from_dict(DESIGN), replicates=REPLICATES, seed=3)


def _product_limit(days, events, at):
    """S(t) = Π over event times u ≤ t of (1 − d_u / n_u): the Kaplan–Meier estimator by hand."""
    s, out = 1.0, []
    times = np.unique(days[events])
    for t in at:
        s = 1.0
        for u in times[times <= t]:
            s *= 1.0 - np.sum((days == u) & events) / np.sum(days >= u)
        out.append(s)
    return np.array(out)


def test_recovery_curves_are_the_product_limit_estimate_of_every_noise_draw(result):
    curves = tf.recovery_curves(result)
    assert list(curves) == ["placebo", "msc"]
    for arm, km in curves.items():
        oc = result.arm_outcomes[arm]
        assert oc.recovery_days.shape == (result.pool.size, REPLICATES)  # measured SCr: one column per draw
        days, rec = oc.recovery_days.ravel(), oc.recovered.ravel().astype(bool)
        at = np.arange(0.0, 31.0, 1.0)
        np.testing.assert_allclose(km.survival_function_at_times(at).to_numpy(), _product_limit(days, rec, at),
                                   rtol=1e-12, atol=1e-12)
        assert km.event_observed.size == result.pool.size * REPLICATES


def test_hazard_ratio_histogram_marks_the_replicates_quantiles(result):
    fig, caption = tf.hazard_ratio_figure(result)
    hr = np.array([r["hr"] for r in result.replicates])
    finite = hr[np.isfinite(hr)]
    med, lo, hi = np.quantile(finite, [0.5, 0.025, 0.975])
    drawn = sorted(line.get_xdata()[0] for line in fig.axes[0].get_lines())
    np.testing.assert_allclose(drawn, sorted([med, lo, hi, 1.0]))
    assert f"{finite.size} finite of {REPLICATES}" in caption
    # the summary's median over replicates is the same quantity (rounded to 4 decimals there)
    assert abs(result.to_dict()["hazard_ratio"]["median"] - med) < 1e-4


def test_subgroup_hazard_ratios_match_an_independent_cox_fit(result):
    from lifelines import CoxPHFitter

    table = tf.subgroup_hazard_ratios(result).set_index("subgroup")
    egfr = result.population.covariates["baseline_egfr"][result.pool]
    # every noise draw of every pool patient (12 x 87 rows per arm fit within MAX_SUBGROUP_ROWS), one row each
    t_c, e_c = result.arm_outcomes["placebo"].recovery_days, result.arm_outcomes["placebo"].recovered
    t_t, e_t = result.arm_outcomes["msc"].recovery_days, result.arm_outcomes["msc"].recovered
    assert t_c.shape[1] * result.pool.size <= tf_subgroups.MAX_SUBGROUP_ROWS
    assert table.loc["all", "patients"] == result.pool.size
    assert table.loc["eGFR < 60", "patients"] + table.loc["eGFR ≥ 60", "patients"] == result.pool.size
    for name, rows in (("eGFR < 60", np.flatnonzero(egfr < 60)), ("eGFR ≥ 60", np.flatnonzero(egfr >= 60))):
        assert rows.size >= 10, "the small design should have patients on both sides of eGFR 60"
        long = pd.concat([
            pd.DataFrame({"time": t[rows, k], "event": e[rows, k], "arm_msc": arm, "id": rows})
            for arm, (t, e) in enumerate(((t_c, e_c), (t_t, e_t))) for k in range(t.shape[1])])
        ref = CoxPHFitter().fit(long, "time", "event", cluster_col="id", robust=True)
        s = ref.summary.loc["arm_msc"]
        np.testing.assert_allclose(table.loc[name, ["hr", "hr_lo", "hr_hi"]].to_numpy(float),
                                   [s["exp(coef)"], s["exp(coef) lower 95%"], s["exp(coef) upper 95%"]], rtol=1e-6)
        assert table.loc[name, "events"] == int(e_c[rows].sum() + e_t[rows].sum())  # every draw's events


def test_trial_report_embeds_the_three_figures(result, tmp_path):
    from nephrosim.report import write

    path = tmp_path / "trial.html"
    write(trial_report(result), path)
    html = path.read_text(encoding="utf-8")
    assert len(re.findall(r'src="data:image/png;base64,', html)) == 3
    for words in ("Kaplan–Meier time to recovery", "pooled over the run", "Cox hazard ratio of", "in each replicate trial",
                  "robust variance clustered by patient", "hazard ratio by pre-operative eGFR subgroup"):
        assert words in html


def test_trial_report_table_carries_dialysis_and_make30_per_arm(result, tmp_path):
    """The per-arm table shows the summary's stage-linked death, dialysis, death or dialysis and MAKE30."""
    from html.parser import HTMLParser

    from nephrosim.report import write

    class Rows(HTMLParser):  # every table row's cell texts (header rows included)
        def __init__(self):
            super().__init__()
            self.rows, self._cell = [], None

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                self.rows.append([])
            elif tag in ("td", "th"):
                self._cell = ""

        def handle_data(self, data):
            if self._cell is not None:
                self._cell += data

        def handle_endtag(self, tag):
            if tag in ("td", "th") and self._cell is not None:
                self.rows[-1].append(self._cell.strip())
                self._cell = None

    path = tmp_path / "trial.html"
    write(trial_report(result), path)
    parser = Rows()
    parser.feed(path.read_text(encoding="utf-8"))
    header = next(r for r in parser.rows if "MAKE30" in r)
    out = result.to_dict()
    for arm in out["median_recovery_days"]:
        row = dict(zip(header, next(r for r in parser.rows if r and r[0] == arm and len(r) == len(header))))
        for column, key in (("death by stage, 30 d", "death_by_stage_30d"), ("dialysis, 30 d", "dialysis_30d"),
                            ("death or dialysis, 30 d", "death_or_dialysis_30d"), ("MAKE30", "make30")):
            assert float(row[column]) == pytest.approx(out[key][arm], abs=5e-4), (arm, column)
