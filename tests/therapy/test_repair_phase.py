"""Repair-phase action of the paracrine effects: a dose into an established injury.

The evidence (shared/evidence/meta_analyses.md): Wang 2013 (Nephrology 18:201, 21 studies,
PMID 23217027) — "there tended to be greater reduction in Scr with ... late administration
(>1 day) after injury"; Papazova 2015 (PMC4348565, 71 studies) — "The timing of therapy in
relation to clinical manifestation of disease ... [was] not associated with efficacy".
The model (``tubules.py``): HGF, IGF-1 and EV RNA, gated by ``vegf_gate``, speed the regeneration
cycle of dedifferentiated cells — division onto denuded membrane and redifferentiation
(``repair_max_regeneration``) — and the exit from G2/M arrest (``repair_max_arrest_exit``); both
assumed, both 0 = the model before this action.

Design: mouse 30-min bilateral IRI (the clamp of test_efficacy.py), single IV doses of
5×10⁵ MSC or 100 µg EV protein. Every arm is compiled once and re-run with the repair
parameters switched (compiling dominates the run time).
"""

import dataclasses
import importlib

import numpy as np
import pytest

from nephrosim.run.simulation import as_scenario, compile_scenario, solver_options

REPAIR = ("repair_max_regeneration", "repair_max_arrest_exit")
OFF = dict.fromkeys(REPAIR, 0.0)
TIMES = tuple(float(t) for t in np.arange(0, 169, 3.0))  # to day 7
READOUTS = ["serum_creatinine", "gfr", "fibrosis_area", "tubular_injury_score"]
MSC = {"product": "msc", "dose": 5e5, "route": "iv", "donor": "allogeneic"}
EV = {"product": "ev", "dose": 100, "dose_unit": "ug_protein"}
ARMS = {"vehicle": None, "msc_0h": MSC, "msc_24h": {**MSC, "time_h": 24}, "msc_48h": {**MSC, "time_h": 48},
        "ev_24h": {**EV, "time_h": 24}, "ev_48h": {**EV, "time_h": 48}}


def _scenario(arms):
    return as_scenario({
        "species": "mouse", "injury": {"model": "ischemia_reperfusion", "clamp_min": 30},
        "arms": [{"name": a} if t is None else {"name": a, "treatments": [t]} for a, t in arms.items()],
        "readouts": READOUTS, "times_h": list(TIMES)})


class Arms:
    """Compiled arms, run with chosen repair parameters.

    Parameters set on a simulator stay set, so every run names both repair parameters.
    """

    def __init__(self, arms):
        self.scenario = _scenario(arms)
        options = solver_options(self.scenario)
        self.programs = {p.arm: (p, p.simulator(options)) for p in compile_scenario(self.scenario)}
        p0 = next(iter(self.programs.values()))[0]
        self.nominal = {k: p0.parameter_values[k] for k in REPAIR}

    def run(self, arm, repair, readout="serum_creatinine"):
        program, sim = self.programs[arm]
        out, status = sim.run(TIMES, dict(repair))
        assert status.ok, (arm, repair, status)
        return program.convert(out)[:, READOUTS.index(readout)]


@pytest.fixture(scope="module")
def iri():
    return Arms(ARMS)


def excess_auc(y, start, end=168.0):
    """AUC of SCr above its pre-insult value from ``start`` to ``end`` h (trapezoids on TIMES)."""
    t = np.asarray(TIMES)
    m = (t >= start) & (t <= end)
    return np.trapezoid(y[m] - y[0], t[m])


def reduction(iri, arm, repair, start):
    """Fraction of the vehicle's excess-SCr AUC (``start`` → day 7) that ``arm`` removes."""
    return 1 - excess_auc(iri.run(arm, repair), start) / excess_auc(iri.run("vehicle", repair), start)


@pytest.mark.parametrize("arm,dose_h", [("msc_24h", 24), ("msc_48h", 48), ("ev_24h", 24), ("ev_48h", 48)])
def test_dose_into_established_injury_shortens_recovery(iri, arm, dose_h):
    """Measure: the excess serum creatinine (above baseline) integrated from the dose to day 7 —
    the creatinine exposure of the recovery phase. (Time to return within 25 % of baseline is not
    usable: in this model no arm, vehicle or treated, gets there by day 14 after a 30-min clamp.)

    A dose at +24 or +48 h removes at least a quarter of it, and the repair-phase action itself
    removes at least a tenth more than the injury-phase actions alone. Without the repair action
    the +48 h doses stay below a quarter (model: MSC 0.21, EV 0.17) — the "almost nothing" of
    the issue; with it MSC 0.55 / 0.38 and EV 0.52 / 0.36 at +24 / +48 h.
    """
    on, off = reduction(iri, arm, iri.nominal, dose_h), reduction(iri, arm, OFF, dose_h)
    assert on >= 0.25, (arm, on, off)
    assert on - off >= 0.10, (arm, on, off)


def _timing_ratio(iri, repair):
    """SCr reduction over days 2–7 by a +24 h dose relative to a dose at reperfusion."""
    return reduction(iri, "msc_24h", repair, 48) / reduction(iri, "msc_0h", repair, 48)


def test_repair_action_moves_late_doses_towards_the_timing_subgroups(iri):
    """The late/early ratio of the days-2–7 SCr reduction rises with the repair action
    (model: 0.75 without, 0.86 with it)."""
    assert _timing_ratio(iri, iri.nominal) > _timing_ratio(iri, OFF) + 0.05


@pytest.mark.xfail(strict=True, reason=(
    "the rule-based repair action (a full effect doubles the regeneration cycle and the exit from "
    "arrest) gives a +24 h dose 0.86 of the days-2-7 SCr reduction of a dose at reperfusion (0.75 "
    "without it), and no value in the parameters' ranges reaches 0.9 (0.87 at their upper bounds): on "
    "day 2 the +24 h dose has had one day to act while the reperfusion dose prevented the injury. "
    "Not tuned; open (docs/therapy.md 7d)."))
def test_late_dose_is_not_worse_than_early_dose_over_days_2_to_7(iri):
    """Consistent with the timing subgroups: Wang 2013 found that late administration (>1 day)
    "tended to" a greater SCr reduction and Papazova 2015 that timing was "not associated with
    efficacy" — a late dose is not worse. Allowing 10 % for "tended"/"not associated" (non-
    significant subgroup differences), a +24 h dose should give ≥ 0.9 of the SCr reduction of a
    dose at reperfusion over the same window, days 2–7 (both measured after either dose)."""
    assert _timing_ratio(iri, iri.nominal) >= 0.9


def _previous_tubules(side):
    """The tubular process with the flux rates it had before the repair-phase action."""
    tubules = importlib.import_module("nephrosim.biology.injury.tubules")
    proc = tubules.tubules(side)
    fluxes, stripped = [], 0
    for f in proc.fluxes:
        rate = f.rate.replace(" * tubular_regeneration_factor", "").replace(" * tubular_arrest_exit_factor", "")
        stripped += rate != f.rate
        fluxes.append(dataclasses.replace(f, rate=rate))
    assert stripped == 3, "the repair factors are no longer where this test expects them"
    return dataclasses.replace(proc, fluxes=tuple(fluxes))


def test_zero_repair_reproduces_the_previous_equations_exactly(iri, monkeypatch):
    """Regression anchor: with every repair parameter at 0 the model is the model before the
    repair-phase action, bit for bit (the injury core rebuilt with the previous flux rates),
    for a dose into the established injury."""
    injury = importlib.import_module("nephrosim.biology.injury")
    monkeypatch.setattr(injury, "tubules", _previous_tubules)
    previous = Arms({"msc_24h": ARMS["msc_24h"]})
    for readout in READOUTS:
        old = previous.run("msc_24h", previous.nominal, readout)
        assert np.array_equal(iri.run("msc_24h", OFF, readout), old), readout
    assert not np.array_equal(iri.run("msc_24h", iri.nominal), previous.run("msc_24h", previous.nominal))


def test_vehicle_is_unchanged_by_the_repair_parameters(iri):
    """No harm: without therapy the repair signal is 0 (up to the 5×10⁻¹⁰ rounding of ``eff``),
    so a vehicle arm is the same at 0, nominal and the upper bounds of both parameters."""
    from nephrosim.biology.parameters import ParameterTable

    upper = {k: ParameterTable.default().record(k, "mouse").upper for k in REPAIR}
    for readout in READOUTS:
        ref = iri.run("vehicle", OFF, readout)
        for repair in (iri.nominal, upper):
            np.testing.assert_allclose(iri.run("vehicle", repair, readout), ref, rtol=1e-8, atol=1e-12)
