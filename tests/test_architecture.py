"""The one-way architecture, as a contract a circle cannot pass.

``pyproject.toml`` ([tool.importlinter]) declares the layers — cli → calibration → analysis →
run → scenarios | plots → biology | engine | evidence → foundation — and that the engine
imports nothing of the biology. import-linter builds the import graph of the installed
package (imports inside functions included) and fails on any import against the layers.
"""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contract_holds():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    done = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_the_engine_knows_nothing_of_kidneys():
    """Independent of the linter: the engine's source names no biology module."""
    for path in (ROOT / "src" / "nephrosim" / "engine").glob("*.py"):
        text = path.read_text()
        for layer in ("nephrosim.biology", "nephrosim.scenarios", "nephrosim.run", "nephrosim.evidence"):
            assert layer not in text, f"{path.name} mentions {layer}"


def test_public_names_at_the_package_root():
    import nephrosim

    for name in ("Scenario", "simulate", "ensemble", "compare", "check_model", "meta_analyse", "calibrate",
                 "export_sbml", "load_scenario", "ParameterTable"):
        assert callable(getattr(nephrosim, name)), name
