"""The shipped calibration/default.yaml: valid, reviewable, and (slow) differentiable on the IRI model;
its PEtab export, random effects included, gives pyPESTO the same objective."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nephrosim.calibration import CalibrationProblem, load_config

DEFAULT = Path(__file__).resolve().parents[2] / "calibration" / "default.yaml"


def test_default_config_is_valid_and_reviewable():
    cfg = load_config(DEFAULT)
    studies = cfg.selected_studies()
    assert len(studies) >= 2
    for s in studies:
        assert s.citation and s.mapping, f"{s.id}: cite the study and say how the scenario maps to it"
    assert {p.name for p in cfg.parameters} == {"iri_t50_min", "iri_q10"}
    assert len(cfg.study_groups()) >= 2, "leave-one-study-out needs two publications"
    assert cfg.parameter_set == "table", "the shipped calibration must start from the cited table"


@pytest.mark.slow
def test_default_problem_gradient_and_petab(tmp_path):
    problem = CalibrationProblem(load_config(DEFAULT))
    x = problem.x_nominal
    _, g = problem.nll_and_grad(x)
    for i in range(problem.dim):
        e = np.zeros(problem.dim)
        e[i] = 1e-5
        fd = (problem.nll(x + e) - problem.nll(x - e)) / 2e-5
        assert abs(fd - g[i]) <= 1e-4 * abs(fd)
    from nephrosim.calibration.petab_io import export_petab, lint_petab, pypesto_objective

    path = export_petab(load_config(DEFAULT), tmp_path)
    assert lint_petab(path) == ""
    objective, names = pypesto_objective(path, rtol=1e-8, atol=1e-10)
    assert len(names) == problem.dim  # estimated parameters, then one lab effect per publication
    assert float(objective(x)) == pytest.approx(problem.nll(x), rel=1e-6)
    # away from the nominal point, with non-zero lab effects (PEtab prior = nephrosim's penalty)
    x2 = x + np.linspace(-0.1, 0.05, problem.dim)
    assert float(objective(x2)) == pytest.approx(problem.nll(x2), rel=1e-6)


@pytest.mark.parametrize("path", sorted(DEFAULT.parent.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_is_valid_and_reviewable(path):
    """Each config in calibration/ builds its problem and passes the reviewability checks
    (citation and mapping for every study)."""
    from nephrosim.calibration import check_config

    cfg = load_config(path)
    problems = check_config(cfg)
    assert not [p for p in problems if p.startswith(("studies.", "parameters."))], problems
    problem = CalibrationProblem(cfg)
    assert problem.n_observations >= problem.dim
