"""The paracrine interface between therapy and injury biology.

Injury processes read these dimensionless quantities (0 = no therapy effect) in
their rate laws; therapy processes define them from secreted-factor exposure.
When an arm has no treatment, :func:`no_therapy` defines them all as 0, so every
arm carries the same equations.

Mechanisms (BIOLOGY.md §2): HGF (tubular survival/proliferation, anti-TGF-β),
VEGF (capillary protection), IL-10/TSG-6/PGE2 (fewer neutrophils, M1 → M2), IGF-1
(tubular survival), antioxidant action (ROS), EV RNA cargo (tubular
proliferation, anti-apoptosis).
"""

from __future__ import annotations

from nephrosim.model.core import Process, Quantity

MECHANISMS = {
    "paracrine_hgf": "HGF class: tubular survival and proliferation; antagonises TGF-β",
    "paracrine_vegf": "VEGF class: peritubular-capillary protection",
    "paracrine_antiinflammatory": "IL-10/TSG-6/PGE2 class: fewer neutrophils, M1 → M2",
    "paracrine_igf1": "IGF-1 class: tubular survival",
    "paracrine_antioxidant": "antioxidant action: ROS scavenging",
    "paracrine_ev_rna": "EV RNA cargo: tubular proliferation, anti-apoptosis",
}


def no_therapy() -> Process:
    """Every paracrine effect at 0 (vehicle arms)."""
    return Process(
        name="paracrine_effects",
        description="Paracrine effects of therapy on the injury model (none given)",
        quantities=tuple(Quantity(n, "0", "dimensionless", d) for n, d in MECHANISMS.items()),
    )
