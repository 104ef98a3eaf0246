"""Synthetic data for tests and demos: a config whose observations are simulated at known values."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from nephrosim.calibration.config import CalibrationConfig, as_config
from nephrosim.calibration.problem import CalibrationProblem


def synthesize(config, true_values: Mapping[str, float], *, cv: float = 0.05, n: int = 8, seed: int = 0,
               noise: bool = True) -> CalibrationConfig:
    """A copy of ``config`` whose observation means are simulated at ``true_values``.

    Each observation's SD becomes ``cv`` × the true mean (n subjects), and its mean is
    the true mean plus normal noise with SE = SD/√n (seeded). For tests and demos.
    """
    cfg = as_config(config)
    problem = CalibrationProblem(cfg)
    x = problem.x_nominal.copy()
    for i, q in enumerate(problem.parameters):
        if q.label in true_values:
            x[i] = math.log10(true_values[q.label])
        elif q.name in true_values:
            x[i] = math.log10(true_values[q.name])
    rng = np.random.default_rng(seed)
    studies = []
    for s in cfg.studies:
        if s.id not in problem.study_ids:
            studies.append(s.model_dump())
            continue
        obs = []
        for e in (e for e in problem.experiments if e.study == s.id):
            m = problem.predict(e, x)[0]
            for j in range(m.size):
                sd = cv * abs(m[j])
                mean = m[j] + (rng.normal(0.0, sd / math.sqrt(n)) if noise else 0.0)
                obs.append({"arm": e.arm, "readout": e.readout[j], "time_h": float(e.obs_time[j]),
                            "mean": float(mean), "sd": float(sd), "n": n, "unit": e.unit[j]})
        d = s.model_dump()
        d["observations"] = obs
        d["observations_csv"] = None
        studies.append(d)
    return cfg.replace(studies=studies)
