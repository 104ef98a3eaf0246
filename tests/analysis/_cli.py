"""The mechanism commands (sensitivity, attribute, optimize-protocol) as a small typer app for CliRunner."""

import typer

from nephrosim.commands.mechanisms import register


def mechanisms_app() -> typer.Typer:
    """A typer app with the commands of :mod:`nephrosim.commands.mechanisms` registered."""
    app = typer.Typer()

    @app.callback()
    def main():
        """test app"""

    register(app)
    return app
