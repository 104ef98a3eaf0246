"""Ensemble chunks written in the background, and chunks of an older layout (issue 15).

The serial executor draws the next chunk and writes the last one while the current chunk is
simulated (``storage.ChunkWriter``, ``executors.prefetched``); chunk files hold dictionary
columns and their status counts. These tests check what that must not change: a write error
still stops the run with a clear error and no partial file, a run interrupted by an older
nephrosim (plain string chunks, no counts) still resumes to the same file, and a run without
``chunk_size`` resumes with the chunk size of the run it continues.
"""

import errno
import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nephrosim import ensemble
from nephrosim.io import OutputError, atomic_path
from nephrosim.run.ensemble import executors, storage

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "examples" / "mouse_clearance_drop.yaml")


def _columns(start: int, n: int):
    """One chunk's columns as ``run_chunk`` returns them: 2 samples × 1 arm × 1 time × 2 readouts."""
    import numpy as np

    rows = 2 * n
    cols = {"arm": np.zeros(rows, np.int32), "sample": np.repeat(np.arange(start, start + n), 2),
            "time_h": np.zeros(rows), "readout": np.tile(np.arange(2, dtype=np.int32), n),
            "value": np.arange(rows, dtype=float), "unit": np.zeros(rows, np.int32),
            "status": np.zeros(rows, np.int32)}
    return cols, {"arm": ["vehicle"], "readout": ["gfr", "bun"], "unit": ["mL/min"], "status": ["ok"]}


def test_a_failed_background_write_stops_the_run_and_leaves_no_partial_chunk(tmp_path):
    """A full disk in the middle of writing chunk 1: OutputError in the caller, chunk 0 intact, nothing else."""
    calls = []

    def save(path, result):
        calls.append(path.name)
        if path.name == "chunk-1.parquet":
            with atomic_path(path) as tmp:
                Path(tmp).write_bytes(b"PAR1 half a chunk")
                raise OSError(errno.ENOSPC, "No space left on device")
        storage.save_chunk(path, result)

    with pytest.raises(OutputError, match="No space left"):
        with storage.ChunkWriter(save) as writer:
            for k in range(4):
                writer.put(tmp_path / f"chunk-{k}.parquet", _columns(10 * k, 3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chunk-0.parquet"]  # no chunk 1, no temporary file
    assert pq.read_table(tmp_path / "chunk-0.parquet").column("value").to_pylist() == [0, 1, 2, 3, 4, 5]
    assert "chunk-3.parquet" not in calls  # chunks queued after the failure are dropped, not written


def test_draws_ahead_come_in_order_and_raise_their_error_in_the_caller():
    def jobs():
        yield 1
        yield 2
        raise ValueError("prior 'gfr' has no median")

    seen = []
    with pytest.raises(ValueError, match="no median"):
        with executors.prefetched(jobs()) as ahead:
            seen.extend(ahead)
    assert seen == [1, 2]


def _as_older_chunk(path: Path) -> None:
    """Rewrite a chunk as nephrosim wrote chunks before issue 15: plain strings, no status counts."""
    table = pq.read_table(path)
    plain = pa.table({name: (column.cast(pa.string()) if pa.types.is_dictionary(column.type) else column)
                      for name, column in zip(table.column_names, table.columns)})
    pq.write_table(plain, path)


def test_a_run_interrupted_by_an_older_version_resumes_to_the_same_file(tmp_path):
    fresh = ensemble(SCENARIO, 12, tmp_path / "fresh.parquet", seed=3, chunk_size=4)
    out = tmp_path / "resumed.parquet"
    ensemble(SCENARIO, 12, out, seed=3, chunk_size=4, max_chunks=2)
    chunks = sorted(storage.parts_folder(out).glob("chunk-*.parquet"))
    assert len(chunks) == 2
    # the final file, appended to as chunks finish, is not left half-built by a stopped run
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    for chunk in chunks:
        _as_older_chunk(chunk)
        assert storage.STATUS_KEY not in (pq.read_schema(chunk).metadata or {})
    resumed = ensemble(SCENARIO, 12, out, seed=3, chunk_size=4)
    assert resumed.chunks_computed == 1
    assert resumed.status_counts == fresh.status_counts == {"ok": 24}
    assert pq.read_table(out).equals(pq.read_table(fresh.path))
    assert pq.read_schema(out).types == [pa.string(), pa.int64(), pa.float64(), pa.string(), pa.float64(),
                                         pa.string(), pa.string()]
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(fresh.path))


def test_without_a_chunk_size_a_run_resumes_with_the_chunk_size_it_was_started_with(tmp_path):
    out = tmp_path / "e.parquet"
    ensemble(SCENARIO, 6, out, seed=5, chunk_size=2, max_chunks=1)
    manifest = json.loads((storage.parts_folder(out) / storage.MANIFEST).read_text())
    assert manifest["request"]["chunk_size"] == 2
    resumed = ensemble(SCENARIO, 6, out, seed=5)
    assert (resumed.chunks, resumed.chunks_computed) == (3, 2)
    fresh = ensemble(SCENARIO, 6, tmp_path / "fresh.parquet", seed=5, chunk_size=6)
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(fresh.path))
    assert not os.path.exists(storage.parts_folder(out))


def test_the_default_chunk_size_follows_the_engine_and_bounds_a_chunks_rows(tmp_path):
    from nephrosim.run.ensemble import BATCH_CHUNK, BATCH_CHUNK_ROWS, DEFAULT_CHUNK, _default_chunk_size, rows_per_sample
    from nephrosim.run.simulation import as_scenario

    scenario = as_scenario(str(ROOT / "examples" / "mouse_iri.yaml"))
    batch = scenario.model_copy(update={"solver": scenario.solver.model_copy(update={"engine": "batch"})})
    out = tmp_path / "e.parquet"
    assert _default_chunk_size(scenario, out) == DEFAULT_CHUNK
    assert _default_chunk_size(batch, out) == BATCH_CHUNK
    many_times = batch.model_copy(update={"times_h": [float(t) for t in range(2000)]})
    size = _default_chunk_size(many_times, out)
    assert size < BATCH_CHUNK and size * rows_per_sample(many_times) <= BATCH_CHUNK_ROWS < \
        (size + 1) * rows_per_sample(many_times)
