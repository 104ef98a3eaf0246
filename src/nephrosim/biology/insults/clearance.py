"""Prescribed clearance change: an insult that needs no tissue biology.

(``sham`` lives in :mod:`nephrosim.biology.insults.sham`: the full injury core
with zero insult.)

``clearance_change`` scales renal clearance (GFR and creatinine secretion) by a
prescribed time course — the input of Waikar & Bonventre's creatinine-kinetics
simulations (J Am Soc Nephrol 2009; 20:672) — so the observation layer can be
studied on its own.
"""

from __future__ import annotations

from nephrosim.modelspec import ParameterUse, Process, Quantity
from nephrosim.biology.insults.base import InsultSpec, register_insult


@register_insult("clearance_change")
def clearance_change(injury, species: str) -> InsultSpec:
    """Piecewise-linear clearance multiplier: 1 → 1 − fraction → (linear) → 1."""
    params = [
        ParameterUse("cc_fraction", "dimensionless", "Fractional fall in renal clearance"),
        ParameterUse("cc_onset_h", "h", "Time the clearance falls"),
    ]
    values = {"cc_fraction": injury.fraction, "cc_onset_h": injury.onset_h}
    if injury.duration_h is None:
        expr = "piecewise(1, time < cc_onset_h, 1 - cc_fraction)"
    else:
        params.append(ParameterUse("cc_duration_h", "h", "Hours at the reduced clearance"))
        values["cc_duration_h"] = injury.duration_h
        if injury.recovery_h > 0:
            params.append(ParameterUse("cc_recovery_h", "h", "Hours of linear return to baseline"))
            values["cc_recovery_h"] = injury.recovery_h
            expr = (
                "piecewise(1, time < cc_onset_h, 1 - cc_fraction, time < cc_onset_h + cc_duration_h,"
                " 1 - cc_fraction * (1 - (time - cc_onset_h - cc_duration_h) / cc_recovery_h),"
                " time < cc_onset_h + cc_duration_h + cc_recovery_h, 1)"
            )
        else:
            expr = "piecewise(1 - cc_fraction, (time >= cc_onset_h) && (time < cc_onset_h + cc_duration_h), 1)"
    process = Process(
        name="clearance_change",
        description="Prescribed change in renal clearance",
        parameters=tuple(params),
        quantities=(
            Quantity("clearance_change_factor", expr, "dimensionless",
                     "Renal clearance relative to baseline, as prescribed by the scenario"),
        ),
    )
    # The injury core is deliberately not carried: this insult studies the observation layer
    # alone, and ensembles of it should not sample the ~170 injury parameters. Ask
    # tissue readouts (tubular_injury_score, ...) of the other injury models.
    return InsultSpec(processes=(process,), values=values, function_factor="clearance_change_factor")
