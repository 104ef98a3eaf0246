"""Figures built as :class:`matplotlib.figure.Figure` objects on the Agg canvas.

nephrosim never calls ``matplotlib.use`` or pyplot's global state, so plotting from a notebook
or a GUI keeps the caller's backend (a figure returned here still displays in Jupyter).
"""

from __future__ import annotations


def new_figure(figsize: tuple[float, float]):
    """A new ``Figure`` with an Agg canvas attached (``savefig`` works without pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def subplots(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (6.0, 4.0), **kw):
    """``(figure, axes)`` like ``pyplot.subplots``, without touching pyplot."""
    fig = new_figure(figsize)
    return fig, fig.subplots(nrows, ncols, **kw)
