"""Helpers of the browser tests of the app's run pages."""

from __future__ import annotations

from pathlib import Path


def wait_done(page, timeout):
    """Wait until the run shown on ``page`` ends, and require that it ended done (else show the page's run)."""
    page.wait_for_selector("#run-state.state-done, #run-state.state-failed, #run-state.state-cancelled",
                           timeout=timeout)
    assert page.inner_text("#run-state") == "done", page.inner_text("#run")


def download(page, selector) -> bytes:
    """The bytes of the file the link ``selector`` downloads."""
    with page.expect_download() as info:
        page.click(selector)
    return Path(info.value.path()).read_bytes()
