"""Insult: Adriamycin (doxorubicin) nephropathy.

One module per insult; the pieces every insult shares are in :mod:`nephrosim.biology.insults.core`.
"""

from __future__ import annotations

from nephrosim.biology.insults.base import InsultSpec, register_insult
from nephrosim.biology.insults.core import _both, _hill, core_insult
from nephrosim.modelspec import Flux, ParameterUse, Process, Quantity, State


@register_insult("adriamycin")
def adriamycin(injury, species: str) -> InsultSpec:
    """Adriamycin nephropathy: a dose-dependent podocyte injury that develops over
    days and repairs slowly. Injured podocytes leak protein at once (``in_podocyte_leak``:
    nephrotic proteinuria within weeks, :mod:`nephrosim.biology.injury.glomeruli`), and
    podocyte loss drives glomerulosclerosis (nephron loss), proteinuric tubular stress and
    TGF-β. The glomerular protection that therapy induces (same module) lessens the podocyte
    injury as it lessens the lesions: "BMSC transplantation reduced the 24-h urinary protein
    excretion" in rat adriamycin FSGS (BMC Nephrol 2018, evidence/preclinical_secretome.csv);
    without it MSC raised adriamycin proteinuria (×1.03 at 8 weeks), since the nephrons they
    saved from obsolescence kept leaking through injured podocytes."""
    rs = "rate_scale"
    process = Process(
        name="adriamycin",
        description="Adriamycin podocyte injury",
        states=(State("adr_podocyte_injury", "fraction", 0.0, "Podocyte injury/loss (0–1)"),),
        parameters=(
            ParameterUse("adr_dose_mg_per_kg", "mg/kg", "Adriamycin dose"),
            ParameterUse("adr_d50_mg_per_kg", "mg/kg", "Dose for half-maximal podocyte toxicity"),
            ParameterUse("adr_hill", "dimensionless", "Steepness of dose response"),
            ParameterUse("adr_k_injury", "1/h", "Podocyte injury rate at full toxicity (mouse)"),
            ParameterUse("adr_tau_h", "h", "Decay time of tissue adriamycin toxicity (mouse)"),
            ParameterUse("adr_k_repair", "1/h", "Podocyte recovery (mouse)"),
            ParameterUse("adr_fibrogenic_gain", "dimensionless", "TGF-β drive per unit podocyte injury"),
            ParameterUse("adr_tubular_gain", "dimensionless", "Proteinuric tubular stress per unit podocyte injury"),
        ),
        quantities=(
            Quantity("adr_toxicity", _hill("adr_dose_mg_per_kg", "adr_d50_mg_per_kg", "adr_hill")
                     + " * exp(-time * rate_scale / adr_tau_h)", "dimensionless", "Podocyte toxicity over time"),
        ),
        fluxes=(
            Flux("adr_injury", f"adr_k_injury * {rs} * adr_toxicity * (1 - adr_podocyte_injury)"
                 " * (1 - glom_msc_max_protection * glomerular_protection)", "1/h",
                 "Podocyte injury (lessened by the glomerular protection therapy induces)",
                 produces={"adr_podocyte_injury": 1}),
            Flux("adr_repair", f"adr_k_repair * {rs} * adr_podocyte_injury", "1/h", "Podocyte recovery",
                 consumes={"adr_podocyte_injury": 1}),
        ),
    )
    inputs = {
        **_both("in_glomerular", "adr_podocyte_injury"),
        **_both("in_podocyte_leak", "adr_podocyte_injury"),
        **_both("in_fibrogenic", "adr_fibrogenic_gain * adr_podocyte_injury"),
        **_both("in_tubular_stress", "adr_tubular_gain * adr_podocyte_injury"),
    }
    return core_insult(process, inputs=inputs, values={"adr_dose_mg_per_kg": injury.dose_mg_per_kg})
