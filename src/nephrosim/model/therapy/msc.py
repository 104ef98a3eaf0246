"""MSC biodistribution: where infused cells go, and how long they live there.

Biology encoded
---------------
* IV cells stop in the lung on first pass (size obstruction at microvessel
  bifurcations); "One hour after MSC infusion the majority of Cr-51 was found in
  the lungs" (Eggenhofer 2012, Front Immunol 3:297, PMID 23056000).
* Lung cells disappear with a half-life of about 24 h in mouse (PMC4154377:
  "The cells in lung disappeared with a half-life of about 24 hr, but <1000 cells
  appeared in six other tissues").
* Arterial routes bypass the lung; renal-artery, intraparenchymal and subcapsular
  routes deliver to the kidney directly; intraperitoneal cells are absorbed slowly.

Each dose is an SBML event, so an exported scenario doses identically in any SBML
tool. This is the biodistribution core; paracrine action comes with the therapy
model.
"""

from __future__ import annotations

from typing import Sequence

from nephrosim.model.core import Event, Flux, ParameterUse, Process, Readout, State
from nephrosim.model.therapy.base import TherapySpec, register_product

#: Where a route puts the dose: state receiving it.
ROUTE_ENTRY = {
    "iv": "msc_blood",
    "intra_arterial_aorta": "msc_arterial",
    "renal_artery": "msc_arterial",
    "intraparenchymal": "msc_kidney",
    "subcapsular": "msc_kidney",
    "intraperitoneal": "msc_peritoneum",
}

PARAMETERS = (
    ParameterUse("msc_lung_uptake_per_h", "1/h", "First-pass trapping rate of venous MSC in lung capillaries"),
    ParameterUse("msc_kidney_uptake_ratio", "dimensionless", "Kidney vs lung uptake of circulating venous MSC"),
    ParameterUse("msc_liver_spleen_uptake_ratio", "dimensionless", "Liver/spleen vs lung uptake of circulating venous MSC"),
    ParameterUse("msc_lung_half_life_h", "h", "Half-life of MSC trapped in lung"),
    ParameterUse("msc_kidney_half_life_h", "h", "Half-life of MSC in kidney"),
    ParameterUse("msc_liver_spleen_half_life_h", "h", "Half-life of MSC in liver/spleen"),
    ParameterUse("msc_arterial_kidney_extraction", "dimensionless", "Fraction of an arterial dose retained by the kidney on first pass"),
    ParameterUse("msc_arterial_transit_per_h", "1/h", "Rate at which an arterial bolus reaches its first capillary bed"),
    ParameterUse("msc_peritoneal_absorption_per_h", "1/h", "Absorption of intraperitoneal MSC into blood"),
)


def biodistribution(doses: Sequence[tuple[str, float, str]]) -> Process:
    """MSC compartments plus one event per dose ``(name, time_h, entry_state)``."""
    states = tuple(
        State(n, "cells", 0.0, d)
        for n, d in (
            ("msc_blood", "Viable MSC circulating in venous blood"),
            ("msc_arterial", "Arterially injected MSC on their way to the first capillary bed"),
            ("msc_lung", "Viable MSC trapped in lung capillaries"),
            ("msc_kidney", "Viable MSC in the kidneys"),
            ("msc_liver_spleen", "Viable MSC in liver and spleen"),
            ("msc_peritoneum", "MSC in the peritoneal cavity"),
        )
    )
    k = "msc_lung_uptake_per_h"
    fluxes = (
        Flux("msc_lung_trapping", f"{k} * msc_blood", "cells/h", "First-pass lung trapping",
             consumes={"msc_blood": 1}, produces={"msc_lung": 1}),
        Flux("msc_kidney_uptake_venous", f"{k} * msc_kidney_uptake_ratio * msc_blood", "cells/h",
             "Venous MSC lodging in kidney", consumes={"msc_blood": 1}, produces={"msc_kidney": 1}),
        Flux("msc_liver_spleen_uptake", f"{k} * msc_liver_spleen_uptake_ratio * msc_blood", "cells/h",
             "Venous MSC lodging in liver/spleen", consumes={"msc_blood": 1}, produces={"msc_liver_spleen": 1}),
        Flux("msc_arterial_kidney", "msc_arterial_transit_per_h * msc_arterial_kidney_extraction * msc_arterial",
             "cells/h", "Arterial MSC retained by the kidney", consumes={"msc_arterial": 1}, produces={"msc_kidney": 1}),
        Flux("msc_arterial_passage", "msc_arterial_transit_per_h * (1 - msc_arterial_kidney_extraction) * msc_arterial",
             "cells/h", "Arterial MSC passing to the venous side", consumes={"msc_arterial": 1}, produces={"msc_blood": 1}),
        Flux("msc_peritoneal_absorption", "msc_peritoneal_absorption_per_h * msc_peritoneum", "cells/h",
             "Intraperitoneal MSC absorbed into blood", consumes={"msc_peritoneum": 1}, produces={"msc_blood": 1}),
        Flux("msc_lung_death", "ln(2) / msc_lung_half_life_h * msc_lung", "cells/h",
             "Death/clearance of lung-trapped MSC", consumes={"msc_lung": 1}),
        Flux("msc_kidney_death", "ln(2) / msc_kidney_half_life_h * msc_kidney", "cells/h",
             "Death/clearance of kidney MSC", consumes={"msc_kidney": 1}),
        Flux("msc_liver_spleen_death", "ln(2) / msc_liver_spleen_half_life_h * msc_liver_spleen", "cells/h",
             "Death/clearance of liver/spleen MSC", consumes={"msc_liver_spleen": 1}),
    )
    events = tuple(
        Event(name, time_h, {entry: f"{entry} + {name}_cells"}, f"MSC dose at {time_h} h into {entry}")
        for name, time_h, entry in doses
    )
    dose_params = tuple(ParameterUse(f"{n}_cells", "cells", f"Cells given in {n}") for n, _, _ in doses)
    readouts = (
        Readout("msc_lung", "msc_lung", "cells", "Viable MSC in lung"),
        Readout("msc_kidney", "msc_kidney", "cells", "Viable MSC in kidney"),
        Readout("msc_liver_spleen", "msc_liver_spleen", "cells", "Viable MSC in liver and spleen"),
        Readout("msc_blood", "msc_blood", "cells", "Viable MSC in blood"),
    )
    return Process(
        name="msc_biodistribution",
        description="Biodistribution and survival of infused MSC",
        states=states,
        parameters=PARAMETERS + dose_params,
        fluxes=fluxes,
        events=events,
        readouts=readouts,
    )


@register_product("msc")
def build_msc(treatments, species: str, body_weight_kg: float) -> TherapySpec:
    doses, values = [], {}
    n = 0
    for t in treatments:
        for time_h in t.dose_times_h():
            if time_h < 0:
                raise ValueError(
                    f"MSC dose at time_h={time_h}: doses before the insult are not supported yet; "
                    "give time_h >= 0"
                )
            n += 1
            name = f"msc_dose_{n}"
            doses.append((name, time_h, ROUTE_ENTRY[t.route]))
            values[f"{name}_cells"] = t.dose_cells(body_weight_kg)
    return TherapySpec(processes=(biodistribution(doses),), values=values)

