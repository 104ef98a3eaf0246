"""Fixtures for the calibration tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def synthetic_config():
    from calib_problems import TRUE, small_config

    from nephrosim.calibration import as_config, synthesize

    return synthesize(as_config(small_config()), TRUE, cv=0.05, n=8, seed=1)
