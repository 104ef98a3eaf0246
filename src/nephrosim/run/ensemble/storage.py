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
* The chunks are appended, in order, to a temporary copy of ``<out>`` as they are written
  (:class:`Assembler`, in the background writer :class:`ChunkWriter`); when all are in it is
  renamed onto ``<out>`` and the folder is removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import queue
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterator

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


def resumable_chunk_size(out: Path) -> int | None:
    """The chunk size recorded in the manifest of ``out``'s parts folder, if a run left one.

    Lets a run whose chunk size was not given resume an interrupted run made with another
    default (the request, checked by :func:`open_parts`, must still match in everything else).
    """
    try:
        recorded = json.loads((parts_folder(out) / MANIFEST).read_text(encoding="utf-8"))["request"]["chunk_size"]
    except (OSError, ValueError, KeyError, TypeError):  # no folder or no readable manifest: open_parts decides
        return None
    return recorded if isinstance(recorded, int) and not isinstance(recorded, bool) and recorded >= 1 else None


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


# Columns of a chunk and of the final file: :func:`_schema`. The text columns are held as
# dictionary arrays (int32 codes + their strings, as :func:`~nephrosim.run.ensemble.executors.run_chunk`
# returns them): Parquet stores them dictionary-encoded, and the final file, written without the
# Arrow schema, reads back as plain strings (issue 15: casting to strings before writing cost
# ~5 µs per sample, and Parquet then hashed every string again to re-encode it).

#: Dictionary-encode these; ``value`` is almost always unique per row, so trying a dictionary
#: for it only cost time (and a larger file) before Parquet fell back to plain encoding.
DICTIONARY_COLUMNS = ["arm", "sample", "time_h", "readout", "unit", "status"]
#: Key of a chunk's Parquet metadata holding its status counts and first failures (JSON).
STATUS_KEY = b"nephrosim.statuses"
#: Failures listed per chunk (and in the summary).
FAILURES_KEPT = 20


def _schema():
    import pyarrow as pa

    text = pa.dictionary(pa.int32(), pa.string())
    return pa.schema([("arm", text), ("sample", pa.int64()), ("time_h", pa.float64()), ("readout", text),
                      ("value", pa.float64()), ("unit", text), ("status", text)])


def save_chunk(path: Path, result) -> None:
    """Write one chunk's columns (from :func:`~nephrosim.run.ensemble.executors.run_chunk`) atomically.

    The chunk's status counts and first failures go into the file's metadata, so that
    :class:`Assembler` need not recount them (a chunk without them — written by an older
    version of nephrosim before an interrupted run — is recounted).
    """
    import pyarrow.parquet as pq

    table = _table(result)
    counts, failures = _statuses_of_columns(result)
    table = table.replace_schema_metadata({STATUS_KEY: json.dumps({"counts": counts, "failures": failures})})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, use_dictionary=DICTIONARY_COLUMNS)


class ChunkWriter:
    """Saves finished chunks in a background thread while the next chunks are computed (issue 15).

    ``put(path, result)`` queues a chunk and returns at once (it waits only while ``depth``
    chunks are already queued, so memory stays bounded); one thread writes them in order with
    :func:`save_chunk` — atomically, so every chunk file is complete or absent — and then calls
    ``then()`` (the ensemble appends the chunk to the final file: :class:`Assembler`). The batch
    engine's C solve releases the GIL, so writing overlaps it.

    Leaving the ``with`` block waits until every queued chunk is written — also when it is
    left by an exception or an interrupt, so no write is cut short and the finished chunks
    are kept for a rerun. The first write error (a full disk: :class:`OutputError`) is raised
    in the caller's thread at its next ``put`` or at the end of the block, and the chunks
    queued after it are dropped (a rerun computes them).
    """

    def __init__(self, save: Callable[[Path, object], None] | None = None, depth: int = 1,
                 then: Callable[[], None] | None = None, background: bool = True):
        self._save = save or save_chunk
        self._then = then
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        #: set by the first failed write and never cleared (``_error`` is cleared once raised), so the
        #: chunks queued after it are dropped even when the error has already reached the caller
        self._failed = False
        #: False: ``put`` writes at once, in the caller's thread (the ensemble does so when this process
        #: itself simulates with libRoadRunner: see :func:`nephrosim.run.ensemble.executors.run_serial`)
        self._background = background
        self._thread = threading.Thread(target=self._work, name="nephrosim-chunk-writer", daemon=True)

    def __enter__(self) -> "ChunkWriter":
        if self._background:
            self._thread.start()
        return self

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            if not self._failed:
                try:
                    self._save(*item)
                    if self._then is not None:
                        self._then()
                except BaseException as exc:  # handed to the caller's thread, never swallowed
                    self._error, self._failed = exc, True
            del item  # free the chunk's columns before waiting for the next one

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def put(self, path: Path, result) -> None:
        """Queue ``result`` to be written to ``path``; raises an earlier write's error."""
        self._raise_error()
        if not self._background:
            self._save(path, result)
            if self._then is not None:
                self._then()
            return
        self._queue.put((path, result))

    def __exit__(self, kind, value, traceback) -> None:
        if self._background:
            self._queue.put(None)
            self._thread.join()
        if kind is None:
            self._raise_error()


class _Abandoned(Exception):
    """Leaves the final file's temporary file without renaming it."""


class Assembler:
    """Builds the final file from the chunk files, in order, while the run goes on (issue 15).

    :meth:`advance` appends every chunk file that follows the ones already appended and now
    exists (the background writer calls it after each chunk, so the final file is written while
    the next chunks are simulated, instead of all at the end). The file grows under a temporary
    name (:func:`nephrosim.io.atomic_path`, swept by the next run if this one is killed);
    :meth:`finish` renames it onto ``out`` once every chunk is in, :meth:`abandon` removes it.

    ``out`` holds the text columns as Parquet strings (dictionary-encoded), without the Arrow
    schema, so every reader gets plain strings, as from the chunks' values. Status counts and
    failures come from each chunk's metadata, or are counted for a chunk of an older nephrosim.
    """

    def __init__(self, out: Path, files: list[Path]):
        self._out, self._files, self._next = out, list(files), 0
        self._open = contextlib.ExitStack()
        self._writer = None
        self.counts: dict[str, int] = {}
        self.failures: list[str] = []

    def advance(self) -> None:
        """Append, in order, every chunk file that follows the appended ones and exists.

        A refusal of the operating system (a full disk) is an :class:`OutputError`; the file is
        then unusable, and :meth:`abandon` removes it.
        """
        try:
            self._append_ready()
        except OSError as exc:
            raise OutputError(f"cannot write {str(self._out)!r}: {exc.strerror or exc} — choose another output "
                              "path, or free disk space") from None

    def _append_ready(self) -> None:
        import pyarrow.parquet as pq

        while self._next < len(self._files) and self._files[self._next].exists():
            if self._writer is None:
                tmp = self._open.enter_context(atomic_path(self._out))
                self._writer = self._open.enter_context(
                    pq.ParquetWriter(tmp, _schema(), store_schema=False, use_dictionary=DICTIONARY_COLUMNS))
            table = pq.read_table(self._files[self._next])
            kept = (table.schema.metadata or {}).get(STATUS_KEY)
            if kept is None:  # a chunk of an older nephrosim (plain string columns): count it here
                _count_statuses(table, self.counts, self.failures)
            else:
                chunk = json.loads(kept)
                for code, n in chunk["counts"].items():
                    self.counts[code] = self.counts.get(code, 0) + n
                self.failures.extend(chunk["failures"][:max(0, FAILURES_KEPT - len(self.failures))])
            self._writer.write_table(table.replace_schema_metadata(None).cast(_schema()))
            self._next += 1

    def finish(self) -> bool:
        """Append what is left and rename the file onto ``out``; False (nothing renamed) if a chunk is missing."""
        self.advance()
        if self._next < len(self._files) or self._writer is None:
            return False
        self._writer = None
        self._open.close()  # closes the Parquet writer, then renames
        return True

    def abandon(self) -> None:
        """Remove the unfinished file (nothing if :meth:`finish` renamed it)."""
        self._writer = None
        self._open.__exit__(_Abandoned, _Abandoned(), None)


def _table(result):
    import pyarrow as pa

    cols, dicts = result

    def text(name):
        return pa.DictionaryArray.from_arrays(pa.array(cols[name], pa.int32()), pa.array(dicts[name], pa.string()))

    return pa.Table.from_arrays([
        text("arm"),
        pa.array(cols["sample"], pa.int64()),
        pa.array(cols["time_h"], pa.float64()),
        text("readout"),
        pa.array(cols["value"], pa.float64()),
        text("unit"),
        text("status"),
    ], schema=_schema())


def _statuses_of_columns(result) -> tuple[dict[str, int], list[str]]:
    """Status counts (by code) and the first failures of one chunk's columns, one per trajectory.

    A trajectory (one sample of one arm) is a run of consecutive rows (rows are ordered
    sample → arm → time → readout), and has one status.
    """
    import numpy as np

    cols, dicts = result
    arm, sample, status = cols["arm"], cols["sample"], cols["status"]
    if arm.size == 0:
        return {}, []
    first = np.flatnonzero(np.r_[True, (arm[1:] != arm[:-1]) | (sample[1:] != sample[:-1])])
    codes = status[first]
    counts: dict[str, int] = {}
    for code, n in enumerate(np.bincount(codes, minlength=len(dicts["status"]))):
        if n:
            name = dicts["status"][code].split(":")[0]
            counts[name] = counts.get(name, 0) + int(n)
    not_ok = np.array([s != "ok" for s in dicts["status"]], dtype=bool)
    bad = first[not_ok[codes]][:FAILURES_KEPT]
    failures = [f"arm {dicts['arm'][arm[i]]}, sample {int(sample[i])}: {dicts['status'][status[i]]}" for i in bad]
    return counts, failures


def _count_statuses(table, counts: dict, failures: list) -> None:
    import pyarrow.compute as pc

    per_traj = table.select(["arm", "sample", "status"]).group_by(["arm", "sample", "status"]).aggregate([])
    for status, n in zip(*pc.value_counts(per_traj["status"]).flatten()):
        code = status.as_py().split(":")[0]
        counts[code] = counts.get(code, 0) + n.as_py()
    bad = per_traj.filter(pc.not_equal(per_traj["status"], "ok"))
    for row in bad.to_pylist()[:20]:
        failures.append(f"arm {row['arm']}, sample {row['sample']}: {row['status']}")
