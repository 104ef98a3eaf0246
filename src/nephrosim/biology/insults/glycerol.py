"""Insult: Glycerol rhabdomyolysis (haem load).

One module per insult; the pieces every insult shares are in :mod:`nephrosim.biology.insults.core`.
"""

from __future__ import annotations

from nephrosim.biology.insults.base import InsultSpec, register_insult
from nephrosim.biology.insults.core import _both, _hill, core_insult
from nephrosim.modelspec import Flux, ParameterUse, Process, Quantity, State


@register_insult("glycerol")
def glycerol(injury, species: str) -> InsultSpec:
    """Glycerol rhabdomyolysis: myoglobin/haem released from the injected muscle
    causes tubular toxicity, haem casts, ROS and renal vasoconstriction, with a
    steep dose threshold (rat: 3.75 mL/kg alone no ARF; mortality rises above
    7.5 mL/kg) and casts at 6 h → necrosis at 24 h → regeneration from 48 h."""
    rs = "rate_scale"
    process = Process(
        name="glycerol",
        description="Myoglobin release after glycerol injection",
        states=(
            State("gly_depot", "mL/kg", "gly_dose_ml_per_kg", "Injured muscle still releasing myoglobin (dose units)"),
            State("gly_heme", "mL/kg", 0.0, "Circulating/filtered myoglobin haem (dose-equivalent units)"),
        ),
        parameters=(
            ParameterUse("gly_dose_ml_per_kg", "mL/kg", "50 % glycerol dose"),
            ParameterUse("gly_k_release", "1/h", "Myoglobin release from injured muscle (mouse)"),
            ParameterUse("gly_k_heme_clear", "1/h", "Haem clearance (mouse)"),
            ParameterUse("gly_heme_half", "mL/kg", "Haem level (dose-equivalent) for half-maximal toxicity"),
            ParameterUse("gly_hill", "dimensionless", "Steepness of haem toxicity"),
            ParameterUse("gly_stress_max", "dimensionless", "Tubular stress at full toxicity"),
            ParameterUse("gly_cast_max", "dimensionless", "Haem cast formation at full toxicity"),
            ParameterUse("gly_ros_max", "dimensionless", "Extra ROS at full toxicity"),
            ParameterUse("gly_perfusion_drop", "dimensionless", "Fall in renal perfusion at full toxicity"),
        ),
        quantities=(
            Quantity("gly_toxicity", _hill("gly_heme", "gly_heme_half", "gly_hill"), "dimensionless",
                     "Haem toxicity (0–1)"),
        ),
        fluxes=(
            Flux("gly_release", f"gly_k_release * {rs} * gly_depot", "mL/kg/h", "Myoglobin release",
                 consumes={"gly_depot": 1}, produces={"gly_heme": 1}),
            Flux("gly_heme_clearance", f"gly_k_heme_clear * {rs} * gly_heme", "mL/kg/h", "Haem clearance",
                 consumes={"gly_heme": 1}),
        ),
    )
    inputs = {
        **_both("in_tubular_stress", "gly_stress_max * gly_toxicity"),
        **_both("in_casts", "gly_cast_max * gly_toxicity"),
        **_both("in_ros", "gly_ros_max * gly_toxicity"),
        **_both("in_perfusion", "1 - gly_perfusion_drop * gly_toxicity"),
    }
    return core_insult(process, inputs=inputs, values={"gly_dose_ml_per_kg": injury.dose_ml_per_kg})
