"""``BatchSimulator``: the batch engine behind the same interface as the libRoadRunner simulator.

Same arguments, same outputs, same statuses as :class:`nephrosim.engine.simulator.Simulator`:
``run`` one parameter set, ``run_batch`` many (one C call for the whole batch). What
differs is the integrator — Rodas4 with an exact sparse Jacobian instead of CVODE BDF with
a dense difference-quotient one — and hence the retry policy: a patient whose integration
fails is rerun once at 100× tighter tolerances (there is no Adams fallback); success then
is ``ok_recovered`` with the first failure in the message.

Threads: one call solves its patients on ``options.threads`` OpenMP threads (default: every
core this process may use, ``os.sched_getaffinity``), one patient per thread at a time,
each thread with its own work space. Patients share nothing, so values, statuses and step
counts are bit-identical for any number of threads. ``threads = 1`` never enters OpenMP:
libgomp hangs in a ``fork()``ed child whose parent had used OpenMP threads, so forked
ensemble workers run with ``threads = 1`` (:mod:`nephrosim.run.ensemble.executors`).
"""

from __future__ import annotations

import logging
import os
from typing import Mapping, Sequence

import numpy as np

from nephrosim.engine.batch.compiled import load
from nephrosim.engine.simulator import (
    NEGATIVE_STATE, NON_FINITE, OK, OK_RECOVERED, SOLVER_FAILURE, SolverOptions, TrajectoryStatus,
    UnknownParameterError)
from nephrosim.errors import UserInputError

_log = logging.getLogger(__name__)
_OK = TrajectoryStatus(OK)

#: tolerance factors tried in order for a patient that failed (the batch engine's retry policy)
BATCH_RETRY_FACTORS: tuple[float, ...] = (1.0, 0.01)

_FAILURES = {
    1: "the solver hit max_steps (Rodas4: too much work in one output interval); raise solver.max_steps "
       "or check for parameters that make the model extremely stiff",
    2: "the step size fell below round-off (Rodas4: error test or LU failed repeatedly); tighten "
       "solver.rtol/atol or check for a parameter far outside its range",
}


class BatchSimulator:
    """One compiled model structure, run for many parameter sets at once.

    Arguments
    ---------
    sbml : SBML text (as written by :func:`nephrosim.engine.sbml.to_sbml`).
    outputs : ids of the species, rules or parameters to return.
    options : :class:`SolverOptions` (``rtol``, ``atol``, ``max_steps``, ``negative_tolerance``,
        ``check_states``).
    start_time : hours after the insult that model time 0 stands for (≤ 0).
    state_scales : state id → typical magnitude: that state is solved to ``atol × scale`` and is
        negative only below ``−(negative_tolerance × scale)`` (and round-off relative to its peak),
        as in the reference simulator.

    Attributes
    ----------
    threads : the number of threads each call uses (``options.threads``, or every usable core).
    """

    def __init__(self, sbml: str, outputs: Sequence[str], options: SolverOptions = SolverOptions(),
                 start_time: float = 0.0, state_scales: Mapping[str, float] | None = None):
        self.options = options
        self.outputs = tuple(outputs)
        self.start_time = float(start_time)
        self._model = load(sbml)
        m = self._model
        self.state_ids = m.species
        self._pindex = {p: i for i, p in enumerate(m.parameters)}
        sidx = {s: i for i, s in enumerate(m.species)}
        widx = {w: i for i, w in enumerate(m.rules)}
        kind, idx = [], []
        for o in self.outputs:
            if o in sidx:
                kind.append(0), idx.append(sidx[o])
            elif o in widx:
                kind.append(1), idx.append(widx[o])
            elif o in self._pindex:
                kind.append(2), idx.append(self._pindex[o])
            else:
                raise UnknownParameterError(f"output {o!r} is not a species, rule or parameter of the model")
        self._kind = np.asarray(kind, dtype=np.intc)
        self._idx = np.asarray(idx, dtype=np.intc)
        self._nominal = np.asarray(m.parameter_values, dtype=float)
        self._every_time = options.check_states != "final"
        scales = dict(state_scales or {})
        unknown = sorted(set(scales) - set(self.state_ids))
        if unknown:
            raise ValueError(f"state_scales names states the model does not have: {unknown}")
        self._scales = np.array([float(scales.get(s, 1.0)) for s in self.state_ids])
        self.threads = self._threads(options.threads)

    def _threads(self, asked: int | None) -> int:
        """``asked``, or every core this process may use; 1 when the library has no OpenMP."""
        if self._model.openmp_threads == 0:  # built with NEPHROSIM_BATCH_OPENMP=0, on request only
            if asked is not None and asked > 1:
                raise UserInputError(
                    f"solver.threads={asked}: this batch library was built without OpenMP "
                    "(NEPHROSIM_BATCH_OPENMP=0); set threads to 1, or unset NEPHROSIM_BATCH_OPENMP to build with OpenMP")
            _log.info("batch engine: library built without OpenMP (NEPHROSIM_BATCH_OPENMP=0); solving on 1 thread")
            return 1
        return asked if asked is not None else usable_cores()

    def parameter_ids(self) -> tuple[str, ...]:
        return self._model.parameters

    def run(self, times: Sequence[float], parameters: dict[str, float] | None = None
            ) -> tuple[np.ndarray, TrajectoryStatus]:
        """Simulate once. Returns (values[time, output], status); NaN rows on failure."""
        names = tuple(parameters) if parameters else ()
        values = np.array([[parameters[n] for n in names]], dtype=float) if names else np.zeros((1, 0))
        out, statuses = self.run_batch(times, names, values)
        return out[0], statuses[0]

    def parameter_matrix(self, names: Sequence[str], values: np.ndarray) -> np.ndarray:
        """Full parameter vectors (nominal values with ``names`` replaced), one row per patient."""
        names = tuple(names)
        unknown = [n for n in names if n not in self._pindex]
        if unknown:
            import difflib

            hints = [f"{n!r}" + (f" (did you mean {', '.join(map(repr, c))}?)" if (
                c := difflib.get_close_matches(n, sorted(self._pindex), n=3, cutoff=0.6)) else "") for n in unknown]
            raise UnknownParameterError(f"parameter(s) {', '.join(hints)} not in the model")
        values = np.atleast_2d(np.asarray(values, dtype=float))
        if values.shape[1] != len(names):
            raise UserInputError(f"values has {values.shape[1]} columns for {len(names)} parameter names")
        bad = [n for j, n in enumerate(names) if not np.all(np.isfinite(values[:, j]))]
        if bad:
            raise UserInputError(f"parameter(s) {bad} have non-finite values; give finite numbers")
        P = np.repeat(self._nominal[None, :], values.shape[0], axis=0)
        if names:
            P[:, [self._pindex[n] for n in names]] = values
        return P

    def run_batch(self, times: Sequence[float], names: Sequence[str], values: np.ndarray
                  ) -> tuple[np.ndarray, list[TrajectoryStatus]]:
        """Simulate each row of ``values`` (parameters ``names``): (array[sample, time, output], statuses)."""
        times = np.asarray(times, dtype=float)
        values = np.atleast_2d(np.asarray(values, dtype=float))
        n = values.shape[0]  # one patient per row, also when no parameter is varied (n × 0)
        result = np.full((n, times.size, len(self.outputs)), np.nan)
        if times.size == 0:
            return result, [TrajectoryStatus(OK)] * n
        if times[0] < self.start_time:
            msg = (f"output time {times[0]} is before the start of the simulation ({self.start_time}); ask only "
                   "for times after it")
            return result, [TrajectoryStatus(SOLVER_FAILURE, msg)] * n
        P = self.parameter_matrix(names, values)
        model_times = np.ascontiguousarray(times - self.start_time)
        statuses: list[TrajectoryStatus] = [_OK] * n  # ok unless a retry or a check says otherwise
        todo = np.arange(n)
        first: dict[int, str] = {}  # per patient: its first failure, and its latest one
        last: dict[int, str] = {}
        states = None
        steps = None
        for attempt, factor in enumerate(BATCH_RETRY_FACTORS):
            out, st, code, fail_t = self._solve(P[todo], model_times, factor)
            if states is None:
                states = np.full((n, *st.shape[1:]), np.nan)
                steps = np.zeros((n, 2), dtype=self._steps.dtype)
                team = self._team  # the whole call's team (a retry of one patient runs on one thread)
            steps[todo] += self._steps  # a retried patient's steps add up over its tries
            ok = code == 0
            result[todo[ok]] = out[ok]
            states[todo[ok]] = st[ok]
            for j in np.flatnonzero(~ok):  # failures only: rare
                why = f"{_FAILURES[int(code[j])]} (at t = {fail_t[j] + self.start_time:.6g} h)"
                first.setdefault(int(todo[j]), why)
                last[int(todo[j])] = why
            if attempt > 0:
                for m in todo[ok]:
                    statuses[m] = TrajectoryStatus(
                        OK_RECOVERED, f"recovered with Rodas4 at {factor:g}× the tolerances after: {first[int(m)]}")
            todo = todo[~ok]
            if todo.size == 0:
                break
        for m in todo:
            statuses[m] = TrajectoryStatus(
                SOLVER_FAILURE, f"{first[int(m)]}; retries ({len(BATCH_RETRY_FACTORS) - 1}) failed too, the last "
                f"with: {last[int(m)]}")
        self.last_steps = steps  # (accepted, rejected) steps per patient of the last call, over all its tries
        self.last_team = team  # threads that ran the last call's first solve (1: serial, no OpenMP)
        return result, self._check(result, states, statuses)

    def _solve(self, P: np.ndarray, model_times: np.ndarray, factor: float):
        m, ffi, lib = self._model, self._model.ffi, self._model.library
        n, T, O, N = P.shape[0], model_times.size, len(self.outputs), len(m.species)
        P = np.ascontiguousarray(P)
        out = np.full((n, T, O), np.nan)
        states = np.full((n, T, N) if self._every_time else (n, 1, N), np.nan)
        code = np.zeros(n, dtype=np.intc)
        fail_t = np.zeros(n)
        steps = np.zeros((n, 2), dtype=np.int64 if ffi.sizeof("long") == 8 else np.int32)
        team = ffi.new("int *")

        def ptr(a, ctype="double *"):
            return ffi.cast(ctype, ffi.from_buffer(a))

        atol = np.ascontiguousarray(self.options.atol * factor * self._scales)
        rc = lib.nb_solve(n, ptr(P), T, ptr(model_times), self.options.rtol * factor, ptr(atol),
                          self.options.max_steps, O, ptr(self._kind, "int *"), ptr(self._idx, "int *"),
                          int(self._every_time), ptr(out), ptr(states), ptr(code, "int *"), ptr(fail_t),
                          ptr(steps, "long *"), self.threads, team)
        if rc == -2:
            raise RuntimeError(f"the batch library was built without OpenMP and was asked for {self.threads} threads")
        if rc != 0:
            raise MemoryError("the batch solver could not allocate its work space")
        self._steps = steps  # (accepted, rejected) steps per patient of this solve
        self._team = int(team[0])  # threads that ran this solve
        return out, states, code, fail_t

    def _check(self, out: np.ndarray, states: np.ndarray, statuses: list[TrajectoryStatus]) -> list[TrajectoryStatus]:
        """The reference simulator's checks, for all patients at once: finite readouts, no state
        below its round-off floor. ``out``: (patient, time, output); ``states``: (patient, time, state)."""
        usable = np.fromiter((s.ok for s in statuses), dtype=bool, count=len(statuses))
        finite = np.isfinite(out).reshape(out.shape[0], -1).all(axis=1)
        with np.errstate(invalid="ignore"):
            peak = np.abs(states).max(axis=1, keepdims=True, initial=0.0)  # NaN rows (failures) stay NaN
            floor = -(self.options.negative_tolerance * self._scales + 1e-6 * peak)
            below = (states < floor).any(axis=1)  # (patient, state)
        negative = below.any(axis=1)
        statuses = list(statuses)
        for m in np.flatnonzero(usable & ~finite):
            statuses[m] = TrajectoryStatus(NON_FINITE, "a readout became NaN or infinite — check for division by "
                                                       "zero in the parameters of this trajectory")
        for m in np.flatnonzero(usable & finite & negative):
            j = int(np.argmax(below[m]))
            statuses[m] = TrajectoryStatus(
                NEGATIVE_STATE, f"state {self.state_ids[j]!r} went negative ({states[m, :, j].min():.3g}); tighten "
                "solver.atol or check the parameters of this trajectory")
        return statuses


def usable_cores() -> int:
    """Cores this process may run on (``os.sched_getaffinity``; ``os.cpu_count`` where that is missing)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
