"""Where a trial's work runs: in this process, or on a Dask cluster.

A trial is cut into independent tasks — chunks of virtual patients to simulate, chunks of
replicate trials to analyse — each a pure function of its arguments (every random draw is
seeded by the task's own indices, never by the order in which tasks run). The results are
therefore identical whichever executor computes them; the callers store each result
under its task's index.

The Dask cluster is the ensembles' one (:func:`nephrosim.run.ensemble.executors.dask_client`):
``scheduler="local"`` starts a ``LocalCluster`` bound to 127.0.0.1, mutual TLS with a
certificate made for the run, no dashboard and no HTTP routes; ``scheduler="tls://host:port"``
(with credentials) or ``"tcp://host:port"`` connects to a running scheduler.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from nephrosim.engine.simulator import quiet_solver
from nephrosim.errors import UserInputError
from nephrosim.run.ensemble import executors


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
    the number of tasks.
    """

    name = "dask"

    def __init__(self, client):
        self.client = client

    def map(self, fn: Callable, tasks: Sequence) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed

        window = 2 * max(1, sum(self.client.nthreads().values()))
        todo = iter(enumerate(tasks))
        index: dict = {}

        def submit(k):
            for i, task in k:
                future = self.client.submit(_one_thread_per_worker, fn, task, pure=False)
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


def _one_thread_per_worker(fn: Callable, task):
    """Run ``fn(task)`` on a Dask worker with one batch-engine thread per simulator call: each
    worker thread already runs tasks in parallel, so every-core OpenMP teams would oversubscribe
    the machine (the ensembles' Dask path does the same)."""
    from nephrosim.trials import population

    population.ONE_THREAD_PER_CALL = True
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


@contextlib.contextmanager
def open_executor(scheduler: str | None = None, workers: int = 1, security=None) -> Iterator:
    """An executor for ``scheduler``.

    Arguments
    ---------
    scheduler : ``None`` or ``"serial"`` — this process; ``"local"`` — a Dask
        ``LocalCluster`` of ``workers`` processes on 127.0.0.1 (TLS, no dashboard);
        ``"tls://host:port"`` / ``"tcp://host:port"`` — a running Dask scheduler.
    workers : worker processes of the local cluster.
    security : TLS credentials (see :func:`nephrosim.run.ensemble.executors.dask_security`).
    """
    if scheduler in (None, "serial"):
        yield SerialExecutor()
        return
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or not 1 <= workers <= 1024:
        raise UserInputError(f"workers={workers!r} (--workers): give 1 to 1024 worker processes")
    security = executors.dask_security(security)
    if scheduler == "local":
        with executors.exit_on_sigterm(), executors.dask_client(int(workers), None, security) as client:
            yield DaskExecutor(client)
        return
    if not str(scheduler).startswith(("tls://", "tcp://")):
        raise UserInputError(f"scheduler={scheduler!r} (--scheduler): use 'serial', 'local' (a Dask cluster on "
                             "127.0.0.1) or the address of a running scheduler, tls://host:port or tcp://host:port")
    if str(scheduler).startswith("tls://") and security is None:
        raise UserInputError(f"scheduler={scheduler!r} is a TLS scheduler; give its credentials "
                             "(security=(ca_file, cert_file, key_file))")
    if str(scheduler).startswith("tcp://"):
        warnings.warn(f"the Dask scheduler at {scheduler} is unauthenticated: anyone who can reach it can run "
                      "code as you; secure it with TLS (docs/reliability.md)", stacklevel=3)
    with executors.exit_on_sigterm(), executors.dask_client(1, str(scheduler), security) as client:
        yield DaskExecutor(client)


# --- tasks --------------------------------------------------------------------------------
#: Parameter ids set on each cached simulator in this process (see :func:`simulate_patients`).
_TOUCHED: dict[int, set[str]] = {}


def simulate_patients(task) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulate a chunk of virtual patients of one compiled arm (a task for any executor).

    ``task = (scenario_json, covariates, extra_names, extra_values)``: the one-arm scenario,
    the patients' covariates (one array each), and further per-patient SBML parameters
    (a per-kg dose, uncertain therapy parameters). Returns SCr (mg/dL), survival (fraction)
    and the ok flag per patient. The arm is compiled once per process.
    """
    from nephrosim.scenarios.schema import Scenario
    from nephrosim.trials.population import TIMES_H, compiled, parameter_matrix

    scenario_json, cov, extra_names, extra_values = task
    program, sim = compiled(Scenario.model_validate_json(scenario_json))
    names, values = parameter_matrix(cov, program.parameter_values)
    resolved = []
    for name in extra_names:
        if name == "@dose_cells":
            ids = [k for k in program.parameter_values if k.endswith("_dose_1_cells")]
            if len(ids) != 1:
                raise RuntimeError(f"expected one cell-dose parameter in the compiled arm, found {ids}")
            name = ids[0]
        elif name not in program.parameter_values:
            raise RuntimeError(f"parameter {name!r} is not in the compiled arm")
        resolved.append(name)
    if resolved:
        values = np.column_stack([values, np.asarray(extra_values, dtype=float).reshape(len(values), -1)])
    # A compiled arm is shared by every caller in this process and keeps the last value set
    # for each parameter: restore the nominal value of any parameter an earlier task set
    # (e.g. an uncertainty draw) and this one does not.
    touched = _TOUCHED.setdefault(id(sim), set())
    restore = sorted(touched - set(names) - set(resolved))
    if restore:
        nominal = np.array([program.parameter_values[k] for k in restore], dtype=float)
        values = np.column_stack([values, np.broadcast_to(nominal, (len(values), len(restore)))])
    touched.update(names, resolved)
    with quiet_solver():
        out, statuses = sim.run_batch(TIMES_H, [*names, *resolved, *restore], values)
    out = program.convert(out)
    ok = np.array([s.ok for s in statuses], dtype=bool)
    return out[:, :, 0], out[:, :, 1] / 100.0, ok  # survival readout is in %
