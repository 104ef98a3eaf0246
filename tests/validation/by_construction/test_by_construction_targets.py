"""By-construction targets: the model's structure or an input parameter guarantees them.

A failure here is a bug in the code, not a finding about the biology. Windows and sources:
nephrosim/analysis/targets/literature_targets.yaml.
"""

from __future__ import annotations

import pytest

from tests.validation.targets import assert_target_met, target_params


@pytest.mark.parametrize("target", target_params("by_construction"))
def test_by_construction_target(target):
    assert_target_met(target)
