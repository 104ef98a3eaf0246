"""The one progress display of nephrosim, for ensembles, calibration and every long job.

In a terminal it is a rich progress bar. Outside one (a log file, a batch queue, CI, a pipe)
it prints a plain line at most every :data:`LINE_INTERVAL_S` seconds — units done, elapsed
time and an estimate of the time left — and a final "done in X s" line, so a long job is
never silent. A disabled display does nothing, so callers never branch on it.
"""

from __future__ import annotations

import sys
import time

#: Seconds between two plain progress lines outside a terminal.
LINE_INTERVAL_S = 10.0


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class ProgressBar:
    """A counted task: ``advance()`` after each unit of work; use as a context manager.

    Arguments
    ---------
    description : what is being counted ("chunks", "calibrate default").
    total, completed : units in all, and units already done (a resumed run).
    enabled : show progress at all (command lines pass True; library calls default to off).
    fields : extra text fields shown after the count, updated by ``advance(**fields)``.
    stream : where to draw (default ``sys.stderr``); a terminal gets a bar, anything else lines.
    """

    def __init__(self, description: str, total: int, completed: int = 0, enabled: bool = True, *,
                 stream=None, **fields):
        self._progress = None
        self._lines = False
        if not enabled:
            return
        self._stream = stream if stream is not None else sys.stderr
        isatty = getattr(self._stream, "isatty", None)
        if not (isatty and isatty()):
            self._lines = True
            self._description, self._total, self._done = description, int(total), int(completed)
            self._resumed_at = int(completed)
            self._fields = dict(fields)
            self._start = self._last = time.monotonic()
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
            TimeRemainingColumn

        columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
        columns += [TextColumn(f"{k} {{task.fields[{k}]}}") for k in fields]
        columns += [TimeElapsedColumn(), TimeRemainingColumn()]
        self._progress = Progress(*columns, transient=False, console=Console(file=self._stream))
        self._progress.start()
        self._task = self._progress.add_task(description, total=total, completed=completed, **fields)

    def advance(self, **fields) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1, **fields)
        elif self._lines:
            self._done += 1
            self._fields.update(fields)
            now = time.monotonic()
            if now - self._last >= LINE_INTERVAL_S and self._done < self._total:
                self._last = now
                self._print(self._line(now))

    def _line(self, now: float) -> str:
        elapsed = now - self._start
        new = self._done - self._resumed_at
        text = f"{self._description}: {self._done}/{self._total}"
        if self._total:
            text += f" ({100 * self._done / self._total:.0f} %)"
        text += f", {_duration(elapsed)} elapsed"
        if new > 0 and self._total > self._done:
            text += f", about {_duration(elapsed / new * (self._total - self._done))} left"
        extra = ", ".join(f"{k} {v}" for k, v in self._fields.items())
        return text + (f"; {extra}" if extra else "")

    def _print(self, text: str) -> None:
        print(text, file=self._stream, flush=True)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        elif self._lines:
            self._lines = False
            elapsed = time.monotonic() - self._start
            extra = ", ".join(f"{k} {v}" for k, v in self._fields.items())
            self._print(f"{self._description}: {self._done}/{self._total} done in {_duration(elapsed)}"
                        + (f"; {extra}" if extra else ""))

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
