"""Where an ensemble keeps its chunks while it runs, and how they become one file.

* ``<out>.parts/`` holds ``manifest.json`` (a hash of the request) and one
  ``chunk-NNNNNN.parquet`` per finished chunk. The folder is created atomically *with*
  its manifest (built beside it under a temporary name, then renamed), so a kill at any
  moment leaves either no folder or a folder that a rerun can resume.
* Every chunk and the final file are written to a temporary file and renamed
  (:func:`nephrosim.io.atomic_path`): a file is complete or absent. A run killed while
  writing leaves a ``.chunk-*.tmp`` file behind; the next run of the same request removes
  it before computing.
* While a run uses the folder it holds an exclusive lock on ``<out>.parts/.lock``
  (POSIX ``flock``; released by the kernel when the process dies, even by ``kill -9``),
  so two runs never write the same output at once.
* When all chunks exist they are concatenated, in order, into ``<out>`` and the folder is
  removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from nephrosim.errors import UserInputError
from nephrosim.io import OutputError, atomic_path, exclusive_lock

MANIFEST = "manifest.json"
LOCK = ".lock"


def parts_folder(out: Path) -> Path:
    """The folder of finished chunks of ``out``."""
    return out.with_name(out.name + ".parts")


def chunk_path(parts: Path, index: int) -> Path:
    return parts / f"chunk-{index:06d}.parquet"


def request_digest(request: dict) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


@contextlib.contextmanager
def open_parts(out: Path, request: dict) -> Iterator[Path]:
    """The parts folder of ``out`` for ``request``, locked for this run.

    A new folder is created with its manifest in one rename. An existing folder must hold
    the same request (else :class:`UserInputError`); its stale temporary files (of a run
    that was killed while writing) are removed.
    """

    digest = request_digest(request)
    parts = parts_folder(out)
    if not parts.exists():
        _create(parts, digest, request)
    _check_manifest(parts, digest)
    with _locked(parts, out):
        _remove_stale_temporaries(parts, out)
        try:
            yield parts
        except BaseException:
            # an interrupt (Ctrl-C, SIGTERM) can land between a temporary file's creation and
            # the cleanup that guards it; the lock is still ours, so sweep before releasing it
            _remove_stale_temporaries(parts, out)
            raise


def _create(parts: Path, digest: str, request: dict) -> None:
    try:
        parts.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{parts.name}.", suffix=".tmp", dir=parts.parent))
    except OSError as exc:
        raise OutputError(f"cannot create {str(parts)!r}: {exc.strerror} — choose another output path, or free "
                          "disk space") from None
    try:
        (tmp / MANIFEST).write_text(json.dumps({"digest": digest, "request": request}, indent=1), encoding="utf-8")
        os.rename(tmp, parts)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if not parts.is_dir():  # not a concurrent run that created the same folder first
            raise OutputError(f"cannot create {str(parts)!r}: {exc.strerror} — choose another output path, or "
                              "free disk space") from None


def _check_manifest(parts: Path, digest: str) -> None:
    manifest = parts / MANIFEST
    if not manifest.is_file():
        raise UserInputError(f"{parts} has no {MANIFEST}, so its chunks cannot be matched to a request; "
                             "delete that folder to start over")
    try:
        old = json.loads(manifest.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UserInputError(f"{manifest} is not a nephrosim manifest; delete {parts} to start over") from None
    if not isinstance(old, dict) or old.get("digest") != digest:
        raise UserInputError(
            f"{parts} holds chunks of a different ensemble request; delete that folder to "
            "start over, or rerun the original command to resume it"
        )


def _locked(parts: Path, out: Path):
    return exclusive_lock(parts / LOCK, f"another nephrosim ensemble is writing {out} now; wait for it to finish, "
                                        "or stop it and rerun this command to resume")


def _remove_stale_temporaries(parts: Path, out: Path) -> None:
    """Temporary files of a killed run: chunks being written, the final file being assembled."""
    for tmp in parts.glob(".chunk-*.tmp"):
        tmp.unlink(missing_ok=True)
    prefix = f".{out.name}."
    for tmp in out.parent.iterdir():
        if tmp.name.startswith(prefix) and tmp.name.endswith(".tmp"):
            if tmp.is_dir():  # a parts folder whose creation was interrupted
                shutil.rmtree(tmp)
            else:
                tmp.unlink(missing_ok=True)


def save_chunk(path: Path, result) -> None:
    """Write one chunk's columns (from :func:`~nephrosim.run.ensemble.executors.run_chunk`) atomically."""
    import pyarrow.parquet as pq

    with atomic_path(path) as tmp:
        pq.write_table(_table(result), tmp)


def assemble(out: Path, files: list[Path]) -> tuple[dict[str, int], list[str]]:
    """Concatenate ``files`` in order into ``out`` (atomically); return status counts and failures."""
    import pyarrow.parquet as pq

    counts: dict[str, int] = {}
    failures: list[str] = []
    writer = None
    try:
        with atomic_path(out) as tmp:
            for path in files:
                table = pq.read_table(path)
                writer = writer or pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
                _count_statuses(table, counts, failures)
            writer.close()
            writer = None
    finally:
        if writer is not None:
            writer.close()
    return counts, failures


def _table(result):
    import pyarrow as pa

    cols, dicts = result

    def text(name):  # decoded to plain strings so every chunk has the same schema
        return pa.DictionaryArray.from_arrays(pa.array(cols[name]), pa.array(dicts[name], pa.string())).cast(pa.string())

    return pa.table({
        "arm": text("arm"),
        "sample": pa.array(cols["sample"], pa.int64()),
        "time_h": pa.array(cols["time_h"], pa.float64()),
        "readout": text("readout"),
        "value": pa.array(cols["value"], pa.float64()),
        "unit": text("unit"),
        "status": text("status"),
    })


def _count_statuses(table, counts: dict, failures: list) -> None:
    import pyarrow.compute as pc

    per_traj = table.select(["arm", "sample", "status"]).group_by(["arm", "sample", "status"]).aggregate([])
    for status, n in zip(*pc.value_counts(per_traj["status"]).flatten()):
        code = status.as_py().split(":")[0]
        counts[code] = counts.get(code, 0) + n.as_py()
    bad = per_traj.filter(pc.not_equal(per_traj["status"], "ok"))
    for row in bad.to_pylist()[:20]:
        failures.append(f"arm {row['arm']}, sample {row['sample']}: {row['status']}")
