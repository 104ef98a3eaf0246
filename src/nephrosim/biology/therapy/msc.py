"""MSC biodistribution, survival and secretion: where infused cells go and what they do.

Biology encoded (numbers and sources in ``parameters_therapy.csv``)
-------------------------------------------------------------------
* **IV: lung first pass.** Venous cells reach the lung within about a minute and
  stop there (size obstruction at micro-vessel bifurcations, Masterson 2021); "One
  hour after MSC infusion the majority of Cr-51 was found in the lungs" (Eggenhofer
  2012, PMID:23056000). Only ``msc_lung_passage_fraction`` pass (< 1000 of 2×10⁶
  hMSC reached six other tissues, PMC4154377); smaller cells (3D spheroids, ~¼
  volume, Bartosh 2010) pass more often (protocol ``lung_passage_fold``).
* **Lung half-life ≈ 24 h** (mouse, PMC4154377); no viable MSC elsewhere
  (Eggenhofer 2012): the later liver/spleen *signal* ("after 24 h Cr-51 was mainly
  found in the liver") follows debris of dead cells, tracked as
  ``msc_label_liver_spleen``, not live cells.
* **Arterial routes bypass the lung.** A renal-artery bolus meets the kidney first
  (first-pass renal fraction 1); a suprarenal-aortic bolus sends the renal share of
  aortic flow to the kidneys. The kidney keeps a fraction ``msc_kidney_retention``
  that rises with injury (SDF-1-like homing; Tögel 2008: kidney localization only
  in AKI); the rest lodge in other capillary beds or return to the veins (→ lung).
* **Microembolism.** Cells retained from an arterial route plug glomerular and
  pre-capillary vessels; the ischemic harm ``msc_microembolism`` (0–1) is a
  steep (Hill n = 2) function of intravascular kidney cells per kg, calibrated so
  1×10⁶ renal-artery MSC harm a rat kidney and 1×10⁵ do not (PLoS One 2014
  e92347). The injury model reads it as an extra ischemic insult.
* **Survival.** Each compartment loses cells with its half-life; kidney cells die
  faster under oxidative stress and inflammation; an arm's immune clearance fold
  (sensitized repeat dose) multiplies every death rate of that lot.
* **Secretion.** Living cells secrete each paracrine class at a rate scaled by the
  lot's potency (protocol, donor, knockouts) and licensed by inflammation; IFN-γ
  pre-licensing adds a transient excess of the anti-inflammatory class that decays
  with ``protocol_priming_half_life_h``. Kidney-resident cells count
  ``msc_kidney_local_enrichment`` times (local concentration); lung-trapped cells
  act systemically (TSG-6 from lung emboli, PMC4154377).

Each dose is an SBML event, so an exported scenario doses identically in any SBML
tool.
"""

from __future__ import annotations

from typing import Sequence

from nephrosim.modelspec import Event, Flux, ParameterUse, Process, Quantity, Readout, State
from nephrosim.biology.therapy.base import ArmContext, Contribution, register_product, therapy_scale
from nephrosim.biology.therapy.host import smooth_max
from nephrosim.biology.therapy.paracrine import MECHANISMS
from nephrosim.biology.therapy.potency import lot_attributes

#: Compartment receiving a dose, per route.
ROUTE_ENTRY = {
    "iv": "venous",
    "intra_arterial_aorta": "arterial_bolus",
    "renal_artery": "arterial_bolus",
    "intraparenchymal": "kidney",
    "subcapsular": "kidney",
    "intraperitoneal": "peritoneum",
}
ARTERIAL_ROUTES = ("intra_arterial_aorta", "renal_artery")
#: Which knockout removes which mechanism (il10/tsg6: their share of the anti-inflammatory class).
KNOCKOUT_MECHANISM = {"vegf": "paracrine_vegf", "hgf": "paracrine_hgf", "igf1": "paracrine_igf1",
                      "il10": "paracrine_antiinflammatory", "tsg6": "paracrine_antiinflammatory",
                      "rna_cargo": "paracrine_ev_rna"}
ALLOGENEIC = ("allogeneic", "xenogeneic_human")

COMPARTMENTS = {
    "venous": "Viable MSC in venous blood (before the lung)",
    "arterial_bolus": "Arterially injected MSC on their first pass",
    "arterial": "Viable MSC in arterial blood after passing the lung or a capillary bed",
    "lung": "Viable MSC trapped in lung capillaries",
    "kidney": "Viable MSC in the kidneys",
    "liver_spleen": "Viable MSC in liver and spleen",
    "other": "Viable MSC in other capillary beds",
    "peritoneum": "MSC in the peritoneal cavity",
}

SHARED_PARAMETERS = (
    ParameterUse("msc_lung_uptake_per_h", "1/h", "Rate at which venous MSC reach the lung (circulation time)"),
    ParameterUse("msc_lung_passage_fraction", "dimensionless", "Fraction of adherent MSC passing the lung per pass"),
    ParameterUse("msc_lung_half_life_h", "h", "Half-life of MSC trapped in lung"),
    ParameterUse("msc_kidney_half_life_h", "h", "Half-life of MSC in an unstressed kidney"),
    ParameterUse("msc_liver_spleen_half_life_h", "h", "Half-life of MSC in liver/spleen"),
    ParameterUse("msc_other_half_life_h", "h", "Half-life of MSC in other capillary beds"),
    ParameterUse("msc_label_half_life_h", "h", "Persistence of dead-MSC label/debris in liver and spleen"),
    ParameterUse("msc_kidney_stress_death_gain", "dimensionless", "Extra kidney-MSC death at maximal oxidative stress/inflammation (fold − 1)"),
    ParameterUse("msc_arterial_transit_per_h", "1/h", "Rate at which an arterial bolus reaches its first capillary bed"),
    ParameterUse("msc_systemic_renal_flow_fraction", "dimensionless", "Kidneys' share of arterial (cardiac) output"),
    ParameterUse("msc_aorta_renal_flow_fraction", "dimensionless", "Kidneys' share of a suprarenal-aortic bolus"),
    ParameterUse("msc_kidney_retention_healthy", "dimensionless", "First-pass kidney retention of arterial MSC, healthy kidney"),
    ParameterUse("msc_kidney_retention_injured", "dimensionless", "First-pass kidney retention of arterial MSC, maximally injured kidney"),
    ParameterUse("msc_systemic_capillary_retention", "dimensionless", "First-pass retention of arterial MSC in non-renal capillary beds"),
    ParameterUse("msc_liver_spleen_share", "dimensionless", "Liver/spleen share of MSC retained in non-renal beds"),
    ParameterUse("msc_peritoneal_absorption_per_h", "1/h", "Absorption of intraperitoneal MSC into blood"),
    ParameterUse("msc_kidney_local_enrichment", "dimensionless", "Weight of kidney-resident vs systemic MSC secretion on kidney exposure"),
    ParameterUse("msc_licensing_gain", "dimensionless", "Secretion gain at maximal inflammation (licensing; fold − 1)"),
    ParameterUse("protocol_priming_half_life_h", "h", "Half-life of the excess secretion after cytokine pre-licensing"),
    ParameterUse("msc_embolism_half_max_cells_per_kg", "cells/kg", "Intravascular kidney MSC per kg body weight giving half-maximal microembolic harm"),
    ParameterUse("msc_allogeneic_clearance_fold", "dimensionless", "Clearance of allogeneic vs syngeneic MSC in a naive recipient"),
    ParameterUse("msc_xenogeneic_clearance_fold", "dimensionless", "Clearance of human MSC in a naive rodent vs syngeneic MSC"),
    ParameterUse("msc_sensitized_clearance_fold", "dimensionless", "Clearance of donor cells in a recipient with donor-specific antibodies"),
    ParameterUse("msc_dsa_probability_per_course", "dimensionless", "Probability of donor-specific antibodies after one allogeneic MSC course"),
    ParameterUse("msc_xenogeneic_sensitization_probability", "dimensionless", "Probability of anti-donor antibodies after one xenogeneic course"),
    ParameterUse("body_weight_kg", "kg", "Body weight"),
)


def _potencies(treatment, attrs: dict, table, species: str) -> dict[str, float]:
    """Per-mechanism potency of one lot (protocol × knockouts; the donor factor is a separate
    model parameter, ``ArmContext.donor``, so ensembles can vary it)."""
    base = attrs["overall_potency"]
    pot = {m: base * attrs[f"potency_{m.removeprefix('paracrine_')}"] for m in MECHANISMS}
    ko = set(getattr(treatment, "knockouts", ()))
    for k in ko:
        mech = KNOCKOUT_MECHANISM[k]
        if k in ("il10", "tsg6"):
            share = table.record(f"msc_antiinflammatory_share_{k}", species).value
            pot[mech] -= base * attrs["potency_antiinflammatory"] * share
        else:
            pot[mech] = 0.0
    return {m: max(0.0, v) for m, v in pot.items()}


def _sensitization_weight(treatment, dose_time: float, ctx: ArmContext, table) -> str:
    """Expression for the probability that the recipient is sensitized at this dose.

    ``sensitized: true/false`` is taken as given. Automatic (``None``): an allogeneic
    or xenogeneic dose given at least ``msc_sensitization_delay_h`` after m earlier
    doses of such cells is sensitized with probability 1 − (1 − p)^m (p per course:
    ``msc_dsa_probability_per_course`` = 11.5 %, Sanabria-de la Torre 2021; the
    expected-value clearance is used, i.e. the population mean).
    """
    if treatment.sensitized is not None:
        return "1" if treatment.sensitized else "0"
    if treatment.donor not in ALLOGENEIC:
        return "0"
    delay = table.record("msc_sensitization_delay_h", ctx.species).value
    prior = 0
    for t in ctx.treatments:
        if t.product == "msc" and t.donor in ALLOGENEIC:
            prior += sum(1 for s in t.dose_times_h() if s <= dose_time - delay)
    if prior == 0:
        return "0"
    p = ("msc_xenogeneic_sensitization_probability" if treatment.donor == "xenogeneic_human"
         else "msc_dsa_probability_per_course")
    return f"(1 - (1 - {p})^{prior})"


@register_product("msc")
def build_msc(treatments, species: str, body_weight_kg: float, ctx: ArmContext) -> list[Contribution]:
    table = ctx.table
    lots = []
    for t in treatments:  # one lot per treatment: repeat doses are events into its compartments
        i = ctx.next_index("msc")
        p = f"msc{i}"
        attrs = lot_attributes(t.effective_protocol(), table)
        c = Contribution()
        donor = ctx.donor(t, c)
        c.scale = max(1.0, t.dose_cells(body_weight_kg))
        c.states += [State(f"{p}_{k}", "cells", 0.0, f"{d} (lot {i})", scale=c.scale)
                     for k, d in COMPARTMENTS.items()]
        c.states += [
            State(f"{p}_clearance_fold", "dimensionless", 1.0, f"Immune clearance fold of lot {i} (sensitization)"),
            State(f"{p}_priming_excess", "dimensionless", 0.0, f"Excess anti-inflammatory secretion from pre-licensing, lot {i}"),
        ]
        pot = _potencies(t, attrs, table, species)
        for m, v in pot.items():
            c.values[f"{p}_potency_{m.removeprefix('paracrine_')}"] = v
            c.parameters.append(ParameterUse(f"{p}_potency_{m.removeprefix('paracrine_')}", "dimensionless",
                                             f"Secretion potency of lot {i} for {m}"))
        c.values[f"{p}_lung_passage_fold"] = attrs["lung_passage_fold"]
        c.values[f"{p}_cell_volume_ratio"] = attrs["cell_volume_ratio"]
        c.values[f"{p}_priming_excess_at_dose"] = attrs["priming_antiinflammatory_excess"]
        first_pass = {"renal_artery": "1", "intra_arterial_aorta": "msc_aorta_renal_flow_fraction"}.get(
            t.route, "msc_systemic_renal_flow_fraction")
        c.parameters += [
            ParameterUse(f"{p}_lung_passage_fold", "dimensionless", f"Lung passage of lot {i} relative to adherent MSC"),
            ParameterUse(f"{p}_cell_volume_ratio", "dimensionless", f"Cell volume of lot {i} relative to adherent MSC"),
            ParameterUse(f"{p}_priming_excess_at_dose", "dimensionless", f"Pre-licensing secretion excess of lot {i} at dose"),
        ]
        cf = f"{p}_clearance_fold"
        q = [
            Quantity(f"{p}_lung_passage", f"min(1, msc_lung_passage_fraction * {p}_lung_passage_fold)",
                     "dimensionless", f"Fraction of lot {i} passing the lung per pass"),
            Quantity(f"{p}_secreting", f"msc_kidney_local_enrichment * {p}_kidney + {p}_lung + {p}_liver_spleen"
                     f" + {p}_other + {p}_peritoneum", "cells", f"Kidney-exposure-weighted secreting cells of lot {i}"),
        ]
        c.quantities += q
        circ = "msc_lung_uptake_per_h"
        tr = "msc_arterial_transit_per_h"
        fl = []
        fl.append(Flux(f"{p}_lung_trapping", f"{circ} * (1 - {p}_lung_passage) * {p}_venous", "cells/h",
                       "Venous MSC stopped in lung capillaries", {f"{p}_venous": 1}, {f"{p}_lung": 1}))
        fl.append(Flux(f"{p}_lung_passage_flux", f"{circ} * {p}_lung_passage * {p}_venous", "cells/h",
                       "Venous MSC passing the lung", {f"{p}_venous": 1}, {f"{p}_arterial": 1}))
        for src, frac in (("arterial_bolus", first_pass), ("arterial", "msc_systemic_renal_flow_fraction")):
            a = f"{p}_{src}"
            fl += [
                Flux(f"{a}_to_kidney", f"{tr} * {frac} * msc_kidney_retention * {a}", "cells/h",
                     "Arterial MSC retained by the kidney", {a: 1}, {f"{p}_kidney": 1}),
                Flux(f"{a}_to_liver_spleen", f"{tr} * (1 - {frac}) * msc_systemic_capillary_retention"
                     f" * msc_liver_spleen_share * {a}", "cells/h", "Arterial MSC lodging in liver/spleen",
                     {a: 1}, {f"{p}_liver_spleen": 1}),
                Flux(f"{a}_to_other", f"{tr} * (1 - {frac}) * msc_systemic_capillary_retention"
                     f" * (1 - msc_liver_spleen_share) * {a}", "cells/h", "Arterial MSC lodging in other beds",
                     {a: 1}, {f"{p}_other": 1}),
                Flux(f"{a}_to_venous", f"{tr} * ({frac} * (1 - msc_kidney_retention) + (1 - {frac})"
                     f" * (1 - msc_systemic_capillary_retention)) * {a}", "cells/h",
                     "Arterial MSC passing a capillary bed back to the veins", {a: 1}, {f"{p}_venous": 1}),
            ]
        fl.append(Flux(f"{p}_peritoneal_absorption", f"msc_peritoneal_absorption_per_h * {p}_peritoneum",
                       "cells/h", "Intraperitoneal MSC absorbed into blood", {f"{p}_peritoneum": 1}, {f"{p}_venous": 1}))
        for comp, hl, extra in (("lung", "msc_lung_half_life_h", ""),
                                ("kidney", "msc_kidney_half_life_h", " * msc_kidney_stress_factor"),
                                ("liver_spleen", "msc_liver_spleen_half_life_h", ""),
                                ("other", "msc_other_half_life_h", "")):
            debris = {} if comp == "kidney" else {"msc_label_liver_spleen": 1}
            fl.append(Flux(f"{p}_{comp}_death", f"ln(2) / {hl} * {cf}{extra} * {p}_{comp}", "cells/h",
                           f"Death/clearance of {comp} MSC (label/debris to liver and spleen)",
                           {f"{p}_{comp}": 1}, debris))
        fl.append(Flux(f"{p}_priming_decay", f"ln(2) / protocol_priming_half_life_h * {p}_priming_excess",
                       "1/h", "Decay of pre-licensing after infusion", {f"{p}_priming_excess": 1}))
        c.fluxes += fl

        entry = f"{p}_{ROUTE_ENTRY[t.route]}"
        for k, time_h in enumerate(t.dose_times_h(), start=1):
            dose = f"{p}_dose_{k}_cells"
            c.values[dose] = t.dose_cells(body_weight_kg)
            c.parameters.append(ParameterUse(dose, "cells", f"Cells given in dose {k} of lot {i}"))
            c.increments.append((time_h, entry, dose))
            w = _sensitization_weight(t, time_h, ctx, table)
            donor_fold = {"allogeneic": "msc_allogeneic_clearance_fold",
                          "xenogeneic_human": "msc_xenogeneic_clearance_fold"}.get(t.donor, "1")
            c.sets.append((time_h, cf, f"{donor_fold} * (1 + {w} * (msc_sensitized_clearance_fold - 1))"))
            c.sets.append((time_h, f"{p}_priming_excess", f"max({p}_priming_excess, {p}_priming_excess_at_dose)"))

        for comp in ("lung", "kidney", "liver_spleen", "other", "peritoneum"):
            c.totals.setdefault(f"msc_{comp}", []).append(f"{p}_{comp}")
        c.totals.setdefault("msc_blood", []).extend([f"{p}_venous", f"{p}_arterial", f"{p}_arterial_bolus"])
        if t.route in ARTERIAL_ROUTES:
            c.totals.setdefault("msc_intravascular_kidney", []).append(f"{p}_cell_volume_ratio * {p}_kidney")
        for m in MECHANISMS:
            key = m.removeprefix("paracrine_")
            term = f"{donor} * {p}_potency_{key} * msc_licensing * {p}_secreting"
            if key == "antiinflammatory":
                term += f" * (1 + {p}_priming_excess)"
            c.secretion.setdefault(m, []).append(term)
        lots.append(c)
    return lots


#: Totals every arm defines (0 when nothing was given), with their readouts.
TOTALS = {
    "msc_blood": ("cells", "Viable MSC in blood"),
    "msc_lung": ("cells", "Viable MSC in lung"),
    "msc_kidney": ("cells", "Viable MSC in kidney"),
    "msc_liver_spleen": ("cells", "Viable MSC in liver and spleen"),
    "msc_other": ("cells", "Viable MSC in other capillary beds"),
    "msc_peritoneum": ("cells", "MSC in the peritoneal cavity"),
    "msc_intravascular_kidney": ("cells", "Volume-weighted MSC lodged in kidney vessels from arterial routes"),
    "ev_plasma": ("reference doses", "EVs in plasma (reference EV doses, see ev_reference_dose_*)"),
    "ev_kidney": ("reference doses", "EVs taken up by the kidneys (reference EV doses)"),
    "ev_liver_spleen": ("reference doses", "EVs taken up by liver and spleen (reference EV doses)"),
}

ACCUMULATORS = {
    "msc_kidney_cell_hours": ("cell*h", "msc_kidney", "Kidney MSC exposure: integral of viable kidney MSC over time"),
    "msc_retained_cell_days": ("cell*d", "msc_tissue_total / 24",
                               "Viable MSC retained in tissues, integrated (tumorigenicity exposure)"),
    "msc_fibrogenic_cell_days": ("cell*d", "msc_kidney * therapy_fibrosis_signal / 24",
                                 "Kidney MSC-days in a fibrotic milieu (fibrogenicity exposure)"),
}

LABEL_DESCRIPTION = ("Label/debris of dead MSC in liver and spleen, in cell equivalents (what Cr-51/111In "
                     "imaging sees after IV; not viable cells)")

THERAPY_READOUTS = (
    Readout("msc_label_liver_spleen", "msc_label_liver_spleen", "cells", LABEL_DESCRIPTION),
    *(Readout(n, n, u, d) for n, (u, d) in TOTALS.items()),
    Readout("msc_tissue_total", "msc_tissue_total", "cells", "Viable MSC in all tissues"),
    Readout("msc_microembolism", "msc_microembolism", "dimensionless",
            "Microembolic ischemic harm of arterially delivered MSC (0–1; read by the injury model)"),
    *(Readout(n, n, u, d) for n, (u, _, d) in ACCUMULATORS.items()),
    *(Readout(m, m, "dimensionless", d) for m, d in MECHANISMS.items()),
    *(Readout(f"{m}_exposure", f"{m}_exposure", "dimensionless", f"Normalized exposure behind {m} (1 = EC50)")
      for m in MECHANISMS),
)


def biodistribution(lots: Sequence[Contribution] = (), events: Sequence[Event] = ()) -> Process:
    """Cell and EV compartments of every lot of an arm, totals, risk accumulators, readouts.

    ``biodistribution(())`` is the empty version every vehicle arm carries: no states, every
    therapy readout a constant 0, so every arm answers the same readouts.
    """
    states = [s for lot in lots for s in lot.states]
    fluxes = [f for lot in lots for f in lot.fluxes]
    quantities = [q for lot in lots for q in lot.quantities]
    params = list(SHARED_PARAMETERS) if lots else []
    params += [u for lot in lots for u in lot.parameters]
    totals: dict[str, list[str]] = {n: [] for n in TOTALS}
    for lot in lots:
        for k, terms in lot.totals.items():
            totals[k].extend(terms)
    for n, (unit, desc) in TOTALS.items():
        quantities.append(Quantity(n, " + ".join(totals[n]) or "0", unit, desc))
    quantities.append(Quantity("msc_tissue_total", "msc_lung + msc_kidney + msc_liver_spleen + msc_other"
                               " + msc_peritoneum", "cells", "Viable MSC in all tissues"))
    if lots:
        quantities += [
            Quantity("msc_kidney_retention", "msc_kidney_retention_healthy + (msc_kidney_retention_injured"
                     " - msc_kidney_retention_healthy) * therapy_injury_signal", "dimensionless",
                     "First-pass kidney retention of arterial MSC (homing rises with injury)"),
            Quantity("msc_kidney_stress_factor", "1 + msc_kidney_stress_death_gain * "
                     + smooth_max("therapy_oxidative_signal", "therapy_inflammation_signal"), "dimensionless",
                     "Kidney-MSC death-rate multiplier from oxidative stress/inflammation"),
            Quantity("msc_licensing", "1 + msc_licensing_gain * therapy_inflammation_signal", "dimensionless",
                     "Secretion licensing by inflammation"),
            Quantity("msc_embolic_load", "msc_intravascular_kidney / (body_weight_kg"
                     " * msc_embolism_half_max_cells_per_kg)", "dimensionless",
                     "Intravascular kidney MSC relative to the half-harm load"),
            Quantity("msc_microembolism", "msc_embolic_load^2 / (1 + msc_embolic_load^2)", "dimensionless",
                     "Microembolic ischemic harm (0–1), read by the injury model"),
        ]
    else:
        quantities.append(Quantity("msc_microembolism", "0", "dimensionless", "Microembolic harm (none given)"))
        quantities += [Quantity(f"{m}_exposure", "0", "dimensionless", f"Exposure behind {m} (none given)")
                       for m in MECHANISMS]
    # Vehicle arms define these as constant 0 quantities, not inert states: inert states would
    # dilute the integrator's RMS error norm and loosen its accuracy for the rest of the model.
    if lots:
        scale = therapy_scale(lots)
        states.append(State("msc_label_liver_spleen", "cells", 0.0, LABEL_DESCRIPTION, scale=scale))
        fluxes.append(Flux("msc_label_clearance", "ln(2) / msc_label_half_life_h * msc_label_liver_spleen",
                           "cells/h", "Degradation of MSC label/debris in liver and spleen",
                           consumes={"msc_label_liver_spleen": 1}))
        for n, (unit, rate, desc) in ACCUMULATORS.items():
            states.append(State(n, unit, 0.0, desc, scale=scale))
            fluxes.append(Flux(f"{n}_accumulation", rate, f"{unit}/h", desc, produces={n: 1}))
    else:
        quantities.append(Quantity("msc_label_liver_spleen", "0", "cells", LABEL_DESCRIPTION))
        quantities += [Quantity(n, "0", unit, desc) for n, (unit, _, desc) in ACCUMULATORS.items()]
    return Process(
        name="msc_biodistribution",
        description="Biodistribution and survival of infused MSC and EVs; therapy risk exposures",
        states=tuple(states),
        parameters=tuple(params),
        quantities=tuple(quantities),
        fluxes=tuple(fluxes),
        events=tuple(events),
        readouts=THERAPY_READOUTS,
    )
