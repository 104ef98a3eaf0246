"""Generate C for one model structure: rules, right-hand side, sparse Jacobian, sparse LU.

* ``rules`` evaluates every assignment rule once, in dependency order.
* ``vjac`` writes W = I/(hγ) − J (straight into the LU array) from the exact Jacobian ∂f/∂y,
  and the time derivative ∂f/∂t (Rosenbrock methods need both), by forward-mode
  differentiation through the rules: each rule's partial derivatives with respect to the
  symbols it uses directly are differentiated symbolically (sympy) and chained along the
  rule graph as sparse vectors, so the code grows with the model, not with its fully
  inlined size.
* ``vrules``/``vrhs``/``vjac``/``vlu_factor``/``vlu_solve`` work on ``LANES``
  patients at once (one per vector lane, see :mod:`.solver_c`); ``rules``/``rhs`` for one
  patient serve the outputs, events and first steps.
* parameter-only subexpressions (also parameter-only factors of products) are computed once
  per patient into ``w`` (``constants``); each pow/exp/log/sqrt of the states once per
  right-hand side, also into ``w``, where the Jacobian reuses it.
* ``vlu_factor``/``vlu_solve`` are straight-line sparse LU code for the pattern of
  W = I/(hγ) − J: the elimination order (Markowitz) and the fill-in are found once,
  here, and shared by every patient — the "symbolic factorization" of KLU, unrolled.
  The factor keeps 1/pivot on the diagonal, so the solve multiplies. There is no
  pivoting: W's diagonal dominates for small h, and a zero or non-finite pivot makes
  the step fail and retry with a smaller h (see the solver template). The solves go row
  by row, each sum associated for a short dependency chain (:func:`_short_sum`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp
from sympy.printing.c import C99CodePrinter

from nephrosim.engine.batch.symbolic import TIME, SymbolicModel


class _PowDerivative(sp.Function):
    """d(b^p)/db given z = b^p: p·z/b, or p·b^(p−1) where b = 0 (printed as a C helper)."""

    nargs = 3


class _Printer(C99CodePrinter):
    """C99 with model symbols mapped to arrays and small integer powers multiplied out."""

    #: integer powers up to this are multiplied out
    MAX_MULTIPLY = 4
    #: the C function for each operation
    FUNCTIONS = {"sqrt": "sqrt", "pow": "pow", "exp": "exp", "log": "log", "fabs": "fabs", "floor": "floor",
                 "ceil": "ceil", "max": "nb_max", "min": "nb_min", "pow_derivative": "nb_pow_derivative"}

    def __init__(self, names: dict[str, str]):
        super().__init__()
        self._names = names

    def _call(self, f, *args):
        return f"{self.FUNCTIONS[f]}({', '.join(self._print(a) for a in args)})"

    def _print_Symbol(self, expr):
        return self._names[expr.name]

    def _print_Pow(self, expr):
        b, e = expr.base, expr.exp
        if e.is_Integer and 1 <= abs(int(e)) <= self.MAX_MULTIPLY:
            prod = "*".join([f"({self._print(b)})"] * abs(int(e)))
            return f"({prod})" if int(e) > 0 else f"(1.0/({prod}))"
        if e == sp.Rational(1, 2):
            return self._call("sqrt", b)
        if e == sp.Rational(-1, 2):
            return f"(1.0/{self._call('sqrt', b)})"
        return self._call("pow", b, e)

    def _print_exp(self, expr):
        return self._call("exp", expr.args[0])

    def _print_log(self, expr):
        if expr.args[0].is_Number:  # log(2) from d(2^u)/du: a number, not a call in every RHS
            return self._print(sp.Float(float(sp.log(expr.args[0]).evalf(20))))
        return self._call("log", expr.args[0])

    def _print_Abs(self, expr):
        return self._call("fabs", expr.args[0])

    def _print_floor(self, expr):
        return self._call("floor", expr.args[0])

    def _print_ceiling(self, expr):
        return self._call("ceil", expr.args[0])

    def _print__PowDerivative(self, expr):
        return self._call("pow_derivative", *expr.args)

    def _print_Max(self, expr):
        return self._nested("max", expr.args)

    def _print_Min(self, expr):
        return self._nested("min", expr.args)

    def _nested(self, f, args):
        if len(args) == 1:
            return self._print(args[0])
        return f"{self.FUNCTIONS[f]}({self._print(args[0])}, {self._nested(f, args[1:])})"

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Rational(self, expr):
        return f"({float(expr.p)!r}/{float(expr.q)!r})"

    def _print_Integer(self, expr):
        return f"{float(expr)!r}"


class _LanePrinter(_Printer):
    """The same expressions for ``LANES`` patients at once (GCC vector extensions, type ``vd``):
    numbers broadcast (``VS``), conditions are lane masks, libm calls go lane by lane."""

    FUNCTIONS = {k: "v" + k.removeprefix("nb_") for k in _Printer.FUNCTIONS}

    def _print_Float(self, expr):
        return f"VS({super()._print_Float(expr)})"

    def _print_Rational(self, expr):
        return f"VS({super()._print_Rational(expr)})"

    def _print_Integer(self, expr):
        return f"VS({super()._print_Integer(expr)})"

    def _print_Piecewise(self, expr):
        *pieces, (last, cond) = expr.args
        if cond != sp.true:
            raise NotImplementedError("a Piecewise without an otherwise branch")
        code = self._print(last)
        for value, cond in reversed(pieces):
            code = f"vsel({self._print(cond)}, {self._print(value)}, {code})"
        return code

    def _print_And(self, expr):
        return "(" + " & ".join(f"({self._print(a)})" for a in expr.args) + ")"

    def _print_Or(self, expr):
        return "(" + " | ".join(f"({self._print(a)})" for a in expr.args) + ")"

    def _print_Not(self, expr):
        return f"(~({self._print(expr.args[0])}))"


#: fmax/fmin with their NaN rule (a NaN argument gives the other one), as inline compares: gcc
#: calls libm for fmax (x86 maxsd differs on NaN), and each call spills every live register
_MIN_MAX = """static inline double nb_max(double a, double b) { return (a >= b || b != b) ? a : b; }
static inline double nb_min(double a, double b) { return (a <= b || b != b) ? a : b; }
static inline double nb_pow_derivative(double p, double z, double b) { return b != 0.0 ? p * z / b : p * pow(b, p - 1.0); }
"""

#: patients integrated side by side in the lanes of one vector (see solver_c)
LANES = 4


#: exp, log and pow of all lanes at once. libm's pow, called lane by lane, was about 30 % of
#: the solve (issue 15); these take 17 ns for four lanes where four libm pow calls take 43 ns.
#: The reductions and polynomials are fdlibm's (e_exp.c, e_log.c; Sun Microsystems 1993,
#: freely redistributable), which keep exp and log within 1 ulp of libm (checked over 10^6
#: arguments, tests/engine/test_batch_math.py); pow = exp(b·log a) inherits log's absolute
#: error times |b·log a| (≤ 3e-14 relative for |b·log a| ≤ 708). A lane outside the fast range
#: (exp of |x| > 708; log or pow of a base that is 0, negative, subnormal, infinite or NaN; a
#: pow whose |b·log a| > 708) calls libm, so every special value is libm's. Each lane's result
#: depends on that lane's arguments only: a patient's numbers still do not depend on its lane.
_SIMD_EXP_LOG_POW = """typedef __typeof__((vd){0} < (vd){0}) vi;  /* 64-bit integer lanes (same type as vl) */
static inline vd vexp_fast(vd x) {  /* |x| <= 708 */
  const vd shift = VS(6755399441055744.0);  /* 1.5*2^52: (v + shift) - shift rounds v to an integer */
  vd kf = (x * VS(1.44269504088896338700e+00) + shift) - shift;
  vd hi = x - kf * VS(6.93147180369123816490e-01), lo = kf * VS(1.90821492927058770002e-10);
  vd r = hi - lo, t = r * r;
  vd c = r - t * (VS(1.66666666666666019037e-01) + t * (VS(-2.77777777770155933842e-03)
         + t * (VS(6.61375632143793436117e-05) + t * (VS(-1.65339022054652515390e-06)
         + t * VS(4.13813679705723846039e-08)))));
  vd y = VS(1.0) - ((lo - (r * c) / (VS(2.0) - c)) - hi);
  vi k = __builtin_convertvector(kf, vi);
  return y * (vd)((k + 1023) << 52);  /* y * 2^k, k in [-1021, 1022] */
}
static inline vd vlog_fast(vd x) {  /* x positive, normal, finite */
  vi bits = (vi)x;
  vi e = (bits >> 52) - 1023;
  vd m = (vd)((bits & 0x000fffffffffffffLL) | 0x3ff0000000000000LL);  /* x = m * 2^e, m in [1, 2) */
  vi big = (vi)(m > VS(1.4142135623730951));
  m = vsel(big, m * VS(0.5), m);
  e = e - big;  /* a set mask is -1 */
  vd f = m - VS(1.0), s = f / (VS(2.0) + f), dk = __builtin_convertvector(e, vd);
  vd z = s * s, w = z * z;
  vd t1 = w * (VS(3.999999999940941908e-01) + w * (VS(2.222219843214978396e-01) + w * VS(1.531383769920937332e-01)));
  vd t2 = z * (VS(6.666666666666735130e-01) + w * (VS(2.857142874366239149e-01)
          + w * (VS(1.818357216161805012e-01) + w * VS(1.479819860511658591e-01))));
  vd R = t2 + t1, hfsq = VS(0.5) * f * f;
  return dk * VS(6.93147180369123816490e-01)
         - ((hfsq - (s * (hfsq + R) + dk * VS(1.90821492927058770002e-10))) - f);
}
static inline vi vlog_ok(vd a) { return (vi)((a >= VS(2.2250738585072014e-308)) & (a <= VS(1.7976931348623157e308))); }
static inline vd vexp(vd a) {
  vi ok = (vi)((a >= VS(-708.0)) & (a <= VS(708.0)));
  vd r = vexp_fast(vsel(ok, a, VS(0.0)));
  for (int l = 0; l < LANES; l++) if (!ok[l]) r[l] = exp(a[l]);
  return r;
}
static inline vd vlog(vd a) {
  vi ok = vlog_ok(a);
  vd r = vlog_fast(vsel(ok, a, VS(1.0)));
  for (int l = 0; l < LANES; l++) if (!ok[l]) r[l] = log(a[l]);
  return r;
}
static inline vd vpow(vd a, vd b) {
  vi ok = vlog_ok(a);
  vd u = b * vlog_fast(vsel(ok, a, VS(1.0)));
  ok = ok & (vi)((u >= VS(-708.0)) & (u <= VS(708.0)));
  vd r = vexp_fast(vsel(ok, u, VS(0.0)));
  for (int l = 0; l < LANES; l++) if (!ok[l]) r[l] = pow(a[l], b[l]);
  return r;
}"""


def _lanes_header(lanes: int) -> str:
    """C for ``lanes`` patients at once: the vector types ``vd`` (values) and ``vl`` (masks:
    all bits set where a comparison holds), broadcasts, selects, exp/log/pow of all lanes at
    once (:data:`_SIMD_EXP_LOG_POW`), and the other libm functions lane by lane (each lane
    calls the same scalar function, so a patient's numbers do not depend on its lane)."""
    splat = ", ".join(["(c)"] * lanes)
    one = "static inline vd v{0}(vd a) {{ vd r; for (int l = 0; l < LANES; l++) r[l] = {1}(a[l]); return r; }}"
    return "\n".join([
        f"#define LANES {lanes}",
        "typedef double vd __attribute__((vector_size(8 * LANES)));",
        "typedef __typeof__((vd){0} < (vd){0}) vl;  /* what a comparison gives: a lane mask */",
        f"#define VS(c) ((vd){{{splat}}})",
        "#define VL0 (VS(0.0) != VS(0.0))  /* no lane set */",
        "static inline vd vsel(vl m, vd a, vd b) { return (vd)(((vl)a & m) | ((vl)b & ~m)); }",
        "static inline vd vmax(vd a, vd b) { return vsel((vl)((a >= b) | (b != b)), a, b); }",
        "static inline vd vmin(vd a, vd b) { return vsel((vl)((a <= b) | (b != b)), a, b); }",
        *(one.format(f, f) for f in ("sqrt", "fabs", "floor", "ceil")),
        _SIMD_EXP_LOG_POW,
        "static inline vd vpow_derivative(vd p, vd z, vd b) {",
        "  vd r = p * z / b;",
        "  for (int l = 0; l < LANES; l++) if (b[l] == 0.0) r[l] = nb_pow_derivative(p[l], z[l], b[l]);",
        "  return r;",
        "}",
        ""])


def _d(e: sp.Expr, x: sp.Symbol) -> sp.Expr:  # noqa: C901 - one rule per node type
    """d e / d x, written so that it stays finite where the function is (``x**a`` at 0)."""
    if not e.has(x):
        return sp.Integer(0)
    if e == x:
        return sp.Integer(1)
    if e.is_Add:
        return sp.Add(*[_d(a, x) for a in e.args])
    if e.is_Mul:
        terms = []
        for i, a in enumerate(e.args):
            da = _d(a, x)
            if da != 0:
                terms.append(sp.Mul(*e.args[:i], da, *e.args[i + 1:]))
        return sp.Add(*terms)
    if e.is_Pow:
        b, p = e.args
        out = sp.Integer(0)
        db = _d(b, x)
        if db != 0:
            out += p * sp.Pow(b, p - 1) * db
        dp = _d(p, x)
        if dp != 0:
            out += e * sp.log(b) * dp
        return out
    if isinstance(e, sp.exp):
        return e * _d(e.args[0], x)
    if isinstance(e, sp.log):
        return _d(e.args[0], x) / e.args[0]
    if isinstance(e, (sp.Max, sp.Min)):
        a, rest = e.args[0], e.func(*e.args[1:])
        cond = sp.Ge(a, rest) if isinstance(e, sp.Max) else sp.Le(a, rest)
        return sp.Piecewise((_d(a, x), cond), (_d(rest, x), True))
    if isinstance(e, sp.Piecewise):
        return sp.Piecewise(*[(_d(v, x), c) for v, c in e.args])
    if isinstance(e, sp.Abs):
        a = e.args[0]
        return sp.Piecewise((_d(a, x), sp.Ge(a, 0)), (-_d(a, x), True))
    if isinstance(e, (sp.floor, sp.ceiling)):
        return sp.Integer(0)
    raise NotImplementedError(f"no derivative rule for {e.func.__name__}")


def _markowitz_order(n: int, pattern: set[tuple[int, int]]) -> list[int]:
    """Diagonal pivot order minimising the Markowitz count (r − 1)(c − 1) at each step.

    On the unsymmetric pattern of W this gives less fill than minimum degree on the
    symmetrized one (MSC arm, 71 states: 3,668 vs 6,084 LU flops).
    """
    rows = {i: set() for i in range(n)}
    cols = {j: set() for j in range(n)}
    for i, j in pattern:
        rows[i].add(j)
        cols[j].add(i)
    order, left = [], set(range(n))
    while left:
        v = min(left, key=lambda k: ((len(rows[k] & left) - 1) * (len(cols[k] & left) - 1), k))
        order.append(v)
        below = [i for i in cols[v] if i in left and i != v]
        right = [j for j in rows[v] if j in left and j != v]
        for i in below:
            for j in right:
                rows[i].add(j)
                cols[j].add(i)
        left.discard(v)
    return order


def _short_sum(base: str, ready_base: int, terms: list[tuple[str, int]], ready: dict[int, int]) -> tuple[str, int]:
    """``base − Σ a·b[x]`` over ``terms`` (a, x) as C, and when it is ready.

    Summed left to right, the terms form one chain of dependent multiply-adds; here each term
    (earliest-known b[x] first) extends the partial sum that is ready by the time b[x] is, or
    starts a partial sum of its own, and the partial sums are then added earliest first.
    ``ready`` gives when each b[x] is known, ``ready_base`` when ``base`` is, counted in
    dependent floating-point operations.
    """
    chains = [[ready_base, base, True]]  # [ready, C, holds base]; the others are sums of products
    for a, x in sorted(terms, key=lambda t: (ready[t[1]], t[1])):
        rx = ready[x]
        best = min(chains, key=lambda ch: (ch[0], not ch[2]))
        if best[0] <= rx:
            best[0] = rx + 1
            best[1] = f"({best[1]} - {a}*b[{x}])" if best[2] else f"({best[1]} + {a}*b[{x}])"
        else:
            chains.append([rx + 1, f"{a}*b[{x}]", False])
    while len(chains) > 1:
        chains.sort(key=lambda ch: (ch[0], not ch[2]))
        (r1, c1, b1), (r2, c2, b2) = chains.pop(0), chains.pop(0)
        if b1 or b2:
            pos, neg = (c1, c2) if b1 else (c2, c1)
            chains.append([max(r1, r2) + 1, f"({pos} - {neg})", True])
        else:
            chains.append([max(r1, r2) + 1, f"({c1} + {c2})", False])
    return chains[0][1], chains[0][0]


@dataclass(frozen=True)
class Generated:
    """C source plus the sizes the Python side needs."""

    source: str
    n_states: int
    n_parameters: int
    n_rules: int
    jac_nnz: int
    lu_nnz: int
    flops_lu: int
    pattern: tuple[tuple[int, int], ...]  # (row, column) of each Jacobian slot


def generate(model: SymbolicModel) -> Generated:
    """C source for ``model`` (see the module docstring for what it contains)."""
    N, P, R = len(model.species), len(model.parameters), len(model.rules)
    sidx = {s: i for i, s in enumerate(model.species)}
    pidx = {p: i for i, p in enumerate(model.parameters)}
    widx = {w: i for i, (w, _) in enumerate(model.rules)}
    names = {**{s: f"y[{i}]" for s, i in sidx.items()}, **{p: f"p[{i}]" for p, i in pidx.items()},
             **{w: f"w[{i}]" for w, i in widx.items()}, "time": "t"}
    syms = {n: sp.Symbol(n, real=True) for n in names if n != "time"}

    # --- constants: rules and subexpressions that depend on parameters only ----------------
    # computed once per patient and after each event (events may change parameters), not in
    # every right-hand side: most of the model's pow/exp calls have constant arguments.
    constant_syms = {syms[q] for q in model.parameters}
    static_rules = []
    for w, e in model.rules:
        if e.free_symbols <= constant_syms:
            static_rules.append((w, e))
            constant_syms.add(syms[w])
    static_names = {w for w, _ in static_rules}
    # w holds the rules, then (in order of creation) the per-patient constants and the
    # per-RHS temporaries; both are named with '$', which no SBML id contains
    extra: list[str] = []

    def slot(name: str) -> sp.Symbol:
        names[name] = f"w[{R + len(extra)}]"
        extra.append(name)
        return sp.Symbol(name, real=True)

    hoisted: dict[sp.Expr, sp.Symbol] = {}

    def is_constant(e) -> bool:
        return bool(e.free_symbols) and e.free_symbols <= constant_syms

    def constant(e: sp.Expr) -> sp.Expr:
        if e.is_Symbol:
            return e
        if e not in hoisted:
            hoisted[e] = slot(f"$const{len(hoisted)}")
            constant_syms.add(hoisted[e])
        return hoisted[e]

    def hoist(e):
        """``e`` with every parameter-only subexpression (also the parameter-only factors of a
        product and terms of a sum, ``k·w·y`` → ``(k·w)·y``) replaced by a per-patient constant."""
        if e.is_Atom or not isinstance(e, sp.Expr):
            return e.func(*[hoist(a) for a in e.args]) if e.args else e
        if is_constant(e):
            return constant(e)
        if e.is_Mul or e.is_Add:
            fixed = [a for a in e.args if a.is_Number or is_constant(a)]
            if len(fixed) >= 2 and any(not a.is_Number for a in fixed):
                rest = [hoist(a) for a in e.args if not (a.is_Number or is_constant(a))]
                return e.func(constant(e.func(*fixed)), *rest)
        return e.func(*[hoist(a) for a in e.args])

    # every pow/exp/log/sqrt of the states becomes a temporary in w, computed once per RHS,
    # so that the Jacobian reuses its value (d(b^p)/db = p·b^p/b, d(exp u)/du = exp u)
    # instead of calling libm again; the temporaries enter the rule graph like rules
    dynamic_rules: list[tuple[sp.Symbol, sp.Expr]] = []
    temps: dict[sp.Expr, sp.Symbol] = {}

    def is_call(e) -> bool:
        if isinstance(e, (sp.exp, sp.log)):
            return True
        return e.is_Pow and not (e.exp.is_Integer and abs(int(e.exp)) <= _Printer.MAX_MULTIPLY)

    def extract(e):
        if not e.args:
            return e
        e = e.func(*[extract(a) for a in e.args])
        if isinstance(e, sp.Expr) and is_call(e) and e.free_symbols and not is_constant(e):
            if e not in temps:
                temps[e] = slot(f"$temp{len(temps)}")
                dynamic_rules.append((temps[e], e))
            return temps[e]
        return e

    for w, e in model.rules:
        if w not in static_names:
            dynamic_rules.append((syms[w], extract(hoist(e))))
    rates = [extract(hoist(e)) for e in model.rates]
    c, vc = _Printer(names).doprint, _LanePrinter(names).doprint
    out: list[str] = []
    constants_at = len(out)  # constants() is printed last: the Jacobian adds constants too

    # --- rules and right-hand side, for one patient (outputs, events, first step) and for
    # LANES patients at once (the steps) --------------------------------------------------
    by_species: dict[int, list[str]] = {}
    for i, k, s in model.stoichiometry:
        by_species.setdefault(i, []).append(f"{s!r}*r{k}")
    # the steps need only the rules the rates use (and the rules those use): a rule that only a
    # readout, an event or an initial value reads (many are plain aliases of a state, e.g. the
    # readouts of the left kidney) is left out of vrules, and computed by the one-patient rules()
    # that the outputs and events call — not in every right-hand side of every stage
    used_by_rates: set[sp.Symbol] = set().union(*(e.free_symbols for e in rates))
    for z, e in reversed(dynamic_rules):  # dependency order: a rule's users come after it
        if z in used_by_rates:
            used_by_rates |= e.free_symbols
    step_rules = [(z, e) for z, e in dynamic_rules if z in used_by_rates]
    for v, ty, cc, zero, own_rules in (("", "double", c, "0.0", dynamic_rules),
                                       ("v", "vd", vc, "VS(0.0)", step_rules)):
        out.append(f"static void {v}rules({ty} t, const {ty} *restrict y, const {ty} *restrict p, "
                   f"{ty} *restrict w) {{")
        for z, e in own_rules:
            out.append(f"  {names[z.name]} = {cc(e)};")
        out.append("}")
        out.append(f"static void {v}rhs({ty} t, const {ty} *restrict y, const {ty} *restrict p, "
                   f"{ty} *restrict w, {ty} *restrict dy) {{")
        out.append(f"  {v}rules(t, y, p, w);")
        for k, e in enumerate(rates):
            out.append(f"  const {ty} r{k} = {cc(e)};")
        for i in range(N):
            out.append(f"  dy[{i}] = {' + '.join(by_species[i]) if i in by_species else zero};")
        out.append("}")

    # --- Jacobian by forward-mode chaining through the rules ------------------------------
    species_syms = {syms[s]: sidx[s] for s in model.species}
    T = N  # column index standing for time
    deriv: dict[sp.Symbol, dict[int, str]] = {}  # rule -> {column: C name of d rule / d column}
    body: list[tuple[str, sp.Expr | str]] = []  # (C name, expression or C code)
    counter = [0]

    temp_symbols = set(temps.values())

    def partial(z: sp.Symbol | None, e: sp.Expr, s: sp.Symbol) -> sp.Expr:
        """∂e/∂s, where e defines z; for a temporary z, in terms of z's own value."""
        if z in temp_symbols:
            if isinstance(e, sp.exp):
                return z * _d(e.args[0], s)
            if e.is_Pow and (is_constant(e.exp) or e.exp.is_Number):
                b, p = e.args
                if p == sp.Rational(1, 2):
                    return _d(b, s) / (2 * z)
                # p·b^p/b, except at b = 0, where b^(p−1) is what is finite (or the true limit)
                return _PowDerivative(p, z, b) * _d(b, s)
        return _d(e, s)

    def chain(e: sp.Expr, z: sp.Symbol | None = None) -> dict[int, list[str]]:
        terms: dict[int, list[str]] = {}
        for s in sorted(e.free_symbols, key=lambda z: z.name):
            if s in species_syms:
                cols = {species_syms[s]: None}
            elif s in deriv:
                cols = deriv[s]
                if not cols:
                    continue
            elif s == TIME:
                cols = {T: None}
            else:
                continue
            g = hoist(partial(z, e, s))
            if g == 0:
                continue
            counter[0] += 1
            gname = f"g{counter[0]}"
            body.append((gname, g))
            for j, name in cols.items():
                terms.setdefault(j, []).append(gname if name is None else f"{gname}*{name}")
        return terms

    for k, (z, e) in enumerate(step_rules):  # the rules the rates use, as vrules computes them
        terms = chain(e, z)
        deriv[z] = {}
        for j, ts in sorted(terms.items()):
            name = f"d{k}_{j}"
            body.append((name, " + ".join(ts)))
            deriv[z][j] = name
    entries: dict[tuple[int, int], list[str]] = {}
    for k, e in enumerate(rates):
        terms = chain(e)
        if not terms:
            continue
        for j, ts in sorted(terms.items()):
            body.append((f"q{k}_{j}", " + ".join(ts)))
        for i, kk, s in model.stoichiometry:
            if kk == k:
                for j in terms:
                    entries.setdefault((i, j), []).append(f"{s!r}*q{k}_{j}")
    pattern = {(i, j) for (i, j) in entries if j < N} | {(i, i) for i in range(N)}
    order = _markowitz_order(N, pattern)
    # symbolic LU: the slots of W first (in (row, col) order), fill-in after
    slots = {ij: n for n, ij in enumerate(sorted(pattern))}
    jac_nnz = len(slots)
    lu_code, solve_f, solve_b = [], [], []
    S = set(pattern)
    rows_of = {j: {i for (i, jj) in S if jj == j} for j in range(N)}
    cols_of = {i: {j for (ii, j) in S if ii == i} for i in range(N)}
    done: set[int] = set()
    flops = 0
    for v in order:
        done.add(v)
        L = sorted(i for i in rows_of[v] if i not in done)
        U = sorted(j for j in cols_of[v] if j not in done)
        lu_code.append(f"  piv = a[{slots[(v, v)]}]; bad |= ~((vfabs(piv) > VS(0.0)) & (piv - piv == VS(0.0)));")
        lu_code.append(f"  inv = 1.0 / piv; a[{slots[(v, v)]}] = inv;  /* the solve multiplies by it */")
        for i in L:
            lu_code.append(f"  a[{slots[(i, v)]}] *= inv;")
            for j in U:
                if (i, j) not in slots:
                    slots[(i, j)] = len(slots)
                    S.add((i, j))
                    rows_of[j].add(i)
                    cols_of[i].add(j)
                lu_code.append(f"  a[{slots[(i, j)]}] -= a[{slots[(i, v)]}] * a[{slots[(v, j)]}];")
                flops += 2
    # the solves, row by row, each sum associated for a short dependency chain (they are
    # latency-bound: every row waits for the rows it uses)
    position = {v: k for k, v in enumerate(order)}
    forward = {}
    for v in order:
        terms = [(f"a[{slots[(v, u)]}]", u) for u in cols_of[v] if position[u] < position[v]]
        code, forward[v] = _short_sum(f"b[{v}]", 0, terms, forward)
        if terms:
            solve_f.append(f"  b[{v}] = {code};")
    backward = {}
    for v in reversed(order):
        terms = [(f"a[{slots[(v, j)]}]", j) for j in cols_of[v] if position[j] > position[v]]
        code, ready = _short_sum(f"b[{v}]", forward[v], terms, backward)
        backward[v] = ready + 1
        solve_b.append(f"  b[{v}] = {code} * a[{slots[(v, v)]}];")
    solve_latency = max(backward.values())

    # jac writes W = dg·I − J straight into the LU's array (fill-in slots zeroed): J itself is
    # used for nothing else, and a copy loop read the just-stored values back as vectors
    vjac_head = ("static void vjac(vd t, const vd *restrict y, const vd *restrict p, const vd *restrict w, vd dg, "
                 "vd *restrict a, vd *restrict fT) {")
    out.append(vjac_head)
    for name, e in body:
        out.append(f"  const vd {name} = {e if isinstance(e, str) else vc(e)};")
    for (i, j), slot in sorted(slots.items(), key=lambda kv: kv[1]):
        ts = entries.get((i, j))
        if slot >= jac_nnz:
            value = "VS(0.0)"
        elif i == j:
            value = f"dg - ({' + '.join(ts)})" if ts else "dg"
        else:
            value = f"-({' + '.join(ts)})" if ts else "VS(-0.0)"
        out.append(f"  a[{slot}] = {value};")
    for i in range(N):
        ts = entries.get((i, T))
        out.append(f"  fT[{i}] = {' + '.join(ts) if ts else 'VS(0.0)'};")
    out.append("}")
    # vjac reads w as the step's last vrhs left it: only rules vrules computes, or constants
    fresh = {names[z.name] for z, _ in step_rules} | {names[w] for w in static_names}
    fresh |= {names[z.name] for z in hoisted.values()}
    stale = sorted(set(re.findall(r"w\[\d+\]", "\n".join(out[out.index(vjac_head):]))) - fresh)
    if stale:
        raise RuntimeError(f"batch code generator bug: the Jacobian reads rules that vrules leaves out: {stale}")
    out.append("/* sparse LU in place; the lanes whose pivot was zero or not finite come back set */")
    out.append("static vl vlu_factor(vd *restrict a) {\n  vd piv, inv;\n  vl bad = VL0;")
    out.extend(lu_code)
    out.append("  return bad;\n}")
    out.append("static void vlu_solve(const vd *restrict a, vd *restrict b) {")
    out.extend(solve_f)
    out.extend(solve_b)
    out.append("}")

    const = ["static void constants(const double *restrict p, double *restrict w) {"]
    const += [f"  w[{widx[w]}] = {c(e)};" for w, e in static_rules]
    const += [f"  {names[z.name]} = {c(e)};" for e, z in hoisted.items()]
    out[constants_at:constants_at] = [*const, "}"]

    # --- initial state: species' initial amounts and the rules they use, in order ----------
    init_exprs = {s: e for s, e in zip(model.species, model.initial)}
    rule_map = dict(model.rules)
    from graphlib import TopologicalSorter

    graph = {}
    for s, e in init_exprs.items():
        graph[s] = {z.name for z in e.free_symbols} & (set(init_exprs) | set(rule_map))
    for w, e in rule_map.items():
        graph[w] = {z.name for z in e.free_symbols} & (set(init_exprs) | set(rule_map))
    out.append("static void init_state(const double *p, double *y, double *w) {\n  const double t = 0.0;\n  (void)t;")
    for name in TopologicalSorter(graph).static_order():
        if name in init_exprs:
            out.append(f"  y[{sidx[name]}] = {c(init_exprs[name])};")
        else:
            out.append(f"  w[{widx[name]}] = {c(rule_map[name])};")
    out.append("}")

    # --- events: evaluate every assignment, then apply (values from trigger time) ----------
    out.append("static void fire_event(int k, double t, double *y, double *p, double *w) {")
    out.append("  rules(t, y, p, w);\n  switch (k) {")
    for k, ev in enumerate(model.events):
        out.append(f"  case {k}: {{")
        for m, (target, e) in enumerate(ev.assignments):
            out.append(f"    const double v{m} = {c(e)};")
        for m, (target, e) in enumerate(ev.assignments):
            out.append(f"    {names[target]} = v{m};")
        out.append("    break; }")
    out.append("  default: break;\n  }\n}")
    times = ", ".join(repr(float(ev.time)) for ev in model.events) or "0.0"
    out.append(f"static const double EVENT_TIME[] = {{{times}}};")
    head = (f"#include <math.h>\n#include <stdlib.h>\n#include <string.h>\n{_MIN_MAX}{_lanes_header(LANES)}"
            f"#define NS {N}\n#define NP {P}\n#define NW {max(R + len(extra), 1)}\n#define NJ {jac_nnz}\n"
            f"#define NLU {len(slots)}\n#define NEV {len(model.events)}\n")
    from nephrosim.engine.batch.solver_c import SOLVER

    return Generated(head + "\n".join(out) + "\n" + SOLVER, N, P, R, jac_nnz, len(slots), flops,
                     tuple(sorted(pattern)))
