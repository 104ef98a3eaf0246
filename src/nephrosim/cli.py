"""``nephrosim``: one command, a subcommand per job.

Errors in user input print a short message naming the field and the fix, and
exit with status 2; no partial output file is ever left behind.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    name="nephrosim",
    help="In-silico laboratory for MSC and MSC-secretome therapy of kidney injury.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
export_app = typer.Typer(help="Export a scenario to an interchange format.", no_args_is_help=True)
app.add_typer(export_app, name="export")


def _fail(message: str, code: int = 2):
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _user_errors():
    """Exceptions that are the user's input, printed without a traceback."""
    from nephrosim.scenarios.errors import ScenarioError
    from nephrosim.units import UnitError

    return (ScenarioError, UnitError, ValueError, FileNotFoundError, KeyError)


@app.command()
def simulate(
    scenario: Path = typer.Argument(..., help="scenario YAML or JSON"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="write the long table (.csv or .parquet)"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="write a figure (.png, .svg, .pdf)"),
):
    """Simulate every arm of SCENARIO with nominal parameters."""
    try:
        from nephrosim.io import write_frame
        from nephrosim.simulation import simulate as run

        if output is not None and output.suffix.lower() not in (".csv", ".parquet"):
            raise ValueError(f"-o {output}: use a .csv or .parquet file name")
        if plot is not None and plot.suffix.lower() not in (".png", ".svg", ".pdf"):
            raise ValueError(f"--plot {plot}: use a .png, .svg or .pdf file name")
        result = run(scenario)
        frame = result.to_frame()
    except _user_errors() as exc:
        _fail(str(exc).strip("'\""))
    _print_result(result, frame)  # the first result is on screen before files are written
    try:
        if output is not None:
            write_frame(frame, output)
        if plot is not None:
            result.plot(plot)
    except _user_errors() as exc:
        _fail(str(exc).strip("'\""))
    for path in (output, plot):
        if path is not None:
            typer.echo(f"wrote {path}")


def _console():
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=220)


def _print_result(result, frame) -> None:
    from rich.table import Table

    console = _console()
    for arm, status in result.statuses.items():
        if not status.ok:
            console.print(f"[yellow]arm {arm}: {status.code} — {status.message}[/yellow]")
    wide = frame.pivot_table(index=["arm", "time_h"], columns="readout", values="value", sort=False)
    table = Table(title=f"{result.scenario.name} ({result.scenario.species}, {result.scenario.injury.model})")
    table.add_column("arm")
    table.add_column("time [h]", justify="right")
    cols = list(result.scenario.readouts)
    for r in cols:
        table.add_column(f"{r}\n[{result.units[r]}]", justify="right")
    for (arm, t), row in wide.iterrows():
        table.add_row(arm, f"{t:g}", *[f"{row[r]:.4g}" for r in cols])
    console.print(table)


@app.command()
def ensemble(
    scenario: Path = typer.Argument(..., help="scenario YAML or JSON"),
    samples: int = typer.Option(..., "--samples", "-n", help="number of parameter sets"),
    output: Path = typer.Option(..., "-o", "--output", help="Parquet file to write"),
    cv: float = typer.Option(0.3, "--cv", help="coefficient of variation of the log-normal perturbation"),
    seed: int = typer.Option(0, "--seed"),
    workers: int = typer.Option(1, "--workers", "-w"),
    prior: str = typer.Option("lognormal", "--prior", help="lognormal (with --cv), table (log-uniform on the table's bounds), or a prior CSV file (name, distribution, median, cv, lower, upper)"),
    chunk_size: int = typer.Option(250, "--chunk-size", help="samples per chunk (unit of resumption)"),
    scheduler: str = typer.Option("processes", "--scheduler", help="processes (this machine) or dask"),
    dask_address: Optional[str] = typer.Option(None, "--dask-address", help="address of a running Dask scheduler (default: a local cluster on 127.0.0.1)"),
):
    """Simulate SAMPLES perturbed parameter sets in parallel; rerun to resume."""
    try:
        from nephrosim.ensemble import ensemble as run

        summary = run(scenario, samples, output, cv=cv, seed=seed, workers=workers, prior=prior,
                      chunk_size=chunk_size, progress=sys.stderr.isatty(),
                      scheduler=scheduler, dask_address=dask_address)
    except _user_errors() as exc:
        _fail(str(exc).strip("'\""))
    typer.echo(f"wrote {summary.path}: {summary.samples} samples in {summary.chunks} chunks "
               f"({summary.chunks_computed} computed now)")
    typer.echo("trajectory status: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.status_counts.items())))
    for line in summary.failures:
        typer.echo(f"  {line}")


@export_app.command("sbml")
def export_sbml(
    scenario: Path = typer.Argument(..., help="scenario YAML or JSON"),
    output: Path = typer.Option(..., "-o", "--output", help="SBML file to write"),
    arm: Optional[str] = typer.Option(None, "--arm", help="arm to export (default: the first)"),
):
    """Write the SBML L3V2 model of one arm — exactly what `simulate` runs."""
    try:
        from nephrosim.engine.sbml import consistency_errors
        from nephrosim.io import write_text_atomic
        from nephrosim.simulation import export_sbml as build

        sbml = build(scenario, arm)
        errors = consistency_errors(sbml)
        if errors:
            _fail("generated SBML failed libSBML consistency checks:\n" + "\n".join(errors[:10]), 1)
        write_text_atomic(output, sbml)
    except _user_errors() as exc:
        _fail(str(exc).strip("'\""))
    typer.echo(f"wrote {output}")


@app.command()
def params(
    species: Optional[str] = typer.Option(None, "--species", help="mouse, rat or human"),
    name: Optional[str] = typer.Option(None, "--name", help="only parameters whose name contains this"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="write the table as CSV"),
):
    """The parameter table with units, ranges and sources."""
    from nephrosim.model.parameters import SPECIES, ParameterTable

    table = ParameterTable.default()
    if species is not None and species not in SPECIES:
        _fail(f"--species {species!r}: use one of {', '.join(SPECIES)}")
    records = table.for_species(species) if species else list(table.records)
    if name:
        records = [r for r in records if name in r.name]
    if output is not None:
        import csv
        import io

        from nephrosim.io import write_text_atomic
        from nephrosim.model.parameters import COLUMNS

        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(COLUMNS)
        for r in records:
            w.writerow([getattr(r, c) for c in COLUMNS])
        write_text_atomic(output, buf.getvalue())
        typer.echo(f"wrote {output} ({len(records)} rows)")
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title="nephrosim parameters", show_lines=False)
    for col in ("name", "species", "value", "unit", "range", "provenance", "source / reason"):
        t.add_column(col, overflow="fold")
    for r in records:
        rng = "" if r.lower is None else f"{r.lower:g}–{r.upper:g}"
        src = f"{r.citation} {r.pmid_or_doi}: “{r.quote}”" if r.provenance == "source" else r.reason
        t.add_row(r.name, r.species, f"{r.value:g}", r.unit, rng, r.provenance, src)
    Console().print(t)


@app.command("check-model")
def check_model(
    report: Path = typer.Option(Path("model-check"), "--report", "-r", help="folder for report.md and plots"),
):
    """Run the injury model against its literature targets and write a report."""
    from nephrosim.model.validation import check_model as run

    results = run(report)
    met = sum(r.passed for r in results)
    typer.echo(f"{met} of {len(results)} targets met; report: {report / 'report.md'}")
    for r in results:
        if not r.passed:
            typer.echo(f"  miss: {r.name} — {r.reason}")


def _register_optional() -> None:
    """Subcommands whose modules live in other parts of the package."""
    try:
        from nephrosim.evidence.cli import evidence_app, meta
    except ImportError:  # pragma: no cover - evidence package absent
        return
    app.add_typer(evidence_app, name="evidence", help="The curated evidence store.")
    app.command("meta")(meta)


_register_optional()


if __name__ == "__main__":  # pragma: no cover
    app()
