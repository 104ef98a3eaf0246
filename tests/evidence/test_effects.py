import numpy as np
import pytest

from nephrosim.evidence import InputError, convert, escalc, hedges_j, sem_to_sd


def test_smd_hand_computed():
    # m1=10, m2=12, sd=2 both, n=5 both: d = -1, m = 8, J = Γ(4)/(√4·Γ(3.5)) = 6/(2·3.32335) = 0.902703
    out = escalc("SMD", m1i=[10.0], sd1i=[2.0], n1i=[5], m2i=[12.0], sd2i=[2.0], n2i=[5])
    j = 6.0 / (2.0 * 3.323350970447843)
    assert out.yi[0] == pytest.approx(-j, abs=1e-9)
    assert out.vi[0] == pytest.approx(1 / 5 + 1 / 5 + j**2 / 20, abs=1e-9)
    assert round(out.yi[0], 4) == -0.9027 and round(out.vi[0], 4) == 0.4407


def test_smd_unequal_groups_pooled_sd():
    out = escalc("SMD", m1i=[3.0], sd1i=[1.0], n1i=[4], m2i=[5.0], sd2i=[3.0], n2i=[8])
    sp = np.sqrt((3 * 1 + 7 * 9) / 10)
    assert out.yi[0] == pytest.approx(hedges_j(10) * (-2 / sp))
    assert hedges_j(10) == pytest.approx(1 - 3 / (4 * 10 - 1), abs=2e-3)


def test_md_and_rom():
    md = escalc("MD", m1i=[3.0], sd1i=[1.0], n1i=[4], m2i=[5.0], sd2i=[2.0], n2i=[8])
    assert md.yi[0] == -2.0 and md.vi[0] == pytest.approx(1 / 4 + 4 / 8)
    rom = escalc("ROM", m1i=[3.0], sd1i=[1.0], n1i=[4], m2i=[6.0], sd2i=[2.0], n2i=[8])
    assert rom.yi[0] == pytest.approx(np.log(0.5))
    assert rom.vi[0] == pytest.approx(1 / (4 * 9) + 4 / (8 * 36))


def test_or_rr_continuity_only_when_zero_cell():
    out = escalc("OR", ai=[0, 2], bi=[10, 8], ci=[3, 4], di=[7, 6])
    assert out.yi[0] == pytest.approx(np.log(0.5 * 7.5 / (10.5 * 3.5)))
    assert out.vi[0] == pytest.approx(1 / 0.5 + 1 / 10.5 + 1 / 3.5 + 1 / 7.5)
    assert out.yi[1] == pytest.approx(np.log(2 * 6 / (8 * 4)))  # no correction
    rr = escalc("RR", ai=[0], bi=[10], ci=[3], di=[7])
    assert rr.yi[0] == pytest.approx(np.log((0.5 / 11) / (3.5 / 11)))


def test_sem_to_sd():
    assert sem_to_sd(2.0, 9) == pytest.approx(6.0)
    assert np.allclose(sem_to_sd([1.0, 0.5], [4, 16]), [2.0, 2.0])
    with pytest.raises(InputError):
        sem_to_sd(-1.0, 4)


def test_unit_harmonization_round_trip():
    # one converter: the same factor as nephrosim.units (creatinine 113.12 g/mol), 88.4 in KDIGO 2012
    assert convert(1.0, "serum_creatinine", "mg/dL") == pytest.approx(88.40, abs=0.005)
    assert convert(88.40, "serum_creatinine", "umol/L", "mg/dL") == pytest.approx(1.0, abs=1e-4)
    from nephrosim.units import convert as model_convert

    assert convert(1.0, "serum_creatinine", "mg/dL") == pytest.approx(
        float(model_convert(1.0, "mg/dL", "umol/L", substance="creatinine")), rel=1e-12)
    x = 2.37
    back = convert(convert(x, "serum_creatinine", "mg/dL", "µmol/L"), "serum_creatinine", "µmol/L", "mg/dL")
    assert back == pytest.approx(x, rel=1e-12)
    assert convert(10.0, "bun", "mg/dL") == pytest.approx(3.57, abs=0.001)  # 0.357 in KDIGO 2012
    assert convert(convert(28.0, "bun", "mg/dL"), "bun", "mmol/L", "mg/dL") == pytest.approx(28.0)
    with pytest.raises(InputError, match="unit"):
        convert(1.0, "serum_creatinine", "furlongs")


def test_escalc_errors_name_columns():
    with pytest.raises(InputError, match="sd2i"):
        escalc("SMD", m1i=[1.0], sd1i=[1.0], n1i=[3], m2i=[1.0], n2i=[3])
    with pytest.raises(InputError, match="sd1i"):
        escalc("SMD", m1i=[1.0], sd1i=[-1.0], n1i=[3], m2i=[1.0], sd2i=[1.0], n2i=[3])
