"""Insult: sepsis — caecal ligation and puncture, and LPS endotoxaemia.

One module per insult; the pieces every insult shares are in :mod:`nephrosim.biology.insults.core`.
"""

from __future__ import annotations

from nephrosim.biology.insults.base import InsultSpec, register_insult
from nephrosim.biology.insults.core import _both, core_insult
from nephrosim.modelspec import ParameterUse, Process, Quantity


def _septic_process(name: str, drive: str, params: tuple[ParameterUse, ...]) -> Process:
    return Process(
        name=name,
        description="Systemic inflammatory drive of sepsis/endotoxaemia",
        parameters=params + (
            ParameterUse("sepsis_perfusion_drop", "dimensionless", "Fall in effective renal microvascular perfusion per unit drive"),
            ParameterUse("sepsis_endothelial_gain", "dimensionless", "Endothelial drive per unit systemic drive"),
            ParameterUse("sepsis_hazard_gain", "1/h", "Death hazard per unit squared systemic drive (mouse)"),
        ),
        quantities=(Quantity("septic_drive", drive, "dimensionless", "Systemic inflammatory drive"),),
    )


def _septic_inputs() -> dict:
    return {
        "in_inflammation": "septic_drive",
        **_both("in_perfusion", "1 / (1 + sepsis_perfusion_drop * septic_drive)"),
        **_both("in_endothelial", "sepsis_endothelial_gain * septic_drive"),
        "in_hazard": "sepsis_hazard_gain * rate_scale * pow(septic_drive, 2)",
    }


@register_insult("sepsis_clp")
def sepsis_clp(injury, species: str) -> InsultSpec:
    """Caecal ligation and puncture: a polymicrobial focus whose systemic drive
    rises over hours and resolves over days (``severity`` scales it), acting on the
    kidney through TNF, microvascular dysfunction and endothelial injury; sepsis
    adds its own death hazard (mouse CLP 7-day survival 48 %)."""
    drive = ("clp_severity * clp_drive_max * (exp(-time * rate_scale / clp_tau_off_h)"
             " - exp(-time * rate_scale / clp_tau_on_h))")
    process = _septic_process("sepsis_clp", drive, (
        ParameterUse("clp_severity", "dimensionless", "CLP severity (1 = standard)"),
        ParameterUse("clp_drive_max", "dimensionless", "Scale of the septic drive"),
        ParameterUse("clp_tau_on_h", "h", "Rise time of the septic drive (mouse)"),
        ParameterUse("clp_tau_off_h", "h", "Resolution time of the septic drive (mouse)"),
    ))
    return core_insult(process, inputs=_septic_inputs(), values={"clp_severity": injury.severity})


@register_insult("lps")
def lps(injury, species: str) -> InsultSpec:
    """Endotoxin: a short systemic cytokine storm (peak within hours) whose size
    saturates with dose; 2 mg/kg gives no AKI in normal mice."""
    drive = ("lps_drive_max * lps_dose_mg_per_kg / (lps_dose_mg_per_kg + lps_d50_mg_per_kg)"
             " * (exp(-time * rate_scale / lps_tau_off_h) - exp(-time * rate_scale / lps_tau_on_h))")
    process = _septic_process("lps", drive, (
        ParameterUse("lps_dose_mg_per_kg", "mg/kg", "LPS dose"),
        ParameterUse("lps_drive_max", "dimensionless", "Scale of the endotoxin drive"),
        ParameterUse("lps_d50_mg_per_kg", "mg/kg", "Dose for half-maximal drive"),
        ParameterUse("lps_tau_on_h", "h", "Rise time (mouse)"),
        ParameterUse("lps_tau_off_h", "h", "Decay time (mouse)"),
    ))
    return core_insult(process, inputs=_septic_inputs(), values={"lps_dose_mg_per_kg": injury.dose_mg_per_kg})
