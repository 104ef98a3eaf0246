"""The paracrine interface between therapy and injury biology.

Injury processes read six dimensionless quantities (0 = no therapy effect, → 1 at
saturation) in their rate laws; the therapy defines them from factor exposure:

    dA_m/dt = Σ_lots secretion_m − ln2 / t½_m · A_m          (+ CM boluses)
    x_m     = A_m / (body_weight_kg · paracrine_ec50_cell_h_per_kg)  (+ EV cargo in kidney / EC50)
    paracrine_m = x_m / (1 + x_m)

``A_m`` (``paracrine_pool_m``) is the kidney-exposure-weighted amount of mechanism
m in cell-hour equivalents of secretion by a reference (2D, low-passage, median
donor, bone-marrow) MSC. Factors decay with their own half-lives, so the benefit
outlasts the cells by about t½_m — and, through the injury dynamics, for longer.
When an arm has no treatment, :func:`no_therapy` defines every effect as 0, so every
arm carries the same equations.

Mechanisms (BIOLOGY.md §2): HGF (tubular survival/proliferation, anti-TGF-β),
VEGF (capillary protection; VEGF-knockdown MSC lose protection, Tögel 2009),
IL-10/TSG-6/PGE2 (fewer neutrophils, M1 → M2), IGF-1 (tubular survival),
antioxidant action (ROS), EV RNA cargo (tubular proliferation, anti-apoptosis;
RNase-treated EVs lose protection, Bruno 2009). EVs also add a trace of VEGF
(Zou 2016). How the injury model combines the effects — the tubular ones cooperatively
with VEGF — is in :mod:`nephrosim.biology.injury.tubules`.
"""

from __future__ import annotations

from typing import Sequence

from nephrosim.modelspec import Flux, ParameterUse, Process, Quantity, State
from nephrosim.biology.therapy.base import therapy_scale

MECHANISMS = {
    "paracrine_hgf": "HGF class: tubular survival and proliferation; antagonises TGF-β",
    "paracrine_vegf": "VEGF class: peritubular-capillary protection",
    "paracrine_antiinflammatory": "IL-10/TSG-6/PGE2 class: fewer neutrophils, M1 → M2",
    "paracrine_igf1": "IGF-1 class: tubular survival",
    "paracrine_antioxidant": "antioxidant action: ROS scavenging",
    "paracrine_ev_rna": "EV RNA cargo: tubular proliferation, anti-apoptosis",
}


def pool(mechanism: str) -> str:
    """State name of the factor pool of ``mechanism``."""
    return f"paracrine_pool_{mechanism.removeprefix('paracrine_')}"


def no_therapy() -> Process:
    """Every paracrine effect at 0 (vehicle arms)."""
    return Process(
        name="paracrine_effects",
        description="Paracrine effects of therapy on the injury model (none given)",
        quantities=tuple(Quantity(n, "0", "dimensionless", d) for n, d in MECHANISMS.items()),
    )


def paracrine_effects(lots: Sequence) -> Process:
    """Factor pools fed by every lot of an arm, and the six effect quantities."""
    states, fluxes, quantities, params = [], [], [], [
        ParameterUse("paracrine_ec50_cell_h_per_kg", "cell*h/kg",
                     "Factor exposure (cell-hours of reference secretion per kg) giving half-maximal effect"),
        ParameterUse("body_weight_kg", "kg", "Body weight"),
    ]
    for m, desc in MECHANISMS.items():
        key = m.removeprefix("paracrine_")
        a = pool(m)
        hl = f"paracrine_{key}_half_life_h"
        params.append(ParameterUse(hl, "h", f"Half-life of the {key} exposure"))
        states.append(State(a, "cell*h", 0.0, f"Kidney-weighted {key} exposure (cell-hour equivalents)",
                            scale=therapy_scale(lots)))
        terms = [t for lot in lots for t in lot.secretion.get(m, [])]
        if terms:
            fluxes.append(Flux(f"{a}_secretion", " + ".join(terms), "cell*h/h",
                               f"Secretion of the {key} class by living MSC", produces={a: 1}))
        fluxes.append(Flux(f"{a}_decay", f"ln(2) / {hl} * {a}", "cell*h/h",
                           f"Decay of the {key} exposure", consumes={a: 1}))
        x = " + ".join([f"{a} / (body_weight_kg * paracrine_ec50_cell_h_per_kg)",
                        *(e for lot in lots for e in lot.exposure.get(m, []))])
        quantities.append(Quantity(f"{m}_exposure", x, "dimensionless", f"Normalized exposure of {m} (1 = EC50)"))
        quantities.append(Quantity(m, f"{m}_exposure / (1 + {m}_exposure)", "dimensionless", desc))
    return Process(
        name="paracrine_effects",
        description="Paracrine factor exposure and effects of the products given",
        states=tuple(states),
        parameters=tuple(params),
        quantities=tuple(quantities),
        fluxes=tuple(fluxes),
    )
