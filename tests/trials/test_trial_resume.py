"""``run_trial(..., out=DIR)`` / ``nephrosim trial --out DIR``: an interrupted trial resumes bit for bit.

The interruption goes through the public progress hook: a callback that raises after the
second of four population chunks is stored, exactly as a Ctrl-C at that moment would
(a chunk file is written before progress is reported). The reference is the same trial run
without interruption into another folder.
"""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from nephrosim.errors import UserInputError
from nephrosim.trials import build_population, run_trial, trial_from_dict
from nephrosim.trials.checkpoint import open_trial_folder
from nephrosim.trials.run import STAGES, eligible_pool, treated_groups

#: 200 plausible patients in chunks of 50 = 4 population chunks (all kept); one compiled MSC arm.
SPEC = {
    "name": "resume",
    "virtual_patients": 200,
    # every plausible patient is kept: with 200 patients the acceptance step's category shares are too
    # noisy to leave enough eligible ones, and resumption does not depend on it
    "population": {"acceptance_rejection": False},
    "inclusion": {"kind": "scr_rise", "rise_mg_dl": 0.3, "within_h": 48},
    "arms": [{"name": "placebo", "n": 10},
             {"name": "msc", "n": 10, "treatment": {"product": "msc", "dose": 2.0e6, "dose_unit": "cells/kg",
                                                    "route": "intra_arterial_aorta"},
              "timing": {"relative_to": "surgery", "delay_h": 48}}],
}
RUN = {"replicates": 6, "seed": 5, "chunk_patients": 50}


class Interrupt(Exception):
    """Stands for a Ctrl-C or a kill between two chunks."""


def _design(**changes):
    return trial_from_dict({**SPEC, **changes})


def _stop_at(stage, done):
    def progress(d, total, s):
        if s == stage and d == done:
            raise Interrupt
    return progress


def _bits(result) -> dict:
    """Every array of a result as raw bytes (NaN-safe, bit-exact comparison)."""
    out = {"scr": result.population.scr.tobytes(), "pool": result.pool.tobytes()}
    for arm, o in result.arm_outcomes.items():
        for name in ("recovery_days", "recovered", "death_probability", "scr_auc", "death_by_stage"):
            out[f"{arm}.{name}"] = np.asarray(getattr(o, name)).tobytes()
    return out


def test_interrupted_trial_resumes_bit_identical_to_an_uninterrupted_run(tmp_path):
    design = _design()
    calls = []
    full = run_trial(design, **RUN, out=tmp_path / "full", progress=lambda *c: calls.append(c))
    assert full.population.solver == design.solver  # the spec's engine reaches the simulations

    # the progress protocol: every stage in order, from 0 up by one per chunk to its total
    assert [c[2] for c in calls if c[0] == 0] == list(STAGES)
    for stage in STAGES:
        done = [d for d, _, s in calls if s == stage]
        totals = {t for _, t, s in calls if s == stage}
        assert done == list(range(len(done))) and totals == {done[-1]}
    assert done[-1] == 1 and [t for _, t, s in calls if s == "population"][0] == 4

    folder = tmp_path / "resumed"
    with pytest.raises(Interrupt):
        run_trial(design, **RUN, out=folder, progress=_stop_at("population", 2))
    assert sorted(p.name for p in (folder / "chunks").iterdir()) == ["population-000000.npz", "population-000001.npz"]
    assert not (folder / "summary.json").exists()

    resumed_calls = []
    resumed = run_trial(design, **RUN, out=folder, progress=lambda *c: resumed_calls.append(c))
    population = [d for d, _, s in resumed_calls if s == "population"]
    assert population == [2, 3, 4]  # continued from the last complete chunk: two simulated, two read back

    assert (folder / "summary.json").read_bytes() == (tmp_path / "full" / "summary.json").read_bytes()
    assert (folder / "replicates.csv").read_bytes() == (tmp_path / "full" / "replicates.csv").read_bytes()
    assert _bits(resumed) == _bits(full)
    assert resumed.replicates == full.replicates
    assert json.loads((folder / "summary.json").read_text()) == json.loads(json.dumps(full.to_dict(), default=str))

    # a rerun of the finished folder reads every chunk back, the replicate trials from their Parquet
    # partitions: the same records, value for value and type for type, and DuckDB reads the partitions
    import duckdb

    again = run_trial(design, **RUN, out=folder)
    assert again.replicates == full.replicates
    assert [{k: type(v) for k, v in r.items()} for r in again.replicates] == \
        [{k: type(v) for k, v in r.items()} for r in full.replicates]
    parts = sorted((folder / "chunks").glob("replicates-*.parquet"))
    assert parts and not list((folder / "chunks").glob("replicates-*.json"))
    rows = duckdb.sql(f"select hr from read_parquet('{folder / 'chunks'}/replicates-*.parquet')").fetchall()
    assert sorted(r[0] for r in rows) == sorted(r["hr"] for r in full.replicates)


def test_a_changed_spec_seed_or_chunk_size_is_refused_naming_the_field(tmp_path, app):
    folder = tmp_path / "run"
    with pytest.raises(Interrupt):  # the manifest is written; the run stops before simulating anything
        run_trial(_design(), **RUN, out=folder, progress=_stop_at("population", 0))
    manifest = (folder / "manifest.json").read_bytes()

    called = []
    cases = [
        (_design(virtual_patients=240), RUN, r"virtual_patients: 200 → 240"),
        (_design(arms=[SPEC["arms"][0], {**SPEC["arms"][1], "n": 12}]), RUN, r"arms\[1\]\.n: 10 → 12"),
        (_design(), {**RUN, "seed": 6}, r"seed 5, not 6; rerun with --seed 5"),
        (_design(), {**RUN, "chunk_patients": 40}, r"chunk_patients 50, not 40"),
    ]
    for design, run, field in cases:
        with pytest.raises(UserInputError, match=field) as err:
            run_trial(design, **run, out=folder, progress=lambda *c: called.append(c))
        assert "--overwrite" in str(err.value) and "new --out" in str(err.value)
    assert called == []  # refused before any work
    assert (folder / "manifest.json").read_bytes() == manifest

    spec = tmp_path / "resume.yaml"  # the command line says the same, on one line, exit status 2
    spec.write_text(json.dumps(SPEC))
    res = CliRunner().invoke(app, ["trial", str(spec), "--seed", "7", "--out", str(folder), "--no-progress"])
    assert res.exit_code == 2 and "seed 5, not 7; rerun with --seed 5" in res.output, res.output

    with pytest.raises(Interrupt):  # --overwrite: the old run's files go, the new manifest is written
        run_trial(_design(), **{**RUN, "seed": 6}, out=folder, overwrite=True, progress=_stop_at("population", 0))
    assert json.loads((folder / "manifest.json").read_text())["seed"] == 6


def test_a_folder_in_use_or_of_something_else_is_refused(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(UserInputError, match="not empty and has no manifest.json"):
        run_trial(_design(), **RUN, out=other)
    assert (other / "notes.txt").read_text() == "mine"

    with pytest.raises(UserInputError, match="give the folder with out"):
        run_trial(_design(), **RUN, overwrite=True)

    folder = tmp_path / "busy"
    with open_trial_folder(folder, _design().model_dump(mode="json"), 5, 50):
        with pytest.raises(UserInputError, match="another nephrosim trial is writing"):
            run_trial(_design(), **RUN, out=folder)


def test_the_batch_engine_reaches_every_simulation_and_agrees_with_libroadrunner():
    """``solver: {engine: batch}`` (benchmarks/trial_throughput.py) simulates the population with the
    batch engine, and the treated arms are built with it too; libRoadRunner (CVODE) is the
    independent reference."""
    design = _design(solver={"engine": "batch"})
    reference = build_population(design.population, 200, 5)
    batch = build_population(design.population, 200, 5, solver=design.solver)
    assert np.array_equal(batch.stage, reference.stage) and batch.size == reference.size
    np.testing.assert_allclose(batch.scr, reference.scr, rtol=1e-4)
    pool, entry = eligible_pool(design, batch, 5)
    groups, _ = treated_groups(design.arms[1].treatment, design.arms[1].timing, batch, pool, entry)
    assert groups and all(scenario.solver.engine == "batch" for scenario, *_ in groups)
