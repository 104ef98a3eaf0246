"""Unit conversion for scenario inputs and reported readouts, backed by pint.

The model computes in fixed internal units (hours, mg, dL, mL/min, cells). Users
may give doses and ask for readouts in any equivalent unit; conversions that need
a molar mass (creatinine, urea nitrogen) or the subject's body weight / body
surface area are done here, explicitly, never silently elsewhere.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from nephrosim.errors import UserInputError

#: Molar masses used for mass ↔ molar conversion (g/mol).
#: Creatinine C4H7N3O: 113.12 g/mol; BUN is reported as urea *nitrogen*: 2 N per
#: urea, 2 × 14.007 = 28.014 g N per mol urea (so BUN mg/dL × 0.357 = urea mmol/L).
MOLAR_MASS_G_PER_MOL = {"creatinine": 113.12, "urea_nitrogen": 28.014}


@lru_cache(maxsize=1)
def _pint_errors() -> tuple[type[BaseException], ...]:
    """What pint raises for a text that is not a unit (and only that: anything else is a bug)."""
    import tokenize

    from pint.errors import PintError

    return (PintError, AttributeError, ValueError, TypeError, SyntaxError, tokenize.TokenError)


def __getattr__(name: str):
    # ``UNIT_PARSE_ERRORS`` is looked up on first use: importing pint costs ~0.25 s of every
    # command's start-up (its compat layer imports dask), and a scenario whose readouts are
    # in the model's own units never converts anything (issue 15, cold start)
    if name == "UNIT_PARSE_ERRORS":
        return _pint_errors()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class UnitError(UserInputError):
    """A unit that cannot be converted to what the field needs."""


@lru_cache(maxsize=1)
def registry():
    """The shared pint registry, with counting units for cells, particles and EVs."""
    import pint

    ureg = pint.UnitRegistry()
    ureg.define("cell = [cell_count] = cells")
    ureg.define("particle = [particle_count] = particles")
    ureg.define("cell_equivalent = [cell_count] = cell_equivalents")
    return ureg


def _parse(unit: str):
    ureg = registry()
    text = unit.replace("µ", "u").replace("μ", "u").replace("1.73m2", "").strip()
    try:
        return ureg.Unit(text) if text else ureg.dimensionless
    except _pint_errors() as exc:  # pint raises several error types
        raise UnitError(f"unknown unit {unit!r}") from exc


def convert(
    value: Any,
    from_unit: str,
    to_unit: str,
    *,
    substance: str | None = None,
    body_weight_kg: float | None = None,
    bsa_m2: float | None = None,
) -> np.ndarray:
    """Convert ``value`` between units.

    Arguments
    ---------
    value : number or array.
    from_unit, to_unit : unit strings (``"mg/dL"``, ``"umol/L"``, ``"cells/kg"``,
        ``"mL/min/1.73m2"``...).
    substance : ``"creatinine"`` or ``"urea_nitrogen"`` when mass and molar units meet.
    body_weight_kg : needed for per-kg units.
    bsa_m2 : body surface area, needed for per-1.73 m² units.

    Returns
    -------
    numpy array in ``to_unit``.
    """
    arr = np.asarray(value, dtype=float)
    if from_unit == to_unit:
        return arr
    ureg = registry()
    factor = 1.0
    # per-1.73 m² normalisation: value_norm = value_abs * 1.73 / BSA
    for unit, sign in ((from_unit, -1), (to_unit, +1)):
        if unit.endswith("/1.73m2"):
            if not bsa_m2:
                raise UnitError(
                    f"unit {unit!r} needs a body surface area; it is only available for humans"
                )
            factor *= (1.73 / bsa_m2) ** sign
    src = ureg.Quantity(1.0, _parse(from_unit.removesuffix("/1.73m2")))
    dst = _parse(to_unit.removesuffix("/1.73m2"))
    try:
        if src.dimensionality == dst.dimensionality:
            return arr * factor * src.to(dst).magnitude
        # per-kg ↔ absolute
        if body_weight_kg is not None:
            bw = ureg.Quantity(body_weight_kg, ureg.kg)
            for candidate in (src * bw, src / bw):
                if candidate.dimensionality == dst.dimensionality:
                    return arr * factor * candidate.to(dst).magnitude
        if substance is not None:
            mm = ureg.Quantity(MOLAR_MASS_G_PER_MOL[substance], "g/mol")
            for candidate in (src / mm, src * mm):
                if candidate.dimensionality == dst.dimensionality:
                    return arr * factor * candidate.to(dst).magnitude
    except _pint_errors() as exc:
        raise UnitError(f"cannot convert {from_unit!r} to {to_unit!r}: {exc}") from exc
    raise UnitError(
        f"cannot convert {from_unit!r} to {to_unit!r}"
        + ("" if body_weight_kg else " (per-kg units need a body weight)")
    )


def is_convertible(from_unit: str, to_unit: str, **context: Any) -> bool:
    try:
        convert(1.0, from_unit, to_unit, **context)
    except (UnitError, KeyError):
        return False
    return True
