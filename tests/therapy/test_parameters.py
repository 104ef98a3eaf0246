"""Every therapy number has a source or a reason; every parameter the therapy uses is in the table."""

import csv
from importlib import resources

from nephrosim.biology.parameters import ParameterTable
from nephrosim.biology.therapy import build_therapy
from nephrosim.biology.therapy.msc import biodistribution
from nephrosim.scenarios.products import EV, MSC, ConditionedMedium


def _rows():
    text = resources.files("nephrosim.biology").joinpath("parameters_therapy.csv").read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


def test_every_therapy_parameter_has_a_source_or_reason():
    table = ParameterTable.default()
    names = {r["name"] for r in _rows()}
    assert len(names) > 50
    problems = [p for p in table.problems() if p.split(" [")[0] in names]
    assert problems == []
    for r in _rows():
        if r["provenance"] == "source":
            assert len(r["quote"]) > 20 and r["pmid_or_doi"], r["name"]
        else:
            assert len(r["reason"]) > 20, r["name"]


def test_msc_rows_live_in_the_therapy_table():
    physiology = resources.files("nephrosim.biology").joinpath("parameters.csv").read_text("utf-8")
    assert not any(line.startswith("msc_") for line in physiology.splitlines())


def test_every_parameter_used_by_the_therapy_is_in_the_table():
    table = ParameterTable.default()
    spec = build_therapy([MSC(dose=1e5, protocol={"culture": "spheroid", "priming": ["ifn_gamma"]}),
                          EV(dose=1e9, dose_unit="particles", route="renal_artery"),
                          ConditionedMedium(dose=1e6, route="intraperitoneal")], "rat", 0.275, table)
    used = {u.name for p in spec.processes for u in p.parameters} | {u.name for u in biodistribution(()).parameters}
    lot_values = set(spec.values)
    missing = sorted(n for n in used - lot_values if n not in table.names())
    assert missing == []
    for species in ("mouse", "rat", "human"):
        for n in used - lot_values:
            table.record(n, species)
