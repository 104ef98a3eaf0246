"""Scenario errors that name the field, the bad value, what is allowed and the fix."""

from __future__ import annotations


class ScenarioError(ValueError):
    """A scenario that cannot be run. ``problems`` lists one line per bad field."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        head = f"{source}: {len(problems)} problem(s)" if source else f"{len(problems)} problem(s)"
        super().__init__(head + "\n" + "\n".join(f"  - {p}" for p in problems))


_FIXES = {
    "literal_error": "use one of the allowed values",
    "greater_than": "use a positive number",
    "greater_than_equal": "use a number that is not negative",
    "less_than_equal": "use a smaller number",
    "missing": "add this field",
    "extra_forbidden": "remove it or check its spelling",
    "float_parsing": "use a number",
    "union_tag_invalid": "use one of the allowed values",
    "union_tag_not_found": "add the discriminating field",
}


def from_validation_error(exc, source: str = "") -> ScenarioError:
    """Turn a pydantic ``ValidationError`` into a :class:`ScenarioError`."""
    problems = []
    errors = exc.errors()
    nested = {tuple(e["loc"][:1]) for e in errors if len(e["loc"]) > 1}
    for err in errors:
        if err["type"] == "too_short" and tuple(err["loc"][:1]) in nested:
            continue  # consequence of an item that failed, reported on its own
        loc = ".".join(str(x) for x in err["loc"]) or "(scenario)"
        value = err.get("input")
        shown = repr(value) if not isinstance(value, dict) else "{...}"
        if len(shown) > 60:
            shown = shown[:57] + "..."
        msg = err["msg"].removeprefix("Value error, ")
        fix = _FIXES.get(err["type"], "")
        line = f"{loc}: {shown} — {msg}"
        if fix and "fix:" not in msg.lower():
            line += f" (fix: {fix})"
        problems.append(line)
    return ScenarioError(source, problems)
