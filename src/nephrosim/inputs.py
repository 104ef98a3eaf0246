"""One reader for every input file (scenario, protocol, calibration config) and one
formatter for its validation errors.

A file is read only if it is a regular file of at most :data:`MAX_FILE_BYTES`, UTF-8 text,
and — for YAML — uses at most :data:`MAX_ALIASES` aliases and :data:`MAX_DEPTH` levels of
nesting (an 800-byte "billion laughs" file would otherwise take gigabytes). Every refusal is
an :class:`InputFileError`: one line per problem, naming the file, the field and the fix.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from nephrosim.errors import UserInputError

#: Largest input file read (a scenario of 1,000 arms is a few hundred kB).
MAX_FILE_BYTES = 2_000_000
#: Most YAML aliases (``*name``) one file may use.
MAX_ALIASES = 200
#: Deepest nesting of mappings and lists.
MAX_DEPTH = 40
#: Most values (mapping entries and list items, aliases expanded) in one input file.
MAX_NODES = 1_000_000

_FIXES = {
    "literal_error": "use one of the allowed values",
    "greater_than": "use a positive number",
    "greater_than_equal": "use a number that is not negative",
    "less_than_equal": "use a smaller number",
    "less_than": "use a smaller number",
    "missing": "add this field",
    "extra_forbidden": "remove it or check its spelling",
    "float_parsing": "use a number",
    "float_type": "use a number",
    "finite_number": "use a finite number",
    "int_parsing": "use a whole number",
    "union_tag_invalid": "use one of the allowed values",
    "union_tag_not_found": "add the discriminating field",
    "string_too_long": "shorten it",
    "too_long": "use fewer entries",
}


class InputFileError(UserInputError):
    """An input that cannot be used. ``problems`` lists one line per bad field."""

    def __init__(self, source: str, problems: list[str] | None = None):
        self.source = source
        self.problems = list(problems or [])
        if problems is None:
            super().__init__(source)
            return
        head = f"{source}: {len(problems)} problem(s)" if source else f"{len(problems)} problem(s)"
        super().__init__(head + "\n" + "\n".join(f"  - {p}" for p in problems))


def _printable(text: str) -> str:
    """``text`` with control characters (terminal escapes) shown as escapes, never executed."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def format_validation_error(exc, source: str, error_class=InputFileError) -> InputFileError:
    """A pydantic ``ValidationError`` as one :class:`InputFileError` (one line per problem)."""
    problems = []
    errors = exc.errors()

    def has_failed_item(err) -> bool:
        """A list that is too short because one of its own items failed (reported on its own)."""
        loc = tuple(err["loc"])
        return any(e is not err and len(e["loc"]) > len(loc) and tuple(e["loc"][:len(loc)]) == loc for e in errors)

    for err in errors:
        if err["type"] == "too_short" and has_failed_item(err):
            continue
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        value = err.get("input")
        shown = repr(value) if not isinstance(value, (dict, list)) else ("{...}" if isinstance(value, dict) else "[...]")
        if len(shown) > 60:
            shown = shown[:57] + "..."
        msg = err["msg"].removeprefix("Value error, ")
        fix = _FIXES.get(err["type"], "")
        line = f"{loc}: {shown} — {msg}"
        if fix and "fix:" not in msg.lower():
            line += f" (fix: {fix})"
        problems.append(_printable(line))
    return error_class(_printable(source), problems)


def validate(model_cls, data, source: str = "", what: str = "scenario", error_class=InputFileError):
    """Validate a mapping into ``model_cls``; every problem becomes one line of one error."""
    from pydantic import ValidationError

    if data is None:
        raise error_class(source, [f"({what}): the file is empty; write the {what}'s fields in it"])
    if not isinstance(data, dict):
        raise error_class(source, [f"({what}): expected a mapping of fields, got {type(data).__name__}"])
    try:
        return model_cls.model_validate(data)
    except ValidationError as exc:
        raise format_validation_error(exc, source, error_class) from None
    except RecursionError:
        raise error_class(source, [f"({what}): nested too deeply to read"]) from None


def _check_shape(value, source: str, error_class) -> None:
    """Refuse data nested deeper than :data:`MAX_DEPTH` or larger than :data:`MAX_NODES` once
    aliases are expanded (YAML anchors share objects: a "billion laughs" file is small on disk
    and in memory, but every consumer walks the expanded tree)."""
    sizes: dict[int, int] = {}

    def size(v, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise error_class(source, [f"nested more than {MAX_DEPTH} levels deep; flatten the file"])
        if not isinstance(v, (dict, list)):
            return 1
        key = id(v)
        if key not in sizes:
            children = v.values() if isinstance(v, dict) else v
            total = 1
            for c in children:
                total += size(c, depth + 1)
                if total > MAX_NODES:
                    raise error_class(source, [f"more than {MAX_NODES:,} values once YAML aliases (*name) are "
                                               "expanded; write the values out instead of nesting anchors"])
            sizes[key] = total
        return sizes[key]

    size(value, 0)


def _bounded_yaml(text: str, source: str, error_class):
    import yaml

    class Loader(yaml.SafeLoader):
        aliases = 0

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                Loader.aliases += 1
                if Loader.aliases > MAX_ALIASES:
                    raise error_class(source, [f"more than {MAX_ALIASES} YAML aliases (*name); write the "
                                               "values out instead of repeating anchors"])
            return super().compose_node(parent, index)

    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 — a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise error_class(source, [f"{where}YAML syntax error: {problem} — fix the indentation/quoting "
                                   "there"]) from None
    except RecursionError:
        raise error_class(source, [f"nested more than {MAX_DEPTH} levels deep; flatten the file"]) from None


def read_mapping(path, what: str = "scenario", error_class=InputFileError) -> Any:
    """Read a YAML (or ``.json``) file, refusing anything that is not a bounded text file."""
    path = Path(path)
    source = _printable(str(path))
    if str(path) in ("", "."):
        raise error_class(source or "''", [f"no {what} file given — give the path of a .yaml file"])
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error_class(source, [f"{what} file not found — check the path"]) from None
    except OSError as exc:
        raise error_class(source, [f"cannot read the {what} file ({exc.strerror})"]) from None
    if stat.S_ISDIR(st.st_mode):
        raise error_class(source, [f"is a folder; give the path of a {what} file (.yaml or .json)"])
    if not stat.S_ISREG(st.st_mode):
        raise error_class(source, [f"is not a regular file (a device or a pipe); give a {what} file"])
    if st.st_size > MAX_FILE_BYTES:
        raise error_class(source, [f"the file is {st.st_size:,} bytes; a {what} file may be at most "
                                   f"{MAX_FILE_BYTES:,} bytes"])
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error_class(source, [f"cannot read the {what} file ({exc.strerror})"]) from None
    if b"\x00" in raw:
        raise error_class(source, [f"is a binary file, not a {what} (YAML or JSON text)"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error_class(source, [f"byte {exc.start} is not UTF-8 text; save the {what} as UTF-8"]) from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text, parse_constant=lambda c: math.nan if c == "NaN" else float(c))
        except json.JSONDecodeError as exc:
            raise error_class(source, [f"line {exc.lineno} column {exc.colno}: JSON syntax error: {exc.msg}"]) from None
        except RecursionError:
            raise error_class(source, [f"nested more than {MAX_DEPTH} levels deep; flatten the file"]) from None
    else:
        data = _bounded_yaml(text, source, error_class)
    _check_shape(data, source, error_class)
    return data


def _allows_bool(annotation) -> bool:
    import typing

    if annotation is bool:
        return True
    return any(_allows_bool(a) for a in typing.get_args(annotation))


def _is_numeric(annotation) -> bool:
    import typing

    if annotation in (int, float):
        return True
    return any(_is_numeric(a) for a in typing.get_args(annotation))


class StrictModel(BaseModel):
    """Base of every input model: frozen, no unknown fields, finite numbers, no booleans as numbers.

    pydantic's lax mode reads ``duration_h: true`` as 1 h and accepts ``.nan``/``.inf`` from
    YAML; an input model refuses both with a message naming the field.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_as_numbers(cls, data):
        if not isinstance(data, dict):
            return data
        for name, field in cls.model_fields.items():
            if name not in data or _allows_bool(field.annotation) or not _is_numeric(field.annotation):
                continue
            value = data[name]
            items = list(value.values()) if isinstance(value, dict) else (
                value if isinstance(value, (list, tuple)) else [value])
            if any(isinstance(v, bool) for v in items):
                raise ValueError(f"{name}: {value!r} is a yes/no value where a number is expected; give a number")
        return data
