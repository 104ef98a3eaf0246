"""Fibrosis: TGF-β, myofibroblasts and collagen (fibrosis area).

Biology encoded (BIOLOGY.md §1.5)
---------------------------------
* TGF-β (excess over normal, ``tgfb``) is made by G2/M-arrested tubular cells
  (maladaptive repair), M2 macrophages, hypoxic tissue (capillary rarefaction),
  hyperfiltering remnant nephrons (∝ squared excess, so uninephrectomy's +50 % is
  nearly harmless while a 5/6-nephrectomy remnant's ~+200 % is fibrogenic) and directly by some insults (obstruction,
  proteinuria, hyperglycaemia: ``in_fibrogenic``). HGF antagonises TGF-β
  (``paracrine_hgf``).
* Myofibroblasts (``myofib``, fraction of interstitial capacity) come mostly from
  resident perivascular Gli1+ cells (Kramann 2015 Cell Stem Cell 16:51). They are
  activated by TGF-β and sustain themselves through an autocrine loop; the
  saturating (Hill) autocrine term makes fibrosis bistable, as in the
  macrophage–myofibroblast circuit of Adler et al. 2020 (iScience 23:100841):
  below a threshold they are cleared (healing), above it they persist ("cold"
  fibrosis) — the AKI→CKD tipping point.
* Collagen (``collagen``, 0–1 of the attainable excess matrix) is deposited by
  myofibroblasts and degraded slowly; the readout ``fibrosis_area`` maps it to %
  area between the normal interstitial fraction and a maximal value.
"""

from __future__ import annotations

from nephrosim.modelspec import Flux, ParameterUse, Process, Quantity, State
from nephrosim.biology.injury.common import INJURIOUS_EXCESS, SIDE_NAMES, eff, positive

PARAMETERS = (
    ParameterUse("k_tgf", "1/h", "TGF-β turnover rate constant"),
    ParameterUse("tgf_w_maladaptive", "dimensionless", "TGF-β per unit G2/M-arrested tubular cells"),
    ParameterUse("tgf_w_m2", "dimensionless", "TGF-β per unit M2 macrophages"),
    ParameterUse("tgf_w_hypoxia", "dimensionless", "TGF-β per unit hypoxia"),
    ParameterUse("tgf_w_hyperfiltration", "dimensionless", "TGF-β per unit squared excess single-nephron hyperfiltration"),
    ParameterUse("hgf_max_antitgf", "dimensionless", "Maximal reduction of TGF-β production by HGF"),
    ParameterUse("k_myo_act", "1/h", "Maximal myofibroblast activation by TGF-β"),
    ParameterUse("myo_tgf_half", "dimensionless", "TGF-β excess for half-maximal activation"),
    ParameterUse("k_myo_auto", "1/h", "Maximal autocrine myofibroblast self-maintenance"),
    ParameterUse("myo_auto_half", "dimensionless", "Myofibroblast level for half-maximal autocrine loop"),
    ParameterUse("k_myo_clear", "1/h", "Myofibroblast deactivation/apoptosis"),
    ParameterUse("k_col_dep", "1/h", "Collagen deposition per unit myofibroblasts"),
    ParameterUse("k_col_deg", "1/h", "Collagen degradation"),
    ParameterUse("fibrosis_area_baseline_pct", "%", "Interstitial (collagen) area of a normal kidney"),
    ParameterUse("fibrosis_area_max_pct", "%", "Interstitial area at maximal fibrosis"),
)


def fibrosis(side: str) -> Process:
    s = side
    tgf, myo, col = f"tgfb_{s}", f"myofib_{s}", f"collagen_{s}"
    rs = "rate_scale"
    where = SIDE_NAMES[s]
    production = (f"tgf_w_maladaptive * tub_m_{s} + tgf_w_m2 * m2_{s} + tgf_w_hypoxia * hypoxia_{s}"
                  f" + tgf_w_hyperfiltration * pow({INJURIOUS_EXCESS}, 2) + in_fibrogenic_{s}")
    return Process(
        name=f"fibrosis_{s}",
        description=f"TGF-β, myofibroblasts and collagen, {where}",
        states=(
            State(tgf, "relative", 0.0, f"TGF-β above normal ({where})"),
            State(myo, "fraction", 0.0, f"Myofibroblasts, fraction of interstitial capacity ({where})"),
            State(col, "fraction", 0.0, f"Excess collagen, fraction of the attainable maximum ({where})"),
        ),
        parameters=PARAMETERS,
        quantities=(
            Quantity(f"fibrosis_area_pct_{s}",
                     f"fibrosis_area_baseline_pct + (fibrosis_area_max_pct - fibrosis_area_baseline_pct) * {col}",
                     "%", f"Fibrosis (interstitial collagen) area ({where})"),
        ),
        fluxes=(
            Flux(f"tgfb_production_{s}",
                 f"k_tgf * {rs} * ({production}) * (1 - hgf_max_antitgf * {eff('paracrine_hgf')})", "1/h",
                 "TGF-β from arrested tubules, M2, hypoxia, hyperfiltration and the insult", produces={tgf: 1}),
            Flux(f"tgfb_clearance_{s}", f"k_tgf * {rs} * {tgf}", "1/h", "TGF-β clearance", consumes={tgf: 1}),
            Flux(f"myofib_activation_{s}",
                 f"k_myo_act * {rs} * {tgf} / ({tgf} + myo_tgf_half) * (1 - {myo})", "1/h",
                 "Pericyte/fibroblast → myofibroblast activation by TGF-β", produces={myo: 1}),
            Flux(f"myofib_autocrine_{s}",
                 f"k_myo_auto * {rs} * pow({myo}, 2) / (pow({myo}, 2) + pow(myo_auto_half, 2)) * (1 - {myo})",
                 "1/h", "Autocrine myofibroblast self-maintenance (bistable switch)", produces={myo: 1}),
            Flux(f"myofib_clearance_{s}", f"k_myo_clear * {rs} * {myo}", "1/h",
                 "Myofibroblast deactivation/apoptosis", consumes={myo: 1}),
            Flux(f"collagen_deposition_{s}", f"k_col_dep * {rs} * {myo} * (1 - {col})", "1/h",
                 "Collagen deposition", produces={col: 1}),
            Flux(f"collagen_degradation_{s}", f"k_col_deg * {rs} * {col}", "1/h", "Collagen degradation",
                 consumes={col: 1}),
        ),
    )
