"""The parameter provenance of a scenario: which table rows its model uses, and where each comes from.

A row is *used* when it becomes a parameter of some arm's SBML model or when a model builder
reads it at build time (a protocol fold change, a knockout share) — the same rule
:func:`nephrosim.run.assemble.check_overrides` applies to scenario overrides. Each row keeps
its provenance kind (``source``, ``derived``, ``fitted``/``calibrated``, ``assumed``), its
value, unit and range, and its citation and quoted sentence or its reason, exactly as in
``nephrosim params``.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from nephrosim.report.document import Section, Table

COLUMNS = ("name", "species", "value", "unit", "range", "provenance", "source / reason")


def used_records(scenarios) -> list[tuple[str, object]]:
    """``(species, record)`` of every parameter-table row the models of ``scenarios`` (one or
    several) use, for each scenario's species; sorted by name, each (name, species) once.
    """
    from nephrosim.run.assemble import assemble, scenario_table

    if not isinstance(scenarios, (list, tuple)):
        scenarios = [scenarios]
    out = {}
    for scenario in scenarios:
        table = scenario_table(scenario)
        names = table.names()
        used: set[str] = set()
        for arm in scenario.arms:
            built = assemble(scenario, arm.name, table)
            used |= {n for n in built.spec.parameter_values if n in names}
            used |= {n for n in built.rows_read if n in names}
        for n in used:
            rec = table.record(n, scenario.species)
            out.setdefault((rec.name, scenario.species), rec)
    return [(k[1], out[k]) for k in sorted(out)]


def kind_counts(records: Iterable) -> dict[str, int]:
    """How many rows of each provenance kind, most frequent first."""
    return dict(Counter(r.provenance for r in records).most_common())


def _row(species: str, r) -> tuple:
    rng = "" if r.lower is None else f"{r.lower:g}–{r.upper:g}"
    why = f"{r.citation} {r.pmid_or_doi}: “{r.quote}”" if r.provenance == "source" else r.reason
    return (r.name, species, float(r.value), r.unit, rng, r.provenance, why)


def provenance_section(scenarios) -> Section:
    """A report section: the kind counts, then every used row with its source or reason."""
    if not isinstance(scenarios, (list, tuple)):
        scenarios = [scenarios]
    used = used_records(scenarios)
    records = [rec for _, rec in used]
    rows = [_row(species, rec) for species, rec in used]
    counts = kind_counts(records)
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    species = ", ".join(dict.fromkeys(s.species for s in scenarios))
    return Section(
        "Parameter provenance",
        paragraphs=(f"The model behind this report uses {len(records)} rows of the parameter table ({species}): "
                    f"{summary}. 'source' rows quote a publication; 'derived' rows are computed from sourced "
                    "numbers; 'fitted' and 'calibrated' rows were estimated by a shipped calibration run; "
                    "'assumed' rows have no source yet and give their reason and range.",),
        tables=(Table("provenance kinds", ("provenance", "rows"), tuple(counts.items())),
                Table("parameters used", COLUMNS, tuple(rows))),
    )


def no_model_section(why: str) -> Section:
    """The provenance section of a job that runs no model (a meta-analysis)."""
    return Section("Parameter provenance", paragraphs=(why,))
