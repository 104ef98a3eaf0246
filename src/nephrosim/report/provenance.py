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

    A row whose value the scenario sets — through its injury or treatment fields (clamp time,
    doses) or its ``parameters`` overrides — is given with provenance ``scenario``, the value
    the model used (first arm that has it) and the table's value in its reason: it is the
    user's input, not evidence.
    """
    import dataclasses
    import math

    from nephrosim.run.assemble import assemble, base_table, scenario_table

    if not isinstance(scenarios, (list, tuple)):
        scenarios = [scenarios]
    out = {}
    for scenario in scenarios:
        table, cited = scenario_table(scenario), base_table(scenario)
        names = table.names()
        used: dict[str, float | None] = {}
        for arm in scenario.arms:
            built = assemble(scenario, arm.name, table)
            for n, v in built.spec.parameter_values.items():
                if n in names:
                    used.setdefault(n, float(v))
            for n in built.rows_read:
                if n in names:
                    used.setdefault(n, None)
        for n, value in used.items():
            key = (n, scenario.species)
            if key in out:
                continue
            rec = cited.record(n, scenario.species)
            if value is None:
                value = table.record(n, scenario.species).value
            if not math.isclose(value, rec.value, rel_tol=1e-12, abs_tol=0.0):
                rec = dataclasses.replace(rec, value=value, provenance="scenario",
                                          reason=f"set by the scenario (table value {rec.value:g} {rec.unit}, "
                                                 f"{rec.provenance})")
            out[key] = rec
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
                    "'assumed' rows have no source yet and give their reason and range; 'scenario' rows were set "
                    "by the scenario itself (its injury, treatments or parameter overrides).",),
        tables=(Table("provenance kinds", ("provenance", "rows"), tuple(counts.items())),
                Table("parameters used", COLUMNS, tuple(rows))),
    )


def no_model_section(why: str) -> Section:
    """The provenance section of a job that runs no model (a meta-analysis)."""
    return Section("Parameter provenance", paragraphs=(why,))
