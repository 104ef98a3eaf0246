"""Compile a :class:`~nephrosim.modelspec.ModelSpec` to SBML Level 3 Version 2.

Mapping: states → species (amounts, ``hasOnlySubstanceUnits``) in one unit
compartment; parameters → constant parameters; quantities → assignment rules;
fluxes → irreversible reactions; events → SBML events. Time is in hours. The
SBML is the single executable form: ``nephrosim simulate`` runs exactly what
``nephrosim export sbml`` writes.

SBML simulators start at model time 0, and libRoadRunner evaluates event triggers
at 0 when it resets. A model whose story begins before the insult (pre-treatment:
a dose at t = −24 h) is therefore written with its clock shifted: model time
τ = t − ``time_origin_h``, every ``time`` in the math becomes ``(time + t0)`` and
every event time ``t_e − t0``; the document's notes say so.
"""

from __future__ import annotations

import html
import numbers
import re

import libsbml

from nephrosim.modelspec import ModelSpec


#: XML namespace of nephrosim's SBML annotations (solver hints other tools may ignore)
NEPHROSIM_NS = "https://nephrosim.org/sbml/solver"


def tolerance_scales(sbml: str) -> dict[str, float]:
    """Species id → absolute-tolerance scale, from the ``nephrosim:solver`` annotations that
    :func:`to_sbml` writes for states whose magnitude is not ~1 (``State.scale``).

    To reproduce nephrosim's trajectories in another tool, solve species ``s`` to
    ``atol × scale[s]``; in libRoadRunner: ``rr.integrator.setValue("absolute_tolerance",
    [atol * scales.get(s, 1) for s in rr.model.getFloatingSpeciesIds()])``.
    """
    if NEPHROSIM_NS not in sbml:
        return {}
    import xml.etree.ElementTree as ET

    scales = {}
    for species in ET.fromstring(sbml).iter():
        if not species.tag.endswith("}species"):
            continue
        hint = species.find(f".//{{{NEPHROSIM_NS}}}solver")
        if hint is not None:
            scales[species.get("id")] = float(hint.get("absoluteToleranceScale"))
    return scales


class SBMLCompileError(ValueError):
    """An expression or name that cannot become valid SBML."""


_TIME = re.compile(r"(?<![\w.])time(?![\w(])")


def _math(expr: str, where: str, time_origin_h: float = 0.0):
    if time_origin_h:
        expr = _TIME.sub(f"(time + {float(time_origin_h)!r})", str(expr))
    ast = libsbml.parseL3Formula(str(expr))
    if ast is None:
        raise SBMLCompileError(f"{where}: cannot parse expression {expr!r}: {libsbml.getLastParseL3Error()}")
    return ast


def _names(ast) -> set[str]:
    """Identifiers used in a libSBML math tree."""
    out = set()
    stack = [ast]
    while stack:
        node = stack.pop()
        if node.isName():
            out.add(node.getName())
        stack.extend(node.getChild(i) for i in range(node.getNumChildren()))
    return out


def _notes(element, text: str) -> None:
    element.setNotes(f'<body xmlns="http://www.w3.org/1999/xhtml"><p>{html.escape(text)}</p></body>')


def _check(code: int, where: str) -> None:
    if code != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise SBMLCompileError(f"{where}: libSBML refused ({libsbml.OperationReturnValue_toString(code)})")


def to_sbml(spec: ModelSpec, time_origin_h: float = 0.0) -> str:
    """Return the SBML L3V2 document for ``spec`` as a string.

    ``time_origin_h`` (≤ 0): the time, in hours after the insult, that model time 0
    stands for (the first pre-treatment dose); 0 when the story starts at the insult.
    """
    spec.check()
    if time_origin_h > 0:
        raise SBMLCompileError(f"time_origin_h must be ≤ 0 (a time before the insult), got {time_origin_h}")
    doc = libsbml.SBMLDocument(3, 2)
    model = doc.createModel()
    model.setId(spec.name)
    model.setTimeUnits("dimensionless")
    clock = "time in hours after the insult" if not time_origin_h else (
        f"model time in hours since {time_origin_h:g} h (the first dose before the insult): the insult is at "
        f"model time {-time_origin_h:g}")
    _notes(model, f"nephrosim model {spec.name}; {clock}.")

    comp = model.createCompartment()
    comp.setId("body")
    comp.setSize(1.0)
    comp.setConstant(True)
    comp.setSpatialDimensions(3)

    used = {u.name: u for p in spec.processes for u in p.parameters}
    for name in sorted(spec.parameter_values):
        par = model.createParameter()
        _check(par.setId(name), f"parameter {name!r}")
        par.setValue(float(spec.parameter_values[name]))
        par.setConstant(True)
        unit = spec.parameter_units.get(name, used[name].unit if name in used else "")
        _notes(par, f"{used[name].description if name in used else name} [{unit}]")

    for s in spec.states:
        sp = model.createSpecies()
        _check(sp.setId(s.name), f"state {s.name!r}")
        sp.setCompartment("body")
        sp.setHasOnlySubstanceUnits(True)
        sp.setBoundaryCondition(False)
        sp.setConstant(False)
        _notes(sp, f"{s.description} [{s.unit}]")
        if s.scale != 1.0:
            _check(sp.setAnnotation(f'<nephrosim:solver xmlns:nephrosim="{NEPHROSIM_NS}" '
                                    f'absoluteToleranceScale="{s.scale!r}"/>'), f"scale of {s.name!r}")
        if isinstance(s.initial, numbers.Number):
            sp.setInitialAmount(float(s.initial))
        else:
            sp.setInitialAmount(0.0)
            ia = model.createInitialAssignment()
            ia.setSymbol(s.name)
            _check(ia.setMath(_math(s.initial, f"initial value of {s.name!r}", time_origin_h)), s.name)

    for q in spec.quantities:
        par = model.createParameter()
        _check(par.setId(q.name), f"quantity {q.name!r}")
        par.setConstant(False)
        _notes(par, f"{q.description} [{q.unit}]")
        rule = model.createAssignmentRule()
        rule.setVariable(q.name)
        _check(rule.setMath(_math(q.expr, f"quantity {q.name!r}", time_origin_h)), q.name)

    state_names = {st.name for st in spec.states}
    for f in spec.fluxes:
        rx = model.createReaction()
        _check(rx.setId(f.name), f"flux {f.name!r}")
        rx.setReversible(False)
        _notes(rx, f"{f.description} [{f.unit}]")
        for species, stoich in f.consumes.items():
            ref = rx.createReactant()
            ref.setSpecies(species)
            ref.setStoichiometry(float(stoich))
            ref.setConstant(True)
        for species, stoich in f.produces.items():
            ref = rx.createProduct()
            ref.setSpecies(species)
            ref.setStoichiometry(float(stoich))
            ref.setConstant(True)
        law = rx.createKineticLaw()
        ast = _math(f.rate, f"rate of flux {f.name!r}", time_origin_h)
        _check(law.setMath(ast), f.name)
        # states the rate depends on without being consumed or produced are modifiers
        for species in sorted(_names(ast) & state_names - set(f.consumes) - set(f.produces)):
            mod = rx.createModifier()
            mod.setSpecies(species)

    for e in spec.events:
        ev = model.createEvent()
        _check(ev.setId(e.name), f"event {e.name!r}")
        ev.setUseValuesFromTriggerTime(True)
        _notes(ev, e.description)
        trig = ev.createTrigger()
        trig.setInitialValue(False)
        trig.setPersistent(True)
        trig.setMath(_math(f"time >= {float(e.time_h - time_origin_h)!r}", e.name))
        for var, expr in e.assignments.items():
            ea = ev.createEventAssignment()
            ea.setVariable(var)
            _check(ea.setMath(_math(expr, f"event {e.name!r}", time_origin_h)), e.name)

    return libsbml.writeSBMLToString(doc)


def consistency_errors(sbml: str) -> list[str]:
    """libSBML consistency-check messages of severity error or worse."""
    doc = libsbml.readSBMLFromString(sbml)
    doc.checkConsistency()
    return [
        doc.getError(i).getMessage().strip()
        for i in range(doc.getNumErrors())
        if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR
    ]
