"""Insult: 5/6 nephrectomy (remnant kidney).

One module per insult; the pieces every insult shares are in :mod:`nephrosim.biology.insults.core`.

Biology encoded
---------------
* Surgery (t = 0): the right kidney is removed and two thirds of the left resected or
  infarcted, leaving a sixth of the nephrons (initial conditions of the core).
* The remnant hyperfilters (:mod:`nephrosim.biology.injury.nephrons`) and its glomeruli are
  injured by it (:mod:`nephrosim.biology.injury.glomeruli`): "Significant increases in systolic
  blood pressure (SBP), TUP [total urinary protein], [(Cr)p] and [Na]E occurred after 4, 8, and
  12 weeks of 5/6N" (Faraj & Morley, untreated_timecourses); 5/6 Nx mice show "proteinuria
  (1.5-fold, p<0.01)" at 2 weeks (PMID 23071874).
* The protein leaking through injured remnant glomeruli drives tubulointerstitial TGF-β — the
  proteinuric pathway the core names for ``in_fibrogenic`` and that adriamycin nephropathy
  already uses (``adr_fibrogenic_gain``, whose value is carried over).
* Not modelled: proteinuric *tubular* stress. Carrying adriamycin's ``adr_tubular_gain`` over
  (its input, podocyte injury, is ≤ 1; the remnant's leak, hyperfiltration × lesioned share,
  reaches 2–4) injured 70 % of the remnant epithelium by week 12 and tripled SCr there, far
  beyond the "significant" but moderate rises of Faraj & Morley; there is no source to scale it.
  So the remnant has no tubular injury or inflammation, and MSC act on it through the glomeruli
  (:mod:`nephrosim.biology.injury.glomeruli`) and HGF against TGF-β.

Why therapy did nothing here before (issue 14 item 8): the 5/6-Nx remnant has no tubular
injury, no inflammation and (before) no glomerular state, so every paracrine action of MSC (tubular
survival and proliferation, capillaries, inflammation, ROS) acted on states at rest, and the one
that reached a CKD driver (HGF against TGF-β) lasted ~5 days after a dose, before hyperfiltration
had built up: treated/vehicle ratios were 1.000. See docs/ckd.md.
"""

from __future__ import annotations

from nephrosim.biology.insults.base import InsultSpec, register_insult
from nephrosim.biology.insults.core import core_insult
from nephrosim.modelspec import ParameterUse, Process, Quantity


def _proteinuric_load() -> Process:
    return Process(
        name="remnant_proteinuria",
        description="Protein leaking through injured remnant glomeruli, as a drive of the tubulointerstitium",
        parameters=(
            ParameterUse("proteinuric_fibrogenic_gain", "dimensionless",
                         "Tubulointerstitial TGF-β drive per unit leaking glomerular filtration"),
        ),
        quantities=(
            Quantity("remnant_protein_leak", "hyperfiltration * glom_l", "relative",
                     "Filtration through lesioned glomeruli per remnant nephron (relative to normal)"),
        ),
    )


@register_insult("nephrectomy_5_6")
def nephrectomy_5_6(injury, species: str) -> InsultSpec:
    """5/6 nephrectomy: right kidney removed and two thirds of the left resected
    or infarcted at time 0. The remnant hyperfilters; hyperfiltration injures its glomeruli
    (proteinuria → TGF-β) and drives glomerular loss, so GFR
    declines progressively."""
    inputs = {
        "in_fibrogenic_l": "proteinuric_fibrogenic_gain * remnant_protein_leak",
    }
    return core_insult(_proteinuric_load(), inputs=inputs,
                       values={"nephron_mass_initial_l": 1.0 / 3.0, "nephron_mass_initial_r": 0.0})
