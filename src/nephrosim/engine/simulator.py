"""Run SBML with libRoadRunner, one trajectory or a batch, with per-trajectory status.

The engine knows nothing of kidneys: it takes SBML text, output names and times,
and returns arrays plus one status per trajectory. A solver failure never raises
out of a batch and never prints to stderr; it comes back as a
:class:`TrajectoryStatus` whose message says what to try.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

OK = "ok"
SOLVER_FAILURE = "solver_failure"
NEGATIVE_STATE = "negative_state"
NON_FINITE = "non_finite"


@dataclass(frozen=True)
class SolverOptions:
    """Integrator settings (CVODE, BDF for stiff systems).

    Arguments
    ---------
    rtol, atol : relative / absolute tolerances.
    max_steps : CVODE's ``mxstep`` between two output times.
    negative_tolerance : a state below ``-negative_tolerance`` marks the trajectory
        ``negative_state`` (round-off slightly below zero is tolerated).
    check_states : ``"outputs"`` checks every state at every output time (costs
        ~10–15 % per simulation); ``"final"`` checks every state at the last time only.
    """

    rtol: float = 1e-6
    atol: float = 1e-9
    max_steps: int = 20000
    negative_tolerance: float = 1e-6
    check_states: str = "outputs"


@dataclass(frozen=True)
class TrajectoryStatus:
    code: str
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.code == OK


_ADVICE = {
    "CV_TOO_MUCH_WORK": "the solver hit max_steps; raise solver.max_steps or check for "
    "parameters that make the model extremely stiff",
    "CV_CONV_FAILURE": "Newton iterations failed to converge; tighten solver.rtol/atol or check "
    "for a parameter far outside its range",
    "CV_ERR_FAILURE": "error test failed repeatedly; tighten solver.rtol/atol or check for "
    "discontinuous inputs",
    "CV_TOO_CLOSE": "output times are too close together; space times_h further apart",
}


def _explain(exc: Exception) -> str:
    text = str(exc).split(";")[0].strip()
    for key, advice in _ADVICE.items():
        if key in text:
            return f"{text} — {advice}"
    return f"{text} — check the parameter values of this trajectory"


@contextlib.contextmanager
def quiet_solver() -> Iterator[None]:
    """Silence C-level stderr and stdout for the block.

    SUNDIALS prints its errors to stderr and its warnings ("t + h = t on the next step")
    to stdout; both belong in the trajectory status, not on the user's terminal. C stdio
    buffers are flushed before the descriptors are restored, so nothing leaks out later.
    """
    import ctypes

    try:
        libc = ctypes.CDLL(None)
    except OSError:  # pragma: no cover - no C library to flush
        libc = None
    saved = []
    for fd in (1, 2):
        try:
            saved.append((fd, os.dup(fd)))
        except OSError:  # no such stream to silence
            pass
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        with open(os.devnull, "w") as devnull:
            for fd, _ in saved:
                os.dup2(devnull.fileno(), fd)
            yield
    finally:
        if libc is not None:
            libc.fflush(None)
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)


def _roadrunner():
    import roadrunner

    roadrunner.Logger.setLevel(roadrunner.Logger.LOG_FATAL)
    return roadrunner


class Simulator:
    """One compiled SBML model, reusable for many parameter sets.

    Arguments
    ---------
    sbml : SBML text.
    outputs : ids of the quantities to return (species, parameters or rules).
    options : :class:`SolverOptions`.
    start_time : the time (hours after the insult) that the SBML's model time 0 stands
        for: negative when something, e.g. a pre-treatment dose, happens before the
        insult (see :func:`nephrosim.engine.sbml.to_sbml`). ``run`` takes and returns
        times after the insult.
    """

    def __init__(self, sbml: str, outputs: Sequence[str], options: SolverOptions = SolverOptions(),
                 start_time: float = 0.0):
        rr_mod = _roadrunner()
        self.options = options
        self.outputs = tuple(outputs)
        self._rr = rr_mod.RoadRunner(sbml)
        self.state_ids = tuple(self._rr.model.getFloatingSpeciesIds())
        self._every_time = options.check_states == "outputs"
        tracked = self.state_ids if self._every_time else ()
        self._rr.timeCourseSelections = ["time", *self.outputs, *tracked]
        integ = self._rr.getIntegrator()
        integ.setValue("relative_tolerance", options.rtol)
        integ.setValue("absolute_tolerance", options.atol)
        integ.setValue("maximum_num_steps", options.max_steps)
        integ.setValue("stiff", True)
        self._n_out = len(self.outputs)
        self.start_time = float(start_time)

    def parameter_ids(self) -> tuple[str, ...]:
        return tuple(self._rr.model.getGlobalParameterIds())

    def run(
        self,
        times: Sequence[float],
        parameters: dict[str, float] | None = None,
    ) -> tuple[np.ndarray, TrajectoryStatus]:
        """Simulate once. Returns (values[time, output], status); NaN rows on failure."""
        names = tuple(parameters) if parameters else ()
        values = np.array([parameters[n] for n in names], dtype=float) if names else None
        out, status = self._run(np.asarray(times, dtype=float), names, values)
        return out, status

    def run_batch(
        self,
        times: Sequence[float],
        names: Sequence[str],
        values: np.ndarray,
    ) -> tuple[np.ndarray, list[TrajectoryStatus]]:
        """Simulate each row of ``values`` (parameters ``names``).

        Returns (array[sample, time, output], statuses).
        """
        times = np.asarray(times, dtype=float)
        values = np.atleast_2d(np.asarray(values, dtype=float))
        result = np.full((values.shape[0], times.size, self._n_out), np.nan)
        statuses: list[TrajectoryStatus] = []
        names = tuple(names)
        with quiet_solver():
            for i, row in enumerate(values):
                result[i], st = self._run(times, names, row, quiet=False)
                statuses.append(st)
        return result, statuses

    def _run(self, times, names, row, quiet=True):
        rr = self._rr
        nan = np.full((times.size, self._n_out), np.nan)
        if times.size == 0:
            return nan, TrajectoryStatus(OK)
        if times[0] < self.start_time:
            return nan, TrajectoryStatus(
                SOLVER_FAILURE, f"output time {times[0]} is before the start of the simulation "
                f"({self.start_time}); ask only for times after it")
        grid = times if times[0] == self.start_time else np.concatenate(([self.start_time], times))
        def ctx():
            return quiet_solver() if quiet else contextlib.nullcontext()

        note = ""
        try:
            with ctx():
                if names:
                    rr.setValues(names, row)
                data = self._integrate(grid)
        except Exception as exc:  # roadrunner raises RuntimeError for CVODE failures
            # BDF's Newton iteration can stall on a model that sits exactly at rest when a
            # dose nudges it (CV_TOO_MUCH_WORK with t + h = t); the non-stiff Adams method
            # has no Newton step and usually passes. Retry once and say so in the status.
            first = _explain(exc)
            integ = rr.getIntegrator()
            try:
                integ.setValue("stiff", False)
                with ctx():
                    data = self._integrate(grid)
            except Exception as exc2:
                return nan, TrajectoryStatus(SOLVER_FAILURE, f"{first}; the non-stiff retry failed too: "
                                                             f"{_explain(exc2)}")
            finally:
                integ.setValue("stiff", True)
            note = f"recovered with the non-stiff (Adams) integrator after: {first}"
        if grid is not times:
            data = data[1:]
        out = data[:, 1 : 1 + self._n_out]
        if self._every_time:
            states = data[:, 1 + self._n_out :]
        else:
            states = np.asarray(rr.model.getFloatingSpeciesAmounts())[None, :]
        if not np.all(np.isfinite(out)):
            return out, TrajectoryStatus(
                NON_FINITE, "a readout became NaN or infinite — check for division by zero "
                "in the parameters of this trajectory")
        # a state is negative when it falls below round-off relative to its own scale
        floor = -(self.options.negative_tolerance + 1e-6 * np.abs(states).max(axis=0, initial=0.0))
        below = states < floor
        if below.any():
            j = int(np.nonzero(below.any(axis=0))[0][0])
            return out, TrajectoryStatus(
                NEGATIVE_STATE,
                f"state {self.state_ids[j]!r} went negative ({states[:, j].min():.3g}); tighten "
                "solver.atol or check the parameters of this trajectory")
        return out, TrajectoryStatus(OK, note)

    def _integrate(self, grid: np.ndarray) -> np.ndarray:
        rr = self._rr
        rr.reset()
        if grid.size == 1:
            return np.asarray(rr.getSelectedValues())[None, :]
        return np.asarray(rr.simulate(times=grid - self.start_time))

    def state_trajectories(self, times: Sequence[float]) -> dict[str, np.ndarray]:
        """All state amounts at ``times`` (nominal parameters) — for checks and tests."""
        rr = self._rr
        rr.reset()
        grid = np.asarray(times, dtype=float)
        with quiet_solver():
            data = np.asarray(rr.simulate(times=grid))
        off = 1 + self._n_out
        return {s: data[:, off + i] for i, s in enumerate(self.state_ids)}
