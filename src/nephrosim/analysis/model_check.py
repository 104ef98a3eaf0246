"""Check the injury–repair model against the literature targets of issue #3.

``check_model(report_dir)`` simulates the untreated injury models, compares each
with its published target (``shared/evidence/untreated_timecourses.*``,
``parameters.csv`` topic 5, BIOLOGY.md), writes ``report.md`` with one row per
target (source, literature value, simulated value, pass/fail and, for a miss, the
reason) and one PNG per target group (simulated curves with the literature window
shaded), and returns the :class:`TargetResult` list.

Examples
--------
>>> from nephrosim.analysis.model_check import check_model
>>> results = check_model("reports/model")          # doctest: +SKIP
>>> sum(r.passed for r in results), len(results)     # doctest: +SKIP
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Callable

import numpy as np

from nephrosim.engine.simulator import Simulator
from nephrosim.figures import subplots
from nephrosim.run.simulation import export_sbml, simulate

__all__ = ["TargetResult", "check_model", "TARGETS"]


@dataclass(frozen=True)
class TargetResult:
    """One literature target and how the model does on it.

    Arguments
    ---------
    name : short identifier.
    species, injury : the simulated design.
    target : the literature statement, with numbers.
    source : citation (and DOI/PMID where known).
    simulated : what the model gives, in words and numbers.
    passed : whether the model meets the target.
    reason : for a miss, why (or what would be needed); for a pass, optional notes.
    plot : PNG file (relative to the report folder) or ``""``.
    """

    name: str
    species: str
    injury: str
    target: str
    source: str
    simulated: str
    passed: bool
    reason: str = ""
    plot: str = ""


T_ACUTE = (0, 2, 4, 6, 9, 12, 16, 24, 36, 48, 60, 72, 96, 120, 144, 168)
T_LONG = (0, 24, 72, 168, 336, 672, 1008, 1344, 2016)
IRI_READOUTS = ("serum_creatinine", "bun", "gfr", "neutrophils", "m1", "m2", "macrophages", "proliferation",
                "ptc_density", "fibrosis_area", "tubular_injury_score", "survival", "mda", "gsh", "kim1", "ngal")


@lru_cache(maxsize=None)
def _run(species: str, injury: tuple, readouts: tuple, times: tuple,
         parameter_set: str = "calibrated") -> dict[str, np.ndarray]:
    result = simulate({"species": species, "injury": dict(injury), "readouts": list(readouts),
                       "times_h": list(times), "parameter_set": parameter_set})
    status = result.statuses["vehicle"]
    if not status.ok:
        raise RuntimeError(f"{species} {dict(injury)}: {status.code} {status.message}")
    out = {r: np.asarray(result.get("vehicle", r)) for r in readouts}
    out["time_h"] = np.asarray(times, dtype=float)
    return out


def _iri(species: str, clamp: float, times=T_ACUTE, parameter_set: str = "calibrated", **kw) -> dict[str, np.ndarray]:
    injury = tuple(sorted({"model": "ischemia_reperfusion", "clamp_min": clamp, **kw}.items()))
    return _run(species, injury, IRI_READOUTS, tuple(times), parameter_set)


#: The rat time-course, capillary and survival targets come from labs whose injury is milder
#: than the calibrated *typical* lab (calibration/default.yaml: Zager 1989, Cai 2014). They are
#: checked at the cited table's severity (iri_t50_min 50 min), which lies inside the calibrated
#: between-lab 95 % range (tests/model/test_injury_iri.py checks that it does).
RAT_TARGET_LAB = "table"
RAT_LAB_NOTE = (" [lab severity: cited table, iri_t50_min 50 min, inside the calibrated between-lab range; "
                "the calibrated typical lab is more severe]")


def _value(d: dict, readout: str, t: float) -> float:
    return float(d[readout][list(d["time_h"]).index(float(t))])


def _peak_time(d: dict, readout: str) -> float:
    return float(d["time_h"][int(np.argmax(d[readout]))])


# --------------------------------------------------------------------------- plotting


def _plot(path: Path, title: str, series: list[tuple[str, np.ndarray, np.ndarray]], ylabel: str,
          window: tuple[float, float, float, float] | None = None, xlabel: str = "hours after insult",
          hline: tuple[float, float] | None = None) -> str:
    """Curves, with the literature target as a shaded box (t0, t1, y0, y1) or band (y0, y1)."""
    fig, ax = subplots(figsize=(5.5, 3.6))
    for label, x, y in series:
        ax.plot(x, y, marker="o", ms=3, label=label)
    if window is not None:
        t0, t1, y0, y1 = window
        ax.fill_between([t0, t1], [y0, y0], [y1, y1], color="tab:green", alpha=0.2, label="literature target")
    if hline is not None:
        ax.axhspan(hline[0], hline[1], color="tab:green", alpha=0.15, label="literature target")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path.name


# --------------------------------------------------------------------------- targets
def _normal_ranges() -> dict:
    text = resources.files("nephrosim.biology").joinpath("normal_ranges.csv").read_text("utf-8")
    return {(r["species"], r["readout"]): (float(r["lower"]), float(r["upper"]), r["unit"])
            for r in csv.DictReader(text.splitlines())}


def sham_targets(out: Path) -> list[TargetResult]:
    results = []
    ranges = _normal_ranges()
    gfr_unit = {"mouse": "uL/min", "rat": "mL/min/kg", "human": "mL/min/1.73m2"}
    for species in ("mouse", "rat", "human"):
        sbml = export_sbml({"species": species, "injury": {"model": "sham"}, "readouts": ["gfr"], "times_h": [0, 1]})
        states = Simulator(sbml, ["gfr_ml_min"]).state_trajectories([0.0, 24.0, 720.0, 4320.0])
        drift = max(float(np.max(np.abs(x - x[0])) / max(abs(x[0]), 1e-9)) if abs(x[0]) > 1e-9
                    else float(np.max(np.abs(x))) for x in states.values())
        results.append(TargetResult(
            f"sham_steady_{species}", species, "sham", "every state within ±0.5 % for 180 days",
            "issue #3 (steady-state requirement)", f"{len(states)} states, largest drift {drift:.2e}",
            drift <= 0.005))
        r = simulate({"species": species, "injury": {"model": "sham"}, "readouts": ["serum_creatinine", "bun", "gfr"],
                      "units": {"gfr": gfr_unit[species]}, "times_h": [0, 4320]})
        for readout in ("serum_creatinine", "bun", "gfr"):
            lo, hi, unit = ranges[(species, readout)]
            v = float(r.get("vehicle", readout)[0])
            results.append(TargetResult(
                f"sham_{readout}_{species}", species, "sham", f"baseline {readout} in {lo}–{hi} {unit}",
                "physiology/normal_ranges.csv", f"{v:.4g} {unit}", lo <= v <= hi))
    return results


def mouse_iri_targets(out: Path) -> list[TargetResult]:
    results = []
    clamps = (15, 18, 20, 25, 30, 35)
    runs = {c: _iri("mouse", c) for c in clamps}
    peaks = {c: float(runs[c]["serum_creatinine"].max()) for c in clamps}
    times = {c: _peak_time(runs[c], "serum_creatinine") for c in clamps}
    png = _plot(out / "mouse_iri_scr.png", "Mouse bilateral IRI: serum creatinine by clamp time",
                [(f"{c} min", runs[c]["time_h"], runs[c]["serum_creatinine"]) for c in clamps], "SCr (mg/dL)",
                window=(24, 72, 1.9, 3.2))
    ordered = [peaks[c] for c in (15, 20, 25, 30, 35)]
    results.append(TargetResult(
        "mouse_iri_peak_time", "mouse", "IRI 15–35 min bilateral", "SCr peaks 24–72 h after reperfusion",
        "BIOLOGY.md §1; untreated_timecourses (mouse IRI)",
        ", ".join(f"{c} min: {times[c]:.0f} h" for c in (15, 20, 25, 30, 35)),
        all(24 <= times[c] <= 72 for c in (15, 20, 25, 30, 35)), plot=png))
    results.append(TargetResult(
        "mouse_iri_clamp_monotone", "mouse", "IRI 15–35 min bilateral", "peak SCr rises with clamp time",
        "untreated_timecourses (severity rises steeply with clamp time)",
        ", ".join(f"{c}: {peaks[c]:.2f}" for c in (15, 20, 25, 30, 35)) + " mg/dL",
        all(b > a for a, b in zip(ordered, ordered[1:])), plot=png))
    scr24 = _value(runs[18], "serum_creatinine", 24)
    base = float(runs[18]["serum_creatinine"][0])
    results.append(TargetResult(
        "mouse_iri_18min_scr24", "mouse", "IRI 18 min bilateral", "SCr 1.9–3.2 mg/dL at 24 h",
        "AJP Renal ~2018, PMC6148315: 'Plasma creatinine decreased from 2.48 ± 0.23 to 1.91 ± 0.21 mg/dl at 24 h'",
        f"{scr24:.2f} mg/dL ({scr24 / base:.1f}× a baseline of {base:.2f})", 1.9 <= scr24 <= 3.2,
        reason=("baseline SCr here is 0.12 mg/dL (enzymatic/LC-MS scale, normal_ranges.csv); the 1.9–3.2 window "
                "comes from a renal-VEIN clamp study whose assay and baseline are not stated (Jaffe assays read "
                "mouse SCr 2–4× high). Reaching it would need a ≥94 % fall in creatinine clearance after a "
                "moderate clamp, which would also make 18 min a 'severe' injury (capillary loss, no recovery "
                "by day 7) against the other targets. The fold change (≥4×) is kept; 25–35 min clamps reach "
                "the absolute window.") if not 1.9 <= scr24 <= 3.2 else "", plot=png))
    d = runs[18]
    g0 = float(d["gfr"][0])
    g72, g168 = _value(d, "gfr", 72) / g0, _value(d, "gfr", 168) / g0
    s168 = _value(d, "serum_creatinine", 168)
    png2 = _plot(out / "mouse_iri_gfr_vs_scr.png", "Mouse 18-min IRI: GFR lags creatinine",
                 [("GFR / baseline", d["time_h"], d["gfr"] / g0),
                  ("SCr / baseline", d["time_h"], d["serum_creatinine"] / base)], "relative to baseline",
                 window=(72, 168, 0.0, 0.75))
    results.append(TargetResult(
        "mouse_iri_gfr_lag", "mouse", "IRI 18 min bilateral",
        "GFR still markedly reduced at 72 h (inulin −75 %) and not recovered at day 7 while SCr normalised",
        "Transplantation 2002 73:1841, PMID:12085012",
        f"GFR {g72:.0%} of baseline at 72 h, {g168:.0%} at day 7; SCr {s168:.3f} mg/dL at day 7",
        g72 < 0.5 and g168 < 0.75 and s168 <= 0.2,
        reason="" if g72 < 0.5 else "GFR at 72 h above 50 % of baseline", plot=png2))
    d = runs[30]
    png3 = _plot(out / "mouse_iri_inflammation.png", "Mouse 30-min IRI: innate inflammation",
                 [(k, d["time_h"], d[k]) for k in ("neutrophils", "m1", "m2", "macrophages")], "relative units",
                 window=(16, 24, 0, float(d["macrophages"].max())))
    tn, tm = _peak_time(d, "neutrophils"), _peak_time(d, "macrophages")
    m1_48, m2_72, m1_72 = _value(d, "m1", 48), _value(d, "m2", 72), _value(d, "m1", 72)
    results.append(TargetResult(
        "mouse_iri_macrophage_peak", "mouse", "IRI 30 min bilateral",
        "neutrophils first; macrophages peak 16–24 h", "Yu 2008 Korean J Intern Med 23:64 (22-min clamp)",
        f"neutrophils peak {tn:.0f} h, macrophages {tm:.0f} h", tn <= tm and 16 <= tm <= 24,
        reason="" if 16 <= tm <= 24 else "macrophage peak outside 16–24 h", plot=png3))
    results.append(TargetResult(
        "mouse_iri_m1_m2_switch", "mouse", "IRI 30 min bilateral", "M1 dominate the first 48 h, then M2",
        "Lee et al., 'Distinct macrophage phenotypes contribute to kidney injury and repair'",
        f"M1/M2 at 24 h {_value(d, 'm1', 24) / max(_value(d, 'm2', 24), 1e-9):.1f}, at 72 h {m1_72 / max(m2_72, 1e-9):.2f}",
        _value(d, "m1", 24) > _value(d, "m2", 24) and m2_72 > m1_72, plot=png3))
    ki = _value(runs[25], "proliferation", 48)
    results.append(TargetResult(
        "mouse_iri_ki67_day2", "mouse", "IRI 25 min bilateral", "Ki67+ tubular epithelium 50.5 % at day 2",
        "Humphreys 2008 Cell Stem Cell (parameters.csv topic 5)", f"{ki:.0f} % (30 min: "
        f"{_value(runs[30], 'proliferation', 48):.0f} %, 18 min: {_value(runs[18], 'proliferation', 48):.0f} %)",
        35 <= ki <= 65, reason="clamp time of the Humphreys study not in the excerpt; 25 min used"))
    sev, mod = _iri("mouse", 35, T_LONG), _iri("mouse", 18, T_LONG)
    png4 = _plot(out / "mouse_iri_capillaries.png", "Mouse IRI: peritubular capillaries",
                 [("35 min (severe)", sev["time_h"], sev["ptc_density"]),
                  ("18 min (moderate)", mod["time_h"], mod["ptc_density"])], "PTC density (% of normal)",
                 window=(1300, 1390, 52.6, 67.4))
    p_sev, p_mod = _value(sev, "ptc_density", 1344), _value(mod, "ptc_density", 1344)
    results.append(TargetResult(
        "mouse_iri_capillary_loss", "mouse", "IRI 35 vs 18 min",
        "capillary number −40 ± 7.4 % 8 weeks after severe AKI, unchanged after moderate",
        "Kramann, Tanaka, Humphreys (fluorescence microangiography; parameters.csv topic 5)",
        f"severe {p_sev - 100:.0f} %, moderate {p_mod - 100:.0f} % at 8 weeks",
        52.6 <= p_sev <= 67.4 and p_mod >= 90, plot=png4))
    return results


def rat_iri_targets(out: Path) -> list[TargetResult]:
    results = []
    d = _iri("rat", 45, parameter_set=RAT_TARGET_LAB)
    base = float(d["serum_creatinine"][0])
    tp = _peak_time(d, "serum_creatinine")
    s6, s168 = _value(d, "serum_creatinine", 6), _value(d, "serum_creatinine", 168)
    inj168 = _value(d, "tubular_injury_score", 168)
    png = _plot(out / "rat_iri_45.png", "Rat 45-min bilateral IRI",
                [("SCr (mg/dL)", d["time_h"], d["serum_creatinine"]),
                 ("injury score (0-4)", d["time_h"], d["tubular_injury_score"])], "value", window=(22, 26, 0, 4))
    results.append(TargetResult(
        "rat_iri45_time_course", "rat", "IRI 45 min bilateral",
        "BUN/SCr up from 2–6 h, peak at 24 h, normal by 1 week with histology still injured" + RAT_LAB_NOTE,
        "'Characterization of renal ischemia-reperfusion injury in rats' (untreated_timecourses)",
        f"SCr ×{s6 / base:.1f} at 6 h, peak at {tp:.0f} h ({d['serum_creatinine'].max():.2f} mg/dL), "
        f"{s168:.2f} mg/dL at day 7 (normal ≤ 0.6), injury score {inj168:.1f}",
        s6 > 1.2 * base and tp == 24 and s168 <= 0.6 and inj168 > 0.5,
        reason=("rat tissue rates are 1.8× slower than mouse (quarter-power scaling), so the 12-h reperfusion hit "
                "calibrated on mice puts the rat peak at 24–36 h and leaves SCr slightly above the normal "
                "range at day 7; other adult-rat series peak on day 3 (untreated_timecourses), so the data "
                "themselves disagree on timing") if not (tp == 24 and s168 <= 0.6) else "", plot=png))
    sev, mod = _iri("rat", 60, T_LONG, RAT_TARGET_LAB), _iri("rat", 45, T_LONG, RAT_TARGET_LAB)
    p4, p8 = _value(sev, "ptc_density", 672), _value(sev, "ptc_density", 1344)
    png2 = _plot(out / "rat_iri_capillaries.png", "Rat IRI: capillaries (Basile 2001: −30 to −50 %)",
                 [("60 min", sev["time_h"], sev["ptc_density"]), ("45 min", mod["time_h"], mod["ptc_density"])],
                 "PTC density (% of normal)", window=(672, 2016, 50, 70))
    results.append(TargetResult(
        "rat_iri_capillary_loss", "rat", "IRI 60 min bilateral", "30–50 % capillary loss at 4, 8 (and 40) weeks" + RAT_LAB_NOTE,
        "Basile 2001 AJP Renal 281:F887, doi:10.1152/ajprenal.2001.281.5.F887",
        f"{p4 - 100:.0f} % at 4 weeks, {p8 - 100:.0f} % at 8 weeks", 50 <= p4 <= 70 and 50 <= p8 <= 70, plot=png2))
    f_sev, f_mod = _value(sev, "fibrosis_area", 1344), _value(mod, "fibrosis_area", 1344)
    g_sev, g_mod = _value(sev, "gfr", 1344) / sev["gfr"][0], _value(mod, "gfr", 1344) / mod["gfr"][0]
    results.append(TargetResult(
        "rat_iri_severe_vs_moderate", "rat", "IRI 60 vs 45 min",
        "severe → persistent fibrosis and lower GFR; moderate → healing" + RAT_LAB_NOTE,
        "Basile 2001 (fibrosis at 40 weeks); untreated_timecourses (45-min: fibrosis without SCr change at 8 weeks)",
        f"8 weeks: fibrosis {f_sev:.1f} vs {f_mod:.1f} %, GFR {g_sev:.0%} vs {g_mod:.0%} of baseline",
        f_sev > f_mod + 5 and g_sev < 0.85 and g_mod > g_sev))
    survival = {c: float(_iri("rat", c, (0, 48, 96, 168), RAT_TARGET_LAB)["survival"][-1]) for c in (30, 60, 90, 120)}
    results.append(TargetResult(
        "rat_ischemia_survival", "rat", "complete bilateral ischaemia 30–120 min",
        "30 min survived, 60 min usually survived, 90 min 73 % mortality, 120 min 100 % (deaths days 2–6)"
        + RAT_LAB_NOTE,
        "J Clin Invest 1947 26:1072, doi:10.1172/JCI101899",
        ", ".join(f"{c} min: {100 - s:.0f} % dead" for c, s in survival.items()),
        survival[30] > 95 and survival[60] > 50 and 50 <= 100 - survival[90] <= 90 and 100 - survival[120] >= 90,
        reason=("uraemic death hazard only: 120-min rats keep some residual clearance in the model; a direct "
                "lethal effect of very long ischaemia is not modelled") if 100 - survival[120] < 90 else ""))
    # held out from the shipped calibration (calibration/default.yaml): the calibrated typical lab
    adult = {c: _iri("rat", c, (0, 24, 36, 48, 60, 72, 84, 96, 120, 168)) for c in (60, 75)}
    surv = {c: float(d["survival"][-1]) for c, d in adult.items()}
    results.append(TargetResult(
        "rat_adult_iri_survival", "rat", "IRI 60 and 75 min bilateral pedicle clamp, adult rats",
        "7-day survival 35 % after 60 and after 75 min, deaths spread to day 4 (pass: 20–50 %) "
        "[calibrated typical lab; a study the calibration did not use]",
        "'Prepubertal Rats Are More Resistant to Ischemic Renal Injury and Recover More Rapidly than Adult "
        "Rats' (untreated_timecourses)",
        ", ".join(f"{c} min: {s:.0f} % alive at day 7" for c, s in surv.items()),
        all(20 <= s <= 50 for s in surv.values())))
    tp = {c: _peak_time(d, "serum_creatinine") for c, d in adult.items()}
    s7 = {c: _value(d, "serum_creatinine", 168) for c, d in adult.items()}
    results.append(TargetResult(
        "rat_adult_iri_peak_day3", "rat", "IRI 60 and 75 min bilateral pedicle clamp, adult rats",
        "SUN/SCr peak on day 3 (60–84 h) and still raised at day 7 [calibrated typical lab; a study the "
        "calibration did not use]",
        "'Prepubertal Rats Are More Resistant ...' (untreated_timecourses)",
        ", ".join(f"{c} min: peak at {tp[c]:.0f} h, {s7[c]:.2f} mg/dL at day 7" for c in adult),
        all(60 <= t <= 84 for t in tp.values()) and all(v > 0.6 for v in s7.values()),
        reason=("the model's rat SCr peaks on day 2: the reperfusion hit (τ 12 h, not scaled) and the "
                "allometrically slowed repair put the peak between the mouse's day 1 and the adult rat's "
                "day 3; the other rat series (45 min) peaks at 24 h, so the two rat sources bracket it")
        if not all(60 <= t <= 84 for t in tp.values()) else ""))
    warm = _run("rat", tuple(sorted({"model": "ischemia_reperfusion", "clamp_min": 40}.items())),
                ("serum_creatinine",), (0, 24))["serum_creatinine"][1]
    cold = _run("rat", tuple(sorted({"model": "ischemia_reperfusion", "clamp_min": 40, "temperature_c": 32.5}.items())),
                ("serum_creatinine",), (0, 24))["serum_creatinine"][1]
    results.append(TargetResult(
        "rat_iri_hypothermia", "rat", "IRI 40 min at 37 vs 32.5 °C",
        "24-h SCr 2.2 ± 0.1 (37 °C) vs 0.62 ± 0.07 mg/dL (32–33 °C): ratio 0.28", "Zager 1989 (untreated_timecourses)",
        f"{warm:.2f} vs {cold:.2f} mg/dL (ratio {cold / warm:.2f})", cold / warm < 0.5))
    return results


def other_model_targets(out: Path) -> list[TargetResult]:
    results = []
    doses = (1.0, 2.5, 5.0, 7.5)
    t = (0, 24, 48, 72, 96, 120, 144, 168, 240, 336)
    runs = {dose: _run("rat", (("dose_mg_per_kg", dose), ("model", "cisplatin")),
                       ("serum_creatinine", "mda", "gsh", "gfr"), t) for dose in doses}
    png = _plot(out / "rat_cisplatin.png", "Rat cisplatin: serum creatinine by dose",
                [(f"{d} mg/kg", runs[d]["time_h"], runs[d]["serum_creatinine"]) for d in doses], "SCr (mg/dL)",
                window=(72, 120, 0.3, float(max(r["serum_creatinine"].max() for r in runs.values()))))
    peaks = [runs[d]["serum_creatinine"].max() for d in doses]
    times = [_peak_time(runs[d], "serum_creatinine") for d in doses]
    results.append(TargetResult(
        "rat_cisplatin_peak_and_dose", "rat", "cisplatin 1–7.5 mg/kg",
        "creatinine peaks day 3–5 and rises with dose (Fukushima 2015 doses 1–7.5 mg/kg; 4 mg/kg peak day 4)",
        "Fukushima 2015 J Pharm Sci (models.md); Mizushima 1987 (untreated_timecourses)",
        ", ".join(f"{d}: {p:.2f} mg/dL at {tt:.0f} h" for d, p, tt in zip(doses, peaks, times)),
        all(b > a for a, b in zip(peaks, peaks[1:])) and all(72 <= tt <= 120 for tt in times[1:]), plot=png))
    r5 = runs[5.0]
    results.append(TargetResult(
        "rat_cisplatin_oxidative", "rat", "cisplatin 5 mg/kg", "MDA up, GSH down after cisplatin",
        "Ashour 2016 (BIOLOGY.md §1.1)",
        f"day 4: MDA ×{_value(r5, 'mda', 96):.2f}, GSH ×{_value(r5, 'gsh', 96):.2f}",
        _value(r5, "mda", 96) > 1.1 and _value(r5, "gsh", 96) < 0.97))
    r = _run("rat", (("dose_mg_per_kg", 6.5), ("model", "cisplatin")), ("serum_creatinine", "gfr", "bun"), (0, 96))
    results.append(TargetResult(
        "rat_cisplatin_6_5", "rat", "cisplatin 6.5 mg/kg", "day 4: BUN ×4, SCr ×3, GFR −84 %",
        "untreated_timecourses (rat 6.5 mg/kg i.v.)",
        f"BUN ×{r['bun'][1] / r['bun'][0]:.1f}, SCr ×{r['serum_creatinine'][1] / r['serum_creatinine'][0]:.1f}, "
        f"GFR {r['gfr'][1] / r['gfr'][0] - 1:+.0%}",
        2 <= r["serum_creatinine"][1] / r["serum_creatinine"][0] <= 5))
    m = {dose: _run("mouse", (("dose_mg_per_kg", dose), ("model", "cisplatin")), ("serum_creatinine",), (0, 96))
         for dose in (7.5, 10.0, 12.5)}
    fold = {k: v["serum_creatinine"][1] / v["serum_creatinine"][0] for k, v in m.items()}
    results.append(TargetResult(
        "mouse_cisplatin_day4", "mouse", "cisplatin 7.5/10/12.5 mg/kg",
        "day-4 SCr ×1.2 (ns), ×3.1, ×3.6", "Perše 2018 review Table 3, doi:10.1155/2018/1462802",
        ", ".join(f"{k}: ×{v:.1f}" for k, v in fold.items()), fold[7.5] < 2 and 2 <= fold[10.0] <= 6,
        reason="" if fold[7.5] < 2 else "dose threshold too low"))
    u = _run("mouse", (("model", "uuo"),), ("serum_creatinine", "fibrosis_area", "myofibroblasts"),
             (0, 24, 72, 168, 240, 336))
    png2 = _plot(out / "mouse_uuo.png", "Mouse UUO: fibrosis of the obstructed kidney",
                 [("fibrosis area (%)", u["time_h"], u["fibrosis_area"]),
                  ("SCr ×100 (mg/dL)", u["time_h"], 100 * u["serum_creatinine"])], "value")
    f7, f14 = _value(u, "fibrosis_area", 168), _value(u, "fibrosis_area", 336)
    results.append(TargetResult(
        "mouse_uuo", "mouse", "UUO", "fibrosis of the obstructed kidney rises over 7–14 days; SCr near normal",
        "BIOLOGY.md §1; untreated_timecourses (UUO: interstitial widening by day 7; contralateral compensation)",
        f"fibrosis {u['fibrosis_area'][0]:.0f} → {f7:.1f} (day 7) → {f14:.1f} % (day 14); SCr max "
        f"{u['serum_creatinine'].max():.3f} mg/dL", f14 > f7 > u["fibrosis_area"][0] * 1.5
        and u["serum_creatinine"].max() <= 0.21,
        reason="no UUO collagen % numbers in the evidence; fibrosis scale is relative (assumed max 50 %)", plot=png2))
    n = _run("rat", (("model", "nephrectomy_5_6"),), ("gfr", "serum_creatinine"), (0, 168, 384, 672, 1344, 2016))
    png3 = _plot(out / "rat_5_6_nx.png", "Rat 5/6 nephrectomy: GFR", [("GFR (mL/min)", n["time_h"], n["gfr"])],
                 "GFR (mL/min)")
    results.append(TargetResult(
        "rat_5_6_nx_progressive", "rat", "5/6 nephrectomy",
        "remnant hyperfilters (about +300 % by day 16), then GFR declines progressively over weeks",
        "Exp Physiol 2007 doi:10.1113/expphysiol.2006.034751; Faraj & Morley (untreated_timecourses)",
        f"GFR {n['gfr'][0]:.2f} → {n['gfr'][2]:.2f} (day 16) → {n['gfr'][-1]:.2f} mL/min (week 12)",
        n["gfr"][2] > n["gfr"][0] and n["gfr"][-1] < n["gfr"][3],
        reason="hyperfiltration exponent from uninephrectomy (+50 %) gives about +185 %, not +300 %", plot=png3))
    c = _run("mouse", (("model", "sepsis_clp"), ("severity", 1.0)), ("survival", "serum_creatinine"), (0, 24, 48, 168))
    results.append(TargetResult(
        "mouse_clp_survival", "mouse", "CLP (severity 1)", "7-day survival 48 % (medium-severity CLP)",
        "Drechsler 2015 ICMx, doi:10.1186/s40635-015-0048-z", f"{c['survival'][-1]:.0f} %",
        30 <= c["survival"][-1] <= 70))
    lps = _run("mouse", (("dose_mg_per_kg", 2.0), ("model", "lps")), ("serum_creatinine",), (0, 24, 48))
    results.append(TargetResult(
        "mouse_lps_2", "mouse", "LPS 2 mg/kg", "no AKI in normal mice", "Carl 2016 Liver Int, doi:10.1111/liv.13023",
        f"SCr max ×{lps['serum_creatinine'].max() / lps['serum_creatinine'][0]:.2f}",
        lps["serum_creatinine"].max() < 1.5 * lps["serum_creatinine"][0]))
    return results


#: Target groups run by :func:`check_model`, in report order.
TARGETS: tuple[Callable[[Path], list[TargetResult]], ...] = (
    sham_targets, mouse_iri_targets, rat_iri_targets, other_model_targets)


def check_model(report_dir: str | Path) -> list[TargetResult]:
    """Run every target, write ``report.md`` and PNG plots to ``report_dir``.

    Arguments
    ---------
    report_dir : folder for the report (created if missing).

    Returns
    -------
    The list of :class:`TargetResult` (``passed`` False for a miss, with its reason).
    """
    out = Path(report_dir)
    out.mkdir(parents=True, exist_ok=True)
    results: list[TargetResult] = []
    for group in TARGETS:
        results.extend(group(out))
    _write_report(out / "report.md", results)
    return results


def _write_report(path: Path, results: list[TargetResult]) -> None:
    n_pass = sum(r.passed for r in results)
    lines = [
        "# nephrosim injury-model check",
        "",
        f"{n_pass} of {len(results)} targets met. Untreated (vehicle) simulations against the literature "
        "targets of issue #3; sources are in `shared/evidence/` and the parameter table "
        "(`src/nephrosim/biology/parameters_injury.csv`).",
        "",
        "| target | species | design | literature | simulated | result |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r.name} | {r.species} | {r.injury} | {r.target} | {r.simulated} | "
                     f"{'pass' if r.passed else '**miss**'} |")
    lines += ["", "## Details", ""]
    for r in results:
        lines += [f"### {r.name} — {'pass' if r.passed else 'MISS'}", "",
                  f"- design: {r.species}, {r.injury}",
                  f"- literature: {r.target}",
                  f"- source: {r.source}",
                  f"- simulated: {r.simulated}"]
        if r.reason:
            lines.append(f"- {'why it misses' if not r.passed else 'note'}: {r.reason}")
        if r.plot:
            lines += ["", f"![{r.name}]({r.plot})"]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
