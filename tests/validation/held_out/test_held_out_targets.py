"""Held-out targets: nothing was fitted to them — the model's validation.

Windows and sources: nephrosim/analysis/targets/literature_targets.yaml.
"""

from __future__ import annotations

import pytest

from tests.validation.targets import assert_target_met, target_params


@pytest.mark.parametrize("target", target_params("held_out"))
def test_held_out_target(target):
    assert_target_met(target)
