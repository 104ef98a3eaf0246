"""Insult: Cisplatin nephrotoxicity (two-compartment PK).

One module per insult; the pieces every insult shares are in :mod:`nephrosim.biology.insults.core`.
"""

from __future__ import annotations

from nephrosim.biology.injury.common import SIDES, positive
from nephrosim.biology.insults.base import InsultSpec, register_insult
from nephrosim.biology.insults.core import _both, core_insult
from nephrosim.modelspec import Flux, ParameterUse, Process, Quantity, State


@register_insult("cisplatin")
def cisplatin(injury, species: str) -> InsultSpec:
    """Cisplatin bolus: two-compartment PK → tubular exposure above a toxic
    concentration → delayed (signal-transduction) tubular stress.

    Fukushima et al. 2015 (J Pharm Sci; rat 1–7.5 mg/kg): linear 2-compartment PK;
    nephrotoxicity depends on both Cmax and time above a toxic concentration;
    creatinine fitted with a signal-transduction (transit) model. Here tubular
    uptake is proportional to ``max(0, C − C_threshold)`` (so both Cmax and time
    above threshold count), retained in the kidney, and passed through three
    transit compartments that delay the stress (creatinine peak days 3–5).
    Cisplatin also drives ROS (MDA up, GSH down).

    **Glutathione drain.** Cisplatin is conjugated to glutathione in the kidney
    (Hanigan 1994, PMID 7954424: "These results indicate that cisplatin is conjugated
    to glutathione in vivo"; the conjugate, cleaved by GGT on the proximal tubule,
    is the route to the nephrotoxin). The retained tubular exposure therefore consumes
    the renal GSH pool directly, beyond its oxidation by excess ROS::

        d gsh/dt ⊃ −k_gsh·s·cis_gsh_conjugation·cis_kidney·gsh

    so GSH falls ~20-fold by day 4 and recovers over a week and a half as platinum
    leaves the tubules (Ashour 2016, Table 2: 0.26 vs 5.40 at day 4, 1.49 vs 5.55 at
    day 11), and the lost scavenging raises ROS and MDA. ``cis_gsh_conjugation`` is
    fitted to the day-7 and day-11 GSH, with the injury core (``calibration/targets/injury.yaml``;
    first alone with the cisplatin constants, ``calibration/targets/cisplatin.yaml``); the
    day-4 GSH and the MDA magnitudes stay held out.

    **Tubular injury by the ROS excess.** The transit signal's stress gain is fitted
    to creatinine and so already lumps the toxicity of the conjugate's metabolites;
    the ROS excess that the GSH loss adds injures tubules with a cisplatin weight,
    ``cis_tub_w_ros``, in place of the shared ``tub_w_ros`` (hand-tuned on IRI,
    where ROS is a burst of hours, not a week): the insult's stress input carries
    ``(cis_tub_w_ros − tub_w_ros)·ros_excess`` so that the tubules see
    ``cis_tub_w_ros·ros_excess`` in total.
    """
    rs = "rate_scale"
    c, p, k = "cis_central", "cis_peripheral", "cis_kidney"
    s1, s2, s3 = "cis_signal_1", "cis_signal_2", "cis_signal_3"
    process = Process(
        name="cisplatin",
        description="Cisplatin pharmacokinetics and toxicodynamics",
        states=(
            State(c, "mg/kg", "cis_dose_mg_per_kg", "Unbound cisplatin, central compartment (per kg body weight)"),
            State(p, "mg/kg", 0.0, "Cisplatin, peripheral compartment"),
            State(k, "relative", 0.0, "Toxic cisplatin exposure retained in proximal tubules"),
            State(s1, "relative", 0.0, "Toxicodynamic signal, transit 1"),
            State(s2, "relative", 0.0, "Toxicodynamic signal, transit 2"),
            State(s3, "relative", 0.0, "Toxicodynamic signal, transit 3"),
        ),
        parameters=(
            ParameterUse("cis_dose_mg_per_kg", "mg/kg", "Cisplatin dose"),
            ParameterUse("cis_v1_l_per_kg", "L/kg", "Central volume"),
            ParameterUse("cis_k10", "1/h", "Elimination rate constant (mouse)"),
            ParameterUse("cis_k12", "1/h", "Central → peripheral (mouse)"),
            ParameterUse("cis_k21", "1/h", "Peripheral → central (mouse)"),
            ParameterUse("cis_threshold_mg_l", "mg/L", "Toxic plasma concentration threshold"),
            ParameterUse("cis_k_uptake", "L/mg/h", "Tubular toxic uptake per mg/L above threshold"),
            ParameterUse("cis_k_kidney_out", "1/h", "Loss of retained tubular exposure"),
            ParameterUse("cis_k_transit", "1/h", "Transit rate of the toxicodynamic signal"),
            ParameterUse("cis_stress_gain", "dimensionless", "Tubular stress per unit signal"),
            ParameterUse("cis_ros_gain", "dimensionless", "Extra ROS per unit signal"),
            ParameterUse("cis_gsh_conjugation", "dimensionless",
                         "Renal GSH consumption by conjugation per unit retained cisplatin exposure (× GSH turnover)"),
            ParameterUse("cis_tub_w_ros", "dimensionless",
                         "Tubular stress per unit excess ROS after cisplatin (in place of tub_w_ros)"),
            ParameterUse("k_gsh", "1/h", "GSH resynthesis rate constant"),
            ParameterUse("tub_w_ros", "dimensionless", "Tubular stress per unit excess ROS (shared, IRI-tuned)"),
        ),
        quantities=(
            Quantity("cis_plasma_mg_l", f"{c} / cis_v1_l_per_kg", "mg/L", "Unbound plasma cisplatin"),
        ),
        fluxes=(
            Flux("cis_elimination", f"cis_k10 * {rs} * {c}", "mg/kg/h", "Renal/other elimination", consumes={c: 1}),
            Flux("cis_distribution", f"cis_k12 * {rs} * {c}", "mg/kg/h", "Distribution", consumes={c: 1},
                 produces={p: 1}),
            Flux("cis_redistribution", f"cis_k21 * {rs} * {p}", "mg/kg/h", "Redistribution", consumes={p: 1},
                 produces={c: 1}),
            Flux("cis_tubular_uptake", f"cis_k_uptake * {rs} * {positive('cis_plasma_mg_l - cis_threshold_mg_l')}",
                 "1/h", "Toxic exposure above threshold", produces={k: 1}),
            Flux("cis_tubular_loss", f"cis_k_kidney_out * {rs} * {k}", "1/h", "Loss of retained exposure",
                 consumes={k: 1}),
            Flux("cis_signal_in", f"cis_k_transit * {rs} * {k}", "1/h", "Signal transduction", produces={s1: 1}),
            Flux("cis_signal_12", f"cis_k_transit * {rs} * {s1}", "1/h", "Transit", consumes={s1: 1}, produces={s2: 1}),
            Flux("cis_signal_23", f"cis_k_transit * {rs} * {s2}", "1/h", "Transit", consumes={s2: 1}, produces={s3: 1}),
            Flux("cis_signal_out", f"cis_k_transit * {rs} * {s3}", "1/h", "Signal decay", consumes={s3: 1}),
            *(Flux(f"cis_gsh_conjugation_{side}", f"k_gsh * {rs} * cis_gsh_conjugation * {k} * gsh_{side}", "1/h",
                   "Renal glutathione conjugated by retained cisplatin", consumes={f"gsh_{side}": 1})
              for side in SIDES),
        ),
    )
    inputs = {**{f"in_tubular_stress_{side}": f"cis_stress_gain * {s3} + (cis_tub_w_ros - tub_w_ros) * ros_excess_{side}"
                 for side in SIDES},
              **_both("in_ros", f"cis_ros_gain * {s2}")}
    return core_insult(process, inputs=inputs, values={"cis_dose_mg_per_kg": injury.dose_mg_per_kg})
