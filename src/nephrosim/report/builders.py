"""One report per job: what each ``--report out.html`` shows.

Every builder takes what its command already computed (a result object, tables, figure
files) and returns a :class:`~nephrosim.report.document.Report`; nothing here simulates. The
provenance section assembles each arm's model (no integration) to see which table rows it uses.
Each report states the command line, the seed (or that nothing was drawn), the date, the
package versions, the scenario as YAML where there is one, and the parameter provenance of
the rows the model used (:mod:`nephrosim.report.provenance`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from nephrosim.report.document import Report, Section, Table, command_line, figure_data, image_file_data
from nephrosim.report.provenance import no_model_section, provenance_section

NO_DRAWS = "none: a nominal simulation draws no random numbers"


def scenario_yaml(scenario, source=None) -> str:
    """The scenario as the user wrote it (the file's text), else as validated (YAML dump)."""
    import yaml

    if isinstance(source, (str, Path)) and Path(source).is_file():
        return Path(source).read_text(encoding="utf-8")
    return yaml.safe_dump(scenario.model_dump(mode="json", exclude_none=True), sort_keys=False)


def _arms_table(scenario, statuses=None) -> Table:
    rows = []
    for arm in scenario.arms:
        doses = "; ".join(
            f"{t.product} {t.dose:g} {getattr(t, 'dose_unit', '')} {getattr(t, 'route', '')} at "
            + ", ".join(f"{x:g}" for x in t.dose_times_h()) + " h" for t in arm.treatments) or "untreated"
        row = [arm.name, doses]
        if statuses is not None:
            s = statuses[arm.name]
            row.append(s.code if s.ok and s.code == "ok" else f"{s.code}: {s.message}")
        rows.append(tuple(row))
    cols = ("arm", "treatments") + (("status",) if statuses is not None else ())
    return Table("arms", cols, tuple(rows))


def _scenario_sections(scenario, source) -> tuple[Section, Section]:
    return (Section("Scenario", preformatted=(("scenario YAML" + (f" ({source})" if isinstance(source, (str, Path))
                                                                   else ""), scenario_yaml(scenario, source)),)),
            provenance_section(scenario))


def readout_table(result) -> Table:
    """Every readout of every arm at every output time (the numbers ``simulate`` prints)."""
    readouts = list(result.scenario.readouts)
    rows = []
    for arm, values in result.values.items():
        for i, t in enumerate(result.times_h):
            rows.append((arm, float(t), *[float(values[i, j]) for j in range(len(readouts))]))
    return Table("readouts at the output times", ("arm", "time [h]", *[f"{r} [{result.units[r]}]" for r in readouts]),
                 tuple(rows))


def _facts(scenario, source, seed: str) -> tuple[tuple[str, str], ...]:
    return (("scenario", f"{scenario.name} ({scenario.species}, {scenario.injury.model})"),
            *((("scenario file", str(source)),) if isinstance(source, (str, Path)) else ()),
            ("parameter set", getattr(scenario, "parameter_set", "calibrated")),
            ("seed", seed))


def simulate_report(result, source=None, *, log_time: bool = False, argv: Sequence[str] | None = None) -> Report:
    """The report of ``nephrosim simulate``: arms, readout table, figure, scenario, provenance."""
    sc = result.scenario
    sections = [
        Section("Arms", paragraphs=("Each arm was simulated once with the nominal parameters.",),
                tables=(_arms_table(sc, result.statuses),)),
        Section("Readouts", tables=(readout_table(result),),
                figures=(figure_data(result.plot(log_time=log_time), "every readout of every arm"),)),
        *_scenario_sections(sc, source),
    ]
    return Report(f"nephrosim simulate: {sc.name}", command_line(argv), tuple(sections), _facts(sc, source, NO_DRAWS))


def compare_report(scenario, efficacy, risk, effects, figure=None, source=None, *, seed: int | None = None,
                   argv: Sequence[str] | None = None) -> Report:
    """The report of ``nephrosim compare``: effect sizes with their reference arm and interval,
    efficacy and risk tables, the figure, scenario and provenance."""
    reference = effects["reference_arm"].iloc[0] if len(effects) else None
    note = (effects["interval"].iloc[0] if len(effects) else "")
    effect_text = (f"Every treated arm is compared with the reference arm '{reference}'. Interval: {note}."
                   if reference is not None else
                   "No effect size: the scenario has no untreated arm to compare the treated arms with.")
    summary = [c for c in efficacy.columns if "@" not in c]
    timed = ["arm", *[c for c in efficacy.columns if "@" in c]]
    risk_frame = risk.drop(columns=["tumorigenicity_caveat"], errors="ignore")
    caveat = risk["tumorigenicity_caveat"].iloc[0] if "tumorigenicity_caveat" in risk else ""
    sections = [
        Section("Effect sizes", paragraphs=(effect_text,),
                tables=(Table.from_frame(effects.drop(columns=["interval"]), "effect per treated arm"),)),
        Section("Efficacy", paragraphs=(
            "*_reduction_pct = 100 × (1 − the arm's rise of the readout above its own t = 0 value ÷ the reference "
            "arm's rise), for the peak and for the area under the curve; peaks and areas use a dense time grid.",),
            tables=(Table.from_frame(efficacy[summary], "peak and area under the curve"),
                    Table.from_frame(efficacy[timed], "readouts at the scenario's times"))),
        Section("Risks", paragraphs=((f"Tumorigenicity: {caveat}",) if caveat else ()),
                tables=(Table.from_frame(risk_frame, "dose-based risk indices per arm"),)),
        *((Section("Figure", figures=(figure_data(figure, "readouts of every arm"),)),) if figure is not None else ()),
        *_scenario_sections(scenario, source),
    ]
    return Report(f"nephrosim compare: {scenario.name}", command_line(argv), tuple(sections),
                  _facts(scenario, source, NO_DRAWS if seed is None else str(seed)))


def band_figure(q, low: str, mid: str, high: str, label: str):
    """Median and band of every readout per arm (columns ``arm, readout, unit, time [h]`` and the
    three named ones); weeks of follow-up are drawn in days on a symmetric-log axis."""
    import numpy as np

    from nephrosim.figures import subplots

    readouts = list(dict.fromkeys(q["readout"]))
    ncol = min(3, len(readouts))
    nrow = -(-len(readouts) // ncol)
    fig, axes = subplots(nrow, ncol, figsize=(4.4 * ncol, 3.4 * nrow + 0.6), squeeze=False)
    days = q["time [h]"].max() > 96  # the acute phase stays visible
    for k, ro in enumerate(readouts):
        ax = axes[k // ncol][k % ncol]
        for arm, part in q[q["readout"] == ro].groupby("arm", sort=False):
            t = np.asarray(part["time [h]"], float) / (24.0 if days else 1.0)
            line, = ax.plot(t, part[mid], marker="o", ms=3, label=f"{arm} ({label})")
            ax.fill_between(t, part[low], part[high], alpha=0.2, color=line.get_color())
        ax.set_title(ro, fontsize=9)
        if days:
            ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xlabel(f"time after insult [{'days, log scale above 1' if days else 'h'}]")
        ax.set_ylabel(part["unit"].iloc[0])
    for k in range(len(readouts), nrow * ncol):
        axes[k // ncol][k % ncol].set_visible(False)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.6 / (3.4 * nrow + 0.6), 1, 1))
    return fig


def prediction_interval_report(scenario, frame, source=None, *, calibration: str, samples: int, level: float,
                               seed: int = 0, argv: Sequence[str] | None = None) -> Report:
    """The report of ``nephrosim simulate --uncertainty``: the median and prediction interval of
    every readout (the table it prints), bands, whether the scenario is in the calibrated domain."""
    inside = bool(frame["in_calibrated_domain"].all())
    table = frame.drop(columns=["in_calibrated_domain"])
    q = table.rename(columns={"time_h": "time [h]"})
    fig = band_figure(q, "lower", "median", "upper", f"median, {100 * level:g} % interval")
    domain = ("The species and injury model are inside the calibrated domain." if inside else
              "This species and injury model are outside the calibrated domain (no study of them was fitted): the "
              "intervals come from the assumed parameters' ranges and are wide by design.")
    sections = [
        Section("Prediction intervals", paragraphs=(
            f"{samples} draws from the calibration '{calibration}': the posterior of the fitted parameters, a new "
            f"lab's random effect and every assumed parameter the scenario uses, drawn on its range; "
            f"{100 * level:g} % intervals.", domain),
            tables=(Table.from_frame(table, "median and interval of every readout"),),
            figures=(figure_data(fig, "median and prediction interval of every arm"),)),
        *_scenario_sections(scenario, source),
    ]
    return Report(f"nephrosim simulate --uncertainty: {scenario.name}", command_line(argv), tuple(sections),
                  _facts(scenario, source, str(seed)) + (("calibration", str(calibration)),))


def ensemble_report(scenario, summary, frame, source=None, *, seed: int, options: dict | None = None,
                    argv: Sequence[str] | None = None) -> Report:
    """The report of ``nephrosim ensemble``: status counts, 5/50/95 % quantiles per arm, readout
    and time (usable trajectories only), bands, scenario and provenance."""
    usable = frame[frame["status"].isin(["ok", "ok_recovered"])]
    q = (usable.groupby(["arm", "readout", "unit", "time_h"], sort=False)["value"]
         .quantile([0.05, 0.5, 0.95]).unstack().reset_index())
    q.columns = ["arm", "readout", "unit", "time [h]", "5 %", "median", "95 %"]
    fig = band_figure(q, "5 %", "median", "95 %", "median, 5–95 %")
    counts = Table("trajectory status", ("status", "trajectories"), tuple(sorted(summary.status_counts.items())))
    opts = tuple((k, str(v)) for k, v in (options or {}).items())
    sections = [
        Section("Ensemble", paragraphs=(
            f"{summary.samples} parameter sets, written to {summary.path} in {summary.chunks} chunks. Quantiles are "
            "over the trajectories that finished (status ok or ok_recovered).",
            *summary.failures),
            tables=(counts, Table.from_frame(q, "5 %, median and 95 % of each readout"))),
        Section("Figure", figures=(figure_data(fig, "median and 5–95 % band of every arm"),)),
        *_scenario_sections(scenario, source),
    ]
    return Report(f"nephrosim ensemble: {scenario.name}", command_line(argv), tuple(sections),
                  _facts(scenario, source, str(seed)) + opts)


def markdown_section(heading: str, markdown_path: str | Path) -> Section:
    """A Markdown report written by nephrosim (check-model, validate), rendered, with its PNG/SVG
    plots embedded as ``data:`` URIs in place of the links to the files."""
    import re

    path = Path(markdown_path)
    text = path.read_text(encoding="utf-8")

    def embed(match):
        alt, name = match.group(1), match.group(2)
        file = path.parent / name
        if file.is_file() and file.suffix.lower() in (".png", ".svg"):
            return f"![{alt}]({image_file_data(file).data})"
        return f"*(figure {name} not found)*"

    text = re.sub(r"^(#{1,4}) ", r"##\1 ", text, flags=re.M)  # its headings sit under this section's
    return Section(heading, markdown=(re.sub(r"!\[([^\]]*)\]\(([^)\s]+)\)", embed, text),))


def check_model_report(results, report_dir: str | Path, designs=None, *,
                       argv: Sequence[str] | None = None) -> Report:
    """The report of ``nephrosim check-model``: every literature target met or missed, by kind,
    the Markdown report with its plots, and the provenance of the target scenarios' models
    (``designs``: the targets file's untreated scenarios, name → species, injury, parameter set)."""
    from nephrosim.run.simulation import as_scenario

    scenarios = [as_scenario({"name": name, "species": d.species, "injury": dict(d.injury),
                              "parameter_set": d.parameter_set, "readouts": ["serum_creatinine"], "times_h": [0.0]})
                 for name, d in (designs or {}).items()]
    met = sum(r.passed for r in results)
    kinds = []
    for kind in ("in_sample", "held_out", "by_construction"):
        group = [r for r in results if r.kind == kind]
        if group:
            kinds.append((kind, sum(r.passed for r in group), len(group)))
    rows = tuple((r.name, r.kind, "met" if r.passed else "MISSED", r.species, r.injury, r.target, r.source, r.reason)
                 for r in results)
    sections = [
        Section("Literature targets", paragraphs=(f"{met} of {len(results)} targets met.",),
                tables=(Table("by kind", ("kind", "met", "targets"), tuple(kinds)),
                        Table("every target", ("target", "kind", "result", "species", "injury", "literature",
                                               "source", "reason / notes"), rows))),
        markdown_section("Report and plots", Path(report_dir) / "report.md"),
        provenance_section(list(scenarios)) if scenarios else no_model_section("No target scenario was given."),
    ]
    return Report("nephrosim check-model", command_line(argv), tuple(sections), (("seed", NO_DRAWS),))


def validation_report(markdown_path: str | Path, scenarios=(), *, calibration_dir: str | Path,
                      argv: Sequence[str] | None = None) -> Report:
    """The report of ``nephrosim validate``: the leave-one-study-out report with its plots and
    the provenance of the study scenarios' models."""
    sections = [markdown_section("Validation report", markdown_path),
                provenance_section(list(scenarios)) if scenarios else
                no_model_section("The calibration has no study scenario.")]
    return Report("nephrosim validate", command_line(argv), tuple(sections),
                  (("calibration folder", str(calibration_dir)),
                   ("seed", "the calibration's own (see the config in the calibration folder)")))


def meta_report(result, *, argv: Sequence[str] | None = None) -> Report:
    """The report of ``nephrosim meta``: the pooled estimate as printed, the studies pooled,
    the exclusions with their reasons, and the forest and funnel plots."""
    from nephrosim.evidence.plots import forest_plot, funnel_plot

    d = result.to_dict()
    scalars = tuple((k, v) for k, v in d.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool))
    cols = [c for c in ("label", "study_id", "yi", "vi", "time_h", "species", "injury", "product", "route")
            if c in result.effects.columns]
    figures = [figure_data(forest_plot(result), "forest plot")] if result.result.p == 1 else []
    figures.append(figure_data(funnel_plot(result), "funnel plot"))
    excluded = tuple((e.study_id, e.arm, e.reason) for e in result.excluded)
    sections = [Section("Meta-analysis",
                        tables=(Table("summary", ("quantity", "value"), scalars),
                                Table.from_frame(result.effects[cols], "studies pooled"),
                                *((Table("excluded", ("study", "arm", "reason"), excluded),) if excluded else ())),
                        figures=tuple(figures),
                        preformatted=(("as printed", result.report()),)),
                no_model_section("A meta-analysis pools published studies; it runs no model and uses no row of "
                                 "the parameter table.")]
    return Report("nephrosim meta", command_line(argv), tuple(sections), (("seed", "none: pooling draws nothing"),))


def _trial_figures_section(result) -> Section:
    """Kaplan–Meier curves per arm, the replicate hazard ratios and the subgroup forest plot of every
    baseline covariate (:mod:`nephrosim.report.trial_figures`), with the subgroup table the forest
    plot draws and the cuts (:mod:`nephrosim.report.trial_subgroups`)."""
    from nephrosim.report import trial_figures as tf
    from nephrosim.report.trial_subgroups import MAX_SUBGROUP_ROWS, trial_subgroups

    arms = tuple(a.name for a in result.design.arms)
    figures, tables = [figure_data(*tf.recovery_figure(result))], []
    for k in range(1, len(arms)):
        subgroups, rows, draws = trial_subgroups(result, arm=k)
        figures += [figure_data(*tf.hazard_ratio_figure(result, k)),
                    figure_data(*tf.forest_figure(subgroups, (arms[0], arms[k])))]
        tables.append(Table.from_frame(subgroups.drop(columns=["cut"]), (
            f"{arms[k]} vs {arms[0]}: " if len(arms) > 2 else "") + "hazard ratio by pre-operative eGFR subgroup and "
            "by every other baseline covariate, with the treatment × subgroup interaction p-value"))
    which = (f"all {rows.size} pool patients" if rows.size == result.pool.size else
             f"a seeded random {rows.size} of the {result.pool.size} pool patients (at most {MAX_SUBGROUP_ROWS}, "
             "to bound the cost)") + ", each under every arm"
    held = result.arm_outcomes[arms[0]].recovery_days
    if held.ndim == 2:
        which += (f"; measured SCr: {draws} of the run's {held.shape[1]} noise draws pooled (one row per patient, "
                  f"arm and draw; at most {MAX_SUBGROUP_ROWS} patient-draws per arm)")
    cuts = subgroups[subgroups["covariate"] != "all"].drop_duplicates("covariate")[["covariate", "cut"]]
    return Section("Figures", paragraphs=(
        f"Subgroups: {which}. Hazard ratios and 95 % intervals from a Cox model with robust "
        "variance clustered by patient; interaction p: robust Wald test of treatment × subgroup, not adjusted for "
        "the number of covariates. Age and sex change no model parameter, so their interactions are null checks.",),
        tables=(*tables,
                Table.from_frame(cuts, "subgroup cuts: clinical where the evidence gives one, else the pool median")),
        figures=tuple(figures))


def trial_report(result, design_path=None, *, argv: Sequence[str] | None = None) -> Report:
    """The report of ``nephrosim trial``: power, hazard ratio, per-arm outcomes, population
    targets, Kaplan–Meier curves, replicate hazard ratios, subgroup forest plot, the trial
    YAML, and the provenance of the arms' models."""
    from nephrosim.trials.population import population_scenario

    out = result.to_dict()
    arms = tuple((arm, out["median_recovery_days"][arm], out["recovered_by_horizon"][arm],
                  out["death_by_horizon"][arm], out["scr_auc_mg_dl_day"][arm], out["death_by_stage_30d"][arm],
                  out["dialysis_30d"][arm], out["death_or_dialysis_30d"][arm], out["make30"][arm])
                 for arm in out["median_recovery_days"])
    pop = out["population"]
    targets = tuple((t["target"], t["simulated"], t["unit"], t["reported"], t["low"], t["high"],
                     "ok" if t["in_range"] else "MISS") for t in pop["targets"])
    scenarios = [population_scenario((a.treatment,) if getattr(a, "treatment", None) is not None else ())
                 for a in result.design.arms]
    import yaml

    text = (Path(design_path).read_text(encoding="utf-8") if design_path is not None and Path(design_path).is_file()
            else yaml.safe_dump(result.design.model_dump(mode="json"), sort_keys=False))
    comparisons = out["comparisons"]
    several = len(comparisons) > 1

    def interval(q):
        return f"{q['median']} ({q['lo']}–{q['hi']})"

    compared = tuple(
        (arm, c["power"], c["power_adjusted"], interval(c["hazard_ratio"]), interval(c["make30_risk_difference"]),
         c["make30_power"], *((interval(c["make90_risk_difference"]), c["make90_power"]) if "make90" in out else ()))
        for arm, c in comparisons.items())
    make90_columns = ("MAKE90 risk difference", "MAKE90 power (Fisher)") if "make90" in out else ()
    lead = (f"Power {out['power']:.3f}: the share of replicate trials in which at least one of the "
            f"{len(comparisons)} treated arms differs from the control on the primary endpoint after "
            f"{out['multiplicity']} adjustment; per arm in the table." if several else
            f"Power {out['power']:.3f}; hazard ratio median {out['hazard_ratio']['median']} (2.5–97.5 %: "
            f"{out['hazard_ratio']['lo']}–{out['hazard_ratio']['hi']}).")
    sections = [
        Section("Trial", paragraphs=(
            f"{out['replicates']} replicate trials; primary endpoint: {out['primary_endpoint']}.", lead,
            "Risk differences are treated − control, medians with 2.5–97.5 % over replicates; death by stage, "
            "dialysis and MAKE30 are stage-linked probabilities (docs/trials.md §2)."
            + ("" if "make90" not in out else
               " MAKE90 " + "; ".join(f"{arm} {v:.3f}" for arm, v in out["make90"].items()) + ".")
            + ("" if "lost_to_follow_up" not in out else
               " Lost to follow-up (time to recovery censored when lost; the other endpoints on the patients "
               "not lost): " + "; ".join(f"{arm} {v:.3f}" for arm, v in out["lost_to_follow_up"].items()) + ".")),
            tables=(Table("each treated arm vs the control", (
                        "arm", "power", f"power, {out['multiplicity']}-adjusted" if several else "power (one comparison)",
                        "hazard ratio of recovery", "MAKE30 risk difference", "MAKE30 power (Fisher)",
                        *make90_columns), compared),
                    Table("per arm", ("arm", "median recovery [d]", "recovered by horizon", "death by horizon",
                                      "SCr AUC [mg/dL·d]", "death by stage, 30 d", "dialysis, 30 d",
                                      "death or dialysis, 30 d", "MAKE30"), arms),
                    Table(f"population: {pop['accepted_patients']} accepted of {pop['plausible_patients']} "
                          f"plausible; eligible pool {pop['eligible_pool']}",
                          ("target", "simulated", "unit", "reported", "low", "high", "in range"), targets))),
        _trial_figures_section(result),
        Section("Trial design", preformatted=(("trial YAML", text),)),
        provenance_section(scenarios),
    ]
    return Report(f"nephrosim trial: {out['trial']}", command_line(argv), tuple(sections),
                  (("trial", out["trial"]), ("seed", str(out["seed"]))))
