"""Atomic file writes: a result file is either complete or absent, never partial."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from nephrosim.errors import UserInputError


class OutputError(UserInputError):
    """A result file that cannot be written (read-only folder, full disk, a folder in the way)."""


def _cannot_write(path: Path, exc: OSError) -> OutputError:
    why = exc.strerror or type(exc).__name__
    return OutputError(f"cannot write {str(path)!r}: {why} — choose another output path, or free disk space; "
                       "nothing was written")


def check_writable(path: str | Path) -> None:
    """Refuse an output path that cannot be written, before any work is done for it."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"cannot write {str(path)!r}: it is a folder — give a file name")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"cannot write {str(path)!r}: {str(parent)!r} is a file, not a folder — choose "
                          "another output path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {str(path)!r}: the folder {str(parent)!r} is not writable — choose "
                          "another output path")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[str]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched; an operating
    system refusal (read-only folder, full disk) becomes an :class:`OutputError`.
    The file gets the permissions the user's umask gives a new file (not mkstemp's 0600).
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"cannot write {str(path)!r}: it is a folder — give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise _cannot_write(path, exc) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


#: A spreadsheet reads a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(frame):
    """A copy of ``frame`` whose text cells cannot run as spreadsheet formulas.

    Text that starts with = + - @ (or a tab or carriage return) gets a leading single quote,
    the OWASP recommendation; numbers are untouched. Applied to every CSV nephrosim writes.
    """
    from pandas.api.types import is_object_dtype, is_string_dtype

    out = frame.copy()
    for col in out.columns:
        if is_object_dtype(out[col]) or is_string_dtype(out[col]):
            out[col] = out[col].map(lambda v: "'" + v if isinstance(v, str) and v.startswith(FORMULA_PREFIXES) else v)
    safe_cols = ["'" + c if isinstance(c, str) and c.startswith(FORMULA_PREFIXES) else c for c in out.columns]
    out.columns = safe_cols
    return out


def write_frame(frame, path: str | Path) -> None:
    """Write a DataFrame as CSV (formula-safe, :func:`neutralise_formulas`) or Parquet, atomically."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise UserInputError(f"output {str(path)!r}: use a .csv or .parquet file name")
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            neutralise_formulas(frame).to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)


@contextlib.contextmanager
def exclusive_lock(lock_file: str | Path, busy: str) -> Iterator[None]:
    """Hold an exclusive, non-blocking ``flock`` on ``lock_file`` (created 0600) for the block.

    Two runs writing one results folder would interleave their parts; the second is refused at
    once with :class:`UserInputError` ``busy`` (which should say what to do). The lock dies with
    the process, so a killed run never leaves the folder locked. Platforms without ``fcntl``
    run unlocked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover — not POSIX
        yield
        return
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserInputError(busy) from None
        yield
    finally:
        os.close(fd)
