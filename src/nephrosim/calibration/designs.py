"""An evidence study's design as a nephrosim scenario — or the reason it cannot be one.

Used to score the model on held-out studies (:mod:`nephrosim.calibration.held_out_report`)
and to build calibration studies from the store. The mapping is read off the curated rows,
never guessed: species and injury through :mod:`nephrosim.vocabulary`; the design numbers the
injury model needs (clamp minutes, toxin dose) from the study's ``injury_details`` text; the
treatment (product, dose, unit, route, time) from the treated arm's fields. A study whose rows
do not give what the scenario needs is *not evaluable*, with the missing field named — a dose
or a clamp time is never filled in.

What is assumed, and written into :attr:`Design.assumptions` of each study: an IRI study that
names neither laterality nor a nephrectomy is bilateral (the usual design); body temperature is
37 °C unless stated (read by :func:`nephrosim.evidence.study_design.study_temperature`, the reader
the web app's literature points use: a stated range is simulated at its midpoint, "normothermic" at
37 °C; a study that says "hypothermic" without a number, or whose rows disagree on the temperature,
is not evaluable); glycerol doses are of 50 % glycerol.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from nephrosim.evidence.study_design import NORMOTHERMIA_C, study_temperature
from nephrosim.vocabulary import model_injury, model_product, model_readout

MODELLED_SPECIES = ("mouse", "rat", "human")


class NotEvaluable(ValueError):
    """The study's rows do not give what its scenario needs (the message names it)."""


@dataclass
class Design:
    """A study as a scenario: ``scenario`` (a mapping for :func:`nephrosim.simulate`) and the
    evidence arm ids behind each scenario arm."""

    study_id: str
    scenario: dict
    arm_of: dict[str, str]  # evidence arm_id → scenario arm name
    assumptions: list[str] = field(default_factory=list)
    #: the serum-creatinine assay the study's rows state (enzymatic | hplc | jaffe), None when they
    #: state none — then the scenario reads true creatinine and the scoring says the assay is unknown
    creatinine_assay: str | None = None
    creatinine_assay_note: str = ""


def _number(pattern: str, text: str) -> float | None:
    m = re.search(pattern, text, re.IGNORECASE)
    return float(m.group(1)) if m else None


def injury_of(rows) -> tuple[dict, list[str]]:
    """The scenario injury of a study's rows, and the assumptions made (``NotEvaluable`` if none)."""
    term = str(rows["injury"].iloc[0])
    model = model_injury(term)
    if model is None:
        raise NotEvaluable(f"injury {term!r} has no injury model in nephrosim")
    text = " ".join(str(t) for t in rows["injury_details"].dropna().unique())
    assumptions: list[str] = []
    if model == "ischemia_reperfusion":
        clamp = _number(r"(\d+(?:\.\d+)?)\s*-?\s*min", text)
        if clamp is None or re.search(r"\d+\s*(?:/|or)\s*\d+\s*min", text):
            raise NotEvaluable("clamp time not given as one number in injury_details")
        if re.search(r"cold|transplant|cardiac arrest", text, re.IGNORECASE):
            raise NotEvaluable("not a warm renal-pedicle/artery clamp")
        injury = {"model": model, "clamp_min": clamp}
        nephrectomy = re.search(r"nephrectomy|solitary|kidney (?:was )?removed", text, re.IGNORECASE)
        later = r"1 wk|week later|days? before|delayed|on day [1-9]\d*|day [1-9]\d* after"
        if nephrectomy and re.search(later, text, re.IGNORECASE):
            raise NotEvaluable("nephrectomy at another time than the clamp (the model removes it at clamping)")
        if nephrectomy:
            injury.update(bilateral=False, contralateral_nephrectomy=True)
        elif re.search(r"unilateral|one kidney|left kidney|left renal", text, re.IGNORECASE):
            injury["bilateral"] = False
        elif not re.search(r"bilateral", text, re.IGNORECASE):
            assumptions.append("laterality not stated: bilateral assumed")
        temperature = study_temperature(rows)
        if temperature.conflict is not None:
            raise NotEvaluable(temperature.conflict)
        if temperature.low is not None:
            injury["temperature_c"] = round(0.5 * (temperature.low + temperature.high), 2)
        elif temperature.normothermic:
            injury["temperature_c"] = NORMOTHERMIA_C
            assumptions.append(f"'normothermic' read as {NORMOTHERMIA_C:g} °C")
        elif temperature.hypothermic:
            raise NotEvaluable("temperature: the study says the clamp was hypothermic but gives no number")
        return injury, assumptions
    if model in ("cisplatin", "lps", "adriamycin", "stz_diabetes"):
        dose = _number(r"(\d+(?:\.\d+)?)\s*mg\s*/\s*kg", text)
        if dose is None:
            raise NotEvaluable(f"{term} dose (mg/kg) not given in injury_details")
        return {"model": model, "dose_mg_per_kg": dose}, assumptions
    if model == "glycerol":
        dose = _number(r"(\d+(?:\.\d+)?)\s*ml\s*/\s*kg", text)
        if dose is None:
            raise NotEvaluable("glycerol dose (mL/kg) not given in injury_details")
        assumptions.append("glycerol taken as 50 %")
        return {"model": model, "dose_ml_per_kg": dose}, assumptions
    if model == "cardiac_surgery":
        raise NotEvaluable("cardiopulmonary bypass time not given per group; cardiac-surgery cohorts are scored on "
                           "the virtual population instead (nephrosim.calibration.population: held_out_checks, "
                           "ckd_at_90_days_check)")
    return {"model": model}, assumptions


_ROUTES = (("renal artery", "renal_artery"), ("renal_artery", "renal_artery"), ("aorta", "intra_arterial_aorta"),
           ("subcapsular", "subcapsular"), ("intraparenchymal", "intraparenchymal"),
           ("intraperitoneal", "intraperitoneal"), ("i.p.", "intraperitoneal"), ("tail vein", "iv"),
           ("intravenous", "iv"), ("iv", "iv"), ("femoral vein", "iv"), ("jugular", "iv"))


def route_of(raw) -> str:
    text = str(raw or "").lower()
    if text.strip() == "intra_arterial":  # FORMAT.md's generic value: which artery decides the first pass
        raise NotEvaluable("route 'intra_arterial' does not say which artery (renal artery or aorta: the "
                           "kidney's first-pass share differs); curate the artery in `route`")
    for needle, route in _ROUTES:
        if needle in text:
            return route
    raise NotEvaluable(f"route {raw!r} does not map to a nephrosim route")


def treatment_of(row) -> dict:
    """The scenario treatment of a treated arm's row (``NotEvaluable`` when a field is missing)."""
    product = model_product(str(row["product"]))
    if product is None:
        raise NotEvaluable(f"product {row['product']!r} is not modelled")
    dose = row["dose"]
    if dose is None or (isinstance(dose, float) and math.isnan(dose)):
        raise NotEvaluable(f"arm {row['arm_id']!r}: dose not reported in the curated rows")
    unit = str(row["dose_unit"] or "")
    timing = row["timing_h"]
    if timing is None or (isinstance(timing, float) and math.isnan(timing)):
        raise NotEvaluable(f"arm {row['arm_id']!r}: time of the dose not reported")
    repeated = re.search(r"n_doses=(\d+)", str(row.get("notes") or ""))
    if repeated and int(repeated.group(1)) > 1:
        raise NotEvaluable(f"arm {row['arm_id']!r}: {repeated.group(1)} doses, and the curated rows give no "
                           "dosing interval")
    allowed = {"msc": ("cells", "cells/kg"), "ev": ("ug_protein", "particles")}.get(product, ())
    if unit in ("", "None") and product == "msc":
        unit = "cells"  # the store leaves unit empty for a plain cell count (dose_raw '5x10^6 cells')
    if unit not in allowed:
        raise NotEvaluable(f"arm {row['arm_id']!r}: dose unit {unit!r} for {product} is not one nephrosim takes")
    return {"product": product, "dose": float(dose), "dose_unit": unit, "route": route_of(row["route"]),
            "time_h": float(timing)}


# --- the creatinine assay a study states (issue 14 item 9) -------------------------------------
#: Words that name an assay; "colorimetric" alone names none (Jaffé and enzymatic kits are both read
#: by colour), and "picrosirius" (a collagen stain) is not picrate.
_ASSAY_WORDS = (("jaffe", r"jaff[eé]|alkaline picrate|picric acid|\bpicrate\b"),
                ("enzymatic", r"enzymatic|creatininase|creatinine[- ]?pap|sarcosine oxidase"),
                ("hplc", r"\bhplc\b|\blc[- ]?ms|mass spectrometr|isotope dilution"))
_ASSAY_NOT_STATED = r"(?:jaff[eé]|enzymatic|hplc|assay|method)[^.;]*?\bnot (?:stated|given|reported|known)"


def creatinine_assay_of(rows) -> tuple[str | None, str]:
    """The serum-creatinine assay a study's serum-creatinine rows state, and a note.

    Read from the rows' ``notes``, ``unit`` and ``quote`` (the curators' and the paper's words):
    Jaffé/alkaline picrate → ``jaffe``; enzymatic/creatininase → ``enzymatic``; HPLC/LC-MS →
    ``hplc``. Nothing is guessed: no statement, a negated one ("Jaffe/enzymatic not stated"),
    "colorimetric" alone, or two different assays → ``None``, with the reason in the note.
    """
    if "readout" not in getattr(rows, "columns", ()):
        return None, ""
    scr = [(r, m) for r in rows["readout"].astype(str).unique() if (m := model_readout(r)) is not None
           and m.model == "serum_creatinine"]
    if not scr:
        return None, ""
    mine = rows[rows["readout"].astype(str).isin([r for r, _ in scr])]
    columns = [c for c in ("notes", "unit", "quote") if c in mine.columns]
    text = " ".join(str(v) for c in columns for v in mine[c].dropna().unique())
    text = re.sub(_ASSAY_NOT_STATED, " ", text, flags=re.IGNORECASE)
    named = sorted({assay for assay, pattern in _ASSAY_WORDS if re.search(pattern, text, re.IGNORECASE)})
    if len(named) == 1:
        return named[0], f"creatinine assay stated: {named[0]}"
    if len(named) > 1:
        return None, f"creatinine assay not stated: the rows name several ({', '.join(named)})"
    if re.search(r"colou?rimetric", text, re.IGNORECASE):
        return None, "creatinine assay not stated: 'colorimetric' does not say Jaffé or enzymatic"
    return None, "creatinine assay not stated"
# --- end creatinine assay ---------------------------------------------------------------------


def design_text(rows):
    """Each row's injury design text (``""`` where the store has none): the key of :func:`design_groups`."""
    return rows["injury_details"].astype(object).where(rows["injury_details"].notna(), "")


def design_groups(rows) -> list[tuple[str, object]]:
    """A study's rows split by injury design: ``(injury_details, rows)`` per distinct design text.

    A series (clamp times of 30–120 min, cisplatin doses of 7.5–15 mg/kg, a normothermic and a
    hypothermic group) is one study with one design per group of arms; each group is its own
    scenario (:func:`design_of`), and treated and control arms are paired only within a group. A
    study with one design gives one group (all its rows).
    """
    return [(str(text), group) for text, group in rows.groupby(design_text(rows), sort=False)]


def design_of(study_id: str, rows) -> Design:
    """The scenario of one evidence study (its rows from :meth:`EvidenceStore.records`)."""
    species = str(rows["species"].iloc[0])
    if species not in MODELLED_SPECIES:
        raise NotEvaluable(f"species {species!r} is not modelled")
    injury, assumptions = injury_of(rows)
    arms, arm_of = [], {}
    for arm_id, arm_rows in rows.groupby("arm_id", sort=True):
        role = str(arm_rows["role"].iloc[0])
        if role not in ("control", "treated", "comparator"):
            continue
        name = re.sub(r"[^A-Za-z0-9_]", "_", str(arm_id))[:60] or "arm"
        treatments = ()
        if role != "control":
            try:
                treatments = (treatment_of(arm_rows.iloc[0]),)
            except NotEvaluable as exc:
                assumptions.append(f"arm {arm_id} left out: {exc}")
                continue  # the arm stays out; the study may still have evaluable arms
        arms.append({"name": name, **({"treatments": list(treatments)} if treatments else {})})
        arm_of[str(arm_id)] = name
    if not any("treatments" not in a for a in arms):
        arms.insert(0, {"name": "untreated"})
    scenario = {"name": re.sub(r"[^A-Za-z0-9_]", "_", study_id)[:80], "species": species, "injury": injury,
                "arms": arms}
    assay, assay_note = creatinine_assay_of(rows)  # stated: the scenario reads as that lab did
    if assay is not None:
        scenario["observation"] = {"creatinine_assay": assay}
    return Design(study_id=study_id, scenario=scenario, arm_of=arm_of, assumptions=assumptions,
                  creatinine_assay=assay, creatinine_assay_note=assay_note)


def comparable_readout(evidence_readout: str):
    """The model readout of an evidence readout (None when the model has none)."""
    return model_readout(evidence_readout)
