"""Read an SBML document into a symbolic model the batch engine compiles.

The batch engine starts from the same SBML that libRoadRunner runs (what ``nephrosim
export sbml`` writes), so both engines execute one model. Only the subset nephrosim's
exporter writes is accepted (amount species in one constant compartment, assignment
rules, irreversible mass-action-free reactions with kinetic laws, time-triggered events
``time >= c`` without delay); anything else raises :class:`BatchUnsupported` naming the
construct, so a model is never silently simulated with other semantics.

Each assignment rule is kept as its own symbol and evaluated once per right-hand side, in
dependency order — libRoadRunner instead inlines every rule wherever it is referenced (the
issue measured 2,881 math nodes becoming 18,158 for the MSC arm).
"""

from __future__ import annotations

from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter

import sympy as sp

from nephrosim.errors import UserInputError


class BatchUnsupported(UserInputError):
    """The SBML uses a construct the batch engine does not implement; use engine: roadrunner."""


TIME = sp.Symbol("time", real=True)


@dataclass(frozen=True)
class EventSpec:
    """A time-triggered event: fires once when model time reaches ``time`` (trigger ``time >= c``).

    ``assignments`` are (target id, expression) pairs, all evaluated with the values at the
    trigger time before any is applied (``useValuesFromTriggerTime``).
    """

    name: str
    time: float
    assignments: tuple[tuple[str, sp.Expr], ...]


@dataclass(frozen=True)
class SymbolicModel:
    """The SBML model as sympy expressions over species, parameters, rules and ``time``.

    ``rules`` are in evaluation order (each uses only earlier rules); ``rates`` are the
    reaction rates and ``stoichiometry`` the (species index, reaction index, coefficient)
    triples of dy/dt = S · rate. ``initial`` holds each species' initial amount as an
    expression; ``initial_order`` the order in which species and rules with initial
    expressions must be evaluated at t = 0.
    """

    name: str
    species: tuple[str, ...]
    parameters: tuple[str, ...]
    parameter_values: tuple[float, ...]
    rules: tuple[tuple[str, sp.Expr], ...]
    rates: tuple[sp.Expr, ...]
    stoichiometry: tuple[tuple[int, int, float], ...]
    initial: tuple[sp.Expr, ...]
    events: tuple[EventSpec, ...]

    @property
    def symbols(self) -> dict[str, sp.Symbol]:
        return {n: sp.Symbol(n, real=True) for n in (*self.species, *self.parameters, *(r for r, _ in self.rules))}


_BINARY_REL = {}


def _convert(node, sym) -> sp.Expr:  # noqa: C901 - one branch per AST node type
    import libsbml as L

    t = node.getType()
    kids = [_convert(node.getChild(i), sym) for i in range(node.getNumChildren())]
    if t == L.AST_PLUS:
        return sp.Add(*kids) if kids else sp.Integer(0)
    if t == L.AST_MINUS:
        return -kids[0] if len(kids) == 1 else kids[0] - kids[1]
    if t == L.AST_TIMES:
        return sp.Mul(*kids) if kids else sp.Integer(1)
    if t == L.AST_DIVIDE:
        return kids[0] / kids[1]
    if t in (L.AST_POWER, L.AST_FUNCTION_POWER):
        return kids[0] ** kids[1]
    if t == L.AST_FUNCTION_ROOT:
        if len(kids) == 1:
            return sp.sqrt(kids[0])
        return kids[1] ** (sp.Integer(1) / kids[0])
    if t == L.AST_FUNCTION_EXP:
        return sp.exp(kids[0])
    if t == L.AST_FUNCTION_LN:
        return sp.log(kids[0])
    if t == L.AST_FUNCTION_LOG:
        return sp.log(kids[1]) / sp.log(kids[0]) if len(kids) == 2 else sp.log(kids[0], 10)
    if t == L.AST_FUNCTION_ABS:
        return sp.Abs(kids[0])
    if t == L.AST_FUNCTION_MIN:
        return sp.Min(*kids)
    if t == L.AST_FUNCTION_MAX:
        return sp.Max(*kids)
    if t == L.AST_FUNCTION_FLOOR:
        return sp.floor(kids[0])
    if t == L.AST_FUNCTION_CEILING:
        return sp.ceiling(kids[0])
    if t == L.AST_INTEGER:
        return sp.Integer(node.getInteger())
    if t in (L.AST_REAL, L.AST_REAL_E, L.AST_RATIONAL):
        return sp.Float(node.getReal(), 17)
    if t == L.AST_NAME_TIME:
        return TIME
    if t == L.AST_NAME:
        name = node.getName()
        if name not in sym:
            raise BatchUnsupported(f"SBML math refers to {name!r}, which is not a species, parameter or rule")
        return sym[name]
    if t == L.AST_CONSTANT_PI:
        return sp.pi
    if t == L.AST_CONSTANT_E:
        return sp.E
    if t == L.AST_CONSTANT_TRUE:
        return sp.true
    if t == L.AST_CONSTANT_FALSE:
        return sp.false
    rel = {L.AST_RELATIONAL_LT: sp.Lt, L.AST_RELATIONAL_LEQ: sp.Le, L.AST_RELATIONAL_GT: sp.Gt,
           L.AST_RELATIONAL_GEQ: sp.Ge, L.AST_RELATIONAL_EQ: sp.Eq, L.AST_RELATIONAL_NEQ: sp.Ne}
    if t in rel and len(kids) == 2:
        return rel[t](kids[0], kids[1])
    if t == L.AST_LOGICAL_AND:
        return sp.And(*kids)
    if t == L.AST_LOGICAL_OR:
        return sp.Or(*kids)
    if t == L.AST_LOGICAL_NOT:
        return sp.Not(kids[0])
    if t == L.AST_FUNCTION_PIECEWISE:
        pieces = [(kids[i], kids[i + 1]) for i in range(0, len(kids) - 1, 2)]
        otherwise = kids[-1] if len(kids) % 2 else sp.nan
        return sp.Piecewise(*pieces, (otherwise, True))
    raise BatchUnsupported(
        f"SBML math node {L.formulaToL3String(node)!r} (type {node.getType()}) is not supported by the "
        "batch engine; use engine: roadrunner")


def _trigger_time(event) -> float:
    """The constant c of a trigger ``time >= c`` (nephrosim's exporter writes only these)."""
    import libsbml as L

    math = event.getTrigger().getMath()
    if (math.getType() == L.AST_RELATIONAL_GEQ and math.getNumChildren() == 2
            and math.getChild(0).getType() == L.AST_NAME_TIME and math.getChild(1).isNumber()):
        return float(math.getChild(1).getValue())
    raise BatchUnsupported(
        f"event {event.getId()!r}: trigger {L.formulaToL3String(math)!r} is not of the form 'time >= c'; "
        "the batch engine handles time-triggered events only — use engine: roadrunner")


def read_sbml(sbml: str) -> SymbolicModel:
    """Parse ``sbml`` into a :class:`SymbolicModel`, refusing constructs outside the batch subset."""
    import libsbml as L

    doc = L.readSBMLFromString(sbml)
    errors = [doc.getError(i).getMessage() for i in range(doc.getNumErrors())
              if doc.getError(i).getSeverity() >= L.LIBSBML_SEV_ERROR]
    if errors:
        raise BatchUnsupported(f"the SBML does not read: {errors[0].strip()}")
    m = doc.getModel()
    for c in m.getListOfCompartments():
        if not c.getConstant() or c.getSize() != 1.0:
            raise BatchUnsupported(f"compartment {c.getId()!r} must be constant with size 1 for the batch engine")
    if m.getNumFunctionDefinitions() or m.getNumConstraints():
        raise BatchUnsupported("function definitions and constraints are not supported")
    species = []
    for s in m.getListOfSpecies():
        if s.getBoundaryCondition() or s.getConstant() or not s.getHasOnlySubstanceUnits():
            raise BatchUnsupported(f"species {s.getId()!r}: only amount species without boundary condition")
        species.append(s.getId())
    rule_vars = []
    for r in m.getListOfRules():
        if r.getTypeCode() != L.SBML_ASSIGNMENT_RULE:
            raise BatchUnsupported(f"rule for {r.getVariable()!r}: only assignment rules are supported")
        rule_vars.append(r.getVariable())
    params = [p.getId() for p in m.getListOfParameters() if p.getId() not in set(rule_vars)]
    values = [float(m.getParameter(p).getValue()) for p in params]
    sym = {n: sp.Symbol(n, real=True) for n in (*species, *params, *rule_vars)}
    if "time" in sym:
        raise BatchUnsupported("an SBML id named 'time' clashes with the time symbol")
    sym["body"] = sp.Integer(1)  # the unit compartment

    raw_rules = {r.getVariable(): _convert(r.getMath(), sym) for r in m.getListOfRules()}
    graph = {v: {str(s) for s in e.free_symbols} & set(raw_rules) for v, e in raw_rules.items()}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise BatchUnsupported(f"assignment rules form a cycle: {exc.args[1]}") from None

    rates, stoich = [], []
    index = {s: i for i, s in enumerate(species)}
    for k, rx in enumerate(m.getListOfReactions()):
        if rx.getReversible() or rx.getFast():
            raise BatchUnsupported(f"reaction {rx.getId()!r}: only irreversible, non-fast reactions")
        law = rx.getKineticLaw()
        if law is None or law.getNumLocalParameters() or law.getNumParameters():
            raise BatchUnsupported(f"reaction {rx.getId()!r}: needs a kinetic law without local parameters")
        rates.append(_convert(law.getMath(), sym))
        for ref in rx.getListOfReactants():
            stoich.append((index[ref.getSpecies()], k, -float(ref.getStoichiometry())))
        for ref in rx.getListOfProducts():
            stoich.append((index[ref.getSpecies()], k, float(ref.getStoichiometry())))

    initial = {s.getId(): sp.Float(s.getInitialAmount(), 17) for s in m.getListOfSpecies()}
    for ia in m.getListOfInitialAssignments():
        if ia.getSymbol() not in initial:
            raise BatchUnsupported(f"initial assignment to {ia.getSymbol()!r}: only species are supported")
        initial[ia.getSymbol()] = _convert(ia.getMath(), sym)

    events = []
    for ev in m.getListOfEvents():
        if ev.isSetDelay() or ev.isSetPriority() or not ev.getUseValuesFromTriggerTime() \
                or ev.getTrigger().getInitialValue() or not ev.getTrigger().getPersistent():
            raise BatchUnsupported(f"event {ev.getId()!r}: only persistent, undelayed 'time >= c' events")
        assigns = []
        for ea in ev.getListOfEventAssignments():
            if ea.getVariable() in raw_rules:
                raise BatchUnsupported(f"event {ev.getId()!r} assigns rule variable {ea.getVariable()!r}")
            assigns.append((ea.getVariable(), _convert(ea.getMath(), sym)))
        events.append(EventSpec(ev.getId(), _trigger_time(ev), tuple(assigns)))

    return SymbolicModel(
        name=m.getId(), species=tuple(species), parameters=tuple(params), parameter_values=tuple(values),
        rules=tuple((v, raw_rules[v]) for v in order), rates=tuple(rates), stoichiometry=tuple(stoich),
        initial=tuple(initial[s] for s in species), events=tuple(events))
