"""nephrosim: an in-silico laboratory for MSC and MSC-secretome therapy of kidney injury.

One entry point per job::

    import nephrosim
    result = nephrosim.simulate("examples/mouse_clearance_drop.yaml")
    result.to_frame(); result.plot("out.png")
    nephrosim.run.ensemble("examples/mouse_clearance_drop.yaml", samples=1000, out="ens.parquet", workers=2)
    sbml = nephrosim.export_sbml("examples/mouse_clearance_drop.yaml")
"""

from nephrosim.run.ensemble import EnsembleSummary, ensemble
from nephrosim.biology.parameters import ParameterTable
from nephrosim.scenarios.errors import ScenarioError
from nephrosim.scenarios.schema import Scenario, load_scenario
from nephrosim.run.simulation import SimulationResult, export_sbml, simulate

__version__ = "0.1.0"

__all__ = [
    "EnsembleSummary", "ParameterTable", "Scenario", "ScenarioError", "SimulationResult",
    "ensemble", "export_sbml", "load_scenario", "simulate", "__version__",
]
