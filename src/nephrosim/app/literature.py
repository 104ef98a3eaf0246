"""Literature data points for a run's plots: the evidence store's values that match the scenario.

The matching is the project's one vocabulary (:mod:`nephrosim.vocabulary`), the same that the
calibration and the held-out validation use to map evidence rows onto scenarios: the scenario's
injury model gives its evidence injury term (:func:`~nephrosim.vocabulary.evidence_injury`), the
store selects that term and the scenario's species (:meth:`EvidenceStore.records`), and each
row's readout is mapped onto a model readout (:func:`~nephrosim.vocabulary.model_readout`). A row
*matches* when that model readout is one of the scenario's readouts.

A matching row is drawn only when its value can stand on the plot's axis as it is: a group mean
(not a ratio between arms, not a sham arm), at a stated time within the scenario's times, of a
readout the model computes in physical units (``absolute`` comparability; a score or a fold of
normal on the model's own scale is not comparable as a value), in a unit that converts to the
plot's unit with the package's one converter (:func:`nephrosim.units.convert`, with the molar
masses of creatinine and urea nitrogen). Every other matching row is counted under the reason it
was skipped, and the page says how many.

The injury's design number must agree too, read off each group of the study's arms (a series of
clamp times or doses is one design per group: :func:`nephrosim.calibration.designs.design_groups`)
with the calibration's own reader (:func:`nephrosim.calibration.designs.injury_of`, which parses
the group's ``injury_details``):
ischaemia–reperfusion clamp minutes, cisplatin / LPS / adriamycin / streptozotocin mg/kg, glycerol
mL/kg. A row matches only when its study's number is within ±:data:`DESIGN_TOLERANCE` (20 %) of
the scenario's. The 20 % is **assumed**, not sourced: it keeps a 40–50 min clamp on a 45 min
simulation (clamp-time series in rodents step by 10–15 min) and keeps 25 min or 20 mg/kg studies
off 45 min or 5 mg/kg simulations; range considered 10–30 %. For ischaemia–reperfusion the
laterality must agree where the study states it (bilateral, unilateral, or unilateral with the
other kidney removed; a study that names none is not compared on it). A row of the scenario's
species, injury and readouts whose study does not give the number as one value (or gives a
design the model is not: a cold or transplant ischaemia) is counted as matched and skipped under
``design not given: <why>``, never guessed. Injuries without a design number (CLP, UUO, 5/6
nephrectomy, cardiac surgery) match on species and injury model only.

**Body temperature** (ischaemia–reperfusion only; the scenario's ``injury.temperature_c``) is
read by :func:`nephrosim.evidence.study_design.study_temperature`, the reader the calibration's
study designs use too, from what the study's rows state (numbers of 25–42 °C, ranges, the words
*hypothermic* and *normothermic*; a culture or storage temperature is not read). A study whose stated
temperature is more than ±:data:`TEMPERATURE_TOLERANCE_C` (1.9 °C) from the scenario's is
counted as matched and skipped under ``temperature: …`` — a hypothermic study is not drawn on a
normothermic simulation and vice versa. The 1.9 °C is **assumed** (its reasoning is in
:mod:`nephrosim.evidence.study_design`). A study whose rows name temperatures that disagree with
each other (groups at 37 °C and in hypothermia that the store keeps as one design) is skipped
under ``temperature: …`` as well, since which row is at which temperature is not recorded. A
study that states **no** temperature is drawn as before, whatever the scenario's, and the page
counts its drawn rows under ``temperature not stated`` (:data:`TEMPERATURE_NOT_STATED`): an
unstated temperature is not taken to be 37 °C.

**Sex** is matched only when the scenario states one (``Scenario.sex``; the model describes
males and refuses ``female``): a study of females, or of both sexes, is then skipped under
``sex: …``; a study that does not say is drawn. The sex is read from the study's ``sex`` and
``strain`` fields (curators wrote it in either). **Strain** is not matched (the scenario has no
strain). Each point carries its study's strain, sex and temperature as the store gives them,
and the result lists each matched study with them (``studies``), so the reader can judge how
close a point is.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Mapping

from nephrosim.evidence.study_design import (  # noqa: F401 (the page's names for them)
    HYPOTHERMIA_BELOW_C, NORMOTHERMIA_C, TEMPERATURE_NOT_STATED, TEMPERATURE_TOLERANCE_C, StudyTemperature,
    study_sex, study_temperature, temperature_mismatch)

#: Characters of the source quote shown on hover.
QUOTE_CHARS = 220
#: Relative tolerance on the injury's design number (assumed, range 0.1–0.3: see the module text).
DESIGN_TOLERANCE = 0.20
#: The scenario injury field that is each injury model's design number.
DESIGN_NUMBER = {"ischemia_reperfusion": "clamp_min", "cisplatin": "dose_mg_per_kg", "lps": "dose_mg_per_kg",
                 "adriamycin": "dose_mg_per_kg", "stz_diabetes": "dose_mg_per_kg", "glycerol": "dose_ml_per_kg"}
#: Evidence roles drawn, and how the plot names them.
ROLE_LABELS = {"control": "untreated", "treated": "treated", "comparator": "treated"}


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, pandas NA
    except (TypeError, ValueError):  # pd.NA compares to NA, whose truth value is ambiguous
        return True


def _text(value) -> str:
    return "" if _missing(value) else str(value)


def _treatment(row) -> str:
    """The treated arm in words, as the study gives it (product, dose, route, time)."""
    parts = [_text(row["product_raw"]) or _text(row["product"]), _text(row["dose_raw"]), _text(row["route"]),
             _text(row["timing_raw"])]
    return ", ".join(p for p in parts if p)


def _laterality(injury: Mapping) -> str:
    if injury.get("contralateral_nephrectomy"):
        return "unilateral with the other kidney removed"
    return "bilateral" if injury.get("bilateral", True) else "unilateral"




def design_match(scenario_injury, study_rows, temperature: StudyTemperature | None = None
                 ) -> tuple[bool, str | None]:
    """Whether a study's design agrees with the scenario's injury, and the skip reason if unknown.

    Returns ``(True, None)`` when it agrees (or the injury model has no design number),
    ``(False, None)`` when its design number or laterality differs (the rows are not a match), and
    ``(False, reason)`` when the study does not give its design, or gives a clamp temperature
    other than the scenario's (the rows match but are skipped under ``reason``). ``temperature``: the
    study's :func:`study_temperature`, when the caller has read it already.
    """
    from nephrosim.calibration.designs import NotEvaluable, injury_of

    field = DESIGN_NUMBER.get(scenario_injury.model)
    if field is None:
        return True, None
    try:
        study, assumptions = injury_of(study_rows)
    except NotEvaluable as exc:  # a temperature the rows disagree on is named as such, not as a missing design
        return False, str(exc) if str(exc).startswith("temperature:") else f"design not given: {exc}"
    wanted = float(getattr(scenario_injury, field))
    if abs(float(study[field]) - wanted) > DESIGN_TOLERANCE * wanted:
        return False, None
    laterality_stated = not any(a.startswith("laterality not stated") for a in assumptions)
    if field == "clamp_min" and laterality_stated and \
            _laterality(study) != _laterality(scenario_injury.model_dump()):
        return False, None
    if field == "clamp_min":
        temperature = temperature if temperature is not None else study_temperature(study_rows)
        reason = temperature_mismatch(temperature, float(scenario_injury.temperature_c))
        if reason is not None:
            return False, reason
    return True, None


def study_match(scenario, study_rows, temperature: StudyTemperature | None = None) -> tuple[bool, str | None]:
    """:func:`design_match`, then the scenario's sex where it states one (same return values)."""
    agrees, reason = design_match(scenario.injury, study_rows, temperature)
    if not agrees or scenario.sex is None:
        return agrees, reason
    sex = study_sex(study_rows)
    if sex is not None and sex != scenario.sex:
        return False, f"sex: the study's animals are {sex}; the scenario is {scenario.sex}"
    return True, None


def literature_points(scenario, units: Mapping[str, str], store=None) -> dict:
    """The evidence rows matching ``scenario`` and the points to draw of them.

    Arguments
    ---------
    scenario : a validated :class:`~nephrosim.scenarios.schema.Scenario`.
    units : the plot's unit of each readout (the run's reporting units).
    store : an :class:`~nephrosim.evidence.EvidenceStore` (default: the user's store,
        ``$NEPHROSIM_DB``, seeded with the shipped evidence on first use).

    Returns
    -------
    A dict: ``injury_term`` (the evidence term of the scenario's injury, or ``None``),
    ``store`` (its path), ``matched`` (rows of the species, injury term and a scenario readout
    whose study's design number agrees or is not given: see the module text),
    ``drawn``, ``skipped`` (a list of ``{"reason", "rows"}``, most frequent first), ``points``
    (one dict per drawn row: readout, time_h, value and dispersion in the plot's unit, what was
    reported, role, study id, arm, treatment, injury details, the study's strain, sex and clamp
    temperature as stated, PMID/DOI and the quote), ``drawn_notes`` (``{"note", "rows"}``: drawn
    rows whose study does not state what the scenario sets, so far
    :data:`TEMPERATURE_NOT_STATED` for a clamp) and ``studies`` (one dict per matched study:
    study_id, strain, sex, temperature, matched and drawn rows, and the study's skip reason or "").
    """
    from nephrosim.biology.physiology import READOUT_SUBSTANCE
    from nephrosim.evidence import EvidenceStore
    from nephrosim.units import UnitError, convert
    from nephrosim.vocabulary import evidence_injury, model_readout

    term = evidence_injury(scenario.injury.model)
    out = {"injury_term": term, "species": scenario.species, "store": "", "matched": 0, "drawn": 0,
           "skipped": [], "points": [], "drawn_notes": [], "studies": []}
    if term is None:
        return out
    store = store if store is not None else EvidenceStore()
    out["store"] = str(store.path)
    rows = store.ensure().records(injury=term, species=scenario.species)
    first, last = float(scenario.times_h[0]), float(scenario.times_h[-1])
    skipped: Counter[str] = Counter()
    points = []
    # one design per group of a study's arms (a series of clamp times, doses or temperatures): the study id
    # and the group's injury details (calibration.designs.design_groups)
    from nephrosim.calibration.designs import design_text

    details = design_text(rows)
    group_of = list(zip(rows["study_id"].astype(str), details))
    by_group = dict(tuple(rows.groupby([rows["study_id"].astype(str), details], sort=False)))
    clamp = scenario.injury.model == "ischemia_reperfusion"
    temperatures = {key: study_temperature(group_rows) for key, group_rows in by_group.items()} if clamp else {}
    designs = {key: study_match(scenario, group_rows, temperatures.get(key)) for key, group_rows in by_group.items()}
    notes: Counter[str] = Counter()
    studies: dict[str, dict] = {}
    for (_, row), group in zip(rows.iterrows(), group_of):
        match = model_readout(str(row["readout"]))
        if match is None or match.model not in scenario.readouts:
            continue  # not a readout of this scenario: not a match
        agrees, design_unknown = designs[group]
        if not agrees and design_unknown is None:
            continue  # another clamp time, dose or laterality: not a match
        out["matched"] += 1
        study_id = str(row["study_id"])
        temperature = temperatures[group].text if clamp else ""
        study = studies.setdefault(study_id, {
            "study_id": study_id, "strain": _text(row["strain"]), "sex": _text(row["sex"]),
            "temperature": temperature, "matched": 0, "drawn": 0, "skipped": design_unknown or ""})
        study["matched"] += 1
        drawn_before = len(points)
        role = str(row["role"])
        unit = _text(row["unit"])
        if design_unknown is not None:
            skipped[design_unknown] += 1
        elif role not in ROLE_LABELS:
            skipped["a sham-operated arm (no injury)" if role == "sham" else
                    f"role {role!r}: a ratio between arms, not a group's value"] += 1
        elif match.comparability != "absolute":
            skipped[f"{match.model}: the model computes it on its own scale (a score or fold of normal), so a "
                    "study's value cannot stand on its axis"] += 1
        elif _missing(row["mean"]):
            skipped["no mean value reported"] += 1
        elif _missing(row["time_h"]):
            skipped["no single time stated"] += 1
        elif not first <= float(row["time_h"]) <= last:
            skipped[f"at a time outside the scenario's {first:g}–{last:g} h"] += 1
        elif not unit:
            skipped["unit not stated in the source"] += 1
        else:
            readout = match.model
            try:
                factor = float(convert(1.0, unit, units[readout], substance=READOUT_SUBSTANCE.get(readout)))
            except UnitError:
                skipped[f"unit {unit!r} does not convert to {units[readout]!r}"] += 1
                continue
            dispersion = None if _missing(row["dispersion"]) or _missing(row["dispersion_type"]) else \
                float(row["dispersion"]) * factor
            quote = _text(row["quote"])
            points.append({
                "readout": readout, "time_h": float(row["time_h"]), "value": float(row["mean"]) * factor,
                "dispersion": dispersion if dispersion is None or math.isfinite(dispersion) else None,
                "dispersion_type": _text(row["dispersion_type"]), "n": None if _missing(row["n"]) else int(row["n"]),
                "reported": f"{float(row['mean']):g} {unit}", "role": ROLE_LABELS[role],
                "study_id": str(row["study_id"]), "arm": _text(row["arm"]) or str(row["arm_id"]),
                "treatment": _treatment(row) if role != "control" else "",
                "co_intervention": _text(row["co_intervention"]), "injury_details": _text(row["injury_details"]),
                "strain": study["strain"], "sex": study["sex"], "temperature": temperature,
                "pmid": _text(row["pmid"]), "doi": _text(row["doi"]),
                "quote": quote if len(quote) <= QUOTE_CHARS else quote[:QUOTE_CHARS - 1].rstrip() + "…"})
        if len(points) > drawn_before:
            study["drawn"] += 1
            if clamp and not temperatures[group].stated:
                notes[TEMPERATURE_NOT_STATED] += 1
    out["points"] = points
    out["drawn"] = len(points)
    out["skipped"] = [{"reason": reason, "rows": n} for reason, n in skipped.most_common()]
    out["drawn_notes"] = [{"note": note, "rows": n} for note, n in notes.most_common()]
    out["studies"] = sorted(studies.values(), key=lambda s: (-s["drawn"], s["study_id"]))
    return out
