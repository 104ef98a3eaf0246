"""Oxidative stress: ROS, lumped antioxidant capacity (GSH) and lipid peroxidation (MDA).

Biology encoded (BIOLOGY.md §1.1)
---------------------------------
* A ROS burst follows reperfusion; toxins (cisplatin) and infiltrating
  neutrophils/M1 macrophages and tissue hypoxia add to ROS production.
* Antioxidant capacity (GSH, SOD, catalase lumped as "GSH") scavenges ROS and is
  consumed when ROS exceed normal; it is resynthesised towards its normal level.
* MDA (malondialdehyde, lipid peroxidation) follows ROS with a delay; studies
  read out MDA and GSH (e.g. cisplatin rats, days 4–30, Ashour 2016 in BIOLOGY.md).
* MSC antioxidant action (``paracrine_antioxidant``) raises scavenging, and it induces GSH
  synthesis: the MSC/EV secretome activates Nrf2 ("Studies have confirmed that exosomes derived
  from stem cells could act as Nrf2 effective agonists", Vahidinia 2024, doi
  10.1186/s11658-024-00551-3), and Nrf2 "governs basal and inducible GCLC and GCLM expression by
  means of the antioxidant response element (ARE)" (PMCID PMC373470, rat liver; authors not shown
  on the page read), glutamate-cysteine ligase being "the rate-limiting enzyme" of GSH synthesis
  (Lu 2009, Mol Aspects Med 30:42-59).
  hucMSC exosomes after cisplatin in rats: "Cisplatin-induced AKI rats treated with hucMSC-ex,
  however, showed a significant reduction in all the above indexes" (oxidative stress among them;
  Zhou 2013, PMID 23618405); rBMSC after cisplatin raise renal GSH 2.5- to 5.1-fold over the
  vehicle on days 4-30 (Ashour 2016 Table 2, doi 10.1186/s13287-016-0386-0).

All three are relative to a healthy kidney (1 = normal)::

    d ros/dt = k_ros·s·[(1 + in_ros + w_inf·(neutrophils + m1) + w_hyp·hypoxia)
                        − ros·(1 − f_gsh + f_gsh·gsh)·(1 + a_max·paracrine_antioxidant)]
    d gsh/dt = k_gsh·s·[(1 + g_syn·paracrine_antioxidant) − gsh·(1 + c_ox·excess(ros − 1))]
    d mda/dt = k_mda·s·(ros − mda)

``s`` is ``rate_scale`` (quarter-power allometry). Rate constants and weights are
assumed/calibrated (see ``parameters_injury.csv``).

``g_syn`` (``antioxidant_gsh_synthesis_gain``) is assumed (1; range 0.1–30). Fitted formally to
Ashour's rBMSC-vs-vehicle GSH contrasts (``calibration/msc_gsh_synthesis.yaml``) it runs to the top
of its range (29) and still misses: the induction lasts only as long as the antioxidant exposure,
which follows the cells (effect 0.48 at 30 h, 0.16 on day 4, 0.02 on day 7, < 0.002 from day 11
after 5×10⁶ IV MSC in a rat), while the observed GSH gain lasts 30 days. At rest
``paracrine_antioxidant`` is the constant 0, so the induction is exactly 0 in untreated arms (it
multiplies the effect itself, not the corner-rounded ``eff``).

Insults may consume GSH directly as well: cisplatin is conjugated to glutathione
(Hanigan 1994, PMID 7954424), so its retained tubular exposure adds a drain
``−k_gsh·s·cis_gsh_conjugation·cis_kidney·gsh`` (:mod:`nephrosim.biology.insults.cisplatin`).
With GSH near 0 scavenging falls to ``1 − f_gsh`` of normal, so a GSH loss alone
raises ROS (and MDA) at most ``1/(1 − f_gsh)``-fold (3.3-fold at ``ros_gsh_share``
0.7); Ashour 2016 reports MDA ×4.6 at day 4 after cisplatin.

``excess(x)`` is max(0, x) with its corner smoothed (:func:`smooth_excess`):
½·(x + √(x² + w²))·x²/(x² + w²). It is exactly 0 at rest (x = 0), within w/2 of
max(0, x) everywhere and infinitely differentiable. The plain corner sat exactly at
the resting point: a decaying paracrine antioxidant holds ROS just below 1 and
CVODE chattered across the corner (CV_TOO_MUCH_WORK near day 25 in rat arms with
repeated MSC doses). w = :data:`ROS_EXCESS_WIDTH` = 0.001 (0.1 % of normal ROS) is a
numerical choice (assumed), far below the excesses that matter (the reperfusion
burst raises ROS several-fold).
"""

from __future__ import annotations

from nephrosim.modelspec import Flux, ParameterUse, Process, Quantity, State
from nephrosim.biology.injury.common import SIDE_NAMES, eff

#: Width (relative ROS) over which the corner of max(0, ros − 1) is smoothed (assumed, numerical).
ROS_EXCESS_WIDTH = 0.001


def smooth_excess(x: str, width: float = ROS_EXCESS_WIDTH) -> str:
    """max(0, x) with a smooth corner: ½·(x + √(x² + w²))·x²/(x² + w²) — 0 at x = 0."""
    w2 = repr(float(width) ** 2)
    return f"(0.5 * (({x}) + sqrt(({x})^2 + {w2})) * ({x})^2 / (({x})^2 + {w2}))"

PARAMETERS = (
    ParameterUse("k_ros", "1/h", "ROS turnover rate constant"),
    ParameterUse("ros_w_inflammation", "dimensionless", "ROS production per unit infiltrating neutrophils + M1"),
    ParameterUse("ros_w_hypoxia", "dimensionless", "ROS production per unit tissue hypoxia"),
    ParameterUse("ros_gsh_share", "dimensionless", "Share of ROS scavenging that depends on GSH"),
    ParameterUse("antioxidant_max_effect", "dimensionless", "Maximal rise in ROS scavenging from paracrine antioxidant action"),
    ParameterUse("k_gsh", "1/h", "GSH resynthesis rate constant"),
    ParameterUse("antioxidant_gsh_synthesis_gain", "dimensionless",
                 "Rise in GSH synthesis per unit paracrine antioxidant effect (Nrf2/ARE induction of GCL)"),
    ParameterUse("gsh_oxidation_gain", "dimensionless", "GSH consumption per unit excess ROS"),
    ParameterUse("k_mda", "1/h", "MDA turnover rate constant"),
)


def oxidative_stress(side: str) -> Process:
    s = side
    ros, gsh, mda = f"ros_{s}", f"gsh_{s}", f"mda_{s}"
    production = (f"1 + in_ros_{s} + ros_w_inflammation * (neutrophils_{s} + m1_{s})"
                  f" + ros_w_hypoxia * hypoxia_{s}")
    scavenging = (f"(1 - ros_gsh_share + ros_gsh_share * {gsh})"
                  f" * (1 + antioxidant_max_effect * {eff('paracrine_antioxidant')})")
    # The effect itself, not eff(): eff's rounded corner adds 5e-10 at rest, and the induction must be
    # exactly 0 where no product is given (paracrine_antioxidant is then the constant 0), so that
    # untreated arms compute bit for bit what they computed before the term existed. The effect is
    # x/(1 + x) of a non-negative exposure, already in [0, 1), and the product is linear: no corner.
    synthesis = "(1 + antioxidant_gsh_synthesis_gain * paracrine_antioxidant)"
    return Process(
        name=f"oxidative_stress_{s}",
        description=f"ROS, antioxidant capacity and lipid peroxidation, {SIDE_NAMES[s]}",
        states=(
            State(ros, "relative", 1.0, f"Reactive oxygen species, relative to normal ({SIDE_NAMES[s]})"),
            State(gsh, "relative", 1.0, f"Antioxidant capacity (GSH lumped), relative to normal ({SIDE_NAMES[s]})"),
            State(mda, "relative", 1.0, f"Malondialdehyde (lipid peroxidation), relative to normal ({SIDE_NAMES[s]})"),
        ),
        parameters=PARAMETERS,
        quantities=(
            Quantity(f"ros_excess_{s}", smooth_excess(f"{ros} - 1"), "relative",
                     "ROS above normal (corner smoothed over 0.1 % of normal)"),
        ),
        fluxes=(
            Flux(f"ros_production_{s}", f"k_ros * rate_scale * ({production})", "1/h",
                 "ROS production: basal + insult + inflammatory cells + hypoxia", produces={ros: 1}),
            Flux(f"ros_scavenging_{s}", f"k_ros * rate_scale * {ros} * {scavenging}", "1/h",
                 "ROS removal by antioxidants", consumes={ros: 1}),
            Flux(f"gsh_synthesis_{s}", f"k_gsh * rate_scale * {synthesis}", "1/h",
                 "GSH synthesis, raised by the paracrine antioxidant action (Nrf2/ARE → GCL)", produces={gsh: 1}),
            Flux(f"gsh_consumption_{s}", f"k_gsh * rate_scale * {gsh} * (1 + gsh_oxidation_gain * ros_excess_{s})",
                 "1/h", "GSH turnover and oxidation by excess ROS", consumes={gsh: 1}),
            Flux(f"mda_formation_{s}", f"k_mda * rate_scale * {ros}", "1/h", "Lipid peroxidation by ROS",
                 produces={mda: 1}),
            Flux(f"mda_clearance_{s}", f"k_mda * rate_scale * {mda}", "1/h", "MDA clearance", consumes={mda: 1}),
        ),
    )
