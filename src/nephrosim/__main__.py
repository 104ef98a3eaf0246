"""``python -m nephrosim``: the same command line as ``nephrosim``."""

from nephrosim.cli import app

if __name__ == "__main__":
    app()
