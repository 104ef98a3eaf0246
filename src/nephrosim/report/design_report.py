"""The report of ``nephrosim trial-design ... --report out.html`` (issue 16, items 4 and 6).

One self-contained HTML file (the style of :mod:`nephrosim.report.builders`) with what the command
computed and nothing recomputed: the ranked design table — power with its 95 % Monte-Carlo
interval, P(success) (significant *and* favouring treatment) with its interval, the share of
significant trials that favour treatment, P(correct decision), n per arm, entry rule, product and
dose, timing, endpoint, the pool-level true effect over the model draws and the Pareto flag — the
skipped designs with their reasons, the uncertain therapy parameters with their ranges and
provenance, a figure of P(success) and power against the total n with the Pareto front, the
search and base-trial YAML, and the parameter provenance of every treated arm's model.

Every number of the design table is the command's own (``SearchResult.table``, which
``--json`` prints and ``-o`` writes); the derived share is ``p_success / power``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from nephrosim.report.document import Report, Section, Table, command_line, figure_data
from nephrosim.report.provenance import provenance_section

#: Columns of the ranked design table: (column of ``SearchResult.table`` or a derived name, heading).
DESIGN_COLUMNS = (
    ("rank", "rank"),
    ("power", "power"), ("power_lo", "power 95 % lo"), ("power_hi", "power 95 % hi"),
    ("p_success", "P(success)"), ("p_success_lo", "P(success) 95 % lo"), ("p_success_hi", "P(success) 95 % hi"),
    ("favouring_share", "favouring treatment, share of significant"),
    ("p_correct", "P(correct decision)"),
    ("n_per_arm", "n per arm"), ("total_n", "total n"), ("treated_arms", "treated arms"),
    ("multiplicity", "multiplicity (multi-arm)"),
    ("treatment", "product, dose, route"), ("timing", "timing"), ("endpoint", "endpoint"),
    ("inclusion", "entry"),
    ("true_effect_median", "true effect (relative reduction), median over draws"), ("true_effect_min", "true effect, min"),
    ("true_effect_max", "true effect, max"),
    ("trials", "trials (draws × replicates)"), ("pareto", "Pareto"),
)


#: Columns a search adds only with multi-arm designs or a base accrual: shown when the table has them.
OPTIONAL_COLUMNS = (
    ("power_all", "P(every treated arm succeeds), multi-arm"),
    ("planned_duration_months", "planned duration, months"),
    ("expected_duration_months", "expected duration with the looks, months"),
)


def ranked_designs(table):
    """The ranked, runnable designs with :data:`DESIGN_COLUMNS` (the command's order and numbers) and those
    of :data:`OPTIONAL_COLUMNS` the table has."""
    ok = table[table["skipped"].fillna("") == ""].reset_index(drop=True).copy()
    ok.insert(0, "rank", np.arange(1, len(ok) + 1))
    power = ok["power"].to_numpy(float)
    ok["favouring_share"] = np.divide(ok["p_success"].to_numpy(float), power, out=np.full(power.shape, np.nan),
                                      where=power > 0)
    ok["multiplicity"] = ok["multiplicity"].fillna("")  # two-arm designs: none
    columns = DESIGN_COLUMNS + tuple((c, h) for c, h in OPTIONAL_COLUMNS if c in ok.columns)
    frame = ok[[c for c, _ in columns]].copy()
    frame["pareto"] = frame["pareto"].map(lambda x: "yes" if bool(x) else "")
    frame.columns = [h for _, h in columns]
    return frame


def pareto_figure(table):
    """``(figure, caption)``: P(success) and power of every runnable design against its total n,
    the Pareto front (P(success) higher, n lower) joined."""
    from nephrosim.figures import subplots

    ok = table[table["skipped"].fillna("") == ""]
    fig, ax = subplots(figsize=(6.5, 4.2))
    markers = {"recovery": "o", "scr_auc": "s"}
    for endpoint, part in ok.groupby("endpoint", sort=False):
        m = markers.get(endpoint, "^")
        ax.scatter(part["total_n"], part["power"], marker=m, facecolors="none", edgecolors="0.55",
                   label=f"power, {endpoint}")
        ax.scatter(part["total_n"], part["p_success"], marker=m, color="k", s=18, label=f"P(success), {endpoint}")
    front = ok[ok["pareto"].astype(bool)].sort_values("total_n")
    ax.step(front["total_n"], front["p_success"], where="post", color="tab:blue", lw=1.2, label="Pareto front")
    ax.axhline(0.8, color="tab:red", lw=0.8, ls="--", label="0.8")
    ax.set_xlabel("total n (both arms)")
    ax.set_ylabel("share of simulated trials")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7, frameon=False, loc="best")
    return fig, ("Every runnable design: power (hollow) and P(success) — significant and favouring treatment — "
                 "(filled) over the model draws × replicates, against the total n; the Pareto front joins the designs "
                 "no other design beats on both P(success) and n. The dashed line marks 80 %.")


def _yaml_text(obj) -> str:
    import yaml

    return yaml.safe_dump(obj.model_dump(mode="json", exclude_none=True), sort_keys=False)


def _treated_scenarios(spec, base):
    from nephrosim.trials.population import population_scenario

    treatments = spec.candidates.treatment or (base.arms[1].treatment,)
    return [population_scenario()] + [population_scenario((t,)) for t in treatments if t is not None]


def trial_design_report(result, spec, base, spec_path=None, *, argv: Sequence[str] | None = None) -> Report:
    """The report of ``nephrosim trial-design``: the ranked design table (the command's numbers), the
    skipped designs, the uncertain parameters, the Pareto figure, the YAML and the provenance.

    Arguments
    ---------
    result : the :class:`~nephrosim.trials.search.SearchResult` the command computed.
    spec, base : the search and its base trial (:func:`nephrosim.trials.search.load_search`).
    spec_path : the search YAML, shown as written when it is a file.
    argv : the command line (default ``sys.argv``).
    """
    s = result.summary
    table = result.table
    ranked = ranked_designs(table)
    skipped = table[table["skipped"].fillna("") != ""]
    pools = tuple((entry, int(n)) for entry, n in s["eligible_pool"].items())
    params = tuple((u["parameter"], u["nominal"], u["lower"], u["upper"], u["unit"], u["provenance"])
                   for u in s["uncertain_parameters"])
    minimal = ", ".join(f"{k} {100 * float(v):g} %" for k, v in s["minimal_effect"].items())
    best = ranked.iloc[0] if len(ranked) else None
    lead = (f"Best design: P(success) {best['P(success)']:.3g} (power {best['power']:.3g}, 95 % MC "
            f"{best['power 95 % lo']:.3g}–{best['power 95 % hi']:.3g}) with {best['n per arm']} per arm, "
            f"{best['product, dose, route']}, {best['timing']}, endpoint {best['endpoint']}, entry "
            f"{best['entry']}." if best is not None else "No design ran.")
    fig, caption = pareto_figure(table)
    spec_text = (Path(spec_path).read_text(encoding="utf-8") if spec_path is not None and Path(spec_path).is_file()
                 else _yaml_text(spec))
    sections = [
        Section("Design search", paragraphs=(
            f"{s['designs']} designs ran and {s['skipped']} were skipped; {s['draws']} model draw(s) × "
            f"{s['replicates_per_draw']} replicate trials per design; seed {s['seed']}; design table: {s['output']}.",
            f"Population: {s['population']['accepted_patients']} accepted of {s['population']['plausible_patients']} "
            f"plausible virtual patients; pool_limit {s['pool_limit']}. Smallest worthwhile effect (for P(correct "
            f"decision)): {minimal}.",
            "Ranked by P(success), then by fewer patients. P(success): significant at the design's alpha and "
            "favouring treatment; power counts any significant difference; the favouring share is P(success) ÷ "
            "power. The true effect is the pool-level relative reduction of the mean time to recovery (restricted "
            "at the horizon) or of the mean SCr AUC, each patient simulated under both arms; its spread is over "
            "the model draws.",
            lead, *s.get("notes", ())),
            tables=(Table("eligible pool per entry rule", ("entry", "pool patients"), pools),
                    *((Table("uncertain therapy parameters (drawn log-uniformly within the table's range)"
                             if s.get("uncertainty_prior") == "log_uniform" else
                             "uncertain therapy parameters (drawn within the table's range, around the nominal: "
                             "median at the nominal, each bound 1.96 log-SDs away)",
                             ("parameter", "nominal", "lower", "upper", "unit", "provenance"), params),)
                      if params else ()))),
        Section("Ranked designs", tables=(Table.from_frame(ranked, "designs ranked by P(success)"),),
                figures=(figure_data(fig, caption),)),
        *((Section("Skipped designs", tables=(Table.from_frame(
            skipped[["inclusion", "timing", "treatment", "n_per_arm", "endpoint", "skipped"]].rename(
                columns={"inclusion": "entry", "n_per_arm": "n per arm", "skipped": "why"}),
            "candidate designs the trial schema or the pool refused"),)),) if len(skipped) else ()),
        Section("Search and base trial", preformatted=(
            ("design-search YAML" + (f" ({spec_path})" if spec_path is not None else ""), spec_text),
            ("base trial (as validated)", _yaml_text(base)))),
        provenance_section(_treated_scenarios(spec, base)),
    ]
    return Report(f"nephrosim trial-design: {s['search']}", command_line(argv), tuple(sections),
                  (("search", s["search"]), ("seed", str(s["seed"]))))
