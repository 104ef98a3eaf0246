"""Registry of insult builders, keyed by the scenario's ``injury.model`` name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from nephrosim.modelspec import Process


@dataclass(frozen=True)
class InsultSpec:
    """What an injury contributes to the model.

    Arguments
    ---------
    processes : processes added by the insult (time courses, drug PK...).
    values : scenario-derived parameter values (e.g. clamp minutes), name → value.
    function_factor : expression for GFR relative to baseline (``"1"`` = unchanged).
    secretion_factor : expression for tubular creatinine secretion relative to
        baseline (``None`` = same as ``function_factor``).
    volume_factor : expression for the creatinine/urea distribution volume relative to
        pre-insult total body water (``None`` = unchanged; cardiac surgery's fluid load).
    """

    processes: tuple[Process, ...] = ()
    values: Mapping[str, float] = field(default_factory=dict)
    function_factor: str = "1"
    secretion_factor: str | None = None
    volume_factor: str | None = None


_BUILDERS: dict[str, Callable[..., InsultSpec]] = {}


def register_insult(name: str):
    """Decorator: register ``builder(injury, species) -> InsultSpec`` under ``name``."""

    def deco(fn):
        _BUILDERS[name] = fn
        return fn

    return deco


def build_insult(injury, species: str) -> InsultSpec:
    try:
        builder = _BUILDERS[injury.model]
    except KeyError:
        raise ValueError(
            f"injury model {injury.model!r} has no biology yet; available: {sorted(_BUILDERS)}"
        ) from None
    return builder(injury, species)
