"""What a study's evidence rows say about its design beyond the injury's number: the body
temperature during an ischaemic clamp, and the animals' sex.

One reader for every user: the literature points of the web app (:mod:`nephrosim.app.literature`,
which matches a study to a scenario) and the design of a study's scenario in calibration and
held-out validation (:func:`nephrosim.calibration.designs.injury_of`).

**Body temperature** is read by :func:`study_temperature` from what the study's rows state: its
``injury_details`` (any °C value of 25–42 °C, a range ``32-33 °C`` or ``37 ± 0.5 °C``), and the
sentences of its quotes, notes and arm labels that speak of the body or the clamp (a culture or
storage temperature is not read). The words *hypothermic* (below 35 °C, the clinical threshold of
hypothermia) and *normothermic* (read as 37 °C, **assumed**) count as statements; *warm ischaemia*
does not (it says the kidney was not cooled, not the body's temperature). Statements that disagree
by more than 2 × :data:`TEMPERATURE_TOLERANCE_C`, or hypothermia next to a normal temperature, are
a *conflict*: which row was at which temperature is not recorded. Nothing is filled in: a study
that names no temperature is ``stated == False``. The rows given are one design (a study's series
of clamp times or temperatures is one design per group of arms in the store,
:func:`nephrosim.calibration.designs.design_groups`).

:data:`TEMPERATURE_TOLERANCE_C` (1.9 °C) is **assumed**, not sourced: it is the shift whose effect in
the model's temperature rule (clamp minutes × Q10^((T − 37)/10), ``iri_q10`` = 2.56, the rat fit's
estimate, which the table carries over to mouse and human) equals the literature page's ±20 %
clamp-time tolerance, 10·log(1.2)/log(2.56) = 1.9 °C (0.9–2.6 °C over the cited Q10 range 2–8).

**Sex** (:func:`study_sex`) is read from the study's ``sex`` and ``strain`` fields (curators wrote it in
either).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Tolerance on the clamp's body temperature, °C (assumed, range 0.9–2.6: see the module text).
TEMPERATURE_TOLERANCE_C = 1.9
#: Below this a body is hypothermic (°C; the clinical definition of hypothermia, core < 35 °C).
HYPOTHERMIA_BELOW_C = 35.0
#: What the word "normothermic" is read as, °C (assumed: the core temperature such studies hold).
NORMOTHERMIA_C = 37.0
#: The note under which drawn rows of a study that states no temperature are counted.
TEMPERATURE_NOT_STATED = "temperature not stated"

_DEGREES = r"(?:°|º|˚|deg(?:rees?)?\.?|o(?=\s*C\b))"
_TEMPERATURE = re.compile(
    r"(\d+(?:\.\d+)?)\s*(?:(?:-|–|—|to)\s*(\d+(?:\.\d+)?)|(?:±|\+/-|\+-)\s*(\d+(?:\.\d+)?))?\s*"
    + _DEGREES + r"\s*C\b", re.IGNORECASE)
_HYPOTHERMIC = re.compile(r"hypotherm", re.IGNORECASE)
#: "to prevent hypothermia", "avoiding hypothermia", "without hypothermia": not a statement that it was.
_HYPOTHERMIA_AVOIDED = re.compile(r"\b(?:prevent\w*|avoid\w*|minimi[sz]\w*|counteract\w*|without|no|not)\b"
                                  r"[^.;]{0,40}hypotherm\w*", re.IGNORECASE)
_NORMOTHERMIC = re.compile(r"normotherm", re.IGNORECASE)
#: A sentence of a quote or note is read for temperature only when it speaks of the animal or the
#: clamp, and not of cells, culture or storage.
_BODY_CONTEXT = re.compile(r"body|core|rectal|temperature|therm|warming|heating|clamp|occlu|ischa?emi|"
                           r"reperfus|surgery|operat|anesthe|anaesthe", re.IGNORECASE)
_NOT_BODY = re.compile(r"cultur|incubat|\bCO2\b|passage|stor(?:ed|age)|frozen|freez|thaw|centrifug|"
                       r"medium|media\b|cold", re.IGNORECASE)


@dataclass(frozen=True)
class StudyTemperature:
    """The body/clamp temperature a study's rows state.

    ``low``/``high``: the stated range in °C (one value: equal), ``None`` when no number is
    given; ``hypothermic``/``normothermic``: the study says so in words; ``conflict``: why the
    statements disagree with each other (else ``None``); ``text``: what was read, for the page.
    """

    low: float | None = None
    high: float | None = None
    hypothermic: bool = False
    normothermic: bool = False
    conflict: str | None = None
    text: str = TEMPERATURE_NOT_STATED

    @property
    def stated(self) -> bool:
        return self.low is not None or self.hypothermic or self.normothermic


def _temperatures(text: str) -> list[tuple[float, float]]:
    """Every body-range temperature (25–42 °C) written in ``text``: (low, high)."""
    found = []
    for m in _TEMPERATURE.finditer(text):
        value = float(m.group(1))
        if m.group(2):
            low, high = sorted((value, float(m.group(2))))
        elif m.group(3):
            low, high = value - float(m.group(3)), value + float(m.group(3))
        else:
            low = high = value
        if 25.0 <= low and high <= 42.0:
            found.append((low, high))
    return found


def _body_sentences(text: str) -> list[str]:
    """The sentences (split at ``.``, ``;`` and line ends) of a quote or note about the body or clamp."""
    parts = re.split(r"(?<!\d)\.(?!\d)|;|\n", text)
    return [p for p in parts if _BODY_CONTEXT.search(p) and not _NOT_BODY.search(p)]


def _range_text(low: float, high: float) -> str:
    return f"{low:g} °C" if low == high else f"{low:g}–{high:g} °C"


def study_temperature(study_rows) -> StudyTemperature:
    """The body temperature during the clamp that a study's rows state (see the module text).

    Read from the study's ``injury_details`` whole, and from the sentences of its rows' ``quote``,
    ``notes`` and ``arm`` that speak of the body or the clamp. Nothing is filled in: a study that
    names no temperature gives ``stated == False``.
    """
    texts = [str(t) for t in study_rows["injury_details"].dropna().unique()]
    for column in ("quote", "notes", "arm"):
        if column in getattr(study_rows, "columns", ()):
            texts += [s for t in study_rows[column].dropna().unique() for s in _body_sentences(str(t))]
    values: list[tuple[float, float]] = []
    hypothermic = normothermic = False
    for text in texts:
        values += _temperatures(text)
        hypothermic = hypothermic or bool(_HYPOTHERMIC.search(_HYPOTHERMIA_AVOIDED.sub(" ", text)))
        normothermic = normothermic or bool(_NORMOTHERMIC.search(text))
    if not values and not hypothermic and not normothermic:
        return StudyTemperature()
    words = [w for w, said in (("hypothermia", hypothermic), ("normothermia", normothermic)) if said]
    named = [_range_text(lo, hi) for lo, hi in sorted(set(values))] + words
    text = ", ".join(named)
    low = min((v[0] for v in values), default=None)
    high = max((v[1] for v in values), default=None)
    conflict = None
    if values and high - low > 2 * TEMPERATURE_TOLERANCE_C:
        conflict = f"several temperatures ({text})"
    elif hypothermic and (normothermic or (values and high >= HYPOTHERMIA_BELOW_C)):
        conflict = f"hypothermia and a normal temperature ({text})"
    elif normothermic and values and low < HYPOTHERMIA_BELOW_C:
        conflict = f"normothermia and a hypothermic temperature ({text})"
    if conflict is not None:
        conflict = (f"temperature: the rows of one design name {conflict}, and do not record which group was "
                    "at which temperature")
    return StudyTemperature(low=low, high=high, hypothermic=hypothermic, normothermic=normothermic,
                            conflict=conflict, text=text)


def temperature_mismatch(temperature: StudyTemperature, scenario_c: float) -> str | None:
    """Why a study's stated temperature keeps its rows off a scenario at ``scenario_c`` °C (else ``None``).

    ``None`` also when the study states none: its rows are drawn and counted as not stated.
    """
    if not temperature.stated:
        return None
    if temperature.conflict is not None:
        return temperature.conflict
    at = f"the scenario's clamp is at {scenario_c:g} °C (±{TEMPERATURE_TOLERANCE_C:g} °C)"
    if temperature.low is not None:
        distance = max(temperature.low - scenario_c, scenario_c - temperature.high, 0.0)
        if distance > TEMPERATURE_TOLERANCE_C:
            kind = "hypothermic, " if temperature.high < HYPOTHERMIA_BELOW_C else ""
            return f"temperature: the study's clamp is {kind}at {_range_text(temperature.low, temperature.high)}; {at}"
        return None
    if temperature.normothermic:  # the word alone, read as NORMOTHERMIA_C
        if abs(NORMOTHERMIA_C - scenario_c) > TEMPERATURE_TOLERANCE_C:
            return f"temperature: the study's clamp is normothermic (read as {NORMOTHERMIA_C:g} °C); {at}"
        return None
    if scenario_c >= HYPOTHERMIA_BELOW_C:  # the word "hypothermia" alone
        return f"temperature: the study's clamp is hypothermic (no number given); {at}"
    return ("temperature: the study says hypothermic but gives no number to compare with the scenario's "
            f"{scenario_c:g} °C")


def study_sex(study_rows) -> str | None:
    """``male``, ``female``, ``male and female`` or ``None`` (not stated), from ``sex`` and ``strain``."""
    text = " ".join(str(t) for column in ("sex", "strain") if column in getattr(study_rows, "columns", ())
                    for t in study_rows[column].dropna().unique())
    female = re.search(r"\bfemales?\b", text, re.IGNORECASE) is not None
    male = re.search(r"\bmales?\b", text, re.IGNORECASE) is not None
    if female and male:
        return "male and female"
    return "female" if female else "male" if male else None
