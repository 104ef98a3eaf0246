"""Write docs/reference/scenario.md: every scenario field, generated from the pydantic schema.

The scenario reference is never written by hand: this script reads the models themselves
(:class:`nephrosim.scenarios.schema.Scenario`, its arms, injuries, treatments, protocols and
solver settings) and the readout catalogue, and writes one Markdown page with each field's
type, default, allowed range and description. ``tests/report/test_docs.py`` fails when the
committed page differs from what this script writes, so the page cannot fall behind the code.

    python scripts/gen_scenario_reference.py            # rewrite the page
    python scripts/gen_scenario_reference.py --check    # exit 1 if the page is out of date
"""

from __future__ import annotations

import argparse
import inspect
import sys
import types
import typing
from pathlib import Path

import annotated_types
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "reference" / "scenario.md"


def _anchor(model: type) -> str:
    return model.__name__.lower()


def _is_model(t) -> bool:
    return inspect.isclass(t) and issubclass(t, BaseModel)


def type_text(t, models: dict) -> str:
    """A reader's spelling of a type annotation; models are linked and queued in ``models``."""
    origin, args = typing.get_origin(t), typing.get_args(t)
    if origin is typing.Annotated:
        return type_text(args[0], models)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" if isinstance(a, str) else f"`{a!r}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        parts = [a for a in args if a is not type(None)]
        text = " \\| ".join(type_text(a, models) for a in parts)
        return text + (" \\| null" if len(parts) < len(args) else "")
    if origin in (tuple, list):
        inner = args[0] if args else typing.Any
        return f"list of {type_text(inner, models)}"
    if origin is not None and origin.__name__ in ("Mapping", "dict"):
        return f"mapping {type_text(args[0], models)} → {type_text(args[1], models)}"
    if _is_model(t):
        models.setdefault(t.__name__, t)
        return f"[{t.__name__}](#{_anchor(t)})"
    return {float: "number", int: "whole number", str: "text", bool: "true \\| false"}.get(t, getattr(t, "__name__", str(t)))


def constraints(field) -> str:
    out = []
    for m in field.metadata:
        for cls, attr, sym in ((annotated_types.Gt, "gt", ">"), (annotated_types.Ge, "ge", "≥"),
                               (annotated_types.Lt, "lt", "<"), (annotated_types.Le, "le", "≤")):
            if isinstance(m, cls):
                out.append(f"{sym} {getattr(m, attr):g}")
        if isinstance(m, annotated_types.MinLen):
            out.append(f"at least {m.min_length} long")
        if isinstance(m, annotated_types.MaxLen):
            out.append(f"at most {m.max_length} long")
    return ", ".join(out)


def default_text(field) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "**required**"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        dumped = value.model_dump(mode="json", exclude_defaults=True)
        return f"`{dumped}`" if dumped else f"`{type(value).__name__}` defaults"
    if isinstance(value, tuple):
        value = [v.model_dump(mode="json", exclude_defaults=True) if isinstance(v, BaseModel) else v for v in value]
    if value is None:
        return "null"
    if isinstance(value, dict) and not value:
        return "`{}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def model_section(model: type, models: dict, heading: str = "###") -> list[str]:
    doc = inspect.getdoc(model) or ""
    lines = [f'{heading} {model.__name__} {{#{_anchor(model)}}}', ""]
    if doc and not doc.startswith(("Usage docs", "A base class")):
        lines += [doc.split("\n\n")[0], ""]
    lines += ["| field | type | default | allowed | description |", "|---|---|---|---|---|"]
    for name, field in model.model_fields.items():
        lines.append(f"| `{name}` | {type_text(field.annotation, models)} | {_cell(default_text(field))} | "
                     f"{_cell(constraints(field))} | {_cell(field.description or '')} |")
    return lines + [""]


def readout_section() -> list[str]:
    from nephrosim.biology.readouts import available_readouts

    lines = ["## Readouts {#readouts}", "",
             "Names for `readouts:`; `units:` may give any of the listed units for a readout "
             "(the first is the default).", "",
             "| readout | units | description |", "|---|---|---|"]
    for name, r in sorted(available_readouts().items()):
        units = ", ".join(f"`{u}`" for u in dict.fromkeys((r.unit, *r.units)))
        lines.append(f"| `{name}` | {units} | {_cell(r.description)} |")
    return lines + [""]


def build() -> str:
    from nephrosim.scenarios import products
    from nephrosim.scenarios.injuries import INJURY_MODELS
    from nephrosim.scenarios.schema import Arm, Scenario

    models: dict = {}
    lines = ["# Scenario reference", "",
             "<!-- generated by scripts/gen_scenario_reference.py from the pydantic schema; do not edit -->", "",
             "A scenario is a YAML (or JSON) file read by `nephrosim simulate`, `compare`, `ensemble`, `check` and "
             "the Python API. It is validated once, when it is read; a bad field is refused with its path, the "
             "bad value, what is allowed and the fix. `nephrosim template` prints an annotated example and "
             "`nephrosim check FILE` validates one without running it.", "",
             "Numbers must be finite; unknown fields are refused (every model here is strict).", "",
             "## Scenario {#scenario}", ""]
    lines += model_section(Scenario, models, "###")[2:]
    lines += model_section(Arm, models)
    lines += ["## Injury models {#injuries}", "",
              "`injury:` is one of these, chosen by its `model` field (`nephrosim list injuries`).", ""]
    for cls in INJURY_MODELS.values():
        lines += model_section(cls, models)
    lines += ["## Treatments {#treatments}", "",
              "Each entry of an arm's `treatments:` is one product, chosen by its `product` field "
              "(`nephrosim list products`). EV doses are never converted between µg protein, particles and "
              "cell-equivalents unless `particles_per_ug` is given.", ""]
    for cls in (products.MSC, products.ConditionedMedium, products.EV):
        lines += model_section(cls, models)
    done = {"Scenario", "Arm", *(c.__name__ for c in INJURY_MODELS.values()), "MSC", "ConditionedMedium", "EV"}
    lines += ["## Nested settings {#nested}", ""]
    while True:
        todo = [m for n, m in sorted(models.items()) if n not in done]
        if not todo:
            break
        for m in todo:
            done.add(m.__name__)
            lines += model_section(m, models)
    lines += readout_section()
    lines += ["## Names {#names}", "", "| list | allowed names |", "|---|---|"]
    for label, alias in (("routes", "Route"), ("tissue sources", "TissueSource"), ("donors", "Donor"),
                         ("factor knockouts", "FactorKnockout")):
        lines.append(f"| {label} | {', '.join(f'`{a}`' for a in typing.get_args(getattr(products, alias)))} |")
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is out of date")
    args = parser.parse_args(argv)
    text = build()
    if args.check:
        if not PAGE.is_file() or PAGE.read_text(encoding="utf-8") != text:
            print(f"{PAGE.relative_to(ROOT)} is out of date: run python scripts/gen_scenario_reference.py",
                  file=sys.stderr)
            return 1
        return 0
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
