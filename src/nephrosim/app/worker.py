"""What a run does, in its own process: simulate (or compare) a scenario, reporting each step.

A run is a child process so that it can be cancelled at any moment (libRoadRunner cannot be
interrupted inside an integration) and so that a crashing solver never takes the web server
down. The child sends messages on a pipe:

* ``("progress", done, total, label)`` before each step;
* ``("result", payload)`` once, at the end (pandas tables and the arms' status codes);
* ``("error", kind, text)``: ``kind`` is ``"input"`` for a :class:`~nephrosim.errors.UserInputError`
  (shown as the message), ``"internal"`` for anything else (shown with its traceback).

The arms are simulated one at a time with the same public pieces as
:func:`nephrosim.run.simulation.simulate` (one compile of every arm, one simulator per arm, one
retry policy), so that progress can be shown per arm; ``tests/app`` checks that the CSV the app
offers equals ``nephrosim.simulate``'s table.
"""

from __future__ import annotations

import traceback

import numpy as np

from nephrosim.analysis.compare import compare
from nephrosim.errors import UserInputError
from nephrosim.run.simulation import SimulationResult, compile_scenario, solver_options
from nephrosim.scenarios.schema import scenario_from_dict

KINDS = ("simulate", "compare")


def steps(kind: str, n_arms: int) -> int:
    """Steps a run counts: the build, one per arm, and the comparison tables for ``compare``."""
    return 1 + n_arms + (1 if kind == "compare" else 0)


def simulate_arms(scenario, report) -> SimulationResult:
    """Every arm of ``scenario`` with nominal parameters, calling ``report(done, label)`` per step."""
    report(0, "building the model of every arm (SBML)")
    programs = compile_scenario(scenario)
    times = np.asarray(scenario.times_h, dtype=float)
    values, statuses, units = {}, {}, {}
    for k, (arm, program) in enumerate(zip(scenario.arms, programs)):
        report(1 + k, f"simulating arm {k + 1} of {len(programs)}: {arm.name}")
        out, status = program.simulator(solver_options(scenario)).run(times, None)
        values[arm.name] = program.convert(out)
        statuses[arm.name] = status
        units.update(zip(program.readouts, program.units))
    return SimulationResult(scenario, times, values, units, statuses)


def execute(kind: str, scenario_data: dict, report) -> dict:
    """Run ``kind`` on the scenario ``scenario_data``; the payload the app stores and shows."""
    if kind not in KINDS:
        raise UserInputError(f"run kind {kind!r}: use one of {', '.join(KINDS)}")
    scenario = scenario_from_dict(scenario_data)
    total = steps(kind, len(scenario.arms))
    result = simulate_arms(scenario, lambda done, label: report(done, total, label))
    payload = {
        "frame": result.to_frame(),
        "statuses": {arm: (s.code, s.message) for arm, s in result.statuses.items()},
    }
    if kind == "compare":
        report(total - 1, total, "efficacy and risk tables (every arm again, on a dense time grid)")
        efficacy, risk = compare(scenario)
        payload["efficacy"], payload["risk"] = efficacy, risk
    report(total, total, "done")
    return payload


def main(kind: str, scenario_data: dict, conn) -> None:
    """Entry point of the run's process: everything it has to say goes through ``conn``."""
    try:
        payload = execute(kind, scenario_data, lambda done, total, label: conn.send(("progress", done, total, label)))
    except UserInputError as exc:
        conn.send(("error", "input", str(exc)))
    except Exception:  # a bug: reported with its traceback on the run's page, never as a result
        conn.send(("error", "internal", traceback.format_exc()))
    else:
        conn.send(("result", payload))
    finally:
        conn.close()


def warm_up() -> None:
    """Nothing: starting it once makes the fork server import this module before the first run."""
