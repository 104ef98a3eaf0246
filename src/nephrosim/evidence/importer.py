"""Strict validation of user CSVs for ``nephrosim evidence import``.

Format: one row per arm × time × readout, columns (required in **bold**):
**study_id, species, injury, arm, product, readout**, role, strain, sex, injury_details,
pmid, doi, url, cell_source, donor, dose, dose_unit, route, timing_h, co_intervention,
time_h, unit, mean, dispersion, dispersion_type, n, quote, source_location, notes.
(``injury_model`` is accepted for ``injury``.)

Every row is checked and **every** problem is reported (row = line in the file, the
header being line 1), with its column and the fix:

* unknown species / injury / product / readout / role (the message lists the choices);
* a ``mean`` without ``unit``, or a unit not known for the readout;
* a ``mean`` without ``n``; ``n`` that is not an integer ≥ 1;
* a ``dispersion`` without ``dispersion_type`` SD or SEM, or a negative dispersion;
* impossible values: negative concentrations (creatinine, BUN, ...), percentages
  outside 0–100, counts larger than n, values above a readout's physical maximum;
* numbers that do not parse (plain decimal numbers only: no ``nan``/``inf``, no
  ``TRUE``/``FALSE``, no thousands separators); ``n`` above :data:`MAX_N`; times beyond
  ±:data:`MAX_ABS_TIME_H` hours;
* control characters (terminal escape sequences, bidirectional overrides) in any cell;
* conflicting study-level fields within a study; duplicate arm × time × readout rows;
* two rows that share an ``arm_id`` (or, without an ``arm_id`` column, an ``arm`` label) but
  describe different groups (label, role, product, cell source, donor, dose, route, timing or
  co-intervention differ): each group needs its own ``arm_id``.

The file itself must pass :func:`nephrosim.evidence.tables.read_csv_table`: a ``.csv`` of at
most 20 MB, UTF-8 text, one header line without empty or repeated names. A cell that an
export neutralised against spreadsheet formulas (``'=...``, ``'-2+3``) is read back without
the quote.

Design-only rows (no mean) are accepted and stored with the mean missing.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from .errors import ImportRejected, InputError, RowIssue
from .schema import Arm, Outcome, Provenance, Study
from .seed import classify_role, detect_co_intervention
from .vocab import (
    INJURIES, PRODUCTS, READOUTS, ROLES, SPECIES, canonical_injury, canonical_readout, canonical_species,
    normalize_unit, product_class, readout_spec,
)

__all__ = ["parse_import_table", "validate_import_frame", "arm_conflicts", "parse_number", "REQUIRED_COLUMNS",
           "OPTIONAL_COLUMNS", "MAX_N", "MAX_ABS_TIME_H", "ARM_FIELDS", "CONTROL_CHARACTERS"]

REQUIRED_COLUMNS = ("study_id", "species", "injury", "arm", "product", "readout")
OPTIONAL_COLUMNS = ("role", "strain", "sex", "injury_details", "pmid", "doi", "url", "cell_source", "donor", "dose",
                    "dose_unit", "route", "timing_h", "co_intervention", "time_h", "unit", "mean", "dispersion",
                    "dispersion_type", "n", "quote", "source_location", "notes", "arm_id")
_ALIASES = {"injury_model": "injury", "sd": "dispersion"}


#: Largest per-arm n accepted (a larger number is a typo; the store keeps n as a 32-bit integer).
MAX_N = 10_000_000
#: Largest |time| in hours accepted for ``time_h`` and ``timing_h`` (100 years).
MAX_ABS_TIME_H = 876_000.0

_PLAIN_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_BOOLEAN_WORDS = {"true", "false", "yes", "no", "t", "f", "y", "n"}
#: C0/C1 control characters (terminal escapes) and bidirectional overrides; tab, LF and CR are allowed
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NEUTRALISED = re.compile(r"^'[=+\-@\t\r]")


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and v.strip() == "")


def parse_number(v, *, integer: bool = False) -> tuple[float | None, str | None]:
    """Parse a cell as a plain decimal number: ``(value, None)`` or ``(None, what is wrong + fix)``.

    Empty → ``(None, None)``. Refused: words, booleans, ``nan``/``inf``, thousands
    separators, non-finite results (``1e999``) and, with ``integer=True``, fractions.
    """
    if _blank(v):
        return None, None
    text = str(v).strip()
    if not _PLAIN_NUMBER.fullmatch(text):
        low = text.lower()
        if low in _BOOLEAN_WORDS:
            return None, f"{text!r} is a yes/no value where a number is expected; write a number or leave it empty"
        if low.lstrip("+-") in ("nan", "inf", "infinity"):
            return None, f"{text!r} is not a finite number; write the number, or leave the cell empty if not reported"
        return None, f"{text!r} is not a number; write a plain number (e.g. 1.25) or leave it empty"
    x = float(text)
    if not math.isfinite(x):
        return None, f"{text!r} is too large to be a number nephrosim can store; check the cell"
    if integer and x != int(x):
        return None, f"{text!r} must be a whole number"
    return x, None


def _num(v, row, col, issues, *, integer=False):
    x, problem = parse_number(v, integer=integer)
    if problem is not None:
        issues.append(RowIssue(row, col, problem))
    return x


#: arm-level fields: rows that share an arm_id must agree on all of them
ARM_FIELDS = ("arm", "role", "product", "cell_source", "donor", "dose", "dose_unit", "route", "timing_h",
              "co_intervention")


def arm_conflicts(rows, id_column: str = "arm_id") -> list[RowIssue]:
    """Rows that share an arm id within a study but describe different groups.

    Arguments
    ---------
    rows : iterable of (row, study_id, arm_id, fields)
        ``fields`` maps each of :data:`ARM_FIELDS` (or a subset) to its parsed value.
    id_column : str
        The column that holds the id, for the message (``arm_id``, or ``arm`` when the
        table has no ``arm_id`` column).

    Returns
    -------
    list of RowIssue
        One per conflicting row, naming both rows, the fields that differ and the fix
        ("give each group its own arm_id").
    """
    first: dict[tuple, tuple[int, dict]] = {}
    issues = []
    for row, sid, aid, fields in rows:
        key = (sid, aid)
        if key not in first:
            first[key] = (row, fields)
            continue
        row0, f0 = first[key]
        diff = [k for k in fields if f0.get(k) != fields.get(k)]
        if diff:
            shown = "; ".join(f"{k} {f0.get(k)!r} vs {fields.get(k)!r}" for k in diff)
            issues.append(RowIssue(row, id_column, (
                f"study {sid!r}: rows {row0} and {row} share {id_column} {aid!r} but describe different groups "
                f"({shown}); give each group its own arm_id (one arm_id per group, repeated only on the rows of "
                "that group)")))
    return issues


def validate_import_frame(df: pd.DataFrame, source: str = "<table>") -> tuple[list[Study], list[RowIssue]]:
    """Validate a table in import format; return the studies and the list of issues."""
    issues: list[RowIssue] = []
    df = df.rename(columns={c: _ALIASES.get(c.strip().lower(), c.strip().lower()) for c in df.columns})
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        issues.append(RowIssue(1, ",".join(missing), f"required column(s) missing: {', '.join(missing)}; "
                                                        f"the header must contain {', '.join(REQUIRED_COLUMNS)}"))
        return [], issues
    unknown = [c for c in df.columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        issues.append(RowIssue(1, ",".join(unknown), "unknown column(s); rename them to one of "
                                                       f"{', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)} or move "
                                                       "the content into 'notes'"))
    if df.empty:
        issues.append(RowIssue(1, "", "the file has no data rows"))
        return [], issues

    parsed = []
    for i, raw in enumerate(df.to_dict("records")):
        row = i + 2
        r = {}
        n_before = len(issues)
        for k, v in raw.items():
            if _blank(v):
                r[k] = None
                continue
            v = str(v).strip()
            bad = CONTROL_CHARACTERS.search(v)
            if bad:
                issues.append(RowIssue(row, k, f"contains the control character {bad.group()!r} (a terminal escape "
                                               "or text-direction override); delete it"))
            if _NEUTRALISED.match(v):
                v = v[1:]  # a formula-neutralised cell written by an export: read it back as written
            r[k] = v
        if r.get("study_id") is None:
            issues.append(RowIssue(row, "study_id", "empty; give every row the id of its study"))
        sp = r.get("species")
        species = canonical_species(sp) if sp else None
        if sp is None or species is None or (sp.lower() not in SPECIES and sp.lower().rstrip("s") not in SPECIES):
            issues.append(RowIssue(row, "species", f"unknown species {sp!r}; use one of {', '.join(SPECIES)}"))
        inj = r.get("injury")
        injury = canonical_injury(inj) if inj else None
        if inj is None or injury is None or (injury == "other" and inj.lower() != "other"):
            issues.append(RowIssue(row, "injury", f"unknown injury {inj!r}; use one of {', '.join(INJURIES)}"))
        if r.get("arm") is None:
            issues.append(RowIssue(row, "arm", "empty; name the group (e.g. 'vehicle', 'MSC 1e6 IV')"))
        prod = r.get("product")
        pcls = product_class(prod) if prod else None
        if pcls is None:
            issues.append(RowIssue(row, "product", f"unknown product {prod!r}; use one of {', '.join(PRODUCTS)} "
                                                   "(none = vehicle/untreated)"))
        role = (r.get("role") or "").lower() or None
        if role is not None and role not in ROLES:
            issues.append(RowIssue(row, "role", f"unknown role {r.get('role')!r}; use one of {', '.join(ROLES)}"))
        if role is None and r.get("arm") is not None and pcls is not None:
            role = classify_role(r["arm"], pcls)
        ro = r.get("readout")
        if ro is None or ro not in READOUTS:
            guess = canonical_readout(ro or "")
            hint = f" (did you mean {guess[0]!r}?)" if ro and len(guess) == 1 and guess[0] not in ("other",) else ""
            issues.append(RowIssue(row, "readout", f"unknown readout {ro!r}{hint}; use one of "
                                                   f"{', '.join(sorted(READOUTS))}"))
            spec = None
        else:
            spec = readout_spec(ro)
        time_h = _num(r.get("time_h"), row, "time_h", issues)
        timing_h = _num(r.get("timing_h"), row, "timing_h", issues)
        dose = _num(r.get("dose"), row, "dose", issues)
        if dose is not None and dose < 0:
            issues.append(RowIssue(row, "dose", f"dose {dose:g} is negative; doses are >= 0"))
        mean = _num(r.get("mean"), row, "mean", issues)
        disp = _num(r.get("dispersion"), row, "dispersion", issues)
        n = _num(r.get("n"), row, "n", issues, integer=True)
        if n is not None and n < 1:
            issues.append(RowIssue(row, "n", f"n={n:g} is impossible; a group has at least 1 subject"))
            n = None
        elif n is not None and n > MAX_N:
            issues.append(RowIssue(row, "n", f"n={r.get('n')} is implausible for one arm (at most {MAX_N:,}); "
                                             "check the cell (n is the number of subjects in this arm)"))
            n = None
        for col, t in (("time_h", time_h), ("timing_h", timing_h)):
            if t is not None and abs(t) > MAX_ABS_TIME_H:
                issues.append(RowIssue(row, col, f"{r.get(col)} h is beyond ±{MAX_ABS_TIME_H:,.0f} h (100 years); "
                                                 "give hours after the insult"))
        dtype = r.get("dispersion_type")
        if dtype is not None:
            dtype = {"SD": "SD", "S.D.": "SD", "SEM": "SEM", "SE": "SEM", "S.E.M.": "SEM"}.get(dtype.upper())
            if dtype is None:
                issues.append(RowIssue(row, "dispersion_type", f"unknown dispersion type {r.get('dispersion_type')!r}; "
                                                               "use SD or SEM"))
                dtype = None
        if disp is not None:
            if disp < 0:
                issues.append(RowIssue(row, "dispersion", f"dispersion {disp:g} is negative; SD/SEM are >= 0"))
            if r.get("dispersion_type") is None:
                issues.append(RowIssue(row, "dispersion_type", "missing; a dispersion is given, so say whether it is "
                                                               "SD or SEM"))
            if mean is None:
                issues.append(RowIssue(row, "mean", "missing while a dispersion is given; add the mean or drop the "
                                                    "dispersion"))
        unit = r.get("unit")
        unit_norm = None
        if mean is not None:
            if n is None and r.get("n") is None:
                issues.append(RowIssue(row, "n", "missing; a mean is given, so give the number of subjects in the arm"))
            if unit is None:
                issues.append(RowIssue(row, "unit", "missing; a mean is given, so give its unit"))
            elif spec is not None:
                unit_norm = normalize_unit(spec.name, unit)
                if unit_norm is None:
                    choices = ", ".join(sorted(spec.units)) or "a unit pint understands, or score/%/fold/count"
                    issues.append(RowIssue(row, "unit", f"unit {unit!r} is not known for readout {spec.name!r}; "
                                                        f"use one of {choices}"))
            if spec is not None and unit_norm is not None:
                f = spec.units.get(unit_norm, 1.0)
                if unit_norm == "count":
                    if mean < 0 or (n is not None and mean > n):
                        issues.append(RowIssue(row, "mean", f"count {mean:g} is impossible for n={n}; "
                                                            "it must lie between 0 and n"))
                elif unit_norm == "%" or (spec.kind == "binary" and unit_norm == "proportion"):
                    top = 100.0 if unit_norm == "%" else 1.0
                    if not (0 <= mean <= top):
                        issues.append(RowIssue(row, "mean", f"{mean:g} {unit_norm} is outside 0–{top:g}"))
                else:
                    val = mean * f if math.isfinite(f) else mean
                    if spec.minimum is not None and val < spec.minimum:
                        issues.append(RowIssue(row, "mean", f"{mean:g} {unit} is impossible for {spec.name} "
                                                            f"(must be >= {spec.minimum:g}); check the sign"))
                    if spec.maximum is not None and val > spec.maximum:
                        issues.append(RowIssue(row, "mean", f"{mean:g} {unit} is implausibly high for {spec.name} "
                                                            f"(max {spec.maximum:g} {spec.canonical_unit}); check the unit"))
        if len(issues) == n_before:
            parsed.append(dict(row=row, r=r, species=species, injury=injury, product=pcls, role=role, readout=ro,
                               time_h=time_h, timing_h=timing_h, dose=dose, mean=mean, disp=disp, n=n, dtype=dtype,
                               unit=unit_norm if unit_norm is not None else unit))

    # cross-row checks
    by_study: dict[str, list[dict]] = {}
    for p in parsed:
        by_study.setdefault(p["r"]["study_id"], []).append(p)
    seen = set()
    id_column = "arm_id" if "arm_id" in df.columns else "arm"
    for p in parsed:
        r = p["r"]
        p["aid"] = r.get("arm_id") or r["arm"]
        p["co_intervention"] = r.get("co_intervention") or detect_co_intervention(r["arm"])
    for sid, rows in by_study.items():
        first = rows[0]
        for p in rows[1:]:
            for key in ("species", "injury"):
                if p[key] != first[key]:
                    issues.append(RowIssue(p["row"], key, f"study {sid!r} has {key}={first[key]!r} on row "
                                                          f"{first['row']} but {p[key]!r} here; one study has one "
                                                          f"{key} (split it into two study ids otherwise)"))
        issues.extend(arm_conflicts(
            ((p["row"], sid, p["aid"], dict(
                arm=p["r"]["arm"], role=p["role"], product=p["product"], cell_source=p["r"].get("cell_source"),
                donor=p["r"].get("donor"), dose=p["dose"], dose_unit=p["r"].get("dose_unit"),
                route=p["r"].get("route"), timing_h=p["timing_h"], co_intervention=p["co_intervention"]))
             for p in rows), id_column=id_column))
        for p in rows:
            key = (sid, p["aid"], p["readout"], p["time_h"])
            if key in seen:
                issues.append(RowIssue(p["row"], id_column, f"duplicate row for study {sid!r}, arm {p['aid']!r}, "
                                                            f"readout {p['readout']!r}, time {p['time_h']}; keep one"))
            seen.add(key)
    if issues:
        return [], issues

    studies = []
    for sid, rows in by_study.items():
        study = _build_study(sid, rows, source, issues)
        if study is not None:
            studies.append(study)
    if issues:
        return [], issues
    return studies, []


def _schema_issue(row: int, exc: ValidationError, what: str) -> RowIssue:
    err = exc.errors()[0]
    where = ".".join(str(x) for x in err["loc"]) or what
    return RowIssue(row, where, f"{what}: {err['msg'].removeprefix('Value error, ')}")


def build_arms(arms: dict[str, dict], issues: list) -> list[Arm]:
    """:class:`Arm` objects from collected arm fields (each with ``row`` and ``outcomes``);
    schema refusals are appended to ``issues``, naming the arm and its first row."""
    out = []
    for a in arms.values():
        row = a.pop("row")
        try:
            out.append(Arm(outcomes=tuple(a.pop("outcomes")), **a))
        except ValidationError as exc:
            issues.append(_schema_issue(row, exc, f"arm {a['arm_id']!r}"))
    return out


def _build_study(sid, rows, source, issues) -> Study | None:
    """The :class:`Study` of validated rows; schema refusals are appended to ``issues`` (row named)."""
    first = rows[0]["r"]
    arms: dict[str, dict] = {}
    for p in rows:
        r = p["r"]
        aid = p["aid"]
        if aid not in arms:
            arms[aid] = dict(arm_id=aid, label=r["arm"], role=p["role"], product=p["product"],
                             product_raw=r.get("product"), cell_source=r.get("cell_source"), donor=r.get("donor"),
                             dose=p["dose"], dose_raw=r.get("dose"), dose_unit=r.get("dose_unit"),
                             route=r.get("route"), timing_h=p["timing_h"], timing_raw=r.get("timing_h"),
                             co_intervention=p["co_intervention"],
                             # a group with another design than the study's first row keeps its own
                             injury_details=(r.get("injury_details")
                                             if r.get("injury_details") != first.get("injury_details") else None),
                             outcomes=[], row=p["row"])
        try:
            arms[aid]["outcomes"].append(Outcome(
                readout=p["readout"], readout_raw=r.get("readout"), time_h=p["time_h"], time_raw=r.get("time_h"),
                mean=p["mean"], mean_raw=r.get("mean"), dispersion=p["disp"], dispersion_type=p["dtype"],
                n=None if p["n"] is None else int(p["n"]), n_raw=r.get("n"), unit=p["unit"], unit_raw=r.get("unit"),
                provenance=Provenance(quote=r.get("quote"), source_location=r.get("source_location"),
                                      notes=r.get("notes"), url=r.get("url"), source_file=source),
            ))
        except ValidationError as exc:
            issues.append(_schema_issue(p["row"], exc, "outcome"))
    arm_objs = build_arms(arms, issues)
    try:
        return Study(
            study_id=sid, species=rows[0]["species"], species_raw=first.get("species"), strain=first.get("strain"),
            sex=first.get("sex"), injury=rows[0]["injury"], injury_raw=first.get("injury"),
            injury_details=first.get("injury_details"),
            provenance=Provenance(pmid=first.get("pmid"), doi=first.get("doi"), url=first.get("url"),
                                  source_file=source),
            arms=tuple(arm_objs),
        )
    except ValidationError as exc:
        issues.append(_schema_issue(rows[0]["row"], exc, f"study {sid!r}"))
        return None


def parse_import_table(path: str | os.PathLike) -> list[Study]:
    """Read and validate a CSV; raise :class:`ImportRejected` listing every problem."""
    from .tables import printable, read_csv_table

    p = Path(path)
    try:
        df = read_csv_table(p, what="evidence CSV",
                            fix=f"the header must contain {', '.join(REQUIRED_COLUMNS)}")
    except InputError as exc:
        raise ImportRejected(printable(str(p)), [RowIssue(0, "", str(exc))]) from None
    studies, issues = validate_import_frame(df, source=p.name)
    if issues:
        raise ImportRejected(printable(str(p)), issues)
    return studies
