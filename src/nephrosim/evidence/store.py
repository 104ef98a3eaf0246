"""Embedded evidence store: one DuckDB file, seeded from the packaged evidence.

Location (first match wins): the ``path`` argument / ``--db PATH``, the environment
variable ``NEPHROSIM_DB``, else ``platformdirs.user_data_dir("nephrosim")/evidence.duckdb``.
The file is created and seeded on first use.

Concurrency and atomicity
-------------------------
Reads open **read-only** DuckDB connections, so any number of processes may read at
once. Writes never touch the live file: under an exclusive lock file (``<db>.lock``), the
writer copies the database to a temporary file next to it, applies the change in one
transaction there, closes it and atomically renames it over the original
(``os.replace``). Readers therefore see either the old or the new database, never a
half-written one, and a failed or rejected write leaves the file byte-for-byte unchanged.
Imports are validated completely before any of this starts; whether a study id is already in
the store is decided under the lock, on the copy being written, so two processes importing
the same study at once give one import and one clean :class:`ImportRejected`.

A damaged or foreign file
-------------------------
``--db`` must name a DuckDB file written by nephrosim (or a path where none exists yet). A
folder, an empty file, a file that is not a DuckDB database, a DuckDB database without the
evidence tables, and a truncated database (its data blocks cannot all be read) are each
refused with an :class:`InputError` naming the file and the fix; such a file is never
written to.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from .errors import ImportRejected, InputError, RowIssue
from .schema import FLAT_COLUMNS, Arm, Outcome, Provenance, Study
from .tables import printable
from .vocab import matches_injury, matches_product, matches_species

__all__ = ["EvidenceStore", "default_db_path", "ImportReport"]


def _arm_columns(con) -> set[str]:
    """The columns of a store's ``arms`` table (schema 1 lacks ``injury_details``)."""
    return {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'arms'").fetchall()}


SCHEMA_VERSION = "2"  # 2: arms.injury_details (a group's own design); a version-1 store gains the column

_DDL = """
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE studies (
    study_id VARCHAR PRIMARY KEY, species VARCHAR, species_raw VARCHAR, strain VARCHAR, sex VARCHAR,
    injury VARCHAR, injury_raw VARCHAR, injury_details VARCHAR, pmid VARCHAR, doi VARCHAR, url VARCHAR,
    quote VARCHAR, source_location VARCHAR, notes VARCHAR, source_file VARCHAR
);
CREATE TABLE arms (
    study_id VARCHAR NOT NULL, arm_id VARCHAR NOT NULL, label VARCHAR, role VARCHAR NOT NULL, product VARCHAR,
    product_raw VARCHAR, cell_source VARCHAR, donor VARCHAR, dose DOUBLE, dose_raw VARCHAR, dose_unit VARCHAR,
    route VARCHAR, timing_h DOUBLE, timing_raw VARCHAR, co_intervention VARCHAR, injury_details VARCHAR,
    PRIMARY KEY (study_id, arm_id)
);
CREATE TABLE outcomes (
    outcome_id BIGINT PRIMARY KEY, study_id VARCHAR NOT NULL, arm_id VARCHAR NOT NULL, readout VARCHAR NOT NULL,
    readout_raw VARCHAR, time_h DOUBLE, time_raw VARCHAR, mean DOUBLE, mean_raw VARCHAR, dispersion DOUBLE,
    dispersion_type VARCHAR, n INTEGER, n_raw VARCHAR, unit VARCHAR, unit_raw VARCHAR, quote VARCHAR,
    source_location VARCHAR, notes VARCHAR, url VARCHAR, source_file VARCHAR
);
"""

_STUDY_COLS = ["study_id", "species", "species_raw", "strain", "sex", "injury", "injury_raw", "injury_details",
               "pmid", "doi", "url", "quote", "source_location", "notes", "source_file"]
_ARM_COLS = ["study_id", "arm_id", "label", "role", "product", "product_raw", "cell_source", "donor", "dose",
             "dose_raw", "dose_unit", "route", "timing_h", "timing_raw", "co_intervention", "injury_details"]
_OUT_COLS = ["outcome_id", "study_id", "arm_id", "readout", "readout_raw", "time_h", "time_raw", "mean", "mean_raw",
             "dispersion", "dispersion_type", "n", "n_raw", "unit", "unit_raw", "quote", "source_location", "notes",
             "url", "source_file"]


def default_db_path() -> Path:
    """``$NEPHROSIM_DB`` if set, else ``<user data dir>/nephrosim/evidence.duckdb``."""
    env = os.environ.get("NEPHROSIM_DB")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("nephrosim")) / "evidence.duckdb"


@dataclass(frozen=True)
class ImportReport:
    """What an import added."""

    source: str
    studies: int
    arms: int
    outcomes: int
    study_ids: tuple[str, ...]


_DB_FIX = ("point --db (or NEPHROSIM_DB) at a nephrosim evidence store, or at a path where none exists yet to "
           "create a fresh one")


def _cannot_use(path: Path, why: str, fix: str = _DB_FIX) -> InputError:
    return InputError(f"--db {printable(str(path))!r} {why}; {fix}")


def _damaged(path: Path, exc: Exception, opened_as: str | None = None) -> InputError:
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if opened_as:  # the write works on a copy: name the user's file, not the copy
        detail = detail.replace(opened_as, str(path))
    return _cannot_use(path, f"cannot be read as a DuckDB evidence store ({printable(detail)})",
                       "if it is a truncated or damaged copy, restore it from a backup, or delete it to re-create "
                       "the packaged seed store")


def _verify(con, path: Path, opened_as: str | None = None) -> None:
    """Check that ``con`` is an evidence store whose every data block can be read."""
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        missing = [t for t in ("meta", "studies", "arms", "outcomes") if t not in tables]
        if missing:
            raise _cannot_use(path, f"is a DuckDB database but not a nephrosim evidence store (no table "
                                    f"{', '.join(missing)})")
        for t in ("studies", "arms", "outcomes"):  # hashing every row reads every block: catches truncation
            con.execute(f"SELECT sum(hash(t)) FROM {t} t").fetchone()
    except (duckdb.IOException, duckdb.SerializationException, duckdb.CatalogException,
            duckdb.BinderException) as exc:
        raise _damaged(path, exc, opened_as) from None


@contextlib.contextmanager
def _exclusive_lock(lock_path: Path, timeout: float = 60.0):
    import fcntl

    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(lock_path, "a+")
    except OSError as exc:
        raise InputError(f"cannot create the lock file {printable(str(lock_path))!r} ({exc.strerror}); the folder of "
                         "the evidence store must be writable; choose another --db") from None
    t0 = time.monotonic()
    try:
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() - t0 > timeout:
                    raise InputError(f"could not lock {lock_path} within {timeout:.0f} s; another nephrosim process "
                                     "is writing to the evidence store. Retry when it has finished.") from None
                time.sleep(0.05)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()


def _rows(studies, start_id: int):
    srows, arows, orows = [], [], []
    oid = start_id
    for s in studies:
        p = s.provenance
        srows.append([s.study_id, s.species, s.species_raw, s.strain, s.sex, s.injury, s.injury_raw,
                      s.injury_details, p.pmid, p.doi, p.url, p.quote, p.source_location, p.notes, p.source_file])
        for a in s.arms:
            arows.append([s.study_id, a.arm_id, a.label, a.role, a.product, a.product_raw, a.cell_source, a.donor,
                          a.dose, a.dose_raw, a.dose_unit, a.route, a.timing_h, a.timing_raw, a.co_intervention,
                          a.injury_details])
            for o in a.outcomes:
                q = o.provenance
                orows.append([oid, s.study_id, a.arm_id, o.readout, o.readout_raw, o.time_h, o.time_raw, o.mean,
                              o.mean_raw, o.dispersion, o.dispersion_type, o.n, o.n_raw, o.unit, o.unit_raw,
                              q.quote, q.source_location, q.notes, q.url, q.source_file])
                oid += 1
    return srows, arows, orows


class EvidenceStore:
    """The evidence database (DuckDB), queryable and extensible.

    Parameters
    ----------
    path : str or Path, optional
        Database file; defaults to :func:`default_db_path`. Created and seeded from the
        packaged evidence on first use.

    Examples
    --------
    >>> store = EvidenceStore("/tmp/ev.duckdb")  # doctest: +SKIP
    >>> store.records(readout="serum_creatinine", species="rodent").head()  # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path).expanduser() if path is not None else default_db_path()
        self._verified = None  # (inode, size, mtime) of the file last verified readable
        self._upgraded = False  # the schema was checked (and brought up to date) by this object

    def __repr__(self) -> str:
        return f"EvidenceStore({str(self.path)!r})"

    # ------------------------------------------------------------------ low level
    @property
    def _lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def _check_file(self) -> bool:
        """False if no file exists yet; True for a plausible DuckDB file; :class:`InputError` otherwise."""
        p = self.path
        try:
            st = os.stat(p)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise _cannot_use(p, f"cannot be read ({exc.strerror})") from None
        if p.is_dir():
            raise _cannot_use(p, "is a folder; give a file path such as <folder>/evidence.duckdb")
        if not p.is_file():
            raise _cannot_use(p, "is not a regular file")
        if st.st_size == 0:
            raise _cannot_use(p, "is an empty file, not a DuckDB database (delete it to let nephrosim create "
                                 "the store there)")
        try:
            with open(p, "rb") as fh:
                head = fh.read(16)
        except OSError as exc:
            raise _cannot_use(p, f"cannot be read ({exc.strerror})") from None
        if head[8:12] != b"DUCK":
            raise _cannot_use(p, "is not a DuckDB database file (wrong header)")
        return True

    def ensure(self) -> "EvidenceStore":
        """Create and seed the database if it does not exist yet (and refuse a file that is not a store);
        bring a store of an earlier schema up to date (:meth:`_upgrade`)."""
        if self._check_file():
            self._upgrade()
            return self
        with _exclusive_lock(self._lock_path):
            if self._check_file():
                return self
            from .seed import load_seed

            self._write(list(load_seed()), create=True, source="packaged seed evidence")
        return self

    def _upgrade(self) -> None:
        """Schema 1 → 2: add ``arms.injury_details`` (NULL: every group has its study's design, as the
        store held it). Copy-on-write under the store's lock, like every write; nothing is lost."""
        if self._upgraded:
            return
        try:
            con = duckdb.connect(str(self.path), read_only=True)
        except duckdb.IOException:
            return  # locked or unreadable: connect() says which, with its own message and retries
        with con:
            _verify(con, self.path)  # a file that is not a store is refused here, before anything is written
            columns = _arm_columns(con)
        if "injury_details" in columns:
            self._upgraded = True
            return
        with _exclusive_lock(self._lock_path):
            try:
                fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=str(self.path.parent))
            except OSError as exc:
                raise _cannot_use(self.path, f"is an evidence store of schema 1 and cannot be upgraded to schema "
                                             f"{SCHEMA_VERSION}: its folder refuses a new file ({exc.strerror})",
                                  "copy the store to a writable folder and give that path (--db)") from None
            os.close(fd)
            try:
                shutil.copyfile(self.path, tmp)
                with duckdb.connect(tmp) as con:
                    have = _arm_columns(con)
                    if "injury_details" not in have:  # another process may have upgraded it meanwhile
                        con.execute("ALTER TABLE arms ADD COLUMN injury_details VARCHAR")
                        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [SCHEMA_VERSION])
                os.replace(tmp, self.path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        self._verified = None
        self._upgraded = True

    @contextlib.contextmanager
    def connect(self):
        """A read-only DuckDB connection (safe alongside other readers and writers)."""
        self.ensure()
        con = None
        for attempt in range(50):
            try:
                con = duckdb.connect(str(self.path), read_only=True)
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise _damaged(self.path, exc) from None
                if attempt == 49:
                    raise InputError(f"the evidence store {printable(str(self.path))!r} is locked by another "
                                     "program (a DuckDB session holding it open for writing); close it and "
                                     "retry") from None
                time.sleep(0.05)
        try:
            st = os.stat(self.path)
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
            if self._verified != key:
                _verify(con, self.path)
                self._verified = key
            yield con
        finally:
            con.close()

    def _write(self, studies, create: bool = False, source: str = "", replace: bool = False):
        """Copy-on-write transaction; the caller holds the lock.

        Whether a study id already exists is decided here, on the copy, under the lock:
        with ``replace`` those studies are replaced, otherwise the write is refused with
        an :class:`ImportRejected` naming them (``source`` names the input).
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=str(self.path.parent))
            os.close(fd)
            os.unlink(tmp)
        except OSError as exc:
            raise _cannot_use(self.path, f"cannot be written: its folder refuses a new file ({exc.strerror})",
                              "choose a writable folder for the evidence store") from None
        try:
            if not create:
                shutil.copyfile(self.path, tmp)
            try:
                con = duckdb.connect(tmp)
            except duckdb.IOException as exc:
                raise _damaged(self.path, exc, tmp) from None
            try:
                if not create:
                    _verify(con, self.path, tmp)
                new_ids = [s.study_id for s in studies]
                clash = []
                if not create and new_ids:
                    clash = [r[0] for r in con.execute(
                        "SELECT study_id FROM studies WHERE study_id IN (SELECT unnest(?::VARCHAR[])) "
                        "ORDER BY study_id", [new_ids]).fetchall()]
                if clash and not replace:
                    raise ImportRejected(printable(source or "the studies"), [RowIssue(
                        0, "study_id", f"study_id {printable(sid)!r} already exists in the store; use a new id, or "
                                       "replace it (--replace; replace=True in Python)") for sid in clash])
                con.execute("BEGIN TRANSACTION")
                if create:
                    con.execute(_DDL)
                    con.execute("INSERT INTO meta VALUES ('schema_version', ?), ('seeded_from', ?)",
                                [SCHEMA_VERSION, source])
                for sid in clash:
                    for table in ("outcomes", "arms", "studies"):
                        con.execute(f"DELETE FROM {table} WHERE study_id = ?", [sid])
                start = con.execute("SELECT coalesce(max(outcome_id), 0) + 1 FROM outcomes").fetchone()[0]
                srows, arows, orows = _rows(studies, int(start))
                try:
                    for table, cols, rows in (("studies", _STUDY_COLS, srows), ("arms", _ARM_COLS, arows),
                                              ("outcomes", _OUT_COLS, orows)):
                        if rows:
                            df = pd.DataFrame(rows, columns=cols)  # noqa: F841 (used by duckdb replacement scan)
                            con.execute(f"INSERT INTO {table} SELECT {', '.join(cols)} FROM df")
                except duckdb.ConstraintException as exc:
                    raise ImportRejected(printable(source or "the studies"), [RowIssue(
                        0, "study_id", f"the store refused a duplicate key ({printable(str(exc))}); every study_id "
                                       "must be new (or pass --replace) and every arm_id unique within its study")
                    ]) from None
                con.execute("COMMIT")
                con.execute("CHECKPOINT")
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                raise
            finally:
                con.close()
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        finally:
            for leftover in (tmp, tmp + ".wal"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)

    # ------------------------------------------------------------------ queries
    def study_ids(self) -> list[str]:
        with self.connect() as con:
            return [r[0] for r in con.execute("SELECT study_id FROM studies ORDER BY study_id").fetchall()]

    def records(self, *, injury: str | None = None, species: str | None = None, product: str | None = None,
                readout: str | None = None, study_id: str | None = None) -> pd.DataFrame:
        """Flat table (one row per arm × time × readout) with optional filters.

        Filters: ``injury`` (id or group: ``aki``, ``sepsis``, ``ckd``), ``species`` (or
        ``rodent``), ``product`` (``msc``, ``cm``, ``ev``; keeps whole studies that have
        an arm of that product, control arms included), ``readout``, ``study_id``.
        """
        with self.connect() as con:
            df = con.execute(
                """
                SELECT s.study_id, s.species, s.strain, s.sex, s.injury, s.injury_raw,
                       coalesce(a.injury_details, s.injury_details) AS injury_details,
                       s.pmid, s.doi, o.url, a.arm_id, a.label AS arm, a.role, a.product, a.product_raw,
                       a.cell_source, a.donor, a.dose, a.dose_raw, a.dose_unit, a.route, a.timing_h, a.timing_raw,
                       a.co_intervention, o.readout, o.readout_raw, o.time_h, o.time_raw, o.unit, o.unit_raw,
                       o.mean, o.mean_raw, o.dispersion, o.dispersion_type, o.n, o.n_raw, o.quote,
                       o.source_location, o.notes, o.source_file, o.outcome_id
                FROM outcomes o JOIN arms a USING (study_id, arm_id) JOIN studies s USING (study_id)
                ORDER BY o.outcome_id
                """
            ).df()
        if study_id:
            df = df[df.study_id == study_id]
        if readout:
            df = df[df.readout == readout]
        if injury:
            df = df[[matches_injury(x, injury) for x in df.injury]]
        if species:
            df = df[[matches_species(x, species) for x in df.species]]
        if product:
            keep = {s for s, p in zip(df.study_id, df["product"]) if matches_product(p, product)}
            df = df[df.study_id.isin(keep)]
        df = df.drop(columns=["outcome_id"]).reset_index(drop=True)
        df["n"] = df["n"].astype("Int64")
        return df

    def studies(self, **filters) -> pd.DataFrame:
        """One row per study (after the same filters as :meth:`records`)."""
        rec = self.records(**filters)
        if rec.empty:
            return pd.DataFrame(columns=["study_id", "species", "injury", "products", "readouts", "rows",
                                         "rows_with_mean"])
        g = rec.groupby("study_id", sort=True)
        out = pd.DataFrame({
            "species": g.species.first(), "injury": g.injury.first(),
            "products": g["product"].agg(lambda x: ",".join(sorted({p for p in x if p and p != "none"}))),
            "readouts": g.readout.agg(lambda x: ",".join(sorted(set(x)))),
            "rows": g.size(), "rows_with_mean": g["mean"].agg(lambda x: int(x.notna().sum())),
        }).reset_index()
        return out

    def study(self, study_id: str) -> Study:
        """The full :class:`Study` (arms, outcomes, provenance); raises if unknown."""
        with self.connect() as con:
            s = con.execute("SELECT * FROM studies WHERE study_id = ?", [study_id]).df()
            if s.empty:
                raise InputError(f"study_id {study_id!r} is not in the store {self.path}; "
                                 "list the ids with `nephrosim evidence list`.")
            arms = con.execute("SELECT * FROM arms WHERE study_id = ? ORDER BY rowid", [study_id]).df()
            outs = con.execute("SELECT * FROM outcomes WHERE study_id = ? ORDER BY outcome_id", [study_id]).df()
        srow = _clean(s.iloc[0].to_dict())
        arm_objs = []
        for _, a in arms.iterrows():
            a = _clean(a.to_dict())
            oo = []
            for _, o in outs[outs.arm_id == a["arm_id"]].iterrows():
                o = _clean(o.to_dict())
                oo.append(Outcome(
                    readout=o["readout"], readout_raw=o["readout_raw"], time_h=o["time_h"], time_raw=o["time_raw"],
                    mean=o["mean"], mean_raw=o["mean_raw"], dispersion=o["dispersion"],
                    dispersion_type=o["dispersion_type"], n=o["n"], n_raw=o["n_raw"], unit=o["unit"],
                    unit_raw=o["unit_raw"],
                    provenance=Provenance(quote=o["quote"], source_location=o["source_location"], notes=o["notes"],
                                          url=o["url"], source_file=o["source_file"]),
                ))
            arm_objs.append(Arm(arm_id=a["arm_id"], label=a["label"], role=a["role"], product=a["product"],
                                product_raw=a["product_raw"], cell_source=a["cell_source"], donor=a["donor"],
                                dose=a["dose"], dose_raw=a["dose_raw"], dose_unit=a["dose_unit"], route=a["route"],
                                timing_h=a["timing_h"], timing_raw=a["timing_raw"],
                                co_intervention=a["co_intervention"] or "", injury_details=a.get("injury_details"),
                                outcomes=tuple(oo)))
        return Study(study_id=srow["study_id"], species=srow["species"], species_raw=srow["species_raw"],
                     strain=srow["strain"], sex=srow["sex"], injury=srow["injury"], injury_raw=srow["injury_raw"],
                     injury_details=srow["injury_details"],
                     provenance=Provenance(pmid=srow["pmid"], doi=srow["doi"], url=srow["url"], quote=srow["quote"],
                                           source_location=srow["source_location"], notes=srow["notes"],
                                           source_file=srow["source_file"]),
                     arms=tuple(arm_objs))

    def export(self, path: str | os.PathLike | None = None, **filters) -> pd.DataFrame:
        """Flat table in import format (:data:`~nephrosim.evidence.schema.FLAT_COLUMNS`); written to ``path``
        (CSV, or Parquet/JSON by extension) when given."""
        df = self.records(**filters)
        df = df[[c for c in FLAT_COLUMNS if c in df.columns]]
        if path is not None:
            from nephrosim.io import atomic_path

            from .tables import write_csv

            p = Path(path)
            suffix = p.suffix.lower()
            if suffix == ".parquet":
                with atomic_path(p) as tmp:
                    df.to_parquet(tmp, index=False)
            elif suffix == ".json":
                with atomic_path(p) as tmp:
                    df.to_json(tmp, orient="records", indent=1)
            elif suffix == ".csv":
                write_csv(df, p)  # spreadsheet formulas neutralised (OWASP)
            else:
                raise InputError(f"export to {printable(str(p))!r}: use a .csv, .parquet or .json file name")
        return df

    # ------------------------------------------------------------------ writes
    def import_csv(self, path: str | os.PathLike, replace: bool = False) -> ImportReport:
        """Validate every row of ``path`` and import it all-or-nothing.

        Parameters
        ----------
        path : str or Path
            CSV in the import format (see :mod:`nephrosim.evidence.importer`).
        replace : bool, default False
            Replace studies whose ``study_id`` already exists (otherwise that is a reject).

        Returns
        -------
        ImportReport

        Raises
        ------
        ImportRejected
            Listing row, column and reason of every problem; the database is untouched.
        """
        from .importer import parse_import_table

        studies = parse_import_table(path)  # raises ImportRejected before any write
        self.ensure()
        with _exclusive_lock(self._lock_path):  # the id check and the write happen under one lock
            self._write(studies, source=str(path), replace=replace)
        return ImportReport(
            source=str(path), studies=len(studies), arms=sum(len(s.arms) for s in studies),
            outcomes=sum(len(a.outcomes) for s in studies for a in s.arms),
            study_ids=tuple(s.study_id for s in studies),
        )

    def add_studies(self, studies, replace: bool = False) -> None:
        """Add validated :class:`Study` objects in one atomic write."""
        studies = list(studies)
        self.ensure()
        with _exclusive_lock(self._lock_path):
            self._write(studies, source="add_studies", replace=replace)


def _clean(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if v is None or (isinstance(v, float) and v != v):
            out[k] = None
        elif hasattr(v, "item") and not isinstance(v, str):
            out[k] = v.item()
        else:
            out[k] = v
        if v is pd.NA:
            out[k] = None
    return out


def shipped_records() -> pd.DataFrame:
    """Every record of the evidence shipped with nephrosim, read through a fresh store in a temporary
    folder — never the user's own store (whose imports would change a pre-registered split or a fit)."""
    with tempfile.TemporaryDirectory(prefix="nephrosim-evidence-") as tmp:
        return EvidenceStore(Path(tmp) / "evidence.duckdb").ensure().records()
