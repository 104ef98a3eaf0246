"""Units are explicit and convert exactly: doses per kg, creatinine and urea units."""

import numpy as np
import pytest

from nephrosim import simulate
from nephrosim.scenarios.products import EV
from nephrosim.units import UnitError, convert

BASE = {
    "species": "mouse",
    "body_weight_g": 25,
    "injury": {"model": "clearance_change", "fraction": 0.8},
    "readouts": ["serum_creatinine", "bun", "gfr", "msc_lung", "msc_kidney"],
    "times_h": [0, 1, 6, 24, 72],
}


def _arm(dose, unit):
    return {"name": "msc", "treatments": [{"product": "msc", "dose": dose, "dose_unit": unit, "route": "iv"}]}


def test_cells_per_kg_equals_equivalent_cells():
    per_kg = simulate({**BASE, "arms": [_arm(2.0e7, "cells/kg")]})
    cells = simulate({**BASE, "arms": [_arm(5.0e5, "cells")]})
    assert np.array_equal(per_kg.values["msc"], cells.values["msc"])
    assert per_kg.get("msc", "msc_lung")[1] > 0  # the dose did arrive


def test_creatinine_in_mg_dl_and_umol_l_agree():
    mg = simulate(BASE)
    umol = simulate({**BASE, "units": {"serum_creatinine": "umol/L", "bun": "mmol/L", "gfr": "uL/min"}})
    np.testing.assert_allclose(umol.get("vehicle", "serum_creatinine"),
                               mg.get("vehicle", "serum_creatinine") * 88.4017, rtol=1e-5)
    np.testing.assert_allclose(umol.get("vehicle", "bun"), mg.get("vehicle", "bun") * 0.35697, rtol=1e-4)
    np.testing.assert_allclose(umol.get("vehicle", "gfr"), mg.get("vehicle", "gfr") * 1000, rtol=1e-12)
    assert umol.units["serum_creatinine"] == "umol/L"


def test_conversions():
    assert convert(1.0, "mg/dL", "umol/L", substance="creatinine") == pytest.approx(88.40, abs=0.01)
    assert convert(10.0, "mg/dL", "mmol/L", substance="urea_nitrogen") == pytest.approx(3.57, abs=0.01)
    assert convert(2e6, "cells/kg", "cells", body_weight_kg=70) == pytest.approx(1.4e8)
    assert convert(100, "mL/min", "mL/min/1.73m2", bsa_m2=1.73) == pytest.approx(100)
    with pytest.raises(UnitError):
        convert(1.0, "cells/kg", "cells")  # no body weight
    with pytest.raises(UnitError):
        convert(1.0, "mg/dL", "umol/L")  # no molar mass


def test_ev_doses_are_never_silently_converted():
    ev = EV(dose=100, dose_unit="ug_protein")
    with pytest.raises(UnitError, match="particles_per_ug"):
        ev.dose_in("particles")
    assert EV(dose=100, dose_unit="ug_protein", particles_per_ug=1e9).dose_in("particles") == 1e11


def test_human_gfr_per_173m2():
    r = simulate({"species": "human", "readouts": ["gfr"], "units": {"gfr": "mL/min/1.73m2"},
                  "parameters": {"height_cm": 170}, "times_h": [0]})
    bsa = np.sqrt(170 * 70 / 3600)  # Mosteller
    assert r.get("vehicle", "gfr")[0] == pytest.approx(100.002 * 1.73 / bsa, rel=1e-4)
