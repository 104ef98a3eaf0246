"""Evidence: the curated published record, an embedded store, and meta-analysis.

One entry point per job:

* :func:`meta_analyse` – pool a table or the store (fixed / random effects, subgroups,
  meta-regression, Egger, trim-and-fill, leave-one-out);
* :func:`escalc` – effect sizes (SMD, MD, ROM, OR, RR) as metafor;
* :class:`EvidenceStore` – the DuckDB store (query, show, import, export);
* :func:`forest_plot`, :func:`funnel_plot` – figures.

Lower-level pieces (:func:`rma`, :func:`regtest`, :func:`trimfill`, ...) are re-exported
for direct use.
"""

from importlib import import_module

from .errors import EvidenceError, ImportRejected, InputError, NotEnoughStudies, RowIssue

# Heavy modules (scipy.stats, statsmodels, duckdb) load on first use, so that
# `nephrosim simulate` does not pay for the evidence package at start-up.
_LAZY = {
    **dict.fromkeys(("escalc", "hedges_j", "sem_to_sd"), "effects"),
    **dict.fromkeys(("MetaResult", "RegtestResult", "SubgroupResult", "Tau2CI", "TrimfillResult",
                     "confint_tau2", "leave1out", "regtest", "rma", "subgroups", "trimfill"), "meta"),
    **dict.fromkeys(("Assumption", "Exclusion", "MetaAnalysis", "effect_table", "meta_analyse"), "pooling"),
    **dict.fromkeys(("Arm", "Outcome", "Provenance", "Study"), "schema"),
    **dict.fromkeys(("EvidenceStore", "ImportReport", "default_db_path", "shipped_records"), "store"),
    **dict.fromkeys(("READOUTS", "convert"), "vocab"),
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def forest_plot(*args, **kwargs):
    """Forest plot; see :func:`nephrosim.evidence.plots.forest_plot`."""
    from .plots import forest_plot as _f

    return _f(*args, **kwargs)


def funnel_plot(*args, **kwargs):
    """Funnel plot; see :func:`nephrosim.evidence.plots.funnel_plot`."""
    from .plots import funnel_plot as _f

    return _f(*args, **kwargs)


__all__ = [
    "Arm", "Assumption", "EvidenceError", "EvidenceStore", "Exclusion", "ImportRejected", "ImportReport",
    "InputError", "MetaAnalysis", "MetaResult", "NotEnoughStudies", "Outcome", "Provenance", "READOUTS",
    "RegtestResult", "RowIssue", "Study", "SubgroupResult", "Tau2CI", "TrimfillResult", "confint_tau2", "convert",
    "default_db_path", "effect_table", "escalc", "forest_plot", "funnel_plot", "hedges_j", "leave1out",
    "meta_analyse", "regtest", "rma", "sem_to_sd", "shipped_records", "subgroups", "trimfill",
]
