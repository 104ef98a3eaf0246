"""Extracellular vesicles: plasma kinetics, organ uptake and RNA-cargo action.

Biology encoded (numbers and sources in ``parameters_therapy.csv``)
-------------------------------------------------------------------
* **Dose units stay explicit.** A dose in µg protein, particles or cell-equivalents
  is expressed in *reference EV doses* by dividing by that unit's own reference dose
  per kg (``ev_reference_dose_ug_protein_per_kg``, ``..._particles_per_kg``,
  ``..._cell_equivalents_per_kg``, each from the rodent AKI dose ranges); µg and
  particles are never converted into one another (no standard ratio, MISEV2018).
* **Two-phase plasma kinetics**: a fast (~2 min) and a slow (~20 min) phase
  (SECONDARY source: a citation statement quoting Takahashi 2013 / Lai 2014; the
  primary papers were not read), uptake mostly by liver and spleen (Royo 2019;
  99mTc-EV studies); the kidney's share rises with injury (Grange 2014: "the labeled
  EVs accumulated specifically in the kidneys of the mice with AKI").
* **RNA cargo.** EVs in the kidney deliver miRNA/mRNA (→ ``paracrine_ev_rna``);
  RNase-treated EVs (``knockouts: [rna_cargo]``) lose it (Bruno 2009; Gatti 2011:
  "Pretreatment of MVs with RNase ... abrogated these protective effects").
* **Anti-inflammatory RNA cargo.** Pooled over rodent AKI studies, EVs lowered TNF-α
  (SMD −2.65) and raised IL-10 (SMD +2.10), with "no significant difference ... between
  stem cell-derived EVs and stem cells" (Zhang 2020, Stem Cell Res Ther,
  doi:10.1186/s13287-019-1530-4). RNase removes every benefit (Gatti 2011; Zou 2016), so
  the action is carried by the RNA: the same kidney RNA exposure also feeds
  ``paracrine_antiinflammatory``, scaled by ``ev_antiinflammatory_relative`` (assumed).
* **VEGF protein cargo.** "EVs could deliver human VEGF directly to renal tubular
  epithelial cells" (Zou et al. 2016, Am J Transl Res 8:4289) → ``paracrine_vegf``,
  scaled by ``ev_vegf_cargo_relative`` (assumed) and by the producing cells' VEGF
  potency; RNase leaves it ("all the beneficial effects of EVs were abrogated by RNase
  treated except for the delivery of human VEGF"), and EVs of VEGF-knockdown cells
  (``knockouts: [vegf]``) lack it. The tubular protection by RNA cargo needs this
  VEGF co-signal (cooperative combination, ``model/injury/tubules.py``). Other protein
  cargo is not modelled separately.
* Arterial routes put a first-pass share straight into the kidney; subcapsular and
  intraparenchymal injection a local share; intraperitoneal EVs are absorbed slowly.
"""

from __future__ import annotations

from nephrosim.modelspec import Flux, ParameterUse, Quantity, State
from nephrosim.biology.therapy.base import ArmContext, Contribution, register_product
from nephrosim.biology.therapy.potency import lot_attributes

REFERENCE_DOSE = {
    "ug_protein": "ev_reference_dose_ug_protein_per_kg",
    "particles": "ev_reference_dose_particles_per_kg",
    "cell_equivalents": "ev_reference_dose_cell_equivalents_per_kg",
}

EV_PARAMETERS = [
    ParameterUse("ev_fast_half_life_min", "min", "Plasma half-life of the fast EV phase"),
    ParameterUse("ev_slow_half_life_min", "min", "Plasma half-life of the slow EV phase"),
    ParameterUse("ev_fast_fraction", "dimensionless", "Share of an IV EV dose in the fast phase"),
    ParameterUse("ev_kidney_uptake_fraction_healthy", "dimensionless", "Kidney share of EV uptake from plasma, healthy kidney"),
    ParameterUse("ev_injured_kidney_uptake_fold", "dimensionless", "Kidney EV uptake at maximal injury relative to healthy"),
    ParameterUse("ev_kidney_half_life_h", "h", "Persistence of EV cargo action in the kidney"),
    ParameterUse("ev_liver_spleen_half_life_h", "h", "Persistence of EVs in liver and spleen"),
    ParameterUse("ev_arterial_kidney_extraction", "dimensionless", "Kidney extraction of EVs on an arterial first pass"),
    ParameterUse("ev_local_retention", "dimensionless", "Share of a subcapsular/intraparenchymal EV dose kept in the kidney"),
    ParameterUse("ev_peritoneal_absorption_per_h", "1/h", "Absorption of intraperitoneal EVs"),
    ParameterUse("ev_kidney_ec50_reference_doses", "reference doses", "Kidney EV amount giving half-maximal RNA-cargo effect"),
    ParameterUse("ev_antiinflammatory_relative", "dimensionless",
                 "Anti-inflammatory action of EV RNA cargo per unit of its tubular (RNA-cargo) exposure"),
    ParameterUse("ev_vegf_cargo_relative", "dimensionless",
                 "VEGF-class exposure delivered by EVs per unit of RNA-cargo exposure (reference lot)"),
    ParameterUse("msc_aorta_renal_flow_fraction", "dimensionless", "Kidneys' share of a suprarenal-aortic bolus"),
    ParameterUse("body_weight_kg", "kg", "Body weight"),
    *(ParameterUse(v, f"{k}/kg", f"Reference EV dose in {k}") for k, v in REFERENCE_DOSE.items()),
]


@register_product("ev")
def build_ev(treatments, species: str, body_weight_kg: float, ctx: ArmContext) -> list[Contribution]:
    from nephrosim.biology.therapy.msc import _potencies

    table = ctx.table
    lots = []
    for t in treatments:  # one lot per treatment: repeat doses are events into its compartments
        j = ctx.next_index("ev")
        p = f"ev{j}"
        attrs = lot_attributes(t.effective_protocol(), table)
        potencies = _potencies(t, attrs, table, species)
        pot = potencies["paracrine_ev_rna"]
        c = Contribution()
        donor = ctx.donor(t, c)
        comps = {"plasma_fast": "EVs in plasma, fast phase", "plasma_slow": "EVs in plasma, slow phase",
                 "kidney": "EVs taken up by the kidneys", "liver_spleen": "EVs in liver and spleen",
                 "peritoneum": "EVs in the peritoneal cavity"}
        c.states += [State(f"{p}_{k}", "reference doses", 0.0, f"{d} (lot {j})") for k, d in comps.items()]
        c.parameters += EV_PARAMETERS + [
            ParameterUse(f"{p}_rna_potency", "dimensionless", f"RNA-cargo potency of EV lot {j}"),
            ParameterUse(f"{p}_vegf_potency", "dimensionless", f"VEGF-cargo potency of EV lot {j}"),
            ParameterUse(f"{p}_yield_fold", "dimensionless", f"EV yield per producing cell of lot {j} vs 2D"),
        ]
        c.values[f"{p}_rna_potency"] = pot
        c.values[f"{p}_vegf_potency"] = potencies["paracrine_vegf"]
        c.values[f"{p}_yield_fold"] = attrs["ev_yield_fold"]
        c.quantities.append(Quantity(
            f"{p}_kidney_uptake", "ev_kidney_uptake_fraction_healthy * (1 + (ev_injured_kidney_uptake_fold - 1)"
            " * therapy_injury_signal)", "dimensionless", f"Kidney share of EV uptake, lot {j}"))
        for phase in ("fast", "slow"):
            k = f"ln(2) / (ev_{phase}_half_life_min / 60)"
            a = f"{p}_plasma_{phase}"
            c.fluxes += [
                Flux(f"{a}_to_kidney", f"{k} * {p}_kidney_uptake * {a}", "1/h", "EV uptake by the kidneys",
                     {a: 1}, {f"{p}_kidney": 1}),
                Flux(f"{a}_to_liver_spleen", f"{k} * (1 - {p}_kidney_uptake) * {a}", "1/h",
                     "EV uptake by liver, spleen (and other organs)", {a: 1}, {f"{p}_liver_spleen": 1}),
            ]
        c.fluxes += [
            Flux(f"{p}_kidney_loss", f"ln(2) / ev_kidney_half_life_h * {p}_kidney", "1/h",
                 "Loss of EV cargo action in the kidney", {f"{p}_kidney": 1}),
            Flux(f"{p}_liver_spleen_loss", f"ln(2) / ev_liver_spleen_half_life_h * {p}_liver_spleen", "1/h",
                 "Degradation of EVs in liver/spleen", {f"{p}_liver_spleen": 1}),
            Flux(f"{p}_peritoneal_absorption", f"ev_peritoneal_absorption_per_h * {p}_peritoneum", "1/h",
                 "Absorption of intraperitoneal EVs", {f"{p}_peritoneum": 1}, {f"{p}_plasma_slow": 1}),
        ]
        ref = REFERENCE_DOSE[t.dose_unit]
        yield_term = f" / {p}_yield_fold" if t.dose_unit == "cell_equivalents" else ""
        for k, time_h in enumerate(t.dose_times_h(), start=1):
            dose = f"{p}_dose_{k}"
            c.values[dose] = float(t.dose)
            c.parameters.append(ParameterUse(dose, t.dose_unit, f"EV dose {k} of lot {j} in {t.dose_unit}"))
            d = f"{dose} / (body_weight_kg * {ref}{yield_term})"
            kid = {"renal_artery": "ev_arterial_kidney_extraction",
                   "intra_arterial_aorta": "msc_aorta_renal_flow_fraction * ev_arterial_kidney_extraction",
                   "intraparenchymal": "ev_local_retention", "subcapsular": "ev_local_retention"}.get(t.route)
            if t.route == "intraperitoneal":
                c.increments.append((time_h, f"{p}_peritoneum", d))
                continue
            rest = f"(1 - {kid})" if kid else "1"
            if kid:
                c.increments.append((time_h, f"{p}_kidney", f"{kid} * {d}"))
            c.increments.append((time_h, f"{p}_plasma_fast", f"ev_fast_fraction * {rest} * {d}"))
            c.increments.append((time_h, f"{p}_plasma_slow", f"(1 - ev_fast_fraction) * {rest} * {d}"))
        c.totals = {"ev_plasma": [f"{p}_plasma_fast", f"{p}_plasma_slow"], "ev_kidney": [f"{p}_kidney"],
                    "ev_liver_spleen": [f"{p}_liver_spleen"]}
        rna = f"{donor} * {p}_rna_potency * {p}_kidney / ev_kidney_ec50_reference_doses"
        c.exposure["paracrine_ev_rna"] = [rna]
        c.exposure["paracrine_antiinflammatory"] = [f"ev_antiinflammatory_relative * {rna}"]
        c.exposure["paracrine_vegf"] = [
            f"ev_vegf_cargo_relative * {donor} * {p}_vegf_potency * {p}_kidney / ev_kidney_ec50_reference_doses"]
        lots.append(c)
    return lots
