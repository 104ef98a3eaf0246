"""Insult: Streptozotocin diabetes.

One module per insult; the pieces every insult shares are in :mod:`nephrosim.biology.insults.core`.
"""

from __future__ import annotations

from nephrosim.biology.insults.base import InsultSpec, register_insult
from nephrosim.biology.insults.core import _both, _hill, core_insult
from nephrosim.modelspec import ParameterUse, Process, Quantity


@register_insult("stz_diabetes")
def stz_diabetes(injury, species: str) -> InsultSpec:
    """Streptozotocin diabetes: β-cell loss above a dose threshold gives
    hyperglycaemia within days; diabetes causes early hyperfiltration, oxidative
    stress, TGF-β and slow glomerular loss (diabetic nephropathy)."""
    process = Process(
        name="stz_diabetes",
        description="Streptozotocin-induced hyperglycaemia",
        parameters=(
            ParameterUse("stz_dose_mg_per_kg", "mg/kg", "STZ dose"),
            ParameterUse("stz_d50_mg_per_kg", "mg/kg", "Dose giving diabetes in half the animals"),
            ParameterUse("stz_hill", "dimensionless", "Steepness of the dose response"),
            ParameterUse("stz_onset_tau_h", "h", "Onset time of hyperglycaemia (mouse)"),
            ParameterUse("stz_hyperfiltration_max", "dimensionless", "Extra single-nephron GFR in diabetes"),
            ParameterUse("stz_fibrogenic_gain", "dimensionless", "TGF-β drive of hyperglycaemia"),
            ParameterUse("stz_ros_gain", "dimensionless", "Extra ROS of hyperglycaemia"),
            ParameterUse("stz_glomerular_gain", "dimensionless", "Glomerular injury input of hyperglycaemia"),
        ),
        quantities=(
            Quantity("stz_hyperglycaemia", _hill("stz_dose_mg_per_kg", "stz_d50_mg_per_kg", "stz_hill")
                     + " * (1 - exp(-time * rate_scale / stz_onset_tau_h))", "dimensionless",
                     "Diabetic state (0–1)"),
        ),
    )
    inputs = {
        "in_hyperfiltration": "stz_hyperfiltration_max * stz_hyperglycaemia",
        **_both("in_fibrogenic", "stz_fibrogenic_gain * stz_hyperglycaemia"),
        **_both("in_ros", "stz_ros_gain * stz_hyperglycaemia"),
        **_both("in_glomerular", "stz_glomerular_gain * stz_hyperglycaemia"),
    }
    return core_insult(process, inputs=inputs, values={"stz_dose_mg_per_kg": injury.dose_mg_per_kg})
