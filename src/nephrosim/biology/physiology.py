"""Kidney function as an observation layer: GFR, creatinine and urea mass balance.

Biology encoded
---------------
* GFR is a model quantity: the species' normal GFR (per kg body weight) times the
  pre-existing kidney function (CKD baseline) times a time-varying *function factor*
  supplied by the injury processes (1 = normal).
* Creatinine mass balance (Waikar & Bonventre 2009, J Am Soc Nephrol 20:672,
  doi:10.1681/ASN.2008070669, "solved differential equations on the basis of mass
  balance principles")::

      V · dC/dt = G − CL_cr(t) · C,   CL_cr = GFR + tubular secretion

  with V = total body water (0.6 × body weight in humans) and G = production.
  Mice secrete about half of renal creatinine excretion in the tubule (J Vis Exp
  2013, doi:10.3791/50330); secretion falls with tubular function.
* Urea (reported as BUN, urea *nitrogen*) follows the same balance with a clearance
  of GFR × (1 − fraction reabsorbed); its production is set so that a healthy
  animal sits at the species' normal BUN.
* An insult may expand the distribution volume for a while (``volume_factor``; the
  fluid given during cardiac surgery on bypass): SCr and BUN are then diluted while the
  amounts in the body stay what the mass balance says (Ho 2012, PMID 21967775: 52 % of
  patients have SCr > 10 % below baseline within 6 h of surgery). Amounts start at the
  pre-insult steady state of the *unexpanded* volume.

All numbers come from the parameter table (``nephrosim params``).
"""

from __future__ import annotations

from nephrosim.modelspec import Flux, ParameterUse, Process, Quantity, Readout, State

PARAMETERS = (
    ParameterUse("body_weight_kg", "kg", "Body weight"),
    ParameterUse("tbw_fraction", "dimensionless", "Total body water / body weight (creatinine and urea distribution volume)"),
    ParameterUse("gfr_ml_min_per_kg", "mL/min/kg", "Normal GFR per kg body weight"),
    ParameterUse("baseline_kidney_function", "dimensionless", "Pre-existing kidney function, fraction of normal (CKD < 1)"),
    ParameterUse("creatinine_production_mg_per_kg_h", "mg/kg/h", "Creatinine generation rate"),
    ParameterUse("creatinine_secretion_fraction", "dimensionless", "Share of renal creatinine excretion by tubular secretion (healthy kidney)"),
    ParameterUse("bun_normal_mg_dl", "mg/dL", "Normal blood urea nitrogen"),
    ParameterUse("urea_reabsorbed_fraction", "dimensionless", "Fraction of filtered urea reabsorbed"),
    ParameterUse("ml_min_to_dl_h", "(dL/h)/(mL/min)", "Unit conversion: 60 min/h / 100 mL/dL"),
)


def kidney_function(function_factor: str = "1", secretion_factor: str | None = None,
                    volume_factor: str | None = None) -> Process:
    """The creatinine/urea observation layer.

    Arguments
    ---------
    function_factor : expression for GFR relative to the baseline (1 = unchanged).
        Injury processes provide it (e.g. ``"clearance_change_factor"``).
    secretion_factor : expression for tubular creatinine secretion relative to
        baseline; defaults to ``function_factor``.
    volume_factor : expression for the creatinine/urea distribution volume relative to
        total body water before the insult (``None``: unchanged, the expressions of a model
        without it are exactly those of before).

    Returns
    -------
    The :class:`~nephrosim.modelspec.Process`.
    """
    secretion_factor = secretion_factor or function_factor
    if volume_factor is None:
        volume = (Quantity("body_water_dl", "tbw_fraction * body_weight_kg * 10", "dL",
                           "Creatinine/urea distribution volume = total body water (10 dL per L)"),)
        initial_volume = "body_water_dl"
    else:
        volume = (Quantity("body_water_baseline_dl", "tbw_fraction * body_weight_kg * 10", "dL",
                           "Total body water before the insult (10 dL per L)"),
                  Quantity("body_water_dl", f"body_water_baseline_dl * ({volume_factor})", "dL",
                           "Creatinine/urea distribution volume: total body water plus the insult's fluid excess"))
        initial_volume = "body_water_baseline_dl"
    quantities = (
        *volume,
        Quantity("gfr_healthy_ml_min", "gfr_ml_min_per_kg * body_weight_kg", "mL/min",
                 "GFR of a healthy animal of this body weight"),
        Quantity("gfr_baseline_ml_min", "gfr_healthy_ml_min * baseline_kidney_function", "mL/min",
                 "GFR before the insult (reduced in CKD)"),
        Quantity("kidney_function_factor", function_factor, "dimensionless",
                 "GFR relative to the pre-insult baseline"),
        Quantity("gfr_ml_min", "gfr_baseline_ml_min * kidney_function_factor", "mL/min",
                 "Glomerular filtration rate"),
        Quantity("creatinine_secretion_ml_min",
                 "gfr_baseline_ml_min * creatinine_secretion_fraction / (1 - creatinine_secretion_fraction)"
                 f" * ({secretion_factor})", "mL/min",
                 "Tubular creatinine secretion expressed as a clearance"),
        Quantity("creatinine_clearance_ml_min", "gfr_ml_min + creatinine_secretion_ml_min", "mL/min",
                 "Renal creatinine clearance (filtration + secretion)"),
        Quantity("creatinine_production_mg_h", "creatinine_production_mg_per_kg_h * body_weight_kg",
                 "mg/h", "Creatinine generation (muscle)"),
        Quantity("serum_creatinine_mg_dl", "creatinine / body_water_dl", "mg/dL", "Serum creatinine"),
        Quantity("urea_clearance_ml_min", "gfr_ml_min * (1 - urea_reabsorbed_fraction)", "mL/min",
                 "Renal urea clearance"),
        Quantity("urea_nitrogen_production_mg_h",
                 "bun_normal_mg_dl * ml_min_to_dl_h * gfr_healthy_ml_min * (1 - urea_reabsorbed_fraction)",
                 "mg/h", "Urea-nitrogen generation, set so a healthy animal sits at normal BUN"),
        Quantity("bun_mg_dl", "urea_nitrogen / body_water_dl", "mg/dL", "Blood urea nitrogen"),
    )
    states = (
        State("creatinine", "mg",
              "creatinine_production_mg_h / (ml_min_to_dl_h * gfr_baseline_ml_min"
              f" / (1 - creatinine_secretion_fraction)) * {initial_volume}",
              "Creatinine in body water; starts at the pre-insult steady state"),
        State("urea_nitrogen", "mg", f"bun_normal_mg_dl / baseline_kidney_function * {initial_volume}",
              "Urea nitrogen in body water; starts at the pre-insult steady state"),
    )
    fluxes = (
        Flux("creatinine_generation", "creatinine_production_mg_h", "mg/h",
             "Creatinine released from muscle", produces={"creatinine": 1}),
        Flux("creatinine_excretion",
             "ml_min_to_dl_h * creatinine_clearance_ml_min * serum_creatinine_mg_dl", "mg/h",
             "Renal creatinine excretion", consumes={"creatinine": 1}),
        Flux("urea_generation", "urea_nitrogen_production_mg_h", "mg/h",
             "Hepatic urea synthesis", produces={"urea_nitrogen": 1}),
        Flux("urea_excretion", "ml_min_to_dl_h * urea_clearance_ml_min * bun_mg_dl", "mg/h",
             "Renal urea excretion", consumes={"urea_nitrogen": 1}),
    )
    readouts = (
        Readout("serum_creatinine", "serum_creatinine_mg_dl", "mg/dL", "Serum creatinine",
                ("umol/L",)),
        Readout("bun", "bun_mg_dl", "mg/dL", "Blood urea nitrogen",
                ("mmol/L",)),
        Readout("gfr", "gfr_ml_min", "mL/min", "Glomerular filtration rate",
                ("uL/min", "mL/min/kg", "mL/min/1.73m2")),
        Readout("creatinine_clearance", "creatinine_clearance_ml_min", "mL/min",
                "Renal creatinine clearance", ("uL/min", "mL/min/kg")),
    )
    return Process(
        name="kidney_function",
        description="GFR and creatinine/urea mass balance (observation layer)",
        states=states,
        parameters=PARAMETERS,
        quantities=quantities,
        fluxes=fluxes,
        readouts=readouts,
    )


#: The substance behind each readout, for mass ↔ molar unit conversion.
READOUT_SUBSTANCE = {"serum_creatinine": "creatinine", "bun": "urea_nitrogen"}
