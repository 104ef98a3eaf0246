"""Runs outlive the server: ``nephrosim app --data DIR`` stopped and started again on the same
folder gives each browser session back its runs, with the same numbers and downloads; a run
that was computing when the server stopped comes back as ``interrupted``.

The browser test drives two real server processes, one after the other on the same port and
data folder, and keeps one browser context (its cookie) open across the restart, as a user
does; a second context is the other session.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from nephrosim.app.browser import app_server, free_port
from nephrosim.app.runs import Run, RunManager
from nephrosim.app.store import RunStore, session_key
from nephrosim.errors import UserInputError


def _download(page, selector) -> bytes:
    with page.expect_download() as info:
        page.click(selector)
    return Path(info.value.path()).read_bytes()


def test_runs_readouts_and_downloads_come_back_after_a_restart_for_their_session_only(browser, evidence_db, tmp_path):
    data, port, env = tmp_path / "app-data", free_port(), {"NEPHROSIM_DB": str(evidence_db)}
    with app_server(port=port, data=data, env=env) as url:
        mine = browser.new_context(base_url=url, accept_downloads=True)
        mine.set_default_timeout(30_000)
        page = mine.new_page()
        page.goto("/builder")  # the default draft: the IRI example, vehicle and MSC arms
        page.click("#simulate")
        page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
        done_url = page.url
        page.wait_for_selector("#run-state.state-done", timeout=60_000)
        readouts = json.loads(page.inner_text("#plot-data"))
        csv = _download(page, "#dl-csv")
        yaml_text = _download(page, "#dl-yaml")
        # an ensemble far too long to finish: it is computing when the server stops
        page.goto("/builder")
        page.fill("#ens-samples", "5000")
        page.click("#ensemble")
        page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
        busy_url = page.url
        page.wait_for_function("document.getElementById('run-state').textContent === 'running'")
        cookie = next(c["value"] for c in mine.cookies() if c["name"] == "nephrosim_session")
        page.goto("about:blank")  # the run's page would reload itself when the next server answers its poll
    records = {p.parent.name: json.loads(p.read_text()) for p in (data / "runs").glob("*/run.json")}
    busy_id = busy_url.rsplit("/", 1)[1]
    assert len(records) == 2 and records[busy_id]["state"] == "interrupted"  # said by the stopping server
    # the folder keeps the cookie's SHA-256, not the cookie
    assert {r["session"] for r in records.values()} == {session_key(cookie)} and cookie not in json.dumps(records)

    with app_server(port=port, data=data, env=env) as url:
        page.goto("/runs")
        rows = {r.get_attribute("data-run"): r.inner_text() for r in page.locator("#runs-table tbody tr").all()}
        assert set(rows) == {done_url.rsplit("/", 1)[1], busy_url.rsplit("/", 1)[1]}
        page.goto(done_url)
        assert page.inner_text("#run-state") == "done"
        page.wait_for_selector("#plots[data-ready='1']")
        assert json.loads(page.inner_text("#plot-data")) == readouts  # every number, as before the restart
        assert _download(page, "#dl-csv") == csv and _download(page, "#dl-yaml") == yaml_text
        page.goto(busy_url)
        assert page.inner_text("#run-state") == "interrupted"
        assert "before this run finished" in page.inner_text("#run-label")
        assert page.locator("#cancel").count() == 0 and page.locator("#dl-csv").count() == 0
        mine.close()

        other = browser.new_context(base_url=url)  # another browser: no cookie of the first
        stranger = other.new_page()
        stranger.goto("/runs")
        assert stranger.locator("#no-runs").count() == 1
        assert stranger.goto(done_url).status == 404
        assert stranger.request.get(done_url + "/download/results.csv").status == 404
        other.close()


def _record(store: RunStore, state: str, payload=None) -> Run:
    """A run as the manager records it (scenario, session key, progress), saved in ``store``."""
    from nephrosim.app import forms

    scenario, _, _ = forms.validate_draft(forms.DEFAULT_DRAFT)
    run = Run(id="0123456789abcdef", number=7, session=session_key("s" * 32), kind="simulate",
              scenario=scenario.model_dump(mode="json"), scenario_name=scenario.name,
              arms=tuple(a.name for a in scenario.arms), state=state, done=1, total=3, payload=payload)
    store.save(run)
    return run


def test_a_run_left_running_by_a_crash_comes_back_interrupted(tmp_path):
    """What a server killed mid-run leaves: the run's last record says ``running``, and the
    kernel released the folder's lock (here: close)."""
    store = RunStore.open(tmp_path)
    _record(store, "running")
    store.close()
    manager = RunManager(1, RunStore.open(tmp_path))
    run = manager.get("s" * 32, "0123456789abcdef")
    assert run.state == "interrupted" and run.payload is None and "killed or crashed" in run.label
    assert manager.get("t" * 32, "0123456789abcdef") is None
    assert json.loads((tmp_path / "runs" / run.id / "run.json").read_text())["state"] == "interrupted"
    manager.shutdown()


def test_a_damaged_saved_result_is_said_not_shown_blank(tmp_path):
    store = RunStore.open(tmp_path)
    frame = pd.DataFrame({"arm": ["vehicle"], "time_h": [0.0], "value": [0.1]})
    _record(store, "done", payload={"frame": frame, "statuses": {"vehicle": ("ok", "")}})
    store.close()
    (tmp_path / "runs" / "0123456789abcdef" / "t0.parquet").unlink()
    manager = RunManager(1, RunStore.open(tmp_path))
    run = manager.get("s" * 32, "0123456789abcdef")
    assert run.state == "failed" and run.payload is None
    assert "could not be read from the data folder" in run.error and "run it again" in run.error
    manager.shutdown()


def test_one_data_folder_serves_one_app(tmp_path):
    first = RunStore.open(tmp_path)
    with pytest.raises(UserInputError, match=r"--data .*another nephrosim app uses this data folder"):
        RunStore.open(tmp_path)
    first.close()
    RunStore.open(tmp_path).close()


def test_an_unusable_data_folder_is_refused_with_the_fix(tmp_path):
    from nephrosim.cli import app

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = CliRunner().invoke(app, ["app", "--port", str(free_port()), "--data", str(blocker / "runs")])
    assert result.exit_code == 2
    assert f"--data '{blocker / 'runs'}': cannot create it" in result.output
    assert "give a folder you can write with --data DIR" in result.output
    assert "nephrosim app on" not in result.output


def _outlive(server_pid: int) -> None:  # a run's process that would compute for a minute
    import time

    from nephrosim.app.worker import _end_with

    _end_with(server_pid)
    time.sleep(60)


@pytest.mark.skipif(not hasattr(__import__("os"), "pidfd_open"), reason="pidfd_open is Linux-only")
def test_a_run_ends_with_a_killed_server():
    """A server killed outright cannot terminate its runs; they end themselves, so a restarted
    server is not slowed by orphans still computing an interrupted run."""
    import multiprocessing
    import subprocess
    import time

    server = subprocess.Popen(["sleep", "60"])
    run = multiprocessing.get_context("fork").Process(target=_outlive, args=(server.pid,))
    run.start()
    time.sleep(0.3)
    assert run.is_alive()
    server.kill()
    server.wait()
    run.join(timeout=5)
    assert run.exitcode == 1
