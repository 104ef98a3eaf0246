"""The app's data folder (``nephrosim app --data DIR``): runs that outlive the server.

Layout::

    DIR/lock                     held (flock) by the one server that uses the folder
    DIR/runs/<id>/run.json       the run's record: kind, scenario, session key, state, times,
                                 options, progress, and the manifest of its results
    DIR/runs/<id>/t<k>.parquet   the result's tables (pandas, written with their index and dtypes)
    DIR/runs/<id>/a<k>.npy       the result's arrays (numpy, no pickles)
    DIR/runs/<id>/work/          the finished chunks of a resumable run while it computes (an
                                 ensemble's ``ensemble.parquet.parts/``, a trial's ``trial/``
                                 output folder); removed when the run ends, kept when it is
                                 interrupted, so that *Resume* continues from them
    DIR/drafts/<key>.json        the builder's draft of one session (:class:`DraftStore`)
    DIR/trial_drafts/<key>.json  the trial page's draft design of one session (the same store)

Every file is written atomically (:func:`nephrosim.io.atomic_path`), and a finished run's
``run.json`` only after its result files: a server stopped half-way through saving leaves the
previous record (``queued``), which the next server shows as ``interrupted``, never a run that
looks finished with missing results.

The session cookie is a random id (no signature, so no secret to keep). The folder stores only
its SHA-256 (:func:`session_key`): reading the folder does not give anyone a working cookie.
The run folders are created 0700: the runs are private to their user on a shared server.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from nephrosim.errors import UserInputError
from nephrosim.io import atomic_path, write_text_atomic

#: The version of the record's layout; a record of another version is not read (it is reported).
FORMAT = 1
#: What a record keeps of a :class:`~nephrosim.app.runs.Run`, besides its result.
FIELDS = ("id", "number", "session", "kind", "scenario", "scenario_name", "arms", "created", "state", "done", "total",
          "label", "error", "error_kind", "finished", "options")
#: Fields a record may lack (written by a later nephrosim than the record), with their default.
OPTIONAL_FIELDS = {"resumed": None, "resumes": 0}

log = logging.getLogger("nephrosim.app")


def default_folder() -> Path:
    """``platformdirs.user_data_dir("nephrosim")/app``, beside the evidence store."""
    import platformdirs

    return Path(platformdirs.user_data_dir("nephrosim")) / "app"


def session_key(session: str) -> str:
    """What the data folder and the run registry know of a session cookie: its SHA-256."""
    return hashlib.sha256(session.encode()).hexdigest()


def _unusable(folder: Path, why: str) -> UserInputError:
    return UserInputError(f"--data {str(folder)!r}: {why} — give a folder you can write with --data DIR (it is "
                          "created if missing), or fix its permissions")


class RunStore:
    """The runs of one data folder; :meth:`open` it once per server (it takes the folder's lock)."""

    def __init__(self, folder: Path, lock_fd: int):
        self.folder = folder
        self.runs_folder = folder / "runs"
        self._lock_fd: int | None = lock_fd

    @classmethod
    def open(cls, folder: str | Path | None = None) -> "RunStore":
        """Create ``folder`` (default :func:`default_folder`) if missing, check that it is
        writable and take its lock; a :class:`UserInputError` naming ``--data`` otherwise."""
        import fcntl

        folder = Path(folder).expanduser() if folder is not None else default_folder()
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            (folder / "runs").mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise _unusable(folder, f"cannot create it ({exc.strerror or type(exc).__name__})") from None
        if not folder.is_dir():
            raise _unusable(folder, "it is a file, not a folder")
        probe = folder / f".probe-{os.getpid()}"
        try:  # os.access says yes to root on a read-only file system; a real write does not
            probe.write_bytes(b"")
            probe.unlink()
            fd = os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise _unusable(folder, f"not writable ({exc.strerror or type(exc).__name__})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise UserInputError(f"--data {str(folder)!r}: another nephrosim app uses this data folder — stop it, "
                                 "or give this one another folder with --data DIR") from None
        return cls(folder, fd)

    def close(self) -> None:
        """Release the folder's lock (the server stopped); the process ending releases it too."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # --- one run -------------------------------------------------------------------------
    def _dir(self, run_id: str) -> Path:
        return self.runs_folder / run_id

    def save(self, run) -> None:
        """Write ``run``'s record, and its result first when it has one (atomically, each file)."""
        if self._lock_fd is None:
            raise UserInputError(f"the data folder {self.folder} was closed (the server is stopping)")
        folder = self._dir(run.id)
        folder.mkdir(mode=0o700, exist_ok=True)
        record: dict[str, Any] = {"format": FORMAT, **{f: getattr(run, f) for f in (*FIELDS, *OPTIONAL_FIELDS)}}
        record["arms"] = list(run.arms)
        if run.payload is not None:
            files: dict[str, Any] = {}
            record["payload"] = _encode(run.payload, files)
            for name, value in files.items():
                with atomic_path(folder / name) as tmp:
                    if name.endswith(".parquet"):
                        value.to_parquet(tmp)
                    else:
                        with open(tmp, "wb") as f:
                            import numpy as np

                            np.save(f, value, allow_pickle=False)
        write_text_atomic(folder / "run.json", json.dumps(record, allow_nan=True))

    def work_folder(self, run_id: str) -> Path:
        """Where a resumable run keeps its finished chunks while it computes (see the layout)."""
        return self._dir(run_id) / "work"

    def drop_work(self, run_id: str) -> None:
        """Remove a run's chunks (the run ended: its result, if any, is saved beside them)."""
        work = self.work_folder(run_id)
        if work.exists():
            shutil.rmtree(work)

    def delete(self, run_id: str) -> None:
        """Remove a run (its record first: a half-deleted run is never listed)."""
        with contextlib.suppress(FileNotFoundError):
            (self._dir(run_id) / "run.json").unlink()
        shutil.rmtree(self._dir(run_id), ignore_errors=False)

    def load_payload(self, run_id: str, manifest) -> dict:
        """A saved run's result, as the run's process sent it."""
        return _decode(manifest, self._dir(run_id))

    def records(self) -> list[dict]:
        """Every readable run record of the folder, oldest first. A record that cannot be read is
        logged with its path and left on disk (never silently taken as a run)."""
        out = []
        for path in sorted(self.runs_folder.glob("*/run.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(record, dict) or record.get("format") != FORMAT:
                    raise ValueError(f"not a run record of format {FORMAT} (this nephrosim's)")
                missing = [f for f in FIELDS if f not in record]
                if missing or record["id"] != path.parent.name:
                    raise ValueError(f"fields missing ({', '.join(missing)}) or id {record.get('id')!r} not its "
                                     "folder's name")
            except (OSError, ValueError) as exc:
                log.warning("nephrosim app: run record %s not loaded: %s", path, exc)
                continue
            out.append({**OPTIONAL_FIELDS, **record})
        return sorted(out, key=lambda r: (r["created"], r["number"]))


class DraftStore:
    """The builder's draft of each session, one JSON file per session in ``DIR/drafts/``.

    A draft is saved whenever the form changes (the page posts it as it is typed), written
    atomically, and named by the session's key (:func:`session_key`, the SHA-256 of the
    cookie): a draft is read back only for the cookie that wrote it. Drafts not touched for
    ``max_age_days`` (the cookie's lifetime: no browser can ask for them any more) are removed
    when the store opens.
    """

    def __init__(self, folder: Path, max_age_days: float, name: str = "drafts"):
        self.folder = folder / name
        try:
            self.folder.mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise _unusable(folder, f"cannot create {self.folder.name}/ in it ({exc.strerror})") from None
        cutoff = time.time() - max_age_days * 86400
        for path in self.folder.glob("*.json"):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()

    def _path(self, session: str) -> Path:
        return self.folder / f"{session_key(session)}.json"

    def get(self, session: str) -> dict | None:
        """The session's saved draft, or ``None`` (none saved, or discarded). A file that cannot
        be read is logged with its path and treated as no draft (the form then starts from the
        example; the file is left for inspection until the next save replaces it)."""
        path = self._path(session)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("nephrosim app: builder draft %s not read: %s", path, exc)
            return None
        if not isinstance(record, dict) or record.get("format") != FORMAT or not isinstance(record.get("draft"), dict):
            log.warning("nephrosim app: builder draft %s is not a draft of format %s", path, FORMAT)
            return None
        return record["draft"]

    def put(self, session: str, draft: dict) -> None:
        write_text_atomic(self._path(session), json.dumps({"format": FORMAT, "saved": time.time(), "draft": draft}))

    def discard(self, session: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(session).unlink()


# --- a run's result on disk: tables as Parquet, arrays as .npy, the rest as JSON -------------
def _encode(value, files: dict[str, Any]):
    import numpy as np
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        name = f"t{len(files)}.parquet"
        files[name] = value
        return {"$frame": name}
    if isinstance(value, np.ndarray):
        name = f"a{len(files)}.npy"
        files[name] = value
        return {"$array": name}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v, files) for v in value]}
    if isinstance(value, list):
        return [_encode(v, files) for v in value]
    if isinstance(value, dict):
        bad = [k for k in value if not isinstance(k, str) or k.startswith("$")]
        if bad:
            raise TypeError(f"a run's result has a key the data folder cannot keep: {bad[0]!r}")
        return {k: _encode(v, files) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"a run's result holds a {type(value).__name__}, which the data folder cannot keep")


def _decode(value, folder: Path):
    if isinstance(value, list):
        return [_decode(v, folder) for v in value]
    if not isinstance(value, dict):
        return value
    if "$frame" in value:
        import pandas as pd

        return pd.read_parquet(folder / value["$frame"])
    if "$array" in value:
        import numpy as np

        return np.load(folder / value["$array"], allow_pickle=False)
    if "$tuple" in value:
        return tuple(_decode(v, folder) for v in value["$tuple"])
    return {k: _decode(v, folder) for k, v in value.items()}
