"""Insult: 5/6 nephrectomy (remnant kidney).

One module per insult; the pieces every insult shares are in :mod:`nephrosim.biology.insults.core`.
"""

from __future__ import annotations

from nephrosim.biology.insults.base import InsultSpec, register_insult
from nephrosim.biology.insults.core import core_insult


@register_insult("nephrectomy_5_6")
def nephrectomy_5_6(injury, species: str) -> InsultSpec:
    """5/6 nephrectomy: right kidney removed and two thirds of the left resected
    or infarcted at time 0. The remnant hyperfilters; hyperfiltration drives TGF-β
    and glomerular loss, so GFR declines progressively."""
    return core_insult(values={"nephron_mass_initial_l": 1.0 / 3.0, "nephron_mass_initial_r": 0.0})
