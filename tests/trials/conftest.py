import math

import numpy as np
import pytest
import typer

from nephrosim.commands.trials import register

#: A small design: fast inclusion (SCr rise >= 0.3 mg/dL in 48 h), one compiled MSC arm.
SMALL = """
name: small
virtual_patients: 800
inclusion: {kind: scr_rise, rise_mg_dl: 0.3, within_h: 48}
arms:
  - {name: placebo, n: 20}
  - name: msc
    n: 20
    treatment: {product: msc, dose: 2.0e6, dose_unit: cells/kg, route: intra_arterial_aorta}
    timing: {relative_to: surgery, delay_h: 48}
"""


@pytest.fixture
def app():
    app = typer.Typer()

    @app.callback()
    def main():
        """test app"""

    register(app)
    return app


@pytest.fixture
def small_yaml(tmp_path):
    p = tmp_path / "small.yaml"
    p.write_text(SMALL)
    return p


def synthetic_pool(n: int, median_days: float, rng, horizon: float = 30.0):
    """A pool of ``n`` patients with exponential times to recovery (censored at ``horizon``) and random
    other outcomes, for replicate-level tests that need no simulation."""
    from nephrosim.trials.endpoints import PatientOutcomes

    t = rng.exponential(median_days / math.log(2), n)
    return PatientOutcomes(np.minimum(t, horizon), t < horizon, rng.random(n) * 0.2, rng.random(n) * 10,
                           rng.random(n) * 0.3, rng.random(n) * 0.2, rng.random(n) < 0.2, np.full(n, np.nan),
                           np.full(n, np.nan))
