"""``nephrosim``: one command, a subcommand per job.

Errors in user input print a short message naming the field and the fix, and
exit with status 2; no partial output file is ever left behind.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from nephrosim.errors import UserInputError

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
    """Exceptions that are the user's input, printed without a traceback.

    Only :class:`~nephrosim.errors.UserInputError` and the operating system's refusals of a
    path count: an internal ``ValueError`` or ``KeyError`` is a bug and keeps its traceback.
    """
    return (UserInputError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


# --- engine backend (issue 15) ---
_ENGINE_HELP = ("roadrunner (libRoadRunner, the reference) or batch (compiled C, many patients per call); "
                "default: the scenario's solver.engine")


def _with_engine(scenario: Path, engine: Optional[str]):
    """The scenario at ``scenario`` with ``solver.engine`` replaced when ``--engine`` was given."""
    if engine is None:
        return scenario
    from nephrosim.engine.simulator import SolverOptions
    from nephrosim.run.simulation import as_scenario

    if engine not in ("roadrunner", "batch"):
        raise UserInputError(f"--engine {engine}: use roadrunner or batch")
    sc = as_scenario(scenario)
    solver = SolverOptions.model_validate({**sc.solver.model_dump(), "engine": engine})
    return sc.model_copy(update={"solver": solver})
# --- end engine backend ---


@app.command()
def simulate(
    scenario: Path = typer.Argument(..., help="scenario YAML or JSON"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="write the long table (.csv or .parquet)"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="write a figure (.png, .svg, .pdf)"),
    log_time: bool = typer.Option(False, "--log-time", help="draw time on a log axis (acute phase visible)"),
    uncertainty: Optional[Path] = typer.Option(
        None, "--uncertainty", help="a finished calibration folder, or 'shipped' (the calibration simulate uses by "
        "default): report prediction intervals instead"),
    samples: Optional[int] = typer.Option(None, "--samples", help="posterior draws for --uncertainty (default 200)"),
    level: Optional[float] = typer.Option(None, "--level", help="prediction-interval level for --uncertainty "
                                          "(default 0.95)"),
    report: Optional[Path] = typer.Option(None, "--report", help="write one self-contained HTML report (.html)"),
    engine: Optional[str] = typer.Option(None, "--engine", help=_ENGINE_HELP),  # engine backend (issue 15)
):
    """Simulate every arm of SCENARIO with nominal parameters (or with prediction intervals)."""
    if uncertainty is None and (samples is not None or level is not None):
        _fail("--samples and --level set the prediction intervals of --uncertainty; add --uncertainty DIR|shipped, "
              "or drop them")
    if uncertainty is not None and plot is not None:
        _fail("--plot draws nominal trajectories and cannot show --uncertainty intervals yet; drop --plot, or run "
              "without --uncertainty to plot")
    if uncertainty is not None:
        return _simulate_uncertainty(scenario, uncertainty, 200 if samples is None else samples,
                                     0.95 if level is None else level, output, report)
    try:
        from nephrosim.io import check_writable, write_frame
        from nephrosim.run.simulation import simulate as run

        if output is not None and output.suffix.lower() not in (".csv", ".parquet"):
            raise UserInputError(f"-o {output}: use a .csv or .parquet file name")
        if plot is not None and plot.suffix.lower() not in (".png", ".svg", ".pdf"):
            raise UserInputError(f"--plot {plot}: use a .png, .svg or .pdf file name")
        for path in (output, plot):
            if path is not None:
                check_writable(path)
        _check_report(report)
        result = run(_with_engine(scenario, engine))  # engine backend (issue 15)
    except _user_errors() as exc:
        _fail(str(exc).strip("'\""))
    _print_result(result)  # the first result is on screen before files are written
    try:
        if output is not None:
            write_frame(result.to_frame(), output)
        if plot is not None:
            result.plot(plot, log_time=log_time)
        if report is not None:
            from nephrosim.report import simulate_report, write

            write(simulate_report(result, scenario, log_time=log_time), report)
    except _user_errors() as exc:
        _fail(str(exc).strip("'\""))
    for path in (output, plot, report):
        if path is not None:
            typer.echo(f"wrote {path}")


def _simulate_uncertainty(scenario: Path, caldir: Path, samples: int, level: float, output: Optional[Path],
                          report: Optional[Path] = None):
    try:
        from nephrosim.calibration.commands import simulate_uncertainty_command
        from nephrosim.io import write_frame

        _check_report(report)
        frame = simulate_uncertainty_command(scenario, caldir, n=samples, level=level)
        if output is not None:
            write_frame(frame, output)
        if report is not None:
            from nephrosim.report import prediction_interval_report, write
            from nephrosim.run.simulation import as_scenario

            write(prediction_interval_report(as_scenario(scenario), frame, scenario, calibration=str(caldir),
                                             samples=samples, level=level), report)
    except _user_errors() as exc:
        _fail(str(exc).strip("'\""))
    if not frame["in_calibrated_domain"].all():
        typer.echo("note: this species and injury model are outside the calibrated domain (no study of them was "
                   "fitted); the intervals come from the assumed parameters' ranges and are wide by design")
    _console().print(frame.drop(columns=["in_calibrated_domain"]).to_string(index=False))
    for path in (output, report):
        if path is not None:
            typer.echo(f"wrote {path}")


def _check_report(report: Optional[Path]) -> None:
    """Refuse a bad ``--report`` path (not .html, not writable) before anything runs."""
    if report is not None:
        from nephrosim.report import check_report_path

        check_report_path(report)


def _console():
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=220)


def _print_result(result) -> None:
    from rich.markup import escape
    from rich.table import Table

    console = _console()
    if "arms" not in result.scenario.model_fields_set:
        console.print("note: the scenario lists no arms, so one untreated arm named 'vehicle' was simulated")
    for arm, status in result.statuses.items():
        if status.code == "ok_recovered":
            console.print(f"note: arm {escape(arm)}: {escape(status.message)}")
        elif not status.ok:
            console.print(f"[yellow]arm {escape(arm)}: {status.code} — {escape(status.message)}[/yellow]")
    table = Table(title=escape(f"{result.scenario.name} ({result.scenario.species}, {result.scenario.injury.model})"))
    table.add_column("arm")
    table.add_column(escape("time [h]"), justify="right")
    cols = list(result.scenario.readouts)
    for r in cols:
        # rich would read "[mg/dL]" as markup and drop it: units are escaped
        table.add_column(escape(f"{r}\n[{result.units[r]}]"), justify="right")
    for arm, values in result.values.items():  # array[time, readout], straight from the run (no pandas)
        for t, row in zip(result.times_h, values):
            table.add_row(escape(arm), f"{t:g}", *[_number(v) for v in row])
    console.print(table)


def _number(v: float) -> str:
    """4 significant digits; round-off below 1e-12 in magnitude prints as 0."""
    return "0" if abs(v) < 1e-12 else f"{v:.4g}"


LISTS = ("injuries", "readouts", "products", "routes", "sources", "donors", "assays")


@app.command("list")
def list_names(what: str = typer.Argument(..., help="injuries | readouts | products | routes | sources | donors | "
                                                    "assays")):
    """The names a scenario may use, with what each means (and units for readouts)."""
    import typing

    from rich.markup import escape

    from nephrosim.biology.readouts import available_readouts
    from nephrosim.scenarios import products
    from nephrosim.scenarios.injuries import INJURY_MODELS

    if what not in LISTS:
        _fail(f"list {what!r}: use one of {', '.join(LISTS)}")
    console = _console()
    if what == "injuries":
        for name, cls in INJURY_MODELS.items():
            fields = [f for f in cls.model_fields if f != "model"]
            doc = (cls.__doc__ or "").strip().splitlines()[0]
            console.print(f"{name:24} {escape(doc)}" + (f"  fields: {', '.join(fields)}" if fields else ""))
    elif what == "readouts":
        for name, r in sorted(available_readouts().items()):
            units = ", ".join((r.unit, *r.units))
            console.print(f"{name:38} {escape('[' + units + ']'):28} {escape(r.description)}")
    elif what == "assays":  # observation.creatinine_assay (issue 14 item 9)
        from nephrosim.biology.assay import CREATININE_ASSAYS

        for name, meaning in CREATININE_ASSAYS.items():
            console.print(f"{name:12} {escape(meaning)}")
    elif what == "products":
        for cls in (products.MSC, products.ConditionedMedium, products.EV):
            units = typing.get_args(cls.model_fields["dose_unit"].annotation)
            console.print(f"{cls.model_fields['product'].default:20} {escape((cls.__doc__ or '').strip().splitlines()[0])}"
                          f"  dose units: {', '.join(units) or 'see docs'}")
    else:
        alias = {"routes": "Route", "sources": "TissueSource", "donors": "Donor"}[what]
        for name in typing.get_args(getattr(products, alias)):
            console.print(name)


TEMPLATE = """\
# A nephrosim scenario. Every field is explained; `nephrosim list injuries|readouts|products|routes`
# lists the names, and `nephrosim check THIS_FILE` validates it without running it.
name: my_experiment
species: mouse                 # mouse | rat | human
# body_weight_g: 25            # optional; the species default otherwise
injury:                        # one injury model (nephrosim list injuries)
  model: ischemia_reperfusion
  clamp_min: 25                # minutes of warm ischaemia
  bilateral: true
arms:                          # groups; an arm without treatments is the vehicle control
  - name: vehicle
  - name: msc_iv
    treatments:
      - product: msc           # msc | conditioned_medium | ev
        source: bone_marrow    # nephrosim list sources
        donor: allogeneic      # nephrosim list donors
        dose: 5.0e+5           # cells (or dose_unit: cells/kg)
        route: iv              # nephrosim list routes
        time_h: 0              # hours after the insult; negative = before it (pre-treatment)
readouts: [serum_creatinine, bun, gfr, tubular_injury_score]   # nephrosim list readouts
units: {serum_creatinine: mg/dL}                                # optional reporting units
times_h: [0, 6, 24, 48, 72, 168, 336]                           # output times, hours after the insult
observation: {creatinine_assay: enzymatic}   # enzymatic | hplc | jaffe (nephrosim list assays): the lab's SCr assay;
                                             # jaffe reads true SCr + the species' non-creatinine chromogen offset
"""


@app.command()
def template(output: Optional[Path] = typer.Option(None, "-o", "--output", help="write it to this file")):
    """An annotated scenario to start from (printed, or written with -o)."""
    if output is None:
        typer.echo(TEMPLATE, nl=False)
        return
    try:
        from nephrosim.io import check_writable, write_text_atomic

        check_writable(output)
        write_text_atomic(output, TEMPLATE)
    except _user_errors() as exc:
        _fail(str(exc).strip("'\""))
    typer.echo(f"wrote {output}")


@app.command()
def check(scenario: Path = typer.Argument(..., help="scenario YAML or JSON")):
    """Validate SCENARIO and build its model without simulating it."""
    try:
        from nephrosim.run.simulation import as_scenario, compile_scenario

        sc = as_scenario(scenario)
        programs = compile_scenario(sc)
    except _user_errors() as exc:
        _fail(str(exc).strip("'\""))
    doses = sum(len(t.dose_times_h()) for a in sc.arms for t in a.treatments)
    typer.echo(f"ok: {sc.name}: {sc.species}, {sc.injury.model}, {len(sc.arms)} arm(s), {doses} dose(s), "
               f"{len(sc.readouts)} readout(s) at {len(sc.times_h)} times; model of {len(programs[0].outputs)} "
               "outputs built for every arm")


@app.command()
def ensemble(
    scenario: Path = typer.Argument(..., help="scenario YAML or JSON"),
    samples: int = typer.Option(..., "--samples", "-n", help="number of parameter sets"),
    output: Path = typer.Option(..., "-o", "--output", help="Parquet file to write"),
    cv: float = typer.Option(0.3, "--cv", help="coefficient of variation of the log-normal perturbation"),
    seed: int = typer.Option(0, "--seed"),
    workers: int = typer.Option(1, "--workers", "-w"),
    prior: str = typer.Option("lognormal", "--prior", help="lognormal (with --cv), table (log-uniform on the table's bounds), or a prior CSV file (name, distribution, median, cv, lower, upper)"),
    chunk_size: Optional[int] = typer.Option(None, "--chunk-size", help="samples per chunk (unit of resumption); "
                                             "default 250, 2000 with the batch engine, or what an interrupted run "
                                             "recorded"),
    scheduler: str = typer.Option("processes", "--scheduler", help="processes (this machine) or dask"),
    dask_address: Optional[str] = typer.Option(None, "--dask-address", help="address of a running Dask scheduler (default: a local cluster on 127.0.0.1)"),
    dask_tls: Optional[str] = typer.Option(None, "--dask-tls", metavar="CA,CERT,KEY", help="TLS files for the Dask scheduler (tls:// address) or for the local cluster instead of temporary credentials: CA certificate, certificate and private key, comma-separated (docs/reliability.md)"),
    donor_variability: bool = typer.Option(True, "--donor-variability/--no-donor-variability", help="draw the donor of every MSC/CM/EV treatment without a stated donor_potency (log-normal, msc_donor_potency_sigma)"),
    report: Optional[Path] = typer.Option(None, "--report", help="write one self-contained HTML report (.html)"),
    engine: Optional[str] = typer.Option(None, "--engine", help=_ENGINE_HELP),  # engine backend (issue 15)
):
    """Simulate SAMPLES perturbed parameter sets in parallel; rerun to resume."""
    try:
        from nephrosim.run.ensemble import ensemble as run

        _check_report(report)
        summary = run(_with_engine(scenario, engine), samples, output, cv=cv, seed=seed, workers=workers, prior=prior,
                      chunk_size=chunk_size, progress=True,
                      scheduler=scheduler, dask_address=dask_address, donor_variability=donor_variability,
                      dask_security=None if dask_tls is None else tuple(p.strip() for p in dask_tls.split(",")))
    except _user_errors() as exc:
        _fail(str(exc).strip("'\""))
    typer.echo(f"wrote {summary.path}: {summary.samples} samples in {summary.chunks} chunks "
               f"({summary.chunks_computed} computed now)")
    typer.echo("trajectory status: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.status_counts.items())))
    for line in summary.failures:
        typer.echo(f"  {line}")
    if report is not None:
        try:
            import pandas as pd

            from nephrosim.report import ensemble_report, write
            from nephrosim.run.simulation import as_scenario

            frame = pd.read_parquet(summary.path, columns=["arm", "time_h", "readout", "value", "unit", "status"])
            write(ensemble_report(as_scenario(scenario), summary, frame, scenario, seed=seed,
                                  options={"prior": prior, "cv": cv, "donor variability": donor_variability}), report)
        except _user_errors() as exc:
            _fail(str(exc).strip("'\""))
        typer.echo(f"wrote {report}")


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
        from nephrosim.run.simulation import export_sbml as build

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
    from nephrosim.biology.parameters import SPECIES, ParameterTable

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
        from nephrosim.biology.parameters import COLUMNS

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


@app.command()
def calibrate(
    config: Path = typer.Argument(..., help="calibration config YAML (see calibration/default.yaml)"),
    out: Path = typer.Option(Path("calibration-out"), "--out", help="results folder (resumable)"),
    profile: bool = typer.Option(False, "--profile", help="profile likelihoods of the estimated parameters"),
    report: bool = typer.Option(False, "--report", help="also run leave-one-study-out validation and write the report"),
    petab: Optional[Path] = typer.Option(None, "--petab", help="also export the problem as PEtab v1 to this folder"),
    ship: bool = typer.Option(False, "--ship", help="write the estimates, with provenance, to OUT/calibrated.json; "
                              "copy it over src/nephrosim/biology/calibrated.json in a source checkout to make it "
                              "the default parameter set (the installed package is never written)"),
):
    """Fit the model to evidence: multistart, exact gradients, resumable (rerun to resume)."""
    try:
        from nephrosim.calibration.commands import calibrate_command

        result = calibrate_command(config, out, profile=profile, report=report, petab=petab,
                                   progress=True, ship=ship)
    except _user_errors() as exc:
        _fail(str(exc).strip("'\""))
    typer.echo(f"negative log-likelihood {result['nll']:.6g}; starts at the best optimum: {result['converged_to_best']}")
    for name, value in result["parameters"].items():
        ci = result["intervals_95"].get(name)
        ends = ["open" if v is None else f"{v:.4g}" for v in ci] if ci else None
        typer.echo(f"  {name} = {value:.6g}" + (f"  (95 % profile interval {ends[0]}–{ends[1]})" if ends else ""))
    failed = {s: v for s, v in result["failed_evaluations"].items() if v[0]}
    for start, (n, messages) in sorted(failed.items()):
        typer.echo(f"  start {start}: {n} failed evaluation(s); first: {messages[0] if messages else '?'}")
    if result["report"]:
        typer.echo(f"report: {result['report']}")
    if result["shipped"]:
        typer.echo(f"wrote {result['shipped']}; to make it the default parameter set, copy it over "
                   "src/nephrosim/biology/calibrated.json in a source checkout")


# --- calibrate-targets (issue 14: formal fits replace hand tuning) ---
@app.command("calibrate-targets")
def calibrate_targets(
    spec: Path = typer.Argument(..., help="target calibration YAML (see calibration/targets/)"),
    out: Path = typer.Option(Path("targets-out"), "--out", help="results folder (result.json)"),
    ship: bool = typer.Option(False, "--ship", help="also write OUT/<name>.json; copy it into "
                              "src/nephrosim/biology/fitted/ in a source checkout to make it part of the default table"),
):
    """Fit hand-tuned injury parameters to in-sample literature targets: MAP, posterior, verdict."""
    try:
        from nephrosim.calibration.commands import calibrate_targets_command

        result = calibrate_targets_command(spec, out, ship=ship, progress=True)
    except _user_errors() as exc:
        _fail(str(exc).strip("'\""))
    _echo_fit(result, [f"target {tid}: {'met' if met else 'MISSED'} at the point estimate"
                       for tid, met in result["targets_met_point"].items()])


def _echo_fit(result: dict, checks: list[str]) -> None:
    """The summary of a target or population calibration: likelihoods, estimates, ``checks``, the shipped file."""
    typer.echo(f"{result['name']}: −log posterior {result['nll_point']:.4g} at the point estimate, "
               f"{result['nll_map']:.4g} at the MAP, {result['nll_hand_tuned']:.4g} at the values before; "
               f"{result['seconds']} s")
    for label, est in result["parameters"].items():
        lo, hi = est["interval_95"]
        typer.echo(f"  {label} = {est['point']:.4g}  (MAP {est['map']:.4g}; 95 % posterior {lo:.4g}–{hi:.4g}; "
                   f"before {est['hand_tuned_value']:.4g}) — {est['verdict']}")
    for line in checks:
        typer.echo(f"  {line}")
    if result.get("shipped"):
        typer.echo(f"wrote {result['shipped']}; copy it into src/nephrosim/biology/fitted/ in a source checkout")
# --- end calibrate-targets ---


# --- calibrate-population (issues 14 and 16: the human model fitted to its population) ---
@app.command("calibrate-population")
def calibrate_population(
    spec: Path = typer.Argument(..., help="population calibration YAML (see calibration/population/)"),
    out: Path = typer.Option(Path("population-out"), "--out", help="results folder (result.json)"),
    ship: bool = typer.Option(False, "--ship", help="also write OUT/<name>.json; copy it into "
                              "src/nephrosim/biology/fitted/ in a source checkout to make it part of the default table"),
):
    """Fit the human cardiac-surgery model to reported population shares; check it on the ACT-AKI placebo arm."""
    try:
        from nephrosim.calibration.commands import calibrate_population_command

        result = calibrate_population_command(spec, out, ship=ship, progress=True)
    except _user_errors() as exc:
        _fail(str(exc).strip("'\""))
    _echo_fit(result, [f"{name}: simulated {row['simulated']:.3g}, reported {row['reported']:.3g}"
                       for name, row in result["statistics_point"].items()]
              + [f"held out {name}: simulated {row['simulated']:.3g}, reported {row['reported']:.3g} — "
                 f"{'met' if row['met'] else 'MISSED'}" for name, row in result["held_out_point"].items()])
# --- end calibrate-population ---


@app.command()
def validate(
    out: Path = typer.Option(Path("calibration-out"), "--out", help="a finished calibration folder"),
    report: Optional[Path] = typer.Option(None, "--report", help="report folder (default: OUT/report), or an .html "
                                          "file: one self-contained HTML report instead"),
    held_out: bool = typer.Option(False, "--held-out", help="score the shipped calibration on the pre-registered "
                                  "held-out studies (validation/held_out.yaml); --report is then a folder"),
):
    """Leave-one-study-out validation of a calibration, with a Markdown (or one HTML) report."""
    if held_out:  # --- calibration layer: held-out validation (issue 14) ---
        _validate_held_out(report)
        return
    html = report is not None and report.suffix.lower() in (".html", ".htm")
    try:
        import tempfile

        from nephrosim.calibration.commands import validate_command

        if html:
            _check_report(report)
        with tempfile.TemporaryDirectory(prefix="nephrosim-validate-") as tmp:
            path = validate_command(out, Path(tmp) if html else report, progress=True)
            if html:
                from nephrosim.calibration.fit import Calibration
                from nephrosim.report import validation_report, write

                scenarios = list({id(e.scenario): e.scenario for e in Calibration.load(out).problem_.experiments}
                                 .values())
                path = write(validation_report(path, scenarios, calibration_dir=out), report)
    except _user_errors() as exc:
        _fail(str(exc).strip("'\""))
    typer.echo(f"report: {path}")


def _validate_held_out(report: Optional[Path]) -> None:
    """`nephrosim validate --held-out`: the score on the pre-registered held-out studies (calibration layer)."""
    try:
        from nephrosim.calibration.commands import validate_held_out_command

        s = validate_held_out_command(report)
    except _user_errors() as exc:
        _fail(str(exc).strip("'\""))
    typer.echo(f"held-out publications: {s['held_out_studies']}, scored: {s['studies_scored']}, not evaluable: "
               f"{s['not_evaluable_studies']}")
    typer.echo(f"treated-vs-vehicle contrasts: {s['contrasts']}; direction right: {s['direction_right_share']:.0%}; "
               f"median |log ratio error|: {s['median_abs_log_ratio_error']:.3g}")
    typer.echo(f"95 % prediction intervals: coverage {s['pi95_coverage']:.0%} of {s['contrasts'] + s['observations']} "
               f"values; median fold-width {s['pi95_median_fold_width']:.3g}")
    typer.echo(f"severity contrasts (untreated arms of two designs of one study): {s['severity_contrasts']}; "
               f"direction right {s['severity_direction_right_share']:.0%}; median |log ratio error| "
               f"{s['severity_median_abs_log_ratio_error']:.3g}; coverage {s['severity_pi95_coverage']:.0%}")
    if s.get("in_sample"):
        t = s["in_sample"]
        typer.echo(f"in-sample (not validation): {t['studies_scored']} publications scored, {t['contrasts']} contrasts, "
                   f"direction right {t['direction_right_share']:.0%}, median |log ratio error| "
                   f"{t['median_abs_log_ratio_error']:.3g}, coverage {t['pi95_coverage']:.0%}; "
                   f"{t['severity_contrasts']} severity contrasts, direction right "
                   f"{t['severity_direction_right_share']:.0%}, median |log ratio error| "
                   f"{t['severity_median_abs_log_ratio_error']:.3g}")
    if s.get("report"):
        typer.echo(f"report: {s['report']}")


@export_app.command("petab")
def export_petab(
    config: Path = typer.Argument(..., help="calibration config YAML"),
    output: Path = typer.Option(..., "-o", "--output", help="folder for the PEtab problem"),
):
    """Write a calibration problem as PEtab v1 (SBML + tables + YAML), lint-checked."""
    try:
        from nephrosim.calibration.commands import export_petab_command

        path = export_petab_command(config, output)
    except _user_errors() as exc:
        _fail(str(exc).strip("'\""))
    typer.echo(f"wrote {path}")


@app.command()
def compare(
    scenario: Path = typer.Argument(..., help="scenario YAML or JSON with several arms"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="write efficacy, effect and risk tables (.csv: "
                                          "three files <stem>_efficacy.csv, <stem>_effects.csv, <stem>_risk.csv)"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="write the readouts of every arm (.png, .svg, .pdf)"),
    uncertainty: bool = typer.Option(False, "--uncertainty", help="give each effect a 95 % interval over parameter "
                                     "sets drawn on the parameter table's ranges (paired across arms)"),
    samples: Optional[int] = typer.Option(None, "--samples", help="parameter sets for --uncertainty (default 50)"),
    seed: int = typer.Option(0, "--seed", help="seed of the --uncertainty draws"),
    report: Optional[Path] = typer.Option(None, "--report", help="write one self-contained HTML report (.html)"),
):
    """Arms side by side: efficacy (peak/AUC SCr and BUN vs vehicle), effect sizes and risks."""
    if not uncertainty and samples is not None:
        _fail("--samples sets the parameter sets of --uncertainty; add --uncertainty, or drop --samples")
    if uncertainty and samples is not None and samples < 2:
        _fail(f"--samples {samples}: an interval needs at least 2 parameter sets (default 50)")
    try:
        from nephrosim.analysis.compare import compare as run
        from nephrosim.analysis.compare import effect_sizes
        from nephrosim.run.simulation import as_scenario

        if output is not None and output.suffix.lower() != ".csv":
            raise UserInputError(f"-o {output}: use a .csv file name")
        _check_report(report)
        sc = as_scenario(scenario)
        effects = effect_sizes(sc, samples=(50 if samples is None else samples) if uncertainty else 0, seed=seed)
        efficacy, risk = run(sc)
        if output is not None:
            from nephrosim.io import write_frame

            write_frame(efficacy, output.with_name(f"{output.stem}_efficacy.csv"))
            write_frame(effects, output.with_name(f"{output.stem}_effects.csv"))
            write_frame(risk, output.with_name(f"{output.stem}_risk.csv"))
        figure = None
        if plot is not None or report is not None:
            from nephrosim.run.simulation import simulate as sim

            figure = sim(sc).plot(plot)
        if report is not None:
            from nephrosim.report import compare_report, write

            write(compare_report(sc, efficacy, risk, effects, figure, scenario,
                                 seed=seed if uncertainty else None), report)
    except _user_errors() as exc:
        _fail(str(exc).strip("'\""))
    console = _console()
    summary = [c for c in efficacy.columns if "@" not in c]  # per-time values go to the CSV only
    console.print("[bold]Efficacy[/bold] — *_reduction_pct = 100 × (1 − the arm's rise of the readout above its "
                  "own t = 0 value ÷ the reference arm's rise), for the peak and for the area under the curve; "
                  "the reference arm is 'vehicle' (or the first untreated arm)")
    from rich.markup import escape

    # units sit in square brackets in the column names: escaped, or rich would read them as markup
    console.print(escape(efficacy[summary].T.to_string(header=False, float_format=lambda v: f"{v:.4g}")))
    _print_effects(console, effects)
    console.print("\n[bold]Risks[/bold]")
    caveat = risk.pop("tumorigenicity_caveat").iloc[0] if "tumorigenicity_caveat" in risk else ""
    console.print(escape(risk.T.to_string(header=False, float_format=lambda v: f"{v:.4g}")))
    if caveat:
        console.print(f"tumorigenicity: {caveat}")
    written = [] if output is None else [output.with_name(f"{output.stem}_{part}.csv")
                                         for part in ("efficacy", "effects", "risk")]
    for path in (*written, plot, report):
        if path is not None:
            typer.echo(f"wrote {path}")


def _print_effects(console, effects) -> None:
    """One line per treated arm and measure: the effect, its interval (or that none was computed), the reference."""
    from rich.markup import escape

    console.print("\n[bold]Effect sizes[/bold]")
    if effects.empty:
        console.print("none: the scenario has no untreated arm to compare the treated arms with")
        return
    ref = effects["reference_arm"].iloc[0]
    console.print(escape(f"reference arm: {ref}; readout: {effects['readout'].iloc[0]}; interval: "
                         f"{effects['interval'].iloc[0]}"))
    for r in effects.itertuples():
        ci = ("" if r.lower_pct != r.lower_pct else f" (interval {_number(r.lower_pct)} to {_number(r.upper_pct)} %)")
        console.print(escape(f"  {r.arm}: {_number(r.estimate_pct)} %{ci} — {r.measure}"))


@app.command()
def protocol(
    protocol_file: Path = typer.Argument(..., help="cultivation protocol YAML (see examples/protocols/)"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="write the attribute table (.csv)"),
):
    """Product attributes of a cultivation protocol, each with its source and bounds."""
    try:
        from nephrosim.analysis.compare import protocol_report

        table = protocol_report(protocol_file)
        if output is not None:
            from nephrosim.io import write_frame

            write_frame(table, output)
    except _user_errors() as exc:
        _fail(str(exc).strip("'\""))
    _console().print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if output is not None:
        typer.echo(f"wrote {output}")


@app.command("check-model")
def check_model(
    report: Path = typer.Option(Path("model-check"), "--report", "-r", help="folder for report.md and plots, or an "
                                ".html file: one self-contained HTML report instead"),
):
    """Run the injury model against its literature targets and write a report."""
    from nephrosim.analysis.model_check import check_model as run

    html = report.suffix.lower() in (".html", ".htm")
    try:
        import tempfile

        from nephrosim.io import check_writable

        if html:
            _check_report(report)
        else:
            check_writable(report / "report.md")
        with tempfile.TemporaryDirectory(prefix="nephrosim-check-model-") as tmp:
            folder = Path(tmp) if html else report
            results = run(folder)
            if html:
                from nephrosim.analysis.model_check import load_targets
                from nephrosim.report import check_model_report, write

                write(check_model_report(results, folder, load_targets().scenarios), report)
    except _user_errors() as exc:
        _fail(str(exc).strip("'\""))
    met = sum(r.passed for r in results)
    typer.echo(f"{met} of {len(results)} targets met; report: {report if html else report / 'report.md'}")
    for kind in ("in_sample", "held_out", "by_construction"):
        group = [r for r in results if r.kind == kind]
        if group:
            typer.echo(f"  {kind.replace('_', '-')}: {sum(r.passed for r in group)} of {len(group)} met")
    for r in results:
        if not r.passed:
            typer.echo(f"  miss [{r.kind}]: {r.name} — {r.reason}")


# --- nephrosim app (issue 18): the web app; imported only when the command runs ------------
@app.command("app")
def web_app(
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (default: this computer only)"),
    port: int = typer.Option(8765, "--port", help="TCP port"),
    workers: int = typer.Option(2, "--workers", "-w", help="runs that compute at the same time"),
    data: Optional[Path] = typer.Option(None, "--data", help="folder that keeps the runs across restarts (created if "
                                        "missing; default: a per-user folder, e.g. ~/.local/share/nephrosim/app)"),
):
    """The web app: scenario builder, runs with progress and cancel, plots, parameters, evidence (docs/app.md)."""
    import ipaddress

    if not 0 < port < 65536:
        _fail(f"--port {port}: use a port from 1 to 65535")
    if workers < 1:
        _fail(f"--workers {workers}: use at least 1")
    try:
        from nephrosim.app import server
    except ImportError as exc:
        _fail(f"the web app needs its extra packages ({exc.name} is missing): pip install 'nephrosim[app]'")
    try:
        server.check_address(host, port)
        store = server.RunStore.open(data)  # created, checked writable and locked before the server starts
    except UserInputError as exc:
        _fail(str(exc))
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        typer.echo(f"warning: listening on {host}: the app has no login, so anyone who can reach this address can "
                   "run simulations on this computer", err=True)
    typer.echo(f"nephrosim app on http://{host}:{port}/ (Ctrl+C stops it; runs are kept in {store.folder})")
    server.serve(host=host, port=port, workers=workers, data=store)
# --- end nephrosim app ---------------------------------------------------------------------


def _register_evidence() -> None:
    """The evidence store's subcommands (``evidence``, ``meta``) live with the evidence package."""
    from nephrosim.evidence.cli import evidence_app, meta

    app.add_typer(evidence_app, name="evidence", help="The curated evidence store.")
    app.command("meta")(_meta_with_report(meta))


def _meta_with_report(meta):
    """``nephrosim meta`` with ``--report out.html``: the evidence package declares and checks the
    option and returns its result when it is given; the report (a layer above) is written here."""
    import functools

    @functools.wraps(meta)
    def command(**options):
        result = meta(**options)
        if options.get("report") is not None and result is not None:
            try:
                from nephrosim.report import meta_report, write

                write(meta_report(result), options["report"])
            except _user_errors() as exc:
                _fail(str(exc).strip("'\""))
            typer.echo(f"wrote {options['report']}")

    return command


_register_evidence()


def _register_commands() -> None:
    """Subcommands that live in nephrosim.commands (one module per area)."""
    from nephrosim.commands import mechanisms, trials

    mechanisms.register(app)
    trials.register(app)


_register_commands()


if __name__ == "__main__":  # pragma: no cover
    app()
