"""Load the second-generation curated evidence (``data/curated/*.csv``) into the store schema.

Every ``curated/*.csv`` except ``contrasts*.csv`` follows ``curated/FORMAT.md`` section 1: one
row per study × arm × readout × time, with fixed columns (:data:`COLUMNS`) and controlled
vocabularies (:data:`VOCABULARY`). This module validates each file completely — every
problem is reported with its file, row, column, the bad value and the fix — and maps the rows
onto :class:`~nephrosim.evidence.schema.Study` / ``Arm`` / ``Outcome``:

* species, injury, role and product are already the store's vocabularies (``cm`` is the
  store's ``cm``, ``ev`` its ``ev``); readouts are the store's readouts (``kim1``, ``ngal``,
  ``tnf_alpha``, ``il10`` and ``glomerulosclerosis`` were added to
  :data:`~nephrosim.evidence.vocab.READOUTS` for them);
* units are kept as written in ``unit_raw``; ``unit`` is the registry spelling when the unit
  is known for the readout (``nmol/gm tissue`` → ``nmol/g tissue``, ``mg %`` → ``mg/dL``),
  else empty;
* ``dispersion_type`` ``not_stated`` becomes "unspecified" (pooling decides and reports);
* **a row whose ``time_h`` is empty stays design-only** (mean missing; the number read stays
  in ``mean_raw`` and the note says why): a time is never invented, so pooling never uses it;
* the fields the schema has no place for stay in text: ``value_source``, ``randomised``,
  ``blinded``, ``sample_size_calc``, ``cultivation`` and ``n_doses`` lead each outcome's
  ``notes``; ``year``, ``clamp_min``, ``clamp_temp_c``, ``laterality`` and ``toxin_dose``
  are appended to the study's ``injury_details``.

Cross-row rules (FORMAT.md): one ``arm_id`` per group (rows sharing an ``arm_id`` must agree
on the arm's fields, see :func:`~nephrosim.evidence.importer.arm_conflicts`); study-level
fields agree within a study; a study with a treated arm has a control arm; no two rows give
the same arm × readout × time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from .errors import ImportRejected, InputError, RowIssue
from .importer import CONTROL_CHARACTERS, MAX_N, arm_conflicts, build_arms, parse_number
from .schema import Outcome, Provenance, Study
from .seed import detect_co_intervention
from .tables import read_csv_table
from .vocab import READOUTS, normalize_unit

__all__ = ["COLUMNS", "VOCABULARY", "CuratedFile", "curated_dir", "curated_files", "read_curated", "load_curated"]

#: FORMAT.md section 1 columns, in order
COLUMNS = (
    "study_id", "pmid", "doi", "url", "year", "species", "strain", "sex", "injury", "injury_details", "clamp_min",
    "clamp_temp_c", "laterality", "toxin_dose", "toxin_dose_unit", "arm_id", "arm", "role", "product", "cell_source",
    "donor", "cultivation", "dose", "dose_unit", "route", "timing_h", "n_doses", "readout", "time_h", "unit", "mean",
    "dispersion", "dispersion_type", "n", "value_source", "quote", "source_location", "randomised", "blinded",
    "sample_size_calc", "notes",
)

_YES_NO = ("yes", "no", "not_stated")
#: FORMAT.md controlled vocabularies (an empty cell is allowed unless the column is in _REQUIRED)
VOCABULARY: dict[str, tuple[str, ...]] = {
    "species": ("mouse", "rat", "rabbit", "pig", "dog", "sheep", "monkey", "human"),
    "sex": ("male", "female", "both"),
    "injury": ("ischemia_reperfusion", "cisplatin", "glycerol", "gentamicin", "sepsis_clp", "sepsis_other",
               "endotoxemia_lps", "cardiac_surgery_aki", "uuo", "nephrectomy_5_6", "adriamycin",
               "aristolochic_acid", "diabetic_nephropathy", "other"),
    "laterality": ("bilateral", "unilateral", "unilateral_with_nephrectomy"),
    "toxin_dose_unit": ("mg/kg", "mL/kg"),
    "role": ("treated", "control", "sham", "comparator"),
    "product": ("msc", "cm", "ev", "none", "other"),
    "cell_source": ("bone_marrow", "adipose", "umbilical_cord", "wharton_jelly", "placenta", "amniotic",
                    "menstrual_blood", "kidney", "other"),
    "donor": ("autologous", "syngeneic", "allogeneic", "xenogeneic_human", "xenogeneic_other"),
    "dose_unit": ("cells", "cells/kg", "ug_protein", "ug_protein/kg", "particles", "mL", "other"),
    "route": ("iv", "intra_arterial", "renal_artery", "intraparenchymal", "subcapsular", "intraperitoneal", "topical",
              "other"),
    "readout": ("serum_creatinine", "bun", "mortality", "survival", "proteinuria", "uacr", "creatinine_clearance",
                "il6", "renal_mda", "renal_gsh", "renal_sod", "tubular_apoptosis", "tubular_proliferation",
                "interstitial_fibrosis", "tubular_injury_score", "interstitial_macrophages", "capillary_density",
                "kim1", "ngal", "tnf_alpha", "il10", "glomerulosclerosis", "other"),
    "dispersion_type": ("SD", "SEM", "not_stated"),
    "value_source": ("text", "table", "figure_digitised", "computed"),
    "randomised": _YES_NO,
    "blinded": _YES_NO,
    "sample_size_calc": _YES_NO,
}
_REQUIRED = ("study_id", "species", "injury", "arm_id", "arm", "role", "product", "readout", "source_location")
_NUMBERS = ("clamp_min", "clamp_temp_c", "toxin_dose", "dose", "timing_h", "time_h", "mean", "dispersion")
_INTEGERS = ("n", "n_doses")
_ID = re.compile(r"[A-Za-z0-9_-]+")
_STUDY_FIELDS = ("pmid", "doi", "year", "species", "strain", "sex", "injury", "injury_details", "clamp_min",
                 "clamp_temp_c", "laterality", "toxin_dose", "toxin_dose_unit")
_PRODUCTS_BY_ROLE = {"treated": ("msc", "cm", "ev"), "control": ("none",), "sham": ("none",)}
#: arm-level columns; rows sharing an arm_id must agree on them
_ARM_COLUMNS = ("arm", "role", "product", "cell_source", "donor", "cultivation", "dose", "dose_unit", "route",
                "timing_h", "n_doses")


def curated_dir(data=None):
    """The ``curated`` folder of the packaged data (or of ``data``, a data folder)."""
    if data is None:
        from .seed import data_dir

        data = data_dir()
    return data / "curated"


def curated_files(folder=None) -> list:
    """The arm-row files of ``folder`` (default :func:`curated_dir`): ``*.csv`` except ``contrasts*.csv``."""
    folder = curated_dir() if folder is None else folder
    return sorted((f for f in folder.iterdir() if f.name.endswith(".csv") and not f.name.startswith("contrasts")),
                  key=lambda f: f.name)


@dataclass(frozen=True)
class CuratedFile:
    """One validated curated file: its studies, and every problem found (empty when valid)."""

    name: str
    frame: pd.DataFrame
    studies: tuple[Study, ...]
    issues: tuple[RowIssue, ...]


def _cell(v) -> str | None:
    if v is None or (isinstance(v, float) and v != v):
        return None
    v = str(v).strip()
    return v or None


def _check_row(row: int, r: dict, issues: list) -> dict:
    """Per-row checks; returns the parsed numbers."""
    for col, v in r.items():
        if v is not None and CONTROL_CHARACTERS.search(v):
            issues.append(RowIssue(row, col, f"contains a control character ({v!r}); delete it"))
    for col in _REQUIRED:
        if r.get(col) is None:
            issues.append(RowIssue(row, col, "empty; FORMAT.md requires it on every row"))
    for col in ("study_id", "arm_id"):
        v = r.get(col)
        if v is not None and not _ID.fullmatch(v):
            issues.append(RowIssue(row, col, f"{v!r} does not match [A-Za-z0-9_-]+; use letters, digits, _ and - "
                                             "only (no spaces or curator notes)"))
    for col, allowed in VOCABULARY.items():
        v = r.get(col)
        if v is not None and v not in allowed:
            issues.append(RowIssue(row, col, f"{v!r} is not in the FORMAT.md vocabulary; use one of "
                                             f"{', '.join(allowed)}"))
    if r.get("pmid") is not None and not r["pmid"].isdigit():
        issues.append(RowIssue(row, "pmid", f"{r['pmid']!r} is not a PubMed id; digits only, or leave it empty"))
    if r.get("doi") is not None and not r["doi"].startswith("10."):
        issues.append(RowIssue(row, "doi", f"{r['doi']!r} is not a DOI; it starts with '10.' (no 'doi:' or URL)"))
    if r.get("year") is not None and not re.fullmatch(r"(1[89]|20)\d\d", r["year"]):
        issues.append(RowIssue(row, "year", f"{r['year']!r} is not a 4-digit publication year"))
    num = {}
    for col in _NUMBERS + _INTEGERS:
        x, problem = parse_number(r.get(col), integer=col in _INTEGERS)
        if problem:
            issues.append(RowIssue(row, col, problem))
        num[col] = x
    for col in _INTEGERS:
        if num[col] is not None and not 1 <= num[col] <= MAX_N:
            issues.append(RowIssue(row, col, f"{r[col]} is impossible; a count of subjects or doses lies between 1 "
                                             f"and {MAX_N:,}"))
            num[col] = None
    if num["dose"] is not None and num["dose"] < 0:
        issues.append(RowIssue(row, "dose", f"dose {r['dose']} is negative; doses are >= 0"))
    if num["dispersion"] is not None:
        if num["dispersion"] < 0:
            issues.append(RowIssue(row, "dispersion", f"{r['dispersion']} is negative; SD/SEM are >= 0"))
        if num["mean"] is None:
            issues.append(RowIssue(row, "dispersion", "given without a mean; add the mean or clear it"))
        if r.get("dispersion_type") is None:
            issues.append(RowIssue(row, "dispersion_type", "empty while a dispersion is given; write SD, SEM or "
                                                           "not_stated"))
    if num["mean"] is not None:
        for col, why in (("quote", "the sentence or table row the number was read in"),
                         ("unit", "the unit as the source gives it"), ("value_source", "how the number was read")):
            if r.get(col) is None:
                issues.append(RowIssue(row, col, f"empty on a row with a mean; give {why}"))
    role, product = r.get("role"), r.get("product")
    if role in _PRODUCTS_BY_ROLE and product is not None and product not in _PRODUCTS_BY_ROLE[role]:
        issues.append(RowIssue(row, "product", f"{product!r} does not fit role {role!r}; a {role} arm has product "
                                               f"{' or '.join(_PRODUCTS_BY_ROLE[role])}"))
    return num


def _notes(r: dict, extra: list[str]) -> str | None:
    tags = [f"{k}={r[k]}" for k in ("value_source", "randomised", "blinded", "sample_size_calc", "cultivation",
                                    "n_doses") if r.get(k) is not None]
    parts = ["; ".join(tags)] if tags else []
    parts += extra
    if r.get("notes"):
        parts.append(r["notes"])
    return " | ".join(parts) or None


def _design(r: dict) -> str | None:
    bits = []
    if r.get("clamp_min"):
        bits.append(f"clamp {r['clamp_min']} min" + (f" at {r['clamp_temp_c']} °C" if r.get("clamp_temp_c") else ""))
    if r.get("laterality"):
        bits.append(r["laterality"].replace("_", " "))
    if r.get("toxin_dose"):
        bits.append(f"toxin dose {r['toxin_dose']} {r.get('toxin_dose_unit') or ''}".strip())
    if r.get("year"):
        bits.append(f"published {r['year']}")
    text = "; ".join(x for x in [r.get("injury_details"), "; ".join(bits)] if x)
    return text or None


def read_curated(path, *, source: str | None = None) -> CuratedFile:
    """Validate one curated file (FORMAT.md section 1) and map it to studies.

    Arguments
    ---------
    path : path-like or importlib Traversable
    source : str, optional
        Name recorded in ``source_file`` (default ``curated/<file name>``).

    Returns
    -------
    CuratedFile
        ``issues`` lists every problem (row = line in the file); ``studies`` is empty then.
    """
    name = getattr(path, "name", str(path))
    source = source or f"curated/{name}"
    try:
        df = read_csv_table(Path(str(path)), what="curated evidence file", allow_empty=True,
                            fix=f"the header is FORMAT.md section 1: {','.join(COLUMNS)}")
    except InputError as exc:
        return CuratedFile(name, pd.DataFrame(), (), (RowIssue(0, "", str(exc)),))
    if tuple(df.columns) != COLUMNS:
        missing = [c for c in COLUMNS if c not in df.columns]
        extra = [c for c in df.columns if c not in COLUMNS]
        why = (f"missing {', '.join(missing)}" if missing else "") + ("; " if missing and extra else "") + (
            f"unknown {', '.join(extra)}" if extra else "") or "the columns are out of order"
        return CuratedFile(name, df, (), (RowIssue(1, "", f"the header is not FORMAT.md section 1 ({why}); use "
                                                         f"{','.join(COLUMNS)}"),))
    issues: list[RowIssue] = []
    rows = []
    for i, raw in enumerate(df.to_dict("records")):
        r = {k: _cell(v) for k, v in raw.items()}
        rows.append((i + 2, r, _check_row(i + 2, r, issues)))
    if issues:
        return CuratedFile(name, df, (), tuple(issues))

    by_study: dict[str, list] = {}
    for item in rows:
        by_study.setdefault(item[1]["study_id"], []).append(item)
    for sid, items in by_study.items():
        row0, r0, _ = items[0]
        for row, r, _ in items[1:]:
            for col in _STUDY_FIELDS:
                if r.get(col) != r0.get(col):
                    issues.append(RowIssue(row, col, f"study {sid!r} has {col}={r0.get(col)!r} on row {row0} but "
                                                     f"{r.get(col)!r} here; study-level fields agree within a study "
                                                     "(use another study_id for another study)"))
        issues.extend(arm_conflicts((row, sid, r["arm_id"], {c: r.get(c) for c in _ARM_COLUMNS})
                                    for row, r, _ in items))
        seen: dict[tuple, int] = {}
        for row, r, num in items:
            if r["readout"] == "other" or num["time_h"] is None:
                continue  # several "other" measures, or time windows, may share a time
            key = (r["arm_id"], r["readout"], num["time_h"])
            if key in seen:
                issues.append(RowIssue(row, "readout", f"study {sid!r}, arm {r['arm_id']!r}: {r['readout']} at "
                                                       f"{r['time_h']} h is already on row {seen[key]}; keep one"))
            seen.setdefault(key, row)
        roles = {r["role"] for _, r, _ in items}
        if "treated" in roles and "control" not in roles:
            issues.append(RowIssue(row0, "role", f"study {sid!r} has a treated arm but no control arm (injured, "
                                                 "vehicle or untreated); add it, FORMAT.md requires a matched control"))
    if issues:
        return CuratedFile(name, df, (), tuple(issues))

    studies = []
    for sid, items in by_study.items():
        study = _study(sid, items, source, issues)
        if study is not None:
            studies.append(study)
    return CuratedFile(name, df, tuple(studies) if not issues else (), tuple(issues))


def _study(sid, items, source, issues) -> Study | None:
    arms: dict[str, dict] = {}
    for row, r, num in items:
        aid = r["arm_id"]
        if aid not in arms:
            arms[aid] = dict(
                arm_id=aid, label=r["arm"], role=r["role"], product=r["product"], product_raw=r["product"],
                cell_source=r.get("cell_source"), donor=r.get("donor"), dose=num["dose"], dose_raw=r.get("dose"),
                dose_unit=r.get("dose_unit"), route=r.get("route"), timing_h=num["timing_h"],
                timing_raw=r.get("timing_h"), co_intervention=detect_co_intervention(r["arm"]),
                injury_details=own if (own := _design(r)) != _design(items[0][1]) else None, outcomes=[], row=row)
        extra = []
        mean, disp = num["mean"], num["dispersion"]
        if mean is not None and num["time_h"] is None:
            extra.append("time not stated as a number in the source: the value is kept in mean_raw only "
                         "(design-only; pooling never invents a time)")
            mean, disp = None, None
        dtype = r.get("dispersion_type")
        try:
            arms[aid]["outcomes"].append(Outcome(
                readout=r["readout"], readout_raw=r["readout"], time_h=num["time_h"], time_raw=r.get("time_h"),
                mean=mean, mean_raw=r.get("mean"), dispersion=disp,
                dispersion_type=dtype if dtype in ("SD", "SEM") and mean is not None else None,
                n=None if num["n"] is None else int(num["n"]), n_raw=r.get("n"),
                unit=normalize_unit(r["readout"], r.get("unit")) if r["readout"] in READOUTS else None,
                unit_raw=r.get("unit"),
                provenance=Provenance(url=r.get("url"), quote=r.get("quote"), source_location=r.get("source_location"),
                                      notes=_notes(r, extra), source_file=source),
            ))
        except ValidationError as exc:
            err = exc.errors()[0]
            issues.append(RowIssue(row, str(err["loc"][0]) if err["loc"] else "mean",
                                   err["msg"].removeprefix("Value error, ") + "; check the value and its unit"))
    r0 = items[0][1]
    arm_objs = build_arms(arms, issues)
    if issues:
        return None
    return Study(
        study_id=sid, species=r0["species"], species_raw=r0["species"], strain=r0.get("strain"), sex=r0.get("sex"),
        injury=r0["injury"], injury_raw=r0["injury"], injury_details=_design(r0),
        provenance=Provenance(pmid=r0.get("pmid"), doi=r0.get("doi"), url=r0.get("url"), source_file=source),
        arms=tuple(arm_objs),
    )


def load_curated(folder=None) -> tuple[Study, ...]:
    """Every study of every curated file; :class:`ImportRejected` listing all problems of the first bad file.

    All-or-nothing: one invalid row anywhere means no curated study is returned.
    """
    out: list[Study] = []
    for f in curated_files(folder):
        cf = read_curated(f)
        if cf.issues:
            raise ImportRejected(f"curated/{cf.name}", cf.issues)
        out.extend(cf.studies)
    return tuple(out)
