"""Repeated doses in a trial arm (issue 16: "single doses only").

A per-kg schedule must give every dose of every patient the patient's own amount. Checked
against an independent route to the same patients: the same covariates simulated with each
patient's doses written into the scenario as absolute cell numbers (weight x dose per kg),
which sets the doses when the model is built rather than per patient at run time. If only
the first dose of a schedule were set per patient, the later ones would keep the scenario's
nominal amount and the two routes would differ.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from nephrosim.trials.design import trial_from_dict
from nephrosim.trials.population import build_population, population_scenario, simulate_groups
from nephrosim.trials.run import eligible_pool, treated_groups

from .conftest import SMALL

SCHEDULE = {"product": "msc", "dose": 2.0e6, "dose_unit": "cells/kg", "route": "iv", "repeat_count": 3,
            "repeat_every_h": 24.0}


def _design(treatment):
    data = yaml.safe_load(SMALL)
    data["virtual_patients"] = 200
    data["solver"] = {"engine": "batch"}
    data["arms"][1] = {"name": "msc_x3", "n": 8, "treatment": treatment,
                       "timing": {"relative_to": "surgery", "delay_h": 48}}
    data["arms"][0]["n"] = 8
    return trial_from_dict(data)


@pytest.fixture(scope="module")
def pool():
    design = _design(SCHEDULE)
    pop = build_population(design.population, design.virtual_patients, 3, solver=design.solver,
                           times_h=design.output_times_h)
    rows, entry = eligible_pool(design, pop, 3)
    return design, pop, rows[:4], entry[:4]


def test_every_dose_of_a_per_kg_schedule_is_the_patients_weight_times_the_dose(pool):
    design, pop, rows, entry = pool
    treatment = design.arms[1].treatment
    groups, rows_of = treated_groups(treatment, design.arms[1].timing, pop, rows, entry)
    [(scenario, cov, names, values)] = groups  # one dose time, 48 h after surgery
    assert names == ("@dose_cells",) and scenario.arms[0].treatments[0].dose_times_h() == [48.0, 72.0, 96.0]
    [(scr, _, ok)] = simulate_groups(groups)
    assert ok.all()

    weight = pop.covariates["weight_kg"][rows[rows_of[0]]]
    assert np.ptp(weight) > 5  # different weights, so different doses
    by_hand = []
    for k, w in enumerate(weight):
        absolute = treatment.model_copy(update={"dose": 2.0e6 * float(w), "dose_unit": "cells", "time_h": 48.0})
        one = population_scenario((absolute,), name="by_hand", solver=pop.solver, times_h=pop.times_h)
        [(s, _, o)] = simulate_groups([(one, {c: v[k:k + 1] for c, v in cov.items()}, (), None)])
        assert o.all()
        by_hand.append(s[0])
    np.testing.assert_allclose(scr, np.array(by_hand), rtol=1e-6)


def test_a_schedule_differs_from_its_first_dose_alone(pool):
    design, pop, rows, entry = pool
    once = design.arms[1].treatment.model_copy(update={"repeat_count": 1, "repeat_every_h": None})
    results = []
    for treatment in (design.arms[1].treatment, once):
        groups, _ = treated_groups(treatment, design.arms[1].timing, pop, rows, entry)
        results.append(simulate_groups(groups)[0][0])
    three, one = results
    t = np.asarray(pop.times_h)
    # identical until the second dose (72 h after surgery), different after it
    np.testing.assert_allclose(three[:, t <= 72.0], one[:, t <= 72.0], rtol=1e-6)
    assert np.abs(three[:, t > 96.0] - one[:, t > 96.0]).max() > 1e-4
