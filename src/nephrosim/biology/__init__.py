"""The biology: parameters with their sources, species physiology, the injury processes,
the insults that drive them, and what MSC, conditioned medium and EVs do once given.

This layer imports only the neutral model format (:mod:`nephrosim.modelspec`) and the
shared vocabulary and units; it never runs a simulation. Scenario objects reach it as plain
arguments (``build_insult(injury, species)``, ``build_therapy(treatments, ..., table)``).
"""
