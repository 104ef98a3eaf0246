"""Cultivation protocol → product attributes: the fold changes a protocol makes.

:func:`lot_attributes` turns a validated protocol (:class:`nephrosim.scenarios.protocols.Protocol`,
passed in as a plain object) into the product attributes the therapy model uses — fold changes
of each paracrine mechanism, EV yield, cell volume (→ lung passage), tissue-factor expression —
each read from the parameter table it is **given** (rows ``protocol_*``), never from a global
one, so scenario overrides of those rows take effect. :func:`product_attributes` reports the
same attributes with lower/upper bounds and their sources.

Modifiers (BIOLOGY.md §2 "Cultivation protocol → product"):

* hypoxic preconditioning raises VEGF ×5 in adipose stromal cells (Rehman 2004,
  doi:10.1161/01.CIR.0000121425.42966.F1) and ×2 in BM-MSC at ≤ 1 % O₂ for 48 h
  (Bone 2007, PMID:17276151); full effect at ≤ 1 % O₂ and ≥ 48 h, none at ≥ 5 % O₂
  (linear in between, assumed) and proportional to hours up to 48 h (assumed);
* IFN-γ / TNF priming raises the anti-inflammatory (IDO/TSG-6) class; the excess
  decays after the cells leave priming (IDO1 falls within ~2 days);
* 3D culture: spheroids ~¼ volume (Bartosh 2010, PMID:20643923) → more lung
  passage, more TSG-6/STC-1/PGE2; microcarriers ×20 EV yield (Haraszti 2018,
  PMID:30341012); hollow fibre ×19.4 (Stem Cell Res Ther 2020,
  doi:10.1186/s13287-020-01719-2);
* tissue source: adipose most pro-angiogenic and more IGF-1; Wharton's jelly/cord
  most growth factors and EV yield; tissue factor adipose ≈ cord > BM;
* passage and donor age lower potency; passage raises pro-coagulant activity;
* donor-to-donor variability is a log-normal factor on all secretion (median 1),
  often larger than priming (Boyt 2020, PMID:32546114).
"""

from __future__ import annotations

import math

from nephrosim.errors import UserInputError

#: Mechanisms (paracrine classes) a product attribute may scale.
MECHANISM_KEYS = ("hgf", "vegf", "antiinflammatory", "igf1", "antioxidant", "ev_rna")

#: z for a 90 % interval of a log-normal (5th–95th percentile).
_Z90 = 1.6449


def _lo(rec) -> float:
    """The row's lower bound, or its value when it has none (a bound of 0 is a bound)."""
    return rec.value if rec.lower is None else rec.lower


def _hi(rec) -> float:
    return rec.value if rec.upper is None else rec.upper


class _Attr:
    """value with bounds, multiplied through (bounds multiply: a conservative envelope)."""

    def __init__(self, value=1.0, lower=1.0, upper=1.0, sources=()):
        self.value, self.lower, self.upper, self.sources = value, lower, upper, list(sources)

    def times(self, value, lower, upper, source):
        self.value *= value
        self.lower *= lower
        self.upper *= upper
        if source:
            self.sources.append(source)
        return self


def _rec(table, name):
    return table.record(name, "all")


def _src(rec) -> str:
    if rec.provenance == "source":
        return f"{rec.name}: {rec.citation} ({rec.pmid_or_doi})"
    return f"{rec.name}: {rec.provenance} — {rec.reason}"


def _fold(attr: _Attr, table, name: str, weight: float = 1.0) -> None:
    """Multiply ``attr`` by 1 + weight·(fold − 1) for table row ``name``."""
    r = _rec(table, name)
    lo, hi = _lo(r), _hi(r)
    attr.times(1 + weight * (r.value - 1), 1 + weight * (lo - 1), 1 + weight * (hi - 1), _src(r))


def _attributes(protocol, table) -> dict[str, _Attr]:
    p = protocol
    out = {f"potency_{m}": _Attr() for m in MECHANISM_KEYS}
    for key in ("ev_yield_fold", "cell_volume_ratio", "lung_passage_fold", "tissue_factor_fold",
                "priming_antiinflammatory_excess", "overall_potency"):
        out[key] = _Attr(0.0, 0.0, 0.0) if key == "priming_antiinflammatory_excess" else _Attr()

    # tissue source (relative to bone marrow)
    src = {"umbilical_cord": "cord", "wharton_jelly": "cord"}.get(p.tissue_source, p.tissue_source)
    if src != "bone_marrow":
        for mech in ("vegf", "hgf", "igf1"):
            name = f"protocol_source_{src}_{mech}_fold"
            if name in table.names():
                _fold(out[f"potency_{mech}"], table, name)
        _fold(out["ev_yield_fold"], table, f"protocol_source_{src}_ev_yield_fold")
        _fold(out["tissue_factor_fold"], table, f"protocol_source_{src}_tissue_factor_fold")

    # hypoxic preconditioning (VEGF)
    if p.hypoxia_o2_percent is not None:
        o2_full = table.record("protocol_hypoxia_full_effect_o2_percent", "all").value
        o2_none = table.record("protocol_hypoxia_no_effect_o2_percent", "all").value
        h_full = table.record("protocol_hypoxia_full_effect_hours", "all").value
        if not o2_none > o2_full:
            raise UserInputError(
                f"protocol_hypoxia_no_effect_o2_percent ({o2_none:g}) must be above "
                f"protocol_hypoxia_full_effect_o2_percent ({o2_full:g}); correct the parameter overrides")
        w_o2 = min(1.0, max(0.0, (o2_none - p.hypoxia_o2_percent) / (o2_none - o2_full)))
        w = w_o2 * min(1.0, p.hypoxia_hours / h_full)
        name = "protocol_hypoxia_vegf_fold_adipose" if src == "adipose" else "protocol_hypoxia_vegf_fold_bm"
        _fold(out["potency_vegf"], table, name, w)
        out["potency_vegf"].sources.append(
            f"hypoxia weight {w:.2f} (O2 {p.hypoxia_o2_percent} %, {p.hypoxia_hours} h; "
            "protocol_hypoxia_full_effect_*/no_effect_*: assumed)")

    # cytokine priming: transient excess of the anti-inflammatory class
    if p.priming:
        excess = _Attr(0.0, 0.0, 0.0)
        for cyt in p.priming:
            r = _rec(table, f"protocol_priming_{cyt}_antiinflammatory_fold")
            w = min(1.0, p.priming_hours / table.record("protocol_priming_full_effect_hours", "all").value)
            excess.value += w * (r.value - 1)
            excess.lower += w * (_lo(r) - 1)
            excess.upper += w * (_hi(r) - 1)
            excess.sources.append(_src(r))
        out["priming_antiinflammatory_excess"] = excess

    # 3D culture
    if p.culture == "spheroid":
        _fold(out["cell_volume_ratio"], table, "protocol_spheroid_cell_volume_ratio")
        _fold(out["lung_passage_fold"], table, "protocol_spheroid_lung_passage_fold")
        _fold(out["potency_antiinflammatory"], table, "protocol_spheroid_antiinflammatory_fold")
        _fold(out["potency_vegf"], table, "protocol_spheroid_vegf_fold")
    elif p.culture == "microcarrier":
        _fold(out["ev_yield_fold"], table, "protocol_microcarrier_ev_yield_fold")
    elif p.culture == "hollow_fibre":
        _fold(out["ev_yield_fold"], table, "protocol_hollow_fibre_ev_yield_fold")

    if p.serum_free:
        _fold(out["overall_potency"], table, "protocol_serum_free_potency_fold")

    for mod in p.genetic_modification:
        mech = mod.split("_")[0]
        _fold(out[f"potency_{mech}"], table, f"protocol_{mod}_fold")

    # passage and donor age: potency falls; pro-coagulant activity rises with passage
    ref = table.record("protocol_reference_passage", "all").value
    extra = max(0.0, p.passage - ref)
    if extra:
        r = _rec(table, "protocol_passage_potency_loss_per_passage")
        out["overall_potency"].times((1 - r.value) ** extra, (1 - _hi(r)) ** extra,
                                     (1 - _lo(r)) ** extra, _src(r))
        r = _rec(table, "protocol_passage_tissue_factor_gain_per_passage")
        out["tissue_factor_fold"].times(1 + r.value * extra, 1 + _lo(r) * extra,
                                        1 + _hi(r) * extra, _src(r))
    if p.donor_age_years is not None:
        age_ref = table.record("protocol_reference_donor_age_years", "all").value
        extra_age = max(0.0, p.donor_age_years - age_ref) / 10.0
        if extra_age:
            r = _rec(table, "protocol_donor_age_potency_loss_per_decade")
            out["overall_potency"].times((1 - r.value) ** extra_age, (1 - _hi(r)) ** extra_age,
                                         (1 - _lo(r)) ** extra_age, _src(r))
    return out


def lot_attributes(protocol, table) -> dict[str, float]:
    """Nominal product attributes used by the therapy model (name → value), from ``table``."""
    attrs = _attributes(protocol, table)
    out = {k: a.value for k, a in attrs.items()}
    out["priming_half_life_h"] = table.record("protocol_priming_half_life_h", "all").value
    out["conditioning_hours"] = protocol.conditioning_hours
    return out


def product_attributes(protocol, table):
    """The product attributes of a cultivation protocol, with bounds and sources.

    Arguments
    ---------
    protocol : a validated :class:`~nephrosim.scenarios.protocols.Protocol`.
    table : the parameter table to read the ``protocol_*`` rows from.

    Returns
    -------
    ``pandas.DataFrame`` with columns ``attribute, value, lower, upper, unit, source``;
    fold changes are relative to low-passage bone-marrow MSC in standard 2D normoxic
    culture. Bounds of combined modifiers are the products of the component bounds (a
    conservative envelope, not a confidence interval). ``donor_potency`` is a
    log-normal factor (median 1) whose bounds are its 5th and 95th percentiles.
    """
    import pandas as pd

    attrs = _attributes(protocol, table)
    rows = []
    for k, a in attrs.items():
        unit = "fold" if k not in ("cell_volume_ratio", "priming_antiinflammatory_excess") else (
            "ratio" if k == "cell_volume_ratio" else "fold − 1 at harvest")
        lo, hi = min(a.lower, a.upper), max(a.lower, a.upper)
        rows.append((k, a.value, lo, hi, unit, "; ".join(a.sources) or "reference (no modifier)"))
    r = table.record("protocol_priming_half_life_h", "all")
    rows.append(("priming_half_life_h", r.value, r.lower, r.upper, "h", _src(r)))
    r = table.record("msc_donor_potency_sigma", "all")
    sig, sig_lo, sig_hi = r.value, _lo(r), _hi(r)
    rows.append(("donor_potency", 1.0, math.exp(-_Z90 * sig), math.exp(_Z90 * sig),
                 "fold (log-normal median 1, 5th–95th pct)", _src(r) + f"; sigma range {sig_lo}–{sig_hi}"))
    rows.append(("donor_potency_sigma", sig, sig_lo, sig_hi, "log-scale SD", _src(r)))
    rows.append(("conditioning_hours", protocol.conditioning_hours, protocol.conditioning_hours,
                 protocol.conditioning_hours, "h", "protocol"))
    if protocol.ev_yield_particles_per_cell is not None:
        v = protocol.ev_yield_particles_per_cell
        rows.append(("ev_yield_particles_per_cell", v, v, v, "particles/cell",
                     "user measurement (reported only; no dose conversion)"))
    return pd.DataFrame(rows, columns=["attribute", "value", "lower", "upper", "unit", "source"])
