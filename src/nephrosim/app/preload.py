"""Imported once by the runs' fork server (not by the web server): the heavy modules of the
trial and mechanisms runs, so that each run's process starts with them already imported
(lifelines alone takes ~2 s to import)."""

import lifelines  # noqa: F401  (the trial statistics: Cox, Kaplan-Meier, log-rank)
import lifelines.statistics  # noqa: F401

import nephrosim.analysis.attribution  # noqa: F401
import nephrosim.trials  # noqa: F401
import nephrosim.trials.analysis  # noqa: F401
