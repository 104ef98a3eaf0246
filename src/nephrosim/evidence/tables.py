"""Reading and writing the evidence package's CSV tables safely.

One reader (:func:`read_csv_table`) for every CSV the package takes from a user
(``nephrosim evidence import``, ``nephrosim meta FILE``) and for the packaged curated
files. A file is read only if it

* is a regular file whose name ends in ``.csv`` (a YAML, JSON, Excel or Parquet file is
  named as such, with the fix);
* is at most :data:`MAX_CSV_BYTES` (20 MB) — checked from the file size, before reading;
* is text: no NUL byte, UTF-8 (a byte-order mark is allowed);
* has a header line with no empty and no repeated column names, and at least one data row.

Every refusal is an :class:`~nephrosim.evidence.errors.InputError` naming the file, what is
wrong and the fix. Cells are read as text (``dtype=str``); empty cells are missing.

Writing: every CSV the package exports goes through :func:`write_csv`, which neutralises
spreadsheet formulas (text cells starting with ``= + - @``, a tab or a carriage return get a
leading single quote, the OWASP rule; numeric columns stay numbers) via
:func:`nephrosim.io.neutralise_formulas`, and writes atomically.
"""

from __future__ import annotations

import csv
import io
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from nephrosim.io import atomic_path, neutralise_formulas

from .errors import InputError

if TYPE_CHECKING:  # pandas is imported where a table is read, not at start-up (CLI cold start)
    import pandas as pd

__all__ = ["MAX_CSV_BYTES", "read_csv_text", "read_csv_table", "write_csv", "csv_text", "printable"]

#: Largest CSV the evidence package reads (the packaged seed files together are < 1 MB).
MAX_CSV_BYTES = 20 * 1024 * 1024

_NOT_CSV = {
    ".yaml": "a YAML file", ".yml": "a YAML file", ".json": "a JSON file", ".toml": "a TOML file",
    ".xlsx": "an Excel workbook", ".xls": "an Excel workbook", ".ods": "a spreadsheet (ODS)",
    ".parquet": "a Parquet file", ".duckdb": "a DuckDB database", ".db": "a database file",
    ".zip": "a ZIP archive", ".gz": "a compressed file", ".pdf": "a PDF", ".png": "an image", ".svg": "an image",
    ".tsv": "a tab-separated file", ".txt": "a text file", ".md": "a Markdown file",
}
_MAGIC = ((b"PK\x03\x04", "a ZIP archive or Excel workbook"), (b"%PDF", "a PDF"), (b"\x89PNG", "a PNG image"),
          (b"PAR1", "a Parquet file"), (b"\x1f\x8b", "a gzip file"), (b"SQLite format 3", "an SQLite database"))


def printable(text) -> str:
    """``text`` with control characters (terminal escapes such as ``\\x1b[2J``) shown escaped.

    Line feeds and tabs are kept (messages span lines; ``evidence list`` is tab-separated);
    every other non-printable character becomes its Python escape (``\\x1b``, ``\\u202e``).
    """
    return "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1] for c in str(text))


def read_csv_text(path: str | os.PathLike, *, what: str = "CSV table", fix: str = "") -> str:
    """The text of a bounded, UTF-8, ``.csv`` file; raise :class:`InputError` otherwise.

    Arguments
    ---------
    path : str or Path
    what : str
        What the file should be, for messages (``"evidence CSV"``).
    fix : str
        Appended to messages about the content (e.g. the columns expected).
    """
    p = Path(path)
    name = printable(str(p))
    fix = f"; {fix}" if fix else ""
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise InputError(f"file {name!r} does not exist; check the path") from None
    except OSError as exc:
        raise InputError(f"cannot read {name!r} ({exc.strerror}); check the path and its permissions") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{name!r} is a folder; give the path of a {what} (.csv file)")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{name!r} is not a regular file (a device or a pipe); give a {what} (.csv file)")
    suffix = p.suffix.lower()
    if suffix != ".csv":
        kind = _NOT_CSV.get(suffix, f"a {suffix!r} file" if suffix else "a file without the .csv extension")
        raise InputError(f"{name!r} is {kind}, not a CSV table; save the {what} as CSV (UTF-8, comma-separated) "
                         f"with a .csv name{fix}")
    if st.st_size > MAX_CSV_BYTES:
        raise InputError(f"{name!r} is {st.st_size:,} bytes; a {what} may be at most {MAX_CSV_BYTES:,} bytes "
                         f"(20 MB); split it into several files")
    if st.st_size == 0:
        raise InputError(f"{name!r} is empty; the first line must be the header{fix}")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {name!r} ({exc.strerror})") from None
    for magic, kind in _MAGIC:
        if raw.startswith(magic):
            raise InputError(f"{name!r} is {kind}, not a CSV table; export it as CSV (UTF-8){fix}")
    if raw[8:12] == b"DUCK":
        raise InputError(f"{name!r} is a DuckDB database, not a CSV table; pass it with --db, or give a CSV{fix}")
    if b"\x00" in raw:
        at = raw.index(b"\x00")
        raise InputError(f"{name!r} is a binary file, not CSV text (NUL byte at offset {at}); "
                         f"save the {what} as CSV (UTF-8)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"{name!r} is not UTF-8 text: byte 0x{raw[exc.start]:02x} on line {line} cannot be "
                         f"decoded; save it as 'CSV UTF-8'") from None
    if text.strip() == "":
        raise InputError(f"{name!r} holds only blank space; the first line must be the header{fix}")
    return text


def read_csv_table(path: str | os.PathLike, *, what: str = "CSV table", fix: str = "",
                   as_text: bool = True, allow_empty: bool = False) -> pd.DataFrame:
    """Read a CSV through :func:`read_csv_text` and check its header and rows.

    Arguments
    ---------
    path : str or Path
    what, fix : str
        For messages (see :func:`read_csv_text`).
    as_text : bool, default True
        Read every cell as text (empty → missing); False lets pandas infer numbers.
    allow_empty : bool, default False
        Accept a header without data rows (a curation batch that found nothing).

    Returns
    -------
    pandas.DataFrame
    """
    text = read_csv_text(path, what=what, fix=fix)
    name = printable(str(path))
    fix = f"; {fix}" if fix else ""
    try:
        header = next(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise InputError(f"{name!r}: the header line cannot be parsed as CSV ({exc}){fix}") from None
    cols = [c.strip() for c in header]
    empty = [i + 1 for i, c in enumerate(cols) if c == ""]
    if empty:
        raise InputError(f"{name!r}: header column(s) {', '.join(map(str, empty))} have no name; give every column "
                         f"a name or delete the empty ones{fix}")
    seen, dup = set(), []
    for c in cols:
        if c.lower() in seen and c not in dup:
            dup.append(c)
        seen.add(c.lower())
    if dup:
        raise InputError(f"{name!r}: column(s) {', '.join(repr(printable(c)) for c in dup)} appear more than once "
                         "in the header; keep one of each")
    import pandas as pd

    try:
        if as_text:
            df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])
        else:
            df = pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, csv.Error) as exc:
        raise InputError(f"{name!r} is not a well-formed CSV ({printable(str(exc)).strip()}); check the quotes and "
                         "that every row has as many cells as the header") from None
    df.columns = cols
    if df.empty and not allow_empty:
        raise InputError(f"{name!r} has a header but no data rows; add one row per record{fix}")
    return df


def csv_text(frame: pd.DataFrame) -> str:
    """``frame`` as formula-safe CSV text (see :func:`write_csv`)."""
    return neutralise_formulas(frame).to_csv(index=False)


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``frame`` as CSV atomically, with spreadsheet formulas neutralised (OWASP)."""
    with atomic_path(path) as tmp:
        neutralise_formulas(frame).to_csv(tmp, index=False)
