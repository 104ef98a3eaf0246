"""``simulate``: run every arm of a scenario once and return a tidy result.

Scenario → model (per arm) → SBML → libRoadRunner → readouts in the units asked.
The output is a long table with columns ``arm, sample, time_h, readout, value,
unit, status`` — the same shape ``ensemble`` writes to Parquet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from nephrosim.engine.sbml import to_sbml
from nephrosim.engine.batch import BatchSimulator  # engine backend (issue 15)
from nephrosim.engine.simulator import SolverOptions, Simulator, TrajectoryStatus
from nephrosim.biology.physiology import READOUT_SUBSTANCE
from nephrosim.biology.readouts import available_readouts
from nephrosim.errors import UserInputError
from nephrosim.biology.assay import reported_quantity
from nephrosim.run.assemble import assay_of, assemble, check_overrides, scenario_table
from nephrosim.scenarios.schema import Scenario, load_scenario
from nephrosim.units import convert

COLUMNS = ("arm", "sample", "time_h", "readout", "value", "unit", "status")


def as_scenario(scenario: Scenario | str | Path | Mapping) -> Scenario:
    """Accept a :class:`Scenario`, a path to YAML/JSON, or a plain mapping."""
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, (str, Path)):
        return load_scenario(scenario)
    from nephrosim.scenarios.schema import scenario_from_dict

    return scenario_from_dict(dict(scenario))


def solver_options(scenario: Scenario, check_states: str = "outputs") -> SolverOptions:
    """Solver settings of ``scenario``; ``check_states`` applies unless the scenario sets it."""
    s = scenario.solver
    return s if s.check_states else s.model_copy(update={"check_states": check_states})


@dataclass(frozen=True)
class ArmProgram:
    """Everything needed to run one arm: SBML, output ids and unit conversions."""

    arm: str
    sbml: str
    outputs: tuple[str, ...]
    readouts: tuple[str, ...]
    units: tuple[str, ...]
    factors: tuple[float, ...]
    parameter_values: Mapping[str, float] = field(repr=False)
    start_h: float = 0.0  # hours after the insult that SBML model time 0 stands for (≤ 0)
    #: state → typical magnitude (:attr:`nephrosim.modelspec.State.scale`), where not 1 (the
    #: SBML declares the same in its ``nephrosim:solver`` annotations)
    state_scales: Mapping[str, float] = field(default_factory=dict, repr=False)

    def simulator(self, options: SolverOptions) -> Simulator | BatchSimulator:
        """A :class:`Simulator` for this arm (integration starts at ``start_h``; its times are
        hours after the insult; each state solved to its own scale)."""
        if options.engine == "batch":  # engine backend (issue 15): same interface, same statuses
            return BatchSimulator(self.sbml, self.outputs, options, start_time=self.start_h,
                                  state_scales=self.state_scales)
        return Simulator(self.sbml, self.outputs, options, start_time=self.start_h,
                         state_scales=self.state_scales)

    def convert(self, values: np.ndarray) -> np.ndarray:
        """Model units → reporting units (last axis = readout)."""
        return values * np.asarray(self.factors)


def compile_scenario(scenario: Scenario) -> list[ArmProgram]:
    """Compile every arm of ``scenario`` with its one parameter table.

    Raises :class:`~nephrosim.run.assemble.OverrideError` before anything runs when a
    scenario parameter reaches no arm's model.
    """
    table = scenario_table(scenario)
    assembled = [assemble(scenario, a.name, table) for a in scenario.arms]
    check_overrides(scenario, assembled)
    return [_program(scenario, a.name, x.spec, table) for a, x in zip(scenario.arms, assembled)]


def compile_arm(scenario: Scenario, arm: str) -> ArmProgram:
    """Build the SBML and the readout conversions for one arm."""
    table = scenario_table(scenario)
    return _program(scenario, arm, assemble(scenario, arm, table).spec, table)


def _program(scenario: Scenario, arm: str, spec, table) -> ArmProgram:
    catalogue = available_readouts()
    values = spec.parameter_values
    bw = float(values["body_weight_kg"])
    bsa = None
    if scenario.species == "human":
        height = table.record("height_cm", "human").value
        bsa = math.sqrt(height * bw / 3600.0)  # Mosteller 1987, N Engl J Med 317:1098
    computed = {s.name for s in spec.states} | {q.name for q in spec.quantities}
    missing = [r for r in scenario.readouts if catalogue[r].quantity not in computed]
    if missing:
        raise UserInputError(
            f"readouts: {missing} are not computed for injury model {scenario.injury.model!r} "
            "(it has no tissue biology); drop them, or use an injury model such as "
            "ischemia_reperfusion or sham"
        )
    outputs, units, factors = [], [], []
    for name in scenario.readouts:
        r = catalogue[name]
        unit = scenario.unit_of(name)
        outputs.append(reported_quantity(name, r.quantity, assay_of(scenario)))  # a Jaffé SCr reads + chromogen
        units.append(unit)
        factors.append(float(convert(1.0, r.unit, unit, substance=READOUT_SUBSTANCE.get(name),
                                     body_weight_kg=bw, bsa_m2=bsa)))
    # Integration starts at the insult (t = 0) or at the earliest event before it
    # (pre-treatment), from the healthy steady state.
    start = min([0.0, *(e.time_h for e in spec.events)])
    return ArmProgram(arm, to_sbml(spec, time_origin_h=start), tuple(outputs), tuple(scenario.readouts),
                      tuple(units), tuple(factors), dict(values), start,
                      {s.name: s.scale for s in spec.states if s.scale != 1.0})


class SimulationResult:
    """Readouts of every arm; ``.to_frame()`` gives the long table, ``.plot()`` a figure."""

    def __init__(self, scenario: Scenario, times_h: np.ndarray, arms: dict[str, np.ndarray],
                 units: dict[str, str], statuses: dict[str, TrajectoryStatus]):
        self.scenario = scenario
        self.times_h = times_h
        self.values = arms  # arm -> array[time, readout] in reporting units
        self.units = units
        self.statuses = statuses

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.statuses.values())

    def get(self, arm: str, readout: str) -> np.ndarray:
        """One readout's trajectory for one arm, at ``times_h``."""
        j = self.scenario.readouts.index(readout)
        return self.values[arm][:, j]

    def to_frame(self):
        import pandas as pd

        frames = []
        for arm, arr in self.values.items():
            t, r = np.meshgrid(self.times_h, np.arange(len(self.scenario.readouts)), indexing="ij")
            frames.append(pd.DataFrame({
                "arm": arm,
                "sample": 0,
                "time_h": t.ravel(),
                "readout": np.asarray(self.scenario.readouts, dtype=object)[r.ravel()],
                "value": arr.ravel(),
                "unit": [self.units[x] for x in np.asarray(self.scenario.readouts)[r.ravel()]],
                "status": self.statuses[arm].code,
            }))
        return pd.concat(frames, ignore_index=True)[list(COLUMNS)]

    def plot(self, path: str | Path | None = None, log_time: bool = False):
        from nephrosim.plots import plot_result

        return plot_result(self, path, log_time=log_time)

    def __repr__(self) -> str:
        arms = ", ".join(f"{a}: {s.code}" for a, s in self.statuses.items())
        return f"SimulationResult({self.scenario.name!r}, arms=[{arms}])"


def simulate(scenario: Scenario | str | Path | Mapping,
             parameters: Mapping[str, float] | None = None) -> SimulationResult:
    """Simulate every arm of ``scenario`` with nominal (or given) parameters.

    Arguments
    ---------
    scenario : a :class:`Scenario`, a YAML/JSON path or a mapping.
    parameters : optional parameter values (by SBML id) replacing the nominal ones.

    Returns
    -------
    :class:`SimulationResult`. A solver failure is reported in ``.statuses`` (and
    the ``status`` column), never raised.
    """
    scenario = as_scenario(scenario)
    times = np.asarray(scenario.times_h, dtype=float)
    programs = compile_scenario(scenario)
    parameters = dict(parameters or {})
    check_parameter_names(parameters, programs)
    values, statuses, units = {}, {}, {}
    for arm, program in zip(scenario.arms, programs):
        sim = program.simulator(solver_options(scenario))
        own = {k: float(v) for k, v in parameters.items() if k in program.parameter_values}
        out, status = sim.run(times, own or None)
        values[arm.name] = program.convert(out)
        statuses[arm.name] = status
        units.update(zip(program.readouts, program.units))
    return SimulationResult(scenario, times, values, units, statuses)


def check_parameter_names(parameters: Mapping[str, float], programs: Sequence[ArmProgram]) -> None:
    """Refuse parameter values that no arm's SBML has, naming the closest SBML ids.

    Raises ``ValueError`` before anything runs: a misspelt name must never be ignored.
    """
    import difflib

    known = sorted({k for p in programs for k in p.parameter_values})
    unknown = [k for k in parameters if k not in known]
    if not unknown:
        return
    lines = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        lines.append(f"{name!r}" + (f" (did you mean {', '.join(map(repr, close))}?)" if close else ""))
    raise UserInputError(
        f"parameters: {', '.join(lines)} not a parameter of this scenario's model; the SBML "
        "parameter ids are listed by `nephrosim export sbml` (table rows read when the model is built, "
        "such as protocol_* rows, belong in the scenario's `parameters:`)")


def export_sbml(scenario: Scenario | str | Path | Mapping, arm: str | None = None) -> str:
    """The SBML of one arm (default: the first) — what ``simulate`` runs."""
    scenario = as_scenario(scenario)
    return compile_arm(scenario, arm or scenario.arms[0].name).sbml


def readout_outputs(scenario: Scenario) -> Sequence[str]:
    catalogue = available_readouts()
    return [reported_quantity(r, catalogue[r].quantity, assay_of(scenario)) for r in scenario.readouts]
