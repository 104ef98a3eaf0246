"""Running scenarios: assemble the model of each arm, simulate it once (``simulate``) or for
many parameter sets (``ensemble``).

The names are imported on first use (PEP 562), so that ``nephrosim simulate`` does not load
the ensemble machinery (its executors, storage and background threads: ~0.15 s of start-up).
"""

_LAZY = {
    "EnsembleSummary": "nephrosim.run.ensemble",
    "ensemble": "nephrosim.run.ensemble",
    "SimulationResult": "nephrosim.run.simulation",
    "export_sbml": "nephrosim.run.simulation",
    "simulate": "nephrosim.run.simulation",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_LAZY})
