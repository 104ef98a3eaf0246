"""Write calibration/therapy.yaml: the therapy potencies fitted to every in-sample treated-vs-vehicle contrast.

    python scripts/build_therapy_calibration.py [-o calibration/therapy.yaml]

The calibration problem is *generated* from the evidence store, never written study by study, so
that no study is picked for how well it fits. The rule (also written into the file):

1. Publications: every evidence study with a treated (MSC, EV or CM) arm and a control arm that is
   **not** pre-registered as held out (``validation/held_out.yaml``, amendments included).
2. Design: :func:`nephrosim.calibration.designs.design_of` turns its rows into a scenario — species,
   injury and its clamp time or toxin dose, product, dose and unit, route and time of the first
   dose, all read off the rows. A study whose rows lack one of these is left out, with the reason.
   Arms given more than one dose are left out (the curated format gives no dosing interval).
3. Contrasts: for serum creatinine and BUN, every treated arm against the control arm of the same
   curation at the same time (the vehicle arm — PBS, saline, medium — when there is one besides an
   untreated arm, so that no treated arm counts twice): ln(mean treated / mean control), SE by the delta method from the two
   arms' SEs (SD/√n, or the SEM). A ± whose type the paper does not state is taken as the SEM (as in
   calibration/default.yaml: the smaller SE, stated here as an assumption). Arms without a ± are
   left out. Contrasts at time 0 or before the dose are left out (the treatment cannot act yet).
4. Between-study heterogeneity: the effect of one product differs between labs far beyond the
   sampling error (cell batch, strain, surgery). Each contrast's SE is widened to
   √(SE² + τ²), where τ² is the REML between-study variance of the included log ratios of that
   product (:func:`nephrosim.evidence.meta.rma`, which reproduces metafor) — the
   marginal likelihood of a normal random study effect on the log ratio, with τ estimated from the
   same data (empirical Bayes; written into the file with its inputs).
5. Estimated: one potency per product (per kg, the table's single row for all species) with at least one contrast (MSC:
   ``paracrine_ec50_cell_h_per_kg``; EV: ``ev_kidney_ec50_reference_doses``; CM:
   ``cm_kidney_delivery_fraction``), within the table's ranges. Everything else stays at the
   table's values (``parameter_set: table``).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
POTENCY = {"msc": "paracrine_ec50_cell_h_per_kg", "ev": "ev_kidney_ec50_reference_doses",
           "cm": "cm_kidney_delivery_fraction"}
READOUTS = ("serum_creatinine", "bun")
VEHICLE = r"vehicle|pbs|saline|medium|placebo"


TREATED_ROLES = ("treated", "comparator")


def median_arm_n(records) -> float:
    """Median animals per rodent arm in the store (stands in for an SD's unreported n)."""
    x = records[records["species"].isin(["mouse", "rat"]) & records["role"].isin(("control",) + TREATED_ROLES)
                & records["n"].notna()].drop_duplicates(["study_id", "arm_id"])
    return float(x["n"].astype(float).median())


def _se(row, n_default: float):
    """SE of one arm mean, and the assumption made for it (None when the arm has no ±)."""
    import pandas as pd

    d, kind, n = row["dispersion"], row["dispersion_type"], row["n"]
    if pd.isna(d) or float(d) <= 0:
        return None, None
    if kind == "SD":
        if pd.isna(n) or float(n) < 1:
            return float(d) / math.sqrt(n_default), f"n not stated for an SD: n = {n_default:g} assumed"
        return float(d) / math.sqrt(float(n)), None
    return float(d), (None if kind == "SEM" else "± type not stated: taken as the SEM")


def _studies(records, registry):
    from nephrosim.calibration.designs import NotEvaluable, design_of
    from nephrosim.vocabulary import model_product

    held = registry.study_ids if registry is not None else frozenset()
    n_default = median_arm_n(records)
    treated_ids = sorted(set(records.loc[records["role"].isin(TREATED_ROLES), "study_id"]))
    included, excluded = [], []
    for sid in treated_ids:
        rows = records[records["study_id"] == sid]
        if sid in held:
            continue  # held out: never listed, not even as excluded (nothing about it shapes the fit)
        products = {model_product(str(p)) for p in rows.loc[rows["role"].isin(TREATED_ROLES), "product"]} - {None}
        if not products:
            excluded.append({"study": sid, "reason": "no modelled product in its treated arms"})
            continue
        try:
            design = design_of(sid, rows)
        except NotEvaluable as exc:
            excluded.append({"study": sid, "reason": str(exc)})
            continue
        numeric = rows[rows["mean"].notna() & rows["time_h"].notna() & rows["readout"].isin(READOUTS)
                       & rows["arm_id"].astype(str).isin(design.arm_of)]
        contrasts, notes = [], set()
        dose_time = {design.arm_of[str(a)]: min(t["time_h"] for t in arm.get("treatments", [{"time_h": 0}]))
                     for arm in design.scenario["arms"] for a in [k for k, v in design.arm_of.items()
                                                                   if v == arm["name"]]}
        for (readout, time_h), group in numeric.groupby(["readout", "time_h"], sort=True):
            controls = group[group["role"] == "control"]
            vehicle = controls[controls["arm"].fillna("").str.contains(VEHICLE, case=False, regex=True)
                               | controls["arm_id"].astype(str).str.contains(VEHICLE, case=False, regex=True)]
            controls = (vehicle if len(vehicle) else controls).iloc[:1]  # one control: a treated arm counts once
            for _, t in group[group["role"].isin(TREATED_ROLES)].iterrows():
                if str(t["arm_id"]) not in design.arm_of:
                    continue
                arm_t = design.arm_of[str(t["arm_id"])]
                if float(time_h) <= max(0.0, dose_time.get(arm_t, 0.0)):
                    notes.add(f"{readout} at {time_h:g} h: not after the dose, left out")
                    continue
                treatment = next(a for a in design.scenario["arms"] if a["name"] == arm_t)["treatments"][0]
                for _, c in controls.iterrows():
                    se_t, assumed_t = _se(t, n_default)
                    se_c, assumed_c = _se(c, n_default)
                    if se_t is None or se_c is None or t["mean"] <= 0 or c["mean"] <= 0:
                        notes.add(f"{readout} at {time_h:g} h: an arm without a usable ± or mean, left out")
                        continue
                    notes |= {a for a in (assumed_t, assumed_c) if a}
                    est = math.log(float(t["mean"]) / float(c["mean"]))
                    se = math.hypot(se_t / float(t["mean"]), se_c / float(c["mean"]))
                    contrasts.append({"treated": arm_t, "control": design.arm_of[str(c["arm_id"])],
                                      "readout": readout, "time_h": float(time_h), "measure": "log_ratio",
                                      "estimate": round(est, 5), "se_sampling": round(se, 5),
                                      "product": treatment["product"],
                                      "note": f"ln({float(t['mean']):g}/{float(c['mean']):g}) {t['unit']}; arms "
                                              f"{t['arm_id']} vs {c['arm_id']}"})
        if not contrasts:
            excluded.append({"study": sid, "reason": "no SCr/BUN treated-vs-control pair with ± after the dose"
                             + (f" ({'; '.join(sorted(notes))})" if notes else "")})
            continue
        used = {c["treated"] for c in contrasts} | {c["control"] for c in contrasts}
        scenario = {**design.scenario, "arms": [a for a in design.scenario["arms"] if a["name"] in used]}
        included.append({"study": sid, "scenario": scenario, "contrasts": contrasts,
                         "assumptions": design.assumptions + sorted(notes)})
    return included, excluded


def _tau(contrasts) -> tuple[float, int]:
    """REML between-study SD of the log ratios (one per study: the first SCr contrast, else BUN)."""
    from nephrosim.evidence.meta import rma

    per_study = {}
    for study, c in contrasts:
        key = (0 if c["readout"] == "serum_creatinine" else 1, c["time_h"])
        if study not in per_study or key < per_study[study][0]:
            per_study[study] = (key, c)
    y = np.array([c["estimate"] for _, c in per_study.values()])
    v = np.array([c["se_sampling"] ** 2 for _, c in per_study.values()])
    if len(y) < 3:
        return 0.5, len(y)  # too few studies for a variance: the assumed value, stated in the file
    fit = rma(y, v, method="REML")
    return float(math.sqrt(fit.tau2)), len(y)


def build(records, registry) -> tuple[dict, list, list]:
    included, excluded = _studies(records, registry)
    by_product = {}
    for s in included:
        for c in s["contrasts"]:
            by_product.setdefault(c["product"], []).append((s["study"], c))
    taus = {p: _tau(cs) for p, cs in by_product.items()}
    species = {s["scenario"]["species"] for s in included}
    studies = []
    for s in included:
        sid = re.sub(r"[^A-Za-z0-9_]", "_", s["study"])
        sid = ("S_" + sid if not sid[0].isalpha() else sid)[:80]
        contrasts = []
        for c in s["contrasts"]:
            tau = taus[c["product"]][0]
            contrasts.append({k: c[k] for k in ("treated", "control", "readout", "time_h", "measure", "estimate")}
                             | {"se": round(math.hypot(c["se_sampling"], tau), 5),
                                "note": f"{c['note']}; SE {c['se_sampling']:.3g} (sampling) widened by tau "
                                        f"{tau:.3g} ({c['product']})"})
        studies.append({"id": sid, "citation": f"evidence store study_id {s['study']}",
                        "mapping": "generated by scripts/build_therapy_calibration.py from the curated rows; "
                                   + ("; ".join(s["assumptions"]) or "no assumption"),
                        "tags": {"kind": "published", "evidence_id": s["study"]},
                        "scenario": s["scenario"], "contrasts": contrasts})
    config = {
        "name": "therapy_potency",
        "description": "Potency of each MSC product fitted to every in-sample treated-vs-vehicle SCr/BUN contrast "
                       "in the evidence store (generated; see the header).",
        "likelihood": "normal",
        "parameter_set": "table",
        "parameters": [{"name": POTENCY[p], **({"across_species": True} if len(species) > 1 else {})}
                       for p in sorted(by_product)],
        "studies": studies,
        "fit": {"method": "Powell", "n_starts": 3, "seed": 0, "maxiter": 60},
        "solver": {"rtol": 1.0e-6, "atol": 1.0e-8, "max_steps": 50000},
    }
    summary = [f"{p}: {len(cs)} contrasts from {taus[p][1]} studies, tau = {taus[p][0]:.3g}"
               + (" (assumed: fewer than 3 studies)" if taus[p][1] < 3 else " (REML)")
               for p, cs in sorted(by_product.items())]
    return config, excluded, summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", type=Path, default=ROOT / "calibration" / "therapy.yaml")
    args = ap.parse_args(argv)
    from nephrosim.calibration.held_out import load_held_out
    from nephrosim.evidence import shipped_records
    from nephrosim.io import write_text_atomic

    config, excluded, summary = build(shipped_records(), load_held_out())
    doc = __doc__.split("\n\n", 1)[1].rstrip().rstrip('"')
    header = ["# Therapy potency calibration, GENERATED by scripts/build_therapy_calibration.py — do not edit.",
              "#", "#   nephrosim calibrate calibration/therapy.yaml --out DIR --profile", "#"]
    header += ["# " + line if line else "#" for line in doc.splitlines()]
    header += ["#", "# Included: " + "; ".join(summary) if summary else "# Included: none", "#", "# Left out:"]
    header += [f"#   * {e['study']}: {e['reason']}" for e in excluded]
    write_text_atomic(args.output, "\n".join(header) + "\n" + yaml.safe_dump(config, sort_keys=False,
                                                                               allow_unicode=True, width=110))
    print(f"{len(config['studies'])} studies -> {args.output}; " + "; ".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
