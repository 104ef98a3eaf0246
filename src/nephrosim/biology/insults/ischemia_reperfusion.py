"""Insult: Warm renal ischaemia–reperfusion.

One module per insult; the pieces every insult shares are in :mod:`nephrosim.biology.insults.core`.
"""

from __future__ import annotations

from nephrosim.biology.insults.base import InsultSpec, register_insult
from nephrosim.biology.insults.core import _hill, core_insult
from nephrosim.modelspec import ParameterUse, Process, Quantity


@register_insult("ischemia_reperfusion")
def ischemia_reperfusion(injury, species: str) -> InsultSpec:
    """Warm ischaemia–reperfusion.

    The severity of the ischaemic hit rises steeply (Hill) with the temperature-
    corrected clamp time, ``t_eff = clamp_min · Q10^((T − 37)/10)``: hypothermia
    protects (rat, 40 min: 24-h SCr 2.2 at 37 °C vs 0.62 mg/dL at 32–33 °C, Zager).
    At reperfusion the clamped kidney(s) receive a decaying pulse of tubular stress,
    ROS and endothelial injury, ``severity · max · exp(−t/τ)`` (the burst is not
    scaled allometrically).
    """
    process = Process(
        name="ischemia_reperfusion",
        description="Ischaemic hit at reperfusion",
        parameters=(
            ParameterUse("iri_clamp_min", "min", "Clamp time"),
            ParameterUse("iri_temperature_c", "degC", "Body temperature during the clamp"),
            ParameterUse("iri_left", "dimensionless", "1 if the left kidney is clamped"),
            ParameterUse("iri_right", "dimensionless", "1 if the right kidney is clamped"),
            ParameterUse("iri_q10", "dimensionless", "Q10 of ischaemic injury with temperature"),
            ParameterUse("iri_t50_min", "min", "Effective clamp time giving half-maximal ischaemic severity"),
            ParameterUse("iri_hill", "dimensionless", "Steepness of severity vs clamp time"),
            ParameterUse("iri_reperfusion_tau_h", "h", "Decay time of the reperfusion hit (not scaled: a physical burst)"),
            ParameterUse("iri_stress_max", "dimensionless", "Tubular stress at full severity"),
            ParameterUse("iri_ros_max", "dimensionless", "Extra ROS production at full severity"),
            ParameterUse("iri_endothelial_max", "dimensionless", "Endothelial drive at full severity"),
        ),
        quantities=(
            Quantity("iri_effective_min", "iri_clamp_min * pow(iri_q10, (iri_temperature_c - 37) / 10)", "min",
                     "Clamp time corrected to 37 °C"),
            Quantity("iri_severity", _hill("iri_effective_min", "iri_t50_min", "iri_hill"), "dimensionless",
                     "Ischaemic severity (0–1)"),
            Quantity("iri_pulse", "iri_severity * exp(-time / iri_reperfusion_tau_h)", "dimensionless",
                     "Reperfusion hit over time"),
        ),
    )
    inputs = {}
    for s, flag in (("l", "iri_left"), ("r", "iri_right")):
        inputs[f"in_tubular_stress_{s}"] = f"{flag} * iri_stress_max * iri_pulse"
        inputs[f"in_ros_{s}"] = f"{flag} * iri_ros_max * iri_pulse"
        # the endothelial hit acts in physical time: undo the allometric scaling of its rate
        inputs[f"in_endothelial_{s}"] = f"{flag} * iri_endothelial_max * iri_pulse / rate_scale"
    values = {
        "iri_clamp_min": injury.clamp_min,
        "iri_temperature_c": injury.temperature_c,
        "iri_left": 1.0,
        "iri_right": 1.0 if injury.bilateral else 0.0,
    }
    if injury.contralateral_nephrectomy:
        values["nephron_mass_initial_r"] = 0.0
    return core_insult(process, inputs=inputs, values=values)
