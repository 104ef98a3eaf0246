"""Controlled vocabularies: readouts with their units, species, injuries, products.

Unit harmonization uses the one converter of the package (:mod:`nephrosim.units`): the
clinical chemistry factors come from its molar masses (creatinine 113.12 g/mol: 1 mg/dL =
88.40 µmol/L; urea nitrogen 28.014 g/mol: BUN mg/dL × 0.357 = urea mmol/L), and its pint
registry handles everything that has a physical dimension.

References
----------
Kidney Disease: Improving Global Outcomes (KDIGO) 2012 Clinical Practice Guideline for
Acute Kidney Injury, conversion table (creatinine 88.4 µmol/L per mg/dL; BUN 0.357).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from nephrosim.units import UNIT_PARSE_ERRORS, registry as _ureg
from nephrosim.units import convert as _convert_units

from .errors import InputError

#: µmol/L per mg/dL of creatinine and urea mmol/L per mg/dL of urea nitrogen (BUN), from
#: the molar masses in :data:`nephrosim.units.MOLAR_MASS_G_PER_MOL`.
_CREATININE_UMOL_PER_MGDL = float(_convert_units(1.0, "mg/dL", "umol/L", substance="creatinine"))
_UREA_MMOL_PER_BUN_MGDL = float(_convert_units(1.0, "mg/dL", "mmol/L", substance="urea_nitrogen"))

__all__ = [
    "ReadoutSpec", "READOUTS", "SPECIES", "SPECIES_GROUPS", "INJURIES", "INJURY_GROUPS", "PRODUCTS",
    "ROLES", "readout_spec", "normalize_unit", "convert", "canonical_species", "canonical_injury",
    "canonical_product", "product_class", "matches_species", "matches_injury", "matches_product", "canonical_readout",
]


def _u(s: str) -> str:
    """Normalize a unit string for lookup (micro signs, spaces, case, "gm"/"of tissue", "mg %")."""
    s = s.strip().replace("µ", "u").replace("μ", "u").lower()
    s = re.sub(r"/\s*gm\b", "/g", s)  # "nmol/gm tissue": gm is the old abbreviation of gram
    s = re.sub(r"\bof\s+tissue\b", "tissue", s)  # "U/g of tissue"
    s = s.replace(" ", "").replace("per", "/")
    if s in ("mg%", "mg/100ml"):  # "mg %" and mg/100 mL are mg/dL
        s = "mg/dl"
    return s


@dataclass(frozen=True)
class ReadoutSpec:
    """A readout nephrosim knows.

    Attributes
    ----------
    name : str
        Canonical identifier (snake_case).
    kind : {"continuous", "binary"}
        Binary readouts (mortality, survival) are pooled as OR/RR from event counts.
    canonical_unit : str or None
        Unit values are harmonized to (None: no conversion; SMD only).
    units : mapping of str to float
        Accepted units and the factor that converts them to ``canonical_unit``.
    minimum, maximum : float or None
        Physically possible range of the mean in the canonical unit.
    higher_is_worse : bool
        Direction, for plots/labels only.
    """

    name: str
    kind: str
    canonical_unit: str | None
    units: Mapping[str, float]
    minimum: float | None = 0.0
    maximum: float | None = None
    higher_is_worse: bool = True
    label: str = ""
    free_units: bool = False

    def factor(self, unit: str) -> float:
        key = _u(unit)
        for u, f in self.units.items():
            if _u(u) == key:
                return f
        raise InputError(
            f"unit {unit!r} is not known for readout {self.name!r}; use one of "
            f"{', '.join(sorted(self.units))}."
        )

    def knows_unit(self, unit: str) -> bool:
        key = _u(unit)
        return any(_u(u) == key for u in self.units) or (self.free_units and _free_unit_ok(unit))


_PCT = {"%": 1.0, "percent": 1.0}
_CONC_PGML = {"pg/mL": 1.0, "ng/L": 1.0, "ng/mL": 1000.0}
_FREE = {"score": 1.0, "a.u.": 1.0, "arbitrary units": 1.0, "ratio": 1.0, "fold": 1.0, "cells/field": 1.0,
         "cells/hpf": 1.0, "n/hpf": 1.0, "%": 1.0, "% area": 1.0, "count": 1.0}

READOUTS: dict[str, ReadoutSpec] = {r.name: r for r in [
    ReadoutSpec("serum_creatinine", "continuous", "umol/L",
                {"umol/L": 1.0, "µmol/L": 1.0, "μmol/L": 1.0, "mg/dL": _CREATININE_UMOL_PER_MGDL,
                 "mg/L": _CREATININE_UMOL_PER_MGDL / 10, "mmol/L": 1000.0},
                0.0, 5000.0, label="Serum creatinine"),
    ReadoutSpec("bun", "continuous", "mmol/L",
                {"mmol/L": 1.0, "mg/dL": _UREA_MMOL_PER_BUN_MGDL}, 0.0, 500.0,
                label="Blood urea nitrogen (as urea, mmol/L)"),
    ReadoutSpec("mortality", "binary", "%", {"%": 1.0, "proportion": 100.0, "count": float("nan")}, 0.0, 100.0,
                label="Mortality"),
    ReadoutSpec("survival", "binary", "%", {"%": 1.0, "proportion": 100.0, "count": float("nan")}, 0.0, 100.0,
                higher_is_worse=False, label="Survival"),
    ReadoutSpec("proteinuria", "continuous", "mg/24 h", {"mg/24 h": 1.0, "mg/day": 1.0, "g/24 h": 1000.0, "g/day": 1000.0},
                0.0, None, label="Proteinuria"),
    ReadoutSpec("uacr", "continuous", None, {}, 0.0, None, free_units=True, label="Urine albumin/creatinine ratio"),
    ReadoutSpec("creatinine_clearance", "continuous", "mL/min", {"mL/min": 1.0}, 0.0, None, higher_is_worse=False,
                free_units=True, label="Creatinine clearance"),
    ReadoutSpec("il6", "continuous", "pg/mL", _CONC_PGML, 0.0, None, label="Circulating IL-6"),
    ReadoutSpec("renal_mda", "continuous", "nmol/g tissue", {"nmol/g tissue": 1.0, "nmol/g": 1.0, "umol/g": 1000.0},
                0.0, None, label="Renal tissue MDA"),
    ReadoutSpec("renal_gsh", "continuous", "mmol/g tissue", {"mmol/g tissue": 1.0, "mmol/g": 1.0, "umol/g": 1e-3},
                0.0, None, higher_is_worse=False, label="Renal tissue GSH"),
    ReadoutSpec("renal_sod", "continuous", "U/g tissue", {"U/g tissue": 1.0, "U/g": 1.0}, 0.0, None,
                higher_is_worse=False, label="Renal tissue SOD"),
    ReadoutSpec("wbc_count", "continuous", "x10^3/uL", {"x10^3/uL": 1.0, "10^9/L": 1.0, "x10^9/L": 1.0}, 0.0, None,
                label="White blood cell count"),
    ReadoutSpec("tubular_apoptosis", "continuous", None, _PCT, 0.0, None, free_units=True, label="Tubular apoptosis"),
    ReadoutSpec("tubular_bax", "continuous", None, {}, 0.0, None, free_units=True, label="Tubular Bax"),
    ReadoutSpec("tubular_bcl2", "continuous", None, {}, 0.0, None, free_units=True, higher_is_worse=False,
                label="Tubular Bcl-2"),
    ReadoutSpec("tubular_proliferation", "continuous", None, _PCT, 0.0, None, free_units=True, higher_is_worse=False,
                label="Tubular proliferation (PCNA/Ki-67)"),
    ReadoutSpec("ifta_score", "continuous", None, {}, 0.0, None, free_units=True, label="IF/TA score"),
    ReadoutSpec("interstitial_fibrosis", "continuous", None, _PCT, 0.0, None, free_units=True,
                label="Interstitial fibrosis"),
    ReadoutSpec("tubular_injury_score", "continuous", None, {}, 0.0, None, free_units=True, label="Tubular injury score"),
    ReadoutSpec("interstitial_t_cells", "continuous", None, {}, 0.0, None, free_units=True, label="Interstitial T cells"),
    ReadoutSpec("interstitial_macrophages", "continuous", None, {}, 0.0, None, free_units=True,
                label="Interstitial macrophages"),
    ReadoutSpec("capillary_density", "continuous", None, _PCT, None, None, free_units=True, higher_is_worse=False,
                label="Peritubular capillary density / loss"),
    ReadoutSpec("renal_mass_index", "continuous", None, {}, 0.0, None, free_units=True, label="Renal mass index"),
    ReadoutSpec("chromosomal_aberrations", "continuous", None, _PCT, 0.0, 100.0, free_units=True,
                label="Chromosomal aberrations"),
    # injury biomarkers and cytokines (curated FORMAT vocabulary): blood, urine or tissue, so units stay free;
    # concentrations in pg/mL (or ng/L, ng/mL) are harmonized, per-mg-protein or per-creatinine values are not
    ReadoutSpec("kim1", "continuous", None, {}, 0.0, None, free_units=True, label="KIM-1 (kidney injury molecule-1)"),
    ReadoutSpec("ngal", "continuous", None, {}, 0.0, None, free_units=True,
                label="NGAL (neutrophil gelatinase-associated lipocalin)"),
    ReadoutSpec("tnf_alpha", "continuous", "pg/mL", _CONC_PGML, 0.0, None, free_units=True, label="TNF-α"),
    ReadoutSpec("il10", "continuous", "pg/mL", _CONC_PGML, 0.0, None, free_units=True, higher_is_worse=False,
                label="IL-10"),
    ReadoutSpec("glomerulosclerosis", "continuous", None, _PCT, 0.0, None, free_units=True,
                label="Glomerulosclerosis (% sclerotic glomeruli or index)"),
    ReadoutSpec("other", "continuous", None, {}, None, None, free_units=True,
                label="Other readout (see readout_raw)"),
]}

_READOUT_PATTERNS: list[tuple[str, str]] = [
    # (regex on lower-cased raw text, canonical readout); first match wins per fragment
    (r"fold-decrease|fold decrease", "__contrast__"),
    (r"albumin/creatinine|acr\b", "uacr"),
    (r"creatinine clearance|ccr\b|gfr", "creatinine_clearance"),
    (r"\bscr\b|creatinine|\bcr\b", "serum_creatinine"),
    (r"\bbun\b|urea", "bun"),
    (r"mortality", "mortality"),
    (r"surviv", "survival"),
    (r"proteinuria|urinary protein|urine protein", "proteinuria"),
    (r"il-6|il6", "il6"),
    (r"il-10|il10", "il10"),
    (r"tnf", "tnf_alpha"),
    (r"kim-1|kim1|kidney injury molecule", "kim1"),
    (r"ngal|lipocalin", "ngal"),
    (r"glomeruloscleros", "glomerulosclerosis"),
    (r"\bmda\b", "renal_mda"),
    (r"\bgsh\b", "renal_gsh"),
    (r"\bsod\b", "renal_sod"),
    (r"wbc|white blood", "wbc_count"),
    (r"apoptosis|apoptotic|tunel", "tubular_apoptosis"),
    (r"\bbax\b", "tubular_bax"),
    (r"bcl-2|bcl2", "tubular_bcl2"),
    (r"pcna|ki-67|ki67|proliferat", "tubular_proliferation"),
    (r"if/ta|ifta", "ifta_score"),
    (r"fibrosis|masson|collagen", "interstitial_fibrosis"),
    (r"injury score|tubulointerstitial injury|histopatholog", "tubular_injury_score"),
    (r"t cells|cd3", "interstitial_t_cells"),
    (r"macrophage|ed1|ed-1", "interstitial_macrophages"),
    (r"capillar", "capillary_density"),
    (r"renal mass index|hypertrophy index", "renal_mass_index"),
    (r"chromosom", "chromosomal_aberrations"),
]


def canonical_readout(raw: str) -> list[str]:
    """Map a free-text readout (possibly ``"BUN; creatinine; survival"``) to readout names.

    Returns a list (one per recognised fragment, duplicates removed). Unrecognised text
    maps to ``["other"]``. ``"__contrast__"`` marks a treated/control ratio.
    """
    text = (raw or "").strip()
    if text in READOUTS:
        return [text]
    low = text.lower()
    if re.search(r"fold-decrease|fold decrease", low):
        for pat, name in _READOUT_PATTERNS[1:]:
            if re.search(pat, low):
                return [name]
        return ["other"]
    out: list[str] = []
    for frag in re.split(r"[;,]| and ", low):
        frag = frag.strip()
        if not frag:
            continue
        # "renal function (sCr/BUN)" -> both
        found = []
        for sub in re.split(r"/", frag) if "scr/bun" in frag or "creatinine/urea" in frag else [frag]:
            for pat, name in _READOUT_PATTERNS[1:]:
                if re.search(pat, sub):
                    found.append(name)
                    break
        for name in found:
            if name not in out:
                out.append(name)
    return out or ["other"]


def readout_spec(name: str) -> ReadoutSpec:
    """The :class:`ReadoutSpec` for ``name``; raises :class:`InputError` naming the choices."""
    try:
        return READOUTS[name]
    except KeyError:
        raise InputError(
            f"readout {name!r} is not known; use one of {', '.join(sorted(READOUTS))} "
            "(or 'other' with the description in readout_raw/notes)."
        ) from None


def _free_unit_ok(unit: str) -> bool:
    if _u(unit) in {_u(k) for k in _FREE}:
        return True
    try:
        _ureg().parse_units(unit.replace("µ", "u").replace("μ", "u"))
        return True
    except UNIT_PARSE_ERRORS:
        return False


def normalize_unit(readout: str, unit: str | None) -> str | None:
    """Return the registry spelling of ``unit`` for ``readout`` or None if unknown."""
    if unit is None:
        return None
    spec = readout_spec(readout)
    key = _u(unit)
    for u in spec.units:
        if _u(u) == key:
            return u
    if spec.free_units and _free_unit_ok(unit):
        return unit.strip()
    return None


def convert(value, readout: str, from_unit: str, to_unit: str | None = None):
    """Convert ``value`` of ``readout`` between units.

    Uses the readout's explicit factors (e.g. creatinine mg/dL → µmol/L × 88.40; BUN
    mg/dL → urea mmol/L × 0.357), falling back to pint for dimensional units.

    Parameters
    ----------
    value : float or array_like
    readout : str
    from_unit : str
    to_unit : str, optional
        Defaults to the readout's canonical unit.

    Returns
    -------
    float or numpy.ndarray
    """
    import numpy as np

    spec = readout_spec(readout)
    to_unit = to_unit or spec.canonical_unit
    if to_unit is None:  # readout without a canonical unit: nothing to harmonize
        return value
    try:
        f_from = spec.factor(from_unit)
        f_to = spec.factor(to_unit)
        return np.asarray(value, dtype=float) * (f_from / f_to) if np.ndim(value) else float(value) * f_from / f_to
    except InputError:
        pass
    ureg = _ureg()
    try:
        q = ureg.Quantity(np.asarray(value, dtype=float), from_unit.replace("µ", "u").replace("μ", "u"))
        out = q.to(to_unit.replace("µ", "u").replace("μ", "u")).magnitude
    except UNIT_PARSE_ERRORS as exc:
        raise InputError(
            f"cannot convert readout {readout!r} from unit {from_unit!r} to {to_unit!r} ({exc}); "
            f"report it in one of {', '.join(sorted(spec.units)) or 'a pint-compatible unit'}."
        ) from None
    return float(out) if np.ndim(value) == 0 else out


# ----------------------------------------------------------------------- species
SPECIES = ("mouse", "rat", "rabbit", "pig", "dog", "sheep", "monkey", "human")
SPECIES_GROUPS = {"rodent": ("mouse", "rat"), "large_animal": ("pig", "dog", "sheep", "monkey"),
                  "animal": ("mouse", "rat", "rabbit", "pig", "dog", "sheep", "monkey")}


def canonical_species(raw: str | None) -> str | None:
    """``"mouse (per Hindawi review)"`` → ``"mouse"``; unknown → None."""
    if raw is None:
        return None
    low = str(raw).lower()
    for sp in SPECIES:
        if re.search(rf"\b{sp}s?\b", low):
            return sp
    if "mice" in low:
        return "mouse"
    if "patient" in low or "human" in low:
        return "human"
    if "swine" in low or "porcine" in low:
        return "pig"
    return None


def matches_species(species: str | None, query: str | None) -> bool:
    if not query:
        return True
    q = query.strip().lower()
    return species == q or species in SPECIES_GROUPS.get(q, ())


# ----------------------------------------------------------------------- injuries
INJURIES = ("ischemia_reperfusion", "cisplatin", "glycerol", "gentamicin", "sepsis_clp", "sepsis_other",
            "endotoxemia_lps",
            "pancreatitis_aki", "cardiac_surgery_aki", "uuo", "nephrectomy_5_6", "adriamycin",
            "aristolochic_acid", "diabetic_nephropathy", "allograft_nephropathy", "other")
INJURY_GROUPS = {
    "aki": ("ischemia_reperfusion", "cisplatin", "glycerol", "gentamicin", "sepsis_clp", "sepsis_other",
            "endotoxemia_lps", "pancreatitis_aki", "cardiac_surgery_aki"),
    "sepsis": ("sepsis_clp", "sepsis_other", "endotoxemia_lps"),
    "nephrotoxic": ("cisplatin", "gentamicin", "glycerol"),
    "ckd": ("uuo", "nephrectomy_5_6", "adriamycin", "aristolochic_acid", "diabetic_nephropathy",
            "allograft_nephropathy"),
}
_INJURY_ALIASES = {"iri": "ischemia_reperfusion", "ir": "ischemia_reperfusion", "ischemia": "ischemia_reperfusion",
                   "clp": "sepsis_clp", "lps": "endotoxemia_lps", "5/6": "nephrectomy_5_6",
                   "5/6nx": "nephrectomy_5_6", "stz": "diabetic_nephropathy", "diabetic": "diabetic_nephropathy"}
_INJURY_PATTERNS = [
    (r"allograft|transplant", "allograft_nephropathy"),
    (r"\biri\b|ischemi|ischaemi|\bi/r\b", "ischemia_reperfusion"),
    (r"cisplatin", "cisplatin"),
    (r"glycerol|rhabdo", "glycerol"),
    (r"gentamicin", "gentamicin"),
    (r"\blps\b|endotox", "endotoxemia_lps"),
    (r"\bclp\b|cecal ligation|caecal", "sepsis_clp"),
    (r"sepsis|septic|peritonitis", "sepsis_other"),
    (r"pancreatitis", "pancreatitis_aki"),
    (r"cardiac surgery|cabg|bypass", "cardiac_surgery_aki"),
    (r"\buuo\b|ureteral obstruction", "uuo"),
    (r"5/6|nephrectomy|renal mass reduction|\bsnx\b", "nephrectomy_5_6"),
    (r"adriamycin|doxorubicin|fsgs", "adriamycin"),
    (r"aristolochic", "aristolochic_acid"),
    (r"diabet|\bstz\b", "diabetic_nephropathy"),
]


def canonical_injury(raw: str | None) -> str | None:
    """Free-text injury model → canonical injury id (None if empty, ``"other"`` if unknown)."""
    if raw is None or str(raw).strip() == "":
        return None
    low = str(raw).strip().lower()
    if low in INJURIES:
        return low
    if low in _INJURY_ALIASES:
        return _INJURY_ALIASES[low]
    for pat, name in _INJURY_PATTERNS:
        if re.search(pat, low):
            return name
    return "other"


def matches_injury(injury: str | None, query: str | None) -> bool:
    if not query:
        return True
    q = query.strip().lower()
    q = _INJURY_ALIASES.get(q, q)
    return injury == q or injury in INJURY_GROUPS.get(q, ())


# ----------------------------------------------------------------------- products
#: canonical product classes
PRODUCTS = ("msc", "cm", "ev", "none", "other")
_PRODUCT_ALIASES = {"exosome": "ev", "exosomes": "ev", "mv": "ev", "microvesicle": "ev", "secretome": "ev",
                    "conditioned_medium": "cm", "vehicle": "none", "control": "none", "cells": "msc"}
ROLES = ("treated", "control", "sham", "comparator", "contrast")


def product_class(raw: str | None) -> str | None:
    """Like :func:`canonical_product` but None when the text names no known product."""
    if raw is None or str(raw).strip() == "":
        return None
    low = str(raw).strip().lower()
    if low in PRODUCTS:
        return low
    if low in _PRODUCT_ALIASES:
        return _PRODUCT_ALIASES[low]
    if re.search(r"fibroblast|hlsc|liver stem|\bbmc\b|mononuclear|kpsc|renal stromal|non-msc", low):
        return "other"
    if re.search(r"^(none|vehicle|saline|pbs|dmem|placebo|no therapy|bm\b)|\b(vehicle|saline|pbs|dmem|placebo)\b"
                 r"|biomembrane only|biomembrane \(control\)", low):
        return "none"
    if re.search(r"\bcm\b(?!-di)|conditioned medium|secretome", low):
        return "cm"
    if re.search(r"\bevs?\b|exosom|\bexos?\b|-ex\b|mvs?\b|microvesic|vesicle", low):
        return "ev"
    if re.search(r"msc|stem cell|stromal|bmsc|adsc|afsc|mensc", low):
        return "msc"
    return None


def canonical_product(raw: str | None) -> str | None:
    """Free-text product → ``msc | cm | ev | none | other`` (None if empty).

    Non-MSC comparators (fibroblast EV, liver stem-like cell EV, bone-marrow mononuclear
    cells, kidney progenitors, renal stromal cells) and unrecognised products are ``other``.
    """
    if raw is None or str(raw).strip() == "":
        return None
    return product_class(raw) or "other"


def matches_product(product: str | None, query: str | None) -> bool:
    if not query:
        return True
    q = query.strip().lower()
    q = _PRODUCT_ALIASES.get(q, q)
    if q == "secretome_any":
        return product in ("cm", "ev")
    return product == q
