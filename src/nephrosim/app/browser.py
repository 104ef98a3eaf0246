"""A real app server and a real browser, for the UI tests and the screenshot script.

One recipe, used by ``tests/app`` and ``scripts/app_screenshots.py``: the server is a separate
``python -m nephrosim app`` process on a free loopback port, and the browser is Debian's
Chromium (``/usr/bin/chromium``, or ``$NEPHROSIM_CHROMIUM``) driven by Playwright through
``executable_path`` — Playwright's own browser download (``playwright install``) is not used.
The flags keep a headless Chromium off the network (no background connections, no component
updates, no sync) and run it as root in a container (``--no-sandbox``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterator

CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)


def chromium_path() -> str:
    """Debian's Chromium; a clear error (never a skip) when it is not installed."""
    path = os.environ.get("NEPHROSIM_CHROMIUM", "/usr/bin/chromium")
    if not Path(path).is_file():
        raise RuntimeError(f"Chromium not found at {path}: install Debian's package (apt-get install -y chromium; "
                           ".ci/run does) or point NEPHROSIM_CHROMIUM at a Chromium binary")
    return path


def launch(playwright):
    """A headless Chromium for ``playwright`` (a ``sync_playwright()`` object), fresh profile."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=list(CHROMIUM_ARGS), headless=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def app_server(port: int | None = None, workers: int = 2, timeout_s: float = 60.0,
               env: dict[str, str] | None = None, data: str | Path | None = None) -> Iterator[str]:
    """Run ``nephrosim app`` in its own process (``env`` added to this one's environment) with
    the data folder ``data`` (default: a new temporary one, removed afterwards, never the
    user's own); yield its base URL; stop it on exit."""
    with app_server_process(port, workers, timeout_s, env, data) as (url, _):
        yield url


@contextlib.contextmanager
def app_server_process(port: int | None = None, workers: int = 2, timeout_s: float = 60.0,
                       env: dict[str, str] | None = None,
                       data: str | Path | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """:func:`app_server`, yielding the server's process too (to kill it as a crash would)."""
    with contextlib.ExitStack() as stack:
        if data is None:
            data = stack.enter_context(tempfile.TemporaryDirectory(prefix="nephrosim-app-"))
        yield from _serve(port or free_port(), workers, timeout_s, env, Path(data))


def _serve(port, workers, timeout_s, env, data) -> Iterator[tuple[str, subprocess.Popen]]:
    proc = subprocess.Popen([sys.executable, "-m", "nephrosim", "app", "--port", str(port), "--workers", str(workers),
                             "--data", str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"nephrosim app exited with code {proc.returncode}: {proc.stdout.read()}")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"nephrosim app did not answer on {url} within {timeout_s:g} s")
            time.sleep(0.1)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
