"""Insults that drive the kidney injury–repair core (:mod:`nephrosim.biology.injury`).

Each builder adds the whole core plus the insult's own time courses, written as
SBML expressions of ``time`` (pulses ``exp(−t/τ)``) or as insult states (drug
pharmacokinetics, myoglobin, podocyte injury) — never as Python callbacks. Time 0
is the insult: reperfusion, dosing, ligation, puncture or surgery. Insult time
constants are given for a mouse and scale with ``rate_scale`` like the core's.

Per-kidney inputs use the convention of the core: the left kidney is the
ipsilateral (clamped, obstructed, remnant) kidney.

Sources of the designs and of the calibration targets are in
``shared/evidence/untreated_timecourses.*`` and the parameter table
(``parameters_injury.csv``).
"""

from __future__ import annotations

from dataclasses import replace

from nephrosim.biology.injury import FUNCTION_FACTOR, SECRETION_FACTOR, injury_core, insult_inputs
from nephrosim.biology.injury.common import SIDES, input_rest_values, positive
from nephrosim.biology.insults.base import InsultSpec, register_insult
from nephrosim.modelspec import Event, Flux, ParameterUse, Process, Quantity, State


#: State that is 0 before the insult and 1 from t = 0 on (switched by an event, so the
#: solver stops and restarts exactly at the insult).
INSULT_STARTED = "insult_started"


def before_insult(expr: str, rest: str = "0") -> str:
    """``expr`` from the insult (t = 0) on, ``rest`` before it.

    Integration starts before t = 0 when a product is given before the insult
    (pre-treatment, e.g. MSC 24 h before the clamp). Nothing of the insult may act
    then: its pulses ``exp(−t/τ)`` would grow backwards in time, and a drug dose held
    as an initial amount would already distribute. Without pre-treatment integration
    starts at t = 0 with the switch already on, and nothing changes.
    """
    if rest == "0":
        return f"{INSULT_STARTED} * ({expr})"
    return f"({rest}) + {INSULT_STARTED} * (({expr}) - ({rest}))"


def _insult_onset() -> Process:
    return Process(
        name="insult_onset",
        description="The insult happens at t = 0 (earlier times exist only with pre-treatment)",
        states=(State(INSULT_STARTED, "dimensionless", 0.0, "1 once the insult has happened (t ≥ 0), else 0"),),
        events=(Event("insult_onset", 0.0, {INSULT_STARTED: "1"}, "The insult: reperfusion, dosing, ligation, "
                      "puncture or surgery"),),
    )


def core_insult(*processes: Process, inputs: dict | None = None, values: dict | None = None) -> InsultSpec:
    """An :class:`InsultSpec` with the full injury core driven by ``inputs``.

    The insult starts at t = 0: every insult input sits at its resting value and
    every flux of the insult's own processes is 0 before it (:func:`before_insult`),
    so a dose given as an initial amount (cisplatin, glycerol) stays inert until
    t = 0. Surgical changes of nephron mass (nephrectomy) are initial conditions and
    so are in place from the start of integration. Sham has no insult to gate.
    """

    if inputs or processes:
        rest = input_rest_values()
        inputs = {name: before_insult(expr, rest[name]) for name, expr in (inputs or {}).items()}
        processes = (_insult_onset(), *(
            replace(p, fluxes=tuple(replace(f, rate=before_insult(f.rate)) for f in p.fluxes)) for p in processes))
    return InsultSpec(
        processes=(*processes, insult_inputs(**(inputs or {})), *injury_core()),
        values=dict(values or {}),
        function_factor=FUNCTION_FACTOR,
        secretion_factor=SECRETION_FACTOR,
    )


def _both(name: str, expr: str) -> dict:
    return {f"{name}_{s}": expr for s in SIDES}


def _hill(x: str, half: str, n: str) -> str:
    x = positive(x)  # guard: a non-integer power of a round-off negative is NaN
    return f"pow({x}, {n}) / (pow({x}, {n}) + pow({half}, {n}))"


# --------------------------------------------------------------------------- sham
@register_insult("sham")
def sham(injury, species: str) -> InsultSpec:
    """Sham operation: the full core with zero insult; every state stays at steady state."""
    return core_insult()


# --------------------------------------------------------------------------- IRI
@register_insult("ischemia_reperfusion")
def ischemia_reperfusion(injury, species: str) -> InsultSpec:
    """Warm ischaemia–reperfusion.

    The severity of the ischaemic hit rises steeply (Hill) with the temperature-
    corrected clamp time, ``t_eff = clamp_min · Q10^((T − 37)/10)``: hypothermia
    protects (rat, 40 min: 24-h SCr 2.2 at 37 °C vs 0.62 mg/dL at 32–33 °C, Zager).
    At reperfusion the clamped kidney(s) receive a decaying pulse of tubular stress,
    ROS and endothelial injury, ``severity · max · exp(−t/τ)`` (the burst is not
    scaled allometrically).
    """
    process = Process(
        name="ischemia_reperfusion",
        description="Ischaemic hit at reperfusion",
        parameters=(
            ParameterUse("iri_clamp_min", "min", "Clamp time"),
            ParameterUse("iri_temperature_c", "degC", "Body temperature during the clamp"),
            ParameterUse("iri_left", "dimensionless", "1 if the left kidney is clamped"),
            ParameterUse("iri_right", "dimensionless", "1 if the right kidney is clamped"),
            ParameterUse("iri_q10", "dimensionless", "Q10 of ischaemic injury with temperature"),
            ParameterUse("iri_t50_min", "min", "Effective clamp time giving half-maximal ischaemic severity"),
            ParameterUse("iri_hill", "dimensionless", "Steepness of severity vs clamp time"),
            ParameterUse("iri_reperfusion_tau_h", "h", "Decay time of the reperfusion hit (not scaled: a physical burst)"),
            ParameterUse("iri_stress_max", "dimensionless", "Tubular stress at full severity"),
            ParameterUse("iri_ros_max", "dimensionless", "Extra ROS production at full severity"),
            ParameterUse("iri_endothelial_max", "dimensionless", "Endothelial drive at full severity"),
        ),
        quantities=(
            Quantity("iri_effective_min", "iri_clamp_min * pow(iri_q10, (iri_temperature_c - 37) / 10)", "min",
                     "Clamp time corrected to 37 °C"),
            Quantity("iri_severity", _hill("iri_effective_min", "iri_t50_min", "iri_hill"), "dimensionless",
                     "Ischaemic severity (0–1)"),
            Quantity("iri_pulse", "iri_severity * exp(-time / iri_reperfusion_tau_h)", "dimensionless",
                     "Reperfusion hit over time"),
        ),
    )
    inputs = {}
    for s, flag in (("l", "iri_left"), ("r", "iri_right")):
        inputs[f"in_tubular_stress_{s}"] = f"{flag} * iri_stress_max * iri_pulse"
        inputs[f"in_ros_{s}"] = f"{flag} * iri_ros_max * iri_pulse"
        # the endothelial hit acts in physical time: undo the allometric scaling of its rate
        inputs[f"in_endothelial_{s}"] = f"{flag} * iri_endothelial_max * iri_pulse / rate_scale"
    values = {
        "iri_clamp_min": injury.clamp_min,
        "iri_temperature_c": injury.temperature_c,
        "iri_left": 1.0,
        "iri_right": 1.0 if injury.bilateral else 0.0,
    }
    if injury.contralateral_nephrectomy:
        values["nephron_mass_initial_r"] = 0.0
    return core_insult(process, inputs=inputs, values=values)


# --------------------------------------------------------------------------- cisplatin
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
        ),
    )
    inputs = {**_both("in_tubular_stress", f"cis_stress_gain * {s3}"), **_both("in_ros", f"cis_ros_gain * {s2}")}
    return core_insult(process, inputs=inputs, values={"cis_dose_mg_per_kg": injury.dose_mg_per_kg})


# --------------------------------------------------------------------------- glycerol
@register_insult("glycerol")
def glycerol(injury, species: str) -> InsultSpec:
    """Glycerol rhabdomyolysis: myoglobin/haem released from the injected muscle
    causes tubular toxicity, haem casts, ROS and renal vasoconstriction, with a
    steep dose threshold (rat: 3.75 mL/kg alone no ARF; mortality rises above
    7.5 mL/kg) and casts at 6 h → necrosis at 24 h → regeneration from 48 h."""
    rs = "rate_scale"
    process = Process(
        name="glycerol",
        description="Myoglobin release after glycerol injection",
        states=(
            State("gly_depot", "mL/kg", "gly_dose_ml_per_kg", "Injured muscle still releasing myoglobin (dose units)"),
            State("gly_heme", "mL/kg", 0.0, "Circulating/filtered myoglobin haem (dose-equivalent units)"),
        ),
        parameters=(
            ParameterUse("gly_dose_ml_per_kg", "mL/kg", "50 % glycerol dose"),
            ParameterUse("gly_k_release", "1/h", "Myoglobin release from injured muscle (mouse)"),
            ParameterUse("gly_k_heme_clear", "1/h", "Haem clearance (mouse)"),
            ParameterUse("gly_heme_half", "mL/kg", "Haem level (dose-equivalent) for half-maximal toxicity"),
            ParameterUse("gly_hill", "dimensionless", "Steepness of haem toxicity"),
            ParameterUse("gly_stress_max", "dimensionless", "Tubular stress at full toxicity"),
            ParameterUse("gly_cast_max", "dimensionless", "Haem cast formation at full toxicity"),
            ParameterUse("gly_ros_max", "dimensionless", "Extra ROS at full toxicity"),
            ParameterUse("gly_perfusion_drop", "dimensionless", "Fall in renal perfusion at full toxicity"),
        ),
        quantities=(
            Quantity("gly_toxicity", _hill("gly_heme", "gly_heme_half", "gly_hill"), "dimensionless",
                     "Haem toxicity (0–1)"),
        ),
        fluxes=(
            Flux("gly_release", f"gly_k_release * {rs} * gly_depot", "mL/kg/h", "Myoglobin release",
                 consumes={"gly_depot": 1}, produces={"gly_heme": 1}),
            Flux("gly_heme_clearance", f"gly_k_heme_clear * {rs} * gly_heme", "mL/kg/h", "Haem clearance",
                 consumes={"gly_heme": 1}),
        ),
    )
    inputs = {
        **_both("in_tubular_stress", "gly_stress_max * gly_toxicity"),
        **_both("in_casts", "gly_cast_max * gly_toxicity"),
        **_both("in_ros", "gly_ros_max * gly_toxicity"),
        **_both("in_perfusion", "1 - gly_perfusion_drop * gly_toxicity"),
    }
    return core_insult(process, inputs=inputs, values={"gly_dose_ml_per_kg": injury.dose_ml_per_kg})


# --------------------------------------------------------------------------- sepsis
def _septic_process(name: str, drive: str, params: tuple[ParameterUse, ...]) -> Process:
    return Process(
        name=name,
        description="Systemic inflammatory drive of sepsis/endotoxaemia",
        parameters=params + (
            ParameterUse("sepsis_perfusion_drop", "dimensionless", "Fall in effective renal microvascular perfusion per unit drive"),
            ParameterUse("sepsis_endothelial_gain", "dimensionless", "Endothelial drive per unit systemic drive"),
            ParameterUse("sepsis_hazard_gain", "1/h", "Death hazard per unit squared systemic drive (mouse)"),
        ),
        quantities=(Quantity("septic_drive", drive, "dimensionless", "Systemic inflammatory drive"),),
    )


def _septic_inputs() -> dict:
    return {
        "in_inflammation": "septic_drive",
        **_both("in_perfusion", "1 / (1 + sepsis_perfusion_drop * septic_drive)"),
        **_both("in_endothelial", "sepsis_endothelial_gain * septic_drive"),
        "in_hazard": "sepsis_hazard_gain * rate_scale * pow(septic_drive, 2)",
    }


@register_insult("sepsis_clp")
def sepsis_clp(injury, species: str) -> InsultSpec:
    """Caecal ligation and puncture: a polymicrobial focus whose systemic drive
    rises over hours and resolves over days (``severity`` scales it), acting on the
    kidney through TNF, microvascular dysfunction and endothelial injury; sepsis
    adds its own death hazard (mouse CLP 7-day survival 48 %)."""
    drive = ("clp_severity * clp_drive_max * (exp(-time * rate_scale / clp_tau_off_h)"
             " - exp(-time * rate_scale / clp_tau_on_h))")
    process = _septic_process("sepsis_clp", drive, (
        ParameterUse("clp_severity", "dimensionless", "CLP severity (1 = standard)"),
        ParameterUse("clp_drive_max", "dimensionless", "Scale of the septic drive"),
        ParameterUse("clp_tau_on_h", "h", "Rise time of the septic drive (mouse)"),
        ParameterUse("clp_tau_off_h", "h", "Resolution time of the septic drive (mouse)"),
    ))
    return core_insult(process, inputs=_septic_inputs(), values={"clp_severity": injury.severity})


@register_insult("lps")
def lps(injury, species: str) -> InsultSpec:
    """Endotoxin: a short systemic cytokine storm (peak within hours) whose size
    saturates with dose; 2 mg/kg gives no AKI in normal mice."""
    drive = ("lps_drive_max * lps_dose_mg_per_kg / (lps_dose_mg_per_kg + lps_d50_mg_per_kg)"
             " * (exp(-time * rate_scale / lps_tau_off_h) - exp(-time * rate_scale / lps_tau_on_h))")
    process = _septic_process("lps", drive, (
        ParameterUse("lps_dose_mg_per_kg", "mg/kg", "LPS dose"),
        ParameterUse("lps_drive_max", "dimensionless", "Scale of the endotoxin drive"),
        ParameterUse("lps_d50_mg_per_kg", "mg/kg", "Dose for half-maximal drive"),
        ParameterUse("lps_tau_on_h", "h", "Rise time (mouse)"),
        ParameterUse("lps_tau_off_h", "h", "Decay time (mouse)"),
    ))
    return core_insult(process, inputs=_septic_inputs(), values={"lps_dose_mg_per_kg": injury.dose_mg_per_kg})


# --------------------------------------------------------------------------- UUO
@register_insult("uuo")
def uuo(injury, species: str) -> InsultSpec:
    """Unilateral (left) ureteral obstruction: filtration of the obstructed kidney
    falls (rat single-nephron GFR 112 → 34 nL/min at 24 h), tubular stretch stresses
    the epithelium and drives TGF-β directly, renal blood flow falls; the right
    kidney compensates, so serum creatinine stays near normal."""
    process = Process(
        name="uuo",
        description="Left ureteral obstruction",
        parameters=(
            ParameterUse("uuo_gfr_fall", "dimensionless", "Fractional fall in filtration of the obstructed kidney"),
            ParameterUse("uuo_stress", "dimensionless", "Tubular stress in the obstructed kidney"),
            ParameterUse("uuo_fibrogenic", "dimensionless", "Direct TGF-β drive of obstruction"),
            ParameterUse("uuo_perfusion_drop", "dimensionless", "Fall in perfusion of the obstructed kidney"),
        ),
    )
    inputs = {
        "in_obstruction_l": "uuo_gfr_fall",
        "in_tubular_stress_l": "uuo_stress",
        "in_fibrogenic_l": "uuo_fibrogenic",
        "in_perfusion_l": "1 - uuo_perfusion_drop",
    }
    return core_insult(process, inputs=inputs)


# --------------------------------------------------------------------------- 5/6 Nx
@register_insult("nephrectomy_5_6")
def nephrectomy_5_6(injury, species: str) -> InsultSpec:
    """5/6 nephrectomy: right kidney removed and two thirds of the left resected
    or infarcted at time 0. The remnant hyperfilters; hyperfiltration drives TGF-β
    and glomerular loss, so GFR declines progressively."""
    return core_insult(values={"nephron_mass_initial_l": 1.0 / 3.0, "nephron_mass_initial_r": 0.0})


# --------------------------------------------------------------------------- adriamycin
@register_insult("adriamycin")
def adriamycin(injury, species: str) -> InsultSpec:
    """Adriamycin nephropathy: a dose-dependent podocyte injury that develops over
    days and repairs slowly; podocyte loss drives glomerulosclerosis (nephron loss),
    proteinuric tubular stress and TGF-β."""
    rs = "rate_scale"
    process = Process(
        name="adriamycin",
        description="Adriamycin podocyte injury",
        states=(State("adr_podocyte_injury", "fraction", 0.0, "Podocyte injury/loss (0–1)"),),
        parameters=(
            ParameterUse("adr_dose_mg_per_kg", "mg/kg", "Adriamycin dose"),
            ParameterUse("adr_d50_mg_per_kg", "mg/kg", "Dose for half-maximal podocyte toxicity"),
            ParameterUse("adr_hill", "dimensionless", "Steepness of dose response"),
            ParameterUse("adr_k_injury", "1/h", "Podocyte injury rate at full toxicity (mouse)"),
            ParameterUse("adr_tau_h", "h", "Decay time of tissue adriamycin toxicity (mouse)"),
            ParameterUse("adr_k_repair", "1/h", "Podocyte recovery (mouse)"),
            ParameterUse("adr_fibrogenic_gain", "dimensionless", "TGF-β drive per unit podocyte injury"),
            ParameterUse("adr_tubular_gain", "dimensionless", "Proteinuric tubular stress per unit podocyte injury"),
        ),
        quantities=(
            Quantity("adr_toxicity", _hill("adr_dose_mg_per_kg", "adr_d50_mg_per_kg", "adr_hill")
                     + " * exp(-time * rate_scale / adr_tau_h)", "dimensionless", "Podocyte toxicity over time"),
        ),
        fluxes=(
            Flux("adr_injury", f"adr_k_injury * {rs} * adr_toxicity * (1 - adr_podocyte_injury)", "1/h",
                 "Podocyte injury", produces={"adr_podocyte_injury": 1}),
            Flux("adr_repair", f"adr_k_repair * {rs} * adr_podocyte_injury", "1/h", "Podocyte recovery",
                 consumes={"adr_podocyte_injury": 1}),
        ),
    )
    inputs = {
        **_both("in_glomerular", "adr_podocyte_injury"),
        **_both("in_fibrogenic", "adr_fibrogenic_gain * adr_podocyte_injury"),
        **_both("in_tubular_stress", "adr_tubular_gain * adr_podocyte_injury"),
    }
    return core_insult(process, inputs=inputs, values={"adr_dose_mg_per_kg": injury.dose_mg_per_kg})


# --------------------------------------------------------------------------- STZ
@register_insult("stz_diabetes")
def stz_diabetes(injury, species: str) -> InsultSpec:
    """Streptozotocin diabetes: β-cell loss above a dose threshold gives
    hyperglycaemia within days; diabetes causes early hyperfiltration, oxidative
    stress, TGF-β and slow glomerular loss (diabetic nephropathy)."""
    process = Process(
        name="stz_diabetes",
        description="Streptozotocin-induced hyperglycaemia",
        parameters=(
            ParameterUse("stz_dose_mg_per_kg", "mg/kg", "STZ dose"),
            ParameterUse("stz_d50_mg_per_kg", "mg/kg", "Dose giving diabetes in half the animals"),
            ParameterUse("stz_hill", "dimensionless", "Steepness of the dose response"),
            ParameterUse("stz_onset_tau_h", "h", "Onset time of hyperglycaemia (mouse)"),
            ParameterUse("stz_hyperfiltration_max", "dimensionless", "Extra single-nephron GFR in diabetes"),
            ParameterUse("stz_fibrogenic_gain", "dimensionless", "TGF-β drive of hyperglycaemia"),
            ParameterUse("stz_ros_gain", "dimensionless", "Extra ROS of hyperglycaemia"),
            ParameterUse("stz_glomerular_gain", "dimensionless", "Glomerular injury input of hyperglycaemia"),
        ),
        quantities=(
            Quantity("stz_hyperglycaemia", _hill("stz_dose_mg_per_kg", "stz_d50_mg_per_kg", "stz_hill")
                     + " * (1 - exp(-time * rate_scale / stz_onset_tau_h))", "dimensionless",
                     "Diabetic state (0–1)"),
        ),
    )
    inputs = {
        "in_hyperfiltration": "stz_hyperfiltration_max * stz_hyperglycaemia",
        **_both("in_fibrogenic", "stz_fibrogenic_gain * stz_hyperglycaemia"),
        **_both("in_ros", "stz_ros_gain * stz_hyperglycaemia"),
        **_both("in_glomerular", "stz_glomerular_gain * stz_hyperglycaemia"),
    }
    return core_insult(process, inputs=inputs, values={"stz_dose_mg_per_kg": injury.dose_mg_per_kg})


# --------------------------------------------------------------------------- cardiac surgery
@register_insult("cardiac_surgery")
def cardiac_surgery(injury, species: str) -> InsultSpec:
    """Cardiac surgery on bypass (human): renal hypoperfusion/ischaemia during
    bypass whose severity rises with bypass time, and a systemic inflammatory
    response; pre-operative eGFR sets the baseline kidney function
    (``baseline_egfr / 100``; normal mGFR ≈ 100 mL/min/1.73 m² to age 35)."""
    process = Process(
        name="cardiac_surgery",
        description="Bypass-associated renal ischaemia and inflammation",
        parameters=(
            ParameterUse("cpb_bypass_min", "min", "Cardiopulmonary bypass time"),
            ParameterUse("cpb_t50_min", "min", "Bypass time for half-maximal renal hit"),
            ParameterUse("cpb_hill", "dimensionless", "Steepness of the renal hit vs bypass time"),
            ParameterUse("cpb_tau_h", "h", "Decay time of the post-bypass hit (mouse-referenced)"),
            ParameterUse("cpb_stress_max", "dimensionless", "Tubular stress at full severity"),
            ParameterUse("cpb_ros_max", "dimensionless", "Extra ROS at full severity"),
            ParameterUse("cpb_endothelial_max", "dimensionless", "Endothelial drive at full severity"),
            ParameterUse("cpb_inflammation_max", "dimensionless", "Systemic inflammatory drive at full severity"),
        ),
        quantities=(
            Quantity("cpb_severity", _hill("cpb_bypass_min", "cpb_t50_min", "cpb_hill"), "dimensionless",
                     "Renal hit severity (0–1)"),
            Quantity("cpb_pulse", "cpb_severity * exp(-time * rate_scale / cpb_tau_h)", "dimensionless",
                     "Post-bypass hit over time"),
        ),
    )
    inputs = {
        **_both("in_tubular_stress", "cpb_stress_max * cpb_pulse"),
        **_both("in_ros", "cpb_ros_max * cpb_pulse"),
        **_both("in_endothelial", "cpb_endothelial_max * cpb_pulse"),
        "in_inflammation": "cpb_inflammation_max * cpb_pulse",
    }
    values = {"cpb_bypass_min": injury.bypass_min, "baseline_kidney_function": injury.baseline_egfr / 100.0}
    return core_insult(process, inputs=inputs, values=values)
