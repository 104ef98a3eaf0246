"""Insults: how each injury model of a scenario drives the biology.

Each builder turns a validated injury description (:mod:`nephrosim.scenarios.injuries`)
into an :class:`InsultSpec`: the processes it adds, the scenario values that become
SBML parameters, and the expressions it contributes to kidney function.

One module per insult registers its builder; the shared pieces (the insult switch, the
core every insult carries) are in :mod:`nephrosim.biology.insults.core`.
"""

# each module registers its builder; sham (the full core at rest) is imported after clearance,
# whose stand-in sham it replaces
from nephrosim.biology.insults import (  # noqa: F401
    adriamycin, cardiac_surgery, cisplatin, clearance, glycerol, ischemia_reperfusion, nephrectomy_5_6, sepsis,
    sham, stz_diabetes, uuo,
)
from nephrosim.biology.insults.base import InsultSpec, build_insult, register_insult

__all__ = ["InsultSpec", "build_insult", "register_insult"]
