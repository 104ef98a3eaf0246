"""``nephrosim trial TRIAL.yaml``: run a virtual trial and print its summary."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from nephrosim.errors import UserInputError


def _fail(message: str, code: int = 2):
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _user_errors():
    """The user's input errors (printed on one line, exit 2); anything else is a bug."""
    return (UserInputError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


def trial(
    design: Path = typer.Argument(..., help="trial YAML (see examples/trials/act_aki.yaml)"),
    replicates: int = typer.Option(200, "--replicates", "-n", help="replicate trials drawn from the eligible pool"),
    seed: int = typer.Option(0, "--seed", help="seed of the population and the replicates"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
):
    """Run a virtual two-arm trial: power, hazard ratio, median recovery times."""
    try:
        from nephrosim.trials import load_trial, run_trial

        result = run_trial(load_trial(design), replicates=replicates, seed=seed)
    except _user_errors() as exc:
        _fail(" ".join(str(exc).strip("'\"").split()))
    out = result.to_dict()
    if as_json:
        typer.echo(json.dumps(out, allow_nan=False, default=str))
        return
    _print(out)


def _print(out: dict) -> None:
    hr = out["hazard_ratio"]
    typer.echo(f"{out['trial']}: {out['replicates']} replicates, seed {out['seed']}")
    typer.echo(f"  primary: {out['primary_endpoint']}")
    typer.echo(f"  power {out['power']:.3f}; HR median {hr['median']} (2.5-97.5 %: {hr['lo']}-{hr['hi']})")
    for arm, days in out["median_recovery_days"].items():
        typer.echo(f"  median recovery {arm}: {days} d; recovered by horizon {out['recovered_by_horizon'][arm]:.2f}; "
                   f"death {out['death_by_horizon'][arm]:.3f}; SCr AUC {out['scr_auc_mg_dl_day'][arm]:.1f} mg/dL*d")
    pop = out["population"]
    typer.echo(f"  population: {pop['accepted_patients']} accepted of {pop['plausible_patients']} plausible; "
               f"eligible pool {pop['eligible_pool']}")
    for t in pop["targets"]:
        flag = "ok" if t["in_range"] else "MISS"
        typer.echo(f"    {t['target']}: simulated {t['simulated']} {t['unit']} vs {t['reported']} "
                   f"({t['low']}-{t['high']}) {flag}")


def register(app: typer.Typer) -> None:
    """Add the ``trial`` command to ``app``."""
    app.command("trial")(trial)
