"""Command-line interface: ``nephrosim evidence ...`` and ``nephrosim meta``.

The lead registers them in ``nephrosim.cli``::

    app.add_typer(evidence_app, name="evidence")
    app.command("meta")(meta)

Errors in the input print one clear message (field, value, fix) and exit with status 2;
no traceback. Everything printed goes through :func:`~nephrosim.evidence.tables.printable`,
so a control character stored in a cell (a terminal escape sequence) is shown escaped
(``\x1b``), never executed; a CSV written to stdout has its formulas neutralised.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from .errors import EvidenceError, ImportRejected, NotEnoughStudies
from .tables import printable

__all__ = ["evidence_app", "meta"]

evidence_app = typer.Typer(
    help="The evidence store: list, show, import and export curated studies.",
    no_args_is_help=True,
    add_completion=False,
)

DbOpt = typer.Option(None, "--db", help="Evidence database file (default: $NEPHROSIM_DB or the user data dir).")


def _echo(text="", err: bool = False) -> None:
    """Print ``text`` with control characters shown escaped (never sent raw to the terminal)."""
    typer.echo(printable(text), err=err)


def _fail(exc: Exception, code: int = 2):
    _echo(f"error: {exc}", err=True)
    raise typer.Exit(code)


def _store(db):
    from .store import EvidenceStore

    return EvidenceStore(db)


@evidence_app.command("import")
def import_(
    file: Path = typer.Argument(..., help="CSV in the import format (see `nephrosim evidence import --help`)."),
    db: Optional[Path] = DbOpt,
    replace: bool = typer.Option(False, "--replace", help="Replace studies whose study_id already exists."),
):
    """Validate every row of FILE and import it all-or-nothing (nothing is written on any error).

    Columns: study_id, species, injury, arm, product, readout (required); role, time_h,
    unit, mean, dispersion, dispersion_type (SD/SEM), n, dose, dose_unit, route, timing_h,
    co_intervention, pmid, doi, url, quote, source_location, notes (optional).
    """
    try:
        rep = _store(db).import_csv(file, replace=replace)
    except ImportRejected as exc:
        _echo(str(exc), err=True)
        raise typer.Exit(2)
    except EvidenceError as exc:
        _fail(exc)
    _echo(f"imported {rep.studies} stud{'y' if rep.studies == 1 else 'ies'}, {rep.arms} arms, "
               f"{rep.outcomes} outcome rows from {file}: {', '.join(rep.study_ids)}")


@evidence_app.command("list")
def list_(
    db: Optional[Path] = DbOpt,
    injury: Optional[str] = typer.Option(None, help="Injury id or group (aki, sepsis, ckd, ischemia_reperfusion, ...)."),
    species: Optional[str] = typer.Option(None, help="Species or 'rodent'."),
    product: Optional[str] = typer.Option(None, help="msc, cm or ev."),
    readout: Optional[str] = typer.Option(None, help="e.g. serum_creatinine, bun, mortality."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
):
    """List the studies in the store (one line per study)."""
    try:
        df = _store(db).studies(injury=injury, species=species, product=product, readout=readout)
    except EvidenceError as exc:
        _fail(exc)
    if as_json:
        _echo(df.to_json(orient="records"))
        return
    if df.empty:
        _echo("no study matches these filters")
        return
    for r in df.itertuples(index=False):
        _echo(f"{r.study_id}\t{r.species}\t{r.injury}\t{r.products or '-'}\t{r.rows_with_mean}/{r.rows} rows "
                   f"with a mean\t{r.readouts}")
    _echo(f"{len(df)} stud{'y' if len(df) == 1 else 'ies'}")


@evidence_app.command("show")
def show(
    study_id: str = typer.Argument(..., help="Study id as printed by `evidence list`."),
    db: Optional[Path] = DbOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the full record as JSON."),
):
    """Show one study: arms, outcomes and provenance."""
    try:
        s = _store(db).study(study_id)
    except EvidenceError as exc:
        _fail(exc)
    if as_json:
        _echo(s.model_dump_json(indent=1))
        return
    _echo(f"{s.study_id}\n  species: {s.species} ({s.species_raw}); injury: {s.injury} ({s.injury_raw})")
    _echo(f"  PMID: {s.provenance.pmid or '-'}; DOI: {s.provenance.doi or '-'}; source: {s.provenance.source_file}")
    for a in s.arms:
        _echo(f"  arm {a.label!r} [{a.role}, product={a.product}, route={a.route or '-'}, "
                   f"dose={a.dose_raw or '-'}, timing_h={a.timing_raw or '-'}"
                   f"{', co-intervention=' + a.co_intervention if a.co_intervention else ''}]")
        for o in a.outcomes:
            val = "no mean reported" if o.mean is None else (
                f"{o.mean:g}" + (f" ± {o.dispersion:g} {o.dispersion_type or '(type not stated)'}"
                                 if o.dispersion is not None else "") + f" {o.unit or o.unit_raw or ''}")
            _echo(f"    {o.readout} @ {o.time_raw or 'time not stated'} h: {val}; n = {o.n_raw or '-'}")


@evidence_app.command("export")
def export(
    out: Optional[Path] = typer.Argument(None, help="Output file (.csv, .parquet, .json); stdout CSV if omitted."),
    db: Optional[Path] = DbOpt,
    injury: Optional[str] = typer.Option(None),
    species: Optional[str] = typer.Option(None),
    product: Optional[str] = typer.Option(None),
    readout: Optional[str] = typer.Option(None),
):
    """Export records (flat, one row per arm × time × readout) in the import format."""
    try:
        df = _store(db).export(out, injury=injury, species=species, product=product, readout=readout)
    except EvidenceError as exc:
        _fail(exc)
    if out is None:
        from .tables import csv_text

        _echo(csv_text(df).rstrip("\n"))  # formulas neutralised, control characters escaped
    else:
        _echo(f"wrote {len(df)} rows to {out}")


def meta(
    file: Optional[Path] = typer.Argument(None, help="Table with yi,vi; or m1i,sd1i,n1i,m2i,sd2i,n2i; or "
                                                     "ai,bi,ci,di (or tpos,tneg,cpos,cneg). Omit to pool from the store."),
    readout: Optional[str] = typer.Option(None, help="Store: readout to pool (serum_creatinine, bun, mortality, ...)."),
    injury: Optional[str] = typer.Option(None, help="Store: injury id or group (aki, sepsis, ischemia_reperfusion, ...)."),
    product: Optional[str] = typer.Option(None, help="Store: msc, cm or ev."),
    species: Optional[str] = typer.Option(None, help="Store: species or 'rodent'."),
    measure: Optional[str] = typer.Option(None, help="SMD, MD, ROM, OR or RR (default SMD / OR)."),
    method: str = typer.Option("REML", help="REML, ML, DL, PM, SJ, HE or FE."),
    knha: bool = typer.Option(False, "--knha", help="Knapp-Hartung adjustment (t tests, k-p df)."),
    by: Optional[str] = typer.Option(None, help="Subgroup column (store: route, species, injury, product, ...)."),
    mods: Optional[List[str]] = typer.Option(None, "--mods", help="Numeric moderator column (repeatable)."),
    level: float = typer.Option(95.0, help="Confidence level in percent."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    forest: Optional[Path] = typer.Option(None, help="Write a forest plot (.svg/.png/.pdf)."),
    funnel: Optional[Path] = typer.Option(None, help="Write a funnel plot (.svg/.png/.pdf)."),
    db: Optional[Path] = DbOpt,
    report: Optional[Path] = typer.Option(None, "--report", help="Write one self-contained HTML report (.html)."),
):
    """Meta-analysis: pool a table (FILE) or the evidence store (treated vs control).

    Store rule for one time point per study: continuous readouts use the earliest time
    >= 24 h reported by both arms (else the latest earlier one); mortality/survival use
    the last reported time. Excluded studies are listed with the reason.
    """
    from .pooling import meta_analyse

    if report is not None:  # --report (issue 18): checked before the analysis; `nephrosim meta` renders it
        from nephrosim.errors import UserInputError
        from nephrosim.io import check_writable

        try:
            if report.suffix.lower() not in (".html", ".htm"):
                raise EvidenceError(f"--report {report}: the report is one HTML file; give a name ending in .html")
            check_writable(report)
        except UserInputError as exc:
            _fail(exc)
    try:
        res = meta_analyse(
            None if file is None else file, readout=readout, injury=injury, species=species, product=product,
            db=db, measure=measure, method=method, knha=knha, by=by, mods=mods or None, level=level,
        )
        if forest is not None:
            from .plots import forest_plot

            if res.result.p == 1:
                forest_plot(res, forest)
            else:
                _echo("note: no forest plot for a meta-regression (--mods); drop --mods to draw one", err=True)
                forest = None
        if funnel is not None:
            from .plots import funnel_plot

            funnel_plot(res, funnel)
    except NotEnoughStudies as exc:
        if as_json:
            _echo(json.dumps(dict(error=str(exc).splitlines()[0], k=0,
                                       excluded=[dict(study_id=e.study_id, arm=e.arm, reason=e.reason)
                                                 for e in exc.excluded])))
        else:
            _echo(str(exc), err=True)
        raise typer.Exit(1)
    except EvidenceError as exc:
        _fail(exc)
    if as_json:
        _echo(json.dumps(res.to_dict(), indent=1))
    else:
        _echo(res.report())
        for p in (forest, funnel):
            if p is not None:
                _echo(f"wrote {p}")
    return res if report is not None else None  # the result, for the HTML report (nephrosim.cli)
