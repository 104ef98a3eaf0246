"""One controlled vocabulary for scenarios, the evidence store and calibration.

A scenario names an *injury model* (the insult the simulator runs: ``lps``), the evidence store
names the *study design* it curated (``endotoxemia_lps``), and both name products and readouts.
This module is the one place where those names meet, so an evidence row maps onto a scenario
and a model readout without hand matching: :func:`model_injury`, :func:`model_product` and
:func:`model_readout` answer, and ``tests/test_vocabulary.py`` checks the tables against both
sides (every simulated injury model has its evidence term; every mapped readout exists in the
model with the stated comparability).

Readout comparability
---------------------
``absolute``: the model computes the measured quantity in convertible physical units (SCr in
mg/dL, survival in %), so a study's mean is a calibration target as it stands. ``relative``:
the model computes the quantity on its own scale (fold of normal, a 0–4 score), so only a
ratio or standardized difference between two arms of one study is a target
(``contrasts`` in a calibration config).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

#: evidence injury term → the scenario injury model that simulates it (None: no model yet)
INJURY_MODEL_FOR_EVIDENCE: dict[str, str | None] = {
    "ischemia_reperfusion": "ischemia_reperfusion",
    "cisplatin": "cisplatin",
    "glycerol": "glycerol",
    "gentamicin": None,
    "sepsis_clp": "sepsis_clp",
    "sepsis_other": None,
    "endotoxemia_lps": "lps",
    "pancreatitis_aki": None,
    "cardiac_surgery_aki": "cardiac_surgery",
    "uuo": "uuo",
    "nephrectomy_5_6": "nephrectomy_5_6",
    "adriamycin": "adriamycin",
    "aristolochic_acid": None,
    "diabetic_nephropathy": "stz_diabetes",
    "allograft_nephropathy": None,
    "other": None,
}

#: scenario injury models that are not study designs (no evidence term)
SIMULATION_ONLY_INJURIES = ("sham", "clearance_change")

#: evidence product term → scenario product
PRODUCT_FOR_EVIDENCE: dict[str, str | None] = {"msc": "msc", "cm": "conditioned_medium", "ev": "ev",
                                               "none": None, "other": None}


class ReadoutMatch(NamedTuple):
    """The model readout that answers an evidence readout, and how the two compare."""

    model: str
    comparability: Literal["absolute", "relative"]


#: evidence readout → model readout
READOUT_FOR_EVIDENCE: dict[str, ReadoutMatch | None] = {
    "serum_creatinine": ReadoutMatch("serum_creatinine", "absolute"),
    "bun": ReadoutMatch("bun", "absolute"),
    "survival": ReadoutMatch("survival", "absolute"),
    "mortality": None,  # 100 − survival: compare through survival
    "creatinine_clearance": ReadoutMatch("creatinine_clearance", "absolute"),
    "interstitial_fibrosis": ReadoutMatch("fibrosis_area", "absolute"),
    "capillary_density": ReadoutMatch("ptc_density", "relative"),
    "tubular_injury_score": ReadoutMatch("tubular_injury_score", "relative"),
    "tubular_proliferation": ReadoutMatch("proliferation", "relative"),
    "renal_mda": ReadoutMatch("mda", "relative"),
    "renal_gsh": ReadoutMatch("gsh", "relative"),
    "kim1": ReadoutMatch("kim1", "relative"),
    "ngal": ReadoutMatch("ngal", "relative"),
    "tnf_alpha": ReadoutMatch("tnf", "relative"),
    "il10": ReadoutMatch("il10", "relative"),
    "interstitial_macrophages": ReadoutMatch("macrophages", "relative"),
    # CKD endpoints (issue 14 item 7): the model gives fold of normal excretion; albumin/creatinine
    # ratios are compared through the same fold (glomerular leak), never as absolute values.
    "proteinuria": ReadoutMatch("proteinuria", "relative"),
    "uacr": ReadoutMatch("proteinuria", "relative"),
    "glomerulosclerosis": ReadoutMatch("glomerulosclerosis", "relative"),
}


def model_injury(evidence_term: str) -> str | None:
    """The scenario injury model for an evidence injury term (None when none simulates it)."""
    return INJURY_MODEL_FOR_EVIDENCE.get(evidence_term)


def evidence_injury(model: str) -> str | None:
    """The evidence injury term of a scenario injury model (None for sham/clearance_change)."""
    return next((k for k, v in INJURY_MODEL_FOR_EVIDENCE.items() if v == model), None)


def model_product(evidence_term: str) -> str | None:
    return PRODUCT_FOR_EVIDENCE.get(evidence_term)


def model_readout(evidence_readout: str) -> ReadoutMatch | None:
    """The model readout that answers an evidence readout, or None when the model has none."""
    return READOUT_FOR_EVIDENCE.get(evidence_readout)
