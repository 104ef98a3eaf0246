"""Head-to-head comparison of therapy arms: efficacy and risk tables.

Two entry points, for the CLI (``nephrosim compare SCENARIO``, ``nephrosim
protocol PROTOCOL.yaml``) and for Python:

* :func:`compare` — simulate every arm of a scenario and return one efficacy table
  (peak and AUC of serum creatinine and BUN, their reduction vs the vehicle arm, and
  every requested readout at every requested time) and one risk table
  (:func:`nephrosim.analysis.risks.risk_table`).
* :func:`protocol_report` — the product attributes of a cultivation protocol
  (:func:`nephrosim.biology.therapy.potency.product_attributes`).

Example
-------
>>> from nephrosim.analysis.compare import compare          # doctest: +SKIP
>>> efficacy, risk = compare("examples/head_to_head_mouse_iri.yaml")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from nephrosim.analysis.risks import RISK_READOUTS, risk_table
from nephrosim.biology.parameters import ParameterTable
from nephrosim.biology.therapy.potency import product_attributes
from nephrosim.run.assemble import scenario_table
from nephrosim.run.simulation import as_scenario, simulate
from nephrosim.scenarios.protocols import load_protocol

__all__ = ["compare", "protocol_report", "efficacy_table"]

#: Readouts always summarised by peak and AUC.
KEY_READOUTS = ("serum_creatinine", "bun")


def _vehicle_arm(scenario) -> str | None:
    for arm in scenario.arms:
        if arm.name == "vehicle":
            return arm.name
    for arm in scenario.arms:
        if not arm.treatments:
            return arm.name
    return None


def _dense_times(times_h) -> tuple[float, ...]:
    end = max(times_h)
    grid = np.unique(np.concatenate([np.asarray(times_h, float),
                                     np.linspace(0.0, end, int(min(400, max(50, end))) + 1)]))
    return tuple(float(t) for t in grid)


def efficacy_table(scenario, result):
    """Efficacy per arm from a :class:`~nephrosim.run.simulation.SimulationResult` on a dense grid.

    Columns: ``arm``, ``status``; for serum creatinine and BUN ``peak_*``, ``time_of_peak_*_h``,
    ``auc_*`` (trapezoid over the simulated times, unit × h) and ``*_peak_reduction_pct`` /
    ``*_auc_reduction_pct`` vs the vehicle arm (AUC of the rise above the t = 0 value); then
    ``<readout>@<t>h`` for every readout and every scenario time.
    """
    import pandas as pd

    t = np.asarray(result.times_h)
    vehicle = _vehicle_arm(scenario)
    rows = []
    for arm in scenario.arms:
        row = {"arm": arm.name, "status": result.statuses[arm.name].code}
        for ro in KEY_READOUTS:
            if ro not in result.scenario.readouts:
                continue
            y = result.get(arm.name, ro)
            unit = result.units[ro]
            i = int(np.nanargmax(y))
            row[f"peak_{ro} [{unit}]"] = float(y[i])
            row[f"time_of_peak_{ro}_h"] = float(t[i])
            row[f"auc_{ro} [{unit}*h]"] = float(np.trapezoid(y, t))
            if vehicle is not None:
                v = result.get(vehicle, ro)
                rise, vrise = y - y[0], v - v[0]
                row[f"{ro}_peak_reduction_pct"] = 100 * (1 - rise.max() / vrise.max()) if vrise.max() > 0 else np.nan
                auc_v = np.trapezoid(vrise, t)
                row[f"{ro}_auc_reduction_pct"] = 100 * (1 - np.trapezoid(rise, t) / auc_v) if auc_v > 0 else np.nan
        for ro in scenario.readouts:
            y = result.get(arm.name, ro)
            for time in scenario.times_h:
                row[f"{ro}@{time:g}h [{result.units[ro]}]"] = float(np.interp(time, t, y))
        rows.append(row)
    return pd.DataFrame(rows)


def compare(scenario, parameters: Mapping[str, float] | None = None):
    """Efficacy and risk of every arm of ``scenario``.

    Arguments
    ---------
    scenario : a :class:`~nephrosim.scenarios.schema.Scenario`, a YAML/JSON path or a mapping.
    parameters : optional parameter values (SBML ids) replacing the nominal ones.

    Returns
    -------
    ``(efficacy, risk)``: two ``pandas.DataFrame`` with one row per arm — see
    :func:`efficacy_table` and :func:`nephrosim.analysis.risks.risk_table`.
    Serum creatinine and BUN are always summarised, whether or not the scenario
    asks for them; peaks and AUCs use a dense time grid, not only ``times_h``.
    """
    scenario = as_scenario(scenario)
    readouts = tuple(dict.fromkeys((*KEY_READOUTS, *scenario.readouts, *RISK_READOUTS)))
    dense = scenario.model_copy(update={"readouts": readouts, "times_h": _dense_times(scenario.times_h)})
    result = simulate(dense, parameters)
    efficacy = efficacy_table(scenario, result)
    risk = risk_table(dense, result)
    return efficacy, risk


def protocol_report(protocol_path: str | Path, parameter_set: str = "calibrated"):
    """Product attributes of the cultivation protocol in ``protocol_path`` (YAML).

    Returns
    -------
    ``pandas.DataFrame`` with columns ``attribute, value, lower, upper, unit, source``
    (see :func:`nephrosim.biology.therapy.potency.product_attributes`).
    """

    table = ParameterTable.default(calibrated=parameter_set == "calibrated")
    return product_attributes(load_protocol(protocol_path), table)
