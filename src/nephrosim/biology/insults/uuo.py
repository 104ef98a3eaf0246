"""Insult: Unilateral ureteral obstruction.

One module per insult; the pieces every insult shares are in :mod:`nephrosim.biology.insults.core`.
"""

from __future__ import annotations

from nephrosim.biology.insults.base import InsultSpec, register_insult
from nephrosim.biology.insults.core import core_insult
from nephrosim.modelspec import ParameterUse, Process


@register_insult("uuo")
def uuo(injury, species: str) -> InsultSpec:
    """Unilateral (left) ureteral obstruction: filtration of the obstructed kidney
    falls (rat single-nephron GFR 112 → 34 nL/min at 24 h), tubular stretch stresses
    the epithelium and drives TGF-β directly, renal blood flow falls; the right
    kidney compensates, so serum creatinine stays near normal."""
    process = Process(
        name="uuo",
        description="Left ureteral obstruction",
        parameters=(
            ParameterUse("uuo_gfr_fall", "dimensionless", "Fractional fall in filtration of the obstructed kidney"),
            ParameterUse("uuo_stress", "dimensionless", "Tubular stress in the obstructed kidney"),
            ParameterUse("uuo_fibrogenic", "dimensionless", "Direct TGF-β drive of obstruction"),
            ParameterUse("uuo_perfusion_drop", "dimensionless", "Fall in perfusion of the obstructed kidney"),
        ),
    )
    inputs = {
        "in_obstruction_l": "uuo_gfr_fall",
        "in_tubular_stress_l": "uuo_stress",
        "in_fibrogenic_l": "uuo_fibrogenic",
        "in_perfusion_l": "1 - uuo_perfusion_drop",
    }
    return core_insult(process, inputs=inputs)
