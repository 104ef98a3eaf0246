"""A real ``nephrosim app`` server process and Debian's Chromium driven by Playwright.

Chromium missing is an error, not a skip: ``.ci/run`` installs it (see docs/app.md).
"""

from __future__ import annotations

import pytest

from nephrosim.app.browser import app_server, launch


@pytest.fixture(scope="session")
def evidence_db(tmp_path_factory):
    """The app's evidence store: a fresh one, seeded from the packaged evidence on first use."""
    return tmp_path_factory.mktemp("evidence") / "evidence.duckdb"


@pytest.fixture(scope="module")
def app_url(evidence_db):
    with app_server(env={"NEPHROSIM_DB": str(evidence_db)}) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Closed at the end of the module: Playwright's sync API keeps an event loop running in this
    thread while it is open, which the asyncio code of later test modules must not meet."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    """A page in a fresh browser context: its own cookies, so its own app session."""
    context = browser.new_context(base_url=app_url, accept_downloads=True)
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


def posted(groups) -> list[tuple[str, str]]:
    """What a browser submits for the form of ``groups`` (builder.html draws each kind so)."""
    pairs = []

    def walk(gs):
        for g in gs:
            for i in g.inputs:
                if i.kind == "checkboxes":
                    pairs.append((f"{i.name}_shown", "1"))
                    pairs.extend((f"{i.name}[]", v) for v, _ in i.options if v in i.value)
                elif i.kind in ("select", "bool"):
                    values = [v for v, _ in i.options]
                    pairs.append((i.name, i.value if i.value in values else values[0]))
                else:
                    pairs.append((i.name, i.value))
            walk(g.children)

    walk(groups)
    return pairs
