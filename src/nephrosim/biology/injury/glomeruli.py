"""Glomeruli: hyperfiltration- and toxin-driven glomerular (podocyte) injury, proteinuria and
glomerulosclerosis — the main endpoints of the CKD studies.

Biology encoded
---------------
* Remnant nephrons hyperfilter (:mod:`nephrosim.biology.injury.nephrons`); hyperfiltration
  "injures glomeruli" there and drives the progressive loss of the remnant. Here that injury is
  a state: ``glom_{s}``, the fraction of the kidney's remaining glomeruli with a podocyte /
  segmental sclerotic lesion (0–1). It is driven by the squared excess single-nephron
  hyperfiltration (the same drive the core's nephron loss and TGF-β use, so uninephrectomy's
  +50 % is nearly harmless and a 5/6-nephrectomy remnant's ~+200 % is not) and by the insult's
  glomerular toxicity (``in_glomerular``: adriamycin podocyte injury, diabetes), and it heals
  slowly (podocytes barely regenerate)::

      d glom/dt = s·[k_glom_injury·D·(1 − glom)·(1 − glom_msc_max_protection·P) − k_glom_repair·glom]
      D = max(0, hyperfiltration − 1)² + in_glomerular

* Cell therapy protects glomeruli. The CKD meta-analysis pools its largest benefit on urinary
  protein: "This was most prominent for urinary protein (SMD, 1.34; 95% CI, 1.00–1.68) and
  urea (1.09; 0.66–1.51)" (Papazova 2015, 71 articles, evidence/meta_analyses.md #3), and
  MSC in rat 5/6 nephrectomy lowered glomerulosclerosis (growth-factor-conditioned MSC,
  J Cell Mol Med 2012) and proteinuria (ASH 2008 abstract; evidence/preclinical_secretome.csv).
  The factors are not identified in the evidence; the model gives the action to the HGF and the
  anti-inflammatory (IL-10/TSG-6/PGE2) classes, independently:
  ``signal = 1 − (1 − HGF)·(1 − anti-inflammatory)``. The maximum is assumed (range from 0, the
  model without a glomerular action).
* The protection outlasts the cells. Infused MSC survive about a day and their factors hours,
  yet single doses in rat 5/6 nephrectomy acted for weeks: 0.5×10⁶ MSC i.v. gave "a marked
  reduction in plasma creatinine levels and damage markers ED-1 a[nd α-SMA]" 5 weeks later
  (Villanueva 2011), 1×10⁶ at 24 h gave greater creatinine clearance and less proteinuria at
  4 months (ASH 2008 abstract), and repeated MSC raised splenic regulatory T cells (J Cell Mol
  Med 2012; evidence/preclinical_secretome.csv). The host response that carries this (Tregs,
  reprogrammed macrophages) is not modelled cell by cell: ``P`` (``glomerular_protection``) is
  induced by the paracrine signal within hours and decays with an assumed half-life of weeks::

      dP/dt = k_glom_protection_induction·signal·(1 − P) − ln 2/glom_protection_half_life_h·P

  Its range starts at 6 h (no memory beyond the anti-inflammatory factors themselves).
  The same protection slows the glomerular nephron loss of the core, by hyperfiltration and by
  glomerular toxins (:mod:`nephrosim.biology.injury.nephrons`): that loss is the obsolescence of
  injured glomeruli. (Without it, MSC changed SCr and BUN after adriamycin by a ratio of 1.000
  too, while "BMSC transplantation reduced the 24-h urinary protein excretion, and serum
  creatinine and urea nitrogen levels" in rat adriamycin FSGS, BMC Nephrol 2018.)
* Proteinuria (readout, fold of normal): protein leaks through injured glomeruli in proportion
  to their filtration, ``1 + proteinuria_gain · Σ_s nephron_mass_s·hyperfiltration·leaky_s / 2``,
  where a glomerulus leaks if it has a lesion or if a podocyte toxin has injured its podocytes
  without one (``in_podocyte_leak``, 0–1, from the insult): ``leaky = 1 − (1 − glom)(1 − leak)``.
  The second term is why adriamycin proteinuria is nephrotic within weeks while sclerosis is
  rare: in Wistar rats after 5 mg/kg, 24-h protein rose from 5.99 (control) to 48.5, 129 and
  249 mg at days 7, 14 and 28 (curated/untreated_adriamycin.csv, UrotensinII_ADR_WistarThesis),
  whereas "only 0.3% of the glomeruli from rats with chronic nephrosis of 12 weeks' duration
  induced by one intravenous dose of adriamycin showed FSGHS lesions" (Grond 1984, PMID 6471809).
  Without a podocyte toxin the leak is 0 and the readout is the lesion term alone.
* Glomerulosclerosis (readout, % of the glomeruli the left kidney had at time 0): glomeruli
  lost since then (obsolescent) plus remaining glomeruli with a lesion,
  ``100·(1 − nephron_mass_l/nephron_mass_initial_l·(1 − glom_l))``.

Insults decide what proteinuria does to the rest of the kidney (5/6 nephrectomy: TGF-β,
:mod:`nephrosim.biology.insults.nephrectomy_5_6`); this module feeds nothing back into
the core by itself (only its shared protection slows the nephron loss of the core), so
insults that do not use it behave as before when no therapy is given.
"""

from __future__ import annotations

from nephrosim.biology.injury.common import INJURIOUS_EXCESS, SIDE_NAMES, SIDES, eff, positive
from nephrosim.modelspec import Flux, ParameterUse, Process, Quantity, State

PARAMETERS = (
    ParameterUse("k_glom_injury", "1/h", "Glomerular (podocyte) injury per unit drive (mouse)"),
    ParameterUse("k_glom_repair", "1/h", "Healing of glomerular lesions (mouse)"),
    ParameterUse("glom_msc_max_protection", "dimensionless",
                 "Maximal reduction of glomerular injury by the paracrine HGF and anti-inflammatory classes"),
    ParameterUse("k_glom_protection_induction", "1/h",
                 "Induction of the host's glomerular protection per unit paracrine signal"),
    ParameterUse("glom_protection_half_life_h", "h", "Half-life of the induced glomerular protection"),
    ParameterUse("proteinuria_gain", "dimensionless", "Proteinuria excess (fold of normal) per unit leaking glomerular filtration"),
)

#: Paracrine glomerular signal (0–1), HGF and anti-inflammatory classes acting independently.
GLOMERULAR_SIGNAL = f"(1 - (1 - {eff('paracrine_hgf')}) * (1 - {eff('paracrine_antiinflammatory')}))"


def glomeruli() -> Process:
    rs = "rate_scale"
    states = [State("glomerular_protection", "fraction", 0.0,
                    "Host glomerular protection induced by therapy (0–1), outlasting the factors")]
    fluxes = [
        Flux("glomerular_protection_induction",
             "k_glom_protection_induction * glomerular_signal * (1 - glomerular_protection)", "1/h",
             "Induction of glomerular protection by the paracrine signal", produces={"glomerular_protection": 1}),
        Flux("glomerular_protection_decay", "ln(2) / glom_protection_half_life_h * glomerular_protection", "1/h",
             "Waning of the induced protection", consumes={"glomerular_protection": 1}),
    ]
    for s in SIDES:
        g = f"glom_{s}"
        states.append(State(g, "fraction", 0.0, f"Glomeruli with a podocyte/segmental lesion ({SIDE_NAMES[s]})"))
        drive = f"(pow({INJURIOUS_EXCESS}, 2) + in_glomerular_{s})"
        fluxes += [
            Flux(f"glom_injury_{s}",
                 f"k_glom_injury * {rs} * {drive} * (1 - {g}) * (1 - glom_msc_max_protection * glomerular_protection)",
                 "1/h", "Glomerular injury by hyperfiltration and glomerular toxins", produces={g: 1}),
            Flux(f"glom_repair_{s}", f"k_glom_repair * {rs} * {g}", "1/h", "Healing of glomerular lesions",
                 consumes={g: 1}),
        ]
    quantities = (
        Quantity("glomerular_signal", GLOMERULAR_SIGNAL, "dimensionless",
                 "Paracrine glomerular signal (HGF and anti-inflammatory classes), 0–1"),
        Quantity("proteinuria_fold",
                 "1 + proteinuria_gain * hyperfiltration * (nephron_mass_l * (1 - (1 - glom_l) * (1 - in_podocyte_leak_l))"
                 " + nephron_mass_r * (1 - (1 - glom_r) * (1 - in_podocyte_leak_r))) / 2",
                 "fold", "Urinary protein excretion, fold of normal"),
        Quantity("glomerulosclerosis_pct_l",
                 "100 * (1 - nephron_mass_l / max(1e-6, nephron_mass_initial_l) * (1 - glom_l))", "%",
                 "Sclerosed or lesioned glomeruli, % of those the left kidney had at time 0"),
    )
    return Process(
        name="glomeruli",
        description="Glomerular injury, proteinuria and glomerulosclerosis",
        states=tuple(states),
        parameters=PARAMETERS,
        quantities=quantities,
        fluxes=tuple(fluxes),
    )
