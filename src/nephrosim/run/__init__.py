"""Running scenarios: assemble the model of each arm, simulate it once (``simulate``) or for
many parameter sets (``ensemble``)."""

from nephrosim.run.ensemble import EnsembleSummary, ensemble
from nephrosim.run.simulation import SimulationResult, export_sbml, simulate

__all__ = ["EnsembleSummary", "SimulationResult", "ensemble", "export_sbml", "simulate"]
