"""The documentation site: it builds with ``mkdocs build --strict``, the scenario reference is
what the schema generates, and every command of the tutorial names real files and options."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import typer

from nephrosim.cli import app

from project_scripts import load_script

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    return load_script("gen_scenario_reference")


def test_scenario_reference_is_generated_from_the_current_schema():
    gen = _generator()
    text = gen.build()
    assert (ROOT / "docs" / "reference" / "scenario.md").read_text(encoding="utf-8") == text, \
        "docs/reference/scenario.md is out of date: run python scripts/gen_scenario_reference.py"
    # every injury model and every readout of the code is documented, with its units
    from nephrosim.biology.readouts import available_readouts
    from nephrosim.scenarios.injuries import INJURY_MODELS

    for name, cls in INJURY_MODELS.items():
        assert f"### {cls.__name__} {{#" in text and f"`{name}`" in text
        for field in cls.model_fields:
            assert f"| `{field}` |" in text
    for name, r in available_readouts().items():
        assert re.search(rf"^\| `{re.escape(name)}` \| `{re.escape(r.unit)}`", text, re.M), name
    # the EV dose-unit spellings a new user needs
    for unit in ("`ug_protein`", "`particles`", "`cell_equivalents`"):
        assert unit in text


def _commands(page: Path) -> list[list[str]]:
    blocks = re.findall(r"```bash\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    return [shlex.split(line) for block in blocks for line in block.splitlines() if line.startswith("nephrosim ")]


def test_tutorial_commands_use_real_files_and_options():
    root = typer.main.get_command(app)
    commands = _commands(ROOT / "docs" / "tutorial.md")
    assert len(commands) >= 10
    made = set()  # files an earlier command of the tutorial writes
    for argv in commands:
        if argv[1:] == ["--help"]:
            continue
        command, rest = root, argv[1:]
        while hasattr(command, "commands"):  # nested groups: nephrosim export sbml
            assert rest and rest[0] in command.commands, f"{shlex.join(argv)}: no command {rest[:1]}"
            command, rest = command.commands[rest[0]], rest[1:]
        options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
        outputs = {rest[i + 1] for i, t in enumerate(rest[:-1]) if t in ("-o", "--output", "--out", "--report")}
        for token in rest:
            if token.startswith("-"):
                assert token in options, f"{shlex.join(argv)}: {token} is not an option of {command.name}"
            elif token.endswith((".yaml", ".yml")) and token not in outputs:
                assert (ROOT / token).is_file() or token in made, f"{shlex.join(argv)}: {token} does not exist"
        made |= outputs


def test_site_builds_strict(tmp_path):
    """``mkdocs build --strict``: every page in the nav exists, every link and anchor resolves,
    every API reference entry is found by mkdocstrings."""
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(ROOT / "mkdocs.yml"),
                          "-d", str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    site = tmp_path / "site"
    assert (site / "index.html").is_file()
    assert (site / "reference" / "scenario" / "index.html").is_file()
    api = (site / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    assert "effect_sizes" in api and "simulate" in api
    tutorial = re.sub(r"<[^>]+>", "", (site / "tutorial" / "index.html").read_text(encoding="utf-8"))
    assert "nephrosim compare examples/mouse_iri_msc.yaml" in tutorial
