"""An interrupted run can be resumed, and the builder's draft outlives a reload and a restart.

The browser tests drive real server processes one after the other on the same port and data
folder (as ``test_persistence`` does). The first server is killed outright (SIGKILL, as a crash
or an out-of-memory kill would), in the middle of an ensemble: its finished chunks stay in the
run's folder, and *Resume* on the next server continues from them. The reference is the same
ensemble run without interruption on the same server: their downloads must be the same bytes.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from nephrosim.app import forms
from nephrosim.app.browser import app_server, app_server_process, free_port
from nephrosim.app.runs import Run, RunManager
from nephrosim.app.store import DraftStore, RunStore, session_key
from nephrosim.errors import UserInputError

#: The ensemble of the resume test: 10 chunks of 4 parameter sets, about 0.2 s each on the shared
#: development machine, so a kill within 50 ms of the first chunk lands well before the last.
SAMPLES, SEED, CV = 40, 11, "0.25"


def _download(page, selector) -> bytes:
    with page.expect_download() as info:
        page.click(selector)
    return Path(info.value.path()).read_bytes()


def _start_ensemble(page) -> str:
    """The ensemble of the example's vehicle arm (one arm: one model to compile per run)."""
    page.goto("/builder")
    if page.locator("button[value='remove_arm:1']").count():  # the session's draft has it once removed
        page.click("button[value='remove_arm:1']")
        page.wait_for_load_state()
    assert page.locator("button[value='remove_arm:1']").count() == 0
    page.fill("#ens-samples", str(SAMPLES))
    page.fill("#ens-cv", CV)
    page.fill("#ens-seed", str(SEED))
    page.click("#ensemble")
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    return page.url


def _wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


def test_a_run_killed_with_its_server_resumes_from_its_chunks_and_equals_an_uninterrupted_run(
        browser, evidence_db, tmp_path):
    """The ensemble continues from its chunks; a simulation waiting behind it (one worker) keeps
    no partial result, so it is computed again, and the page says so."""
    data, port, env = tmp_path / "app-data", free_port(), {"NEPHROSIM_DB": str(evidence_db)}
    with app_server_process(port=port, data=data, env=env, workers=1) as (url, server):
        mine = browser.new_context(base_url=url, accept_downloads=True)
        mine.set_default_timeout(30_000)
        page = mine.new_page()
        run_url = _start_ensemble(page)
        run_id = run_url.rsplit("/", 1)[1]
        waiting = mine.new_page()
        waiting.goto("/builder")
        waiting.click("#simulate")
        waiting.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
        simulate_url = waiting.url
        assert waiting.inner_text("#run-state") == "queued"
        parts = data / "runs" / run_id / "work" / "ensemble.parquet.parts"
        _wait_for(lambda: list(parts.glob("chunk-*.parquet")), 60, "the ensemble's first finished chunk")
        server.kill()  # a crash: the server records nothing more, and its run's process ends with it
        server.wait()
        for p in (page, waiting):  # a run's page would reload itself when the next server answers its poll
            p.goto("about:blank")

    with app_server(port=port, data=data, env=env):
        kept = len(list(parts.glob("chunk-*.parquet")))
        assert 1 <= kept < 10, f"{kept} of 10 chunks finished before the kill: the test's kill came too late"
        page.goto(run_url)
        assert page.inner_text("#run-state") == "interrupted"
        assert "killed or crashed" in page.inner_text("#run-label")
        assert f"continues from the {kept} chunk(s) finished before the interruption" in page.inner_text("#resume-plan")
        page.click("#resume")
        page.wait_for_url(run_url)
        # the reference: the same request, never interrupted, on the same server at the same time
        reference = mine.new_page()
        reference_url = _start_ensemble(reference)
        page.wait_for_selector("#run-state.state-done", timeout=90_000)
        reference.goto(reference_url)
        reference.wait_for_selector("#run-state.state-done", timeout=90_000)

        assert page.inner_text("#resumed-note").startswith("Resumed 1 time(s) after an interruption, continuing")
        assert page.inner_text("#ensemble-resumed") == (
            f"Resumed: {kept} of its 10 chunks were finished before the interruption and kept; {10 - kept} were "
            "computed after it.")  # the ensemble's own count of the chunks it computed
        assert reference.locator("#ensemble-resumed").count() == 0
        for selector in ("#dl-csv", "#dl-parquet", "#dl-bands"):
            assert _download(page, selector) == _download(reference, selector), selector
        assert json.loads(page.inner_text("#plot-data")) == json.loads(reference.inner_text("#plot-data"))
        assert not (data / "runs" / run_id / "work").exists()  # the chunks go once the result is saved

        # the simulation that was waiting: run again from the start, the same as a run never interrupted
        waiting.goto(simulate_url)
        assert waiting.inner_text("#run-state") == "interrupted"
        assert "runs it again from the start with the same request: a simulate run keeps no partial result" in \
            waiting.inner_text("#resume-plan")
        waiting.click("#resume")
        waiting.wait_for_selector("#run-state.state-done", timeout=60_000)
        assert waiting.inner_text("#resumed-note") == ("Resumed 1 time(s) after an interruption, computed again "
                                                       "from the start.")
        reference.goto("/builder")
        reference.click("#simulate")
        reference.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
        reference.wait_for_selector("#run-state.state-done", timeout=60_000)
        for selector in ("#dl-csv", "#dl-parquet", "#dl-yaml"):
            assert _download(waiting, selector) == _download(reference, selector), selector
        # only an interrupted run resumes: a finished one is refused with the reason
        answer = page.request.post(run_url + "/resume")
        assert answer.status == 409 and "only an interrupted run can be resumed" in answer.text()
        mine.close()

        other = browser.new_context(base_url=url)  # another browser cannot resume (or see) the run
        assert other.new_page().request.post(run_url + "/resume").status == 404
        other.close()


def _draft_value(page) -> str:
    return page.input_value("input[name='name']")


def test_a_typed_draft_survives_a_reload_and_a_restart_for_its_session_only(browser, evidence_db, tmp_path):
    data, port, env = tmp_path / "app-data", free_port(), {"NEPHROSIM_DB": str(evidence_db)}
    typed = "draft of session A, typed but never submitted"
    with app_server(port=port, data=data, env=env) as url:
        a = browser.new_context(base_url=url)
        page = a.new_page()
        page.goto("/builder")
        example = _draft_value(page)
        assert page.get_attribute("#draft-status", "data-kept") == "0"
        page.fill("input[name='name']", typed)  # typed only: no button pressed
        page.wait_for_function("Number(document.getElementById('draft-status').dataset.saves) >= 1")
        assert "Draft kept on the server" in page.inner_text("#draft-status")
        # the uncertainty band's settings are kept with the draft (they are not scenario fields)
        page.check("#band")
        page.fill("#band-draws", "24")
        page.select_option("#band-source", "table")
        page.wait_for_function("Number(document.getElementById('draft-status').dataset.saves) >= 2")
        page.wait_for_timeout(1500)  # the last change's save, a moment after it
        page.reload()
        assert _draft_value(page) == typed and page.get_attribute("#draft-status", "data-kept") == "1"
        assert page.is_checked("#band") and page.input_value("#band-draws") == "24"
        assert page.input_value("#band-source") == "table"
        cookie = next(c["value"] for c in a.cookies() if c["name"] == "nephrosim_session")
    drafts = list((data / "drafts").glob("*.json"))  # named by the cookie's SHA-256, not the cookie
    assert [p.name for p in drafts] == [f"{session_key(cookie)}.json"]
    kept = json.loads(drafts[0].read_text())["draft"]
    assert kept["name"] == typed and kept["_band"] == {"on": True, "draws": "24", "seed": "0", "source": "table"}

    with app_server(port=port, data=data, env=env) as url:
        page.goto("/builder")
        assert _draft_value(page) == typed
        assert page.is_checked("#band") and page.input_value("#band-draws") == "24"  # after a restart too
        b = browser.new_context(base_url=url)  # another browser: its own (no) draft
        other = b.new_page()
        other.goto("/builder")
        assert _draft_value(other) == example and typed not in other.content()
        assert other.get_attribute("#draft-status", "data-kept") == "0"
        # a draft the data folder cannot keep (a folder stands where its file goes) is said, not claimed
        cookie_b = next(c["value"] for c in b.cookies() if c["name"] == "nephrosim_session")
        (data / "drafts" / f"{session_key(cookie_b)}.json").mkdir()
        other.fill("input[name='name']", "unkeepable")
        other.wait_for_function("document.getElementById('draft-status').dataset.error === '1'")
        assert "Draft NOT kept: the draft is kept in memory only, not in the data folder" in \
            other.inner_text("#draft-status") and "it is a folder" in other.inner_text("#draft-status")
        other.reload()
        assert other.inner_text("#draft-status").startswith("Draft NOT kept on the server: the draft is kept in "
                                                           "memory only")
        b.close()
        page.click("#discard-draft")  # back to the example, in memory and on disk
        page.wait_for_url(re.compile(r"/builder$"))
        assert _draft_value(page) == example and page.get_attribute("#draft-status", "data-kept") == "0"
        assert not (data / "drafts" / f"{session_key(cookie)}.json").exists()
        a.close()


def test_draft_files_of_two_sessions_are_separate_and_old_ones_are_removed(tmp_path):
    store = DraftStore(tmp_path, max_age_days=30)
    store.put("a" * 32, {"name": "mine"})
    assert store.get("a" * 32) == {"name": "mine"} and store.get("b" * 32) is None
    stale = store.folder / f"{session_key('c' * 32)}.json"
    stale.write_text(json.dumps({"format": 1, "draft": {"name": "old"}}))
    month_ago = time.time() - 31 * 86400
    os.utime(stale, (month_ago, month_ago))
    DraftStore(tmp_path, max_age_days=30)  # opening the store removes drafts no cookie can reach
    assert not stale.exists() and store.get("a" * 32) == {"name": "mine"}
    store.discard("a" * 32)
    assert store.get("a" * 32) is None


def test_resume_refuses_a_run_that_was_not_interrupted_and_hides_other_sessions_runs(tmp_path):
    store = RunStore.open(tmp_path)
    scenario, _, _ = forms.validate_draft(forms.DEFAULT_DRAFT)
    store.save(Run(id="0123456789abcdef", number=1, session=session_key("s" * 32), kind="simulate",
                   scenario=scenario.model_dump(mode="json"), scenario_name=scenario.name,
                   arms=tuple(a.name for a in scenario.arms), state="cancelled"))
    manager = RunManager(1, store)
    with pytest.raises(UserInputError, match=r"run 1 is cancelled: only an interrupted run can be resumed"):
        manager.resume("s" * 32, "0123456789abcdef")
    assert manager.resume("t" * 32, "0123456789abcdef") is None
    assert manager.get("s" * 32, "0123456789abcdef").state == "cancelled"
    manager.shutdown()
