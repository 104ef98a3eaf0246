"""A trial's output folder (``nephrosim trial SPEC --out DIR``): resumable after a kill.

Layout of ``DIR``:

* ``manifest.json`` — what the chunks belong to: the trial spec (and its SHA-256 digest),
  the seed, the chunk size (virtual patients per simulation task) and the nephrosim
  version. Written atomically before any chunk.
* ``chunks/`` — one file per finished task, each written atomically
  (:func:`nephrosim.io.atomic_path`: complete or absent): ``population-NNNNNN.npz`` (the
  untreated simulation of plausible patients ``N × chunk`` onwards: SCr, survival, ok flag),
  ``armK-NNNNNN.npz`` (arm ``K``'s eligible patients under its treatment) and
  ``replicates-SSSSSS-EEEEEE.parquet`` (the statistics of replicate trials ``S`` to ``E − 1``, one
  row each: the results stream to Parquet partitions as they finish, readable with
  ``pandas.read_parquet(DIR / "chunks")`` filtered to those names, or DuckDB's
  ``read_parquet('DIR/chunks/replicates-*.parquet')``).
* ``summary.json`` (what ``--json`` prints) and ``replicates.csv`` (one row per replicate
  trial), written when the run finishes.

A rerun with the same spec, seed and chunk size reads the finished chunks back and
computes only the missing ones; since every chunk is a pure function of the spec, the seed
and its own index (:mod:`nephrosim.trials.execute`), the result is bit-identical to an
uninterrupted run. The replicate count may change between runs (more replicates reuse the
finished ones). Anything else that differs is refused, naming the field, before any work.
While a run uses the folder it holds an exclusive ``flock`` on ``DIR/.lock`` (released by
the kernel when the process dies, even by ``kill -9``). Temporary files of a killed run are
removed by the next one. The chunks are kept after the run (a rerun is then cheap); delete
``DIR`` to reclaim the space (about 4 kB per virtual patient).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from nephrosim.errors import UserInputError
from nephrosim.io import OutputError, atomic_path, exclusive_lock, write_frame, write_text_atomic

MANIFEST = "manifest.json"
CHUNKS = "chunks"
LOCK = ".lock"
SUMMARY = "summary.json"
REPLICATES = "replicates.csv"
#: Files and folders of a trial folder (the only ones ``overwrite`` removes).
OWN = (MANIFEST, CHUNKS, SUMMARY, REPLICATES, LOCK)
WHAT = "nephrosim trial"
#: 2 since session 20: replicate chunks are Parquet partitions (format 1 held JSON)
FORMAT = 2


def spec_digest(spec: dict) -> str:
    """SHA-256 of the spec's canonical JSON (sorted keys)."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def differences(old, new, path: str = "") -> list[str]:
    """Dotted paths where two JSON values differ, with both values (``arms[1].n: 20 → 30``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                out.append(f"{sub}: (absent) → {_short(new[key])}")
            elif key not in new:
                out.append(f"{sub}: {_short(old[key])} → (absent)")
            else:
                out += differences(old[key], new[key], sub)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (a, b) in enumerate(zip(old, new)) for d in differences(a, b, f"{path}[{i}]")]
    return [] if old == new else [f"{path or 'spec'}: {_short(old)} → {_short(new)}"]


def _short(value) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


class ChunkStore:
    """Finished tasks of one stage, one file each: ``chunks/<key>.npz`` (a tuple of arrays),
    ``chunks/<key>.json`` (JSON data) or ``chunks/<key>.parquet`` (a list of flat records of one schema,
    one row each: replicate trials)."""

    def __init__(self, folder: Path, keys: Sequence[str], kind: str):
        if kind not in ("npz", "json", "parquet"):
            raise ValueError(f"kind {kind!r}: npz, json or parquet")
        self.folder, self.keys, self.kind = Path(folder), list(keys), kind

    def path(self, i: int) -> Path:
        return self.folder / f"{self.keys[i]}.{self.kind}"

    def done(self) -> int:
        """Tasks already finished."""
        return sum(self.path(i).is_file() for i in range(len(self.keys)))

    def load(self, i: int):
        if self.kind == "json":
            return json.loads(self.path(i).read_text(encoding="utf-8"))
        if self.kind == "parquet":
            return _records(self.path(i))
        with np.load(self.path(i)) as z:
            return tuple(z[f"a{k}"].copy() for k in range(len(z.files)))

    def save(self, i: int, result) -> None:
        if self.kind == "json":
            write_text_atomic(self.path(i), json.dumps(result))
            return
        if self.kind == "parquet":
            import pandas as pd

            write_frame(pd.DataFrame.from_records(result), self.path(i))
            return
        with atomic_path(self.path(i)) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **{f"a{k}": np.asarray(a) for k, a in enumerate(result)})

    def collect(self, executor, fn: Callable, tasks: Sequence, advance: Callable | None = None) -> list:
        """Like :func:`nephrosim.trials.execute.collect`, but each result is stored as it
        arrives (then ``advance()``), and a task whose result is stored is not run again."""
        if len(tasks) != len(self.keys):
            raise RuntimeError(f"{len(tasks)} tasks for {len(self.keys)} chunk keys")
        out: list[Any] = [None] * len(tasks)
        todo = []
        for i in range(len(tasks)):
            if self.path(i).is_file():
                out[i] = self.load(i)
            else:
                todo.append(i)
        for j, result in executor.map(fn, [tasks[i] for i in todo]):
            self.save(todo[j], result)
            out[todo[j]] = result
            if advance is not None:
                advance()
        return out


class TrialFolder:
    """An opened trial output folder (see the module docstring); use :func:`open_trial_folder`."""

    def __init__(self, root: Path):
        self.root = root
        self.chunks = root / CHUNKS

    def store(self, prefix: str, count: int, kind: str = "npz") -> ChunkStore:
        """The chunks ``<prefix>-000000`` … of a stage of ``count`` tasks."""
        return ChunkStore(self.chunks, [f"{prefix}-{i:06d}" for i in range(count)], kind)

    def replicate_store(self, bounds: Sequence[tuple[int, int]]) -> ChunkStore:
        """The chunks of replicate trials (Parquet partitions), named by their range (reused when the
        count changes)."""
        return ChunkStore(self.chunks, [f"replicates-{s:06d}-{e:06d}" for s, e in bounds], "parquet")

    def write_results(self, summary: dict, replicates: list[dict]) -> tuple[Path, Path]:
        """``summary.json`` and ``replicates.csv``, atomically."""
        import pandas as pd

        write_text_atomic(self.root / SUMMARY, json.dumps(summary, allow_nan=False, default=str, indent=1))
        write_frame(pd.DataFrame(replicates), self.root / REPLICATES)
        return self.root / SUMMARY, self.root / REPLICATES


def _records(path: Path) -> list[dict]:
    """A Parquet partition's rows as the records that were written: Python scalars (``bool``, ``int``,
    ``float``: float64 round-trips exactly, NaN included), so a resumed run's replicates equal an
    uninterrupted run's to the bit."""
    import pandas as pd

    frame = pd.read_parquet(path)
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in frame.to_dict(orient="records")]


def manifest_for(spec: dict, seed: int, chunk_patients: int) -> dict:
    """The manifest of a run (see the module docstring)."""
    from nephrosim import __version__

    return {"what": WHAT, "format": FORMAT, "spec_digest": spec_digest(spec), "seed": int(seed),
            "chunk_patients": int(chunk_patients), "nephrosim_version": __version__, "spec": spec}


def _refusal(root: Path, old: dict, new: dict) -> str | None:
    """Why the run ``new`` cannot resume the folder holding ``old`` (None: it can)."""
    fix = "rerun with --overwrite (overwrite=True) to discard the finished chunks, or give a new --out folder"
    if old.get("what") != WHAT or old.get("format") != FORMAT:
        return f"--out {root}: {MANIFEST} is not a nephrosim trial manifest (format {FORMAT}); {fix}"
    if old.get("spec_digest") != new["spec_digest"]:
        diffs = differences(old.get("spec"), new["spec"]) or ["spec digest"]
        shown = "; ".join(diffs[:5]) + (f"; and {len(diffs) - 5} more" if len(diffs) > 5 else "")
        return (f"--out {root} holds a run of a different trial spec ({shown}); rerun the original spec to "
                f"resume it, or {fix}")
    if old.get("seed") != new["seed"]:
        return (f"--out {root} holds a run with seed {old.get('seed')}, not {new['seed']}; rerun with --seed "
                f"{old.get('seed')} to resume it, or {fix}")
    if old.get("chunk_patients") != new["chunk_patients"]:
        return (f"--out {root} holds a run with chunk_patients {old.get('chunk_patients')}, not "
                f"{new['chunk_patients']} (the chunks would not match); rerun with chunk_patients="
                f"{old.get('chunk_patients')} to resume it, or {fix}")
    if old.get("nephrosim_version") != new["nephrosim_version"]:
        return (f"--out {root} holds a run of nephrosim {old.get('nephrosim_version')}, not "
                f"{new['nephrosim_version']} (the model may differ); {fix}")
    return None


@contextlib.contextmanager
def open_trial_folder(out: str | Path, spec: dict, seed: int, chunk_patients: int,
                      overwrite: bool = False) -> Iterator[TrialFolder]:
    """The output folder ``out`` of a trial run, checked against the run and locked for it.

    A new (or empty) folder gets the run's manifest. A folder holding a manifest must match
    the run (same spec, seed, chunk size, nephrosim version) — else a :class:`UserInputError`
    naming what differs — unless ``overwrite``, which removes the trial's own files first.
    A non-empty folder without a manifest is refused (nothing in it is deleted).
    """
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise OutputError(f"--out {root} is a file; give a folder (it is created if missing)")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create --out {root}: {exc.strerror} — choose another folder") from None
    new = manifest_for(spec, seed, chunk_patients)
    with _locked(root):
        manifest = root / MANIFEST
        if manifest.is_file():
            try:
                old = json.loads(manifest.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                old = {}
            why = _refusal(root, old if isinstance(old, dict) else {}, new)
            if why is not None and not overwrite:
                raise UserInputError(why)
            if why is not None or overwrite:
                _remove_own(root)
        else:
            # chunks without a manifest cannot be matched to a run: only an empty folder is used
            foreign = sorted(p.name for p in root.iterdir() if p.name != LOCK and not _temporary(p.name))
            if foreign:
                raise UserInputError(f"--out {root} is not empty and has no {MANIFEST} of a nephrosim trial run "
                                     f"({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}); give a new "
                                     "or empty --out folder")
        if not manifest.is_file():
            write_text_atomic(manifest, json.dumps(new, indent=1, sort_keys=True))
        _remove_temporaries(root)
        try:
            yield TrialFolder(root)
        except BaseException:
            _remove_temporaries(root)  # an interrupt between a temporary file's creation and its cleanup
            raise


def _temporary(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")


def _remove_temporaries(root: Path) -> None:
    for folder in (root, root / CHUNKS):
        if folder.is_dir():
            for p in folder.iterdir():
                if _temporary(p.name) and p.is_file():
                    p.unlink(missing_ok=True)


def _remove_own(root: Path) -> None:
    for name in OWN:
        p = root / name
        if name == LOCK:
            continue  # held by this run
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


def _locked(root: Path):
    return exclusive_lock(root / LOCK, f"another nephrosim trial is writing --out {root} now; wait for it to "
                                       "finish, or stop it and rerun this command to resume")
