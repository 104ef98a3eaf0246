"""Therapy biology: what MSCs, conditioned medium and EVs do once given.

Each product builder turns the treatments of one arm into a :class:`TherapySpec`
(processes, dose events, scenario values) and the paracrine effect expressions the
injury model reads.
"""

from nephrosim.model.therapy.base import TherapySpec, build_therapy, register_product
from nephrosim.model.therapy import msc  # noqa: F401  (registers the builder)

__all__ = ["TherapySpec", "build_therapy", "register_product"]
