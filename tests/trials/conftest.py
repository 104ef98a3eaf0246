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
