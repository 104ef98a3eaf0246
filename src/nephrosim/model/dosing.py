"""Dosing as SBML: a bolus is an event, an infusion is a zero-order input flux.

Both live in the SBML itself, so an exported scenario doses identically in any
SBML tool. Product builders call :func:`dose` once per administration.
"""

from __future__ import annotations

from dataclasses import dataclass

from nephrosim.model.core import Event, Flux, ParameterUse, State


@dataclass(frozen=True)
class DoseParts:
    """The SBML pieces of one administration."""

    parameters: tuple[ParameterUse, ...]
    values: dict[str, float]
    events: tuple[Event, ...] = ()
    fluxes: tuple[Flux, ...] = ()
    states: tuple[State, ...] = ()  # infusion pumps: 0/1, switched only by events


def dose(name: str, amount: float, unit: str, entry_state: str, time_h: float,
         infusion_h: float | None = None, description: str = "") -> DoseParts:
    """One administration of ``amount`` into ``entry_state`` at ``time_h``.

    Arguments
    ---------
    name : identifier of this administration (``msc_dose_1``).
    amount : total amount given (in ``unit``).
    entry_state : the state that receives it (e.g. venous blood).
    time_h : start of the administration, hours after the insult.
    infusion_h : ``None`` for a bolus; otherwise the infusion lasts this many hours at
        a constant rate ``amount / infusion_h``.
    """
    amount_id = f"{name}_amount"
    params = [ParameterUse(amount_id, unit, f"Amount given in {name}")]
    values = {amount_id: float(amount)}
    what = description or f"{name} into {entry_state}"
    if infusion_h is None:
        event = Event(name, time_h, {entry_state: f"{entry_state} + {amount_id}"}, f"Bolus: {what}")
        return DoseParts(tuple(params), values, events=(event,))
    # The pump is a state switched by two events, so the solver stops exactly at the
    # start and end of the infusion instead of stepping over a short one.
    pump, dur_id = f"{name}_pump_on", f"{name}_infusion_h"
    params.append(ParameterUse(dur_id, "h", f"Duration of {name}"))
    values[dur_id] = float(infusion_h)
    events = (
        Event(f"{name}_start", time_h, {pump: "1"}, f"Infusion starts: {what}"),
        Event(f"{name}_stop", time_h + infusion_h, {pump: "0"}, f"Infusion stops: {what}"),
    )
    flux = Flux(f"{name}_infusion", f"{pump} * {amount_id} / {dur_id}", f"{unit}/h",
                f"Infusion: {what}", produces={entry_state: 1})
    pump_state = State(pump, "dimensionless", 0.0, f"Infusion pump of {name}: 1 while running, else 0")
    return DoseParts(tuple(params), values, events=events, fluxes=(flux,), states=(pump_state,))
