"""What a run's page is drawn from, without a browser: a failed trajectory is a gap, never NaN
(which JSON cannot carry: the page's plots would not draw at all)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from nephrosim.app.runs import Run
from nephrosim.app.server import _plot_data
from nephrosim.scenarios.schema import scenario_from_dict


def test_a_failed_trajectory_is_a_gap_in_strict_json():
    scenario = scenario_from_dict({"name": "x", "species": "mouse", "arms": [{"name": "vehicle"}],
                                   "readouts": ["serum_creatinine"], "times_h": [0, 24]})
    frame = pd.DataFrame({"arm": "vehicle", "sample": 0, "time_h": [0.0, 24.0], "readout": "serum_creatinine",
                          "value": [0.1, np.nan], "unit": "mg/dL", "status": "solver_failure"})
    run = Run(id="r", number=1, session="s", kind="simulate", scenario=scenario.model_dump(mode="json"),
              scenario_name="x", arms=("vehicle",),
              payload={"frame": frame, "statuses": {"vehicle": ("solver_failure", "CV_TOO_MUCH_WORK")}})
    data = json.loads(json.dumps(_plot_data(run), allow_nan=False))
    arm = data["panels"][0]["arms"][0]
    assert arm["y"] == [0.1, None] and arm["status"] == "solver_failure"
