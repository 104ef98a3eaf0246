"""Profile likelihoods and the identifiability verdict of a fitted :class:`~nephrosim.calibration.fit.Calibration`.

The 95 % interval of a parameter is where its profile (the NLL re-optimised over all
other parameters with this one fixed) rises by χ²₁(0.95)/2 above the optimum
(Raue et al. 2009, Bioinformatics 25:1923, doi 10.1093/bioinformatics/btp358). An end
that reaches the parameter's bound first is open: the data do not identify the
parameter on that side within its cited range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import stats

#: ΔNLL threshold of a pointwise 95 % profile-likelihood interval: χ²₁(0.95)/2.
PROFILE_THRESHOLD = float(stats.chi2.ppf(0.95, 1) / 2.0)  # 1.9207


def identifiability_verdict(lower: float | None, upper: float | None) -> str:
    """The verdict a profile interval gives: both ends closed, one open, or both open."""
    if lower is None and upper is None:
        return "non-identifiable"
    if lower is None or upper is None:
        return "practically non-identifiable (one side open)"
    return "identifiable"


class ProfileLikelihoodMixin:
    """:meth:`profile` and :meth:`identifiability` of a fitted calibration (needs ``x_``,
    ``nll_``, ``problem_``, ``_local`` and ``save`` from :class:`Calibration`)."""

    def profile(self, names: Sequence[str] | None = None, *, step: float | None = None, max_steps: int = 40,
                threshold: float = PROFILE_THRESHOLD, refine: int = 3):
        """Profile likelihoods of estimated parameters (default: all) around the optimum.

        Each step fixes one log10 parameter and re-optimises the others (warm start).
        The first step (default) is a quarter of the Gauss–Newton estimate of the
        interval half-width; steps grow by 1.5 where the profile is flat. The step that
        crosses the threshold is bisected ``refine`` times before interpolating.
        The 95 % interval is where ΔNLL = χ²₁(0.95)/2 = 1.92 (linear interpolation);
        an end that reaches a bound first is reported as ``None`` (not identifiable on
        that side within the cited range).
        """
        self._check_fitted()
        p = self.problem_
        labels = [q.label for q in p.parameters]
        names = list(names) if names else labels
        # the Gauss–Newton covariance sets the first step; a given step (or a derivative-free fit,
        # whose sensitivities may be too slow to integrate) does without it
        gradient_free = step is not None or self.config_.fit.method == "Powell"
        cov = None if gradient_free else np.linalg.pinv(p.fisher_information(self.x_))
        self.profiles_ = getattr(self, "profiles_", {})
        self.intervals_ = getattr(self, "intervals_", {})
        for name in names:
            if name not in labels:
                raise KeyError(f"profile: {name!r} is not an estimated parameter; estimated: {labels}")
            i = labels.index(name)
            rows = [(float(self.x_[i]), 0.0)]
            ends = []
            for direction in (-1.0, 1.0):
                x = self.x_.copy()
                if step is not None:
                    h = step
                elif cov is None:
                    h = 0.05 * (p.upper[i] - p.lower[i])
                else:
                    half = math.sqrt(max(2 * threshold * cov[i, i], 0.0))
                    h = min(max(half / 4, 1e-4), 0.1 * (p.upper[i] - p.lower[i]))
                v = self.x_[i]
                end = None
                prev_v, prev_d, prev_x = v, 0.0, self.x_.copy()

                def at(value, start, i=i):
                    lo, hi = p.lower.copy(), p.upper.copy()
                    lo[i] = hi[i] = value
                    x0 = start.copy()
                    x0[i] = value
                    res = self._local(p, x0, lo, hi)
                    return np.asarray(res.x), float(res.fun - self.nll_)

                for _ in range(max_steps):
                    v_new = v + direction * h
                    hit = v_new <= p.lower[i] or v_new >= p.upper[i]
                    v_new = min(max(v_new, p.lower[i]), p.upper[i])
                    x, delta = at(v_new, x)
                    rows.append((float(v_new), delta))
                    if delta >= threshold:
                        # refine the crossing by bisection (3 halvings), then interpolate
                        a, da, xa, b, db = prev_v, prev_d, prev_x, v_new, delta
                        for _ in range(refine):
                            mid = 0.5 * (a + b)
                            xm, dm = at(mid, xa)
                            rows.append((float(mid), dm))
                            if dm >= threshold:
                                b, db = mid, dm
                            else:
                                a, da, xa = mid, dm, xm
                        frac = (threshold - da) / (db - da) if db != da else 1.0
                        end = a + frac * (b - a)
                        break
                    # adapt the step: larger where the profile is flat
                    h = h * 1.5 if delta - prev_d < 0.1 * threshold else h
                    prev_v, prev_d, prev_x, v = v_new, delta, x.copy(), v_new
                    if hit:
                        break
                ends.append(None if end is None else float(10.0 ** end))
            rows.sort()
            import pandas as pd

            self.profiles_[name] = pd.DataFrame({"log10_value": [r[0] for r in rows],
                                                 "value": [10.0 ** r[0] for r in rows],
                                                 "delta_nll": [r[1] for r in rows]})
            self.intervals_[name] = (ends[0], ends[1])
        if self.out:
            self.save(Path(self.out) / "result.json")
        return self

    def identifiability(self):
        """Table: estimate, 95 % profile interval, identifiable?, within the cited range?"""
        import pandas as pd

        self._check_fitted()
        rows = []
        for i, q in enumerate(self.problem_.parameters):
            lo, hi = getattr(self, "intervals_", {}).get(q.label, (math.nan, math.nan))
            val = self.parameters_[q.label]
            inside = ((q.table_lower is None or val >= q.table_lower * (1 - 1e-9))
                      and (q.table_upper is None or val <= q.table_upper * (1 + 1e-9)))
            at_bound = (abs(self.x_[i] - self.problem_.lower[i]) < 1e-3
                        or abs(self.x_[i] - self.problem_.upper[i]) < 1e-3)
            ident = ("not profiled" if q.label not in getattr(self, "intervals_", {})
                     else identifiability_verdict(lo, hi))
            rows.append({"parameter": q.label, "estimate": val, "nominal": q.nominal, "ci95_lower": lo,
                         "ci95_upper": hi, "identifiability": ident, "cited_lower": q.table_lower,
                         "cited_upper": q.table_upper, "within_cited_range": inside, "at_bound": at_bound})
        return pd.DataFrame(rows)

