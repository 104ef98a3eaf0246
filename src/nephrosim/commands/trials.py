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


SCHEDULER_HELP = ("where simulations run: serial (this process), local (a Dask cluster on 127.0.0.1, TLS, no "
                  "dashboard) or a running scheduler's tls://host:port / tcp://host:port")


def _security(tls: tuple[Path, Path, Path] | None):
    return None if tls is None else tuple(str(p) for p in tls)


def trial(
    design: Path = typer.Argument(..., help="trial YAML (see examples/trials/act_aki.yaml)"),
    replicates: int = typer.Option(200, "--replicates", "-n", help="replicate trials drawn from the eligible pool"),
    seed: int = typer.Option(0, "--seed", help="seed of the population and the replicates"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    scheduler: str = typer.Option("serial", "--scheduler", help=SCHEDULER_HELP),
    workers: int = typer.Option(2, "--workers", help="worker processes of --scheduler local"),
    tls: tuple[Path, Path, Path] = typer.Option(None, "--tls", help="CA, certificate and key of a tls:// scheduler"),
    progress: bool = typer.Option(None, "--progress/--no-progress", help="progress with ETA on stderr: a bar on a terminal, plain lines elsewhere (default: on)"),
    report: Path = typer.Option(None, "--report", help="write one self-contained HTML report (.html)"),  # issue 18
    out: Path = typer.Option(None, "--out", help="output folder: keeps every finished chunk, so a rerun of the same "
                                                 "spec and seed resumes; summary.json and replicates.csv at the end"),
    overwrite: bool = typer.Option(False, "--overwrite", help="discard the chunks of a different run in --out"),
    chunk_patients: int = typer.Option(None, "--chunk-patients", help="virtual patients per simulation task (and "
                                       "per resumable chunk; default 200); on Dask with the batch engine 1000 keeps "
                                       "the workers busier (docs/trials.md §6)"),
):
    """Run a virtual trial (a control and 1-5 treated arms): power, hazard ratios, median recovery times (resumable with --out)."""
    import sys

    try:
        from nephrosim.trials import load_trial, run_trial

        if report is not None:  # --report (issue 18): refused before the run
            from nephrosim.report import check_report_path

            check_report_path(report)

        result = run_trial(load_trial(design), replicates=replicates, seed=seed, scheduler=scheduler,
                           workers=workers, security=_security(tls),
                           progress=True if progress is None else progress, out=out, overwrite=overwrite,
                           **({} if chunk_patients is None else {"chunk_patients": chunk_patients}))
    except _user_errors() as exc:
        _fail(" ".join(str(exc).strip("'\"").split()))
    out = result.to_dict()
    if report is not None:  # --report (issue 18)
        try:
            from nephrosim.report import trial_report, write

            write(trial_report(result, design), report)
        except _user_errors() as exc:
            _fail(" ".join(str(exc).strip("'\"").split()))
    if as_json:
        typer.echo(json.dumps(out, allow_nan=False, default=str))
        return
    _print(out)
    if result.out is not None:
        typer.echo(f"wrote {result.out / 'summary.json'} and {result.out / 'replicates.csv'} (chunks: "
                   f"{result.out / 'chunks'})")
    if report is not None:
        typer.echo(f"wrote {report}")


def _print(out: dict) -> None:
    typer.echo(f"{out['trial']}: {out['replicates']} replicates, seed {out['seed']}")
    typer.echo(f"  primary: {out['primary_endpoint']}")
    comparisons = out["comparisons"]
    if len(comparisons) > 1:
        typer.echo(f"  power {out['power']:.3f} (at least one treated arm differs from "
                   f"{next(iter(out['n_per_arm']))}, {out['multiplicity']}-adjusted)")
    for arm, c in comparisons.items():
        hr = c["hazard_ratio"]
        lead = "" if len(comparisons) == 1 else f"{arm} vs control: "
        adjusted = "" if len(comparisons) == 1 else f" ({c['power_adjusted']:.3f} {out['multiplicity']}-adjusted)"
        typer.echo(f"  {lead}power {c['power']:.3f}{adjusted}; HR median {hr['median']} (2.5-97.5 %: {hr['lo']}-"
                   f"{hr['hi']})")
    for arm, days in out["median_recovery_days"].items():
        typer.echo(f"  median recovery {arm}: {days} d; recovered by horizon {out['recovered_by_horizon'][arm]:.2f}; "
                   f"death {out['death_by_horizon'][arm]:.3f} (uraemic), {out['death_by_stage_30d'][arm]:.3f} (stage-linked); SCr AUC {out['scr_auc_mg_dl_day'][arm]:.1f} mg/dL*d")
        typer.echo(f"    {arm}: dialysis {out['dialysis_30d'][arm]:.3f}; death or dialysis "
                   f"{out['death_or_dialysis_30d'][arm]:.3f}; MAKE30 {out['make30'][arm]:.3f}")
    for arm, c in comparisons.items():
        lead = "" if len(comparisons) == 1 else f" {arm}"
        rd = c["make30_risk_difference"]
        typer.echo(f"  MAKE30 risk difference ({arm if lead else 'treatment'} - control) median {rd['median']} "
                   f"(2.5-97.5 %: {rd['lo']}-{rd['hi']}); power {c['make30_power']:.3f} (Fisher)")
    if "lost_to_follow_up" in out:
        typer.echo("  lost to follow-up (censored for recovery, left out of the other endpoints): "
                   + "; ".join(f"{arm} {v:.3f}" for arm, v in out["lost_to_follow_up"].items()))
    if "make90" in out:
        typer.echo("  MAKE90 " + "; ".join(f"{arm} {v:.3f}" for arm, v in out["make90"].items()))
        for arm, c in comparisons.items():
            rd = c["make90_risk_difference"]
            typer.echo(f"    {arm} - control: risk difference median {rd['median']} (2.5-97.5 %: {rd['lo']}-"
                       f"{rd['hi']}); power {c['make90_power']:.3f} (Fisher)")
    for cov, sub in out.get("subgroups", {}).items():
        first, second = sub["subgroups"]
        for arm, r in sub["by_arm"].items():
            typer.echo(f"  subgroup {first} vs {second} ({arm}; pool {sub['pool_patients'][first]} / "
                       f"{sub['pool_patients'][second]}): HR of recovery median {r[first]['median']} vs "
                       f"{r[second]['median']}; interaction test power {r['interaction_power']:.3f}")
    if "accrual" in out:
        a = out["accrual"]
        typer.echo(f"  accrual {a['patients_per_month']:g} patients/month: enrolment {a['enrolment_months']:g} months, "
                   f"follow-up {a['follow_up_days']:g} days, planned duration {a['planned_duration_months']:g} months")
    for key in ("group_sequential", "arm_dropping"):
        if "look_months" in out.get(key, {}):
            t = out[key]
            enrolled = t["expected_enrolled_per_arm"]
            enrolled = enrolled.values() if isinstance(enrolled, dict) else enrolled
            typer.echo(f"  in calendar time ({key.replace('_', ' ')}): looks at months "
                       + ", ".join(f"{m:g}" for m in t["look_months"][:-1])
                       + f"; expected duration {t['expected_duration_months']:g} months; expected patients enrolled "
                       + ", ".join(f"{n:g}" for n in enrolled) + " (a stop keeps the patients already enrolled)")
    if "group_sequential" in out:
        g = out["group_sequential"]
        looks = ", ".join(f"{t:g}: |z| >= {c:.3f} (p < {p:.4g})"
                          for t, c, p in zip(g["information"], g["boundaries_z"], g["nominal_p"]))
        typer.echo(f"  group-sequential ({g['spending']} spending) at {looks}: power {g['power']:.3f}; stopped "
                   f"early {g['early_stop_share']:.3f}; expected n per arm "
                   + ", ".join(f"{n:g}" for n in g["expected_n_per_arm"]))
        if "futility_z" in g:
            typer.echo(f"    non-binding futility at signed z < {g['futility_z']:g}: stopped for futility "
                       f"{g['futility_stop_share']:.3f}; power {g['power_without_futility']:.3f} if the rule is "
                       "ignored")
        if "futility_beta" in g:
            bounds = ", ".join(f"{t:g}: z < {b:.3f}" for t, b in zip(g["information"], g["futility_boundaries_z"]))
            typer.echo(f"    non-binding futility spending beta {g['futility_beta']:g} ({g['futility_spending']}; "
                       f"planned for a final z of {g['design_drift_z']:.3f}) at {bounds}: stopped for futility "
                       f"{g['futility_stop_share']:.3f}; power {g['power_without_futility']:.3f} if the rule is "
                       "ignored")
    if "arm_dropping" in out:
        d = out["arm_dropping"]
        looks = ", ".join(f"{t:g}" for t in d["information"][:-1])
        rule = (f"signed z < {d['futility_z']:g}" if not isinstance(d["futility_z"], list) else
                f"signed z < {', '.join(f'{z:g}' for z in d['futility_z'])}, spending beta {d['futility_beta']:g}")
        typer.echo(f"  arm dropping at {looks} of the patients ({rule}): power {d['power']:.3f} "
                   f"({d['power_without_dropping']:.3f} without dropping); all treated arms dropped "
                   f"{d['stopped_for_futility_share']:.3f}; expected total n {d['expected_total_n']:g} of "
                   f"{d['planned_total_n']}")
        for arm, share in d["dropped_share"].items():
            typer.echo(f"    {arm}: dropped {share:.3f}; {d['multiplicity']}-adjusted power {d['power_adjusted'][arm]:.3f}; "
                       f"expected n {d['expected_n_per_arm'][arm]:g}")
    if "mcp_mod" in out:
        m = out["mcp_mod"]
        on = {"recovery": "time to recovery (log hazard ratios)", "scr_auc": "SCr AUC"}.get(
            m["contrasts_on"], f"{m['contrasts_on'].upper()} (log odds ratios)")
        typer.echo(f"  MCP-Mod contrast test on {on} ({m['rule']}): power {m['power']:.3f}; significant by shape "
                   + "; ".join(f"{shape} {v:.3f}" for shape, v in m["significant_by_shape"].items()))
        if "modelling" in m:
            f = m["modelling"]
            td = f["target_dose"]
            typer.echo(f"  MCP-Mod target dose for an effect of {f['target_effect']:g} ({f['scale']}): "
                       + (f"median {td['median']:.4g} ({td['lo']:.4g}-{td['hi']:.4g}) in the "
                          f"{f['target_dose_estimated']:.3f} of replicates that estimate one" if td
                          else "estimated in no replicate")
                       + "; selected " + "; ".join(f"{shape} {v:.3f}" for shape, v in f["selected_by_shape"].items())
                       + "; effect by arm " + ", ".join(f"{arm} {v:g}" for arm, v in f["effect_by_arm"].items()))
    if "trend" in out:
        t = out["trend"]
        typer.echo(f"  trend across the arms ({t['test']}; scores "
                   + ", ".join(f"{arm} {v:g}" for arm, v in t["scores"].items())
                   + f"): power {t['power']:.3f}, {t['power_favouring_the_score']:.3f} favouring the higher scores; "
                   f"median z {t['z_median']}")
    pop = out["population"]
    typer.echo(f"  population: {pop['accepted_patients']} accepted of {pop['plausible_patients']} plausible; "
               f"eligible pool {pop['eligible_pool']}")
    for t in pop["targets"]:
        flag = "ok" if t["in_range"] else "MISS"
        typer.echo(f"    {t['target']}: simulated {t['simulated']} {t['unit']} vs {t['reported']} "
                   f"({t['low']}-{t['high']}) {flag}")


def trial_design(
    spec: Path = typer.Argument(..., help="design-search YAML (see examples/trials/act_aki_design.yaml)"),
    out: Path = typer.Option(..., "-o", "--out", help="design table, .csv or .parquet (parts: <out>.parts/)"),
    seed: int = typer.Option(0, "--seed", help="seed of the population, uncertainty draws and replicates"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object: summary and ranked designs"),
    scheduler: str = typer.Option("serial", "--scheduler", help=SCHEDULER_HELP),
    workers: int = typer.Option(2, "--workers", help="worker processes of --scheduler local"),
    tls: tuple[Path, Path, Path] = typer.Option(None, "--tls", help="CA, certificate and key of a tls:// scheduler"),
    progress: bool = typer.Option(None, "--progress/--no-progress", help="progress with ETA on stderr: a bar on a terminal, plain lines elsewhere (default: on)"),
    top: int = typer.Option(15, "--top", help="designs printed (the table holds all)"),
    report: Path = typer.Option(None, "--report", help="write one self-contained HTML report (.html) of the "
                                                       "ranked design table"),
):
    """Rank trial designs by power and n under the model's uncertainty (resumable: rerun to continue)."""
    import sys

    try:
        from nephrosim.trials.search import load_search, run_search

        if report is not None:  # refused before the search, like `trial --report`
            from nephrosim.report import check_report_path

            check_report_path(report)
        search, base = load_search(spec)
        result = run_search(search, base, out, seed=seed, scheduler=scheduler, workers=workers,
                            security=_security(tls), progress=True if progress is None else progress)
        if report is not None:
            from nephrosim.report import trial_design_report, write

            write(trial_design_report(result, search, base, spec), report)
    except _user_errors() as exc:
        _fail(" ".join(str(exc).strip("'\"").split()))
    table = result.table
    if as_json:
        rows = json.loads(table.to_json(orient="records"))
        typer.echo(json.dumps({**result.summary, "table": rows}, allow_nan=False, default=str))
        return
    s = result.summary
    typer.echo(f"{s['search']}: {s['designs']} designs ({s['skipped']} skipped), {s['draws']} model draw(s) x "
               f"{s['replicates_per_draw']} replicates, seed {s['seed']}; table: {s['output']}")
    prior = {"range": "around the model's value within", "log_uniform": "log-uniform on"}
    for u in s["uncertain_parameters"]:
        typer.echo(f"  uncertain: {u['parameter']} {prior[s['uncertainty_prior']]} {u['lower']:g}-{u['upper']:g} "
                   f"{u['unit']} (nominal {u['nominal']:g}, {u['provenance']})")
    ok = table[table["skipped"] == ""].head(top)
    typer.echo("  rank  power [95% MC]        success  correct  effect  n/arm  endpoint  timing | treatment | entry")
    for rank, r in enumerate(ok.itertuples(), 1):
        typer.echo(f"  {rank:>4}  {r.power:.3f} [{r.power_lo:.3f}-{r.power_hi:.3f}]  {r.p_success:.3f}    "
                   f"{r.p_correct:.3f}    {r.true_effect_median:+.2f}   {r.n_per_arm:>5}  {r.endpoint:<8}  "
                   f"{r.timing} | {r.treatment}{f' ({r.multiplicity})' if r.treated_arms > 1 else ''} | "
                   f"{r.inclusion}{'  *pareto' if r.pareto else ''}")
    sizes = s.get("sample_size", [])
    if sizes:
        typer.echo(f"  patients per arm for P(success) >= {s['target_success']:g} (interpolated between the candidates):")
        for e in sizes[:top]:
            what = (f"{e['n_per_arm']}" if e["reached"] else
                    f"not reached (best {e['best_p_success']:.3f} at {e['at_n_per_arm']})")
            typer.echo(f"    {what:>32}  {e['endpoint']:<8}  {e['timing']} | {e['treatment']} | {e['inclusion']}")
    skipped = table[table["skipped"] != ""]
    if len(skipped):
        typer.echo(f"  skipped {len(skipped)}: e.g. {skipped.iloc[0]['skipped'][:200]}")
    if report is not None:
        typer.echo(f"wrote {report}")


def register(app: typer.Typer) -> None:
    """Add the ``trial`` and ``trial-design`` commands to ``app``."""
    app.command("trial")(trial)
    app.command("trial-design")(trial_design)
