"""Conditioned medium as a trial arm (issue 16: the cell-free products in virtual trials).

Checked against things outside the code under test: a per-kg dose is the patient's weight times
the dose per kg (each patient's dose, read back from the simulation groups), and conditioned medium
carries only secreted factors — no cells that could lodge in the kidney's vessels — so no patient
of the pool does worse with it than untreated (the paired comparison, patient by patient).
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from nephrosim.trials.design import TrialError, trial_from_dict
from nephrosim.trials.run import eligible_pool, run_trial, treated_groups

from .conftest import SMALL

CM = {"product": "conditioned_medium", "dose": 2.0e6, "dose_unit": "cell_equivalents/kg", "route": "iv"}


def _design(treatment=CM):
    data = yaml.safe_load(SMALL)
    data["solver"] = {"engine": "batch"}
    data["arms"][1] = {"name": "cm", "n": 20, "treatment": treatment, "timing": {"relative_to": "surgery", "delay_h": 48}}
    return trial_from_dict(data)


@pytest.fixture(scope="module")
def result():
    return run_trial(_design(), replicates=20, seed=1)


def test_a_per_kg_conditioned_medium_dose_is_given_by_each_patients_weight(result):
    design, pop = result.design, result.population
    pool, entry = eligible_pool(design, pop, result.seed)
    groups, rows_of = treated_groups(design.arms[1].treatment, design.arms[1].timing, pop, pool, entry)
    [(_, cov, names, values)] = groups  # one dose time (48 h after surgery): one compiled arm
    assert names == ("@dose_cell_equivalents",)
    weight = pop.covariates["weight_kg"][pool[rows_of[0]]]
    np.testing.assert_allclose(values[:, 0], 2.0e6 * weight, rtol=1e-12)
    assert np.ptp(weight) > 10  # the population's weights differ, so the doses do


def test_conditioned_medium_never_makes_a_patient_worse(result):
    untreated, cm = result.arm_outcomes["placebo"], result.arm_outcomes["cm"]
    assert untreated.size == cm.size > 40
    assert np.all(cm.scr_auc <= untreated.scr_auc + 1e-9)
    assert cm.scr_auc.mean() < untreated.scr_auc.mean()  # and it helps on average


def test_a_bad_conditioned_medium_arm_names_the_field():
    with pytest.raises(TrialError, match="cells_per_ml"):
        _design({**CM, "dose_unit": "mL", "dose": 5.0})
