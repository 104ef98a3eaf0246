"""Where an ensemble's chunks are computed: this process, local worker processes, or Dask.

Every executor runs the same :func:`run_chunk` on the same jobs, so results are identical
whichever is used; only the order in which chunks finish differs, and each chunk is saved
under its own index.

Reliability
-----------
* Local worker processes die with their parent: on Linux each worker asks the kernel for
  ``SIGKILL`` when its parent dies (``prctl(PR_SET_PDEATHSIG)``), so ``kill -9`` of
  ``nephrosim ensemble`` leaves no orphan. On ``SIGTERM``, ``SIGINT`` or an error the parent
  kills its workers before it returns.
* At most ``2 × workers`` chunks are in flight; parameters are drawn as chunks are
  submitted, so memory does not grow with the number of samples.
* The Dask cluster nephrosim starts itself listens on 127.0.0.1 only, speaks TLS with
  a certificate made for this run (``Security.temporary()``: only holders of it can connect,
  which is only this process and the workers it starts), and serves no dashboard and no
  HTTP routes.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from nephrosim.engine.simulator import quiet_solver
from nephrosim.errors import UserInputError
from nephrosim.run.simulation import compile_arm, solver_options
from nephrosim.scenarios.schema import Scenario

_WORKER: dict = {}


#: What a forked worker inherited in ``_WORKER`` from its parent. Never freed in the child:
#: destroying a libRoadRunner model compiled by LLJIT (:func:`nephrosim.engine.simulator.
#: fast_compile`) waits forever on the parent's compile threads, which do not exist after
#: ``fork()`` (seen as a hung two-worker ensemble run after a one-worker run in one process).
_INHERITED: list[dict] = []


def _init_worker(scenario_json: str, silence: bool, threads: int | None = None) -> None:
    """Compile every arm once in this worker process.

    ``threads`` (batch engine, issue 15): threads per simulator call; None keeps the
    scenario's ``solver.threads`` (default: every usable core). Forked workers pass 1:
    libgomp (OpenMP) hangs in a ``fork()``ed child whose parent had used OpenMP threads,
    and one thread per worker process uses the cores without oversubscribing them.
    """

    if silence:  # SUNDIALS prints failures itself; statuses carry them instead
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    scenario = Scenario.model_validate_json(scenario_json)
    programs = [compile_arm(scenario, a.name) for a in scenario.arms]
    if _WORKER and _WORKER.get("pid") != os.getpid():
        _INHERITED.append(dict(_WORKER))  # a forked child: keep the parent's simulators alive
    _WORKER.clear()
    _WORKER.update(
        pid=os.getpid(),
        key=hashlib.sha256(scenario_json.encode()).hexdigest(),
        scenario=scenario,
        programs=programs,
        sims=[p.simulator(_with_threads(solver_options(scenario, check_states="final"), threads)) for p in programs],
    )


def _with_threads(options, threads: int | None):  # batch engine threads (issue 15)
    return options if threads is None else options.model_copy(update={"threads": threads})


def run_chunk(args):
    """Simulate samples [start, stop) for every arm; return column arrays.

    Rows are ordered sample → arm → time → readout, so the concatenated file does
    not depend on how samples were cut into chunks. Text columns come back as
    integer codes plus their dictionary (Parquet stores them dictionary-encoded).
    """
    start, stop, names, matrix = args
    scenario: Scenario = _WORKER["scenario"]
    times = np.asarray(scenario.times_h, dtype=float)
    n, T = stop - start, times.size
    arms = [p.arm for p in _WORKER["programs"]]
    readouts = list(_WORKER["programs"][0].readouts)
    units = sorted({u for p in _WORKER["programs"] for u in p.units})
    statuses_seen: dict[str, int] = {"ok": 0}
    cols: dict[str, list] = {k: [] for k in ("arm", "sample", "time_h", "readout", "value", "unit", "status")}
    for a, (program, sim) in enumerate(zip(_WORKER["programs"], _WORKER["sims"])):
        own = [j for j, nm in enumerate(names) if nm in program.parameter_values]
        values, statuses = sim.run_batch(times, [names[j] for j in own], matrix[:, own])
        values = program.convert(values)  # (n, T, R)
        R = values.shape[2]
        codes = np.array([statuses_seen.setdefault(s.code if s.code == "ok" else f"{s.code}: {s.message}",
                                                   len(statuses_seen))
                          for s in statuses], dtype=np.int32)
        shape = (n, T * R)
        unit_codes = np.array([units.index(u) for u in program.units], dtype=np.int32)
        cols["arm"].append(np.full(shape, a, dtype=np.int32))
        cols["sample"].append(np.broadcast_to(np.arange(start, stop, dtype=np.int64)[:, None], shape))
        cols["time_h"].append(np.broadcast_to(np.repeat(times, R)[None, :], shape))
        cols["readout"].append(np.broadcast_to(np.tile(np.arange(R, dtype=np.int32), T)[None, :], shape))
        cols["value"].append(values.reshape(shape))
        cols["unit"].append(np.broadcast_to(np.tile(unit_codes, T)[None, :], shape))
        cols["status"].append(np.broadcast_to(codes[:, None], shape))
    out = {k: np.concatenate(v, axis=1).ravel() for k, v in cols.items()}
    dictionaries = {"arm": arms, "readout": readouts, "unit": units, "status": list(statuses_seen)}
    return start, (out, dictionaries)


# --- this process ----------------------------------------------------------------------
def run_serial(scenario_json: str, jobs: Iterable, save: Callable, advance: Callable) -> None:
    """Simulate every chunk in this process. With the batch engine the next chunk's parameters are
    drawn in a background thread during the C solve (:class:`prefetched`). With libRoadRunner they
    are drawn in turn: the draws cost ~17 µs a sample against milliseconds a simulation, so there
    is nothing to gain, and a background thread beside libRoadRunner was followed by a segmentation
    fault in a later ``RoadRunner.__init__`` of the same process (reproduced every time by a
    table-prior ensemble and then a sensitivity-backend calibration in one pytest run; gone with
    the draws in turn; root cause not found)."""
    _init_worker(scenario_json, silence=False)
    batch = _WORKER["scenario"].solver.engine == "batch"
    with quiet_solver(), (prefetched(jobs) if batch else contextlib.nullcontext(jobs)) as ahead:
        for job in ahead:
            save(run_chunk(job))
            advance()


class prefetched:
    """Iterate ``jobs`` one item ahead in a background thread (issue 15).

    The next chunk's parameters are drawn while this one is simulated (the batch engine's C
    solve releases the GIL). Items come in order; an exception raised by ``jobs`` is raised
    by the iteration, in the caller's thread. Leaving the ``with`` block stops the thread
    after the item it is producing.
    """

    _END = object()

    def __init__(self, jobs: Iterable):
        import queue

        self._jobs = iter(jobs)
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="nephrosim-chunk-draws", daemon=True)

    def _work(self) -> None:
        try:
            for job in self._jobs:
                self._queue.put((True, job))
                if self._stop.is_set():
                    return
            self._queue.put((True, self._END))
        except BaseException as exc:  # handed to the caller's thread, never swallowed
            self._queue.put((False, exc))

    def __enter__(self) -> "prefetched":
        self._thread.start()
        return self

    def __iter__(self) -> Iterator:
        while True:
            ok, job = self._queue.get()
            if not ok:
                raise job
            if job is self._END:
                return
            yield job

    def __exit__(self, *exc) -> None:
        self._stop.set()
        import queue

        while self._thread.is_alive():  # unblock a put waiting on the full queue
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.01)
        self._thread.join()


# --- local worker processes ------------------------------------------------------------
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(err)}")
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def _init_process_worker(scenario_json: str, parent_pid: int) -> None:
    # the parent decides what an interrupt means (it kills the workers); a forked worker
    # must not run the parent's SIGTERM handler either
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent(parent_pid)
    _init_worker(scenario_json, silence=True, threads=1)  # forked: no OpenMP (see _init_worker)


def _windowed(submit: Callable, jobs: Iterable, window: int, idle: Callable[[], None] = lambda: None,
              idle_s: float = 1.0) -> Iterator:
    """Results of ``submit(job)`` as they finish, with at most ``window`` jobs in flight.

    ``idle()`` is called whenever ``idle_s`` seconds pass without a result; it raises to stop.
    """
    jobs = iter(jobs)
    pending = {submit(job) for job in itertools.islice(jobs, window)}
    while pending:
        done, pending = wait(pending, timeout=idle_s, return_when=FIRST_COMPLETED)
        if not done:
            idle()
        for future in done:
            yield future.result()
        pending |= {submit(job) for job in itertools.islice(jobs, len(done))}


def _worker_processes(pool: ProcessPoolExecutor) -> list:
    return list((getattr(pool, "_processes", None) or {}).values())


def _raise_if_a_worker_died(pool: ProcessPoolExecutor) -> None:
    """A worker killed while it sent its result leaves the pool waiting for the rest forever.

    ``concurrent.futures`` (CPython 3.11–3.13) notices a dead worker only between results: its
    manager thread, once it has read a result's length, blocks until the whole result arrives,
    and never sees the death (seen as a hung ``ensemble`` after SIGKILL of a worker, and as a
    hung SIGTERM). So the parent looks for dead workers itself while it waits. A worker the
    pool itself terminated (SIGTERM, after another one died) is named last.
    """
    dead = [p for p in _worker_processes(pool) if p.exitcode is not None]
    dead.sort(key=lambda p: p.exitcode == -signal.SIGTERM)
    if dead:
        process = dead[0]
        how = (f"was killed by signal {-process.exitcode}" if process.exitcode < 0
               else f"exited with status {process.exitcode}")
        raise WorkerLostError(
            f"ensemble worker process {process.pid} {how} (SIGKILL is often the kernel's out-of-memory "
            "killer); the chunks finished so far are kept — rerun the same command to resume, with fewer "
            "--workers or a smaller --chunk-size if memory ran out")


class WorkerLostError(RuntimeError):
    """A local worker process died while the ensemble ran."""


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """Kill the workers and let the pool's manager thread end, so ``shutdown`` cannot hang.

    The manager thread may be blocked reading a result a killed worker had begun to send (see
    :func:`_raise_if_a_worker_died`); that read returns only at end of file, which needs every
    writer gone: the workers (dead once joined) and this process's own copy of the pipe's
    write end, which only workers ever write to.
    """
    processes = _worker_processes(pool)
    kill = getattr(pool, "kill_workers", None)  # Python >= 3.14
    if kill is not None:
        kill()
    else:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):  # already gone
                process.kill()
    for process in processes:
        process.join(timeout=10)
    writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)
    if writer is not None and not any(p.is_alive() for p in processes):
        writer.close()


def run_processes(scenario_json: str, jobs: Iterable, workers: int, save: Callable, advance: Callable) -> None:
    import multiprocessing as mp

    ctx = mp.get_context("fork" if os.name == "posix" else "spawn")
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_process_worker,
                               initargs=(scenario_json, os.getpid()))
    try:
        for result in _windowed(lambda job: pool.submit(run_chunk, job), jobs, 2 * workers,
                                idle=lambda: _raise_if_a_worker_died(pool)):
            save(result)
            advance()
    except BrokenProcessPool as broken:  # the pool saw a worker die between results
        try:
            _raise_if_a_worker_died(pool)
        finally:
            _kill_workers(pool)
        raise WorkerLostError(f"an ensemble worker process died ({broken}); the chunks finished so far are "
                              "kept — rerun the same command to resume") from broken
    except BaseException:
        _kill_workers(pool)  # SIGTERM, Ctrl-C or a failed chunk: do not wait for running chunks
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """While an ensemble runs, SIGTERM raises ``SystemExit(143)``.

    The stack then unwinds as for Ctrl-C: workers are killed, a half-written chunk is
    removed, finished chunks stay for the rerun. Only installed from the main thread and
    when nobody else handles SIGTERM; the previous handler is restored afterwards.
    """
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def _exit(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --- Dask ------------------------------------------------------------------------------
def _dask_chunk(scenario_json: str, job):
    """A chunk on a Dask worker: compile once per worker and scenario, then simulate."""

    if _WORKER.get("key") != hashlib.sha256(scenario_json.encode()).hexdigest():
        _init_worker(scenario_json, silence=False, threads=1)  # one thread per Dask worker, as its cluster runs it
    with quiet_solver():
        return run_chunk(job)


def dask_security(value):
    """``None``, a ``distributed.security.Security``, or the paths ``(ca_file, cert_file, key_file)``.

    Returns ``None`` or a ``Security`` that requires TLS. The same certificate and key serve
    every role (client, scheduler and workers of a cluster nephrosim starts).
    """
    if value is None:
        return None
    from distributed.security import Security

    if isinstance(value, Security):
        return value
    fix = ("give a distributed.security.Security object, or the paths of a TLS CA certificate, "
           "certificate and private key as (ca_file, cert_file, key_file)")
    if isinstance(value, (str, bytes, Path)) or not isinstance(value, Sequence) or len(value) != 3:
        raise UserInputError(f"dask_security={value!r}: {fix}")
    paths = [Path(p) for p in value]
    for role, path in zip(("CA certificate", "certificate", "private key"), paths):
        if not path.is_file():
            raise UserInputError(f"dask_security: the {role} {str(path)!r} is not a file; {fix}")
    ca, cert, key = (str(p) for p in paths)
    return Security(require_encryption=True, tls_ca_file=ca,
                    tls_client_cert=cert, tls_client_key=key,
                    tls_scheduler_cert=cert, tls_scheduler_key=key,
                    tls_worker_cert=cert, tls_worker_key=key)


def _temporary_security():
    from distributed.security import Security

    try:
        return Security.temporary()
    except ImportError:
        raise UserInputError(
            "scheduler='dask' starts a TLS-secured local cluster, which needs the 'cryptography' package: "
            "install it (pip install cryptography), or use scheduler='processes'") from None


@contextlib.contextmanager
def dask_client(workers: int = 1, address: str | None = None, security=None) -> Iterator:
    """A ``distributed.Client``: of the scheduler at ``address``, or of a local cluster it starts.

    **Arguments**

    - ``workers``: worker processes of the local cluster (one thread each).
    - ``address``: a running scheduler (``tls://host:port``); ``None`` starts a local
      cluster bound to 127.0.0.1.
    - ``security``: a ``distributed.security.Security`` (see :func:`dask_security`). The
      local cluster uses it, or ``Security.temporary()`` when it is ``None``: mutual TLS with a
      self-signed certificate held in memory by this process and its workers.

    The local cluster starts no dashboard and serves no HTTP routes (the scheduler's HTTP
    port answers 404), and is closed on exit.
    """
    import dask
    from distributed import Client, LocalCluster

    if address:
        try:
            client = Client(address, security=security, timeout="20s")
        except OSError as exc:  # includes TimeoutError: nothing answered, or TLS was refused
            raise UserInputError(
                f"dask_address={address!r}: cannot connect ({exc}); check that the scheduler runs there, and give "
                "dask_security for a tls:// scheduler (docs/reliability.md)") from None
        with client:
            yield client
        return
    security = security or _temporary_security()
    with dask.config.set({"distributed.scheduler.http.routes": [], "distributed.worker.http.routes": []}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               protocol="tls://", security=security, dashboard_address=None,
                               worker_dashboard_address=None,
                               # the scheduler's (route-less) HTTP server: any free port, loopback only
                               scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
    try:
        with Client(cluster, security=security) as client:
            yield client
    finally:
        cluster.close()


#: A local cluster without any worker for this long is broken (its nannies restart a worker in seconds).
LOCAL_NO_WORKER_LIMIT_S = 60.0


def run_dask(client, scenario_json: str, jobs: Iterable, save: Callable, advance: Callable,
             no_worker_limit_s: float | None = None) -> None:
    """Run ``jobs`` on ``client``'s cluster, at most 2 × its threads in flight.

    ``no_worker_limit_s``: give up (``RuntimeError``) when the cluster has had no worker for
    this long while chunks wait — a local cluster whose workers were all killed would
    otherwise wait forever. ``None`` waits (a remote cluster may be scaling up).
    """
    from distributed import as_completed

    window = 2 * max(1, sum(client.nthreads().values()))
    jobs = iter(jobs)
    futures = as_completed([client.submit(_dask_chunk, scenario_json, job, pure=False)
                            for job in itertools.islice(jobs, window)])
    every = 5.0 if no_worker_limit_s is None else min(5.0, no_worker_limit_s)
    next_check, workerless_since = time.monotonic() + every, None
    try:
        while not futures.is_empty():
            if not futures.has_ready():
                if no_worker_limit_s is not None and time.monotonic() >= next_check:
                    next_check = time.monotonic() + every
                    if client.nthreads():
                        workerless_since = None
                    else:
                        workerless_since = workerless_since or time.monotonic()
                        if time.monotonic() - workerless_since > no_worker_limit_s:
                            raise RuntimeError(
                                f"the Dask cluster has had no worker for {no_worker_limit_s:.0f} s (killed, or out "
                                "of memory?); the finished chunks are kept — rerun the same command to resume")
                time.sleep(0.05)
                continue
            save(next(futures).result())
            advance()
            for job in itertools.islice(jobs, 1):
                futures.add(client.submit(_dask_chunk, scenario_json, job, pure=False))
    finally:
        futures.clear()
