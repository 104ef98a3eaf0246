"""Error types of :mod:`nephrosim.evidence`.

Every error is a :class:`ValueError` subclass whose message names the field (or CSV
column), the offending value and the fix, so that the CLI can print it without a
traceback and exit with status 2.
"""

from __future__ import annotations

from dataclasses import dataclass

from nephrosim.errors import UserInputError

__all__ = ["EvidenceError", "InputError", "ImportRejected", "RowIssue", "NotEnoughStudies"]


class EvidenceError(UserInputError):
    """Base class of all user-facing evidence errors."""


class InputError(EvidenceError):
    """A bad argument or input table (names the field, the value and the fix)."""


class NotEnoughStudies(EvidenceError):
    """No study (or too few) survived the selection rules for a meta-analysis.

    Attributes
    ----------
    excluded : tuple
        The :class:`~nephrosim.evidence.pooling.Exclusion` records explaining why
        each candidate was dropped.
    """

    def __init__(self, message: str, excluded: tuple = ()):
        super().__init__(message)
        self.excluded = tuple(excluded)


@dataclass(frozen=True)
class RowIssue:
    """One reason a row of an imported table was rejected.

    Attributes
    ----------
    row : int
        1-based data-row number as a spreadsheet user sees it (header = row 1, so the
        first data row is row 2).
    column : str
        The column at fault.
    reason : str
        What is wrong and how to fix it.
    """

    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        if self.row <= 0:  # a problem with the whole file (or the store), not one row
            return f"column '{self.column}': {self.reason}" if self.column else self.reason
        return f"row {self.row}, column '{self.column}': {self.reason}"


#: at most this many problems are listed in an :class:`ImportRejected` message (all are in ``issues``)
MAX_LISTED_ISSUES = 50


class ImportRejected(EvidenceError):
    """An import was rejected; nothing was written.

    Attributes
    ----------
    issues : tuple of RowIssue
        Every problem found (all rows are checked, not only the first bad one).
    """

    def __init__(self, source: str, issues: list[RowIssue] | tuple[RowIssue, ...]):
        self.source = source
        self.issues = tuple(issues)
        lines = [f"import of {source!s} rejected: {len(self.issues)} problem(s); nothing was written"]
        lines += [f"  - {i}" for i in self.issues[:MAX_LISTED_ISSUES]]
        if len(self.issues) > MAX_LISTED_ISSUES:
            lines.append(f"  ... and {len(self.issues) - MAX_LISTED_ISSUES} more; fix these first and import again")
        super().__init__("\n".join(lines))
