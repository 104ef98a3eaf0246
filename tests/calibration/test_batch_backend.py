"""The batch-engine calibration backend (``solver.engine: batch``) against the exact one.

The roadrunner backend's gradient comes from forward sensitivities; the batch backend's from a
central difference on the compiled batch engine. Both must give the same likelihood, gradient
and Gauss–Newton information, and a fit with either must land on the same optimum."""

from __future__ import annotations

import numpy as np
import pytest

from calib_problems import TRUE, small_config

from nephrosim.calibration import Calibration, CalibrationConfigError, CalibrationProblem
from nephrosim.calibration.config import as_config
from nephrosim.calibration.synthetic import synthesize


@pytest.fixture(scope="module")
def problems():
    cfg = synthesize(as_config(small_config(n_starts=2, random_effects=[
        {"parameter": "gfr_ml_min_per_kg", "sd_log10": 0.1}])), TRUE, seed=3)
    batch = cfg.replace(solver={**cfg.solver.model_dump(), "engine": "batch"})
    return CalibrationProblem(cfg), CalibrationProblem(batch)


def test_likelihood_gradient_and_information_agree_with_the_exact_backend(problems):
    exact, batch = problems
    rng = np.random.default_rng(0)
    for x in (exact.x_nominal, exact.x_nominal + rng.normal(0, 0.05, exact.dim)):
        f1, g1 = exact.nll_and_grad(x)
        f2, g2 = batch.nll_and_grad(x)
        assert f2 == pytest.approx(f1, rel=1e-6, abs=1e-6)
        assert np.allclose(g2, g1, rtol=1e-3, atol=1e-3 * max(1.0, np.abs(g1).max()))
        H1, H2 = exact.fisher_information(x), batch.fisher_information(x)
        assert np.allclose(H2, H1, rtol=1e-3, atol=1e-6 * np.abs(H1).max())


def test_many_points_in_one_call_equal_one_at_a_time(problems):
    exact, batch = problems
    X = batch.start_points(6, seed=2)
    many = batch.nll_many(X)
    assert np.allclose(many, [exact.nll(x) for x in X], rtol=1e-6)
    with pytest.raises(CalibrationConfigError, match="engine: batch"):
        exact.nll_many(X)


def test_a_fit_on_the_batch_backend_finds_the_exact_backends_optimum(problems):
    exact, batch = problems
    a = Calibration(exact.config).fit()
    b = Calibration(batch.config).fit()
    assert b.nll_ == pytest.approx(a.nll_, abs=1e-4)
    assert np.allclose(b.x_[:3], a.x_[:3], atol=2e-3)


def test_one_value_across_species_only_where_the_table_has_one_row():
    from nephrosim.calibration.config import config_from_dict
    from nephrosim.calibration.problem import resolve_parameters

    def config(parameter):
        study = lambda sid, species: {"id": sid, "scenario": {"species": species, "injury": {  # noqa: E731
            "model": "ischemia_reperfusion", "clamp_min": 30}}, "observations": [
            {"readout": "serum_creatinine", "time_h": 24, "mean": 1.0, "sem": 0.1}]}
        return config_from_dict({"name": "x", "parameters": [parameter],
                                 "studies": [study("a", "mouse"), study("b", "rat")]})

    with pytest.raises(CalibrationConfigError, match="studies of several species"):
        resolve_parameters(config({"name": "paracrine_ec50_cell_h_per_kg"}))
    [p] = resolve_parameters(config({"name": "paracrine_ec50_cell_h_per_kg", "across_species": True}))
    assert p.species is None  # the table's one row for all species
    with pytest.raises(CalibrationConfigError, match="species-specific rows"):
        resolve_parameters(config({"name": "iri_t50_min", "across_species": True}))
