"""Score the model on the pre-registered held-out studies (``nephrosim validate --held-out``).

For every held-out publication in ``validation/held_out.yaml`` (:mod:`.held_out`), its evidence
rows are read from the store, its design becomes a scenario (:mod:`.designs`; a study whose rows
do not give what the scenario needs is listed as not evaluable, with the reason), and the model
predicts it with the shipped calibration's uncertainty: posterior draws of the fitted
parameters, a new between-lab deviation per draw, and every assumed parameter drawn on its
table range (:meth:`Calibration.predict_draws`). Then:

* **treated-vs-vehicle contrasts** (a treated and a control arm, one readout, one time; any
  readout the model has, on its own scale or not): direction right (the predicted and observed
  log ratios have the same sign), |log(predicted ratio / observed ratio)|, and whether the 95 %
  prediction interval of the ratio covers the observed one;
* **absolute observations** (group means of readouts the model computes in physical units,
  e.g. SCr in mg/dL): whether the 95 % prediction interval covers the reported mean;
* **severity contrasts** (two untreated arms of one study whose designs differ — a dose, a clamp
  time, a body temperature — one readout, one time): the same three measures as the treated
  contrasts, reported apart. Within one lab, assay and strain, the ratio tests the model's dose
  response without the between-lab offsets of absolute values. Two groups whose designs become the
  same scenario (the model has no term for what differs) are not paired.

A prediction interval is of the *reported* value: model draws plus the study's own sampling
error (SE = SD/√n or the SEM, when the study gives them; the model draws alone otherwise).
Its fold-width is upper / lower.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nephrosim.calibration.designs import NotEvaluable, comparable_readout, design_groups, design_of
from nephrosim.calibration.held_out import HeldOutRegistry, in_sample_now, load_held_out, source_checkout
from nephrosim.errors import UserInputError


@dataclass
class HeldOutValidation:
    """Result of :func:`validate_held_out`: one row per contrast, per observation, per unscored study."""

    contrasts: object  # DataFrame
    observations: object  # DataFrame
    #: untreated arms of different designs of one study (dose, clamp time, temperature), paired
    severity: object = None  # DataFrame
    not_evaluable: list[dict] = field(default_factory=list)
    #: scored studies with design groups that could not be scored (another clamp time, dose or temperature
    #: whose design the rows do not give), each with why
    groups_left_out: list[dict] = field(default_factory=list)
    registry: HeldOutRegistry | None = None
    n_draws: int = 0
    in_sample: bool = False
    #: publications scored (held out, or in-sample: the registry's and those a fit added since the draw)
    n_studies: int | None = None

    def summary(self) -> dict:
        c, o = self.contrasts, self.observations
        covered = list(c["covered"]) + list(o["covered"]) if len(c) or len(o) else []
        widths = list(c["fold_width"]) + list(o["fold_width"]) if len(c) or len(o) else []
        widths = [w for w in widths if np.isfinite(w)]
        return {
            "held_out_studies": (self.n_studies if self.n_studies is not None else
                                 len(self.registry.in_sample if self.in_sample else self.registry.studies)
                                 if self.registry else 0),
            "studies_scored": len(set(c["study"]) | set(o["study"])
                                  | (set(self.severity["study"]) if self.severity is not None else set())),
            "contrasts": int(len(c)),
            "direction_right_share": _share(c["direction_right"]) if len(c) else math.nan,
            "median_abs_log_ratio_error": float(c["abs_log_error"].median()) if len(c) else math.nan,
            "observations": int(len(o)),
            "pi95_coverage": float(np.mean(covered)) if covered else math.nan,
            "pi95_median_fold_width": float(np.median(widths)) if widths else math.nan,
            "not_evaluable_studies": len(self.not_evaluable),
            **_severity_summary(self.severity),
        }


def _share(directions) -> float:
    """The share of ``True`` among the contrasts that have a direction (``None``: an observed ratio of 1)."""
    known = [bool(d) for d in directions if d is not None and not (isinstance(d, float) and math.isnan(d))]
    return float(np.mean(known)) if known else math.nan


def _severity_summary(frame) -> dict:
    n = 0 if frame is None else len(frame)
    return {"severity_contrasts": n,
            "severity_direction_right_share": _share(frame["direction_right"]) if n else math.nan,
            "severity_median_abs_log_ratio_error": float(frame["abs_log_error"].median()) if n else math.nan,
            "severity_pi95_coverage": float(frame["covered"].mean()) if n else math.nan}


def _shown(frame):
    """A contrast table for the report: a contrast without a direction (observed ratio 1) says so."""
    return frame.assign(direction_right=[("none (observed ratio 1)" if d is None else d)
                                         for d in frame["direction_right"]])


def _severity_line(s: dict) -> str:
    return (f"- severity contrasts (untreated arms of two designs of one study: dose, clamp time, temperature): "
            f"{s['severity_contrasts']}; direction right: {s['severity_direction_right_share']:.0%}; median |log "
            f"ratio error|: {s['severity_median_abs_log_ratio_error']:.3g}; 95 % interval coverage: "
            f"{s['severity_pi95_coverage']:.0%}")


def _ratio_row(num_row, den_row, v_num, v_den, keep, rng, q) -> dict | None:
    """The scored ratio ``num / den`` of two arms' reported means against the model's paired draws:
    observed and predicted ratio, the 95 % interval of the reported ratio (draws plus the two means'
    sampling error), direction, |log error|, coverage, fold-width. ``None`` without a usable draw."""
    if not keep.any():
        return None
    log_pred = np.log(v_num[keep] / v_den[keep])
    se_n, se_d = _se(num_row), _se(den_row)
    se = (math.hypot(se_n / num_row["mean"], se_d / den_row["mean"]) if se_n is not None and se_d is not None
          else 0.0)
    rep = log_pred + rng.standard_normal(len(log_pred)) * se
    lo, hi = np.quantile(rep, [q, 1 - q])
    observed = math.log(num_row["mean"] / den_row["mean"])
    point = float(np.median(log_pred))
    # an observed ratio of exactly 1 (two arms reported equal, e.g. 100 % survival in both) has no direction
    # to get right: it is left out of the direction share (None), and still scored for error and coverage
    direction = None if observed == 0.0 else bool(np.sign(point) == np.sign(observed))
    return {"observed_ratio": math.exp(observed), "predicted_ratio": math.exp(point), "pi_lower": math.exp(lo),
            "pi_upper": math.exp(hi), "direction_right": direction,
            "abs_log_error": abs(point - observed), "covered": bool(lo <= observed <= hi),
            "fold_width": math.exp(hi - lo)}


def _injury_label(design) -> str:
    injury = design.scenario["injury"]
    return ", ".join(f"{k} {v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else f"{k} {v}"
                     for k, v in injury.items() if k != "model")


def _severity_contrasts(sid: str, untreated: list[dict], rng, q) -> list[dict]:
    """Pairs of untreated arms of one study from design groups with different scenarios (a dose, a clamp
    time, a temperature), with one readout at one time; the ratio is the later group's over the earlier's."""
    out = []
    for i, a in enumerate(untreated):
        for b in untreated[i + 1:]:
            if a["group"] == b["group"] or a["injury"] == b["injury"]:
                continue  # the same design, or two designs the model cannot tell apart
            if (a["readout"], a["time_h"]) != (b["readout"], b["time_h"]):
                continue
            keep = a["ok"] & b["ok"] & (a["v"] > 0) & (b["v"] > 0)
            row = _ratio_row(b["row"], a["row"], b["v"], a["v"], keep, rng, q)
            if row is not None:
                out.append({"study": sid, "design": b["label"], "reference": a["label"],
                            "arm": b["row"]["arm_id"], "reference_arm": a["row"]["arm_id"], "readout": a["readout"],
                            "time_h": a["time_h"], **row, "creatinine_assay": a["assay"]})
    return out


def _se(row) -> float | None:
    """SE of a reported mean: the SEM, or SD/√n (None when the study does not say which, or no n)."""
    import pandas as pd

    d, kind = row["dispersion"], row["dispersion_type"]
    if pd.isna(d) or not isinstance(kind, str) or not np.isfinite(float(d)):
        return None
    if kind == "SEM":
        return float(d)
    n = row["n"]  # the store's n is a nullable integer (pd.NA when not reported)
    if kind == "SD" and not pd.isna(n) and float(n) >= 1:
        return float(d) / math.sqrt(float(n))
    return None


def _units_that_convert(design, readouts: dict[str, str]) -> dict[str, str]:
    """The subset of ``{model readout: unit}`` the scenario accepts (a unit it cannot convert is dropped)."""
    from nephrosim.run.simulation import as_scenario

    ok = {}
    for readout, unit in readouts.items():
        try:
            as_scenario({**design.scenario, "readouts": [readout], "units": {readout: unit}, "times_h": [0, 24]})
        except UserInputError:  # the scenario schema refuses the unit for this readout
            continue
        ok[readout] = unit
    return ok


def _as_survival(row):
    """A mortality row (%, the model has none) as the survival it implies: 100 − mortality, same SE."""
    row = row.copy()
    row["mean"] = 100.0 - float(row["mean"])
    row["readout"] = "survival"
    return row, comparable_readout("survival")


def _study_rows(store_records, study_ids):
    rows = store_records[store_records["study_id"].isin(study_ids)]
    return rows[rows["mean"].notna() & rows["time_h"].notna()]


def _shown_path(path: str) -> str:
    """``path`` relative to the working directory when it lies below it (a report written in a checkout
    names ``validation/held_out.yaml``, not the machine's absolute path)."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def _score_design(design, rows, *, sid, cal, samples, rng, q, draw_seed, observations, contrasts,
                  untreated=None, group=0) -> list[str]:
    """Score one design group of study ``sid`` (its rows), appending to ``observations`` and
    ``contrasts`` (and its untreated arms' draws to ``untreated``, for the severity contrasts);
    returns why the group was left out (empty when it was scored)."""
    matched = [(r, comparable_readout(str(r["readout"]))) for _, r in rows.iterrows()]
    matched = [_as_survival(r) if str(r["readout"]) == "mortality" else (r, m) for r, m in matched]
    matched = [(r, m) for r, m in matched if m is not None]
    if not matched:
        return ["none of its readouts has a model readout"]
    units = _units_that_convert(design, {m.model: str(r["unit"]) for r, m in matched
                                         if m.comparability == "absolute" and isinstance(r["unit"], str)
                                         and r["unit"]})
    readouts = sorted({m.model for _, m in matched})
    times = sorted({0.0} | {float(r["time_h"]) for r, _ in matched})
    scenario = {**design.scenario, "readouts": readouts, "units": units, "times_h": times}
    try:
        draws = {arm: (prog, out, ok) for arm, prog, out, ok in
                 cal.predict_draws(scenario, samples, new_study=True, seed=draw_seed)}
    except UserInputError as exc:  # a design the scenario schema refuses: not evaluable, with the reason
        return [f"scenario refused: {exc}"]

    def values(arm_id, readout, time_h):
        prog, out, ok = draws[design.arm_of[str(arm_id)]]
        j = list(prog.readouts).index(readout)
        t = times.index(float(time_h))
        return out[:, t, j], ok, prog.units[j]

    for r, m in matched:
        if m.comparability != "absolute" or m.model not in units:
            continue
        v, ok, unit = values(r["arm_id"], m.model, r["time_h"])
        v = v[ok]
        if not len(v):
            continue
        se = _se(r)
        rep = v + (rng.standard_normal(len(v)) * se if se else 0.0)
        lo, hi = np.quantile(rep, [q, 1 - q])
        observations.append({"study": sid, "arm": r["arm_id"], "readout": m.model, "unit": unit,
                             "time_h": float(r["time_h"]), "observed": float(r["mean"]),
                             "predicted": float(np.median(v)), "pi_lower": float(lo), "pi_upper": float(hi),
                             "covered": bool(lo <= r["mean"] <= hi),
                             "fold_width": float(hi / lo) if lo > 0 else math.inf,
                             "creatinine_assay": _assay_label(design, m.model)})
    if untreated is not None:
        for r, m in matched:
            if r["role"] == "control" and r["mean"] > 0:
                v, ok, _ = values(r["arm_id"], m.model, r["time_h"])
                untreated.append({"row": r, "readout": m.model, "time_h": float(r["time_h"]), "v": v, "ok": ok,
                                  "group": group, "injury": dict(design.scenario["injury"]),
                                  "label": _injury_label(design), "assay": _assay_label(design, m.model)})
    by_key = {}  # arms are paired within one curation of the publication (never across two copies)
    for r, m in matched:
        by_key.setdefault((str(r["study_id"]), m.model, float(r["time_h"])), []).append(r)
    for (_, readout, time_h), group in sorted(by_key.items()):
        controls = [r for r in group if r["role"] == "control"]
        treated = [r for r in group if r["role"] in ("treated", "comparator")]
        for t_row in treated:
            for c_row in controls:
                if not (t_row["mean"] > 0 and c_row["mean"] > 0):
                    continue
                vt, okt, _ = values(t_row["arm_id"], readout, time_h)
                vc, okc, _ = values(c_row["arm_id"], readout, time_h)
                row = _ratio_row(t_row, c_row, vt, vc, okt & okc & (vt > 0) & (vc > 0), rng, q)
                if row is not None:
                    contrasts.append({"study": sid, "treated": t_row["arm_id"], "control": c_row["arm_id"],
                                      "readout": readout, "time_h": time_h, **row,
                                      "creatinine_assay": _assay_label(design, readout)})
    return []


def validate_held_out(calibration=None, registry: HeldOutRegistry | None = None, *, n_draws: int = 100,
                      seed: int = 0, level: float = 0.95, store=None, samples=None,
                      in_sample: bool = False) -> HeldOutValidation:
    """Score ``calibration`` (default: the shipped one) on the held-out studies of ``registry``.

    Arguments
    ---------
    calibration : a fitted :class:`~nephrosim.calibration.fit.Calibration` (default: shipped).
    registry : the held-out list (default: :func:`~nephrosim.calibration.held_out.load_held_out`).
    n_draws : draws per prediction; seed : their seed; level : interval probability.
    store : an :class:`~nephrosim.evidence.EvidenceStore` (default: the shipped evidence in a
        temporary store, never the user's own).
    samples : posterior draws of the calibration's ``x`` (default: ``n_draws`` Laplace draws).
    in_sample : score the registry's *in-sample* publications instead (those a fit or a hand-tuned
        target used) — the same measures, reported apart: meeting them shows the tuning, not prediction.
    """
    import pandas as pd

    from nephrosim.calibration.config import CalibrationConfigError
    from nephrosim.calibration.fit import Calibration
    from nephrosim.evidence import shipped_records

    registry = registry or load_held_out()
    if registry is None:
        raise CalibrationConfigError("no held-out registry: run scripts/select_held_out.py in a source checkout or "
                                     "set $NEPHROSIM_HELD_OUT")
    records = shipped_records() if store is None else store.ensure().records()
    studies = registry.studies
    if in_sample:  # refused before the posterior is sampled (a minute of compiling on the rat IRI fit)
        # the registry's in-sample publications and those a fit or target added since the draw
        root = source_checkout()
        studies, leaked = (registry.in_sample, []) if root is None else in_sample_now(registry, records, root)
        if leaked:
            raise CalibrationConfigError(
                f"held-out publication(s) used by a fit or an in-sample target: {'; '.join(leaked)} — a held-out "
                f"study may never be fitted ({registry.path}); remove it from the fit or target")
    cal = calibration if calibration is not None else Calibration.from_shipped()
    samples = cal.sample(n_draws, method="laplace", seed=seed) if samples is None else np.atleast_2d(samples)
    n_draws = len(samples)
    rng = np.random.default_rng(seed)
    q = (1 - level) / 2
    contrasts, observations, severity, skipped, partial = [], [], [], [], []
    for k, study in enumerate(studies):
        rows = _study_rows(records, study.study_ids)
        if rows.empty:
            skipped.append({"study": study.key, "reason": "no numeric rows in the store"})
            continue
        sid = study.study_ids[0]
        groups = design_groups(records[records["study_id"].isin(study.study_ids)])
        left_out, untreated = [], []
        for g, (details, group_records) in enumerate(groups):  # the same parameter draws for every group
            named = "" if len(groups) == 1 else f"group '{details[:80]}{'…' if len(details) > 80 else ''}': "
            try:
                design = design_of(sid, group_records)
            except NotEvaluable as exc:
                left_out.append(f"{named}{exc}")
                continue
            group_rows = rows[rows["arm_id"].astype(str).isin(design.arm_of)
                              & rows["arm_id"].astype(str).isin(group_records["arm_id"].astype(str))]
            left_out += [named + why for why in _score_design(
                design, group_rows, sid=sid, cal=cal, samples=samples, rng=rng, q=q, draw_seed=seed + k,
                observations=observations, contrasts=contrasts, untreated=untreated, group=g)]
        severity += _severity_contrasts(sid, untreated, rng, q)
        scored = any(x["study"] == sid for x in (*observations, *contrasts, *severity))
        if not scored:
            reasons = list(dict.fromkeys(left_out)) or [
                "no readout with a convertible unit, no treated-vs-control pair and no two designs the model "
                "tells apart"]
            skipped.append({"study": sid, "reason": "; ".join(reasons), "rows": int(len(rows))})
        elif left_out:
            partial.append({"study": sid, "reason": "; ".join(dict.fromkeys(left_out))})
    cols_c = ["study", "treated", "control", "readout", "time_h", "observed_ratio", "predicted_ratio", "pi_lower",
              "pi_upper", "direction_right", "abs_log_error", "covered", "fold_width", "creatinine_assay"]
    cols_o = ["study", "arm", "readout", "unit", "time_h", "observed", "predicted", "pi_lower", "pi_upper", "covered",
              "fold_width", "creatinine_assay"]
    cols_s = ["study", "design", "reference", "arm", "reference_arm", "readout", "time_h", "observed_ratio",
              "predicted_ratio", "pi_lower", "pi_upper", "direction_right", "abs_log_error", "covered", "fold_width",
              "creatinine_assay"]
    return HeldOutValidation(contrasts=pd.DataFrame(contrasts, columns=cols_c),
                             observations=pd.DataFrame(observations, columns=cols_o),
                             severity=pd.DataFrame(severity, columns=cols_s), not_evaluable=skipped,
                             groups_left_out=partial,
                             registry=registry, n_draws=n_draws, in_sample=in_sample, n_studies=len(studies))


# --- creatinine assay of the scored serum creatinine (issue 14 item 9) -------------------------
NOT_STATED = "not stated (read as true creatinine)"


def _assay_label(design, readout: str) -> str:
    """The assay behind a serum-creatinine value as the study states it (``designs.creatinine_assay_of``);
    empty for other readouts. An unstated assay is scored as true (enzymatic/HPLC) creatinine and says so."""
    if readout != "serum_creatinine":
        return ""
    return design.creatinine_assay or NOT_STATED


def _assay_lines(result: HeldOutValidation) -> list[str]:
    values = [v for frame in (result.contrasts, result.observations) if len(frame)
              for v in frame["creatinine_assay"] if v]
    if not values:
        return []
    unstated = sum(v == NOT_STATED for v in values)
    return [f"- serum creatinine: {len(values)} scored values; {unstated} from studies that do not state the assay, "
            "scored as true (enzymatic/HPLC) creatinine — a Jaffé lab reads higher by the species' "
            "jaffe_chromogen_offset_mg_dl (`nephrosim params --name jaffe`), which also pulls treated/vehicle "
            "ratios toward 1", ""]
# --- end creatinine assay ---------------------------------------------------------------------


def write_held_out_report(result: HeldOutValidation, path, in_sample: HeldOutValidation | None = None) -> str:
    """Markdown report of :func:`validate_held_out` (atomic write), with the in-sample score apart when
    given; returns the path."""
    from nephrosim.calibration.validation import _md_table
    from nephrosim.io import write_text_atomic

    s = result.summary()
    reg = result.registry
    lines = ["# Held-out validation", "",
             f"Registry: `{_shown_path(reg.path)}` (seed {reg.seed}, {reg.date}); "
             f"{s['held_out_studies']} held-out publications, "
             f"{s['studies_scored']} scored, {s['not_evaluable_studies']} not evaluable. Draws per prediction: "
             f"{result.n_draws}.", "",
             f"- treated-vs-vehicle contrasts: {s['contrasts']}; direction right: {s['direction_right_share']:.0%}; "
             f"median |log(predicted / observed ratio)|: {s['median_abs_log_ratio_error']:.3g}",
             f"- 95 % prediction intervals: coverage {s['pi95_coverage']:.0%} of {s['contrasts'] + s['observations']} "
             f"held-out values; median fold-width {s['pi95_median_fold_width']:.3g}",
             _severity_line(s), ""]
    lines += _assay_lines(result)  # issue 14 item 9
    if len(result.contrasts):
        lines += ["## Contrasts", "", _md_table(_shown(result.contrasts)), ""]
    if len(result.observations):
        lines += ["## Absolute observations", "", _md_table(result.observations), ""]
    if result.severity is not None and len(result.severity):
        lines += ["## Severity contrasts", "", _md_table(_shown(result.severity)), ""]
    if result.not_evaluable:
        lines += ["## Not evaluable", ""] + [f"- {r['study']}: {r['reason']}" for r in result.not_evaluable] + [""]
    if result.groups_left_out:
        lines += ["## Design groups left out of scored studies", ""] + [
            f"- {r['study']}: {r['reason']}" for r in result.groups_left_out] + [""]
    if in_sample is not None:
        t = in_sample.summary()
        lines += ["# In-sample (not validation)", "",
                  "The publications a fit or a hand-tuned literature target already used, scored the same way. "
                  "Meeting these shows the tuning worked, not that the model predicts.", "",
                  f"- {t['held_out_studies']} publications, {t['studies_scored']} scored; contrasts: {t['contrasts']}; "
                  f"direction right: {t['direction_right_share']:.0%}; median |log ratio error|: "
                  f"{t['median_abs_log_ratio_error']:.3g}",
                  f"- 95 % prediction intervals: coverage {t['pi95_coverage']:.0%} of "
                  f"{t['contrasts'] + t['observations']} values; median fold-width {t['pi95_median_fold_width']:.3g}",
                  _severity_line(t), ""]
        if len(in_sample.contrasts):
            lines += ["## In-sample contrasts", "", _md_table(_shown(in_sample.contrasts)), ""]
        if len(in_sample.observations):
            lines += ["## In-sample absolute observations", "", _md_table(in_sample.observations), ""]
        if in_sample.severity is not None and len(in_sample.severity):
            lines += ["## In-sample severity contrasts", "", _md_table(_shown(in_sample.severity)), ""]
        if in_sample.not_evaluable:
            lines += ["## In-sample, not evaluable", ""] + [f"- {r['study']}: {r['reason']}"
                                                            for r in in_sample.not_evaluable] + [""]
        if in_sample.groups_left_out:
            lines += ["## In-sample, design groups left out", ""] + [f"- {r['study']}: {r['reason']}"
                                                                     for r in in_sample.groups_left_out] + [""]
    write_text_atomic(path, "\n".join(lines) + "\n")
    return str(path)
