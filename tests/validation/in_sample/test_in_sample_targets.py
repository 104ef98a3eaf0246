"""In-sample targets: a parameter was hand-calibrated or fitted to each (see its kind_reason).

Meeting them shows the calibration still holds after a change to the model; it is not
validation. Windows and sources: nephrosim/analysis/targets/literature_targets.yaml.
"""

from __future__ import annotations

import pytest

from tests.validation.targets import assert_target_met, target_params


@pytest.mark.parametrize("target", target_params("in_sample"))
def test_in_sample_target(target):
    assert_target_met(target)
