"""Conditioned medium (CM): a bolus of secreted factors with short half-lives.

A CM dose of N cell-equivalents conditioned for h hours carries the secretion of
N·h cell-hours (scaled by the lot's potency, as for cells, and by EV yield for its
EV-RNA content). It enters the same paracrine pools as secretion of living cells,
so its factors decay with the same half-lives: a bolus is gone within hours while
cells keep secreting for days.

Contradiction carried (BIOLOGY.md §4.3): CM protected cisplatin rats (Milwid 2012)
but not mice after IRI (PMC4159523), although it contained HGF, VEGF-A and IGF-1.
``cm_kidney_delivery_fraction`` — the share of CM factor content that reaches the
kidney in active form — is nominal 0.1 (geometric middle) with a deliberately wide range 0.01–1, so
ensembles span "no effect" to "as good as cells"; see docs/therapy.md.
"""

from __future__ import annotations

from nephrosim.modelspec import ParameterUse
from nephrosim.biology.therapy.base import ArmContext, Contribution, register_product
from nephrosim.biology.therapy.potency import lot_attributes
from nephrosim.biology.therapy.paracrine import MECHANISMS, pool

ROUTE_FACTOR = {
    "iv": "1", "intra_arterial_aorta": "1",
    "renal_artery": "msc_kidney_local_enrichment", "intraparenchymal": "msc_kidney_local_enrichment",
    "subcapsular": "msc_kidney_local_enrichment", "intraperitoneal": "cm_peritoneal_bioavailability",
}


@register_product("conditioned_medium")
def build_cm(treatments, species: str, body_weight_kg: float, ctx: ArmContext) -> list[Contribution]:
    from nephrosim.biology.therapy.msc import _potencies

    table = ctx.table
    lots = []
    for t in treatments:
        n = ctx.next_index("cm")
        p = f"cm{n}"
        attrs = lot_attributes(t.effective_protocol(), table)
        pot = _potencies(t, attrs, table, species)
        pot["paracrine_ev_rna"] *= attrs["ev_yield_fold"]
        c = Contribution()
        donor = ctx.donor(t, c)
        c.parameters += [
            ParameterUse("cm_kidney_delivery_fraction", "dimensionless", "Share of CM factor content reaching the kidney active"),
            ParameterUse("cm_peritoneal_bioavailability", "dimensionless", "Bioavailability of intraperitoneal CM"),
            ParameterUse("msc_kidney_local_enrichment", "dimensionless", "Weight of kidney-local vs systemic delivery"),
            ParameterUse(f"{p}_conditioning_h", "h", f"Hours CM lot {n} was conditioned"),
        ]
        c.values[f"{p}_conditioning_h"] = attrs["conditioning_hours"]
        for m in MECHANISMS:
            key = m.removeprefix("paracrine_")
            c.values[f"{p}_potency_{key}"] = pot[m]
            c.parameters.append(ParameterUse(f"{p}_potency_{key}", "dimensionless", f"Potency of CM lot {n} for {m}"))
        c.scale = max(1.0, t.dose_cell_equivalents(body_weight_kg) * attrs["conditioning_hours"])
        for k, time_h in enumerate(t.dose_times_h(), start=1):
            dose = f"{p}_dose_{k}_cell_equivalents"
            c.values[dose] = t.dose_cell_equivalents(body_weight_kg)
            c.parameters.append(ParameterUse(dose, "cell_equivalents", f"CM dose {k} of lot {n}"))
            for m in MECHANISMS:
                key = m.removeprefix("paracrine_")
                c.increments.append((time_h, pool(m), f"{donor} * {p}_potency_{key} * {dose} * {p}_conditioning_h"
                                     f" * cm_kidney_delivery_fraction * {ROUTE_FACTOR[t.route]}"))
        lots.append(c)
    return lots
