"""The one validation formatter: every problem is one line, none is dropped."""

import pytest
from pydantic import Field

from nephrosim.inputs import InputFileError, StrictModel, validate


class Arm(StrictModel):
    doses: list[float] = Field(min_length=1)


class Design(StrictModel):
    arms: list[Arm] = Field(min_length=1)


def test_an_empty_nested_list_is_reported():
    """An empty list inside a nested field was dropped: '0 problem(s)' and no line."""
    with pytest.raises(InputFileError) as info:
        validate(Design, {"arms": [{"doses": []}]}, "d.yaml", what="design")
    text = str(info.value)
    assert "arms.0.doses" in text and "at least 1" in text, text
    assert "0 problem" not in text


def test_a_list_too_short_because_its_item_failed_is_reported_once():
    with pytest.raises(InputFileError) as info:
        validate(Design, {"arms": [{"doses": ["x"]}]}, "d.yaml", what="design")
    lines = [ln for ln in str(info.value).splitlines() if ln.strip().startswith("-")]
    assert len(lines) == 1 and "arms.0.doses.0" in lines[0], lines
