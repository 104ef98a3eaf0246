"""The kidney injury–repair core: oxidative stress, tubular fate, capillaries,
inflammation, fibrosis, nephron mass → kidney function, biomarkers and survival.

One module per process; each names its biology and sources. Every insult includes
the whole core (:func:`injury_core`) so that all states exist in every model and a
sham animal sits at steady state. Insults drive the core only through the inputs
of :func:`~nephrosim.biology.injury.common.insult_inputs`.

Histology-type readouts refer to the *left* (ipsilateral) kidney — the injured,
obstructed or remnant kidney by convention; in bilateral models both kidneys are
identical.
"""

from __future__ import annotations

from nephrosim.modelspec import Process, Quantity, Readout
from nephrosim.biology.injury.capillaries import capillaries
from nephrosim.biology.injury.common import SIDES, insult_inputs, scaling
from nephrosim.biology.injury.fibrosis import fibrosis
from nephrosim.biology.injury.glomeruli import glomeruli
from nephrosim.biology.injury.inflammation import inflammation
from nephrosim.biology.injury.nephrons import nephrons
from nephrosim.biology.injury.outcomes import outcomes
from nephrosim.biology.injury.oxidative_stress import oxidative_stress
from nephrosim.biology.injury.tubules import tubular_protection, tubules

__all__ = ["injury_core", "injury_readouts", "insult_inputs", "FUNCTION_FACTOR", "SECRETION_FACTOR"]

FUNCTION_FACTOR = "injury_function_factor"
SECRETION_FACTOR = "injury_secretion_factor"

_READOUTS = (
    # name, expression, unit, description
    ("tubular_injury_score", "4 * min(1, max(0, 1 - tub_h_l))", "score 0-4",
     "Tubular injury score (0–4: share of tubular epithelium not healthy/differentiated × 4), left kidney"),
    ("necrosis", "100 * tub_d_l", "%", "Necrotic tubular epithelium, % (left kidney)"),
    ("casts", "100 * casts_l", "%", "Intratubular casts/debris, % of epithelium equivalent (left kidney)"),
    ("proliferation", "100 * ki67_fraction_l", "%", "Ki67+ fraction of tubular epithelial cells, % (left kidney)"),
    ("ptc_density", "100 * ptc_l", "%", "Peritubular capillary density, % of normal (left kidney)"),
    ("neutrophils", "neutrophils_l", "relative", "Infiltrating neutrophils, relative units (left kidney)"),
    ("m1", "m1_l", "relative", "M1 (iNOS+) macrophages, relative units (left kidney)"),
    ("m2", "m2_l", "relative", "M2 (arginase-1+) macrophages, relative units (left kidney)"),
    ("macrophages", "macrophages_l", "relative", "All infiltrating macrophages, relative units (left kidney)"),
    ("tnf", "1 + tnf_l", "fold", "TNF-class cytokines, fold of normal (left kidney)"),
    ("il10", "1 + il10_l", "fold", "IL-10-class cytokines, fold of normal (left kidney)"),
    ("tgfb", "1 + tgfb_l", "fold", "TGF-β, fold of normal (left kidney)"),
    ("myofibroblasts", "100 * myofib_l", "%", "Myofibroblasts (α-SMA+), % of interstitial capacity (left kidney)"),
    ("fibrosis_area", "fibrosis_area_pct_l", "%", "Fibrosis (collagen) area, % of cortex (left kidney)"),
    ("ros", "ros_l", "fold", "Reactive oxygen species, fold of normal (left kidney)"),
    ("mda", "mda_l", "fold", "Malondialdehyde, fold of normal (left kidney)"),
    ("gsh", "gsh_l", "fold", "Reduced glutathione / antioxidant capacity, fold of normal (left kidney)"),
    ("kim1", "kim1", "fold", "KIM-1, fold of normal"),
    ("ngal", "ngal", "fold", "NGAL, fold of normal"),
    ("survival", "100 * survival", "%", "Survival, % of animals alive"),
    ("nephron_mass", "(nephron_mass_l + nephron_mass_r) / 2", "fraction",
     "Nephron mass of both kidneys, 1 = two normal kidneys"),
    # CKD endpoints (glomeruli.py)
    ("proteinuria", "proteinuria_fold", "fold", "Urinary protein excretion, fold of normal"),
    ("glomerulosclerosis", "glomerulosclerosis_pct_l", "%",
     "Sclerosed or lesioned glomeruli, % of those the left kidney had at time 0"),
)


def _readout_process() -> Process:
    quantities = tuple(Quantity(f"readout_{n}", e, u, d) for n, e, u, d in _READOUTS)
    readouts = tuple(Readout(n, f"readout_{n}", u, d) for n, e, u, d in _READOUTS)
    return Process(name="injury_readouts", description="Readouts of the injury-repair core",
                   quantities=quantities, readouts=readouts)


def injury_core() -> tuple[Process, ...]:
    """Every process of the injury–repair core (both kidneys)."""
    procs: list[Process] = [scaling(), tubular_protection()]
    for s in SIDES:
        procs += [oxidative_stress(s), tubules(s), capillaries(s), inflammation(s), fibrosis(s)]
    procs += [nephrons(), glomeruli(), outcomes(), _readout_process()]
    return tuple(procs)


def injury_readouts() -> tuple[Readout, ...]:
    return _readout_process().readouts
