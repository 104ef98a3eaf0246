"""The batch engine: many virtual patients of one model structure per call.

The SBML of a model structure is compiled once to C (each assignment rule evaluated once,
an exact sparse Jacobian, straight-line sparse LU) and cached on disk; a Rodas4 solver
then integrates every patient with its own step size and events hit exactly. Chosen with
``solver: {engine: batch}`` in a scenario or ``--engine batch`` on the command line; see
``docs/engine.md``.
"""

from nephrosim.engine.batch.simulator import BatchSimulator

__all__ = ["BatchSimulator"]
