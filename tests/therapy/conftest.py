"""Shared helpers for the therapy tests (each simulation compiles one SBML per arm: keep arms few)."""

import pytest

from nephrosim import simulate

TIMES = (0, 0.25, 0.5, 1, 2, 6, 12, 23, 24, 47, 48, 72, 120, 168)


def msc(**kw):
    d = {"product": "msc", "dose": 5e5, "route": "iv", "donor": "syngeneic"}
    d.update(kw)
    return d


def run(arms, injury=None, readouts=("msc_lung",), times=TIMES, species="mouse", **extra):
    sc = {"species": species, "injury": injury or {"model": "clearance_change", "fraction": 0.5},
          "arms": arms, "readouts": list(readouts), "times_h": list(times), **extra}
    result = simulate(sc)
    assert result.ok, result.statuses
    return result


@pytest.fixture(scope="session")
def routes():
    """Mouse, 5x10^5 syngeneic MSC by IV, suprarenal aorta, renal artery; kidney half-injured."""
    arms = [{"name": r, "treatments": [msc(route=r)]} for r in ("iv", "intra_arterial_aorta", "renal_artery")]
    return run(arms, readouts=("msc_lung", "msc_kidney", "msc_kidney_cell_hours", "msc_microembolism",
                               "msc_liver_spleen", "msc_other", "msc_blood"))
