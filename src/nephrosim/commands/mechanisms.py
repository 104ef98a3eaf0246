"""``nephrosim sensitivity`` and ``nephrosim attribute``: which parameters and which paracrine
mechanisms a readout depends on.

    nephrosim sensitivity SCENARIO --method sobol|morris --readout R --at T --arm A --samples N [--seed S] [--json]
    nephrosim attribute SCENARIO [--outcome scr_auc] [--arm A ...] [--json]

Register them on the ``nephrosim`` app with ``mechanisms.register(app)``. Errors in user input
print one line naming the option and the fix, and exit with status 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from nephrosim.errors import UserInputError

#: the library's field names → this command's options, for error messages
_OPTION = {"readout": "--readout", "at": "--at", "samples": "--samples", "method": "--method",
           "parameters": "--parameter", "outcome": "--outcome", "arms": "--arm", "vehicle": "--arm"}


def _fail(message: str, code: int = 2):
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _user_errors():
    """Exceptions that are the user's input, printed without a traceback (as in ``nephrosim.cli``)."""
    return (UserInputError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


def _message(exc: Exception) -> str:
    text = str(exc).strip("'\"")
    field, sep, rest = text.partition(": ")
    if sep and field in _OPTION:
        return f"{_OPTION[field]}: {rest}"
    if text.startswith("scenario has no arm"):
        return f"--arm: {text}"
    return text


def _echo_json(data) -> None:
    typer.echo(json.dumps(data, indent=2, allow_nan=False))


def sensitivity(
    scenario: Path = typer.Argument(..., help="scenario YAML or JSON"),
    method: str = typer.Option("sobol", "--method", help="sobol (first-order and total indices) or morris (screening)"),
    readout: str = typer.Option("serum_creatinine", "--readout", help="the readout analysed"),
    at: float = typer.Option(24.0, "--at", help="hours after the insult"),
    arm: Optional[str] = typer.Option(None, "--arm", help="the arm (default: the first)"),
    samples: int = typer.Option(64, "--samples", help="sobol: base samples, a power of 2 (samples·(D+2) "
                                "simulations); morris: trajectories (samples·(D+1) simulations)"),
    seed: int = typer.Option(0, "--seed", help="seed of the design and the bootstrap"),
    parameter: Optional[List[str]] = typer.Option(None, "--parameter", help="vary only this parameter (repeat "
                                                  "the option); default: every parameter ensembles vary"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
):
    """Global sensitivity (SALib) of one readout of one arm at one time to the model's parameters."""
    try:
        from nephrosim.analysis.sensitivity import METHODS, scenario_sensitivity

        if method not in METHODS:
            raise UserInputError(f"--method {method!r}: use one of {', '.join(METHODS)}")
        if method == "sobol" and (samples < 4 or samples & (samples - 1)):
            lower = 1 << max(2, samples.bit_length() - 1)
            raise UserInputError(f"--samples {samples}: Sobol' sampling needs a power of 2 (at least 4); "
                                 f"use {lower} or {lower * 2}")
        if method == "morris" and samples < 2:
            raise UserInputError(f"--samples {samples}: Morris needs at least 2 trajectories (10–50 is usual)")
        result = scenario_sensitivity(scenario, readout=readout, at_h=at, arm=arm, method=method,
                                      samples=samples, seed=seed, parameters=parameter or None)
    except _user_errors() as exc:
        _fail(_message(exc))
    if as_json:
        _echo_json(result.to_dict())
        return
    c = result.context
    what = "Sobol' first-order and total indices" if result.method == "sobol" else "Morris μ* (screening)"
    typer.echo(f"{what} of {c['readout']} ({c['unit']}) at {c['at_h']:g} h, arm {c['arm']}; "
               f"{len(result.names)} parameters, {result.evaluations} simulations, "
               f"{result.conf_level:.0%} bootstrap CIs")
    frame = result.to_frame().loc[result.ranking()]
    typer.echo(frame.to_string(float_format=lambda v: f"{v:.3g}"))
    for w in result.warnings:
        typer.echo(f"warning: {w}")


def attribute(
    scenario: Path = typer.Argument(..., help="scenario YAML or JSON with a vehicle arm and treated arms"),
    outcome: str = typer.Option("scr_auc", "--outcome", help="scr_auc, bun_auc, scr_peak, scr_24h, gfr_auc or "
                                "tubular_injury_auc"),
    arm: Optional[List[str]] = typer.Option(None, "--arm", help="attribute only this treated arm (repeat the "
                                            "option); default: every treated arm"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object: per arm total and shares"),
):
    """Exact Shapley attribution of each treated arm's benefit to the six paracrine mechanisms."""
    try:
        from nephrosim.analysis.attribution import OUTCOMES, attribute as run

        if outcome not in OUTCOMES:
            raise UserInputError(f"--outcome {outcome!r}: use one of {', '.join(OUTCOMES)}")
        result = run(scenario, outcome=outcome, arms=arm or None)
    except _user_errors() as exc:
        _fail(_message(exc))
    if as_json:
        _echo_json(result.to_dict())
        return
    typer.echo(f"Outcome: {OUTCOMES[outcome].description}, {result.unit} (vehicle arm {result.vehicle!r}: "
               f"{result.vehicle_outcome:.4g}). Benefit of each arm over the same arm with all six mechanisms "
               "knocked out, split by exact Shapley values (nominal parameters, no uncertainty).")
    for name, r in result.arms.items():
        typer.echo(f"\n{name}: total {r.total:.4g} (vs vehicle {r.vs_vehicle:.4g})")
        for m, v in sorted(r.shares.items(), key=lambda kv: -abs(kv[1])):
            frac = f"{v / r.total:6.1%}" if r.total else "     -"
            vegf = "" if m == "paracrine_vegf" else f"   interaction with VEGF {r.interaction(m, 'paracrine_vegf'):+.3g}"
            typer.echo(f"  {m:28s} {v:10.4g} {frac}{vegf}")


def register(app: typer.Typer) -> None:
    """Add ``sensitivity`` and ``attribute`` to the ``nephrosim`` app."""
    app.command("sensitivity")(sensitivity)
    app.command("attribute")(attribute)
