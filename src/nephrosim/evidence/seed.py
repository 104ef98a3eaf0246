"""Load the curated seed evidence packaged in ``nephrosim/evidence/data``.

The seed is these four files plus every curated batch in ``data/curated`` (loaded by
:mod:`nephrosim.evidence.curated`, format ``curated/FORMAT.md``).

The four treated/untreated CSVs (``preclinical_msc.csv``, ``preclinical_secretome.csv``,
``more_treated.csv``, ``untreated_timecourses.csv``) share a row-per-arm×time×readout
layout but differ in columns and in how free-text their cells are. This module maps them
onto :mod:`nephrosim.evidence.schema` with these rules (the raw text is always kept in the
``*_raw`` fields):

* **species / injury / product** – mapped to controlled vocabularies by
  :func:`~nephrosim.evidence.vocab.canonical_species`, ``canonical_injury`` and
  ``canonical_product`` (non-MSC cells or EVs → ``other``; vehicle, saline, PBS, DMEM,
  "biomembrane only" → ``none``).
* **arm role** – ``sham`` (sham/normal/negative control), ``contrast`` (rows that only give
  a treated/control ratio), ``comparator`` (non-MSC therapy), ``control`` (vehicle,
  untreated, "alone", PBS/saline), otherwise ``treated``. In the secretome file the
  product column names the study's product, so the arm text decides (``"IRI + MV"`` is
  treated, ``"IRI"`` is control).
* **co-intervention** – antibiotics, melatonin (not "melatonin-preconditioned"),
  biomembrane, fibrin sealant, autophagy inhibitors; treated and control arms are paired
  only with the same co-intervention.
* **numbers** – ``mean``, ``dispersion``, ``time_h`` and ``timing_h`` are taken only when
  the cell is a number, optionally followed by a parenthesised remark ("96 (day 4)").
  Ranges, lists and "~" approximations stay missing. ``n`` is the leading integer unless
  the cell says "total" or "not stated" (per-arm n is then unknown: "28 rabbits randomized
  to 2 groups" is **not** split). Derived n's that the curators wrote as per-arm ("5
  (derived: 120 rats / 6 groups / 4 days)") are used and flagged in ``n_raw``.
* **dispersion type** – "SD" → SD, "SEM…" → SEM, anything else ("not stated (±)") →
  None (unspecified); the pooling step decides what to assume and reports it.
* **multi-readout design rows** ("BUN; creatinine; survival") become one design-only
  outcome per recognised readout, all with ``mean=None``.
* **unit** – the registry spelling when recognised for the readout, else None (raw kept).
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from .errors import ImportRejected, RowIssue
from .schema import Arm, Outcome, Provenance, Study
from .vocab import (
    canonical_injury, canonical_product, canonical_readout, product_class, canonical_species, normalize_unit,
)

__all__ = ["SEED_FILES", "data_dir", "load_seed", "classify_role", "detect_co_intervention", "parse_leading_number",
           "parse_n"]

SEED_FILES = ("preclinical_msc.csv", "preclinical_secretome.csv", "more_treated.csv", "untreated_timecourses.csv")


def data_dir():
    """The packaged data folder (a :class:`importlib.resources.abc.Traversable`)."""
    return resources.files("nephrosim.evidence") / "data"


def _s(v):
    if v is None:
        return None
    if isinstance(v, float) and np.isnan(v):
        return None
    v = str(v).strip()
    return v or None


_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def parse_leading_number(raw) -> float | None:
    """``"96"``, ``"96 (day 4)"``, ``"0 (after reflow)"`` → float; ranges/lists/approximations → None."""
    s = _s(raw)
    if s is None:
        return None
    m = re.fullmatch(rf"\s*({_NUM})\s*(\(.*\))?\s*", s)
    return float(m.group(1)) if m else None


def parse_n(raw) -> int | None:
    """Per-arm n from a cell such as ``"10"`` or ``"5 (derived: ...)"``; None if unknown/total."""
    s = _s(raw)
    if s is None:
        return None
    low = s.lower()
    if "total" in low or "not stated" in low or "per-arm n not" in low:
        return None
    m = re.match(r"\s*(\d+)\b", s)
    if not m:
        return None
    n = int(m.group(1))
    return n if n >= 1 else None


def _dispersion_type(raw) -> str | None:
    s = _s(raw)
    if s is None:
        return None
    up = s.upper()
    if up == "SD" or up.startswith("SD "):
        return "SD"
    if up.startswith("SEM") or up.startswith("SE ") or up == "SE":
        return "SEM"
    return None


_CO = [(r"antibiotic", "antibiotics"), (r"biomembrane|\bbm\s*\+|\+\s*bm\b", "biomembrane"),
       (r"autophagy inhibitor|3-ma|chloroquine", "autophagy inhibitors"), (r"ciclosporin|cyclosporin|\bcsa\b", "ciclosporin")]


def detect_co_intervention(*texts) -> str:
    """Co-intervention named in arm/product text ("" if none)."""
    low = " ".join(t for t in (_s(x) for x in texts) if t).lower()
    found = []
    for pat, name in _CO:
        if re.search(pat, low):
            found.append(name)
    if "melatonin" in low and not re.search(r"melatonin-precondition|mel-precondition|precondition", low):
        found.append("melatonin")
    if "fibrin sealant" in low and "without sealant" not in low:
        found.append("fibrin sealant")
    return "+".join(sorted(set(found)))


def _plus_class(text: str) -> str | None:
    """Product class of "injury + a + b" text: a therapy part wins over other/none."""
    parts = [product_class(p) for p in text.split("+")[1:]]
    for want in ("msc", "cm", "ev", "other", "none"):
        if want in parts:
            # a therapy part named before another therapy decides ("MSC-EV" etc. handled by product_class)
            return next(p for p in parts if p in ("msc", "cm", "ev")) if want in ("msc", "cm", "ev") else want
    return None


def classify_role(arm: str | None, product_class_: str | None) -> str:
    """Arm role from the arm label and the product class (see module docstring)."""
    a = re.sub(r"\(vs[ .][^)]*\)", "", (arm or "")).strip().lower()
    if "ratio" in a or "vs control" in a:
        return "contrast"
    if re.search(r"\+\s*sham", a):
        return "control"  # "Gentamicin + sham (vehicle medium)": injured + vehicle
    if "sham" in a or a in ("normal", "uninjured baseline") or "negative control" in a or "uninjured" in a:
        return "sham"
    if "comparator" in a:
        return "control" if product_class_ in (None, "none") else "comparator"
    if a.startswith("treated") or a == "msc":
        return "treated"
    if "+" in a:
        cls = _plus_class(a)
        if cls == "none":
            return "control"
        if cls == "other":
            return "comparator"
        if cls in ("msc", "cm", "ev"):
            return "treated"
    if re.search(r"vehicle|untreated|\bpbs\b|saline|no therapy|no treatment|\balone\b|control|usual care|no drug"
                 r"|not a therapy|\(nt\)|no conditioning|no postconditioning|no preconditioning", a):
        return "control"
    if product_class_ in (None, "none"):
        return "control"
    if product_class_ == "other":
        return "comparator"
    return "treated"


def _arm_product(arm_label, product_raw, role, from_arm_text: bool):
    if role in ("control", "sham"):
        return "none"
    if from_arm_text:
        text = re.sub(r"\(vs[ .][^)]*\)", "", arm_label or "")
        cls = _plus_class(text) if "+" in text else product_class(text)
        if cls is not None:
            return "other" if role == "comparator" and cls != "other" else cls
    cls = canonical_product(product_raw)
    if role == "comparator" and cls != "other":
        return "other"
    return cls


def _study_provenance(row, source_file):
    pmid = _s(row.get("pmid"))
    if pmid and re.fullmatch(r"\d+\.0", pmid):
        pmid = pmid[:-2]
    return Provenance(pmid=pmid, doi=_s(row.get("doi")), source_file=source_file)


_DERIVED = re.compile(r"\b(time|fold|increase|change|ratio|reduction|trajectory|trajectories|auc|slope|peak|"
                      r"recovery|duration|incidence|onset|delta|vs)\b")


def _outcomes(row, source_file, arm_role, strict_units=False):
    readout_raw = _s(row.get("readout")) or ""
    names = canonical_readout(readout_raw)
    low = readout_raw.lower()
    if _DERIVED.search(low) and "fold-decrease vs control" not in low and names != ["other"]:
        names = ["other"]  # a derived quantity (time to peak, % change, ...) is not the readout itself
    mean = parse_leading_number(row.get("mean"))
    disp = parse_leading_number(row.get("dispersion"))
    if disp is not None and disp < 0:
        disp = None
    unit_raw = _s(row.get("unit"))
    prov = Provenance(
        url=None, quote=_s(row.get("quote")), source_location=_s(row.get("source_location")),
        notes=_s(row.get("notes")), source_file=source_file,
    )
    outs = []
    for name in names:
        unit = None
        if unit_raw:
            ur = unit_raw
            if re.match(r"count", ur, re.I):
                ur = "count"
            elif ur.startswith("%"):
                ur = "%"
            unit = normalize_unit(name, ur)
        if strict_units and mean is not None and unit is None and name != "other":
            name, unit = "other", unit_raw
        m = mean if len(names) == 1 else None
        outs.append(Outcome(
            readout=name, readout_raw=readout_raw, time_h=parse_leading_number(row.get("time_h")),
            time_raw=_s(row.get("time_h")), mean=m, mean_raw=_s(row.get("mean")),
            dispersion=disp if m is not None else None, dispersion_type=_dispersion_type(row.get("dispersion_type")),
            n=parse_n(row.get("n")), n_raw=_s(row.get("n")), unit=unit, unit_raw=unit_raw, provenance=prov,
        ))
    return outs


def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_")[:40] or "arm"


def studies_from_seed_frame(df: pd.DataFrame, source_file: str, from_arm_text: bool = False,
                            default_product: str | None = None) -> list[Study]:
    """Map one seed CSV (as a DataFrame) to :class:`Study` objects (see module rules)."""
    studies = []
    for sid, g in df.groupby("study_id", sort=False):
        first = g.iloc[0].to_dict()
        arms: dict[tuple, dict] = {}
        for _, row in g.iterrows():
            row = row.to_dict()
            label = _s(row.get("arm")) or "arm"
            product_raw = _s(row.get("product")) if default_product is None else default_product
            product_cls = canonical_product(product_raw)
            if from_arm_text:
                text = re.sub(r"\(vs[ .][^)]*\)", "", label)
                role = classify_role(label, _plus_class(text) if "+" in text else product_class(text))
            else:
                role = classify_role(label, product_cls)
            product = _arm_product(label, product_raw, role, from_arm_text)
            # a group of a series (another clamp time, dose or body temperature) is its own arm, with its design
            details = _s(row.get("injury_details"))
            key = (label, product_raw, _s(row.get("cell_source")), _s(row.get("dose")), _s(row.get("route")),
                   _s(row.get("timing_h")), details)
            if key not in arms:
                dose_raw = _s(row.get("dose"))
                arms[key] = dict(
                    label=label if (product_raw is None or label.lower() not in ("treated", "vehicle"))
                    else f"{label}: {product_raw}",
                    role=role, product=product, product_raw=product_raw,
                    cell_source=_s(row.get("cell_source")), donor=_s(row.get("donor")),
                    dose=parse_leading_number(dose_raw), dose_raw=dose_raw,
                    dose_unit=_s(row.get("dose_unit")) or ("cells/kg" if _s(row.get("dose_per_kg")) else None),
                    route=_s(row.get("route")), timing_h=parse_leading_number(row.get("timing_h")),
                    timing_raw=_s(row.get("timing_h")),
                    co_intervention=detect_co_intervention(
                        label, None if from_arm_text else product_raw,
                        row.get("route") if "sealant" in str(row.get("route")) else None),
                    injury_details=details if details != _s(first.get("injury_details")) else None,
                    outcomes=[],
                )
            arms[key]["outcomes"].extend(_outcomes(row, source_file, role,
                                                   strict_units=source_file == "untreated_timecourses.csv"))
        arm_objs = []
        used = set()
        for i, a in enumerate(arms.values()):
            aid = _slug(a["label"])
            if aid in used:
                aid = f"{aid}_{i + 1}"
            used.add(aid)
            outs = a.pop("outcomes")
            arm_objs.append(Arm(arm_id=aid, outcomes=tuple(outs), **a))
        studies.append(Study(
            study_id=str(sid).strip(), species=canonical_species(first.get("species")),
            species_raw=_s(first.get("species")), strain=_s(first.get("strain")), sex=_s(first.get("sex")),
            injury=canonical_injury(first.get("injury_model")), injury_raw=_s(first.get("injury_model")),
            injury_details=_s(first.get("injury_details")), provenance=_study_provenance(first, source_file),
            arms=tuple(arm_objs),
        ))
    return studies


@lru_cache(maxsize=1)
def load_seed() -> tuple[Study, ...]:
    """All packaged seed studies as :class:`Study` objects (cached).

    The four first-generation files (:data:`SEED_FILES`) and every curated batch in
    ``data/curated`` (:func:`nephrosim.evidence.curated.load_curated`). All-or-nothing: an
    invalid curated row, or a study id used in two files, raises
    :class:`~nephrosim.evidence.errors.ImportRejected` and no study is returned, so the
    store is not created.
    """
    from .curated import curated_dir, load_curated

    out: list[Study] = []
    d = data_dir()
    for name in SEED_FILES:
        with (d / name).open("r", encoding="utf-8") as fh:
            df = pd.read_csv(fh, dtype=str, keep_default_na=False, na_values=[""])
        out.extend(studies_from_seed_frame(
            df, name, from_arm_text=(name == "preclinical_secretome.csv"),
            default_product="none" if name == "untreated_timecourses.csv" else None,
        ))
    out.extend(load_curated(curated_dir(d)))
    first: dict[str, str] = {}
    clashes = []
    for s in out:
        if s.study_id in first:
            clashes.append(RowIssue(0, "study_id", f"study_id {s.study_id!r} is in {first[s.study_id]} and in "
                                                   f"{s.provenance.source_file}; one study has one study_id across "
                                                   "all files (rename one, or merge the rows into one file)"))
        first.setdefault(s.study_id, str(s.provenance.source_file))
    if clashes:
        raise ImportRejected("the packaged seed evidence", clashes)
    return tuple(out)
