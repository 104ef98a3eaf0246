"""Pre-specified subgroups of a virtual trial: the cuts of the population's baseline covariates, and the
subgroup reading of each replicate trial (issue 16).

:data:`SUBGROUP_CUTS` splits every baseline covariate once (the report's pool-level analysis,
:mod:`nephrosim.report.trial_subgroups`, explains each cut and its source). A trial that lists
``subgroups`` (:class:`~nephrosim.trials.design.TrialDesign`) analyses them *in every replicate trial*,
on that trial's own patients, as a trial's pre-specified subgroup analysis would:

* the hazard ratio of recovery (treatment vs control) within each of the two subgroups — a Cox model
  on the subgroup's patients (statsmodels ``PHReg``, Efron ties), with the patients lost to follow-up
  censored;
* the interaction test — one Cox model on all of the trial's patients with ``treated``, the subgroup
  indicator and their product; the Wald p of the product term.

A median cut is the eligible pool's median, fixed before the replicates (a pre-specified threshold).
Over the replicates this gives what a single trial of the design can see: the spread of subgroup hazard
ratios and the power of the interaction test (for the covariates the model does not use — age and
sex — the share of replicates with an interaction p < alpha is the test's false-positive rate).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np

AKICS = "AKICS score, Palomba 2007 (Kidney Int 72:624, PMID 17622275)"


@dataclass(frozen=True)
class SubgroupCut:
    """How one baseline covariate is split into two subgroups.

    ``rule``: ``"<"`` / ``">"`` a clinical threshold (the first subgroup is ``value < threshold``
    or ``value > threshold``); ``"median"`` the analysed patients' median (first subgroup
    ``value ≥ median``); ``"bool"`` a yes/no covariate (first subgroup: yes).
    """

    covariate: str
    name: str
    unit: str
    rule: Literal["<", ">", "median", "bool"]
    threshold: float | None
    source: str
    labels: tuple[str, str] | None = None  # for "bool": (yes, no)

    def split(self, values: np.ndarray) -> tuple[np.ndarray, tuple[str, str], str]:
        """``(in the first subgroup, (first label, second label), the cut in words)``."""
        v = np.asarray(values)
        unit = f" {self.unit}" if self.unit else ""
        if self.rule == "bool":
            yes, no = self.labels or (self.name, f"not {self.name}")
            return v.astype(bool), (yes, no), self.source
        v = v.astype(float)
        if self.rule == "median":
            m = float(np.median(v)) if v.size else float("nan")
            return v >= m, (f"{self.name} ≥ {m:.3g}{unit}", f"{self.name} < {m:.3g}{unit}"), \
                f"pool median {m:.3g}{unit}; {self.source}"
        t = float(self.threshold)
        if self.rule == "<":
            return v < t, (f"{self.name} < {t:g}", f"{self.name} ≥ {t:g}"), f"< {t:g}{unit}: {self.source}"
        return v > t, (f"{self.name} > {t:g}{unit}", f"{self.name} ≤ {t:g}{unit}"), f"> {t:g}{unit}: {self.source}"


#: One cut per baseline covariate of the virtual population.
SUBGROUP_CUTS: tuple[SubgroupCut, ...] = (
    SubgroupCut("baseline_egfr", "eGFR", "mL/min/1.73 m²", "<", 60.0,
                "KDIGO CKD threshold (G3a starts below 60), the usual pre-specified split of cardiac-surgery AKI "
                "trials"),
    SubgroupCut("age_years", "age", "y", ">", 65.0,
                f"'age greater than 65', {AKICS}; recorded only: the model has no age (a null check)"),
    SubgroupCut("male", "sex", "", "bool", None,
                "male vs female; recorded only: the model describes males (a null check)", ("male", "female")),
    SubgroupCut("bypass_min", "bypass", "min", ">", 120.0, f"'cardiopulmonary bypass time above 2 h', {AKICS}"),
    SubgroupCut("weight_kg", "weight", "kg", "median", None, "no clinical cut in the evidence"),
    SubgroupCut("severity", "injury severity factor", "", "median", None,
                "model factor on cpb_stress_max, not measurable at entry"),
    SubgroupCut("susceptibility", "bypass susceptibility factor", "", "median", None,
                "model factor on cpb_t50_min, not measurable at entry"),
    SubgroupCut("repair", "repair factor", "", "median", None,
                "model factor on k_tub_recovery and k_tub_redif, not measurable at entry"),
    SubgroupCut("fluid", "fluid load factor", "", "median", None,
                "model factor on cpb_fluid_excess (haemodilution), not measurable at entry"),
)



def subgroup_cut(covariate: str) -> SubgroupCut:
    """The cut of ``covariate`` (one of :data:`SUBGROUP_CUTS`)."""
    for cut in SUBGROUP_CUTS:
        if cut.covariate == covariate:
            return cut
    raise KeyError(covariate)


def subgroup_fits(times_c, events_c, times_t, events_t, in_c, in_t) -> tuple[float, float, float]:
    """One replicate's subgroup reading of one comparison: ``(HR in the first subgroup, HR in the second,
    interaction p)`` — Cox models (statsmodels ``PHReg``, Efron ties: half the time of lifelines'
    ``CoxPHFitter`` here, 45 against 83 ms for the three fits of 135 patients) on the patients' times to
    recovery and events, ``in_c``/``in_t`` their membership of the first subgroup; the interaction p is the
    Wald p of the treatment × subgroup product. NaN where a model cannot be fitted (an arm without a
    recovery in the subgroup, or no patient in it)."""
    from statsmodels.duration.hazard_regression import PHReg

    time = np.r_[times_c, times_t].astype(float)
    event = np.r_[events_c, events_t].astype(int)
    treated = np.r_[np.zeros(len(times_c)), np.ones(len(times_t))]
    sub = np.r_[in_c, in_t].astype(float)

    def fit(keep, exog):
        if not (event[keep & (treated > 0)].any() and event[keep & (treated == 0)].any()):
            return None  # an arm without a recovery: no finite hazard ratio
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            result = PHReg(time[keep], exog, status=event[keep], ties="efron").fit()
        return result if np.all(np.isfinite(result.params)) and np.all(np.isfinite(result.bse)) else None

    out = []
    for level in (1.0, 0.0):
        keep = sub == level
        model = fit(keep, treated[keep, None]) if keep.any() else None
        out.append(float(np.exp(model.params[0])) if model is not None else float("nan"))
    everyone = np.ones(time.size, bool)
    model = (fit(everyone, np.column_stack([treated, sub, treated * sub]))
             if 0 < sub.sum() < sub.size else None)
    out.append(float(model.pvalues[2]) if model is not None else float("nan"))
    return out[0], out[1], out[2]
