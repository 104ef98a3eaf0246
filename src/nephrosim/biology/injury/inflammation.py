"""Inflammation: DAMPs, neutrophils, M1 and M2 macrophages, TNF- and IL-10-class cytokines.

Biology encoded (BIOLOGY.md §1.4)
---------------------------------
* Dead tubular cells release DAMPs; DAMPs and TNF recruit neutrophils first and
  macrophages (CD11b+ macrophages "peaked at 16–24 h" after a 22-min mouse clamp,
  Yu 2008 Korean J Intern Med 23:64); renal MPO peaks at 6–9 h in the rat.
* Recruited macrophages are pro-inflammatory (M1, "recruited into the kidney in
  the first 48 hours after ischemia/reperfusion injury") and switch to
  reparative M2 later (Lee et al., "Distinct macrophage phenotypes contribute to
  kidney injury and repair"); the switch is promoted by IL-10 made by M2 cells
  (positive feedback) and by anti-inflammatory paracrine factors (IL-10/TSG-6/PGE2,
  ``paracrine_antiinflammatory``), which also cut recruitment and TNF and make the
  macrophages present produce IL-10: "Monocytes and/or macrophages from septic lungs
  made more IL-10 when prepared from mice treated with BMSCs versus untreated mice",
  through MSC-derived PGE2 on EP2/EP4 (Németh 2009 Nat Med 15:42, PMID 19098906).
* Systemic inflammation (sepsis, endotoxin, bypass: ``in_inflammation``) drives
  renal TNF directly. TNF is suppressed by IL-10.

All quantities are relative units (0 = healthy kidney without infiltrate)::

    d damps/dt = k_damp·s·(g_damp·tub_d − damps)
    d tnf/dt   = k_tnf·s·[(g_tnf·(damps + m1 + w_n·neutrophils) + in_inflammation)·(1−a·AI)/(1 + il10/K) − tnf]
    d neutrophils/dt = k_nr·s·(damps + tnf + in_inflammation)·(1−a·AI) − k_nc·s·neutrophils
    d m1/dt = k_mr·s·(damps + tnf)·(1−a·AI) − k_pol·s·m1·(p0 + il10 + b·AI) − k_m1c·s·m1
    d m2/dt = k_pol·s·m1·(p0 + il10 + b·AI) − k_m2c·s·m2
    d il10/dt = k_il10·s·(g_il10·(m2 + r·AI·(m1 + m2)) − il10)
"""

from __future__ import annotations

from nephrosim.modelspec import Flux, ParameterUse, Process, Quantity, State
from nephrosim.biology.injury.common import SIDE_NAMES, eff

PARAMETERS = (
    ParameterUse("k_damp", "1/h", "DAMP clearance rate constant"),
    ParameterUse("damp_gain", "dimensionless", "DAMPs per unit dead tubular cells"),
    ParameterUse("k_tnf", "1/h", "TNF turnover rate constant"),
    ParameterUse("tnf_gain", "dimensionless", "TNF produced per unit DAMPs/M1"),
    ParameterUse("tnf_w_neutrophils", "dimensionless", "TNF produced per unit neutrophils (relative to M1)"),
    ParameterUse("il10_k_tnf", "dimensionless", "IL-10 level halving TNF production"),
    ParameterUse("k_neut_recruit", "1/h", "Neutrophil recruitment per unit DAMPs + TNF"),
    ParameterUse("k_neut_clear", "1/h", "Neutrophil clearance (apoptosis, efferocytosis)"),
    ParameterUse("k_mac_recruit", "1/h", "Monocyte/macrophage recruitment per unit DAMPs + TNF"),
    ParameterUse("k_polarize", "1/h", "M1 → M2 switch rate constant"),
    ParameterUse("polarize_base", "dimensionless", "M1 → M2 switch without IL-10"),
    ParameterUse("k_m1_clear", "1/h", "M1 death/emigration"),
    ParameterUse("k_m2_clear", "1/h", "M2 death/emigration"),
    ParameterUse("k_il10", "1/h", "IL-10 turnover rate constant"),
    ParameterUse("il10_gain", "dimensionless", "IL-10 per unit M2"),
    ParameterUse("ai_max_suppression", "dimensionless", "Maximal reduction of recruitment and TNF by anti-inflammatory paracrine factors"),
    ParameterUse("ai_max_polarization", "dimensionless", "M1 → M2 switch added at full anti-inflammatory paracrine effect"),
    ParameterUse("ai_il10_reprogramming", "dimensionless",
                 "IL-10 made per macrophage at full anti-inflammatory paracrine effect, relative to an M2 cell"),
)


def inflammation(side: str) -> Process:
    s = side
    damps, tnf, neu, m1, m2, il10 = (f"{n}_{s}" for n in ("damps", "tnf", "neutrophils", "m1", "m2", "il10"))
    rs = "rate_scale"
    where = SIDE_NAMES[s]
    ai = eff("paracrine_antiinflammatory")
    suppress = f"(1 - ai_max_suppression * {ai})"
    switch = f"(polarize_base + {il10} + ai_max_polarization * {ai})"
    return Process(
        name=f"inflammation_{s}",
        description=f"Innate inflammation, {where}",
        states=(
            State(damps, "relative", 0.0, f"Damage-associated molecular patterns ({where})"),
            State(tnf, "relative", 0.0, f"TNF-class pro-inflammatory cytokines ({where})"),
            State(neu, "relative", 0.0, f"Infiltrating neutrophils ({where})"),
            State(m1, "relative", 0.0, f"Pro-inflammatory (M1, iNOS+) macrophages ({where})"),
            State(m2, "relative", 0.0, f"Reparative (M2, arginase-1+) macrophages ({where})"),
            State(il10, "relative", 0.0, f"IL-10-class anti-inflammatory cytokines ({where})"),
        ),
        parameters=PARAMETERS,
        quantities=(
            Quantity(f"macrophages_{s}", f"{m1} + {m2}", "relative", f"All infiltrating macrophages ({where})"),
        ),
        fluxes=(
            Flux(f"damp_release_{s}", f"k_damp * {rs} * damp_gain * tub_d_{s}", "1/h",
                 "DAMPs released by dead cells", produces={damps: 1}),
            Flux(f"damp_clearance_{s}", f"k_damp * {rs} * {damps}", "1/h", "DAMP clearance", consumes={damps: 1}),
            Flux(f"tnf_production_{s}",
                 f"k_tnf * {rs} * (tnf_gain * ({damps} + {m1} + tnf_w_neutrophils * {neu}) + in_inflammation)"
                 f" * {suppress} / (1 + {il10} / il10_k_tnf)", "1/h",
                 "TNF from DAMP-activated resident cells, M1, neutrophils and systemic inflammation",
                 produces={tnf: 1}),
            Flux(f"tnf_clearance_{s}", f"k_tnf * {rs} * {tnf}", "1/h", "TNF clearance", consumes={tnf: 1}),
            Flux(f"neutrophil_recruitment_{s}",
                 f"k_neut_recruit * {rs} * ({damps} + {tnf} + in_inflammation) * {suppress}", "1/h",
                 "Neutrophil recruitment", produces={neu: 1}),
            Flux(f"neutrophil_clearance_{s}", f"k_neut_clear * {rs} * {neu}", "1/h", "Neutrophil clearance",
                 consumes={neu: 1}),
            Flux(f"macrophage_recruitment_{s}", f"k_mac_recruit * {rs} * ({damps} + {tnf}) * {suppress}", "1/h",
                 "Monocyte recruitment as M1 macrophages", produces={m1: 1}),
            Flux(f"macrophage_switch_{s}", f"k_polarize * {rs} * {m1} * {switch}", "1/h",
                 "M1 → M2 switch", consumes={m1: 1}, produces={m2: 1}),
            Flux(f"m1_clearance_{s}", f"k_m1_clear * {rs} * {m1}", "1/h", "M1 death/emigration", consumes={m1: 1}),
            Flux(f"m2_clearance_{s}", f"k_m2_clear * {rs} * {m2}", "1/h", "M2 death/emigration", consumes={m2: 1}),
            Flux(f"il10_production_{s}",
                 f"k_il10 * {rs} * il10_gain * ({m2} + ai_il10_reprogramming * {ai} * ({m1} + {m2}))", "1/h",
                 "IL-10 from M2, and from macrophages reprogrammed by MSC-derived PGE2", produces={il10: 1}),
            Flux(f"il10_clearance_{s}", f"k_il10 * {rs} * {il10}", "1/h", "IL-10 clearance", consumes={il10: 1}),
        ),
    )
