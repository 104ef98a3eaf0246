"""Progress outside a terminal: plain lines with an estimate of the time left, and a last
"done in X s" line (issue 18: `validate` printed nothing for 11.5 minutes in a log)."""

import io

import pytest

from nephrosim import progress
from nephrosim.progress import ProgressBar


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(progress.time, "monotonic", c)
    return c


def test_a_log_gets_lines_with_time_left_and_a_done_line(clock):
    log = io.StringIO()  # not a terminal
    with ProgressBar("chunks", 10, completed=2, stream=log, best="1.5") as bar:
        for _ in range(4):
            clock.now += 5.0  # 5 s per chunk
            bar.advance()
    lines = log.getvalue().splitlines()
    # one line after 10 s (2 chunks done now, 4/10), one after 20 s (6/10), then the last line
    assert lines[0] == "chunks: 4/10 (40 %), 10 s elapsed, about 30 s left; best 1.5"
    assert lines[1] == "chunks: 6/10 (60 %), 20 s elapsed, about 20 s left; best 1.5"
    assert lines[2] == "chunks: 6/10 done in 20 s; best 1.5"
    assert len(lines) == 3


def test_nothing_is_printed_when_disabled(clock):
    log = io.StringIO()
    with ProgressBar("chunks", 3, enabled=False, stream=log) as bar:
        clock.now += 60
        bar.advance()
    assert log.getvalue() == ""


def test_long_jobs_are_told_in_minutes_and_hours(clock):
    log = io.StringIO()
    with ProgressBar("calibrate", 2, stream=log) as bar:
        clock.now += 600
        bar.advance(best="0.9")
        clock.now += 7200
        bar.advance()
    assert log.getvalue().splitlines() == ["calibrate: 1/2 (50 %), 10.0 min elapsed, about 10.0 min left; best 0.9",
                                           "calibrate: 2/2 done in 2.2 h; best 0.9"]
