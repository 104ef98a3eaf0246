"""``nephrosim app``: the web app for the lab (scenario builder, runs, plots, parameter table).

Start it with ``nephrosim app`` (it binds 127.0.0.1:8765; ``--host`` and ``--port`` change
that) and open the address it prints. See ``docs/app.md``.

The app sits above the pipeline: it imports ``run``, ``analysis`` and ``scenarios`` and is
imported by nothing but the command line. Its web dependencies (Starlette, uvicorn, Jinja2,
plotly.js) are the ``app`` extra: ``pip install "nephrosim[app]"``.
"""

from __future__ import annotations

__all__ = ["create_app", "serve"]


def create_app(max_workers: int = 2, warm_up: bool = True, data=None):
    """The Starlette application (see :mod:`nephrosim.app.server`); ``data``: the folder that
    keeps its runs across restarts (``None``: in memory only)."""
    from nephrosim.app.server import create_app as build

    return build(max_workers=max_workers, warm_up=warm_up, data=data)


def serve(host: str = "127.0.0.1", port: int = 8765, workers: int = 2, data=None) -> None:
    """Serve the app until interrupted, its runs kept in the data folder ``data`` (default: a
    per-user folder, :func:`nephrosim.app.store.default_folder`)."""
    from nephrosim.app.server import serve as run

    run(host=host, port=port, workers=workers, data=data)
