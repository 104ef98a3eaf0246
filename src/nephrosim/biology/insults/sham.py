"""Insult: Sham operation: no insult.

One module per insult; the pieces every insult shares are in :mod:`nephrosim.biology.insults.core`.
"""

from __future__ import annotations

from nephrosim.biology.insults.base import InsultSpec, register_insult
from nephrosim.biology.insults.core import core_insult


@register_insult("sham")
def sham(injury, species: str) -> InsultSpec:
    """Sham operation: the full core with zero insult; every state stays at steady state."""
    return core_insult()
