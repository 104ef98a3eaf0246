"""Therapy risks as numbers: immunogenicity, thrombosis/embolism, fibrogenicity, tumorigenicity.

Dynamic risk exposures are model readouts (``msc_retained_cell_days``,
``msc_fibrogenic_cell_days``, ``msc_microembolism``, ``msc_kidney_cell_hours``);
:func:`risk_table` combines them with dose-based indices after a simulation.

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

from nephrosim.model.parameters import ParameterTable

TUMORIGENICITY_CAVEAT = (
    "exposure only, not a probability: no solid evidence of spontaneous transformation of human MSCs "
    "(Torsvik 2010, doi:10.1158/0008-5472.CAN-10-1305; the 45.8 % figure of Rosland 2009 was "
    "cross-contamination and is not used)"
)
INTRAVASCULAR = ("iv", "intra_arterial_aorta", "renal_artery")
ALLOGENEIC = ("allogeneic", "xenogeneic_human")


def dsa_probability(n_courses: int, species: str = "human", table: ParameterTable | None = None,
                    donor: str = "allogeneic") -> float:
    """Probability of donor-specific antibodies after ``n_courses`` courses of allogeneic MSC.

    One course: ``msc_dsa_probability_per_course`` (11.51 %). Several: 1 − (1 − p)ⁿ, an
    upper bound (the review found no dose-number effect). Autologous/syngeneic: 0.
    """
    if donor not in ALLOGENEIC or n_courses <= 0:
        return 0.0
    table = table or ParameterTable.default()
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


def arm_risk(arm, species: str, body_weight_kg: float, table: ParameterTable | None = None) -> dict:
    """Dose-based risk indices of one arm (no simulation needed)."""
    from nephrosim.scenarios.protocols import lot_attributes

    table = table or ParameterTable.default()
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


RISK_READOUTS = ("msc_microembolism", "msc_retained_cell_days", "msc_fibrogenic_cell_days", "msc_kidney_cell_hours")


def risk_table(scenario, result=None, table: ParameterTable | None = None):
    """Risk per arm of ``scenario`` (simulated here unless ``result`` has the risk readouts).

    Returns
    -------
    ``pandas.DataFrame``, one row per arm: ``cells_given``, ``allogeneic_courses``,
    ``dsa_probability_per_course``, ``dsa_probability_cumulative_upper``,
    ``thrombosis_index`` (1 = 3×10⁶ BM-MSC/kg IV), ``microembolism_peak`` (0–1),
    ``fibrogenic_cell_days``, ``maldifferentiated_cell_days``,
    ``tumorigenicity_exposure_cell_days`` and ``tumorigenicity_caveat``.
    """
    import numpy as np
    import pandas as pd

    from nephrosim.model.library import body_weight_kg
    from nephrosim.simulation import as_scenario, simulate

    table = table or ParameterTable.default()
    scenario = as_scenario(scenario)
    if result is None or any(r not in scenario.readouts for r in RISK_READOUTS):
        grid = {0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 6.0, 12.0, 24.0, 48.0, 72.0, 120.0, 168.0, 336.0, 672.0}
        times = sorted(set(scenario.times_h) | grid)
        sc = scenario.model_copy(update={"readouts": RISK_READOUTS, "times_h": tuple(times), "units": {}})
        result = simulate(sc)
    bw = body_weight_kg(scenario, table)
    maldiff = table.record("risk_msc_maldifferentiation_fraction", scenario.species).value
    rows = []
    for arm in scenario.arms:
        row = {"arm": arm.name, **arm_risk(arm, scenario.species, bw, table)}
        emb = result.get(arm.name, "msc_microembolism")
        row["microembolism_peak"] = float(np.nanmax(emb)) if emb.size else 0.0
        row["fibrogenic_cell_days"] = float(result.get(arm.name, "msc_fibrogenic_cell_days")[-1])
        row["maldifferentiated_cell_days"] = maldiff * float(result.get(arm.name, "msc_kidney_cell_hours")[-1]) / 24
        row["tumorigenicity_exposure_cell_days"] = float(result.get(arm.name, "msc_retained_cell_days")[-1])
        row["tumorigenicity_caveat"] = TUMORIGENICITY_CAVEAT
        rows.append(row)
    return pd.DataFrame(rows)
