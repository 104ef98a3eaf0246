"""The batch engine on several threads: the same answers as on one, and safe to fork.

* Patients are independent, so values, statuses and step counts must be bit-identical for
  any neighbours in the SIMD lanes (a patient alone, or in reversed order) and for 1, 2 and 3 threads (more threads than cores included), also when some patients fail and
  are retried; and the OpenMP team really had that many threads.
* A batch that mixes patients that stay positive with patients driven negative gets, per
  patient, the reference simulator's status (the checks run on the whole batch at once).
* libgomp hangs in a ``fork()``ed child whose parent used OpenMP threads (checked by hand
  with a 10-line C program: the child never returns), so forked ensemble workers run with
  one thread: a process-pool ensemble after OpenMP use in the parent finishes, with the
  same Parquet as the serial, multi-threaded run; a run interrupted with one thread count
  resumes with another (threads are not part of the ensemble's request).
* A compiler without OpenMP is a clear error; single-threaded libraries are built only on
  request (``NEPHROSIM_BATCH_OPENMP=0``), and then ``threads > 1`` is refused.
"""

from __future__ import annotations

import logging
import signal
import stat

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from nephrosim import ensemble
from nephrosim.engine.batch import BatchSimulator, compiled
from nephrosim.engine.sbml import to_sbml
from nephrosim.engine.simulator import NEGATIVE_STATE, OK, Simulator, SolverOptions
from nephrosim.errors import UserInputError
from nephrosim.modelspec import Flux, ModelSpec, ParameterUse, Process, State
from nephrosim.run.ensemble import executors
from nephrosim.run.ensemble.priors import draw, priors_from_table, varied_parameters
from nephrosim.run.simulation import as_scenario, compile_arm, solver_options


def _drained() -> str:
    """pool' = −rate, pool(0) = 1: negative after t = 1/rate."""
    process = Process(
        name="drained", description="zero-order loss from a finite pool (test model)",
        states=(State("pool", "mg", 1.0, "amount"),),
        parameters=(ParameterUse("rate", "mg/h", "loss"),),
        fluxes=(Flux("loss", "rate", "mg/h", "zero-order loss", consumes={"pool": 1}),))
    return to_sbml(ModelSpec("drained", (process,), {"rate": 1.0}, {}))


def _varied_mouse_iri(patients: int):
    """Mouse IRI vehicle with ``patients`` draws of its varied parameters, on the batch engine with
    few steps allowed per output interval, so that some patients fail, are retried and fail again:
    ``(program, names, values, times, options)``."""
    scenario = as_scenario("examples/mouse_iri.yaml")
    program = compile_arm(scenario, "vehicle")
    priors = [p for p in priors_from_table(varied_parameters(scenario), 0.6, "lognormal")
              if p.name in program.parameter_values]
    options = solver_options(scenario).model_copy(update={"engine": "batch", "max_steps": 50})
    return (program, [p.name for p in priors], draw(priors, 0, patients, seed=4),
            np.asarray(scenario.times_h, dtype=float), options)


def test_any_thread_count_gives_bit_identical_results():
    program, names, values, times, options = _varied_mouse_iri(24)
    runs = []
    for threads in (1, 2, 3):
        sim = program.simulator(options.model_copy(update={"threads": threads}))
        assert sim.threads == threads
        out, status = sim.run_batch(times, names, values)
        runs.append((out, [(s.code, s.message) for s in status], sim.last_steps.copy(), sim.last_team))
    (out1, st1, steps1, team1), *others = runs
    assert {code for code, _ in st1} >= {OK, "solver_failure"}, "the batch should mix successes and failures"
    assert np.isfinite(out1[[c == OK for c, _ in st1]]).all()
    for threads, (out, st, steps, team) in zip((2, 3), others):
        assert out.tobytes() == out1.tobytes()  # bit-identical, NaN rows of failures included
        assert st == st1
        np.testing.assert_array_equal(steps, steps1)
        assert team == threads  # the OpenMP team really had that many threads
    assert team1 == 1


def test_a_patients_numbers_do_not_depend_on_the_patients_beside_it():
    """Four patients share a thread, side by side in the lanes of SIMD vectors (solver_c), each
    lane with its own step size and events: a patient alone, or in another order among others
    (its lane and neighbours change), gives the same bits, failures and retries included."""
    program, names, values, times, options = _varied_mouse_iri(11)
    sim = program.simulator(options.model_copy(update={"threads": 1}))
    out, status = sim.run_batch(times, names, values)
    assert {s.code for s in status} >= {OK, "solver_failure"}, "the batch should mix successes and failures"
    reversed_out, reversed_status = sim.run_batch(times, names, values[::-1])
    assert reversed_out[::-1].tobytes() == out.tobytes()  # NaN rows of failures included
    assert [s.message for s in reversed_status[::-1]] == [s.message for s in status]  # failure times too
    for i in range(len(values)):
        alone, (alone_status,) = sim.run_batch(times, names, values[i:i + 1])
        assert alone.tobytes() == out[i:i + 1].tobytes()
        assert (alone_status.code, alone_status.message) == (status[i].code, status[i].message)


def test_threads_default_to_the_usable_cores_and_are_validated():
    import os

    sim = BatchSimulator(_drained(), ["pool"])
    assert sim.threads == len(os.sched_getaffinity(0))
    with pytest.raises(ValidationError, match="threads"):
        SolverOptions(threads=0)


def test_mixed_batch_gets_each_patients_reference_status():
    sbml, times = _drained(), [0.0, 0.5, 2.0]
    rates = np.array([[0.1], [1.0], [0.3], [2.0], [0.4]])  # negative before t = 2 when rate > 0.5
    _, status = BatchSimulator(sbml, ["pool"], SolverOptions(threads=2)).run_batch(times, ["rate"], rates)
    _, ref = Simulator(sbml, ["pool"], SolverOptions()).run_batch(times, ["rate"], rates)
    assert [s.code for s in status] == [s.code for s in ref] == [OK, NEGATIVE_STATE, OK, NEGATIVE_STATE, OK]
    assert "'pool' went negative" in status[1].message


class _Hung(Exception):
    pass


def _batch(scenario, threads):
    return scenario.model_copy(update={"solver": scenario.solver.model_copy(
        update={"engine": "batch", "threads": threads})})


def test_forked_workers_after_openmp_in_the_parent_finish_with_identical_results(tmp_path):
    scenario = _batch(as_scenario("examples/mouse_iri.yaml"), 2)  # compiled already by the test above
    # this process uses OpenMP threads first (the serial executor honours solver.threads) ...
    serial = ensemble(scenario, 12, tmp_path / "serial.parquet", seed=2, chunk_size=3, workers=1)
    sim = executors._WORKER["sims"][0]
    assert (sim.threads, sim.last_team) == (2, 2)
    # (threads change no result, so a run interrupted with 1 thread resumes with 2)
    first = ensemble(_batch(scenario, 1), 12, tmp_path / "forked.parquet", seed=2, chunk_size=3, max_chunks=2)
    assert first.chunks_computed == 2

    def hung(signum, frame):
        raise _Hung

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(90)
    try:  # ... then forks workers; with OpenMP in the children this never returned
        forked = ensemble(scenario, 12, tmp_path / "forked.parquet", seed=2, chunk_size=3, workers=2)
    except _Hung:
        pytest.fail("a process-pool ensemble hung after the parent had used OpenMP threads")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert forked.chunks_computed == 2  # resumed: only the missing chunks, in forked workers
    assert serial.status_counts == forked.status_counts and sum(serial.status_counts.values()) == 12
    pd.testing.assert_frame_equal(pd.read_parquet(serial.path), pd.read_parquet(forked.path))


@pytest.fixture
def compiler_without_openmp(tmp_path, monkeypatch):
    """A C compiler that builds everything but OpenMP code (as clang without libomp does)."""
    fake = tmp_path / "cc-without-openmp"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do\n  if [ "$a" = -fopenmp ]; then\n'
                    '    echo "error: unsupported option \'-fopenmp\'" >&2; exit 1\n  fi\ndone\n'
                    f'exec {compiled.CC} "$@"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(compiled, "CC", str(fake))
    monkeypatch.setenv("NEPHROSIM_BATCH_CACHE", str(tmp_path / "cache"))
    return fake


def test_a_compiler_without_openmp_is_a_clear_error(compiler_without_openmp):
    with pytest.raises(UserInputError, match="cannot build OpenMP.*NEPHROSIM_BATCH_OPENMP=0"):
        BatchSimulator(_drained(), ["pool"])


def test_single_threaded_libraries_only_on_request(compiler_without_openmp, monkeypatch, caplog):
    monkeypatch.setenv("NEPHROSIM_BATCH_OPENMP", "0")
    rates = np.array([[0.1], [0.2], [0.4]])
    with caplog.at_level(logging.INFO, logger="nephrosim.engine.batch.simulator"):
        sim = BatchSimulator(_drained(), ["pool"])
    assert sim.threads == 1 and "without OpenMP" in caplog.text
    out, status = sim.run_batch([0.0, 1.0, 2.0], ["rate"], rates)
    assert [s.code for s in status] == [OK] * 3
    np.testing.assert_allclose(out[:, :, 0], 1.0 - rates * np.array([0.0, 1.0, 2.0]), rtol=1e-12)
    with pytest.raises(UserInputError, match="threads=2.*without OpenMP"):
        BatchSimulator(_drained(), ["pool"], SolverOptions(threads=2))
    monkeypatch.setenv("NEPHROSIM_BATCH_OPENMP", "yes")
    with pytest.raises(UserInputError, match="NEPHROSIM_BATCH_OPENMP='yes'"):
        BatchSimulator(_drained(), ["pool"])
