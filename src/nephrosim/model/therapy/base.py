"""Registry of product builders, keyed by the treatment's ``product`` name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from nephrosim.model.core import Process


@dataclass(frozen=True)
class TherapySpec:
    processes: tuple[Process, ...] = ()
    values: Mapping[str, float] = field(default_factory=dict)


_BUILDERS: dict[str, Callable[..., TherapySpec]] = {}


def register_product(name: str):
    """Decorator: register ``builder(treatments, species, body_weight_kg) -> TherapySpec``."""

    def deco(fn):
        _BUILDERS[name] = fn
        return fn

    return deco


def build_therapy(treatments: Sequence, species: str, body_weight_kg: float) -> TherapySpec:
    """Combine the specs of every product given in one arm."""
    by_product: dict[str, list] = {}
    for t in treatments:
        by_product.setdefault(t.product, []).append(t)
    processes: list[Process] = []
    values: dict[str, float] = {}
    for product, items in by_product.items():
        if product not in _BUILDERS:
            raise ValueError(f"product {product!r} has no biology yet; available: {sorted(_BUILDERS)}")
        spec = _BUILDERS[product](items, species, body_weight_kg)
        processes.extend(spec.processes)
        values.update(spec.values)
    return TherapySpec(tuple(processes), values)


def registered_products() -> list[str]:
    return sorted(_BUILDERS)
