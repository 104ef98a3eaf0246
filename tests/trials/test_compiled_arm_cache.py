"""A compiled arm evicted from the per-process cache (nephrosim.trials.population.compiled) leaves no
parameter state to the arm compiled after it (nephrosim.trials.execute.simulate_patients).

Regression: the parameters each cached simulator had been given were kept under ``id(sim)``; once the
cache (16 arms) evicted a simulator, the next one allocated at its address inherited its set, and a
26-treatment design search died restoring an MSC arm's dose parameter on an EV arm
(``KeyError: 'msc1_dose_1_cells'``)."""

from __future__ import annotations

import gc

import numpy as np

from nephrosim.scenarios.products import EV as EVProduct
from nephrosim.scenarios.products import MSC as MSCProduct
from nephrosim.trials import execute, population
from nephrosim.trials.design import PopulationSpec
from nephrosim.trials.population import draw_covariates, population_scenario

MSC = MSCProduct(product="msc", dose=2.0e6, dose_unit="cells", route="intra_arterial_aorta", time_h=48.0)
EV = EVProduct(product="ev", dose=1.6e8, dose_unit="cell_equivalents", route="iv", time_h=48.0)


def _task(scenario, cov, names=(), values=None):
    n = len(next(iter(cov.values())))
    return (scenario.model_dump_json(), cov, tuple(names), np.zeros((n, 0)) if values is None else values)


def test_an_evicted_arm_passes_nothing_to_the_next(monkeypatch):
    monkeypatch.setattr(population, "_CACHE_SIZE", 1)
    monkeypatch.setattr(population, "_COMPILED", {})
    cov = draw_covariates(PopulationSpec(), 3, np.random.default_rng(0))
    weight = cov["weight_kg"][:, None]
    msc, ev = population_scenario((MSC,)), population_scenario((EV,))
    gc.collect()
    before = len(execute._TOUCHED)  # sets of simulators other tests of this process keep alive
    fresh_ev = execute.simulate_patients(_task(ev, cov))  # the EV arm in a cache of its own
    population._COMPILED.clear()
    gc.collect()
    # the MSC arm with a per-patient per-kg dose (sets its dose parameter), then the EV arm evicts it
    execute.simulate_patients(_task(msc, cov, ("@dose_cells",), 2.0e6 * weight))
    after = execute.simulate_patients(_task(ev, cov))
    gc.collect()
    # only the live (EV) simulator added a set: those of the two evicted ones went with them
    assert len(execute._TOUCHED) == before + 1
    for a, b in zip(after, fresh_ev):
        np.testing.assert_array_equal(a, b)
