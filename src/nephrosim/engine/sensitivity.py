"""Exact forward sensitivities by augmenting the SBML model with its own derivative equations.

Why not libRoadRunner's ``ForwardSensitivitySolver``
---------------------------------------------------
libRoadRunner 2.10 ships a CVODES forward sensitivity solver
(``rr.setSensitivitySolver("forward")``, ``rr.timeSeriesSensitivities``), but on
nephrosim models it returns all-zero sensitivities (also for a parameter that sits
directly in a kinetic law, where central differences give ≈ −4.4 mg per unit), it
only reports species (not assignment-rule readouts such as
``serum_creatinine_mg_dl``) and only on a uniform time grid. It is unusable here.

What this module does instead
-----------------------------
For parameters θ it writes a *second SBML model* whose state is (x, ∂x/∂θ) and runs
it with the same CVODE integrator, so the sensitivities are integrated under the
same error control as the states (the "staggered-free", simultaneous corrector
approach of CVODES). The derivative equations are obtained symbolically
(sympy) and by the chain rule over the model's own structure, so the augmented
model stays linear in size:

* an assignment rule ``q = f(u…)`` gets ``s_q,θ = Σ_u ∂f/∂u · s_u,θ`` (an
  assignment rule again);
* a reaction rate ``R = r(u…)`` gets ``s_R,θ`` the same way, and a species
  ``dx/dt = Σ ν_r R_r`` gets the state ``d s_x,θ/dt = Σ ν_r s_R,θ``;
* an initial assignment ``x(0) = g(u…)`` gives ``s_x,θ(0) = Σ ∂g/∂u · s_u,θ``;
* an event assignment ``x := h(u…)`` at a fixed time gives
  ``s_x,θ := Σ ∂h/∂u · s_u,θ`` (pre-event values; the trigger times do not depend
  on θ);
* ``s_θ,θ = 1`` and ``s_p,θ = 0`` for every other constant parameter.

Derivatives that are structurally zero (a variable that does not depend on θ)
are never written. Parameters in piecewise *conditions* (switch times) get no
sensitivity: they are not estimable with gradients and are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import libsbml
import numpy as np
import sympy as sp

from nephrosim.engine.simulator import (
    OK, OK_RECOVERED, SolverOptions, TrajectoryStatus, _roadrunner, integrate_with_retry, load_model, quiet_solver, set_parameters,
)

TIME = sp.Symbol("time")
#: Half-width of the linear ramp that replaces the step ∂max(0, u)/∂u in sensitivity equations.
HEAVISIDE_BAND = 1e-8


class SensitivityError(ValueError):
    """The model cannot be differentiated for the asked parameters."""


# --------------------------------------------------------------------------- SBML math -> sympy
_FUNC1 = {
    libsbml.AST_FUNCTION_EXP: sp.exp,
    libsbml.AST_FUNCTION_LN: sp.log,
    libsbml.AST_FUNCTION_ABS: sp.Abs,
    libsbml.AST_FUNCTION_FLOOR: sp.floor,
    libsbml.AST_FUNCTION_CEILING: sp.ceiling,
    libsbml.AST_FUNCTION_SIN: sp.sin,
    libsbml.AST_FUNCTION_COS: sp.cos,
    libsbml.AST_FUNCTION_TAN: sp.tan,
    libsbml.AST_FUNCTION_TANH: sp.tanh,
}
_REL = {
    libsbml.AST_RELATIONAL_LT: sp.Lt, libsbml.AST_RELATIONAL_LEQ: sp.Le,
    libsbml.AST_RELATIONAL_GT: sp.Gt, libsbml.AST_RELATIONAL_GEQ: sp.Ge,
    libsbml.AST_RELATIONAL_EQ: sp.Eq, libsbml.AST_RELATIONAL_NEQ: sp.Ne,
}


def _sym(name: str) -> sp.Symbol:
    return sp.Symbol(name, real=True)


def ast_to_sympy(node) -> sp.Expr:
    """Convert a libSBML AST into a sympy expression (symbols are real; ``time`` is ``TIME``)."""
    t = node.getType()
    ch = [ast_to_sympy(node.getChild(i)) for i in range(node.getNumChildren())]
    if t == libsbml.AST_INTEGER:
        return sp.Integer(node.getInteger())
    if t in (libsbml.AST_REAL, libsbml.AST_REAL_E):
        return sp.Float(node.getReal(), 17)
    if t == libsbml.AST_RATIONAL:
        return sp.Rational(node.getNumerator(), node.getDenominator())
    if t == libsbml.AST_NAME:
        return _sym(node.getName())
    if t == libsbml.AST_NAME_TIME:
        return TIME
    if t == libsbml.AST_CONSTANT_PI:
        return sp.pi
    if t == libsbml.AST_CONSTANT_E:
        return sp.E
    if t == libsbml.AST_CONSTANT_TRUE:
        return sp.true
    if t == libsbml.AST_CONSTANT_FALSE:
        return sp.false
    if t == libsbml.AST_PLUS:
        return sp.Add(*ch) if ch else sp.Integer(0)
    if t == libsbml.AST_MINUS:
        return -ch[0] if len(ch) == 1 else ch[0] - ch[1]
    if t == libsbml.AST_TIMES:
        return sp.Mul(*ch) if ch else sp.Integer(1)
    if t == libsbml.AST_DIVIDE:
        return ch[0] / ch[1]
    if t in (libsbml.AST_POWER, libsbml.AST_FUNCTION_POWER):
        return ch[0] ** ch[1]
    if t in _FUNC1:
        return _FUNC1[t](ch[0])
    if t == libsbml.AST_FUNCTION_LOG:  # log(base, x)
        return sp.log(ch[-1]) / sp.log(ch[0]) if len(ch) == 2 else sp.log(ch[0], 10)
    if t == libsbml.AST_FUNCTION_ROOT:
        return ch[-1] ** (1 / ch[0]) if len(ch) == 2 else sp.sqrt(ch[0])
    if t == libsbml.AST_FUNCTION_MAX:
        return sp.Max(*ch)
    if t == libsbml.AST_FUNCTION_MIN:
        return sp.Min(*ch)
    if t == libsbml.AST_FUNCTION_PIECEWISE:
        pieces = [(ch[i], ch[i + 1]) for i in range(0, len(ch) - 1, 2)]
        otherwise = ch[-1] if len(ch) % 2 == 1 else sp.nan
        return sp.Piecewise(*pieces, (otherwise, True))
    if t in _REL:
        return _REL[t](ch[0], ch[1])
    if t == libsbml.AST_LOGICAL_AND:
        return sp.And(*ch)
    if t == libsbml.AST_LOGICAL_OR:
        return sp.Or(*ch)
    if t == libsbml.AST_LOGICAL_NOT:
        return sp.Not(ch[0])
    if t == libsbml.AST_LOGICAL_XOR:
        return sp.Xor(*ch)
    raise SensitivityError(f"SBML math {libsbml.formulaToL3String(node)!r} uses an operator the sensitivity "
                           "compiler does not know; rewrite it with + - * / pow exp ln piecewise min max")


# --------------------------------------------------------------------------- sympy -> SBML L3 infix
def _num(x) -> str:
    v = float(x)
    if not np.isfinite(v):
        return "NaN" if np.isnan(v) else ("INF" if v > 0 else "(-INF)")
    text = repr(v)
    return f"({text})" if v < 0 else text


def to_l3(e) -> str:
    """Print a sympy expression as SBML Level 3 infix text (fully parenthesised)."""
    if e is sp.true:
        return "true"
    if e is sp.false:
        return "false"
    if isinstance(e, sp.Symbol):
        return "time" if e == TIME else e.name
    if e.is_Number or isinstance(e, sp.NumberSymbol):
        return _num(e)
    if isinstance(e, sp.Add):
        return "(" + " + ".join(to_l3(a) for a in e.args) + ")"
    if isinstance(e, sp.Mul):
        return "(" + " * ".join(to_l3(a) for a in e.args) + ")"
    if isinstance(e, sp.Pow):
        b, x = e.args
        if x == -1:
            return f"(1 / {to_l3(b)})"
        if x == sp.Rational(1, 2):
            return f"sqrt({to_l3(b)})"
        return f"pow({to_l3(b)}, {to_l3(x)})"
    if isinstance(e, sp.exp):
        return f"exp({to_l3(e.args[0])})"
    if isinstance(e, sp.log):
        return f"ln({to_l3(e.args[0])})"
    if isinstance(e, sp.Piecewise):
        parts = []
        for val, cond in e.args:
            if cond is sp.true:
                parts.append(to_l3(val))
                break
            parts += [to_l3(val), to_l3(cond)]
        else:
            parts.append("NaN")
        return f"piecewise({', '.join(parts)})"
    ops = {sp.StrictLessThan: "<", sp.LessThan: "<=", sp.StrictGreaterThan: ">", sp.GreaterThan: ">=",
           sp.Equality: "==", sp.Unequality: "!="}
    for cls, op in ops.items():
        if isinstance(e, cls):
            return f"({to_l3(e.lhs)} {op} {to_l3(e.rhs)})"
    if isinstance(e, sp.And):
        return "(" + " && ".join(to_l3(a) for a in e.args) + ")"
    if isinstance(e, sp.Or):
        return "(" + " || ".join(to_l3(a) for a in e.args) + ")"
    if isinstance(e, sp.Not):
        return f"(!{to_l3(e.args[0])})"
    if isinstance(e, sp.Heaviside):
        # continuous ramp of half-width HEAVISIDE_BAND: a state resting exactly on a max/min
        # switch (e.g. a set point) would otherwise make the sensitivity equations chatter
        a = to_l3(e.args[0])
        w = _num(HEAVISIDE_BAND)
        return f"piecewise(1, {a} >= {w}, 0, {a} <= -{w}, 0.5 + {a} / (2 * {w}))"
    if isinstance(e, sp.sign):
        a = to_l3(e.args[0])
        return f"piecewise(1, {a} > 0, -1, {a} < 0, 0)"
    if isinstance(e, sp.DiracDelta):
        return "0"
    if isinstance(e, sp.Max):
        return "max(" + ", ".join(to_l3(a) for a in e.args) + ")"
    if isinstance(e, sp.Min):
        return "min(" + ", ".join(to_l3(a) for a in e.args) + ")"
    names = {sp.Abs: "abs", sp.floor: "floor", sp.ceiling: "ceil", sp.sin: "sin", sp.cos: "cos",
             sp.tan: "tan", sp.tanh: "tanh"}
    for cls, name in names.items():
        if isinstance(e, cls):
            return f"{name}({to_l3(e.args[0])})"
    raise SensitivityError(f"cannot write {e!r} ({type(e).__name__}) as SBML math")


# --------------------------------------------------------------------------- augmentation
def sens_id(var: str, par: str) -> str:
    """SBML id of ∂var/∂par in the augmented model."""
    return f"sens__{var}__{par}"


@dataclass(frozen=True)
class AugmentedModel:
    sbml: str
    parameters: tuple[str, ...]
    n_states: int
    n_sensitivity_states: int


def _free(e) -> set[str]:
    return {s.name for s in e.free_symbols if s != TIME}


def augment_sbml(sbml: str, parameters: Sequence[str]) -> AugmentedModel:
    """Return SBML whose extra variables ``sens__<var>__<p>`` are ∂var/∂p.

    Arguments
    ---------
    sbml : the model (SBML text, as :func:`nephrosim.engine.sbml.to_sbml` writes it).
    parameters : ids of constant global parameters to differentiate by.
    """
    doc = libsbml.readSBMLFromString(sbml)
    model = doc.getModel()
    if model is None:
        raise SensitivityError("the SBML text has no model")
    theta = tuple(parameters)
    consts: set[str] = set()
    for i in range(model.getNumParameters()):
        p = model.getParameter(i)
        if p.getConstant():
            consts.add(p.getId())
    for i in range(model.getNumCompartments()):
        consts.add(model.getCompartment(i).getId())
    missing = [p for p in theta if p not in consts]
    if missing:
        raise SensitivityError(f"parameters {missing} are not constant parameters of the model; estimate "
                               "only parameters of the parameter table that this model uses")

    rules: dict[str, sp.Expr] = {}
    rate_rules: dict[str, sp.Expr] = {}
    for i in range(model.getNumRules()):
        r = model.getRule(i)
        expr = ast_to_sympy(r.getMath())
        if r.isAssignment():
            rules[r.getVariable()] = expr
        elif r.isRate():
            rate_rules[r.getVariable()] = expr
        else:
            raise SensitivityError("algebraic rules are not supported by the sensitivity compiler")
    reactions: dict[str, tuple[sp.Expr, dict[str, float]]] = {}
    for i in range(model.getNumReactions()):
        rx = model.getReaction(i)
        if rx.getKineticLaw().getNumLocalParameters():
            raise SensitivityError(f"reaction {rx.getId()!r} has local parameters; make them global")
        stoich: dict[str, float] = {}
        for j in range(rx.getNumReactants()):
            ref = rx.getReactant(j)
            stoich[ref.getSpecies()] = stoich.get(ref.getSpecies(), 0.0) - ref.getStoichiometry()
        for j in range(rx.getNumProducts()):
            ref = rx.getProduct(j)
            stoich[ref.getSpecies()] = stoich.get(ref.getSpecies(), 0.0) + ref.getStoichiometry()
        reactions[rx.getId()] = (ast_to_sympy(rx.getKineticLaw().getMath()), stoich)
    species = [model.getSpecies(i) for i in range(model.getNumSpecies())]
    states = [s.getId() for s in species if not s.getBoundaryCondition() and not s.getConstant()
              and s.getId() not in rules]
    for s in species:
        if s.getHasOnlySubstanceUnits() is False:
            comp = model.getCompartment(s.getCompartment())
            if comp.getSize() != 1.0:
                raise SensitivityError(f"species {s.getId()!r} is a concentration in a compartment of size "
                                       f"{comp.getSize()}; only amounts (or unit compartments) are supported")
    for v in rate_rules:
        if v not in states:
            states.append(v)
    initial: dict[str, sp.Expr] = {}
    for i in range(model.getNumInitialAssignments()):
        ia = model.getInitialAssignment(i)
        if ia.getSymbol() in consts:
            raise SensitivityError(f"initial assignment to constant {ia.getSymbol()!r} is not supported")
        initial[ia.getSymbol()] = ast_to_sympy(ia.getMath())
    events = []
    for i in range(model.getNumEvents()):
        ev = model.getEvent(i)
        trig = ast_to_sympy(ev.getTrigger().getMath())
        if _free(trig) & set(theta):
            raise SensitivityError(f"event {ev.getId()!r} fires at a time that depends on an estimated parameter")
        if ev.isSetDelay():
            raise SensitivityError(f"event {ev.getId()!r} has a delay; not supported")
        assigns = {ev.getEventAssignment(j).getVariable(): ast_to_sympy(ev.getEventAssignment(j).getMath())
                   for j in range(ev.getNumEventAssignments())}
        for var in assigns:
            if var not in states and var not in consts:
                raise SensitivityError(f"event {ev.getId()!r} assigns {var!r}, which is not a state")
            if var in consts:
                raise SensitivityError(f"event {ev.getId()!r} assigns the constant {var!r}")
        events.append((ev.getId(), assigns))
    # switch times in piecewise conditions: refuse theta there
    for name, expr in [*rules.items(), *((k, v[0]) for k, v in reactions.items())]:
        for pw in expr.atoms(sp.Piecewise):
            for _, cond in pw.args:
                if cond not in (sp.true, sp.false) and _free(cond) & set(theta):
                    raise SensitivityError(
                        f"{name!r}: estimated parameter(s) {sorted(_free(cond) & set(theta))} set a switch time "
                        "(a piecewise condition); their gradient is not defined — fix them in the config")

    rhs_of: dict[str, list[tuple[str, float]]] = {x: [] for x in states}
    for rid, (_, stoich) in reactions.items():
        for sid, nu in stoich.items():
            if sid in rhs_of and nu != 0.0:
                rhs_of[sid].append((rid, nu))

    # ---------------- structural dependence on theta (fixed point)
    dep: dict[str, set[str]] = {p: {p} for p in theta}
    for c in consts:
        dep.setdefault(c, set())
    for v in [*rules, *reactions, *states]:
        dep[v] = set()

    def deps_of(expr) -> set[str]:
        out: set[str] = set()
        for n in _free(expr):
            out |= dep.get(n, set())
        return out

    changed = True
    while changed:
        changed = False
        for v, expr in [*rules.items(), *((k, r[0]) for k, r in reactions.items()), *rate_rules.items(),
                        *initial.items()]:
            new = dep[v] | deps_of(expr)
            if new != dep[v]:
                dep[v] = new
                changed = True
        for x in states:
            new = set(dep[x])
            for rid, _ in rhs_of[x]:
                new |= dep[rid]
            for _, assigns in events:
                if x in assigns:
                    new |= deps_of(assigns[x])
            if new != dep[x]:
                dep[x] = new
                changed = True

    diff_cache: dict[tuple[int, str], sp.Expr] = {}

    def d(expr, par: str) -> sp.Expr:
        """Σ_u ∂expr/∂u · s_u,par over free symbols u that depend on par."""
        terms = []
        for u in sorted(_free(expr)):
            if par not in dep.get(u, set()):
                continue
            key = (id(expr), u)
            if key not in diff_cache:
                # powsimp turns n·x**n/x into n·x**(n−1), finite at x = 0
                diff_cache[key] = sp.powsimp(sp.diff(expr, _sym(u)))
            partial = diff_cache[key]
            if partial == 0:
                continue
            terms.append(partial if u == par else partial * _sym(sens_id(u, par)))
        return sp.Add(*terms) if terms else sp.Integer(0)

    # ---------------- write the augmented model
    def new_param(pid: str, constant: bool, value: float = 0.0):
        par = model.createParameter()
        if par.setId(pid) != libsbml.LIBSBML_OPERATION_SUCCESS:
            raise SensitivityError(f"cannot create SBML id {pid!r}")
        par.setConstant(constant)
        par.setValue(value)
        return par

    def set_math(obj, expr, where: str):
        ast = libsbml.parseL3Formula(to_l3(expr))
        if ast is None:
            raise SensitivityError(f"{where}: cannot parse generated math: {libsbml.getLastParseL3Error()}")
        obj.setMath(ast)

    comp_id = model.getCompartment(0).getId() if model.getNumCompartments() else None
    n_sens_states = 0
    for par in theta:
        for v, expr in rules.items():
            if par in dep[v]:
                new_param(sens_id(v, par), False)
                rule = model.createAssignmentRule()
                rule.setVariable(sens_id(v, par))
                set_math(rule, d(expr, par), f"rule {v}")
        for rid, (rate, _) in reactions.items():
            if par in dep[rid]:
                new_param(sens_id(rid, par), False)
                rule = model.createAssignmentRule()
                rule.setVariable(sens_id(rid, par))
                set_math(rule, d(rate, par), f"reaction {rid}")
        for x in states:
            if par not in dep[x]:
                continue
            n_sens_states += 1
            sid = sens_id(x, par)
            # a species (reset with the states; may be negative)
            sp_ = model.createSpecies()
            sp_.setId(sid)
            sp_.setCompartment(comp_id)
            sp_.setHasOnlySubstanceUnits(True)
            sp_.setBoundaryCondition(False)
            sp_.setConstant(False)
            sp_.setInitialAmount(0.0)
            rr_ = model.createRateRule()
            rr_.setVariable(sid)
            if x in rate_rules:
                rhs = d(rate_rules[x], par)
            else:
                rhs = sp.Add(*[nu * _sym(sens_id(rid, par)) for rid, nu in rhs_of[x] if par in dep[rid]])
            set_math(rr_, rhs, f"state {x}")
            if x in initial:
                g = d(initial[x], par)
                if g != 0:
                    ia = model.createInitialAssignment()
                    ia.setSymbol(sid)
                    set_math(ia, g, f"initial value of {x}")
        for eid, assigns in events:
            ev = model.getEvent(eid)
            for var, expr in assigns.items():
                if par in dep[var]:
                    ea = ev.createEventAssignment()
                    ea.setVariable(sens_id(var, par))
                    set_math(ea, d(expr, par), f"event {eid}")
    text = libsbml.writeSBMLToString(doc)
    return AugmentedModel(text, theta, len(states), n_sens_states)


@lru_cache(maxsize=64)
def _augment_cached(sbml: str, parameters: tuple[str, ...]) -> AugmentedModel:
    return augment_sbml(sbml, parameters)


class SensitivitySimulator:
    """Outputs and their exact derivatives ∂y/∂θ at given times.

    Arguments
    ---------
    sbml : the model.
    outputs : ids of the quantities returned (species, rules or parameters).
    parameters : ids of the parameters θ to differentiate by (may be empty).
    options : integrator settings; sensitivities are under the same error control.

    Absolute tolerances are one per state, never one scalar: libRoadRunner (2.x) multiplies a
    *scalar* ``absolute_tolerance`` by each state's current value whenever CVODE is
    (re)initialised — at the start and after every event — so a state that is tiny but not 0 at
    a dose event (a sensitivity of 10⁻²⁷ just after an MSC bolus) was solved to 10⁻³⁶ and CVODE
    crept on in 10⁻⁹-h steps: the gradient of a treated arm never finished (docs/calibration.md,
    "MSC potency"). A state ``x`` gets ``atol × scale(x)`` (its ``nephrosim:solver`` scale, as
    :class:`~nephrosim.engine.simulator.Simulator` uses), and its sensitivity ``∂x/∂θ`` gets
    ``atol × scale(x) / |θ|``: the error that the same absolute error on ``θ · ∂x/∂θ`` allows.
    """

    def __init__(self, sbml: str, outputs: Sequence[str], parameters: Sequence[str],
                 options: SolverOptions | None = None):
        options = options or SolverOptions()
        rr_mod = _roadrunner()
        self.outputs = tuple(outputs)
        self.parameters = tuple(parameters)
        self.options = options
        self.augmented = _augment_cached(sbml, self.parameters)
        with quiet_solver():
            self._rr = load_model(rr_mod, self.augmented.sbml)
        known = set(self._rr.model.getGlobalParameterIds()) | set(self._rr.model.getFloatingSpeciesIds())
        sel = ["time", *self.outputs]
        self._sens_cols: list[tuple[int, int, int]] = []  # (column, output index, parameter index)
        for j, out in enumerate(self.outputs):
            for k, par in enumerate(self.parameters):
                sid = sens_id(out, par)
                if out == par:
                    raise SensitivityError(f"output {out!r} is an estimated parameter")
                if sid in known:
                    self._sens_cols.append((len(sel), j, k))
                    sel.append(sid)
        self._rr.timeCourseSelections = sel
        from nephrosim.engine.sbml import tolerance_scales

        scales = tolerance_scales(sbml)
        self._state_scale: dict[str, float] = {}  # every state of the augmented model → its scale
        self._sensitivity_of: dict[str, tuple[str, str]] = {}  # sensitivity state → (state, θ)
        prefixes = [(f"__{par}", par) for par in self.parameters]
        for sid in self._rr.model.getFloatingSpeciesIds():
            self._state_scale[sid] = float(scales.get(sid, 1.0))
            if sid.startswith("sens__"):
                var, par = next((sid[len("sens__"):-len(suffix)], par) for suffix, par in prefixes
                                if sid.endswith(suffix))
                self._sensitivity_of[sid] = (var, par)
                self._state_scale[sid] = float(scales.get(var, 1.0))
        integ = self._rr.getIntegrator()
        integ.setValue("relative_tolerance", options.rtol)
        integ.setValue("maximum_num_steps", options.max_steps)
        integ.setValue("stiff", True)
        self._atol_scales = self._tolerances({})

    def _tolerances(self, values: dict[str, float]) -> np.ndarray:
        """Set one absolute tolerance per state (see the class notes) for the parameter values
        ``values`` (the model's own where not given); returns them divided by ``atol``, in the
        integrator's order, for :func:`integrate_with_retry`'s retries."""
        rr, atol = self._rr, self.options.atol
        integ = rr.getIntegrator()
        for sid, scale in self._state_scale.items():
            if sid in self._sensitivity_of:
                par = self._sensitivity_of[sid][1]
                theta = abs(float(values[par] if par in values else rr.getValue(par)))
                scale = scale / theta if theta > 0 else scale
            integ.setIndividualTolerance(sid, atol * scale)
        return np.asarray(integ.getValue("absolute_tolerance"), dtype=float) / atol

    def _simulate(self, grid: np.ndarray):
        rr = self._rr
        rr.reset()
        if grid.size == 1:
            return np.asarray(rr.getSelectedValues())[None, :]
        return np.asarray(rr.simulate(times=grid))

    def run(self, times: Sequence[float], values: dict[str, float] | None = None
            ) -> tuple[np.ndarray, np.ndarray, TrajectoryStatus]:
        """Returns (y[time, output], dy/dθ[time, output, parameter], status)."""
        times = np.asarray(times, dtype=float)
        rr = self._rr
        n_t, n_o, n_p = times.size, len(self.outputs), len(self.parameters)
        y = np.full((n_t, n_o), np.nan)
        dy = np.zeros((n_t, n_o, n_p))
        if n_t == 0:
            return y, dy, TrajectoryStatus(OK)
        grid = times if times[0] == 0.0 else np.concatenate(([0.0], times))
        if values:
            set_parameters(rr, list(values), list(values.values()))
            if any(self._sensitivity_of[s][1] in values for s in self._sensitivity_of):
                self._atol_scales = self._tolerances(values)
        with quiet_solver():
            data, note, error = integrate_with_retry(rr, self.options, lambda: self._simulate(grid),
                                                     atol_scales=self._atol_scales)
        if data is None:
            return y, dy * np.nan, TrajectoryStatus("solver_failure", error)
        if grid is not times:
            data = data[1:]
        y = data[:, 1:1 + n_o]
        for col, j, k in self._sens_cols:
            dy[:, j, k] = data[:, col]
        if not (np.all(np.isfinite(y)) and np.all(np.isfinite(dy))):
            return y, dy, TrajectoryStatus("non_finite", "a readout or its sensitivity became NaN or "
                                           "infinite — check the parameter values")
        return y, dy, TrajectoryStatus(OK_RECOVERED if note else OK, note)

