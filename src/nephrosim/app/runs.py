"""Runs in the background: one child process each, owned by one browser session.

A :class:`Run` lives in the server, not in the page: closing or reloading the page leaves it
running, and the page finds it again by the session cookie. Another session never sees it
(:meth:`RunManager.get` answers ``None`` for a run of another session). At most
``max_workers`` runs compute at once; the others wait in order. Cancelling terminates the
run's process at once, wherever the integration is.
"""

from __future__ import annotations

import itertools
import multiprocessing
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from nephrosim.app import worker
from nephrosim.errors import UserInputError

#: Runs a session keeps (the oldest finished ones are forgotten first).
MAX_RUNS_PER_SESSION = 30
#: Runs a session may have waiting or computing at once.
MAX_ACTIVE_PER_SESSION = 4

ACTIVE = ("queued", "running")


@dataclass
class Run:
    """One run (simulate, compare, ensemble or mechanisms of a scenario; or a virtual trial of a
    trial design, held in ``scenario``) for one browser session."""

    id: str
    number: int
    session: str
    kind: str
    scenario: dict  # the validated scenario, as plain data (model_dump, mode json)
    scenario_name: str
    arms: tuple[str, ...]
    created: float = field(default_factory=time.time)
    state: str = "queued"  # queued | running | done | failed | cancelled
    done: int = 0
    total: int = 1
    label: str = "waiting for a free worker"
    error: str = ""
    error_kind: str = ""
    finished: float | None = None
    payload: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)  # ensemble: samples, cv, seed
    cancel_requested: bool = False
    process: Any = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def status(self) -> dict:
        """What the page polls: state, progress and any error, as JSON-able data."""
        end = self.finished if self.finished is not None else time.time()
        return {"id": self.id, "state": self.state, "done": self.done, "total": self.total, "label": self.label,
                "error": self.error, "error_kind": self.error_kind, "elapsed_s": round(end - self.created, 1)}


class RunManager:
    """Every run of the server, by session; starts, watches and cancels their processes."""

    def __init__(self, max_workers: int = 2):
        if max_workers < 1:
            raise UserInputError(f"--workers {max_workers}: use at least 1")
        self._lock = threading.Lock()
        self._runs: dict[str, Run] = {}
        self._numbers = itertools.count(1)
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
        """Queue ``kind`` (simulate | compare | ensemble | mechanisms, with ``options``) of a validated
        ``scenario`` for ``session``; for ``trial``, ``scenario`` is a validated trial design."""
        if kind not in worker.KINDS:
            raise UserInputError(f"run kind {kind!r}: use one of {', '.join(worker.KINDS)}")
        with self._lock:
            mine = [r for r in self._runs.values() if r.session == session]
            if sum(r.active for r in mine) >= MAX_ACTIVE_PER_SESSION:
                raise UserInputError(f"{MAX_ACTIVE_PER_SESSION} runs of yours are already waiting or running; "
                                     "wait for one to finish or cancel one")
            finished = sorted((r for r in mine if not r.active), key=lambda r: r.created)
            for old in finished[:max(0, len(mine) + 1 - MAX_RUNS_PER_SESSION)]:
                del self._runs[old.id]
            # a trial design keeps only what was given: its validators refuse some defaults written out
            # (a treatment's time_h beside the arm's timing)
            data = scenario.model_dump(mode="json", exclude_unset=kind == "trial")
            run = Run(id=secrets.token_hex(8), number=next(self._numbers), session=session, kind=kind,
                      scenario=data, scenario_name=scenario.name, arms=tuple(a.name for a in scenario.arms),
                      options=dict(options or {}),
                      total=worker.steps(kind, len(scenario.arms), int((options or {}).get("samples", 0))))
            self._runs[run.id] = run
        threading.Thread(target=self._drive, args=(run,), daemon=True, name=f"run-{run.id}").start()
        return run

    def get(self, session: str, run_id: str) -> Run | None:
        """The run ``run_id`` if it belongs to ``session``; ``None`` otherwise (never another's)."""
        with self._lock:
            run = self._runs.get(run_id)
        return run if run is not None and run.session == session else None

    def of_session(self, session: str) -> list[Run]:
        """The session's runs, newest first."""
        with self._lock:
            return sorted((r for r in self._runs.values() if r.session == session), key=lambda r: -r.number)

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

    def shutdown(self) -> None:
        """Stop every running process (the server is closing)."""
        with self._lock:
            for run in self._runs.values():
                if run.active:
                    run.cancel_requested = True
                    if run.process is not None and run.process.is_alive():
                        run.process.terminate()

    # --- the thread that watches one run -------------------------------------------------
    def _finish(self, run: Run, state: str, label: str, error: str = "", error_kind: str = "") -> None:
        with self._lock:
            run.state, run.label, run.error, run.error_kind = state, label, error, error_kind
            run.finished = time.time()
            run.process = None

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
        process = self._ctx.Process(target=worker.main, args=(run.kind, run.scenario, send, run.options), daemon=True,
                                    name=f"nephrosim-run-{run.id}")
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
