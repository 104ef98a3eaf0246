"""How the engine compiles a model: libRoadRunner's LLJIT at optimisation level 0, afresh.

The backend is chosen by the load options, and ``LoadSBMLOptions`` copies libRoadRunner's global
settings when it is made, so options made before :func:`fast_compile` compile with the default backend:
that happened (December 2026) and made the sensitivity model of a rat IRI + EV arm take 55 s to load
instead of 8.5 s, with nothing failing. The options that reach the constructor are checked here against
options made under the intended settings, independently of the engine's own helpers.
"""

from __future__ import annotations

import types

import nephrosim
from nephrosim.engine.simulator import _roadrunner, load_model

EXAMPLE = "examples/mouse_iri_msc.yaml"


def test_load_model_compiles_with_lljit_at_level_0_and_afresh():
    rr = _roadrunner()
    C = rr.Config
    seen = []

    def recording_roadrunner(sbml, options):
        seen.append((options.modelGeneratorOpt, options.recompile))
        return rr.RoadRunner(sbml, options)

    fake = types.SimpleNamespace(RoadRunner=recording_roadrunner, LoadSBMLOptions=rr.LoadSBMLOptions, Config=C)
    before = C.getValue(C.LLVM_BACKEND), C.getValue(C.LLJIT_OPTIMIZATION_LEVEL)
    model = load_model(fake, nephrosim.export_sbml(EXAMPLE))
    assert len(model.model.getFloatingSpeciesIds()) > 0
    # the global settings are restored afterwards
    assert (C.getValue(C.LLVM_BACKEND), C.getValue(C.LLJIT_OPTIMIZATION_LEVEL)) == before
    C.setValue(C.LLVM_BACKEND, C.LLJIT)
    C.setValue(C.LLJIT_OPTIMIZATION_LEVEL, 0)
    try:
        options = rr.LoadSBMLOptions()
        options.recompile = True
        intended = options.modelGeneratorOpt
    finally:
        C.setValue(C.LLVM_BACKEND, before[0])
        C.setValue(C.LLJIT_OPTIMIZATION_LEVEL, before[1])
    default = rr.LoadSBMLOptions()
    default.recompile = True
    assert intended != default.modelGeneratorOpt  # the settings do change the options
    assert seen == [(intended, True)]
