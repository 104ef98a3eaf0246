"""Head-to-head comparison of therapy arms: efficacy and risk tables.

Two entry points, for the CLI (``nephrosim compare SCENARIO``, ``nephrosim
protocol PROTOCOL.yaml``) and for Python:

* :func:`compare` — simulate every arm of a scenario and return one efficacy table
  (peak and AUC of serum creatinine and BUN, their reduction vs the vehicle arm, and
  every requested readout at every requested time) and one risk table
  (:func:`nephrosim.analysis.risks.risk_table`).
* :func:`effect_sizes` — per treated arm, the reduction of the serum-creatinine rise against a
  stated reference arm, with a 95 % interval over parameter sets drawn on the table's ranges
  (or the statement that no interval was computed).
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
from nephrosim.errors import UserInputError
from nephrosim.run.assemble import scenario_table
from nephrosim.run.simulation import as_scenario, simulate
from nephrosim.scenarios.protocols import load_protocol

__all__ = ["compare", "protocol_report", "efficacy_table", "effect_sizes", "reference_arm"]

#: Readouts always summarised by peak and AUC.
KEY_READOUTS = ("serum_creatinine", "bun")


def reference_arm(scenario) -> str | None:
    """The arm every treated arm is compared with: ``vehicle``, else the first untreated arm
    (``None`` when every arm is treated)."""
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


def _reductions(y, reference, t) -> tuple[float, float]:
    """Percent reduction of the rise above t = 0 (peak, area under the curve) of trajectory ``y``
    against ``reference``: ``100 × (1 − rise ÷ reference rise)``; NaN when the reference does
    not rise (nothing to reduce). Works on the last axis, so rows of samples pass through."""
    y, reference = np.asarray(y, float), np.asarray(reference, float)
    rise, ref = y - y[..., :1], reference - reference[..., :1]
    ref_peak, ref_auc = ref.max(axis=-1), np.trapezoid(ref, t, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        peak = np.where(ref_peak > 0, 100 * (1 - rise.max(axis=-1) / ref_peak), np.nan)
        auc = np.where(ref_auc > 0, 100 * (1 - np.trapezoid(rise, t, axis=-1) / ref_auc), np.nan)
    return (float(peak), float(auc)) if peak.ndim == 0 else (peak, auc)


def efficacy_table(scenario, result):
    """Efficacy per arm from a :class:`~nephrosim.run.simulation.SimulationResult` on a dense grid.

    Columns: ``arm``, ``status``; for serum creatinine and BUN ``peak_*``, ``time_of_peak_*_h``,
    ``auc_*`` (trapezoid over the simulated times, unit × h) and ``*_peak_reduction_pct`` /
    ``*_auc_reduction_pct`` vs the vehicle arm (AUC of the rise above the t = 0 value); then
    ``<readout>@<t>h`` for every readout and every scenario time.
    """
    import pandas as pd

    t = np.asarray(result.times_h)
    vehicle = reference_arm(scenario)
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
                peak_pct, auc_pct = _reductions(y, result.get(vehicle, ro), t)
                row[f"{ro}_peak_reduction_pct"] = peak_pct
                row[f"{ro}_auc_reduction_pct"] = auc_pct
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


#: What the effect sizes measure, in words printed beside them.
EFFECT_MEASURES = {
    "peak": "reduction of the peak rise above the arm's own t = 0 value, % of the reference arm's rise",
    "auc": "reduction of the area under the rise above t = 0, % of the reference arm's",
}


def effect_sizes(scenario, *, samples: int = 0, seed: int = 0, level: float = 0.95,
                 readout: str = "serum_creatinine"):
    """The effect of every treated arm on ``readout`` against the reference arm, with its interval.

    The effect is the reduction of the rise of ``readout`` above its own t = 0 value (peak and
    area under the curve, :data:`EFFECT_MEASURES`) relative to the reference arm
    (:func:`reference_arm`): 100 % abolishes the rise, 0 % is no effect, negative is harm.
    With ``samples`` > 0 the interval is the central ``level`` range of that reduction over
    ``samples`` parameter sets, each row the scenario's model varies drawn from the ``range``
    prior of :mod:`nephrosim.run.ensemble.priors` — a split log-normal with its median at the
    table's value (the one the estimate uses) and each bound of the table's range 1.96 log-SDs
    away, truncated to the range: the draws of ``simulate --uncertainty`` and of the validation
    report's bands (docs/validation.md). Each set is given to every arm (a paired comparison);
    donors stay at the median donor. Until session 19 the draws were log-uniform on the ranges,
    centred on each range's geometric midpoint wherever the table's value lies, and the interval
    of the mouse IRI example's MSC arm (−76 % to 78 %) excluded its own estimate (78.4 %). This
    is model uncertainty from the assumed and cited ranges, not a confidence interval from data.
    With ``samples`` = 0 no interval is computed and the table says so.

    Returns
    -------
    ``pandas.DataFrame``: ``arm, reference_arm, readout, measure, estimate_pct, lower_pct,
    upper_pct, interval`` (one row per treated arm and measure). Empty when the scenario has
    no untreated reference arm.
    """
    import pandas as pd

    from nephrosim.run.ensemble.priors import draw, priors_from_table, varied_parameters
    from nephrosim.run.simulation import compile_scenario, solver_options

    scenario = as_scenario(scenario)
    if not (isinstance(samples, int) and not isinstance(samples, bool) and 0 <= samples <= 10_000):
        raise UserInputError(f"samples={samples!r}: use a whole number from 0 (no interval) to 10000")
    if not (isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**63):
        raise UserInputError(f"seed={seed!r}: use a whole number from 0 to 2**63 - 1")
    if not 0 < level < 1:
        raise UserInputError(f"level={level!r}: use a fraction between 0 and 1, e.g. 0.95")
    reference = reference_arm(scenario)
    columns = ["arm", "reference_arm", "readout", "measure", "estimate_pct", "lower_pct", "upper_pct", "interval"]
    treated = [a.name for a in scenario.arms if a.name != reference]
    if reference is None or not treated:
        return pd.DataFrame(columns=columns)
    dense = scenario.model_copy(update={"readouts": (readout,), "times_h": _dense_times(scenario.times_h)})
    t = np.asarray(dense.times_h)
    nominal = simulate(dense)
    estimates = {a: _reductions(nominal.get(a, readout), nominal.get(reference, readout), t) for a in treated}
    bounds = {a: ((np.nan, np.nan), (np.nan, np.nan)) for a in treated}
    note = "not computed (run `nephrosim compare --uncertainty`, or effect_sizes(..., samples=N))"
    if samples:
        varied = varied_parameters(dense)
        names = list(varied)
        with np.errstate(over="ignore"):  # draw() evaluates every branch of its np.where
            values = draw(priors_from_table(varied, 0.0, "range"), 0, samples, seed)
        runs, ok = {}, np.ones(samples, bool)
        for arm, program in zip(dense.arms, compile_scenario(dense)):
            own = [i for i, n in enumerate(names) if n in program.parameter_values]
            sim = program.simulator(solver_options(dense))
            out, statuses = sim.run_batch(t, [names[i] for i in own], values[:, own])
            runs[arm.name] = program.convert(out)[:, :, 0]
            ok &= np.array([s.ok for s in statuses])
        tail = 100 * (1 - level) / 2
        for a in treated:
            peak, auc = _reductions(runs[a][ok], runs[reference][ok], t)
            bounds[a] = tuple((float(np.nanpercentile(x, tail)), float(np.nanpercentile(x, 100 - tail)))
                              for x in (peak, auc))
        note = (f"{100 * level:g} % range over {int(ok.sum())} of {samples} parameter sets (seed {seed}), each of "
                f"{len(names)} varied parameters drawn around its table value within its table range (the range "
                "prior of simulate --uncertainty), paired across arms; model uncertainty, not a confidence interval "
                "from data")
    rows = []
    for a in treated:
        for k, measure in enumerate(("peak", "auc")):
            lo, hi = bounds[a][k]
            rows.append({"arm": a, "reference_arm": reference, "readout": f"{readout} [{nominal.units[readout]}]",
                         "measure": EFFECT_MEASURES[measure], "estimate_pct": estimates[a][k],
                         "lower_pct": lo, "upper_pct": hi, "interval": note})
    return pd.DataFrame(rows, columns=columns)


def protocol_report(protocol_path: str | Path, parameter_set: str = "calibrated"):
    """Product attributes of the cultivation protocol in ``protocol_path`` (YAML).

    Returns
    -------
    ``pandas.DataFrame`` with columns ``attribute, value, lower, upper, unit, source``
    (see :func:`nephrosim.biology.therapy.potency.product_attributes`).
    """

    table = ParameterTable.default(calibrated=parameter_set == "calibrated")
    return product_attributes(load_protocol(protocol_path), table)
