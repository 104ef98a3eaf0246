"""``BatchSimulator``: the batch engine behind the same interface as the libRoadRunner simulator.

Same arguments, same outputs, same statuses as :class:`nephrosim.engine.simulator.Simulator`:
``run`` one parameter set, ``run_batch`` many (one C call for the whole batch). What
differs is the integrator — Rodas4 with an exact sparse Jacobian instead of CVODE BDF with
a dense difference-quotient one — and hence the retry policy: a patient whose integration
fails is rerun once at 100× tighter tolerances (there is no Adams fallback); success then
is ``ok_recovered`` with the first failure in the message.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from nephrosim.engine.batch.compiled import load
from nephrosim.engine.simulator import (
    NEGATIVE_STATE, NON_FINITE, OK, OK_RECOVERED, SOLVER_FAILURE, SolverOptions, TrajectoryStatus,
    UnknownParameterError)
from nephrosim.errors import UserInputError

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
        statuses: list[TrajectoryStatus | None] = [None] * n
        todo = np.arange(n)
        first: dict[int, str] = {}
        states = None
        for attempt, factor in enumerate(BATCH_RETRY_FACTORS):
            out, st, code, fail_t = self._solve(P[todo], model_times, factor)
            if states is None:
                states = np.full((n, *st.shape[1:]), np.nan)
            ok = code == 0
            result[todo[ok]] = out[ok]
            states[todo[ok]] = st[ok]
            for j, m in enumerate(todo):
                if not ok[j]:
                    why = f"{_FAILURES[int(code[j])]} (at t = {fail_t[j] + self.start_time:.6g} h)"
                    first.setdefault(int(m), why)
                    last = why
                elif attempt > 0:
                    statuses[m] = TrajectoryStatus(
                        OK_RECOVERED, f"recovered with Rodas4 at {factor:g}× the tolerances after: {first[int(m)]}")
            todo = todo[~ok]
            if todo.size == 0:
                break
        for m in todo:
            statuses[m] = TrajectoryStatus(
                SOLVER_FAILURE, f"{first[int(m)]}; retries ({len(BATCH_RETRY_FACTORS) - 1}) failed too, the last "
                f"with: {last}")
        return result, [self._check(result[m], states[m], statuses[m]) for m in range(n)]

    def _solve(self, P: np.ndarray, model_times: np.ndarray, factor: float):
        m, ffi, lib = self._model, self._model.ffi, self._model.library
        n, T, O, N = P.shape[0], model_times.size, len(self.outputs), len(m.species)
        P = np.ascontiguousarray(P)
        out = np.full((n, T, O), np.nan)
        states = np.full((n, T, N) if self._every_time else (n, 1, N), np.nan)
        code = np.zeros(n, dtype=np.intc)
        fail_t = np.zeros(n)
        steps = np.zeros((n, 2), dtype=np.int64 if ffi.sizeof("long") == 8 else np.int32)

        def ptr(a, ctype="double *"):
            return ffi.cast(ctype, ffi.from_buffer(a))

        atol = np.ascontiguousarray(self.options.atol * factor * self._scales)
        rc = lib.nb_solve(n, ptr(P), T, ptr(model_times), self.options.rtol * factor, ptr(atol),
                          self.options.max_steps, O, ptr(self._kind, "int *"), ptr(self._idx, "int *"),
                          int(self._every_time), ptr(out), ptr(states), ptr(code, "int *"), ptr(fail_t),
                          ptr(steps, "long *"))
        if rc != 0:
            raise MemoryError("the batch solver could not allocate its work space")
        self.last_steps = steps  # (accepted, rejected) steps per patient of the last call
        return out, states, code, fail_t

    def _check(self, out: np.ndarray, states: np.ndarray, status: TrajectoryStatus | None) -> TrajectoryStatus:
        """The reference simulator's checks: finite readouts, no state below its round-off floor."""
        if status is not None and not status.ok:
            return status
        status = status or TrajectoryStatus(OK)
        if not np.all(np.isfinite(out)):
            return TrajectoryStatus(NON_FINITE, "a readout became NaN or infinite — check for division by zero "
                                                "in the parameters of this trajectory")
        floor = -(self.options.negative_tolerance * self._scales + 1e-6 * np.abs(states).max(axis=0, initial=0.0))
        below = states < floor
        if below.any():
            j = int(np.nonzero(below.any(axis=0))[0][0])
            return TrajectoryStatus(
                NEGATIVE_STATE, f"state {self.state_ids[j]!r} went negative ({states[:, j].min():.3g}); tighten "
                "solver.atol or check the parameters of this trajectory")
        return status
