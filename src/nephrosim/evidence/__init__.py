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

from .effects import escalc, hedges_j, sem_to_sd
from .errors import EvidenceError, ImportRejected, InputError, NotEnoughStudies, RowIssue
from .meta import (MetaResult, RegtestResult, SubgroupResult, Tau2CI, TrimfillResult, confint_tau2, leave1out,
                   regtest, rma, subgroups, trimfill)
from .pooling import Assumption, Exclusion, MetaAnalysis, effect_table, meta_analyse
from .schema import Arm, Outcome, Provenance, Study
from .store import EvidenceStore, ImportReport, default_db_path
from .vocab import READOUTS, convert


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
    "meta_analyse", "regtest", "rma", "sem_to_sd", "subgroups", "trimfill",
]
