"""Injury biomarkers (KIM-1, NGAL) and survival.

Biology encoded
---------------
* KIM-1 is shed by injured and dedifferentiated proximal-tubular cells; NGAL rises
  with injury and inflammation and "keeps rising through the transition from AKI
  to CKD" while KIM-1 falls after the acute phase (untreated_timecourses, IRI
  biomarkers). Both are relative to a healthy animal (1 = normal), averaged over
  the nephron mass present.
* Survival falls with a hazard from uraemia (BUN above a multiple of normal —
  complete bilateral ischaemia kills rats on days 2–6, 1947 J Clin Invest 26:1072)
  plus any hazard the insult carries itself (sepsis: ``in_hazard``)::

      d survival/dt = −(k_uremic·s·max(0, BUN/BUN_normal − u0)² + in_hazard) · survival
"""

from __future__ import annotations

from nephrosim.biology.injury.common import positive
from nephrosim.modelspec import Flux, ParameterUse, Process, Quantity, State

PARAMETERS = (
    ParameterUse("k_kim1", "1/h", "KIM-1 turnover"),
    ParameterUse("kim1_gain", "dimensionless", "KIM-1 rise per unit injured/dedifferentiated epithelium"),
    ParameterUse("k_ngal", "1/h", "NGAL turnover"),
    ParameterUse("ngal_gain_injury", "dimensionless", "NGAL rise per unit injured/dead epithelium"),
    ParameterUse("ngal_gain_inflammation", "dimensionless", "NGAL rise per unit TNF"),
    ParameterUse("ngal_gain_chronic", "dimensionless", "NGAL rise per unit arrested epithelium + collagen"),
    ParameterUse("k_uremic_hazard", "1/h", "Death hazard per squared BUN excess over the threshold"),
    ParameterUse("uremic_threshold", "dimensionless", "BUN / normal BUN above which uraemia kills"),
)


def _mean(expr: str) -> str:
    """Nephron-mass weighted mean over both kidneys of ``expr`` (with {s} for the side)."""
    l, r = expr.format(s="l"), expr.format(s="r")
    return f"(nephron_mass_l * ({l}) + nephron_mass_r * ({r})) / max(1e-6, nephron_mass_l + nephron_mass_r)"


def outcomes() -> Process:
    rs = "rate_scale"
    return Process(
        name="injury_outcomes",
        description="Injury biomarkers and survival",
        states=(
            State("kim1", "relative", 1.0, "Kidney injury molecule-1 (urine/tissue), relative to normal"),
            State("ngal", "relative", 1.0, "Neutrophil gelatinase-associated lipocalin, relative to normal"),
            State("survival", "fraction", 1.0, "Probability of being alive"),
        ),
        parameters=PARAMETERS,
        quantities=(
            Quantity("uremic_hazard",
                     f"k_uremic_hazard * {rs} * pow({positive('bun_mg_dl / bun_normal_mg_dl - uremic_threshold')}, 2)",
                     "1/h", "Death hazard from uraemia"),
        ),
        fluxes=(
            Flux("kim1_production", f"k_kim1 * {rs} * (1 + kim1_gain * {_mean('tub_i_{s} + tub_p_{s} + tub_m_{s}')})",
                 "1/h", "KIM-1 shed by injured/dedifferentiated tubules", produces={"kim1": 1}),
            Flux("kim1_clearance", f"k_kim1 * {rs} * kim1", "1/h", "KIM-1 clearance", consumes={"kim1": 1}),
            Flux("ngal_production",
                 f"k_ngal * {rs} * (1 + ngal_gain_injury * {_mean('tub_i_{s} + tub_d_{s}')}"
                 f" + ngal_gain_inflammation * {_mean('tnf_{s}')}"
                 f" + ngal_gain_chronic * {_mean('tub_m_{s} + collagen_{s}')})",
                 "1/h", "NGAL from injured, inflamed and chronically damaged kidney", produces={"ngal": 1}),
            Flux("ngal_clearance", f"k_ngal * {rs} * ngal", "1/h", "NGAL clearance", consumes={"ngal": 1}),
            Flux("death", "(uremic_hazard + in_hazard) * survival", "1/h", "Deaths", consumes={"survival": 1}),
        ),
    )
