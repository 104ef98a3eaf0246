"""The mechanism figures draw the numbers they are given (bar lengths, waterfall steps, the front)."""

import numpy as np
import pandas as pd
import pytest

from nephrosim.analysis.attribution import ArmAttribution, Attribution, shapley, shapley_interactions
from nephrosim.analysis.mechanism_plots import pareto_plot, shapley_waterfall, sobol_bars
from nephrosim.analysis.sensitivity import sobol
from nephrosim.biology.therapy.paracrine import MECHANISMS


def test_sobol_bars_are_the_indices_with_their_cis(tmp_path):
    problem = {"names": ["a", "b", "c"], "bounds": [[0, 1]] * 3}
    result = sobol(lambda X: 4 * X[:, 0] + X[:, 1], problem, 256, seed=2)
    fig = sobol_bars(result, tmp_path / "bars.png")
    assert (tmp_path / "bars.png").stat().st_size > 0
    ax = fig.axes[0]
    widths = [p.get_width() for p in ax.patches]
    order = [result.names.index(n) for n in result.ranking()]
    expected = np.concatenate([result.indices["first"][0][order], result.indices["total"][0][order]])
    np.testing.assert_allclose(widths, expected)
    assert [t.get_text() for t in ax.get_yticklabels()] == result.ranking()
    # c has no effect: its interval includes zero and its bars are hatched
    hatched = [p.get_hatch() for p in ax.patches]
    assert hatched[2] == hatched[5] == "//"


def test_waterfall_steps_add_up_to_the_total(tmp_path):
    w = np.array([0.5, 2.0, 0.3, 0.2, 0.6, 1.0])
    v = np.array([sum(w[i] for i in range(6) if m >> i & 1) ** 1.5 for m in range(64)])
    phi = shapley(v)
    mechanisms = tuple(MECHANISMS)
    arm = ArmAttribution("msc", mechanisms, float(v[-1]), float(v[-1]), 0.0, dict(zip(mechanisms, phi)),
                         shapley_interactions(v), v)
    fig = shapley_waterfall(Attribution("s", "scr_auc", "mg/dL·d", "vehicle", 7.0, {"msc": arm}), tmp_path / "w.svg")
    bars = fig.axes[0].patches
    tops = [b.get_y() + b.get_height() for b in bars[:-1]]
    assert tops[-1] == pytest.approx(v[-1])  # the last step reaches the total
    assert bars[-1].get_height() == pytest.approx(v[-1])  # and the total bar
    np.testing.assert_allclose(sorted(b.get_height() for b in bars[:-1]), sorted(phi))


def test_pareto_plot_joins_the_front(tmp_path):
    trials = pd.DataFrame({"trial": [0, 1, 2, 3], "efficacy": [0.2, 0.5, 0.4, 0.1], "risk": [1.0, 3.0, 4.0, 2.0]})
    front = [True, True, False, False]
    refs = pd.DataFrame({"label": ["standard"], "x": [2.5], "y": [0.3]})
    fig = pareto_plot(trials, ["#0", "#1", "#2", "#3"], front, "risk", "efficacy", tmp_path / "p.png", refs)
    line = fig.axes[0].lines[0]
    np.testing.assert_allclose(line.get_xdata(), [1.0, 3.0])
    np.testing.assert_allclose(line.get_ydata(), [0.2, 0.5])
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert labels == {"#0", "#1", "standard"}
