"""Peritubular capillaries: endothelial injury, rarefaction, VEGF, perfusion and hypoxia.

Biology encoded (BIOLOGY.md §1.3)
---------------------------------
* Endothelial injury ``endo`` (0–1) rises with the insult's direct endothelial
  drive (reperfusion), excess ROS, TNF and neutrophil plugging, and is repaired
  over days to weeks — after 45-min warm ischaemia in the rat, renal blood flow
  reached its nadir at 1 week and recovered by 4 weeks (untreated_timecourses).
* Sustained severe endothelial injury destroys capillaries (``ptc``, density
  relative to normal) with a steep (Hill) dependence: "30–50 % reduction in
  peritubular capillary density ... at 4, 8, and 40 wk" after rat IRI (Basile 2001,
  AJP Renal 281:F887); mouse −40 % number 8 weeks after severe but not moderate AKI
  (Kramann et al.).
* Capillaries regrow poorly: regrowth is slow and needs VEGF, which healthy tubules
  make (``vegf`` relative to normal, falling when the epithelium is injured).
* Glomerular perfusion = insult perfusion × capillary density × (1 − loss from
  endothelial dysfunction) sets filtration. Tissue hypoxia = 1 − insult perfusion
  × capillary density × (1 − smaller endothelial weight): it comes mostly from
  rarefaction and drives tubular stress, ROS, maladaptive repair and TGF-β
  (rarefaction → hypoxia → more injury and fibrosis).
* Paracrine VEGF (``paracrine_vegf``) protects endothelium and adds to regrowth.
"""

from __future__ import annotations

from nephrosim.modelspec import Flux, ParameterUse, Process, Quantity, State
from nephrosim.biology.injury.common import SIDE_NAMES, eff, positive

PARAMETERS = (
    ParameterUse("k_endo_injury", "1/h", "Endothelial injury rate per unit drive"),
    ParameterUse("endo_w_ros", "dimensionless", "Endothelial drive per unit excess ROS"),
    ParameterUse("endo_w_tnf", "dimensionless", "Endothelial drive per unit TNF-class cytokine"),
    ParameterUse("endo_w_neutrophils", "dimensionless", "Endothelial drive per unit neutrophils"),
    ParameterUse("k_endo_repair", "1/h", "Endothelial repair rate constant"),
    ParameterUse("k_ptc_loss", "1/h", "Maximal capillary loss rate under endothelial injury"),
    ParameterUse("ptc_loss_half_injury", "dimensionless", "Endothelial injury giving half-maximal capillary loss"),
    ParameterUse("ptc_loss_hill", "dimensionless", "Steepness of capillary loss vs endothelial injury"),
    ParameterUse("k_ptc_regrowth", "1/h", "Capillary regrowth rate constant at normal VEGF"),
    ParameterUse("k_vegf", "1/h", "VEGF turnover rate constant"),
    ParameterUse("vegf_hypoxia_gain", "dimensionless", "Rise of tubular VEGF production per unit hypoxia"),
    ParameterUse("endo_perfusion_loss", "dimensionless", "Glomerular perfusion lost at complete endothelial injury"),
    ParameterUse("endo_hypoxia_weight", "dimensionless", "Tissue oxygen supply lost at complete endothelial injury"),
    ParameterUse("vegf_max_protection", "dimensionless", "Maximal reduction of endothelial injury by paracrine VEGF"),
    ParameterUse("vegf_therapy_gain", "dimensionless", "Paracrine VEGF added to regrowth signal at full effect"),
)


def capillaries(side: str) -> Process:
    s = side
    endo, ptc, vegf = f"endo_{s}", f"ptc_{s}", f"vegf_{s}"
    rs = "rate_scale"
    where = SIDE_NAMES[s]
    drive = (f"in_endothelial_{s} + endo_w_ros * ros_excess_{s} + endo_w_tnf * tnf_{s}"
             f" + endo_w_neutrophils * neutrophils_{s}")
    e = positive(endo)  # guard: a non-integer power of a round-off negative is NaN
    hill = (f"pow({e}, ptc_loss_hill) / (pow({e}, ptc_loss_hill)"
            " + pow(ptc_loss_half_injury, ptc_loss_hill))")
    return Process(
        name=f"capillaries_{s}",
        description=f"Peritubular capillaries and tissue oxygenation, {where}",
        states=(
            State(endo, "fraction", 0.0, f"Endothelial injury/dysfunction of peritubular capillaries ({where})"),
            State(ptc, "relative", 1.0, f"Peritubular capillary density relative to normal ({where})"),
            State(vegf, "relative", 1.0, f"Tissue VEGF relative to normal ({where})"),
        ),
        parameters=PARAMETERS,
        quantities=(
            Quantity(f"perfusion_{s}", f"in_perfusion_{s} * {ptc} * (1 - endo_perfusion_loss * {endo})",
                     "relative", f"Peritubular perfusion relative to normal ({where})"),
            Quantity(f"hypoxia_{s}", positive(f"1 - in_perfusion_{s} * {ptc} * (1 - endo_hypoxia_weight * {endo})"),
                     "dimensionless", f"Tissue hypoxia ({where})"),
        ),
        fluxes=(
            Flux(f"endo_injury_{s}",
                 f"k_endo_injury * {rs} * ({drive}) * (1 - {endo}) * (1 - vegf_max_protection * {eff('paracrine_vegf')})",
                 "1/h", "Endothelial injury", produces={endo: 1}),
            Flux(f"endo_repair_{s}", f"k_endo_repair * {rs} * {endo}", "1/h", "Endothelial repair",
                 consumes={endo: 1}),
            Flux(f"ptc_loss_{s}", f"k_ptc_loss * {rs} * {ptc} * {hill}", "1/h",
                 "Capillary rarefaction under severe endothelial injury", consumes={ptc: 1}),
            Flux(f"ptc_regrowth_{s}",
                 f"k_ptc_regrowth * {rs} * ({vegf} + vegf_therapy_gain * {eff('paracrine_vegf')}) * {positive('1 - ' + ptc)}",
                 "1/h", "Slow VEGF-dependent capillary regrowth", produces={ptc: 1}),
            Flux(f"vegf_production_{s}", f"k_vegf * {rs} * tub_h_{s} * (1 + vegf_hypoxia_gain * hypoxia_{s})",
                 "1/h", "VEGF made by healthy tubules (more when hypoxic)", produces={vegf: 1}),
            Flux(f"vegf_degradation_{s}", f"k_vegf * {rs} * {vegf}", "1/h", "VEGF turnover", consumes={vegf: 1}),
        ),
    )
