"""The one base class of errors caused by what a user gave nephrosim.

Anything raised as a :class:`UserInputError` is the user's to fix: the command line prints
its message on one line and exits with status 2. Every other exception is a bug in
nephrosim and keeps its traceback. (It subclasses ``ValueError`` so that existing callers
that catch ``ValueError`` still do.)
"""

from __future__ import annotations


class UserInputError(ValueError):
    """A bad scenario, file, option or parameter name; the message names the field and the fix."""

    def __str__(self) -> str:  # KeyError-style quoting never reaches the user
        return str(self.args[0]) if self.args else ""


class UnknownNameError(UserInputError, KeyError):
    """A name (parameter, arm, readout) that is not known; the message lists the closest ones."""
