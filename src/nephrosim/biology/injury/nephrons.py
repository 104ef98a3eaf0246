"""Nephron mass per kidney, single-nephron hyperfiltration, and kidney function.

Biology encoded
---------------
* GFR ≈ single-nephron GFR × functional nephrons (Hallow & Gebremichael 2017 CPT
  PSP, in BIOLOGY.md). Nephron mass is tracked **per kidney** (1 = a normal kidney's
  complement), so unilateral nephrectomy, 5/6 nephrectomy and unilateral injury work.
* Remaining nephrons hyperfilter: after uninephrectomy GFR per remnant kidney rises
  about +50 % by day 8, after 5/6 nephrectomy about +300 % by day 16 (rat,
  untreated_timecourses). The adaptation target is (functional mass)^(−γ).
* Hyperfiltration injures glomeruli (progressive nephron loss of the remnant
  kidney) and feeds TGF-β; fibrosis (collagen) causes tubular atrophy and nephron
  loss; insults with glomerular toxicity (adriamycin, diabetes) add loss directly.
* Diabetic hyperfiltration (``in_hyperfiltration``) may injure less than a remnant's: in
  rats it persists for most of a year without a fall in GFR ("group 1, 1.83 +/- 0.04
  ml/min ... group 3, 1.45 +/- 0.07 ml/min" at 44 weeks of moderate hyperglycaemia against
  non-diabetic controls, Stackhouse 1990), where a remnant's excess filtration destroys it
  within months. Only the share ``diabetic_hyperfiltration_injury_share`` of the diabetic
  excess counts in the injurious excess (``injurious_hyperfiltration``) that drives the
  nephron loss, the glomerular lesions (:mod:`~nephrosim.biology.injury.glomeruli`) and
  TGF-β (:mod:`~nephrosim.biology.injury.fibrosis`); without diabetes it is the
  hyperfiltration itself. The share is fitted to the STZ targets
  (``calibration/targets/glomerular_toxins.yaml``).
* Per kidney, filtration per nephron = perfusion × (1 − obstruction) ×
  tubuloglomerular-feedback factor (falls when differentiated proximal transport is
  lost) × (1 − back-leak through denuded epithelium) × (1 − cast obstruction).
  ``injury_function_factor`` = hyperfiltration × mean over kidneys of
  nephron mass × filtration; it is the GFR multiplier of the kidney-function layer.
* Creatinine secretion (≈50 % of renal creatinine excretion in mice) needs
  differentiated proximal tubules and a peritubular capillary supply (not the
  haemodynamic state of the endothelium): ``injury_secretion_factor`` =
  hyperfiltration × mean of nephron mass × transport × capillary density ×
  (1 − obstruction). Because secretion recovers with the epithelium while
  filtration waits for the endothelium, serum creatinine normalises before GFR
  (mouse: inulin clearance not recovered at day 7 with normal SCr, PMID:12085012).
"""

from __future__ import annotations

from nephrosim.modelspec import Flux, ParameterUse, Process, Quantity, State
from nephrosim.biology.injury.common import INJURIOUS_EXCESS, SIDE_NAMES, SIDES, positive

PARAMETERS = (
    ParameterUse("nephron_mass_initial_l", "dimensionless", "Nephron mass of the left kidney at time 0 (1 = intact)"),
    ParameterUse("nephron_mass_initial_r", "dimensionless", "Nephron mass of the right kidney at time 0 (1 = intact)"),
    ParameterUse("hyperfiltration_exponent", "dimensionless", "γ: single-nephron GFR ∝ (functional mass)^−γ"),
    ParameterUse("k_hyperfiltration_adapt", "1/h", "Rate of single-nephron adaptation"),
    ParameterUse("hyperfiltration_max", "relative", "Highest single-nephron GFR a remnant reaches by adaptation (glomerulosclerosis ceiling)"),
    ParameterUse("k_neph_hyperfiltration", "1/h", "Nephron loss per squared excess hyperfiltration"),
    ParameterUse("k_neph_fibrosis", "1/h", "Nephron loss (tubular atrophy) per unit collagen"),
    ParameterUse("k_neph_glomerular", "1/h", "Nephron loss per unit glomerular-injury input"),
    ParameterUse("diabetic_hyperfiltration_injury_share", "dimensionless",
                 "Share of the diabetic excess filtration that injures like a remnant's (0 = none, 1 = all)"),
    ParameterUse("tgf_feedback_max", "dimensionless", "Maximal GFR fall by tubuloglomerular feedback when proximal transport is lost"),
    ParameterUse("backleak_max", "dimensionless", "Filtrate back-leak through completely denuded epithelium"),
    ParameterUse("cast_obstruction_half", "dimensionless", "Casts giving half-maximal tubular obstruction"),
)


def nephrons() -> Process:
    rs = "rate_scale"
    states = [State("hyperfiltration", "relative", 1.0,
                    "Single-nephron GFR relative to normal (compensatory hyperfiltration)")]
    quantities = []
    fluxes = []
    for s in SIDES:
        n = f"nephron_mass_{s}"
        where = SIDE_NAMES[s]
        states.append(State(n, "relative", f"nephron_mass_initial_{s}",
                            f"Nephron mass of the {where}, 1 = a normal kidney"))
        quantities += [
            Quantity(f"tubuloglomerular_feedback_{s}", f"1 - tgf_feedback_max * (1 - tubular_transport_{s})",
                     "dimensionless", f"GFR factor from tubuloglomerular feedback ({where})"),
            Quantity(f"backleak_{s}", f"min(1, backleak_max * (tub_d_{s} + vacancy_{s}))", "dimensionless",
                     f"Filtrate back-leak through denuded epithelium ({where})"),
            Quantity(f"cast_obstruction_{s}", f"casts_{s} / (casts_{s} + cast_obstruction_half)", "dimensionless",
                     f"Intratubular obstruction by casts ({where})"),
            Quantity(f"filtration_{s}",
                     f"perfusion_{s} * (1 - in_obstruction_{s}) * tubuloglomerular_feedback_{s} * (1 - backleak_{s})"
                     f" * (1 - cast_obstruction_{s})", "relative",
                     f"Filtration per nephron relative to normal, before hyperfiltration ({where})"),
            Quantity(f"secretion_{s}", f"tubular_transport_{s} * ptc_{s} * (1 - in_obstruction_{s})",
                     "relative", f"Tubular creatinine secretion per nephron ({where})"),
        ]
        fluxes.append(Flux(
            f"nephron_loss_{s}",
            f"{rs} * (k_neph_fibrosis * collagen_{s} + (k_neph_hyperfiltration * pow({INJURIOUS_EXCESS}, 2)"
            f" + k_neph_glomerular * in_glomerular_{s})"
            f" * (1 - glom_msc_max_protection * glomerular_protection)) * {n}", "1/h",  # therapy protects glomeruli (glomeruli.py)
            "Nephron loss: atrophy in fibrosis, hyperfiltration injury, glomerular toxicity", consumes={n: 1}))
    quantities += [
        Quantity("functional_nephron_mass",
                 "(nephron_mass_l * (1 - in_obstruction_l) + nephron_mass_r * (1 - in_obstruction_r)) / 2",
                 "relative", "Filtering nephron mass of both kidneys, 1 = two normal kidneys"),
        Quantity("hyperfiltration_target",
                 "min(hyperfiltration_max, pow(1 / max(0.05, functional_nephron_mass), hyperfiltration_exponent))"
                 " * (1 + in_hyperfiltration)",
                 "relative", "Single-nephron GFR the remnant adapts towards"),
        Quantity("injurious_hyperfiltration",
                 "hyperfiltration / (1 + (1 - diabetic_hyperfiltration_injury_share) * in_hyperfiltration)",
                 "relative", "Single-nephron GFR counted as injurious (the diabetic excess only in part)"),
        Quantity("injury_function_factor",
                 "hyperfiltration * (nephron_mass_l * filtration_l + nephron_mass_r * filtration_r) / 2",
                 "dimensionless", "GFR relative to the pre-insult baseline"),
        Quantity("injury_secretion_factor",
                 "hyperfiltration * (nephron_mass_l * secretion_l + nephron_mass_r * secretion_r) / 2",
                 "dimensionless", "Tubular creatinine secretion relative to baseline"),
    ]
    fluxes += [
        Flux("hyperfiltration_up", f"k_hyperfiltration_adapt * {rs} * {positive('hyperfiltration_target - hyperfiltration')}",
             "1/h", "Adaptive hyperfiltration of remaining nephrons", produces={"hyperfiltration": 1}),
        Flux("hyperfiltration_down",
             f"k_hyperfiltration_adapt * {rs} * {positive('hyperfiltration - hyperfiltration_target')}",
             "1/h", "Return of single-nephron GFR towards its target", consumes={"hyperfiltration": 1}),
    ]
    return Process(
        name="nephrons",
        description="Nephron mass per kidney, hyperfiltration and the GFR/secretion factors",
        states=tuple(states),
        parameters=PARAMETERS,
        quantities=tuple(quantities),
        fluxes=tuple(fluxes),
    )
