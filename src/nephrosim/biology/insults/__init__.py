"""Insults: how each injury model of a scenario drives the biology.

Each builder turns a validated injury description (:mod:`nephrosim.scenarios.injuries`)
into an :class:`InsultSpec`: the processes it adds, the scenario values that become
SBML parameters, and the expressions it contributes to kidney function.
"""

from nephrosim.biology.insults.base import InsultSpec, build_insult, register_insult
from nephrosim.biology.insults import clearance  # noqa: F401  (registers builders)
from nephrosim.biology.insults import injury_models  # noqa: F401  (registers builders; replaces sham)

__all__ = ["InsultSpec", "build_insult", "register_insult"]
