"""Host signals the therapy reads: kidney injury, inflammation, oxidative stress, fibrosis.

MSC homing and kidney retention rise with injury (SDF-1/CXCR4-like; Tögel 2008:
suprarenal-aortic cells localize to the kidney only when it is injured), MSC
secretion is licensed by inflammation, kidney-resident MSC die faster under
oxidative stress and inflammation, and persisting cells in a fibrotic milieu are a
fibrogenic risk. The therapy reads these four dimensionless signals (0 = healthy,
1 = maximal) through one process, ``therapy_host_signals``.

Interface with the injury model
-------------------------------
Each signal is the larger of an injury-core expression (:data:`INJURY_QUANTITIES`,
worst kidney) and the **fallback**, the fractional loss of GFR
``1 − kidney_function_factor`` (clipped to 0–1), which every arm defines — so a
prescribed ``clearance_change`` (core at rest) still reads as an injured kidney.
An injury expression is used only when every name it needs is defined by
:func:`nephrosim.biology.injury.injury_core` (checked when the model is built); if
the core is renamed, the fallback alone is used, never a broken model. An injury
model may also override the whole process by putting a process named
``therapy_host_signals`` (defining the same four quantities) among its insult
processes — :func:`nephrosim.modelspec.merge` keeps the first of a name.

Corners are smoothed (``smooth_max``/``smooth_pos``, width 0.001): the core sits exactly at
``max(0, ·)`` corners at rest, and sharp corners there make the integrator chatter.

Core expressions (x/(1+x) maps an unbounded excess onto 0–1):

* injury       = max over kidneys of 1 − ``tub_h`` (share of tubular epithelium not healthy);
* inflammation = TNF-class excess ``tnf``/(1 + ``tnf``), worst kidney;
* oxidative    = ``ros_excess``/(1 + ``ros_excess``), worst kidney;
* fibrosis     = myofibroblast fraction ``myofib``, worst kidney.
"""

from __future__ import annotations

from nephrosim.modelspec import Process, Quantity

#: Width of the smooth corners below (signals are 0–1): kinks at the rest point of the core
#: (x = 0 exactly) would make the integrator chatter, so max/clip are smoothed.
EPS = "0.001"


def smooth_pos(x: str) -> str:
    """Smooth max(0, x): 0.5·(x + sqrt(x² + ε²)) — always > 0, ε/2 at x = 0, x for x ≫ ε."""
    return f"(0.5 * (({x}) + sqrt(({x})^2 + {EPS}^2)))"


def smooth_max(a: str, b: str) -> str:
    """Smooth max(a, b): 0.5·(a + b + sqrt((a − b)² + ε²)) — at most ε/2 above max(a, b)."""
    return f"(0.5 * (({a}) + ({b}) + sqrt((({a}) - ({b}))^2 + {EPS}^2)))"


#: Fallback used when no injury-model quantity is available (documented in docs/therapy.md).
FALLBACK = smooth_pos("1 - kidney_function_factor")

#: Injury-model expressions (0–1) for each signal, filled in once the injury biology
#: exists; ``None`` = use :data:`FALLBACK`.
INJURY_QUANTITIES: dict[str, str | None] = {
    "therapy_injury_signal": smooth_pos(smooth_max("1 - tub_h_l", "1 - tub_h_r")),
    "therapy_inflammation_signal": smooth_pos(smooth_max("tnf_l / (1 + tnf_l)", "tnf_r / (1 + tnf_r)")),
    "therapy_oxidative_signal": smooth_pos(smooth_max("ros_excess_l / (1 + ros_excess_l)",
                                                      "ros_excess_r / (1 + ros_excess_r)")),
    "therapy_fibrosis_signal": smooth_pos(smooth_max("myofib_l", "myofib_r")),
}

DESCRIPTIONS = {
    "therapy_injury_signal": "Kidney injury sensed by infused products (homing/retention, EV uptake), 0–1",
    "therapy_inflammation_signal": "Inflammation licensing MSC secretion and killing kidney MSC, 0–1",
    "therapy_oxidative_signal": "Oxidative stress killing kidney MSC, 0–1",
    "therapy_fibrosis_signal": "Fibrotic milieu around persisting MSC (fibrogenicity risk), 0–1",
}


#: Resting value of each core name the signals read (used when an insult does not carry the core).
RESTING = {"tub_h": "1", "tnf": "0", "ros_excess": "0", "myofib": "0"}


def _core_processes() -> tuple[Process, ...]:
    from nephrosim.biology.injury import injury_core

    return tuple(injury_core())


def core_names() -> set[str]:
    """Names of the states and quantities the injury core defines."""
    return {x.name for p in _core_processes() for x in (*p.states, *p.quantities)}


def resting_core_stubs() -> tuple[Process, ...]:
    """Stand-ins for the core names the signals read, for insults that do not carry the core.

    Each stub has the *name of the core process* that defines the symbol, and defines the
    symbol at its resting value. Library assembly keeps the first process of a name and
    insult processes come first, so when the arm carries the core the stubs are dropped,
    and when it does not (e.g. ``clearance_change``) the signals read a resting core and
    the GFR-loss fallback carries the injury.
    """
    owners: dict[str, list[Quantity]] = {}
    for proc in _core_processes():
        defined = {x.name for x in (*proc.states, *proc.quantities)}
        for base, rest in RESTING.items():
            for side in ("l", "r"):
                if f"{base}_{side}" in defined:
                    owners.setdefault(proc.name, []).append(
                        Quantity(f"{base}_{side}", rest, "dimensionless", "resting value (no injury core in this arm)"))
    return tuple(Process(name, "Resting stand-in for an injury-core process absent from this arm",
                         quantities=tuple(qs)) for name, qs in owners.items())


def host_signals(available: set[str] | None = None) -> Process:
    """The ``therapy_host_signals`` process.

    Arguments
    ---------
    available : names the injury model defines in this arm (default: :func:`core_names`);
        an injury expression is used only when every name it needs is available.
    """
    available = core_names() if available is None else available
    quantities = []
    for name, desc in DESCRIPTIONS.items():
        expr = INJURY_QUANTITIES.get(name)
        if expr is not None and _names_in(expr) <= available:
            quantities.append(Quantity(name, smooth_max(expr, FALLBACK), "dimensionless",
                                       desc + " (injury core, or fractional GFR loss if larger)"))
        else:
            quantities.append(Quantity(name, FALLBACK, "dimensionless",
                                       desc + " (fallback: fractional GFR loss)"))
    return Process(
        name="therapy_host_signals",
        description="Host injury, inflammation, oxidative-stress and fibrosis signals read by the therapy",
        quantities=tuple(quantities),
    )


def _names_in(expr: str) -> set[str]:
    import re

    funcs = {"min", "max", "exp", "ln", "log", "piecewise", "pow", "sqrt", "abs", "time", "and", "or", "not"}
    return {w for w in re.findall(r"(?<![0-9.])\b[A-Za-z_][A-Za-z0-9_]*", expr) if w not in funcs}
