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


def validate(model_cls, data, source: str = "", what: str = "scenario"):
    """Validate a mapping into ``model_cls``; every problem becomes one :class:`ScenarioError` line."""
    from pydantic import ValidationError

    if not isinstance(data, dict):
        raise ScenarioError(source, [f"({what}): expected a mapping of fields, got {type(data).__name__}"])
    try:
        return model_cls.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc, source) from None


def read_mapping(path, what: str = "scenario"):
    """Read a YAML (or ``.json``) file; syntax errors give line and column."""
    import json
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        raise ScenarioError(str(path), [f"{what} file not found — check the path"])
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScenarioError(str(path), [f"line {exc.lineno} column {exc.colno}: JSON syntax error: {exc.msg}"]) from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(str(path), [f"{where}YAML syntax error: {problem} — fix the indentation/quoting there"]) from None
