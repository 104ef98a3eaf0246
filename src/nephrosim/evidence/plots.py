"""Forest and funnel plots (matplotlib, Agg backend; SVG/PNG/PDF by file extension).

The forest plot follows the conventions of metafor's ``forest.rma`` (Viechtbauer 2010):
one row per study with its CI and a square sized by weight, a text column with the
estimate and CI and one with the weight, optional subgroup blocks with their pooled
diamonds, the overall diamond and the prediction interval as a dotted bar. Ratio
measures (OR, RR, ROM) can be back-transformed with ``exp`` (log axis labels in the
natural scale). The funnel plot puts the standard error on an inverted y axis with
pseudo-confidence lines around the pooled estimate (Sterne & Egger 2001); studies filled
by trim-and-fill are drawn as open circles.

References
----------
Sterne JAC, Egger M (2001). Funnel plots for detecting bias in meta-analysis. J Clin
Epidemiol 54:1046–1055.
Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat
Softw 36(3):1–48.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from nephrosim.figures import subplots

from .effects import RATIO_MEASURES
from .errors import InputError
from .meta import MetaResult, TrimfillResult

__all__ = ["forest_plot", "funnel_plot"]

_MEASURE_LABEL = {
    "SMD": "Standardized mean difference (Hedges' g)",
    "MD": "Mean difference",
    "ROM": "Log ratio of means",
    "OR": "Log odds ratio",
    "RR": "Log risk ratio",
    "GEN": "Effect size",
}
_EXP_LABEL = {"ROM": "Ratio of means", "OR": "Odds ratio", "RR": "Risk ratio"}


class _Agg:
    """Figures on the Agg canvas (:mod:`nephrosim.figures`), not touching pyplot's backend."""

    @staticmethod
    def subplots(figsize):
        return subplots(figsize=figsize)

    @staticmethod
    def close(fig):
        pass


def _plt():
    return _Agg


def _save(fig, path):
    p = Path(path)
    ext = p.suffix.lower().lstrip(".")
    if ext not in ("svg", "png", "pdf"):
        raise InputError(f"plot file {str(p)!r}: use a .svg, .png or .pdf extension.")
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, format=ext, dpi=200 if ext == "png" else None, bbox_inches="tight")
    return p


def forest_plot(
    result,
    path: str | os.PathLike | None = None,
    *,
    subgroups=None,
    transform: str | None = "auto",
    title: str | None = None,
    xlabel: str | None = None,
):
    """Draw a forest plot.

    Parameters
    ----------
    result : MetaResult or MetaAnalysis
        An intercept-only fit (``MetaAnalysis`` also supplies its subgroups).
    path : path, optional
        Save to this file (format from the extension: .svg, .png, .pdf).
    subgroups : SubgroupResult, optional
        Draw studies in subgroup blocks with one diamond per subgroup.
    transform : {"auto", "exp", None}
        ``"auto"`` back-transforms ratio measures (OR/RR/ROM) with exp.
    title, xlabel : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    if hasattr(result, "result") and isinstance(getattr(result, "result"), MetaResult):
        if subgroups is None:
            subgroups = result.subgroups
        result = result.result
    if result.p != 1:
        raise InputError("forest_plot needs an intercept-only model; refit without moderators.")
    measure = result.measure
    exp = (transform == "exp") or (transform == "auto" and measure in RATIO_MEASURES)
    f = np.exp if exp else (lambda x: x)
    y = np.asarray(result.yi)
    se = np.sqrt(np.asarray(result.vi))
    crit = (result.ci_ub - result.estimate) / result.se if result.se > 0 else 1.96
    lo, hi = y - crit * se, y + crit * se
    w = np.asarray(result.weights)
    labels = list(result.labels)

    # layout: rows from top
    rows = []  # (kind, payload)
    if subgroups is not None:
        idx_by = {g: [] for g in subgroups.groups}
        lab_to_i = {}
        for i, lab in enumerate(labels):
            lab_to_i.setdefault(lab, []).append(i)
        for g, r in zip(subgroups.groups, subgroups.results):
            rows.append(("header", g))
            for lab in r.labels:
                i = lab_to_i[lab].pop(0)
                rows.append(("study", i))
            rows.append(("sgdiamond", r))
            rows.append(("gap", None))
    else:
        rows += [("study", i) for i in range(len(y))]
        rows.append(("gap", None))
    rows.append(("diamond", result))
    if np.isfinite(result.pi_lb) and result.method != "FE":
        rows.append(("pi", result))
    n = len(rows)
    height = max(3.0, 0.32 * n + 1.6)
    fig, ax = plt.subplots(figsize=(11, height))
    fig.subplots_adjust(left=0.32, right=0.66)
    ypos = np.arange(n)[::-1]
    wmax = max(w) if len(w) else 1.0
    all_lo, all_hi = [], []
    texts = []
    for (kind, obj), yy in zip(rows, ypos):
        if kind == "study":
            i = obj
            ax.plot([f(lo[i]), f(hi[i])], [yy, yy], color="black", lw=1)
            size = 4 + 10 * np.sqrt(w[i] / wmax)
            ax.plot(f(y[i]), yy, marker="s", ms=size, color="#34495e", mec="black", mew=0.5)
            texts.append((yy, labels[i], f"{f(y[i]):.2f} [{f(lo[i]):.2f}, {f(hi[i]):.2f}]", f"{w[i]:.1f}%", False))
            all_lo.append(lo[i]); all_hi.append(hi[i])
        elif kind == "header":
            texts.append((yy, str(obj), "", "", True))
        elif kind in ("diamond", "sgdiamond"):
            r = obj
            xs = [f(r.ci_lb), f(r.estimate), f(r.ci_ub), f(r.estimate)]
            ys = [yy, yy + 0.3, yy, yy - 0.3]
            ax.fill(xs, ys, color="#c0392b" if kind == "diamond" else "#7f8c8d", ec="black", lw=0.6)
            name = (f"RE model ({r.method}{', KH' if r.test == 'knha' else ''})" if r.method != "FE" else "FE model")
            if kind == "sgdiamond":
                name = f"  subgroup {name}, k = {r.k}"
                if np.isfinite(r.i2):
                    name += f", I² = {r.i2:.0f}%"
            else:
                name = f"{name}, k = {r.k}"
                if np.isfinite(r.i2):
                    name += f", I² = {r.i2:.1f}%, τ² = {r.tau2:.3f}"
            texts.append((yy, name, f"{f(r.estimate):.2f} [{f(r.ci_lb):.2f}, {f(r.ci_ub):.2f}]", "", True))
            all_lo.append(r.ci_lb); all_hi.append(r.ci_ub)
        elif kind == "pi":
            r = obj
            ax.plot([f(r.pi_lb), f(r.pi_ub)], [yy, yy], color="#c0392b", lw=2, ls=(0, (2, 1.5)))
            texts.append((yy, "  95% prediction interval", f"[{f(r.pi_lb):.2f}, {f(r.pi_ub):.2f}]", "", False))
            all_lo.append(r.pi_lb); all_hi.append(r.pi_ub)
    null = 1.0 if exp else 0.0
    ax.axvline(null, color="grey", lw=0.8, ls="--", zorder=0)
    ax.set_yticks([])
    ax.set_ylim(-1, n)
    if exp:
        ax.set_xscale("log")
    lo_all, hi_all = f(min(all_lo)), f(max(all_hi))
    if exp:
        from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

        pad = (hi_all / lo_all) ** 0.05
        ax.set_xlim(min(lo_all, 1.0) / pad, max(hi_all, 1.0) * pad)
        nice = [t * 10.0**e for e in range(-4, 5) for t in (1, 2, 5)]
        lo_x, hi_x = ax.get_xlim()
        ticks = [t for t in nice if lo_x <= t <= hi_x]
        if len(ticks) > 9:
            ticks = [t for t in ticks if str(t).lstrip("0.").startswith("1")]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    else:
        pad = 0.05 * (hi_all - lo_all or 1.0)
        ax.set_xlim(min(lo_all, null) - pad, max(hi_all, null) + pad)
    ax.set_xlabel(xlabel or (_EXP_LABEL.get(measure, measure) if exp else _MEASURE_LABEL.get(measure, measure)),
                  fontsize=10)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    trans = ax.get_yaxis_transform()
    fs = 8.5 if n > 25 else 9.5
    for yy, lab, est, wt, bold in texts:
        ax.text(-0.02, yy, lab if len(lab) <= 60 else lab[:57] + "…", transform=trans, ha="right", va="center",
                fontsize=fs, fontweight="bold" if bold else "normal")
        ax.text(1.12, yy, wt, transform=trans, ha="right", va="center", fontsize=fs, family="monospace")
        ax.text(1.17, yy, est, transform=trans, ha="left", va="center", fontsize=fs, family="monospace")
    ax.text(-0.02, n - 0.2, "Study", transform=trans, ha="right", va="bottom", fontsize=fs + 0.5, fontweight="bold")
    ax.text(1.17, n - 0.2, f"Estimate [{result.level:g}% CI]", transform=trans, ha="left", va="bottom",
            fontsize=fs + 0.5, fontweight="bold")
    ax.text(1.12, n - 0.2, "Weight", transform=trans, ha="right", va="bottom", fontsize=fs + 0.5, fontweight="bold")
    if title:
        ax.set_title(title, fontsize=11, pad=18)
    if path is not None:
        _save(fig, path)
        plt.close(fig)
    return fig


def funnel_plot(result, path: str | os.PathLike | None = None, *, trimfill: TrimfillResult | None = None,
                level: float = 95.0, title: str | None = None, xlabel: str | None = None):
    """Draw a funnel plot (SE on an inverted y axis, pseudo-CI lines).

    Parameters
    ----------
    result : MetaResult or MetaAnalysis
    path : path, optional
        Save to this file (.svg, .png, .pdf).
    trimfill : TrimfillResult, optional
        Filled studies are drawn as open circles and the adjusted estimate as a dashed line.
        Taken from a ``MetaAnalysis`` when not given.
    level : float, default 95
    title, xlabel : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    from scipy import stats

    if hasattr(result, "result") and isinstance(getattr(result, "result"), MetaResult):
        if trimfill is None:
            trimfill = result.trimfill
        result = result.result
    y = np.asarray(result.yi)
    se = np.sqrt(np.asarray(result.vi))
    fig, ax = plt.subplots(figsize=(6.5, 5))
    z = stats.norm.ppf(0.5 + level / 200)
    se_all = se if trimfill is None or trimfill.k0 == 0 else np.concatenate([se, np.sqrt(trimfill.filled_vi)])
    smax = max(se_all.max() * 1.1, 1e-9)
    ss = np.linspace(0, smax, 100)
    centre = result.estimate
    ax.fill_betweenx(ss, centre - z * ss, centre + z * ss, color="#ecf0f1", zorder=0)
    ax.plot(centre - z * ss, ss, color="grey", lw=0.8, ls="--")
    ax.plot(centre + z * ss, ss, color="grey", lw=0.8, ls="--")
    ax.axvline(centre, color="black", lw=1)
    ax.scatter(y, se, s=36, color="#34495e", edgecolor="black", linewidth=0.5, zorder=3, label="studies")
    if trimfill is not None and trimfill.k0 > 0:
        ax.scatter(trimfill.filled_yi, np.sqrt(trimfill.filled_vi), s=36, facecolor="white", edgecolor="black",
                   linewidth=0.8, zorder=3, label=f"filled (trim-and-fill, k0 = {trimfill.k0})")
        ax.axvline(trimfill.result.estimate, color="#c0392b", lw=1, ls="--", label="adjusted estimate")
    ax.set_ylim(smax, 0)
    ax.set_ylabel("Standard error", fontsize=10)
    ax.set_xlabel(xlabel or _MEASURE_LABEL.get(result.measure, result.measure), fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, fontsize=11)
    if path is not None:
        _save(fig, path)
        plt.close(fig)
    return fig
