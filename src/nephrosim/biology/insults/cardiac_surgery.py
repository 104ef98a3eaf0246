"""Insult: Human cardiac surgery on bypass.

One module per insult; the pieces every insult shares are in :mod:`nephrosim.biology.insults.core`.
"""

from __future__ import annotations

from dataclasses import replace

from nephrosim.biology.insults.base import InsultSpec, register_insult
from nephrosim.biology.insults.core import _both, _hill, before_insult, core_insult
from nephrosim.modelspec import ParameterUse, Process, Quantity


@register_insult("cardiac_surgery")
def cardiac_surgery(injury, species: str) -> InsultSpec:
    """Cardiac surgery on bypass (human): renal hypoperfusion/ischaemia during
    bypass whose severity rises with bypass time, and a systemic inflammatory
    response; pre-operative eGFR sets the baseline kidney function
    (``baseline_egfr / 100``; normal mGFR ≈ 100 mL/min/1.73 m² to age 35).

    Haemodilution: the fluid given during bypass (prime, cardioplegia, infusions) expands the
    creatinine/urea distribution volume by ``cpb_fluid_excess`` × total body water at the end of
    bypass, and the excess leaves with time constant ``cpb_fluid_tau_h``. It mixes into the
    creatinine space within about ``cpb_fluid_mixing_h`` (1 h), so SCr at t = 0 is still the
    pre-operative value (the trial endpoints read their baseline there) and falls within hours;
    the mass balance carries on with the diluted concentration (Ho 2012, AJKD, PMID 21967775: "176
    patients (52%) experienced a decrease >10% in SCr level" within 6 h; "26 (7.4%) experienced an
    increase >10%"). Both constants are assumed and fitted by the population calibration.
    Fluid leaves by a fixed clock, not by the kidney's function (a simplification)."""
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
            ParameterUse("cpb_fluid_excess", "dimensionless",
                         "Fluid excess at the end of bypass, fraction of total body water"),
            ParameterUse("cpb_fluid_tau_h", "h", "Time constant of the fluid excess's removal"),
            ParameterUse("cpb_fluid_mixing_h", "h", "Time for the fluid load to mix into the creatinine space"),
        ),
        quantities=(
            Quantity("cpb_severity", _hill("cpb_bypass_min", "cpb_t50_min", "cpb_hill"), "dimensionless",
                     "Renal hit severity (0–1)"),
            Quantity("cpb_pulse", "cpb_severity * exp(-time * rate_scale / cpb_tau_h)", "dimensionless",
                     "Post-bypass hit over time"),
            Quantity("cpb_fluid_volume",
                     before_insult("cpb_fluid_excess * (1 - exp(-time / cpb_fluid_mixing_h)) * exp(-time / cpb_fluid_tau_h)"),
                     "dimensionless", "Fluid excess over time, fraction of pre-operative total body water"),
        ),
    )
    inputs = {
        **_both("in_tubular_stress", "cpb_stress_max * cpb_pulse"),
        **_both("in_ros", "cpb_ros_max * cpb_pulse"),
        **_both("in_endothelial", "cpb_endothelial_max * cpb_pulse"),
        "in_inflammation": "cpb_inflammation_max * cpb_pulse",
    }
    values = {"cpb_bypass_min": injury.bypass_min, "baseline_kidney_function": injury.baseline_egfr / 100.0}
    return replace(core_insult(process, inputs=inputs, values=values), volume_factor="1 + cpb_fluid_volume")
