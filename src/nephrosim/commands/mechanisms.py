"""``nephrosim sensitivity`` and ``nephrosim attribute``: which parameters and which paracrine
mechanisms a readout depends on.

    nephrosim sensitivity SCENARIO --method sobol|morris|delta --readout R --at T --arm A --samples N [--groups] [--seed S] [--out DIR] [--plot f.png] [--convergence-plot c.png] [--json] [--scheduler local --workers W] [--tls CA CERT KEY]
    nephrosim attribute SCENARIO [--outcome scr_auc] [--arm A ...] [--samples K] [--seed S] [--out DIR] [--plot f.png] [--json] [--scheduler local --workers W] [--tls CA CERT KEY]
    nephrosim optimize-protocol SPEC.yaml [--out DIR] [--trials N] [--plot front.png] [--json] [--scheduler local --workers W] [--tls CA CERT KEY]

Register them on the ``nephrosim`` app with ``mechanisms.register(app)``. Errors in user input
print one line naming the option and the fix, and exit with status 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from nephrosim.commands.trials import SCHEDULER_HELP
from nephrosim.errors import UserInputError

#: the library's field names → this command's options, for error messages
_OPTION = {"readout": "--readout", "at": "--at", "samples": "--samples", "method": "--method",
           "parameters": "--parameter", "outcome": "--outcome", "arms": "--arm", "vehicle": "--arm",
           "seed": "--seed", "prior": "--prior", "cv": "--cv", "trials": "--trials", "out": "--out",
           "search": "search", "groups": "--groups"}


def _security(tls) -> tuple[str, str, str] | None:
    """``--tls CA CERT KEY`` as the paths :func:`nephrosim.run.executors.open_executor` takes."""
    return None if tls is None else tuple(str(p) for p in tls)


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
    method: str = typer.Option("sobol", "--method", help="sobol (first-order and total indices), morris "
                               "(screening) or delta (moment-independent)"),
    readout: str = typer.Option("serum_creatinine", "--readout", help="the readout analysed"),
    at: float = typer.Option(24.0, "--at", help="hours after the insult"),
    arm: Optional[str] = typer.Option(None, "--arm", help="the arm (default: the first)"),
    samples: int = typer.Option(64, "--samples", help="sobol: base samples, a power of 2 (samples·(D+2) "
                                "simulations); morris: trajectories (samples·(D+1) simulations); delta: "
                                "Latin-hypercube rows (samples simulations, at least 64)"),
    groups: bool = typer.Option(False, "--groups", help="sobol only: indices of the groups injury core, "
                                "biodistribution, paracrine, host response (samples·(G+2) simulations)"),
    seed: int = typer.Option(0, "--seed", help="seed of the design and the bootstrap"),
    parameter: Optional[List[str]] = typer.Option(None, "--parameter", help="vary only this parameter (repeat "
                                                  "the option); default: every parameter ensembles vary"),
    out: Optional[Path] = typer.Option(None, "--out", help="folder that keeps each finished chunk of simulations; "
                                       "rerun the same command to continue an interrupted analysis"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="write a bar chart of the indices with their CIs "
                                        "(png, svg, pdf)"),
    convergence_plot: Optional[Path] = typer.Option(None, "--convergence-plot", help="write the indices against N "
                                                    "(N/8, N/4, N/2, N: nested subsets of the design) with their "
                                                    "CIs (png, svg, pdf)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    scheduler: str = typer.Option("serial", "--scheduler", help=SCHEDULER_HELP),
    workers: int = typer.Option(2, "--workers", help="worker processes of --scheduler local"),
    tls: tuple[Path, Path, Path] = typer.Option(None, "--tls", help="CA, certificate and key of a tls:// scheduler"),
):
    """Global sensitivity (SALib) of one readout of one arm at one time to the model's parameters."""
    try:
        from nephrosim.analysis.sensitivity import check_design, scenario_sensitivity
        from nephrosim.io import check_writable

        if plot is not None:
            check_writable(plot)
        if convergence_plot is not None:
            check_writable(convergence_plot)

        check_design(method, samples, groups, option_prefix="--")
        result = scenario_sensitivity(scenario, readout=readout, at_h=at, arm=arm, method=method,
                                      samples=samples, seed=seed, parameters=parameter or None,
                                      progress=True, out_dir=out, groups=groups,
                                      convergence=convergence_plot is not None, scheduler=scheduler,
                                      workers=workers, security=_security(tls))
        if plot is not None:
            from nephrosim.analysis.mechanism_plots import sobol_bars

            sobol_bars(result, plot)
        if convergence_plot is not None:
            from nephrosim.analysis.mechanism_plots import convergence_plot as draw_convergence

            draw_convergence(result, convergence_plot)
    except _user_errors() as exc:
        _fail(_message(exc))
    if as_json:
        _echo_json(result.to_dict())
        return
    c = result.context
    what = {"sobol": "Sobol' first-order and total indices", "morris": "Morris μ* (screening)",
            "delta": "Delta moment-independent δ"}[result.method]
    if result.groups:
        what += " of the parameter groups"
    typer.echo(f"{what} of {c['readout']} ({c['unit']}) at {c['at_h']:g} h, arm {c['arm']}; "
               f"{len(result.names)} {'groups' if result.groups else 'parameters'}, {result.evaluations} simulations, "
               f"{result.conf_level:.0%} bootstrap CIs")
    frame = result.to_frame().loc[result.ranking()]
    typer.echo(frame.to_string(float_format=lambda v: f"{v:.3g}"))
    for g, members in result.groups.items():
        typer.echo(f"group {g}: {', '.join(members)}")
    for w in result.warnings:
        typer.echo(f"warning: {w}")


def attribute(
    scenario: Path = typer.Argument(..., help="scenario YAML or JSON with a vehicle arm and treated arms"),
    outcome: str = typer.Option("scr_auc", "--outcome", help="scr_auc, bun_auc, scr_peak, scr_24h, gfr_auc or "
                                "tubular_injury_auc"),
    arm: Optional[List[str]] = typer.Option(None, "--arm", help="attribute only this treated arm (repeat the "
                                            "option); default: every treated arm"),
    samples: int = typer.Option(20, "--samples", help="parameter draws for the intervals (0: nominal only); "
                                "each costs up to 64 simulations per arm"),
    seed: int = typer.Option(0, "--seed", help="seed of the parameter draws"),
    prior: str = typer.Option("lognormal", "--prior", help="lognormal (nominal x LN(--cv)) or table "
                              "(log-uniform on the table's range), as `nephrosim ensemble`"),
    cv: float = typer.Option(0.3, "--cv", help="coefficient of variation of the lognormal prior"),
    out: Optional[Path] = typer.Option(None, "--out", help="folder that keeps each finished arm; rerun the same "
                                       "command to continue an interrupted attribution"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="write a Shapley waterfall per arm (png, svg, pdf)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object: per arm total and shares"),
    species: Optional[List[str]] = typer.Option(None, "--species", help="grid: attribute the scenario in this "
                                                "species too (repeat; doses kept per kg)"),
    dose_time: Optional[List[float]] = typer.Option(None, "--dose-time", help="grid: first dose of every treated "
                                                    "arm at this hour (repeat)"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="grid: write the long table (.csv, .parquet)"),
    scheduler: str = typer.Option("serial", "--scheduler", help=SCHEDULER_HELP),
    workers: int = typer.Option(2, "--workers", help="worker processes of --scheduler local"),
    tls: tuple[Path, Path, Path] = typer.Option(None, "--tls", help="CA, certificate and key of a tls:// scheduler"),
):
    """Exact Shapley attribution of each treated arm's benefit to the six paracrine mechanisms."""
    if species or dose_time:  # a grid over species and dose timing
        try:
            from nephrosim.analysis.attribution import OUTCOMES, attribute_grid
            from nephrosim.io import check_writable, write_frame

            if outcome not in OUTCOMES:
                raise UserInputError(f"--outcome {outcome!r}: use one of {', '.join(OUTCOMES)}")
            if output is not None:
                check_writable(output)
            grid = attribute_grid(scenario, species=species, dose_times_h=dose_time, outcome=outcome,
                                  arms=arm or None, samples=samples, seed=seed, prior=prior, cv=cv,
                                  scheduler=scheduler, workers=workers, security=_security(tls))
            if output is not None:
                write_frame(grid, output)
        except _user_errors() as exc:
            _fail(_message(exc))
        if as_json:
            _echo_json(grid.to_dict(orient="records"))
            return
        table = grid.pivot_table(index=["species", "dose_time_h", "arm"], columns="mechanism", values="fraction")
        typer.echo(f"Share of each arm's paracrine benefit ({OUTCOMES[outcome].description}) per mechanism, by "
                   "species and first-dose time:")
        typer.echo(table.to_string(float_format=lambda v: f"{v:.0%}"))
        kept = grid.pivot_table(index=["species", "dose_time_h", "arm"], columns="mechanism", values="knockout_kept")
        typer.echo("\nFraction of each arm's paracrine benefit kept when only that mechanism is knocked out "
                   "(nominal parameters; intervals in the --json / --output table):")
        typer.echo(kept.to_string(float_format=lambda v: f"{v:.0%}"))
        totals = grid.groupby(["species", "dose_time_h", "arm"])["total"].first()
        typer.echo(f"\nTotal paracrine benefit ({grid['unit'].iloc[0]}):\n" + totals.to_string(float_format="{:.4g}".format))
        return
    try:
        from nephrosim.analysis.attribution import OUTCOMES, attribute as run
        from nephrosim.io import check_writable

        if outcome not in OUTCOMES:
            raise UserInputError(f"--outcome {outcome!r}: use one of {', '.join(OUTCOMES)}")
        if plot is not None:
            check_writable(plot)
        result = run(scenario, outcome=outcome, arms=arm or None, samples=samples, seed=seed, prior=prior, cv=cv,
                     progress=True, out_dir=out, scheduler=scheduler, workers=workers, security=_security(tls))
        if plot is not None:
            from nephrosim.analysis.mechanism_plots import shapley_waterfall

            shapley_waterfall(result, plot)
    except _user_errors() as exc:
        _fail(_message(exc))
    if as_json:
        _echo_json(result.to_dict())
        return
    spread = ("nominal parameters, no uncertainty" if not samples else
              f"value at the nominal parameters, [95 % interval over {samples} parameter draws, {prior} prior"
              + (f", CV {cv:g}" if prior == "lognormal" else "") + f", seed {seed}]")
    typer.echo(f"Outcome: {OUTCOMES[outcome].description}, {result.unit} (vehicle arm {result.vehicle!r}: "
               f"{result.vehicle_outcome:.4g}). Benefit of each arm over the same arm with all six mechanisms "
               f"knocked out, split by exact Shapley values ({spread}).")
    typer.echo("Per mechanism: Shapley share [interval], its fraction of the total; 'knockout keeps': the fraction "
               "of the total kept when only that mechanism is knocked out (v(all without it) / v(all)) [interval], "
               "to compare with a published single-factor knockout.")
    for name, r in result.arms.items():
        iv = r.intervals()
        typer.echo(f"\n{name}: total {r.total:.4g} [{iv['total'][0]:.3g}, {iv['total'][1]:.3g}] "
                   f"(vs vehicle {r.vs_vehicle:.4g})")
        for m, v in sorted(r.shares.items(), key=lambda kv: -abs(kv[1])):
            frac = f"{v / r.total:6.1%}" if r.total else "     -"
            kept, kept_lo, kept_hi = r.knockout_kept(m)
            keeps = (f"   knockout keeps {kept:.1%} [{kept_lo:.1%}, {kept_hi:.1%}]" if r.total else
                     "   knockout keeps -")
            vegf = "" if m == "paracrine_vegf" else f"   interaction with VEGF {r.interaction(m, 'paracrine_vegf'):+.3g}"
            typer.echo(f"  {m:28s} {v:10.4g} [{iv[m][0]:.3g}, {iv[m][1]:.3g}] {frac}{keeps}{vegf}")


def optimize_protocol(
    spec: Path = typer.Argument(..., help="search spec YAML (example: examples/protocols/optimize.yaml)"),
    out: Path = typer.Option(Path("protocol_search_out"), "--out", help="folder of the study (study.journal), "
                             "front.csv, trials.csv and references.csv; rerun to continue the study there"),
    trials: Optional[int] = typer.Option(None, "--trials", help="total trials (default: optimizer.trials of the spec)"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="write the Pareto front (efficacy vs the first risk), "
                                        "protocols labelled (png, svg, pdf)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object: front, references, counts"),
    scheduler: str = typer.Option("serial", "--scheduler", help=SCHEDULER_HELP + "; optuna proposes the "
                                  "candidates here, a generation at a time, the workers evaluate them"),
    workers: int = typer.Option(2, "--workers", help="worker processes of --scheduler local"),
    tls: tuple[Path, Path, Path] = typer.Option(None, "--tls", help="CA, certificate and key of a tls:// scheduler"),
):
    """Multi-objective search (optuna NSGA-II) of cultivation and administration protocols: robust efficacy vs risk."""
    try:
        from nephrosim.analysis.protocol_search import EFFICACY, optimize_protocol as run, load_spec
        from nephrosim.io import check_writable
        from nephrosim.run.executors import check_scheduler

        security = _security(tls)
        check_scheduler(scheduler, workers, security)
        if plot is not None:
            check_writable(plot)
        parsed = load_spec(spec)
        result = run(spec, out, trials=trials, progress=True, scheduler=scheduler, workers=workers,
                     security=security)
        if plot is not None:
            import pandas as pd
            from nephrosim.analysis.mechanism_plots import pareto_plot

            t = result.trials
            x = parsed.risks[0]
            refs = None
            if len(result.references) and EFFICACY in result.references:
                ok = result.references.dropna(subset=[EFFICACY])
                refs = pd.DataFrame({"label": ok["reference"], "x": ok[x], "y": ok[EFFICACY]})
            pareto_plot(t, [f"#{n}" for n in t["trial"]], t["trial"].isin(result.front["trial"]), x, EFFICACY,
                        plot, refs, f"{parsed.name}: {EFFICACY} = {parsed.efficacy_quantile:g} quantile of the "
                        f"{parsed.outcome} benefit ({parsed.efficacy_scale})")
    except _user_errors() as exc:
        _fail(_message(exc))
    risks = list(parsed.risks)
    if as_json:
        _echo_json({"completed": result.completed, "failed": result.failed, "computed_now": result.computed,
                    "objectives": {EFFICACY: "maximize", **{r: "minimize" for r in risks}},
                    "front": json.loads(result.front.to_json(orient="records")),
                    "references": json.loads(result.references.to_json(orient="records"))})
        return
    typer.echo(f"{parsed.name}: {result.completed} trials completed ({result.computed} now, {result.failed} failed), "
               f"study in {out}. {EFFICACY} = {parsed.efficacy_quantile:g} quantile of the {parsed.outcome} benefit "
               f"over {parsed.uncertainty.samples} parameter sets ({parsed.efficacy_scale}); "
               f"risks (lower is better): {', '.join(risks)}.")
    if result.front.empty:
        typer.echo(f"\nNo trial completed: the failures and their reasons are in {out / 'trials.csv'}.")
        return
    typer.echo(f"\nPareto front ({len(result.front)} protocols; {out / 'front.csv'}):")
    cols = ["trial", "protocol", EFFICACY, "nominal_benefit", *risks, "n_assumed"]
    typer.echo(result.front[cols].sort_values(EFFICACY, ascending=False).to_string(
        index=False, float_format=lambda v: f"{v:.3g}", max_colwidth=100))
    if len(result.references):
        typer.echo("\nShipped protocols against the front:")
        for _, r in result.references.iterrows():
            verdict = r.get("verdict", r.get("failure"))
            typer.echo(f"  {r['reference']}: {EFFICACY} {r.get(EFFICACY, float('nan')):.3g}; {verdict}")
    typer.echo("\nEach protocol's cited (source) and assumed protocol_* rows are in front.csv "
               "(cited_modifiers, assumed_modifiers).")


def register(app: typer.Typer) -> None:
    """Add ``sensitivity``, ``attribute`` and ``optimize-protocol`` to the ``nephrosim`` app."""
    app.command("sensitivity")(sensitivity)
    app.command("attribute")(attribute)
    app.command("optimize-protocol")(optimize_protocol)
