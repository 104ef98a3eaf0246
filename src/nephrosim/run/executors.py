"""Where independent tasks run: in this process, or on a Dask cluster.

A long analysis (a virtual trial, a sensitivity design, a Shapley attribution) is cut into
independent tasks, each a pure function of its arguments (every random draw is seeded by
the task's own indices, never by the order in which tasks run). The results are therefore
identical whichever executor computes them; the callers store each result under its task's
index as it arrives.

The Dask cluster is the ensembles' one (:func:`nephrosim.run.ensemble.executors.dask_client`):
``scheduler="local"`` starts a ``LocalCluster`` bound to 127.0.0.1, mutual TLS with a
certificate made for the run, no dashboard and no HTTP routes; ``scheduler="tls://host:port"``
(with credentials) or ``"tcp://host:port"`` connects to a running scheduler.

Threads: each Dask worker thread already runs one task at a time, so a task's batch-engine
calls use one OpenMP thread (``solver.threads`` unset → 1; :func:`worker_solver_options`),
not every core, which would oversubscribe the machine (the ensembles' Dask path does the
same). Callers whose simulators are built elsewhere pass ``on_worker`` hooks that set their
own switch (the trials pass one for :mod:`nephrosim.trials.population`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import warnings
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from nephrosim.errors import UserInputError
from nephrosim.run.ensemble import executors

__all__ = ["DaskExecutor", "SerialExecutor", "check_scheduler", "collect", "compiled_arm", "open_executor",
           "worker_solver_options"]

#: True in a process that runs tasks for a :class:`DaskExecutor` (set by the task wrapper):
#: batch-engine simulators built there use one thread per call (:func:`worker_solver_options`)
ONE_THREAD_PER_CALL = False


class SerialExecutor:
    """Run every task in this process, in order."""

    name = "serial"

    def map(self, fn: Callable, tasks: Sequence) -> Iterator[tuple[int, Any]]:
        """``(index, fn(task))`` for each task."""
        for i, task in enumerate(tasks):
            yield i, fn(task)


class DaskExecutor:
    """Run tasks on a ``distributed.Client``; results arrive as they finish.

    At most ``2 × threads`` tasks are in flight, so the cluster's memory does not grow with
    the number of tasks. ``on_worker``: functions (importable, no arguments) called on the
    worker before each task, e.g. to switch a module's simulators to one thread per call.
    """

    name = "dask"

    def __init__(self, client, on_worker: Sequence[Callable[[], None]] = ()):
        self.client = client
        self.on_worker = tuple(on_worker)

    def map(self, fn: Callable, tasks: Sequence) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed

        window = 2 * max(1, sum(self.client.nthreads().values()))
        todo = iter(enumerate(tasks))
        index: dict = {}

        def submit(k):
            for i, task in k:
                future = self.client.submit(_on_worker, fn, task, self.on_worker, pure=False)
                index[future.key] = i
                yield future

        futures = as_completed(list(submit(_take(todo, window))))
        try:
            for future in futures:
                yield index.pop(future.key), future.result()
                for nxt in submit(_take(todo, 1)):
                    futures.add(nxt)
        finally:
            futures.clear()


def _on_worker(fn: Callable, task, hooks: Sequence[Callable[[], None]] = ()):
    """Run ``fn(task)`` on a Dask worker, one batch-engine thread per simulator call."""
    global ONE_THREAD_PER_CALL
    ONE_THREAD_PER_CALL = True
    for hook in hooks:
        hook()
    return fn(task)


def _take(it, n):
    out = []
    for _ in range(n):
        try:
            out.append(next(it))
        except StopIteration:
            break
    return out


def collect(executor, fn: Callable, tasks: Sequence, advance: Callable | None = None) -> list:
    """The results of ``fn`` on ``tasks`` in the order of ``tasks``, whoever computed them."""
    out: list = [None] * len(tasks)
    for i, result in executor.map(fn, tasks):
        out[i] = result
        if advance is not None:
            advance()
    return out


def check_scheduler(scheduler: str | None = None, workers: int = 1, security=None) -> None:
    """Refuse a bad ``scheduler``/``workers``/``security`` before any work starts (what
    :func:`open_executor` would refuse, without starting a cluster)."""
    if scheduler in (None, "serial"):
        return
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or not 1 <= workers <= 1024:
        raise UserInputError(f"workers={workers!r} (--workers): give 1 to 1024 worker processes")
    security = executors.dask_security(security)
    if scheduler == "local":
        return
    if not isinstance(scheduler, str) or not scheduler.startswith(("tls://", "tcp://")):
        raise UserInputError(f"scheduler={scheduler!r} (--scheduler): use 'serial', 'local' (a Dask cluster on "
                             "127.0.0.1) or the address of a running scheduler, tls://host:port or tcp://host:port")
    if scheduler.startswith("tls://") and security is None:
        raise UserInputError(f"scheduler={scheduler!r} (--scheduler) is a TLS scheduler; give its credentials "
                             "(--tls CA CERT KEY; security=(ca_file, cert_file, key_file))")


@contextlib.contextmanager
def open_executor(scheduler: str | None = None, workers: int = 1, security=None,
                  on_worker: Sequence[Callable[[], None]] = ()) -> Iterator:
    """An executor for ``scheduler``.

    Arguments
    ---------
    scheduler : ``None`` or ``"serial"`` — this process; ``"local"`` — a Dask
        ``LocalCluster`` of ``workers`` processes on 127.0.0.1 (TLS, no dashboard);
        ``"tls://host:port"`` / ``"tcp://host:port"`` — a running Dask scheduler.
    workers : worker processes of the local cluster.
    security : TLS credentials (see :func:`nephrosim.run.ensemble.executors.dask_security`).
    on_worker : hooks a :class:`DaskExecutor` calls on the worker before each task.
    """
    check_scheduler(scheduler, workers, security)
    if scheduler in (None, "serial"):
        yield SerialExecutor()
        return
    security = executors.dask_security(security)
    if scheduler == "local":
        with executors.exit_on_sigterm(), executors.dask_client(int(workers), None, security) as client:
            yield DaskExecutor(client, on_worker)
        return
    if str(scheduler).startswith("tcp://"):
        warnings.warn(f"the Dask scheduler at {scheduler} is unauthenticated: anyone who can reach it can run "
                      "code as you; secure it with TLS (docs/reliability.md)", stacklevel=3)
    with executors.exit_on_sigterm(), executors.dask_client(1, str(scheduler), security) as client:
        yield DaskExecutor(client, on_worker)


# --- a compiled arm per process, for tasks ---------------------------------------------------
_COMPILED: dict[tuple, tuple] = {}
_CACHE_SIZE = 8
#: the process whose simulators ``_COMPILED`` holds, and what forked children inherited: never
#: freed in a child (freeing a libRoadRunner model compiled by LLJIT in a ``fork()``ed child
#: waits forever on its parent's compile threads; see ``run.ensemble.executors._INHERITED``)
_OWNER = [os.getpid()]
_INHERITED: list[dict] = []


def worker_solver_options(options):
    """``options`` with one batch-engine thread per call in a Dask task when the scenario leaves
    ``solver.threads`` unset; unchanged elsewhere."""
    if ONE_THREAD_PER_CALL and options.threads is None:
        return options.model_copy(update={"threads": 1})
    return options


def compiled_arm(scenario_json: str, arm: str, names: Sequence[str]):
    """``(ArmProgram, Simulator)`` of ``arm`` of a scenario, compiled once per process for each
    set of parameter ``names`` its caller sets.

    Compiling an arm costs seconds (libRoadRunner's LLVM build) and a task of a long analysis
    reuses the same arm many times. A simulator keeps the last value set for each parameter,
    so each set of ``names`` gets its own: every run of it sets all of them, and no value
    carries over from one task to the next (results do not depend on which tasks a worker
    ran before).
    """
    from nephrosim.run.simulation import compile_arm, solver_options
    from nephrosim.scenarios.schema import Scenario

    if _OWNER[0] != os.getpid():  # a forked child: keep the parent's simulators alive, start afresh
        _INHERITED.append(dict(_COMPILED))
        _COMPILED.clear()
        _OWNER[0] = os.getpid()
    key = (hashlib.sha256(scenario_json.encode()).hexdigest(), arm, tuple(names), ONE_THREAD_PER_CALL)
    if key not in _COMPILED:
        if len(_COMPILED) >= _CACHE_SIZE:
            _COMPILED.pop(next(iter(_COMPILED)))
        scenario = Scenario.model_validate_json(scenario_json)
        program = compile_arm(scenario, arm)
        _COMPILED[key] = (program, program.simulator(worker_solver_options(solver_options(scenario, "final"))))
    return _COMPILED[key]
