"""Figures a biologist can read: one panel per readout, one line per arm, units on axes."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

from nephrosim.biology.readouts import available_readouts
from nephrosim.figures import subplots
from nephrosim.io import atomic_path


def plot_result(result, path: str | Path | None = None, log_time: bool = False):
    """Plot a :class:`~nephrosim.run.simulation.SimulationResult`; save when ``path`` is given.

    ``log_time`` draws time on a symmetric-log axis (linear below 1 h/1 day), so the acute
    phase is not a spike squeezed against the left edge of an 8-week axis.
    """

    readouts = list(result.scenario.readouts)
    ncol = min(3, len(readouts))
    nrow = math.ceil(len(readouts) / ncol)
    fig, axes = subplots(nrow, ncol, figsize=(4.4 * ncol, 3.6 * nrow), squeeze=False)
    catalogue = available_readouts()
    days = result.times_h.max() > 96
    t = result.times_h / 24.0 if days else result.times_h
    styles = ("-", "--", "-.", ":")  # arms stay distinguishable where their lines overlap
    # untreated arms are a wide grey band underneath, so a treated arm that equals the
    # control (e.g. RNase-treated EVs) does not hide it
    untreated = {a.name for a in result.scenario.arms if not a.treatments}
    for k, name in enumerate(readouts):
        ax = axes[k // ncol][k % ncol]
        treated = 0
        for arm, values in result.values.items():
            status = result.statuses[arm]
            label = arm if status.ok else f"{arm} ({status.code})"
            if arm in untreated:
                ax.plot(t, values[:, k], color="0.55", lw=4, alpha=0.6, zorder=1, solid_capstyle="round",
                        label=f"{label} (untreated)")
                continue
            ax.plot(t, values[:, k], marker="o", ms=3, label=label, linestyle=styles[treated % 4], zorder=2)
            treated += 1
        ax.set_title(textwrap.fill(catalogue[name].description, 46), fontsize=9)
        ax.set_ylabel(f"{name} [{result.units[name]}]")
        ax.set_xlabel("time after insult [days]" if days else "time after insult [h]")
        if log_time:
            ax.set_xscale("symlog", linthresh=0.25 if days else 1.0)
        ax.grid(alpha=0.3)
    for k in range(len(readouts), nrow * ncol):
        axes[k // ncol][k % ncol].axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", title="arm", fontsize=9)
    injury = result.scenario.injury.model
    fig.suptitle(f"{result.scenario.name} — {result.scenario.species}, {injury}", fontsize=11)
    fig.tight_layout(rect=(0, 0, 0.9, 0.95))
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=150, format=Path(path).suffix.lstrip(".") or "png")
    return fig
