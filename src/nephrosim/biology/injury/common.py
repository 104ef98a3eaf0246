"""Shared pieces of the injury-repair core: kidney sides, insult inputs, time scaling.

Kidneys
-------
Tissue states exist once per kidney, suffixed ``_l`` (left) and ``_r`` (right),
so that unilateral injury (UUO, unilateral IRI), nephrectomy and remnant-kidney
models work. By convention the *ipsilateral* (injured, obstructed or remnant)
kidney is the left one; histology readouts report the left kidney.

Insult inputs
-------------
Insult builders (:mod:`nephrosim.biology.insults`) drive the core only through the
dimensionless input quantities defined here (all 0, perfusion 1, when there is no
insult). Their time courses are SBML expressions of ``time`` or insult states —
never Python callbacks.

Time scaling across species
---------------------------
Biological rate constants in ``parameters_injury.csv`` are given for a 25 g mouse
and multiplied by ``rate_scale = (BW / BW_ref)^(-1/4)``: "time-scales ... scale as
simple powers of 1/4" (West GB, Brown JH 2005, J Exp Biol 208:1575,
doi:10.1242/jeb.01589). A rat (275 g) runs 1.8 times, a human (70 kg) 7.3 times
slower than a mouse.

Tubular repair (recovery of sublethal injury, regeneration onto denuded membrane,
redifferentiation, exit from G2/M arrest) and the wash-out of casts from the lumen scale with
their own exponent, ``repair_rate_scale = (BW / BW_ref)^(-repair_allometric_exponent)``. In
rodents both exponents are the quarter power. In adults after cardiac surgery the quarter power
is contradicted by the clinical course: it makes a human kidney run 7.5 times more slowly than a
mouse kidney, so SCr peaks on day 4–6 and nearly every AKI lasts a week or more, where AKI onset
peaks "at 36-48 h" after surgery (Li 2022) and most AKI lasts 1–2 days (Brown 2010: 18 %, 11 %
and 9 % of all patients for 1–2, 3–6 and ≥ 7 days). The two human exponents are therefore
fitted to the cardiac-surgery population (``calibration/population/cardiac_surgery.yaml``,
:mod:`nephrosim.calibration.population`).
"""

from __future__ import annotations

from nephrosim.modelspec import ParameterUse, Process, Quantity

SIDES = ("l", "r")
SIDE_NAMES = {"l": "left (ipsilateral) kidney", "r": "right (contralateral) kidney"}

#: Per-kidney insult inputs: name → (default expression, unit, description).
SIDE_INPUTS = {
    "in_tubular_stress": ("0", "dimensionless", "direct tubular-epithelial stress (ischaemia, toxin, haem)"),
    "in_ros": ("0", "dimensionless", "extra ROS production relative to basal"),
    "in_endothelial": ("0", "dimensionless", "direct endothelial injury drive"),
    "in_perfusion": ("1", "dimensionless", "renal perfusion relative to normal, set by the insult"),
    "in_obstruction": ("0", "dimensionless", "fractional fall in filtration from ureteral obstruction (0–1)"),
    "in_fibrogenic": ("0", "dimensionless", "direct TGF-β drive (obstruction, proteinuria, hyperglycaemia)"),
    "in_glomerular": ("0", "dimensionless", "glomerular (podocyte) injury driving nephron loss"),
    "in_podocyte_leak": ("0", "dimensionless",
                         "share of glomeruli leaking protein through injured podocytes without a lesion (0–1)"),
    "in_casts": ("0", "dimensionless", "extra intratubular cast formation (myoglobin/haem casts)"),
}
#: Whole-body insult inputs.
SYSTEMIC_INPUTS = {
    "in_inflammation": ("0", "dimensionless", "systemic inflammatory (TNF-class) drive: sepsis, endotoxin, bypass"),
    "in_hyperfiltration": ("0", "dimensionless", "extra single-nephron hyperfiltration (diabetes)"),
    "in_hazard": ("0", "1/h", "extra death hazard from the insult itself (sepsis)"),
}


def sided(name: str, side: str) -> str:
    return f"{name}_{side}"


def input_rest_values() -> dict[str, str]:
    """Each insult input's value without an insult (full name → expression)."""
    out = {sided(n, s): default for n, (default, _, _) in SIDE_INPUTS.items() for s in SIDES}
    out.update({n: default for n, (default, _, _) in SYSTEMIC_INPUTS.items()})
    return out


def insult_inputs(**exprs: str) -> Process:
    """The insult-input process; keyword arguments override defaults by full name.

    Example: ``insult_inputs(in_tubular_stress_l="iri_stress_l")``.
    """
    known = {sided(n, s) for n in SIDE_INPUTS for s in SIDES} | set(SYSTEMIC_INPUTS)
    unknown = sorted(set(exprs) - known)
    if unknown:
        raise ValueError(f"unknown insult input(s) {unknown}; known: {sorted(known)}")
    quantities = []
    for n, (default, unit, desc) in SIDE_INPUTS.items():
        for s in SIDES:
            full = sided(n, s)
            quantities.append(Quantity(full, exprs.get(full, default), unit, f"Insult input, {SIDE_NAMES[s]}: {desc}"))
    for n, (default, unit, desc) in SYSTEMIC_INPUTS.items():
        quantities.append(Quantity(n, exprs.get(n, default), unit, f"Insult input: {desc}"))
    return Process(name="insult_inputs", description="Time courses by which the insult drives the injury core",
                   quantities=tuple(quantities))


def scaling() -> Process:
    """Allometric time scaling and the paracrine-effect weights shared by processes."""
    return Process(
        name="injury_scaling",
        description="Quarter-power allometric scaling of biological rate constants",
        parameters=(
            ParameterUse("allometric_reference_bw_kg", "kg", "Body weight at which rate constants are given (mouse)"),
            ParameterUse("allometric_exponent", "dimensionless", "Exponent of body-weight scaling of biological times"),
            ParameterUse("repair_allometric_exponent", "dimensionless",
                         "Exponent of body-weight scaling of tubular repair and cast wash-out"),
        ),
        quantities=(
            Quantity("rate_scale", "pow(body_weight_kg / allometric_reference_bw_kg, -allometric_exponent)",
                     "dimensionless", "Multiplier of biological rate constants for this body weight"),
            Quantity("repair_rate_scale", "pow(body_weight_kg / allometric_reference_bw_kg, -repair_allometric_exponent)",
                     "dimensionless", "Multiplier of tubular repair rate constants for this body weight"),
        ),
    )


#: Width over which :func:`positive` rounds the corner of max(0, x) (numerical, assumed).
POSITIVE_PART_WIDTH = 1e-9


def positive(x: str, width: float = POSITIVE_PART_WIDTH) -> str:
    """max(0, x) with its corner rounded: ½·(x + √(x² + w²)).

    Within w/2 of max(0, x), never negative, infinitely differentiable, slope ½ at x = 0.
    Why not the plain corner: many arguments are *exactly* 0 when the kidney is at rest
    (untreated paracrine effects, vacant epithelium, endothelial injury, hypoxia, capillary
    deficit), so a healthy model sits on the corners. When a dose nudges it, the stiff (BDF)
    integrator's Newton iteration failed to converge (CV_CONV_FAILURE microseconds after the
    dose in a treated sham arm; CV_TOO_MUCH_WORK with 15 daily MSC doses). Forms that stay
    *exactly* 0 below the corner (a C¹ quadratic join, x²/(x² + w²) damping) fail the same
    way; this one passes for every w from 10⁻¹² to 10⁻³ (tests/test_solver_robustness.py).
    At rest it adds w/2 = 5×10⁻¹⁰ to each argument: far below every tolerance.
    """
    w2 = repr(float(width) ** 2)
    return f"(0.5 * (({x}) + sqrt(({x})^2 + {w2})))"


#: Excess single-nephron filtration that injures (nephron loss, glomerular lesions, TGF-β): the
#: hyperfiltration with only a share of the diabetic excess counted
#: (``injurious_hyperfiltration``, :mod:`nephrosim.biology.injury.nephrons`).
INJURIOUS_EXCESS = positive("injurious_hyperfiltration - 1")


def eff(name: str) -> str:
    """A paracrine effect clipped to [0, 1] (the interface is dimensionless, 0 = none)."""
    return f"min(1, {positive(name)})"
