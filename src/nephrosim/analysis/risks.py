"""Risk table of a scenario: the dose-based indices of every arm
(:mod:`nephrosim.biology.therapy.risks`) with the simulated exposures (microembolism,
retained, fibrogenic and maldifferentiated cell-days)."""

from __future__ import annotations

from nephrosim.biology.therapy.risks import TUMORIGENICITY_CAVEAT, arm_risk
from nephrosim.run.assemble import body_weight_kg, scenario_table
from nephrosim.run.simulation import as_scenario, simulate

RISK_READOUTS = ("msc_microembolism", "msc_retained_cell_days", "msc_fibrogenic_cell_days", "msc_kidney_cell_hours")


def risk_table(scenario, result=None, table=None):
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

    scenario = as_scenario(scenario)
    table = table or scenario_table(scenario)
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
