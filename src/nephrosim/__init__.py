"""nephrosim: an in-silico laboratory for MSC and MSC-secretome therapy of kidney injury.

One entry point per job::

    import nephrosim
    result = nephrosim.simulate("examples/head_to_head_mouse_iri.yaml")
    result.to_frame(); result.plot("out.png")
    nephrosim.ensemble("examples/mouse_clearance_drop.yaml", samples=1000, out="ens.parquet", workers=2)
    efficacy, risk = nephrosim.compare("examples/head_to_head_mouse_iri.yaml")
    results = nephrosim.check_model("model-check")
    pooled = nephrosim.meta_analyse(readout="serum_creatinine", injury="aki", product="msc")
    fit = nephrosim.calibrate("calibration/default.yaml")
    sbml = nephrosim.export_sbml("examples/mouse_clearance_drop.yaml")

The package is layered (``pyproject.toml`` [tool.importlinter]): ``biology`` and ``engine``
know nothing of each other, ``run`` assembles and simulates, ``analysis``, ``calibration``
and ``cli`` sit on top. The heavier entry points (compare, check_model, meta_analyse,
calibrate) are imported when first used, so ``import nephrosim`` stays fast.
"""

from nephrosim.biology.parameters import ParameterTable
from nephrosim.errors import UserInputError
from nephrosim.run.ensemble import EnsembleSummary, ensemble
from nephrosim.run.simulation import SimulationResult, export_sbml, simulate
from nephrosim.scenarios.errors import ScenarioError
from nephrosim.scenarios.schema import Scenario, load_scenario

__version__ = "0.1.0"

_LAZY = {
    "compare": ("nephrosim.analysis.compare", "compare"),
    "check_model": ("nephrosim.analysis.model_check", "check_model"),
    "meta_analyse": ("nephrosim.evidence", "meta_analyse"),
    "calibrate": ("nephrosim.calibration", "calibrate"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nephrosim' has no attribute {name!r}")


__all__ = [
    "EnsembleSummary", "ParameterTable", "Scenario", "ScenarioError", "SimulationResult", "UserInputError",
    "calibrate", "check_model", "compare", "ensemble", "export_sbml", "load_scenario", "meta_analyse", "simulate",
    "__version__",
]
