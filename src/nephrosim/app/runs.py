"""Runs in the background: one child process each, owned by one browser session.

A :class:`Run` lives in the server, not in the page: closing or reloading the page leaves it
running, and the page finds it again by the session cookie. Another session never sees it
(:meth:`RunManager.get` answers ``None`` for a run of another session). At most
``max_workers`` runs compute at once; the others wait in order. Cancelling terminates the
run's process at once, wherever the integration is.

With a data folder (:class:`nephrosim.app.store.RunStore`, ``nephrosim app --data``) every run
is recorded when it is submitted and again when it ends, with its result: a new server on the
same folder lists them again for the same session cookie, and reads a finished run's result
back when its page or a download asks for it. A run that was waiting or computing when the
server stopped (or crashed) comes back as ``interrupted``; it is never shown as finished.

An interrupted run can be resumed (:meth:`RunManager.resume`) by its own session: it is queued again
with its stored request (scenario or trial design, and options). The kinds that compute in chunks
(:data:`RESUMABLE`: an ensemble's chunks of parameter sets, a trial's chunks of virtual patients and
replicates, a sensitivity analysis's chunks of design rows, a design search's conditions and designs,
a protocol search's study journal) keep what they finished under the run's folder in the data folder
while they compute, so a resumed run continues from it; each piece is a pure function of the request
and its index, so the result is the same as an uninterrupted run's. The other kinds keep no partial
result and compute again from the start.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from nephrosim.app import worker
from nephrosim.app.store import FIELDS, OPTIONAL_FIELDS, RunStore, session_key
from nephrosim.errors import UserInputError

log = logging.getLogger("nephrosim.app")

#: Runs a session keeps (the oldest finished ones are forgotten first).
MAX_RUNS_PER_SESSION = 30
#: Runs a session may have waiting or computing at once.
MAX_ACTIVE_PER_SESSION = 4

ACTIVE = ("queued", "running")
#: Kinds whose finished chunks are kept while they compute, so that *Resume* continues from them.
RESUMABLE = ("ensemble", "trial", "sensitivity", "design", "protocol")


@dataclass
class Run:
    """One run (simulate, compare, ensemble, mechanisms or sensitivity of a scenario; or a virtual trial, a
    design search or a protocol search, its input held in ``scenario``) for one browser session."""

    id: str
    number: int
    session: str
    kind: str
    scenario: dict  # the validated scenario, as plain data (model_dump, mode json)
    scenario_name: str
    arms: tuple[str, ...]
    created: float = field(default_factory=time.time)
    state: str = "queued"  # queued | running | done | failed | cancelled | interrupted (the server stopped)
    done: int = 0
    total: int = 1
    label: str = "waiting for a free worker"
    error: str = ""
    error_kind: str = ""
    finished: float | None = None
    payload: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)  # ensemble: samples, cv, seed; simulate/compare: band
    cancel_requested: bool = False
    stopping: bool = False  # the server is stopping: the run ends as interrupted, not cancelled
    process: Any = None
    saved_payload: Any = None  # a restored run's result, still on disk (its manifest): read on first use
    resumed: float | None = None  # when it was last resumed after an interruption
    resumes: int = 0  # how many times it was resumed

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def status(self) -> dict:
        """What the page polls: state, progress and any error, as JSON-able data."""
        end = self.finished if self.finished is not None else time.time()
        start = self.resumed if self.resumed is not None else self.created
        return {"id": self.id, "state": self.state, "done": self.done, "total": self.total, "label": self.label,
                "error": self.error, "error_kind": self.error_kind, "elapsed_s": round(end - start, 1)}


class RunManager:
    """Every run of the server, by session; starts, watches and cancels their processes."""

    def __init__(self, max_workers: int = 2, store: RunStore | None = None):
        if max_workers < 1:
            raise UserInputError(f"--workers {max_workers}: use at least 1")
        self._lock = threading.Lock()
        self._runs: dict[str, Run] = {}
        self._store = store
        if store is not None:
            self._restore(store)
        self._numbers = itertools.count(max((r.number for r in self._runs.values()), default=0) + 1)
        self._slots = threading.BoundedSemaphore(max_workers)
        # a fork server: runs start from a clean process that imported nephrosim once, not from a
        # copy of the threaded web server
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["nephrosim.app.worker", "nephrosim.app.preload"])

    def warm_up(self) -> None:
        """Start the fork server now (it imports the model code once, ~3 s), not at the first run."""
        p = self._ctx.Process(target=worker.warm_up, daemon=True)
        p.start()
        p.join()

    def submit(self, session: str, kind: str, scenario, options: dict | None = None) -> Run:
        """Queue ``kind`` (simulate | compare | ensemble | mechanisms | sensitivity, with ``options``) of a validated
        ``scenario`` for ``session``; for ``trial``, ``scenario`` is a validated trial design, for ``design`` a
        validated design search (:class:`~nephrosim.trials.search.DesignSearch`) with its base trial written in,
        for ``protocol`` a validated protocol search (:class:`~nephrosim.analysis.protocol_search.ProtocolSearchSpec`)
        with its experiment written in."""
        if kind not in worker.KINDS:
            raise UserInputError(f"run kind {kind!r}: use one of {', '.join(worker.KINDS)}")
        session = session_key(session)
        with self._lock:
            mine = [r for r in self._runs.values() if r.session == session]
            if sum(r.active for r in mine) >= MAX_ACTIVE_PER_SESSION:
                raise UserInputError(f"{MAX_ACTIVE_PER_SESSION} runs of yours are already waiting or running; "
                                     "wait for one to finish or cancel one")
            finished = sorted((r for r in mine if not r.active), key=lambda r: r.created)
            forgotten = finished[:max(0, len(mine) + 1 - MAX_RUNS_PER_SESSION)]
            for old in forgotten:
                del self._runs[old.id]
            # a trial design keeps only what was given: its validators refuse some defaults written out
            # (a treatment's time_h beside the arm's timing)
            data = scenario.model_dump(mode="json", exclude_unset=kind in ("trial", "design"))
            arms = (scenario.base or {}).get("arms", ()) if kind == "design" else () if kind == "protocol" \
                else scenario.arms
            run = Run(id=secrets.token_hex(8), number=next(self._numbers), session=session, kind=kind,
                      scenario=data, scenario_name=scenario.name,
                      arms=tuple(a["name"] if isinstance(a, dict) else a.name for a in arms),
                      options=dict(options or {}),
                      total=worker.steps(kind, len(arms), int((options or {}).get("samples", 0)),
                                         band=(options or {}).get("band") is not None))
            self._runs[run.id] = run
        if self._store is not None:
            for old in forgotten:
                try:
                    self._store.delete(old.id)
                except OSError as exc:  # left on disk; it comes back after a restart, nothing worse
                    log.warning("nephrosim app: old run %s not deleted from %s: %s", old.id, self._store.folder, exc)
            try:
                self._store.save(run)  # recorded before it starts: a crash leaves it "queued" -> interrupted
            except UserInputError as exc:
                with self._lock:
                    del self._runs[run.id]
                raise UserInputError(f"the run was not started: {exc}") from None
        threading.Thread(target=self._drive, args=(run,), daemon=True, name=f"run-{run.id}").start()
        return run

    def get(self, session: str, run_id: str) -> Run | None:
        """The run ``run_id`` if it belongs to ``session``; ``None`` otherwise (never another's).
        A restored run's result is read from the data folder here, on first use."""
        with self._lock:
            run = self._runs.get(run_id)
        if run is None or run.session != session_key(session):
            return None
        if run.saved_payload is not None:
            self._read_result(run)
        return run

    def of_session(self, session: str) -> list[Run]:
        """The session's runs, newest first."""
        key = session_key(session)
        with self._lock:
            return sorted((r for r in self._runs.values() if r.session == key), key=lambda r: -r.number)

    def cancel(self, session: str, run_id: str) -> Run | None:
        run = self.get(session, run_id)
        if run is None:
            return None
        with self._lock:
            if run.active:
                run.cancel_requested = True
                if run.process is not None and run.process.is_alive():
                    run.process.terminate()
        return run

    def kept_chunks(self, run: Run) -> int:
        """How many finished chunks of ``run`` are kept in the data folder (0 without one)."""
        if self._store is None or run.kind not in RESUMABLE:
            return 0
        work = self._store.work_folder(run.id)
        if run.kind == "ensemble":
            return len(list(work.glob(f"{worker.ENSEMBLE_FILE}.parts/chunk-*.parquet")))
        if run.kind == "sensitivity":
            return len(list(work.glob(f"{worker.SENSITIVITY_FOLDER}/rows-*.npz")))
        if run.kind == "design":
            return len(list(work.glob(f"{worker.DESIGN_FILE}.parts/*-*.*")))
        if run.kind == "protocol":
            return 1 if (work / worker.PROTOCOL_FOLDER / "study.journal").is_file() else 0
        return len(list(work.glob(f"{worker.TRIAL_FOLDER}/chunks/*-*.*")))

    def resume(self, session: str, run_id: str) -> Run | None:
        """Queue the interrupted run ``run_id`` of ``session`` again, with its stored request; a
        :data:`RESUMABLE` kind continues from its kept chunks. ``None`` for another session's run
        (or none); a :class:`UserInputError` for a run that was not interrupted."""
        run = self.get(session, run_id)
        if run is None:
            return None
        with self._lock:
            if run.state != "interrupted":
                raise UserInputError(f"run {run.number} is {run.state}: only an interrupted run can be resumed")
            active = sum(r.active for r in self._runs.values() if r.session == run.session)
            if active >= MAX_ACTIVE_PER_SESSION:
                raise UserInputError(f"{MAX_ACTIVE_PER_SESSION} runs of yours are already waiting or running; "
                                     "wait for one to finish or cancel one, then resume this one")
            kept = self.kept_chunks(run)
            run.state, run.done, run.error, run.error_kind = "queued", kept if run.kind == "ensemble" else 0, "", ""
            run.label = "resumed: waiting for a free worker"
            run.finished, run.payload, run.saved_payload = None, None, None
            run.cancel_requested = run.stopping = False
            run.resumed, run.resumes = time.time(), run.resumes + 1
        self._save(run)
        threading.Thread(target=self._drive, args=(run,), daemon=True, name=f"run-{run.id}").start()
        return run

    def shutdown(self) -> None:
        """Stop every running process (the server is closing); their runs end as ``interrupted``."""
        with self._lock:
            stopped = [run for run in self._runs.values() if run.active]
            for run in stopped:
                run.cancel_requested = run.stopping = True
                if run.process is not None and run.process.is_alive():
                    run.process.terminate()
        for run in stopped:  # recorded now: the watching threads may not outlive the server
            self._finish(run, "interrupted", _INTERRUPTED.format(done=run.done, total=run.total))
        if self._store is not None:
            self._store.close()

    # --- the data folder -----------------------------------------------------------------
    def _restore(self, store: RunStore) -> None:
        """The runs of the data folder; those that never ended are recorded as interrupted."""
        for record in store.records():
            fields = {k: record[k] for k in (*FIELDS, *OPTIONAL_FIELDS)}
            run = Run(**{**fields, "arms": tuple(record["arms"])}, saved_payload=record.get("payload"))
            self._runs[run.id] = run
            if run.active:
                run.state, run.label = "interrupted", _CRASHED
                run.finished = run.finished or time.time()
                self._save(run)

    def _save(self, run: Run) -> None:
        """Record ``run`` in the data folder. A failure (disk full) is said on the run's page
        and in the server's log; the run itself is as good as before."""
        if self._store is None:
            return
        try:
            self._store.save(run)
        except (UserInputError, OSError, TypeError) as exc:
            log.warning("nephrosim app: run %s not saved in %s: %s", run.id, self._store.folder, exc)
            with self._lock:
                run.label += f" — not saved in the data folder ({exc}); it is lost when the server stops"

    def _read_result(self, run: Run) -> None:
        try:
            payload = self._store.load_payload(run.id, run.saved_payload)
        except (OSError, ValueError, KeyError) as exc:  # deleted or damaged files: said, never a blank result
            log.warning("nephrosim app: result of run %s not read from %s: %s", run.id, self._store.folder, exc)
            with self._lock:
                if run.saved_payload is not None:
                    run.saved_payload = None
                    run.state, run.label, run.error_kind = "failed", "its saved result could not be read", "input"
                    run.error = (f"the result of this run could not be read from the data folder "
                                 f"{self._store.folder} ({exc}); run it again")
            return
        with self._lock:
            if run.saved_payload is not None:
                run.payload, run.saved_payload = payload, None

    # --- the thread that watches one run -------------------------------------------------
    def _finish(self, run: Run, state: str, label: str, error: str = "", error_kind: str = "") -> None:
        with self._lock:
            if run.state == "interrupted":  # recorded by shutdown() already
                return
            if run.stopping and state == "cancelled":
                state, label = "interrupted", _INTERRUPTED.format(done=run.done, total=run.total)
            run.state, run.label, run.error, run.error_kind = state, label, error, error_kind
            run.finished = time.time()
            run.process = None
        self._save(run)
        if state != "interrupted" and self._store is not None:
            try:  # the chunks are of no more use: the result (if any) is saved, a new run starts afresh
                self._store.drop_work(run.id)
            except OSError as exc:
                log.warning("nephrosim app: chunks of run %s not removed from %s: %s", run.id, self._store.folder, exc)

    def _drive(self, run: Run) -> None:
        while not self._slots.acquire(timeout=0.1):
            if run.cancel_requested:
                self._finish(run, "cancelled", "cancelled before it started")
                return
        try:
            self._compute(run)
        finally:
            self._slots.release()

    def _compute(self, run: Run) -> None:
        receive, send = self._ctx.Pipe(duplex=False)
        work = str(self._store.work_folder(run.id)) if self._store is not None and run.kind in RESUMABLE else None
        process = self._ctx.Process(target=worker.main,
                                    args=(run.kind, run.scenario, send, run.options, os.getpid(), work),
                                    daemon=True, name=f"nephrosim-run-{run.id}")
        with self._lock:
            if run.cancel_requested:
                cancelled = True
            else:
                cancelled = False
                run.state, run.label = "running", "starting"
        if cancelled:
            send.close()
            receive.close()
            self._finish(run, "cancelled", "cancelled before it started")
            return
        process.start()  # outside the lock: the first start may wait for the fork server to boot
        send.close()
        with self._lock:
            run.process = process
            if run.cancel_requested:  # cancelled while it was starting
                process.terminate()
        outcome = None
        while True:
            try:
                message = receive.recv()
            except (EOFError, OSError):  # the process ended (finished, cancelled or crashed)
                break
            if message[0] == "progress":
                with self._lock:
                    _, run.done, run.total, run.label = message
            else:
                outcome = message
        receive.close()
        process.join()
        if run.cancel_requested:
            self._finish(run, "cancelled", f"cancelled after {run.done} of {run.total} steps")
        elif outcome is None:
            self._finish(run, "failed", "the run's process ended without a result",
                         f"the worker process exited with code {process.exitcode} before sending a result "
                         "(out of memory, or killed from outside); run it again, or run it with the command "
                         "line to see the error", "internal")
        elif outcome[0] == "error":
            self._finish(run, "failed", "failed", outcome[2], outcome[1])
        else:
            with self._lock:
                run.payload = outcome[1]
                run.done = run.total
            self._finish(run, "done", "done")


_INTERRUPTED = ("interrupted: the server stopped after {done} of {total} steps, before this run finished; "
                "it has no result yet — resume it")
_CRASHED = ("interrupted: the server ended (killed or crashed) while this run was waiting or computing, before it "
            "finished; it has no result yet — resume it")
