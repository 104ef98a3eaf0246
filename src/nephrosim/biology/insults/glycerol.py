"""Insult: Glycerol rhabdomyolysis (myoglobin release, renal haem load and its slow clearance).

One module per insult; the pieces every insult shares are in :mod:`nephrosim.biology.insults.core`.
"""

from __future__ import annotations

from nephrosim.biology.injury.common import SIDE_NAMES, SIDES
from nephrosim.biology.insults.base import InsultSpec, register_insult
from nephrosim.biology.insults.core import _hill, core_insult
from nephrosim.modelspec import Flux, ParameterUse, Process, Quantity, State

#: Filtering share of each kidney (nephron mass × filtration per nephron, 1 = a normal kidney):
#: the glomerular route of plasma myoglobin falls with the kidney's own filtration.
_KIDNEY_FILTRATION = "nephron_mass_{s} * filtration_{s}"


@register_insult("glycerol")
def glycerol(injury, species: str) -> InsultSpec:
    """Glycerol rhabdomyolysis: myoglobin from the injected muscle is filtered into the
    nephron, where its haem causes casts, lipid peroxidation, tubular necrosis and renal
    vasoconstriction; the renal haem/iron load is cleared over days, not hours.

    Three pools, in dose-equivalent units (mL/kg of 50 % glycerol)::

        d depot/dt     = −k_rel·s·depot                                    (injured muscle)
        d myoglobin/dt =  k_rel·s·depot − k_mb·s·myoglobin·(1 − r + r·F̄)    (plasma)
        d haem_k/dt    =  k_mb·s·r·myoglobin·F_k − k_deg·s·haem_k           (kidney k)

    ``F_k`` is kidney k's filtration (nephron mass × filtration per nephron, 1 = normal),
    ``F̄`` their mean and ``r`` the share of plasma myoglobin cleared by glomerular filtration
    at a normal GFR. ``haem_k`` is counted as if both kidneys held kidney k's load, so a
    bilateral insult gives each kidney the renal share of the dose. The insult inputs are
    driven by ``toxicity_k = Hill(haem_k; half, n)``.

    Biology behind the structure:

    * myoglobin is filtered by the glomeruli and taken up by proximal tubules: "The injury
      of more than 100 grams of skeletal muscle exceeds plasma protein binding capacity
      for myoglobin, leading to glomerular filtration and higher reabsorption of myoglobin
      by the cells of the proximal renal tubules with precipitation of free myoglobin in
      the renal distal tubules, provoking tubule necrosis and obstruction" (Sci Rep 2019,
      doi:10.1038/s41598-019-43564-1). A falling GFR filters less: the load limits itself.
    * the kidney degrades the haem with induced haem oxygenase and stores the iron in
      ferritin (Nath et al. 1992 J Clin Invest 90:267, PMID 1634613), so the renal load is
      cleared by an enzyme over days; redox-active iron stays in rat plasma "from the 1st
      to the 6st day" after 10 mL/kg glycerol (PMID 23387277). When the toxicity followed
      plasma haem (cleared within a day), rat BUN plateaued from 48 to 72 h and mouse BUN
      peaked at 24 h; with the renal load, rat BUN is still rising at 72 h, as in the
      source (untreated_timecourses CRO_zvastbio: peak at 72 h). Mouse BUN on day 5 (×4.8 of
      control, Bruno 2009 JASN Table 3) is still missed (×1.2; literature_targets.yaml
      ``mouse_glycerol_bun_day5``).
    * steep dose threshold: rat 3.75 mL/kg alone gives no ARF; mortality rises above
      7.5 mL/kg (untreated_timecourses); casts at 6 h → necrosis at 24 h → regeneration
      from 48 h (Glycerol_ARF_metabolic_rat).
    """
    rs = "rate_scale"
    depot, plasma = "gly_depot", "gly_myoglobin"
    mean_filtration = " + ".join(_KIDNEY_FILTRATION.format(s=s) for s in SIDES)
    renal_heme = {s: f"gly_renal_heme_{s}" for s in SIDES}
    states = [
        State(depot, "mL/kg", "gly_dose_ml_per_kg", "Injured muscle still releasing myoglobin (dose units)"),
        State(plasma, "mL/kg", 0.0, "Circulating myoglobin (dose-equivalent units)"),
    ]
    states += [State(renal_heme[s], "mL/kg", 0.0,
                     f"Haem/iron load of the {SIDE_NAMES[s]}: filtered myoglobin in the nephron and its"
                     " tubular cells (dose-equivalent units, as if both kidneys held this load)")
               for s in SIDES]
    quantities = [Quantity(f"gly_toxicity_{s}", _hill(renal_heme[s], "gly_heme_half", "gly_hill"), "dimensionless",
                           f"Haem toxicity of the {SIDE_NAMES[s]} (0–1)") for s in SIDES]
    fluxes = [
        Flux("gly_release", f"gly_k_release * {rs} * {depot}", "mL/kg/h", "Myoglobin release from injured muscle",
             consumes={depot: 1}, produces={plasma: 1}),
        Flux("gly_myoglobin_clearance",
             f"gly_k_myoglobin_clear * {rs} * {plasma} * (1 - gly_renal_share + gly_renal_share * ({mean_filtration}) / 2)",
             "mL/kg/h", "Plasma myoglobin cleared: glomerular filtration and non-renal uptake", consumes={plasma: 1}),
    ]
    for s in SIDES:
        fluxes += [
            Flux(f"gly_renal_uptake_{s}",
                 f"gly_k_myoglobin_clear * {rs} * gly_renal_share * {plasma} * {_KIDNEY_FILTRATION.format(s=s)}",
                 "mL/kg/h", f"Myoglobin filtered into the {SIDE_NAMES[s]}", produces={renal_heme[s]: 1}),
            Flux(f"gly_renal_heme_degradation_{s}", f"gly_k_heme_degradation * {rs} * {renal_heme[s]}", "mL/kg/h",
                 f"Haem degraded by haem oxygenase, iron stored in ferritin ({SIDE_NAMES[s]})",
                 consumes={renal_heme[s]: 1}),
        ]
    process = Process(
        name="glycerol",
        description="Myoglobin release after glycerol injection, renal haem load and its clearance",
        states=tuple(states),
        parameters=(
            ParameterUse("gly_dose_ml_per_kg", "mL/kg", "50 % glycerol dose"),
            ParameterUse("gly_k_release", "1/h", "Myoglobin release from injured muscle (mouse)"),
            ParameterUse("gly_k_myoglobin_clear", "1/h", "Plasma myoglobin clearance at normal GFR (mouse)"),
            ParameterUse("gly_renal_share", "dimensionless",
                         "Share of plasma myoglobin clearance by glomerular filtration at normal GFR"),
            ParameterUse("gly_k_heme_degradation", "1/h",
                         "Clearance of the renal haem/iron load by haem oxygenase and ferritin (mouse)"),
            ParameterUse("gly_heme_half", "mL/kg", "Renal haem load (dose-equivalent) for half-maximal toxicity"),
            ParameterUse("gly_hill", "dimensionless", "Steepness of haem toxicity"),
            ParameterUse("gly_stress_max", "dimensionless", "Tubular stress at full toxicity"),
            ParameterUse("gly_cast_max", "dimensionless", "Haem cast formation at full toxicity"),
            ParameterUse("gly_ros_max", "dimensionless", "Extra ROS at full toxicity"),
            ParameterUse("gly_perfusion_drop", "dimensionless", "Fall in renal perfusion at full toxicity"),
        ),
        quantities=tuple(quantities),
        fluxes=tuple(fluxes),
    )
    inputs = {}
    for s in SIDES:
        inputs.update({
            f"in_tubular_stress_{s}": f"gly_stress_max * gly_toxicity_{s}",
            f"in_casts_{s}": f"gly_cast_max * gly_toxicity_{s}",
            f"in_ros_{s}": f"gly_ros_max * gly_toxicity_{s}",
            f"in_perfusion_{s}": f"1 - gly_perfusion_drop * gly_toxicity_{s}",
        })
    return core_insult(process, inputs=inputs, values={"gly_dose_ml_per_kg": injury.dose_ml_per_kg})
