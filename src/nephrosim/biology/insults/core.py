"""Shared pieces of the insults that drive the injury–repair core (:mod:`nephrosim.biology.injury`).

Each builder adds the whole core plus the insult's own time courses, written as
SBML expressions of ``time`` (pulses ``exp(−t/τ)``) or as insult states (drug
pharmacokinetics, myoglobin, podocyte injury) — never as Python callbacks. Time 0
is the insult: reperfusion, dosing, ligation, puncture or surgery. Insult time
constants are given for a mouse and scale with ``rate_scale`` like the core's.

Per-kidney inputs use the convention of the core: the left kidney is the
ipsilateral (clamped, obstructed, remnant) kidney.

Sources of the designs and of the calibration targets are in
``shared/evidence/untreated_timecourses.*`` and the parameter table
(``parameters_injury.csv``).
"""

from __future__ import annotations

from dataclasses import replace

from nephrosim.biology.injury import FUNCTION_FACTOR, SECRETION_FACTOR, injury_core, insult_inputs
from nephrosim.biology.injury.common import SIDES, input_rest_values, positive
from nephrosim.biology.insults.base import InsultSpec
from nephrosim.modelspec import Event, Process, State


#: State that is 0 before the insult and 1 from t = 0 on (switched by an event, so the
#: solver stops and restarts exactly at the insult).
INSULT_STARTED = "insult_started"


def before_insult(expr: str, rest: str = "0") -> str:
    """``expr`` from the insult (t = 0) on, ``rest`` before it.

    Integration starts before t = 0 when a product is given before the insult
    (pre-treatment, e.g. MSC 24 h before the clamp). Nothing of the insult may act
    then: its pulses ``exp(−t/τ)`` would grow backwards in time, and a drug dose held
    as an initial amount would already distribute. Without pre-treatment integration
    starts at t = 0 with the switch already on, and nothing changes.
    """
    if rest == "0":
        return f"{INSULT_STARTED} * ({expr})"
    return f"({rest}) + {INSULT_STARTED} * (({expr}) - ({rest}))"


def _insult_onset() -> Process:
    return Process(
        name="insult_onset",
        description="The insult happens at t = 0 (earlier times exist only with pre-treatment)",
        states=(State(INSULT_STARTED, "dimensionless", 0.0, "1 once the insult has happened (t ≥ 0), else 0"),),
        events=(Event("insult_onset", 0.0, {INSULT_STARTED: "1"}, "The insult: reperfusion, dosing, ligation, "
                      "puncture or surgery"),),
    )


def core_insult(*processes: Process, inputs: dict | None = None, values: dict | None = None) -> InsultSpec:
    """An :class:`InsultSpec` with the full injury core driven by ``inputs``.

    The insult starts at t = 0: every insult input sits at its resting value and
    every flux of the insult's own processes is 0 before it (:func:`before_insult`),
    so a dose given as an initial amount (cisplatin, glycerol) stays inert until
    t = 0. Surgical changes of nephron mass (nephrectomy) are initial conditions and
    so are in place from the start of integration. Sham has no insult to gate.
    """

    if inputs or processes:
        rest = input_rest_values()
        inputs = {name: before_insult(expr, rest[name]) for name, expr in (inputs or {}).items()}
        processes = (_insult_onset(), *(
            replace(p, fluxes=tuple(replace(f, rate=before_insult(f.rate)) for f in p.fluxes)) for p in processes))
    return InsultSpec(
        processes=(*processes, insult_inputs(**(inputs or {})), *injury_core()),
        values=dict(values or {}),
        function_factor=FUNCTION_FACTOR,
        secretion_factor=SECRETION_FACTOR,
    )


def _both(name: str, expr: str) -> dict:
    return {f"{name}_{s}": expr for s in SIDES}


def _hill(x: str, half: str, n: str) -> str:
    x = positive(x)  # guard: a non-integer power of a round-off negative is NaN
    return f"pow({x}, {n}) / (pow({x}, {n}) + pow({half}, {n}))"
