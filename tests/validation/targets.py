"""Parametrize a test over the literature targets of one kind.

The windows live only in ``nephrosim/analysis/targets/literature_targets.yaml``; a test checks a
target with the checker's own :func:`~nephrosim.analysis.model_check.evaluate`. A target marked
``known_miss`` becomes a strict xfail: the test fails loudly once the model meets it (then
remove ``known_miss``). Only an ``AssertionError`` counts as the expected miss, so a solver
failure still fails the test.
"""

from __future__ import annotations

import pytest

from nephrosim.analysis.model_check import Target, evaluate, load_targets


def target_params(kind: str) -> list:
    params = []
    for t in load_targets().of_kind(kind):
        marks = [pytest.mark.xfail(strict=True, raises=AssertionError, reason=f"known miss: {t.known_miss}")] \
            if t.known_miss else []
        params.append(pytest.param(t, id=t.id, marks=marks))
    return params


def assert_target_met(target: Target) -> None:
    result = evaluate(target)
    missed = [c.text() for c in result.checks if c.passed is False]
    assert result.passed, f"{target.id} ({target.kind}) missed: " + "; ".join(missed)
