"""Insult: Human cardiac surgery on bypass.

One module per insult; the pieces every insult shares are in :mod:`nephrosim.biology.insults.core`.
"""

from __future__ import annotations

from nephrosim.biology.insults.base import InsultSpec, register_insult
from nephrosim.biology.insults.core import _both, _hill, core_insult
from nephrosim.modelspec import ParameterUse, Process, Quantity


@register_insult("cardiac_surgery")
def cardiac_surgery(injury, species: str) -> InsultSpec:
    """Cardiac surgery on bypass (human): renal hypoperfusion/ischaemia during
    bypass whose severity rises with bypass time, and a systemic inflammatory
    response; pre-operative eGFR sets the baseline kidney function
    (``baseline_egfr / 100``; normal mGFR ≈ 100 mL/min/1.73 m² to age 35)."""
    process = Process(
        name="cardiac_surgery",
        description="Bypass-associated renal ischaemia and inflammation",
        parameters=(
            ParameterUse("cpb_bypass_min", "min", "Cardiopulmonary bypass time"),
            ParameterUse("cpb_t50_min", "min", "Bypass time for half-maximal renal hit"),
            ParameterUse("cpb_hill", "dimensionless", "Steepness of the renal hit vs bypass time"),
            ParameterUse("cpb_tau_h", "h", "Decay time of the post-bypass hit (mouse-referenced)"),
            ParameterUse("cpb_stress_max", "dimensionless", "Tubular stress at full severity"),
            ParameterUse("cpb_ros_max", "dimensionless", "Extra ROS at full severity"),
            ParameterUse("cpb_endothelial_max", "dimensionless", "Endothelial drive at full severity"),
            ParameterUse("cpb_inflammation_max", "dimensionless", "Systemic inflammatory drive at full severity"),
        ),
        quantities=(
            Quantity("cpb_severity", _hill("cpb_bypass_min", "cpb_t50_min", "cpb_hill"), "dimensionless",
                     "Renal hit severity (0–1)"),
            Quantity("cpb_pulse", "cpb_severity * exp(-time * rate_scale / cpb_tau_h)", "dimensionless",
                     "Post-bypass hit over time"),
        ),
    )
    inputs = {
        **_both("in_tubular_stress", "cpb_stress_max * cpb_pulse"),
        **_both("in_ros", "cpb_ros_max * cpb_pulse"),
        **_both("in_endothelial", "cpb_endothelial_max * cpb_pulse"),
        "in_inflammation": "cpb_inflammation_max * cpb_pulse",
    }
    values = {"cpb_bypass_min": injury.bypass_min, "baseline_kidney_function": injury.baseline_egfr / 100.0}
    return core_insult(process, inputs=inputs, values=values)
