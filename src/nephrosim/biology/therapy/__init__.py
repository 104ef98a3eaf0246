"""Therapy biology: what MSCs, conditioned medium and EVs do once given.

Each product builder turns the treatments of one arm into lots (states, dose
events, secretion); :func:`build_therapy` assembles them into the biodistribution,
paracrine-effect and host-signal processes of the arm.
"""

from nephrosim.biology.therapy.base import TherapySpec, build_therapy, register_product, registered_products
from nephrosim.biology.therapy import msc, ev, conditioned_medium  # noqa: F401  (register builders)

__all__ = ["TherapySpec", "build_therapy", "register_product", "registered_products"]
