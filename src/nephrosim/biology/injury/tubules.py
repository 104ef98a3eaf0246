"""Tubular epithelium: injury, death, dedifferentiation, proliferation, adaptive and maladaptive repair.

Biology encoded (BIOLOGY.md §1.2)
---------------------------------
Fractions of the proximal-tubular epithelial compartment (sum ≤ 1; the rest is
denuded basement membrane, ``vacancy``):

* healthy ``tub_h`` → injured (sublethal) ``tub_i`` under stress (insult + excess
  ROS + hypoxia + TNF); injured cells recover, die (``tub_d``, necrosis/apoptosis)
  if the stress persists — death needs a strong stress (rate ∝ stress²/(stress +
  half)), so low-grade chronic stress injures without killing — or
  dedifferentiate (``tub_p``).
* dead cells slough into the lumen (casts/debris ``casts``), leaving denuded
  membrane; casts are washed out.
* surviving epithelium — dedifferentiated cells and healthy neighbours of denuded
  membrane — proliferates into the vacancy: "differentiated epithelial cells that
  survived injury undergo proliferative expansion" (Humphreys 2008 Cell Stem Cell:
  50.5 % Ki67+ outer-medullary epithelium 2 days after mouse IRI). There is no
  separate stem-cell pool.
* proliferating cells redifferentiate once the membrane is covered (adaptive
  repair) or arrest in G2/M (``tub_m``, maladaptive, profibrotic), more so under
  hypoxia and TGF-β; arrested cells resolve slowly.

Paracrine therapy effects: HGF, IGF-1 and EV RNA reduce injury and death
(``1 − max·effect`` each); HGF and EV RNA speed proliferation; HGF lowers
maladaptive arrest. Rates scale with ``rate_scale``; recovery, regeneration, exit from
arrest and cast wash-out with ``repair_rate_scale`` (:mod:`nephrosim.biology.injury.common`).

Repair-phase action (a dose into an established injury)
-------------------------------------------------------
The actions above act mostly while cells are being injured; a dose given a day or two
later meets an epithelium that is already dead, dedifferentiated or arrested. Growth
factors given then still help: HGF 30 min after rat renal ischaemia "stimulates the
recovery of normal kidney function and the regeneration of proximal tubular epithelium"
(Miller 1994, Am J Physiol), IGF-I given 24 h after it "hastens recovery and accelerates
regeneration or repair of damaged epithelia" (PMID 8023974); EV mRNA/miRNA cargo drives
tubular proliferation (Bruno 2009). The repair signal of HGF, IGF-1 and EV RNA (independent
action, gated like every tubular action) speeds the regeneration cycle of dedifferentiated
cells — division onto denuded membrane and redifferentiation once it is covered — and the
exit from G2/M arrest::

    repair = vegf_gate · (1 − (1 − HGF)·(1 − IGF-1)·(1 − EV RNA))            (0–1)
    tub_p division onto vacancy, tub_p → tub_h   × (1 + repair_max_regeneration · repair)
    tub_m → tub_h (exit from arrest)             × (1 + repair_max_arrest_exit · repair)

Division and redifferentiation share one factor because only dividing ``tub_p`` cells
re-cover denuded membrane here: speeding redifferentiation alone drained that pool and left
membrane bare longer (mouse 30-min IRI, MSC at +24 h: vacancy at day 7 ×4.5, GFR gain at day 7 −9 %).
Less *entry* into arrest is the existing ``hgf_max_antimaladaptive``. Both maxima are
assumed (a full effect doubles the rate, as ``hgf_max_prolif`` doubles proliferation); their
ranges start at 0, the model without a repair-phase action, because how much late doses do
is open: "late administration (>1 day) after injury" tended to a greater SCr reduction (Wang
2013, 21 studies), timing was "not associated with efficacy" (Papazova 2015), and stem cells
did not change proliferation vs control (Shang 2021). See docs/therapy.md §7d.

How the factors combine: cooperatively with VEGF
------------------------------------------------
A share ``d`` (``tubular_protection_vegf_dependence``) of every tubular paracrine
action needs concurrent VEGF-class signalling; the rest acts alone::

    vegf_gate = 1 − d · K / (K + paracrine_vegf)      (K = vegf_permissive_half)

so ``gate = 1`` when VEGF is plentiful and ``1 − d`` without it. Three observations
that a redundant (independent, multiplicative) combination cannot reproduce together:

* VEGF is necessary: VEGF-knockdown MSC lose effectiveness in "the early and late
  phase of renoprotective action" (Tögel 2009, rat IRI);
* VEGF is not sufficient: VEGF-121 alone "had no effect on the initial loss of renal
  function, as indicated by serum creatinine levels measured 24 h after injury" while
  it preserved microvessel density (Leonard, Friedrich & Basile 2008, AJP Renal
  295:F1648, rat IRI);
* RNA and VEGF are both needed: MSC-EVs "could deliver human VEGF directly to renal
  tubular epithelial cells", yet "all the beneficial effects of EVs were abrogated by
  RNase treated except for the delivery of human VEGF" (Zou et al. 2016, Am J Transl
  Res 8:4289, rat IRI).

``d = 0`` restores the redundant model; the value is assumed (docs/therapy.md §7b).
The capillary actions of VEGF (capillaries.py) are not gated: VEGF alone preserves
microvessels (Leonard 2008).
"""

from __future__ import annotations

from nephrosim.modelspec import Flux, ParameterUse, Process, Quantity, State
from nephrosim.biology.injury.common import SIDE_NAMES, eff, positive

PARAMETERS = (
    ParameterUse("k_tub_injury", "1/h", "Healthy → injured per unit stress"),
    ParameterUse("k_tub_death", "1/h", "Injured → dead per unit stress"),
    ParameterUse("tub_death_half", "dimensionless", "Stress at which the death rate per unit stress is half-maximal"),
    ParameterUse("k_tub_recovery", "1/h", "Injured → healthy (sublethal recovery)"),
    ParameterUse("k_tub_dediff", "1/h", "Injured → dedifferentiated/proliferating"),
    ParameterUse("k_tub_activation", "1/h", "Healthy cells next to denuded membrane entering the cycle"),
    ParameterUse("k_tub_prolif", "1/h", "Proliferation of dedifferentiated cells into denuded membrane"),
    ParameterUse("k_tub_redif", "1/h", "Redifferentiation once the membrane is covered"),
    ParameterUse("k_tub_maladaptive", "1/h", "Proliferating → G2/M-arrested (maladaptive)"),
    ParameterUse("maladaptive_base", "dimensionless", "Maladaptive arrest without hypoxia or TGF-β"),
    ParameterUse("maladaptive_w_tgfb", "dimensionless", "Maladaptive arrest per unit TGF-β excess"),
    ParameterUse("k_tub_m_resolve", "1/h", "Resolution of G2/M-arrested cells"),
    ParameterUse("k_tub_slough", "1/h", "Sloughing of dead cells into the lumen"),
    ParameterUse("k_cast_clear", "1/h", "Wash-out of intratubular casts"),
    ParameterUse("tub_w_ros", "dimensionless", "Tubular stress per unit excess ROS"),
    ParameterUse("tub_w_hypoxia", "dimensionless", "Tubular stress per unit hypoxia"),
    ParameterUse("tub_w_tnf", "dimensionless", "Tubular stress per unit TNF-class cytokine"),
    ParameterUse("tub_w_microembolism", "dimensionless",
                 "Tubular stress per unit MSC microembolism (renal-artery delivery lodges cells in the left kidney)"),
    ParameterUse("hgf_max_survival", "dimensionless", "Maximal reduction of tubular injury/death by HGF-class factors"),
    ParameterUse("igf1_max_survival", "dimensionless", "Maximal reduction of tubular injury/death by IGF-1"),
    ParameterUse("ev_max_survival", "dimensionless", "Maximal reduction of tubular injury/death by EV RNA cargo"),
    ParameterUse("hgf_max_prolif", "dimensionless", "Maximal rise in tubular proliferation by HGF"),
    ParameterUse("ev_max_prolif", "dimensionless", "Maximal rise in tubular proliferation by EV RNA cargo"),
    ParameterUse("hgf_max_antimaladaptive", "dimensionless", "Maximal reduction of maladaptive arrest by HGF"),
    ParameterUse("repair_max_regeneration", "dimensionless",
                 "Maximal speed-up of the regeneration cycle of dedifferentiated cells (division onto denuded"
                 " membrane and redifferentiation) by the paracrine repair signal"),
    ParameterUse("repair_max_arrest_exit", "dimensionless",
                 "Maximal speed-up of the exit of G2/M-arrested cells by the paracrine repair signal"),
    ParameterUse("tubular_protection_vegf_dependence", "dimensionless",
                 "Share of the tubular paracrine protection that needs concurrent VEGF-class signalling"),
    ParameterUse("vegf_permissive_half", "dimensionless",
                 "Paracrine VEGF effect at which half of the VEGF-dependent tubular protection is permitted"),
)


def tubular_protection() -> Process:
    """Whole-body paracrine modifiers of tubular fate (shared by both kidneys)."""
    return Process(
        name="tubular_protection",
        description="Paracrine modifiers of tubular survival, proliferation, repair and arrest",
        parameters=PARAMETERS,
        quantities=(
            Quantity("vegf_gate",
                     f"1 - {eff('tubular_protection_vegf_dependence')} * vegf_permissive_half"
                     f" / (vegf_permissive_half + {eff('paracrine_vegf')})", "dimensionless",
                     "Share of the tubular paracrine protection realised at the present VEGF-class signal"),
            Quantity("tubular_survival_factor",
                     f"1 - vegf_gate * (1 - (1 - hgf_max_survival * {eff('paracrine_hgf')})"
                     f" * (1 - igf1_max_survival * {eff('paracrine_igf1')})"
                     f" * (1 - ev_max_survival * {eff('paracrine_ev_rna')}))", "dimensionless",
                     "Multiplier of tubular injury and death (1 = no therapy)"),
            Quantity("tubular_prolif_factor",
                     f"1 + vegf_gate * (hgf_max_prolif * {eff('paracrine_hgf')} + ev_max_prolif * {eff('paracrine_ev_rna')})",
                     "dimensionless", "Multiplier of tubular proliferation (1 = no therapy)"),
            Quantity("tubular_maladaptive_factor", f"1 - vegf_gate * hgf_max_antimaladaptive * {eff('paracrine_hgf')}",
                     "dimensionless", "Multiplier of maladaptive arrest (1 = no therapy)"),
            Quantity("tubular_repair_signal",
                     f"vegf_gate * (1 - (1 - {eff('paracrine_hgf')}) * (1 - {eff('paracrine_igf1')})"
                     f" * (1 - {eff('paracrine_ev_rna')}))", "dimensionless",
                     "Repair-phase signal of HGF, IGF-1 and EV RNA acting independently (0 = no therapy, 1 = full)"),
            Quantity("tubular_regeneration_factor", "1 + repair_max_regeneration * tubular_repair_signal",
                     "dimensionless",
                     "Multiplier of division onto denuded membrane and redifferentiation of dedifferentiated cells"
                     " (1 = no therapy)"),
            Quantity("tubular_arrest_exit_factor", "1 + repair_max_arrest_exit * tubular_repair_signal",
                     "dimensionless", "Multiplier of the exit from G2/M arrest (1 = no therapy)"),
        ),
    )


def tubules(side: str) -> Process:
    s = side
    h, i, d, p, m = (f"tub_{x}_{s}" for x in "hidpm")
    c = f"casts_{s}"
    stress = f"tubular_stress_{s}"
    vac = f"vacancy_{s}"
    rs = "rate_scale"
    rr = "repair_rate_scale"  # recovery, regeneration, arrest exit, cast wash-out (common.py: own allometry)
    where = SIDE_NAMES[s]
    return Process(
        name=f"tubules_{s}",
        description=f"Proximal-tubular epithelial fates, {where}",
        states=(
            State(h, "fraction", 1.0, f"Healthy differentiated tubular epithelium ({where})"),
            State(i, "fraction", 0.0, f"Sublethally injured tubular epithelium ({where})"),
            State(d, "fraction", 0.0, f"Dead (necrotic/apoptotic) tubular cells still in place ({where})"),
            State(p, "fraction", 0.0, f"Dedifferentiated, proliferating (Ki67+) tubular cells ({where})"),
            State(m, "fraction", 0.0, f"G2/M-arrested, profibrotic (maladaptive) tubular cells ({where})"),
            State(c, "fraction", 0.0, f"Intratubular casts/debris, in units of the epithelium ({where})"),
        ),
        quantities=(
            Quantity(stress, f"in_tubular_stress_{s} + tub_w_ros * ros_excess_{s} + tub_w_hypoxia * hypoxia_{s}"
                             f" + tub_w_tnf * tnf_{s}" + (" + tub_w_microembolism * msc_microembolism" if s == "l" else ""),
                     "dimensionless", f"Stress on tubular cells ({where})"),
            Quantity(vac, positive(f"1 - {h} - {i} - {d} - {p} - {m}"), "fraction",
                     f"Denuded tubular basement membrane ({where})"),
            Quantity(f"epithelium_{s}", f"{h} + {i} + {p} + {m}", "fraction", f"Living tubular epithelium ({where})"),
            Quantity(f"ki67_fraction_{s}", f"{p} / max(1e-6, epithelium_{s})", "fraction",
                     f"Fraction of living tubular cells in the cycle ({where})"),
            Quantity(f"tubular_transport_{s}", f"{h} + 0.5 * {m}", "fraction",
                     f"Transporting (differentiated) epithelium ({where})"),
        ),
        fluxes=(
            Flux(f"tub_injury_{s}", f"k_tub_injury * {rs} * {stress} * {h} * tubular_survival_factor", "1/h",
                 "Healthy cells injured by stress", consumes={h: 1}, produces={i: 1}),
            Flux(f"tub_death_{s}", f"k_tub_death * {rs} * {stress} * {stress} / ({stress} + tub_death_half) * {i} * tubular_survival_factor", "1/h",
                 "Injured cells die under persisting stress", consumes={i: 1}, produces={d: 1}),
            Flux(f"tub_recovery_{s}", f"k_tub_recovery * {rr} * {i}", "1/h", "Sublethal injury repaired",
                 consumes={i: 1}, produces={h: 1}),
            Flux(f"tub_dediff_{s}", f"k_tub_dediff * {rs} * {i}", "1/h", "Injured cells dedifferentiate",
                 consumes={i: 1}, produces={p: 1}),
            Flux(f"tub_activation_{s}", f"k_tub_activation * {rr} * {vac} * {h} * tubular_prolif_factor", "1/h",
                 "Healthy neighbours of denuded membrane re-enter the cycle", consumes={h: 1}, produces={p: 1}),
            Flux(f"tub_proliferation_{s}",
                 f"k_tub_prolif * {rr} * {p} * {vac} * tubular_prolif_factor * tubular_regeneration_factor", "1/h",
                 "Division of dedifferentiated cells onto denuded membrane", produces={p: 1}),
            Flux(f"tub_redifferentiation_{s}",
                 f"k_tub_redif * {rr} * {p} * (1 - {vac}) * tubular_regeneration_factor", "1/h",
                 "Adaptive repair: redifferentiation once covered", consumes={p: 1}, produces={h: 1}),
            Flux(f"tub_maladaptive_{s}",
                 f"k_tub_maladaptive * {rs} * {p} * (maladaptive_base + hypoxia_{s} + maladaptive_w_tgfb * tgfb_{s})"
                 " * tubular_maladaptive_factor", "1/h",
                 "Maladaptive repair: G2/M arrest", consumes={p: 1}, produces={m: 1}),
            Flux(f"tub_m_resolution_{s}", f"k_tub_m_resolve * {rr} * {m} * tubular_arrest_exit_factor", "1/h",
                 "Slow resolution of arrested cells", consumes={m: 1}, produces={h: 1}),
            Flux(f"tub_slough_{s}", f"k_tub_slough * {rs} * {d}", "1/h",
                 "Dead cells slough into the lumen as casts", consumes={d: 1}, produces={c: 1}),
            Flux(f"cast_insult_{s}", f"k_tub_slough * {rs} * in_casts_{s}", "1/h",
                 "Casts formed by the insult itself (haem pigment)", produces={c: 1}),
            Flux(f"cast_clearance_{s}", f"k_cast_clear * {rr} * {c}", "1/h", "Casts washed out", consumes={c: 1}),
        ),
    )
