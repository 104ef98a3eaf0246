"""From stored records to one effect size per study, and the ``meta_analyse`` entry point.

Selection rules (applied per study, in this order; every study dropped is reported with
its reason as an :class:`Exclusion`):

1. **Candidates** – studies matching the injury/species filters that have an arm of the
   requested product (``msc``, ``cm``, ``ev``; any of them when no product is given) and
   rows of the readout. For ``mortality`` the ``survival`` rows count too (deaths =
   n − survivors).
2. **Arms** – treated arms of the product vs the study's *control* arm (vehicle or
   untreated injured animals; never sham, never a non-MSC comparator). Arms are paired
   only with the same co-intervention; the comparison without co-intervention is preferred.
   With several control arms the vehicle arm (vehicle/PBS/saline/medium) is preferred
   over the untreated one. Several treated arms of the product (e.g. MSC from three
   sources) are **combined** into one group (Cochrane Handbook §6.5.2.10, Table 6.5.a) so
   that the shared control is not counted twice.
3. **Time point** – one per study. Continuous readouts: the earliest time ≥ 24 h at which
   both arms report the readout (the AKI peak window); if none, the latest earlier time;
   studies that do not state the time use their single unstated-time comparison.
   Binary readouts (mortality/survival): the latest reported time (end of follow-up).
   ``timepoint=<hours>`` forces the time closest to a value instead.
4. **Numbers** – design-only rows (no mean) are excluded ("no mean reported"); an arm
   without n ("n not reported") or, for continuous readouts, without dispersion ("no
   dispersion reported") excludes the study. A dispersion whose type the source did not
   state is treated as SEM by default (``unspecified_dispersion="SEM"``: the
   conservative choice, larger SD and smaller |SMD|), and this assumption is listed. SEM
   is converted to SD = SEM·√n. Units are harmonized to the readout's canonical unit
   (creatinine µmol/L, BUN as urea mmol/L); for SMD, two arms with the same unstated
   unit are accepted. Event counts are derived from percentages as round(p·n) (listed).
5. **Duplicates** – a study whose arm numbers are identical to an earlier study's (the
   same data reported in two files) is excluded as a duplicate, and so is a study with
   the DOI or PMID of an earlier included study (one publication entered twice under two
   ids, e.g. by two curation batches): the earlier record (seed files first, then the
   curated batches, then user imports) is kept.

Group 1 = treated, group 2 = control: a negative SMD on creatinine or a log OR < 0 on
mortality means protection.

References
----------
Higgins JPT et al. (eds) (2023). Cochrane Handbook for Systematic Reviews of
Interventions, version 6.4, §6.5.2.10 (combining groups) and §23.3.4.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .effects import BINARY_MEASURES, CONTINUOUS_MEASURES, MEASURES, escalc
from .errors import InputError, NotEnoughStudies
from .meta import (MetaResult, RegtestResult, SubgroupResult, TrimfillResult, _jsonable, leave1out, regtest, rma,
                   subgroups, trimfill)
from .vocab import READOUTS, matches_product, readout_spec

__all__ = ["Exclusion", "Assumption", "MetaAnalysis", "effect_table", "meta_analyse", "read_effect_table"]


@dataclass(frozen=True)
class Exclusion:
    """A study (or arm) left out of a pooled analysis, and why."""

    study_id: str
    reason: str
    arm: str = ""

    def __str__(self):
        return f"{self.study_id}{' [' + self.arm + ']' if self.arm else ''}: {self.reason}"


@dataclass(frozen=True)
class Assumption:
    """A documented choice made for one study (e.g. unstated dispersion treated as SEM)."""

    study_id: str
    note: str

    def __str__(self):
        return f"{self.study_id}: {self.note}"


_VEHICLE = re.compile(r"vehicle|pbs|saline|medium|dmem|sealant|biomembrane", re.I)


def _combine(ms, sds, ns):
    """Combine groups: Cochrane Handbook Table 6.5.a (sequentially)."""
    m, s, n = ms[0], sds[0], ns[0]
    for m2, s2, n2 in zip(ms[1:], sds[1:], ns[1:]):
        N = n + n2
        mm = (n * m + n2 * m2) / N
        s = np.sqrt(((n - 1) * s**2 + (n2 - 1) * s2**2 + n * n2 / N * (m**2 + m2**2 - 2 * m * m2)) / (N - 1))
        m, n = mm, N
    return m, s, n


_UNSTATED = "unstated"


def _time_key(t):
    return _UNSTATED if t is None or t is pd.NA or (isinstance(t, float) and np.isnan(t)) else float(t)


def _choose_time(times, binary, timepoint):
    stated = sorted(t for t in times if t != _UNSTATED)
    if not stated:
        return _UNSTATED
    if timepoint is not None and timepoint != "auto":
        return min(stated, key=lambda t: (abs(t - float(timepoint)), t))
    if binary:
        return stated[-1]
    ge = [t for t in stated if t >= 24]
    return ge[0] if ge else stated[-1]


def _events(row, n, readout):
    unit = row["unit"]
    mean = float(row["mean"])
    if unit == "count":
        ev = mean
        derived = False
    elif unit == "proportion":
        ev = round(mean * n)
        derived = True
    else:  # % (also when unit missing but readout is binary)
        ev = round(mean / 100.0 * n)
        derived = True
    if readout == "survival":
        ev = n - ev
    return int(ev), derived


class _Excluded(Exception):
    """A study leaves the effect table, for the reason it carries."""

    def __init__(self, reason: str, arm: str | None = None):
        super().__init__(reason)
        self.reason, self.arm = reason, arm


def _check_measure(readout: str, measure: str | None, unspecified_dispersion: str) -> tuple[object, bool, str]:
    spec = readout_spec(readout)
    binary = spec.kind == "binary"
    measure = (measure or ("OR" if binary else "SMD")).upper()
    if binary and measure not in BINARY_MEASURES:
        raise InputError(f"readout {readout!r} is binary; use --measure OR or RR (got {measure!r}).")
    if not binary and measure not in CONTINUOUS_MEASURES:
        raise InputError(f"readout {readout!r} is continuous; use --measure SMD, MD or ROM (got {measure!r}).")
    if unspecified_dispersion not in ("SEM", "SD", "exclude"):
        raise InputError(f"unspecified_dispersion={unspecified_dispersion!r}; use 'SEM', 'SD' or 'exclude'.")
    return spec, binary, measure


def _candidate_records(records: pd.DataFrame, readout: str, is_product) -> pd.DataFrame:
    """Rows of the readout (mortality and survival together) from studies with a treated arm of
    the product, or a reported treated/control contrast."""
    readouts = {"mortality", "survival"} if readout in ("mortality", "survival") else {readout}
    product_studies = set(records.study_id[(records.role == "treated") & records["product"].map(is_product)])
    product_studies |= set(records.study_id[(records.role == "contrast")])
    rec = records[records.readout.isin(readouts) & records.study_id.isin(product_studies)].copy()
    rec["tkey"] = pd.Series([_time_key(t) for t in rec.time_h], index=rec.index, dtype=object)
    return rec


def _pair_arms(sid, g: pd.DataFrame, readout: str, is_product, binary: bool, timepoint, assumptions: list):
    """The treated arms and the one control arm of study ``sid`` to compare: same
    co-intervention, same time point (vehicle control preferred). Raises :class:`_Excluded`."""
    treated_all = g[(g.role == "treated") & g["product"].map(is_product)]
    contrast = g[g.role == "contrast"]
    if treated_all.empty and contrast.empty:
        raise _Excluded(f"no treated arm reports {readout}")
    controls_all = g[g.role == "control"]
    if treated_all.empty:
        raise _Excluded("only a treated/control ratio reported (no arm means or dispersion)")
    if controls_all.empty:
        raise _Excluded(f"no control arm reports {readout}"
                        + (" (only a treated/control ratio given)" if not contrast.empty else ""))
    treated = treated_all[treated_all["mean"].notna()]
    controls = controls_all[controls_all["mean"].notna()]
    if treated.empty or controls.empty:
        which = "treated and control arms" if treated.empty and controls.empty else (
            "treated arm" if treated.empty else "control arm")
        raise _Excluded(f"no mean reported for the {which} (design-only row)")
    # co-intervention groups with both arms
    groups = sorted(set(treated.co_intervention.fillna("")) & set(controls.co_intervention.fillna("")),
                    key=lambda c: (c != "", c))
    if not groups:
        raise _Excluded("no control arm with the same co-intervention as the treated arm")
    co = groups[0]
    t_co = treated[treated.co_intervention.fillna("") == co]
    c_co = controls[controls.co_intervention.fillna("") == co]
    times = set(t_co.tkey) & set(c_co.tkey)
    if not times:
        raise _Excluded("treated and control arms are reported at different time points")
    t_sel = _choose_time(times, binary, timepoint)
    t_rows = t_co[[k == t_sel for k in t_co.tkey]]
    c_rows = c_co[[k == t_sel for k in c_co.tkey]]
    if len(c_rows.arm_id.unique()) > 1:
        veh = c_rows[[bool(_VEHICLE.search(f"{a} {p}")) for a, p in zip(c_rows.arm, c_rows.product_raw.fillna(""))]]
        c_pick = veh.iloc[0] if not veh.empty else c_rows.iloc[0]
        assumptions.append(Assumption(sid, f"control arm chosen: {c_pick.arm!r} (vehicle preferred over "
                                           f"{len(c_rows.arm_id.unique()) - 1} other control arm(s))"))
    else:
        c_pick = c_rows.iloc[0]
    if co:
        assumptions.append(Assumption(sid, f"comparison within co-intervention {co!r} (treated+{co} vs {co} alone)"))
    t_list = [_Row(r) for r in t_rows.to_dict("records")]
    if len(t_list) > 1:
        assumptions.append(Assumption(sid, f"{len(t_list)} treated arms combined into one group "
                                           f"({'; '.join(r.arm for r in t_list)})"))
    c_pick = _Row(c_pick.to_dict())
    arms = t_list + [c_pick]
    missing_n = [a.arm for a in arms if pd.isna(a.n)]
    if missing_n:
        raise _Excluded("n not reported", arm="; ".join(missing_n))
    base = dict(study_id=sid, time_h=None if t_sel == _UNSTATED else t_sel, species=g.species.iloc[0],
                injury=g.injury.iloc[0], product=",".join(sorted(set(t_rows["product"]))),
                route=_common(t_rows.route), dose=_common(t_rows.dose_raw), timing_h=_common(t_rows.timing_h),
                cell_source=_common(t_rows.cell_source), donor=_common(t_rows.donor), co_intervention=co,
                treated_arms="; ".join(a.arm for a in t_list), control_arm=c_pick.arm)
    return arms, base


def _binary_row(sid, arms, base, assumptions: list) -> tuple[tuple, dict]:
    """Events and totals: the treated arms pooled, against the control arm (last)."""
    evs, ns, derived = [], [], False
    for a in arms:
        n = int(a.n)
        ev, d = _events(a, n, a.readout)
        derived |= d
        evs.append(ev)
        ns.append(n)
    ai, n1 = sum(evs[:-1]), sum(ns[:-1])
    ci, n2 = evs[-1], ns[-1]
    if derived:
        assumptions.append(Assumption(sid, "event counts derived from reported percentages as round(p·n)"))
    return ("bin", ai, n1, ci, n2), dict(base, ai=ai, bi=n1 - ai, ci=ci, di=n2 - ci, n1i=n1, n2i=n2)


def _continuous_row(sid, arms, base, spec, readout: str, measure: str, unspecified_dispersion: str,
                    assumptions: list) -> tuple[tuple, dict]:
    """Means and SDs in the readout's canonical unit (SEM → SD): the treated arms combined,
    against the control arm (last). Raises :class:`_Excluded`."""
    missing_sd = [a.arm for a in arms if pd.isna(a.dispersion)]
    if missing_sd:
        raise _Excluded("no dispersion reported", arm="; ".join(missing_sd))
    units = {a.unit for a in arms}
    target = spec.canonical_unit
    ms, sds, ns = [], [], []
    unstated_type = bad_unit = False
    for a in arms:
        n = int(a.n)
        sd = float(a.dispersion)
        dtype = a.dispersion_type if isinstance(a.dispersion_type, str) else None
        if dtype is None:
            unstated_type = True
            dtype = unspecified_dispersion
        if dtype == "exclude":
            break
        if dtype == "SEM":
            sd = sd * np.sqrt(n)
        m = float(a.mean)
        if units != {None} and target is not None and isinstance(a.unit, str):
            from .vocab import convert

            try:
                f = convert(1.0, readout, a.unit, target)
            except InputError:
                bad_unit = True
                break
            m, sd = m * f, sd * f
        elif len(units) > 1 or (measure != "SMD" and units == {None}):
            bad_unit = True
            break
        ms.append(m)
        sds.append(sd)
        ns.append(n)
    if unstated_type and unspecified_dispersion == "exclude":
        raise _Excluded("dispersion type (SD or SEM) not stated")
    if bad_unit:
        raise _Excluded(f"unit not stated or not convertible ({', '.join(map(str, units))})"
                        + ("" if measure == "SMD" else f"; {measure} needs a common unit"))
    if unstated_type:
        assumptions.append(Assumption(sid, f"dispersion type not stated in the source; treated as "
                                           f"{unspecified_dispersion}"))
    if units == {None}:
        assumptions.append(Assumption(sid, "unit not stated (same in both arms; SMD is unit-free)"))
    m1, sd1, n1 = _combine(ms[:-1], sds[:-1], ns[:-1])
    key = ("cont", round(m1, 6), round(sd1, 6), n1, round(ms[-1], 6), round(sds[-1], 6), ns[-1])
    return key, dict(base, m1i=m1, sd1i=sd1, n1i=n1, m2i=ms[-1], sd2i=sds[-1], n2i=ns[-1],
                     unit=target if (units != {None} and target) else _common(pd.Series(list(units))))


def _publications(g: pd.DataFrame) -> list[tuple[str, str]]:
    return [(kind, str(v).strip().lower()) for col, kind in (("doi", "DOI"), ("pmid", "PMID")) if col in g
            for v in g[col].dropna().unique() if str(v).strip()]


def effect_table(
    records: pd.DataFrame,
    readout: str,
    *,
    product: str | None = None,
    measure: str | None = None,
    timepoint: str | float | None = "auto",
    unspecified_dispersion: str = "SEM",
) -> tuple[pd.DataFrame, list[Exclusion], list[Assumption]]:
    """Apply the module's selection rules to store records.

    Parameters
    ----------
    records : DataFrame
        Output of :meth:`EvidenceStore.records` (already filtered by injury/species).
    readout : str
        A readout from :data:`~nephrosim.evidence.vocab.READOUTS`.
    product : str, optional
        ``msc``, ``cm`` or ``ev`` (default: any of them).
    measure : str, optional
        ``SMD`` (default for continuous), ``MD``, ``ROM``; ``OR`` (default for binary), ``RR``.
    timepoint : "auto" or float
    unspecified_dispersion : {"SEM", "SD", "exclude"}

    Returns
    -------
    effects : DataFrame
        One row per study with ``yi, vi`` and the arm data.
    excluded : list of Exclusion
    assumptions : list of Assumption
    """
    spec, binary, measure = _check_measure(readout, measure, unspecified_dispersion)

    def is_product(p):
        return matches_product(p, product) if product else p in ("msc", "cm", "ev")

    rec = _candidate_records(records, readout, is_product)
    rows_out, excluded, assumptions = [], [], []
    seen_numbers: dict[tuple, str] = {}
    seen_pubs: dict[tuple, str] = {}
    for sid, g in rec.groupby("study_id", sort=False):
        if g[(g.role == "treated") & g["product"].map(is_product)].empty and (g.role == "treated").any() \
                and g[g.role == "contrast"].empty:
            continue  # treated arms are another product: not a candidate
        try:
            arms, base = _pair_arms(sid, g, readout, is_product, binary, timepoint, assumptions)
            key, row = (_binary_row(sid, arms, base, assumptions) if binary else
                        _continuous_row(sid, arms, base, spec, readout, measure, unspecified_dispersion,
                                        assumptions))
        except _Excluded as why:
            excluded.append(Exclusion(sid, why.reason, why.arm or ""))
            continue
        if key in seen_numbers:
            excluded.append(Exclusion(sid, f"duplicate of study {seen_numbers[key]!r} (identical arm numbers)"))
            continue
        pubs = _publications(g)
        same = next(((k, seen_pubs[k]) for k in pubs if k in seen_pubs), None)
        if same is not None:
            (kind, ident), other = same
            excluded.append(Exclusion(sid, f"same publication as study {other!r} ({kind} {ident}); a publication "
                                           "counts once"))
            continue
        seen_numbers[key] = sid
        for k in pubs:
            seen_pubs.setdefault(k, sid)
        rows_out.append(row)
    eff = pd.DataFrame(rows_out)
    if not eff.empty:
        es = escalc(measure, eff)
        eff["yi"], eff["vi"] = es.yi.values, es.vi.values
        eff["measure"] = measure
    return eff, excluded, assumptions


class _Row(dict):
    """dict with attribute access (avoids pandas' Series.mean shadowing the column)."""

    def __getattr__(self, k):
        try:
            v = self[k]
        except KeyError:
            raise AttributeError(k) from None
        return None if v is pd.NA else v


def _common(s: pd.Series):
    vals = {v for v in s if not (v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA)}
    if not vals:
        return None
    if len(vals) == 1:
        return next(iter(vals))
    return "mixed"


# ============================================================================ entry point
@dataclass(frozen=True, eq=False)
class MetaAnalysis:
    """Everything one ``meta_analyse`` call produced.

    Attributes
    ----------
    result : MetaResult
        The pooled model.
    effects : DataFrame
        One row per included study (``yi``, ``vi``, arm data, moderators).
    excluded : tuple of Exclusion
        Studies dropped and why (store queries).
    assumptions : tuple of Assumption
        Per-study choices made by the selection rules.
    subgroups, egger, trimfill : optional
        Subgroup analysis (``by``), Egger's test and trim-and-fill (k ≥ 3).
    leave1out : DataFrame or None
    query : dict
        The arguments that defined the analysis.
    """

    result: MetaResult
    effects: pd.DataFrame
    excluded: tuple[Exclusion, ...] = ()
    assumptions: tuple[Assumption, ...] = ()
    subgroups: SubgroupResult | None = None
    egger: RegtestResult | None = None
    trimfill: TrimfillResult | None = None
    leave1out: pd.DataFrame | None = None
    query: dict = field(default_factory=dict)

    # flat access to the headline numbers
    def __getattr__(self, name):
        if name in ("result",):
            raise AttributeError(name)
        return getattr(self.result, name)

    def to_dict(self) -> dict:
        """JSON-ready dict: the result's fields at top level plus studies, exclusions, etc."""
        d = self.result.to_dict()
        cols = [c for c in ("label", "study_id", "yi", "vi", "time_h", "species", "injury", "product", "route")
                if c in self.effects.columns]
        d["studies"] = _jsonable(self.effects[cols].replace({np.nan: None}).to_dict("records"))
        d["weights"] = list(self.result.weights)
        d["excluded"] = [dict(study_id=e.study_id, arm=e.arm, reason=e.reason) for e in self.excluded]
        d["assumptions"] = [dict(study_id=a.study_id, note=a.note) for a in self.assumptions]
        d["subgroups"] = self.subgroups.to_dict() if self.subgroups else None
        d["egger"] = self.egger.to_dict() if self.egger else None
        d["trimfill"] = self.trimfill.to_dict() if self.trimfill else None
        d["query"] = _jsonable({k: v for k, v in self.query.items()})
        return d

    def report(self) -> str:
        """Human-readable report (model, subgroups, bias tests, exclusions, assumptions)."""
        lines = [self.result.summary()]
        if self.subgroups is not None:
            sg = self.subgroups
            lines.append(f"Subgroups by {sg.by}: Q_between({sg.q_between_df}) = {sg.q_between:.4f}, "
                         f"p = {sg.q_between_p:.4f}")
            for g, r in zip(sg.groups, sg.results):
                lines.append(f"  {g}: k = {r.k}, estimate {r.estimate:.4f} [{r.ci_lb:.4f}, {r.ci_ub:.4f}]")
        if self.egger is not None:
            e = self.egger
            lines.append(f"Egger regression test: {'t' if e.test == 'knha' else 'z'} = {e.stat:.4f}"
                         f"{'' if not np.isfinite(e.df) else f', df = {e.df:g}'}, p = {e.pval:.4f}")
        if self.trimfill is not None:
            t = self.trimfill
            lines.append(f"Trim-and-fill: {t.k0} stud{'y' if t.k0 == 1 else 'ies'} filled on the {t.side}; "
                         f"adjusted estimate {t.result.estimate:.4f} [{t.result.ci_lb:.4f}, {t.result.ci_ub:.4f}]")
        if len(self.effects) and "study_id" in self.effects:
            lines.append("Included:")
            for _, r in self.effects.iterrows():
                lines.append(f"  {r['label']}: yi = {r['yi']:.4f}, vi = {r['vi']:.4f}")
        if self.excluded:
            lines.append("Excluded:")
            lines += [f"  {e}" for e in self.excluded]
        if self.assumptions:
            lines.append("Assumptions:")
            lines += [f"  {a}" for a in self.assumptions]
        return "\n".join(lines)


_LABEL_COLS = ("label", "study", "study_id", "trial", "author")
_TABLE_COLUMNS = ("the table needs columns yi,vi; or m1i,sd1i,n1i,m2i,sd2i,n2i; or ai,bi,ci,di "
                  "(or tpos,tneg,cpos,cneg)")


def read_effect_table(data, measure: str | None = None) -> tuple[pd.DataFrame, str]:
    """Turn a user table into ``yi, vi`` (+ label) using whichever columns it has.

    Accepted layouts: ``yi, vi``; raw ``m1i, sd1i, n1i, m2i, sd2i, n2i`` (continuous,
    default SMD); counts ``ai, bi, ci, di`` or metafor's ``tpos, tneg, cpos, cneg``
    (default OR).
    """
    if isinstance(data, (str, os.PathLike)):
        from .tables import read_csv_table

        # one reader for every CSV: .csv only (a YAML or other file is named as such), <= 20 MB, UTF-8 text
        df = read_csv_table(Path(data), what="meta-analysis table", as_text=False,
                            fix=_TABLE_COLUMNS)
    elif isinstance(data, pd.DataFrame):
        df = data.copy()
    else:
        df = pd.DataFrame(data)
    df.columns = [str(c).strip() for c in df.columns]
    cols = set(df.columns)
    m = measure.upper() if measure else None
    if m is not None and m not in MEASURES + ("GEN",):
        raise InputError(f"--measure {measure!r} is not supported; use one of {', '.join(MEASURES)}.")
    if {"yi", "vi"} <= cols:
        out = df.copy()
        m = m or "GEN"
    elif {"m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"} <= cols:
        m = m or "SMD"
        if m not in CONTINUOUS_MEASURES:
            raise InputError(f"columns m1i..n2i are continuous data; use --measure SMD, MD or ROM (got {m}).")
        out = escalc(m, df)
    elif {"ai", "bi", "ci", "di"} <= cols or {"tpos", "tneg", "cpos", "cneg"} <= cols:
        m = m or "OR"
        if m not in BINARY_MEASURES:
            raise InputError(f"event-count columns need --measure OR or RR (got {m}).")
        out = escalc(m, df)
    else:
        raise InputError(f"{_TABLE_COLUMNS}. Found: {', '.join(map(str, df.columns))}.")
    for c in ("yi", "vi"):
        bad = out.index[pd.to_numeric(out[c], errors="coerce").isna()]
        if len(bad):
            raise InputError(f"column {c!r} row {int(bad[0]) + 2} is {df.loc[bad[0], c] if c in df else 'missing'!r}; "
                             "give a number (or drop the row).")
    if "label" not in out.columns:
        if "author" in out.columns and "year" in out.columns:
            out["label"] = [f"{a}, {y}" for a, y in zip(out.author, out.year)]
        else:
            src = next((c for c in _LABEL_COLS if c in out.columns), None)
            out["label"] = out[src].astype(str) if src else [f"Study {i + 1}" for i in range(len(out))]
    return out, m


def meta_analyse(
    data=None,
    *,
    readout: str | None = None,
    injury: str | None = None,
    species: str | None = None,
    product: str | None = None,
    store=None,
    db: str | os.PathLike | None = None,
    measure: str | None = None,
    method: str = "REML",
    knha: bool = False,
    by: str | None = None,
    mods: Sequence[str] | None = None,
    level: float = 95.0,
    timepoint: str | float | None = "auto",
    unspecified_dispersion: str = "SEM",
    bias: bool = True,
) -> MetaAnalysis:
    """Pool effect sizes: from a user table, or from the evidence store.

    Parameters
    ----------
    data : path, DataFrame or mapping, optional
        A table with ``yi, vi``, raw group data or event counts (see
        :func:`read_effect_table`). Without ``data`` the evidence store is queried.
    readout, injury, species, product : str, optional
        Store query (``readout`` required then): e.g. ``readout="serum_creatinine",
        injury="aki", species="rodent", product="msc"``.
    store : EvidenceStore, optional
    db : path, optional
        Database file for the store (see :class:`EvidenceStore`).
    measure : str, optional
        ``SMD``/``MD``/``ROM``/``OR``/``RR`` (defaults: SMD for continuous, OR for binary).
    method : str, default "REML"
        τ² estimator (``REML, ML, DL, PM, SJ, HE``) or ``FE``.
    knha : bool, default False
        Knapp–Hartung adjustment (t tests with k − p df).
    by : str, optional
        Column for a subgroup analysis (store: ``route``, ``species``, ``injury``,
        ``product``, ``cell_source``, ``donor`` ...).
    mods : sequence of str, optional
        Numeric moderator columns for a meta-regression.
    level : float, default 95
    timepoint, unspecified_dispersion
        Store selection rules (see module docstring).
    bias : bool, default True
        Also run Egger's test, trim-and-fill and leave-one-out when k ≥ 3.

    Returns
    -------
    MetaAnalysis

    Raises
    ------
    NotEnoughStudies
        No study survived the selection (its ``excluded`` lists why).
    InputError
        Bad arguments or table (the message names the field and the fix).
    """
    excluded: tuple = ()
    assumptions: tuple = ()
    query = dict(readout=readout, injury=injury, species=species, product=product, measure=measure, method=method,
                 knha=knha, by=by, mods=list(mods) if mods else None, level=level)
    if data is not None:
        eff, m = read_effect_table(data, measure)
        labels = list(eff["label"].astype(str))
    else:
        if not readout:
            raise InputError("give a readout to pool from the store (e.g. readout='serum_creatinine'), "
                             "or a table with yi,vi / raw columns.")
        if readout not in READOUTS:
            raise InputError(f"readout {readout!r} is not known; use one of {', '.join(sorted(READOUTS))}.")
        from .store import EvidenceStore

        st = store if store is not None else EvidenceStore(db)
        rec = st.records(injury=injury, species=species)
        eff, exc, ass = effect_table(rec, readout, product=product, measure=measure, timepoint=timepoint,
                                     unspecified_dispersion=unspecified_dispersion)
        excluded, assumptions = tuple(exc), tuple(ass)
        if eff.empty:
            raise NotEnoughStudies(
                f"no study with usable {readout} data for injury={injury!r}, species={species!r}, "
                f"product={product!r}; {len(excluded)} candidate(s) excluded:\n"
                + "\n".join(f"  - {e}" for e in excluded), excluded)
        m = eff["measure"].iloc[0]
        eff["label"] = [f"{s} ({_fmt_t(t)})" for s, t in zip(eff.study_id, eff.time_h)]
        labels = list(eff.label)
    X, names = None, None
    if mods:
        missing = [c for c in mods if c not in eff.columns]
        if missing:
            raise InputError(f"moderator column(s) {', '.join(missing)} not found; available: "
                             f"{', '.join(map(str, eff.columns))}.")
        X = eff[list(mods)].apply(pd.to_numeric, errors="coerce").to_numpy(float)
        names = list(mods)
    test = "knha" if knha else "z"
    res = rma(eff.yi.to_numpy(float), eff.vi.to_numpy(float), method=method, test=test, mods=X, mod_names=names,
              level=level, measure=m, labels=labels)
    sg = None
    if by:
        if by not in eff.columns:
            raise InputError(f"--by column {by!r} not found; available: {', '.join(map(str, eff.columns))}.")
        sg = subgroups(eff.yi, eff.vi, list(eff[by]), method=method, test=test, level=level, measure=m,
                       labels=labels, by=by)
    eg = tf = l1o = None
    if bias and res.k >= 3:
        try:
            eg = regtest(res)
        except InputError:
            eg = None
        if res.p == 1:
            tf = trimfill(res)
            l1o = leave1out(res)
    return MetaAnalysis(result=res, effects=eff.reset_index(drop=True), excluded=excluded, assumptions=assumptions,
                        subgroups=sg, egger=eg, trimfill=tf, leave1out=l1o, query=query)


def _fmt_t(t):
    if t is None or t is pd.NA or (isinstance(t, float) and np.isnan(t)):
        return "time not stated"
    return f"{t:g} h"
