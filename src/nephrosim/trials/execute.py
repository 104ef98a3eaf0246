"""Where a trial's work runs: in this process, or on a Dask cluster.

A trial is cut into independent tasks — chunks of virtual patients to simulate, chunks of
replicate trials to analyse — each a pure function of its arguments (every random draw is
seeded by the task's own indices, never by the order in which tasks run). The results are
therefore identical whichever executor computes them; the callers store each result
under its task's index.

The executors themselves are the run layer's (:mod:`nephrosim.run.executors`, shared with the
mechanism analyses); this module adds the trials' tasks and, on Dask workers, switches the
trials' cached simulators (:func:`nephrosim.trials.population.compiled`) to one batch-engine
thread per call.
"""

from __future__ import annotations

import contextlib
import re
import weakref
from typing import Callable, Iterator, Sequence

import numpy as np

from nephrosim.engine.simulator import quiet_solver
from nephrosim.run import executors
from nephrosim.run.executors import SerialExecutor, _take, collect  # noqa: F401 (importable from here, as before)

__all__ = ["DaskExecutor", "SerialExecutor", "collect", "open_executor", "simulate_patients"]


def _one_thread_per_worker() -> None:
    """On a Dask worker: batch-engine calls of the trials' simulators use one thread each; each
    worker thread already runs tasks in parallel, so every-core OpenMP teams would oversubscribe
    the machine (the ensembles' Dask path does the same)."""
    from nephrosim.trials import population

    population.ONE_THREAD_PER_CALL = True


class DaskExecutor(executors.DaskExecutor):
    """:class:`nephrosim.run.executors.DaskExecutor` that also runs the trials' thread hook."""

    def __init__(self, client, on_worker: Sequence[Callable[[], None]] = ()):
        super().__init__(client, (_one_thread_per_worker, *on_worker))


@contextlib.contextmanager
def open_executor(scheduler: str | None = None, workers: int = 1, security=None) -> Iterator:
    """An executor for ``scheduler`` (:func:`nephrosim.run.executors.open_executor`) whose Dask
    tasks run the trials' one-thread-per-call hook."""
    with executors.open_executor(scheduler, workers, security, on_worker=(_one_thread_per_worker,)) as ex:
        yield ex


# --- tasks --------------------------------------------------------------------------------
#: Parameter ids set on each cached simulator in this process (see :func:`simulate_patients`), keyed by
#: the simulator itself, weakly, so that the set goes with it. Keyed by ``id(sim)`` (before session 19),
#: the set of a simulator evicted from the compiled-arm cache passed to the next one allocated at its
#: address: a design search with more than 16 arms then restored an MSC dose parameter on an EV arm and
#: died with ``KeyError: 'msc1_dose_1_cells'``.
_TOUCHED: "weakref.WeakKeyDictionary[object, set[str]]" = weakref.WeakKeyDictionary()


def simulate_patients(task) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulate a chunk of virtual patients of one compiled arm (a task for any executor).

    ``task = (scenario_json, covariates, extra_names, extra_values)``: the one-arm scenario,
    the patients' covariates (one array each), and further per-patient SBML parameters
    (a per-kg dose, uncertain therapy parameters). Returns SCr (mg/dL), survival (fraction)
    and the ok flag per patient, on the scenario's output grid. The arm is compiled once per process.
    """
    from nephrosim.scenarios.schema import Scenario
    from nephrosim.trials.population import compiled, parameter_matrix

    scenario_json, cov, extra_names, extra_values = task
    scenario = Scenario.model_validate_json(scenario_json)
    program, sim = compiled(scenario)
    names, values = parameter_matrix(cov, program.parameter_values)
    resolved, columns = [], []
    extra = np.asarray(extra_values, dtype=float).reshape(len(values), -1) if extra_names else None
    for j, name in enumerate(extra_names):
        if name in ("@dose_cells", "@dose_cell_equivalents"):
            # the arm's per-kg dose, set per patient: every dose of a repeated schedule (dose_1, dose_2, ...)
            # of the arm's one treatment gets the patient's amount
            unit = name.removeprefix("@dose_")
            doses = scenario.arms[0].treatments[0].repeat_count
            ids = sorted((k for k in program.parameter_values if re.search(rf"_dose_\d+_{unit}$", k)),
                         key=lambda k: int(re.search(r"_dose_(\d+)_", k).group(1)))
            if len(ids) != doses:
                raise RuntimeError(f"expected {doses} dose_k_{unit} parameter(s) in the compiled arm, found {ids}")
            resolved += ids
            columns += [extra[:, j]] * len(ids)
        elif name not in program.parameter_values:
            raise RuntimeError(f"parameter {name!r} is not in the compiled arm")
        else:
            resolved.append(name)
            columns.append(extra[:, j])
    if resolved:
        values = np.column_stack([values, *columns])
    # A compiled arm is shared by every caller in this process and keeps the last value set
    # for each parameter: restore the nominal value of any parameter an earlier task set
    # (e.g. an uncertainty draw) and this one does not.
    touched = _TOUCHED.setdefault(sim, set())
    restore = sorted(touched - set(names) - set(resolved))
    if restore:
        nominal = np.array([program.parameter_values[k] for k in restore], dtype=float)
        values = np.column_stack([values, np.broadcast_to(nominal, (len(values), len(restore)))])
    touched.update(names, resolved)
    with quiet_solver():
        out, statuses = sim.run_batch(np.asarray(scenario.times_h, dtype=float), [*names, *resolved, *restore], values)
    out = program.convert(out)
    ok = np.array([s.ok for s in statuses], dtype=bool)
    return out[:, :, 0], out[:, :, 1] / 100.0, ok  # survival readout is in %
