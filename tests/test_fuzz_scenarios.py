"""A generated corpus of malformed scenarios: every one is refused cleanly.

Each case goes through the command line (``nephrosim simulate CASE -o out.csv``), as a user
would run it. Required for every case: exit status 2, a message that starts with ``error:``,
no traceback, no output file, within 10 s. The corpus mutates a valid scenario field by
field (wrong types, unknown fields, NaN/inf/booleans/negative/huge numbers, bounds) and adds
hostile files (empty, binary, a folder, /dev/zero, a FIFO, 3 MB, YAML anchors and python
tags, deep nesting).
"""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from nephrosim.cli import app

NAN, INF = float("nan"), float("inf")

VALID = {
    "name": "fuzz",
    "species": "mouse",
    "injury": {"model": "clearance_change", "fraction": 0.5, "duration_h": 24, "recovery_h": 24},
    "arms": [{"name": "vehicle"},
             {"name": "msc", "treatments": [{"product": "msc", "dose": 5e5, "route": "iv", "time_h": 0}]}],
    "readouts": ["serum_creatinine"],
    "times_h": [0, 24, 48],
}


def _set(path: tuple, value):
    d = copy.deepcopy(VALID)
    node = d
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return d


def _cases() -> list[tuple[str, object]]:
    """(id, content): content is a mapping (written as JSON) or raw bytes, or a special marker."""
    cases: list[tuple[str, object]] = []

    def add(cid, content):
        cases.append((cid, content))

    bad_numbers = {"nan": NAN, "inf": INF, "-inf": -INF, "bool": True, "text": "abc", "list": [1], "map": {"a": 1},
                   "null": None}
    # numeric fields that must be finite numbers (null is allowed for some: skipped below)
    numeric = {
        ("body_weight_g",): ("-1", -1.0),
        ("injury", "fraction"): ("1.5", 1.5),
        ("injury", "duration_h"): ("0", 0.0),
        ("injury", "recovery_h"): ("-3", -3.0),
        ("injury", "onset_h"): ("-1", -1.0),
        ("arms", 1, "treatments", 0, "dose"): ("0", 0.0),
        ("arms", 1, "treatments", 0, "time_h"): ("before-30-days", -1e6),
        ("arms", 1, "treatments", 0, "repeat_count"): ("0", 0),
    }
    nullable = {("body_weight_g",), ("injury", "duration_h")}
    for path, (label, out_of_range) in numeric.items():
        key = ".".join(map(str, path))
        add(f"{key}={label}", _set(path, out_of_range))
        for name, value in bad_numbers.items():
            if value is None and path in nullable:
                continue
            add(f"{key}={name}", _set(path, value))
    add("arms.1.treatments.0.repeat_count=huge", _set(("arms", 1, "treatments", 0, "repeat_count"), 10**6))
    add("arms.1.treatments.0.repeat_count=101-without-interval",
        _set(("arms", 1, "treatments", 0, "repeat_count"), 101))
    add("treatment.time_h=after-last-output", _set(("arms", 1, "treatments", 0, "time_h"), 1e9))
    add("treatment.dose=huge-float", _set(("arms", 1, "treatments", 0, "dose"), "1e999"))
    # text / choice fields
    choices = {
        ("species",): ["dog", "", 3, None, ["mouse"], True],
        ("sex",): ["female", "x", 1],
        ("parameter_set",): ["fitted", 2],
        ("injury", "model"): ["stubbed_toe", "", 5, None],
        ("arms", 1, "treatments", 0, "product"): ["stem_cells", "", 1, None],
        ("arms", 1, "treatments", 0, "route"): ["nose", 7, ""],
        ("arms", 1, "treatments", 0, "dose_unit"): ["bananas", "ug_protein", 1],
        ("arms", 1, "treatments", 0, "source"): ["liver", 0],
        ("arms", 1, "treatments", 0, "donor"): ["cousin", 0],
        ("arms", 1, "treatments", 0, "knockouts"): [["xyz"], "vegf", 3],
        ("arms", 1, "treatments", 0, "protocol"): [{"passage": -1}, {"culture": "4d"}, {"hypoxia_o2_percent": 1},
                                                   {"hypoxia_hours": 48}, {"passage": 200}, "no_such_file.yaml", 3],
        ("arms", 0, "name"): ["", "x" * 81, "bell\x07", "esc\x1b[31mred", 5, None],
        ("name",): ["", "y" * 201, "tab\there", "nul\x00name", 12],
    }
    for path, values in choices.items():
        key = ".".join(map(str, path))
        for i, v in enumerate(values):
            add(f"{key}#{i}", _set(path, v))
    # lists and mappings
    add("times_h=empty", _set(("times_h",), []))
    add("times_h=unsorted", _set(("times_h",), [0, 48, 24]))
    add("times_h=duplicate", _set(("times_h",), [0, 24, 24]))
    add("times_h=negative", _set(("times_h",), [-1, 24]))
    add("times_h=nan", _set(("times_h",), [0, 24, NAN]))
    add("times_h=inf", _set(("times_h",), [0, INF]))
    add("times_h=text", _set(("times_h",), ["a", "b"]))
    add("times_h=bools", _set(("times_h",), [False, True]))
    add("times_h=scalar", _set(("times_h",), 24))
    add("times_h=million", _set(("times_h",), list(range(10**6))))
    add("readouts=empty", _set(("readouts",), []))
    add("readouts=unknown", _set(("readouts",), ["happiness"]))
    add("readouts=number", _set(("readouts",), [1]))
    add("readouts=too-many", _set(("readouts",), ["serum_creatinine"] * 101))
    add("units=unknown-readout", _set(("units",), {"happiness": "mg/dL"}))
    add("units=bad-unit", _set(("units",), {"serum_creatinine": "furlongs"}))
    add("units=per-bsa-in-mouse", _set(("units",), {"gfr": "mL/min/1.73m2"}))
    add("units=list", _set(("units",), ["mg/dL"]))
    add("parameters=unknown", _set(("parameters",), {"gfr_ml_min_per_kgg": 2.0}))
    add("parameters=nan", _set(("parameters",), {"tbw_fraction": NAN}))
    add("parameters=bool", _set(("parameters",), {"tbw_fraction": True}))
    add("parameters=text", _set(("parameters",), {"tbw_fraction": "half"}))
    add("parameters=unused-row", _set(("parameters",), {"protocol_source_adipose_vegf_fold": 2.0}))
    add("parameters=shadowed-by-injury", {**VALID, "injury": {"model": "ischemia_reperfusion", "clamp_min": 30},
                                          "parameters": {"iri_clamp_min": 45}})
    add("arms=empty", _set(("arms",), []))
    add("arms=duplicate-names", _set(("arms",), [{"name": "a"}, {"name": "a"}]))
    add("arms=too-many", _set(("arms",), [{"name": f"a{i}"} for i in range(51)]))
    add("arms=not-a-list", _set(("arms",), {"name": "a"}))
    add("arms=string-items", _set(("arms",), ["vehicle"]))
    add("arms.treatments=too-many", _set(("arms", 1, "treatments"),
                                         [{"product": "msc", "dose": 1e5, "time_h": float(i)} for i in range(21)]))
    add("arms.treatments=mapping", _set(("arms", 1, "treatments"), {"product": "msc"}))
    add("ev.subtype", _set(("arms", 1, "treatments"), [{"product": "ev", "dose": 10, "dose_unit": "ug_protein",
                                                        "subtype": "microvesicle"}]))
    add("ev.particles-without-ratio-ok-but-unknown-field",
        _set(("arms", 1, "treatments"), [{"product": "ev", "dose": 1e9, "dose_unit": "particles", "ratio": 2}]))
    add("cm.dose_unit", _set(("arms", 1, "treatments"), [{"product": "conditioned_medium", "dose": 1,
                                                          "dose_unit": "ug_protein"}]))
    for field, value in {"rtol": 0, "atol": -1, "max_steps": 0, "check_states": "sometimes", "rtol ": 1e-6}.items():
        add(f"solver.{field.strip()}={value!r}", _set(("solver",), {field: value}))
    add("solver.max_steps=3e9", _set(("solver",), {"max_steps": 3_000_000_000}))
    add("solver.rtol=nan", _set(("solver",), {"rtol": NAN}))
    add("solver.rtol=bool", _set(("solver",), {"rtol": True}))
    # unknown fields at every level
    add("unknown.top", {**VALID, "specis": "mouse"})
    add("unknown.injury", _set(("injury", "clamp"), 30))
    add("unknown.arm", _set(("arms", 0, "treatment"), []))
    add("unknown.treatment", _set(("arms", 1, "treatments", 0, "dosage"), 1))
    add("unknown.protocol", _set(("arms", 1, "treatments", 0, "protocol"), {"passages": 3}))
    # every injury model with a bad field
    for model, fields in {
        "ischemia_reperfusion": {"clamp_min": 0}, "cisplatin": {"dose_mg_per_kg": -1}, "glycerol": {"dose_ml_per_kg": NAN},
        "sepsis_clp": {"severity": "mild"}, "lps": {"dose_mg_per_kg": INF}, "uuo": {"duration_h": True},
        "nephrectomy_5_6": {"remnant_fraction": 2}, "adriamycin": {"dose_mg_per_kg": "x"},
        "stz_diabetes": {"dose_mg_per_kg": -5}, "cardiac_surgery": {"bypass_min": -10},
    }.items():
        add(f"injury.{model}", _set(("injury",), {"model": model, **fields}))
        add(f"injury.{model}.unknown-field", _set(("injury",), {"model": model, "wibble": 1}))
    # not a mapping at the top
    add("top=list", [VALID])
    add("top=number", 42)
    add("top=string", "species: mouse")
    add("top=null", None)
    # hostile files
    for special in ("empty", "whitespace", "binary", "latin1", "folder", "dev_zero", "fifo", "huge", "laughs",
                    "deep_yaml", "deep_json", "python_tag", "yaml_syntax", "json_syntax", "surrogate_json",
                    "missing", "empty_path"):
        add(f"file.{special}", ("special", special))
    return cases


CASES = _cases()


def _write(tmp_path: Path, cid: str, content) -> str:
    if isinstance(content, tuple) and content and content[0] == "special":
        kind = content[1]
        p = tmp_path / "s.yaml"
        if kind == "empty":
            p.write_text("")
        elif kind == "whitespace":
            p.write_text("   \n\n")
        elif kind == "binary":
            p.write_bytes(bytes(range(256)) * 8)
        elif kind == "latin1":
            p.write_bytes("name: caf\xe9\nspecies: mouse\n".encode("latin-1"))
        elif kind == "folder":
            p = tmp_path / "folder.yaml"
            p.mkdir()
        elif kind == "dev_zero":
            return "/dev/zero"
        elif kind == "fifo":
            p = tmp_path / "pipe.yaml"
            os.mkfifo(p)
        elif kind == "huge":
            p.write_text("species: mouse\n" + "# padding\n" * 300_000)
        elif kind == "laughs":
            lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
            for i in range(1, 9):
                prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
                lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 9)}]")
            lines.append("species: *i")
            p.write_text("\n".join(lines) + "\n")
        elif kind == "deep_yaml":
            p.write_text("species: mouse\nparameters: " + "[" * 5000 + "]" * 5000 + "\n")
        elif kind == "deep_json":
            p = tmp_path / "s.json"
            p.write_text('{"species": "mouse", "units": ' + "[" * 100_000 + "]" * 100_000 + "}")
        elif kind == "python_tag":
            p.write_text("species: !!python/object/apply:os.system ['echo pwned']\n")
        elif kind == "yaml_syntax":
            p.write_text("species: mouse\n  readouts: [a\n")
        elif kind == "json_syntax":
            p = tmp_path / "s.json"
            p.write_text('{"species": "mouse",}')
        elif kind == "surrogate_json":
            p = tmp_path / "s.json"
            p.write_text('{"species": "mouse", "name": "bad \\ud800 name"}')
        elif kind == "missing":
            return str(tmp_path / "no_such.yaml")
        elif kind == "empty_path":
            return ""
        return str(p)
    p = tmp_path / "s.json"
    p.write_text(json.dumps(content, allow_nan=True))
    return str(p)


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 200, len(CASES)


@pytest.mark.parametrize("cid,content", CASES, ids=[c[0] for c in CASES])
def test_malformed_scenario_is_refused_cleanly(tmp_path, cid, content):
    path = _write(tmp_path, cid, content)
    out = tmp_path / "out.csv"
    start = time.perf_counter()
    result = CliRunner().invoke(app, ["simulate", path, "-o", str(out)])
    elapsed = time.perf_counter() - start
    text = result.output
    assert result.exit_code == 2, (result.exit_code, text[-2000:], repr(result.exception))
    assert text.lstrip().startswith("error:"), text[:500]
    assert "Traceback" not in text
    assert "\x1b" not in text and "\x07" not in text, "terminal control characters were echoed"
    assert not out.exists() and not list(tmp_path.glob(".out.csv.*")), "partial output left behind"
    assert elapsed < 10, f"took {elapsed:.1f} s"
    assert len(text) < 20_000, "the message echoes too much"


def test_a_valid_scenario_passes_the_same_route(tmp_path):
    """The harness itself can tell a good scenario from a bad one."""
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(VALID))
    result = CliRunner().invoke(app, ["simulate", str(p), "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.csv").exists()
