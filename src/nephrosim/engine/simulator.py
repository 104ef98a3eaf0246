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
from typing import Iterator, Literal, Mapping, Sequence

import numpy as np
from pydantic import Field

from nephrosim.errors import UserInputError
from nephrosim.inputs import StrictModel

OK = "ok"
#: the trajectory completed after the first integrator failed (see :data:`RETRY_POLICY`)
OK_RECOVERED = "ok_recovered"
SOLVER_FAILURE = "solver_failure"
NEGATIVE_STATE = "negative_state"
NON_FINITE = "non_finite"


class SolverOptions(StrictModel):
    """Integrator settings (CVODE, BDF for stiff systems) — the one solver-settings type.

    Scenarios (``solver:``), calibration configs and the engine all use it; it is validated
    once, at construction.

    Arguments
    ---------
    rtol, atol : relative / absolute tolerances.
    max_steps : CVODE's ``mxstep`` between two output times.
    negative_tolerance : a state below ``-negative_tolerance`` marks the trajectory
        ``negative_state`` (round-off slightly below zero is tolerated).
    check_states : ``"outputs"`` checks every state at every output time (costs
        ~10–15 % per simulation); ``"final"`` checks every state at the last time only;
        ``None``: the caller's default (outputs for ``simulate``, final for ensembles).
    """

    rtol: float = Field(1e-6, gt=0.0, lt=1.0)
    atol: float = Field(1e-9, gt=0.0, lt=1.0)
    max_steps: int = Field(20000, gt=0, le=10_000_000, description="at most 10^7 internal steps per output interval")
    negative_tolerance: float = Field(1e-6, ge=0.0)
    check_states: Literal["outputs", "final"] | None = None
    # --- engine backend (issue 15; engine/batch) ---
    #: ``roadrunner`` (libRoadRunner, CVODE: the reference) or ``batch`` (generated C, Rodas4,
    #: many patients per call: :mod:`nephrosim.engine.batch`)
    engine: Literal["roadrunner", "batch"] = "roadrunner"
    # --- end engine backend ---
    # --- batch engine threads (issue 15; engine/batch) ---
    #: threads one batch-engine call solves patients on (OpenMP, one patient per thread at a
    #: time; results are bit-identical for any number); None: every core this process may use
    #: (``os.sched_getaffinity``); 1: serial. libRoadRunner ignores it. Forked ensemble workers
    #: always use 1 (libgomp is not fork-safe).
    threads: int | None = Field(None, ge=1, le=1024, description="batch engine: threads per call (None: all usable cores)")
    # --- end batch engine threads ---


@dataclass(frozen=True)
class TrajectoryStatus:
    """The outcome of one trajectory: ``code`` (``ok``, ``ok_recovered``, ``solver_failure``,
    ``negative_state``, ``non_finite``) and a message that says what happened and what to try."""

    code: str
    message: str = ""

    @property
    def ok(self) -> bool:
        """True when the values can be used (``ok`` or ``ok_recovered``)."""
        return self.code in (OK, OK_RECOVERED)


class UnknownParameterError(UserInputError, KeyError):
    """A parameter id the compiled model does not have (a user error, never a solver failure)."""

    def __str__(self) -> str:
        return str(self.args[0])


#: One retry policy for every integration in nephrosim: ``(stiff, tolerance factor)``
#: tried in order until one succeeds. BDF first; then the non-stiff Adams method, which has
#: no Newton iteration to stall (BDF's Newton iteration fails in the first step after a dose
#: given to a model at rest — a treated sham arm — for a cause not yet found); then BDF 100×
#: tighter (a state grazing zero under loose tolerances can derail the sensitivities). A
#: later attempt that succeeds gives the status ``ok_recovered`` with the first failure in
#: its message.
RETRY_POLICY: tuple[tuple[bool, float], ...] = ((True, 1.0), (False, 1.0), (True, 0.01))


def absolute_tolerance(atol: float, scales: np.ndarray | None):
    """CVODE's absolute tolerance: ``atol`` for every state, or ``atol × scale`` per state
    (:attr:`nephrosim.modelspec.State.scale`) when the model declares scales."""
    if scales is None:
        return atol
    return [atol * float(x) for x in scales]


def integrate_with_retry(rr, options: "SolverOptions", integrate,
                         atol_scales: np.ndarray | None = None) -> tuple[np.ndarray | None, str, str]:
    """Run ``integrate()`` on roadrunner ``rr`` under :data:`RETRY_POLICY`.

    ``atol_scales``: per-state tolerance scales in the order of the model's floating
    species (None: one absolute tolerance for all). Returns ``(data, note, error)``:
    ``data`` is None when every attempt failed (``error`` says why); ``note`` is empty on a
    first-attempt success. Only CVODE's ``RuntimeError`` counts as a failure: anything else
    is a bug and propagates.
    """
    integ = rr.getIntegrator()
    first = ""
    try:
        for k, (stiff, factor) in enumerate(RETRY_POLICY):
            integ.setValue("stiff", stiff)
            integ.setValue("relative_tolerance", options.rtol * factor)
            integ.setValue("absolute_tolerance", absolute_tolerance(options.atol * factor, atol_scales))
            try:
                data = integrate()
            except RuntimeError as exc:
                first = first or _explain(exc)
                last = _explain(exc)
                continue
            if k == 0:
                return data, "", ""
            how = "the non-stiff (Adams) integrator" if not stiff else f"BDF at {factor:g}× the tolerances"
            return data, f"recovered with {how} after: {first}", ""
        return None, "", f"{first}; retries ({len(RETRY_POLICY) - 1}) failed too, the last with: {last}"
    finally:
        integ.setValue("stiff", True)
        integ.setValue("relative_tolerance", options.rtol)
        integ.setValue("absolute_tolerance", absolute_tolerance(options.atol, atol_scales))


def set_parameters(rr, names: Sequence[str], values) -> None:
    """Set global parameters by id, refusing unknown ids with the closest known ones."""
    if not names:
        return
    known = set(rr.model.getGlobalParameterIds())
    unknown = [n for n in names if n not in known]
    if unknown:
        import difflib

        hints = [f"{n!r}" + (f" (did you mean {', '.join(map(repr, c))}?)" if (
            c := difflib.get_close_matches(n, sorted(known), n=3, cutoff=0.6)) else "") for n in unknown]
        raise UnknownParameterError(f"parameter(s) {', '.join(hints)} not in the model")
    bad = [n for n, v in zip(names, values) if not np.isfinite(v)]
    if bad:
        raise UserInputError(f"parameter(s) {bad} have non-finite values; give finite numbers")
    rr.setValues(list(names), [float(v) for v in values])


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


def _scale_vector(state_ids: Sequence[str], scales: Mapping[str, float] | None) -> np.ndarray | None:
    if not scales:
        return None
    unknown = sorted(set(scales) - set(state_ids))
    if unknown:
        raise ValueError(f"state_scales names states the model does not have: {unknown}")
    return np.array([float(scales.get(s, 1.0)) for s in state_ids])


def _roadrunner():
    import roadrunner

    roadrunner.Logger.setLevel(roadrunner.Logger.LOG_FATAL)
    return roadrunner


def own_compilation(rr_mod):
    """Load options that compile this instance afresh instead of reusing libRoadRunner's cache.

    Two RoadRunner instances of the same SBML that share the cached compilation are not
    independent (libRoadRunner 2.10): a model loaded after another instance of it ran with
    other parameter values gave results 2e-4 off a fresh process — seen as an ensemble whose
    two-worker result depended on a one-worker run made earlier in the same process, and as
    trial and protocol searches whose candidates saw earlier candidates' values.
    """
    options = rr_mod.LoadSBMLOptions()
    options.recompile = True
    return options


@contextlib.contextmanager
def fast_compile(rr_mod) -> Iterator[None]:
    """Compile models with libRoadRunner's LLJIT backend at optimisation level 0.

    Measured on the mouse IRI + MSC arm (71 states): model load 0.54 s instead of 3.0 s with
    the default MCJIT backend, and the same simulation time (48 ms per run either way; higher
    LLJIT levels were slower to simulate, not faster) — the RHS cost is dominated by ``pow``
    calls, not by what LLVM's passes optimise. The settings are global in libRoadRunner, so
    they are restored afterwards.
    """
    C = rr_mod.Config
    old = C.getValue(C.LLVM_BACKEND), C.getValue(C.LLJIT_OPTIMIZATION_LEVEL)
    C.setValue(C.LLVM_BACKEND, C.LLJIT)
    C.setValue(C.LLJIT_OPTIMIZATION_LEVEL, 0)
    try:
        yield
    finally:
        C.setValue(C.LLVM_BACKEND, old[0])
        C.setValue(C.LLJIT_OPTIMIZATION_LEVEL, old[1])


def load_model(rr_mod, sbml: str):
    """A RoadRunner instance of ``sbml``: compiled afresh (:func:`own_compilation`), by LLJIT at
    optimisation level 0 (:func:`fast_compile`), inside :func:`nephrosim.engine.jit_placement.compiling`
    (one compilation at a time, LLVM set to emit no jump tables: with them a long-lived process could die
    in this call with a segmentation fault)."""
    from nephrosim.engine.jit_placement import compiling

    with compiling(), fast_compile(rr_mod):
        # the load options copy libRoadRunner's backend settings when they are made: made before
        # fast_compile, they compiled with the default backend (the sensitivity model of a rat IRI + EV
        # arm: 55 s instead of 8.5 s)
        return rr_mod.RoadRunner(sbml, own_compilation(rr_mod))


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
    state_scales : state id → typical magnitude (:attr:`nephrosim.modelspec.State.scale`):
        that state is solved to ``atol × scale`` and is negative only below
        ``−(negative_tolerance × scale)`` (and round-off relative to its own peak).
        Default: the scales the SBML's ``nephrosim:solver`` annotations declare
        (:func:`nephrosim.engine.sbml.tolerance_scales`).
    """

    def __init__(self, sbml: str, outputs: Sequence[str], options: SolverOptions = SolverOptions(),
                 start_time: float = 0.0, state_scales: Mapping[str, float] | None = None):
        rr_mod = _roadrunner()
        self.options = options
        self.outputs = tuple(outputs)
        self._rr = load_model(rr_mod, sbml)
        self.state_ids = tuple(self._rr.model.getFloatingSpeciesIds())
        if state_scales is None:
            from nephrosim.engine.sbml import tolerance_scales

            state_scales = tolerance_scales(sbml)
        self._scales = _scale_vector(self.state_ids, state_scales)
        self._every_time = options.check_states != "final"
        tracked = self.state_ids if self._every_time else ()
        self._rr.timeCourseSelections = ["time", *self.outputs, *tracked]
        integ = self._rr.getIntegrator()
        integ.setValue("relative_tolerance", options.rtol)
        integ.setValue("absolute_tolerance", absolute_tolerance(options.atol, self._scales))
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

        if names:
            set_parameters(rr, names, row)
        with ctx():
            data, note, error = integrate_with_retry(rr, self.options, lambda: self._integrate(grid), self._scales)
        if data is None:
            return nan, TrajectoryStatus(SOLVER_FAILURE, error)
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
        # a state is negative when it falls below round-off relative to its own scale: its
        # declared magnitude and its largest value at the checked times
        scale = 1.0 if self._scales is None else self._scales
        floor = -(self.options.negative_tolerance * scale + 1e-6 * np.abs(states).max(axis=0, initial=0.0))
        below = states < floor
        if below.any():
            j = int(np.nonzero(below.any(axis=0))[0][0])
            return out, TrajectoryStatus(
                NEGATIVE_STATE,
                f"state {self.state_ids[j]!r} went negative ({states[:, j].min():.3g}); tighten "
                "solver.atol or check the parameters of this trajectory")
        return out, TrajectoryStatus(OK_RECOVERED if note else OK, note)

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
