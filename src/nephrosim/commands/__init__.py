"""Subcommands of ``nephrosim`` that live outside ``cli.py``, one module per job.

Each module has ``register(app)``, which adds its commands to the ``nephrosim`` Typer app:
``from nephrosim.commands import mechanisms; mechanisms.register(app)``.
"""
