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
and ``cli`` sit on top. Every public name is imported when first used, so ``import nephrosim``
and the command line start fast.
"""

from nephrosim.errors import UserInputError

__version__ = "0.1.0"

#: Public names, imported on first use (``import nephrosim`` and the command line start fast).
_LAZY = {
    "ParameterTable": ("nephrosim.biology.parameters", "ParameterTable"),
    "EnsembleSummary": ("nephrosim.run.ensemble", "EnsembleSummary"),
    "ensemble": ("nephrosim.run.ensemble", "ensemble"),
    "SimulationResult": ("nephrosim.run.simulation", "SimulationResult"),
    "export_sbml": ("nephrosim.run.simulation", "export_sbml"),
    "simulate": ("nephrosim.run.simulation", "simulate"),
    "ScenarioError": ("nephrosim.scenarios.errors", "ScenarioError"),
    "Scenario": ("nephrosim.scenarios.schema", "Scenario"),
    "load_scenario": ("nephrosim.scenarios.schema", "load_scenario"),
    "compare": ("nephrosim.analysis.compare", "compare"),
    "check_model": ("nephrosim.analysis.model_check", "check_model"),
    "meta_analyse": ("nephrosim.evidence", "meta_analyse"),
    "calibrate": ("nephrosim.calibration", "calibrate"),
}


def __dir__():
    return sorted([*globals(), *_LAZY])


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
