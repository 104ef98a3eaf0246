"""The creatinine assay: what a lab's serum-creatinine number means (observation model).

Biology encoded
---------------
The model's serum creatinine (:mod:`nephrosim.biology.physiology`) is the true
concentration, the one an enzymatic or chromatographic (HPLC, LC-MS/MS) assay reads:
in mouse and rat plasma "The comparison between HPLC and the enzymatic measurement gave a
good agreement between both methods in both species" (Keppler 2007, Kidney Int,
PMID 17082757). The colorimetric Jaffé (alkaline picrate) reaction also colours other
serum substances: "the enzymatic method gave the lowest serum creatinine values. The
differences are caused by serum substances (non-creatinine chromogens) reacting with
picric acid" (Jung 1987, J Clin Chem Clin Biochem 25:357, PMID 3625134), and in mouse
and rat plasma "For the colorimetric Jaffé method a pronounced overestimation is
confirmed" (Keppler 2007). The chromogen is a roughly constant *amount*, not a share of
creatinine: as GFR falls the ratio of creatinine to inulin clearance rises as "a reflection
of the decreasing fraction of non-creatinine chromogen to the total creatinine chromogen"
(Clin Sci 38:555). So a Jaffé reading is modelled as::

    SCr_Jaffe(t) = SCr_true(t) + jaffe_chromogen_offset_mg_dl        (per species)

Only the *reported* serum creatinine changes. GFR, creatinine clearance, BUN and every
kinetic rate stay the true ones: the assay does not change the body. The offset enters the
model as an SBML parameter and an assignment rule (``serum_creatinine_jaffe_mg_dl``), so
libRoadRunner, the batch engine and an exported SBML file give the same number, and the
row's range enters ensembles and ``--uncertainty`` like every other table row. Not modelled:
haemolysis and bilirubin, which move a Jaffé reading further (Keppler 2007: rat plasma
"interference with hemoglobin already in a very low, non-visible concentration range"), and
a compensated (rate-blanked, IDMS-calibrated) Jaffé, which can read like an enzymatic assay —
for such a lab choose ``enzymatic``. The evidence and the derivations of the per-species
values are in ``nephrosim/evidence/data/assay_offsets.md``; the values and their
provenance in the parameter table (``nephrosim params --name jaffe``).
"""

from __future__ import annotations

from nephrosim.modelspec import ParameterUse, Process, Quantity

#: The creatinine assays a scenario (and a study) may state, with what each reads.
CREATININE_ASSAYS: dict[str, str] = {
    "enzymatic": "enzymatic (creatininase / creatinine-PAP) assay: reads true creatinine (the default)",
    "hplc": "HPLC or LC-MS/MS: reads true creatinine (same numbers as enzymatic)",
    "jaffe": "colorimetric Jaffé (alkaline picrate): true creatinine + the species' non-creatinine chromogen "
             "offset (jaffe_chromogen_offset_mg_dl)",
}

#: The model quantity of the true serum creatinine (mg/dL) and of a Jaffé reading of it.
TRUE_SCR = "serum_creatinine_mg_dl"
JAFFE_SCR = "serum_creatinine_jaffe_mg_dl"
OFFSET = "jaffe_chromogen_offset_mg_dl"


def creatinine_assay(assay: str) -> tuple[Process, ...]:
    """The observation process of ``assay``: nothing for a true-creatinine assay, the Jaffé
    reading for ``jaffe``.

    A model of an enzymatic/HPLC scenario is exactly the model of before (no parameter, no
    rule), so its SBML and its numbers are unchanged.

    Arguments
    ---------
    assay : one of :data:`CREATININE_ASSAYS`.

    Returns
    -------
    A tuple of zero or one :class:`~nephrosim.modelspec.Process`.
    """
    if assay not in CREATININE_ASSAYS:
        raise ValueError(f"creatinine_assay {assay!r} is not one of {sorted(CREATININE_ASSAYS)}")
    if assay != "jaffe":
        return ()
    return (Process(
        name="creatinine_assay_jaffe",
        description="Jaffé (alkaline picrate) serum creatinine: true creatinine + non-creatinine chromogens",
        parameters=(ParameterUse(OFFSET, "mg/dL",
                                 "Non-creatinine chromogen read as creatinine by the Jaffé assay (additive)"),),
        quantities=(Quantity(JAFFE_SCR, f"{TRUE_SCR} + {OFFSET}", "mg/dL",
                             "Serum creatinine as a Jaffé assay reads it (true creatinine + chromogen offset)"),),
    ),)


def reported_quantity(readout: str, quantity: str, assay: str) -> str:
    """The model quantity a lab using ``assay`` reads for ``readout`` (whose true quantity is
    ``quantity``): the Jaffé reading for serum creatinine, the true quantity otherwise."""
    if assay == "jaffe" and readout == "serum_creatinine":
        return JAFFE_SCR
    return quantity
