"""Scenario errors that name the field, the bad value, what is allowed and the fix.

The reading and the formatting live in :mod:`nephrosim.inputs` (one of each for every input
file); this module names the scenario's error class.
"""

from __future__ import annotations

from nephrosim.inputs import InputFileError, format_validation_error, read_mapping as _read_mapping, validate as _validate


class ScenarioError(InputFileError):
    """A scenario (or protocol) that cannot be run. ``problems`` lists one line per bad field."""


def from_validation_error(exc, source: str = "") -> ScenarioError:
    """Turn a pydantic ``ValidationError`` into a :class:`ScenarioError`."""
    return format_validation_error(exc, source, ScenarioError)


def validate(model_cls, data, source: str = "", what: str = "scenario"):
    """Validate a mapping into ``model_cls``; every problem becomes one :class:`ScenarioError` line."""
    return _validate(model_cls, data, source, what, ScenarioError)


def read_mapping(path, what: str = "scenario"):
    """Read a bounded YAML (or ``.json``) file; syntax errors give line and column."""
    return _read_mapping(path, what, ScenarioError)
