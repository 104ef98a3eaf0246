"""Figures of the mechanism analyses: Sobol' bars with CIs, the convergence of the indices
against N, Shapley waterfalls, Pareto fronts.

Each function returns a :class:`matplotlib.figure.Figure` built with
:func:`nephrosim.figures.subplots` (no pyplot state, the caller's backend untouched) and
writes it atomically when ``path`` is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from nephrosim.figures import subplots
from nephrosim.io import atomic_path

__all__ = ["convergence_plot", "pareto_plot", "save", "shapley_waterfall", "sobol_bars"]

_LABELS = {"first": "first-order S1", "total": "total ST", "mu_star": "Morris μ*", "delta": "delta δ"}


def save(fig, path: str | Path | None):
    """Write ``fig`` to ``path`` (format from the suffix, PNG by default), atomically."""
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=150, format=Path(path).suffix.lstrip(".") or "png", bbox_inches="tight")
    return fig


def sobol_bars(result, path: str | Path | None = None, top: int = 20):
    """Bar chart of the indices of a :class:`~nephrosim.analysis.sensitivity.SensitivityResult`
    (Sobol' S1 and ST, or Morris μ*), the ``top`` most influential parameters, with the
    bootstrap CIs as error bars. Parameters whose interval includes zero are drawn hatched."""
    keys = {"sobol": ("first", "total"), "morris": ("mu_star",), "delta": ("delta",)}[result.method]
    names = result.ranking()[:top]
    idx = [result.names.index(n) for n in names]
    fig, ax = subplots(1, 1, figsize=(7.0, 0.35 * len(names) + 1.6))
    height = 0.8 / len(keys)
    y = np.arange(len(names))
    for k, key in enumerate(keys):
        value, lo, hi = (np.asarray(a)[idx] for a in result.indices[key])
        err = np.vstack([np.maximum(value - lo, 0), np.maximum(hi - value, 0)])
        bars = ax.barh(y + k * height - 0.4 + height / 2, value, height, xerr=err, capsize=2,
                       label=_LABELS[key])
        for b, l_ in zip(bars, lo):
            if l_ <= 0:
                b.set_hatch("//")
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="0.3", lw=0.8)
    c = result.context
    unit = f" ({c['unit']})" if c.get("unit") else ""
    where = f"{c.get('readout', 'output')}{unit} at {c['at_h']:g} h, arm {c.get('arm')}" if "at_h" in c else "output"
    ax.set_xlabel(f"index of {where}; bars: {result.conf_level:.0%} bootstrap CI; hatched: CI includes 0")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return save(fig, path)


def _where(result) -> str:
    c = result.context
    unit = f" ({c['unit']})" if c.get("unit") else ""
    return f"{c.get('readout', 'output')}{unit} at {c['at_h']:g} h, arm {c.get('arm')}" if "at_h" in c else "output"


def convergence_plot(result, path: str | Path | None = None, top: int = 10):
    """The indices against the sample size N (log₂ axis), one panel per index (S1 and ST,
    μ*, or δ), one line per parameter (the ``top`` most influential), the bootstrap CI as a
    band: from ``result.convergence`` (nested subsets N/8, N/4, N/2, N of one design, see
    :mod:`nephrosim.analysis.sensitivity`). Converged indices flatten and their bands
    narrow; a band still crossing 0 at N is not distinguishable from no effect."""
    if not result.convergence:
        raise ValueError("result has no convergence data; run the analysis with convergence=True")
    keys = {"sobol": ("first", "total"), "morris": ("mu_star",), "delta": ("delta",)}[result.method]
    names = result.ranking()[:top]
    idx = [result.names.index(n) for n in names]
    ns = np.array([n for n, _, _ in result.convergence], float)
    fig, axes = subplots(1, len(keys), figsize=(5.2 * len(keys), 4.0), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for j, (name, i) in enumerate(zip(names, idx)):
            v = np.array([ind[key][0][i] for _, _, ind in result.convergence])
            lo = np.array([ind[key][1][i] for _, _, ind in result.convergence])
            hi = np.array([ind[key][2][i] for _, _, ind in result.convergence])
            line, = ax.plot(ns, v, "o-", ms=3, lw=1.2, label=name)
            ax.fill_between(ns, lo, hi, color=line.get_color(), alpha=0.15, lw=0)
        ax.set_xscale("log", base=2)
        ax.axhline(0, color="0.3", lw=0.8)
        ax.set_xlabel("samples N" + (" (base samples)" if result.method == "sobol" else
                                     " (trajectories)" if result.method == "morris" else " (rows)"))
        ax.set_ylabel(_LABELS[key])
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.suptitle(f"convergence of the {result.method} indices of {_where(result)}; "
                 f"bands: {result.conf_level:.0%} bootstrap CI", fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def shapley_waterfall(attribution, path: str | Path | None = None):
    """One waterfall per treated arm: the benefit built up mechanism by mechanism (Shapley
    shares, largest first, from 0 to the total), with each share's interval over the
    parameter draws as an error bar on its step."""
    arms = list(attribution.arms.values())
    fig, axes = subplots(1, len(arms), figsize=(4.6 * len(arms), 4.2), squeeze=False)
    for ax, r in zip(axes[0], arms):
        iv = r.intervals()
        order = sorted(r.mechanisms, key=lambda m: -abs(r.shares[m]))
        start = 0.0
        for x, m in enumerate(order):
            v = r.shares[m]
            ax.bar(x, v, bottom=start, color="tab:green" if v >= 0 else "tab:red", width=0.7)
            lo, hi = iv[m]
            top = start + v
            ax.errorbar(x, top, yerr=[[max(v - lo, 0)], [max(hi - v, 0)]], color="k", capsize=3, lw=1)
            if x + 1 < len(order):
                ax.plot([x + 0.35, x + 0.65], [top, top], color="0.4", lw=0.8)
            start = top
        lo, hi = iv["total"]
        ax.bar(len(order), r.total, color="tab:blue", width=0.7)
        ax.errorbar(len(order), r.total, yerr=[[max(r.total - lo, 0)], [max(hi - r.total, 0)]], color="k",
                    capsize=3, lw=1)
        ax.set_xticks(range(len(order) + 1), [m.removeprefix("paracrine_") for m in order] + ["total"],
                      rotation=45, ha="right", fontsize=8)
        ax.set_title(f"{r.arm}: {r.total:.3g} {attribution.unit}", fontsize=10)
        ax.set_ylabel(f"benefit, {attribution.outcome} [{attribution.unit}]")
        ax.grid(axis="y", alpha=0.3)
    n = attribution.samples
    fig.suptitle(f"{attribution.scenario}: Shapley shares of the paracrine benefit "
                 f"({'nominal parameters' if not n else f'bars: {n} parameter draws, percentile interval'})",
                 fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def pareto_plot(points, labels: Sequence[str], front: Sequence[bool], x: str, y: str,
                path: str | Path | None = None, references=None, title: str = ""):
    """Scatter of trials on two objectives (``x``: a risk, ``y``: the efficacy), the Pareto
    front joined and labelled, and the reference protocols (``references``: a frame with
    columns ``label``, ``x``, ``y``) as labelled stars."""
    import pandas as pd

    pts = pd.DataFrame(points)
    fig, ax = subplots(1, 1, figsize=(7.5, 5.0))
    front = np.asarray(front, bool)
    ax.scatter(pts[x][~front], pts[y][~front], s=12, color="0.7", label="other trials")
    f = pts[front].sort_values(x)
    # markers only: the front is over all objectives, not a curve in this projection
    ax.plot(f[x], f[y], "o", color="tab:blue", ms=5, label="Pareto front (all objectives)")
    for (_, row), lab in zip(pts[front].iterrows(), np.asarray(labels)[front]):
        ax.annotate(lab, (row[x], row[y]), fontsize=6, xytext=(3, 3), textcoords="offset points")
    if references is not None:
        ax.scatter(references["x"], references["y"], marker="*", s=120, color="tab:red", label="shipped protocols")
        for _, row in references.iterrows():
            ax.annotate(row["label"], (row["x"], row["y"]), fontsize=7, color="tab:red", xytext=(4, -10),
                        textcoords="offset points")
    ax.set_xlabel(f"{x} (lower is better)")
    ax.set_ylabel(f"{y} (higher is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return save(fig, path)
