"""The one progress bar of nephrosim (rich), for ensembles, calibration and every long job.

A disabled bar does nothing, so callers never branch on whether a terminal is attached.
"""

from __future__ import annotations


class ProgressBar:
    """A counted task: ``advance()`` after each unit of work; use as a context manager.

    Arguments
    ---------
    description : what is being counted ("chunks", "calibrate default").
    total, completed : units in all, and units already done (a resumed run).
    enabled : draw the bar (typically ``sys.stderr.isatty()``).
    fields : extra text fields shown after the count, updated by ``advance(**fields)``.
    """

    def __init__(self, description: str, total: int, completed: int = 0, enabled: bool = True, **fields):
        self._progress = None
        if not enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
            TimeRemainingColumn

        columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
        columns += [TextColumn(f"{k} {{task.fields[{k}]}}") for k in fields]
        columns += [TimeElapsedColumn(), TimeRemainingColumn()]
        self._progress = Progress(*columns, transient=False)
        self._progress.start()
        self._task = self._progress.add_task(description, total=total, completed=completed, **fields)

    def advance(self, **fields) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1, **fields)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
