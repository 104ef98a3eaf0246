"""Therapy risks as numbers: immunogenicity, thrombosis/embolism, fibrogenicity, tumorigenicity.

Dynamic risk exposures are model readouts (``msc_retained_cell_days``,
``msc_fibrogenic_cell_days``, ``msc_microembolism``, ``msc_kidney_cell_hours``);
:func:`nephrosim.analysis.risks.risk_table` combines them with the dose-based indices
of this module after a simulation.

* **Immunogenicity.** Donor-specific antibodies (DSA) in 11.51 % of allogeneic-MSC
  recipients per course (Sanabria-de la Torre 2021, 356 patients). The cumulative
  probability over n courses, 1 − (1 − p)ⁿ, is an upper bound: the review found no
  effect of the number of doses. Sensitized repeat doses are cleared faster
  (``msc_sensitized_clearance_fold``) and so help less.
* **Thrombosis / IBMIR.** Index = Σ_doses tissue-factor fold (source, passage) ×
  dose (cells/kg) / 3×10⁶ cells/kg (Moll 2012: only minor activation at
  1–3×10⁶ cells/kg of low-passage BM-MSC) × route weight (intravascular 1, local
  ``risk_local_route_thrombosis_factor``). Adipose ≈ cord > BM (Hoang 2024).
  Arterial delivery adds the microembolic harm (peak ``msc_microembolism``; the
  renal-artery dose ceiling, PLoS One 2014 e92347).
* **Fibrogenicity.** Kidney-retained MSC that (mal)differentiate (5–15 %, Kunter
  2007 glomerular adipocytes) and MSC-days spent in a fibrotic milieu (perivascular
  MSC-like cells are myofibroblast precursors, Kramann 2015).
* **Tumorigenicity.** Exposure only: retained viable cell-days. There is no solid
  evidence of spontaneous transformation of human MSCs (Torsvik 2010); the 45.8 %
  figure of Røsland 2009 was cross-contamination and is never used.
"""

from __future__ import annotations

from nephrosim.biology.parameters import ParameterTable
from nephrosim.biology.therapy.potency import lot_attributes

TUMORIGENICITY_CAVEAT = (
    "exposure only, not a probability: no solid evidence of spontaneous transformation of human MSCs "
    "(Torsvik 2010, doi:10.1158/0008-5472.CAN-10-1305; the 45.8 % figure of Rosland 2009 was "
    "cross-contamination and is not used)"
)
INTRAVASCULAR = ("iv", "intra_arterial_aorta", "renal_artery")
ALLOGENEIC = ("allogeneic", "xenogeneic_human")


def dsa_probability(n_courses: int, species: str, table: ParameterTable, donor: str = "allogeneic") -> float:
    """Probability of donor-specific antibodies after ``n_courses`` courses of allogeneic MSC.

    One course: ``msc_dsa_probability_per_course`` (11.51 %). Several: 1 − (1 − p)ⁿ, an
    upper bound (the review found no dose-number effect). Autologous/syngeneic: 0.
    """
    if donor not in ALLOGENEIC or n_courses <= 0:
        return 0.0
    name = "msc_xenogeneic_sensitization_probability" if donor == "xenogeneic_human" else "msc_dsa_probability_per_course"
    p = table.record(name, species).value
    return 1.0 - (1.0 - p) ** n_courses


def _courses(doses_h: list[float], delay_h: float) -> int:
    """Doses separated by at least ``delay_h`` count as separate courses."""
    n, last = 0, None
    for t in sorted(doses_h):
        if last is None or t - last >= delay_h:
            n += 1
            last = t
    return n


def arm_risk(arm, species: str, body_weight_kg: float, table: ParameterTable) -> dict:
    """Dose-based risk indices of one arm (no simulation needed), from ``table``."""
    val = lambda n: table.record(n, species).value  # noqa: E731
    ref = val("risk_thrombosis_reference_cells_per_kg")
    local = val("risk_local_route_thrombosis_factor")
    delay = val("msc_sensitization_delay_h")
    thrombosis, allo_doses, cells, donors = 0.0, [], 0.0, set()
    for t in arm.treatments:
        if t.product != "msc":
            continue
        attrs = lot_attributes(t.effective_protocol(), table)
        per_kg = t.dose_cells(body_weight_kg) / body_weight_kg
        w = 1.0 if t.route in INTRAVASCULAR else local
        n = len(t.dose_times_h())
        thrombosis += attrs["tissue_factor_fold"] * per_kg / ref * w * n
        cells += t.dose_cells(body_weight_kg) * n
        if t.donor in ALLOGENEIC:
            allo_doses += t.dose_times_h()
            donors.add(t.donor)
    courses = _courses(allo_doses, delay)
    donor = "xenogeneic_human" if "xenogeneic_human" in donors else ("allogeneic" if donors else "autologous")
    return {
        "cells_given": cells,
        "allogeneic_courses": courses,
        "dsa_probability_per_course": dsa_probability(1, species, table, donor) if courses else 0.0,
        "dsa_probability_cumulative_upper": dsa_probability(courses, species, table, donor),
        "thrombosis_index": thrombosis,
    }
