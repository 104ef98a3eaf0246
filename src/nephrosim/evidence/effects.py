"""Effect sizes for two-group comparisons, computed as metafor's ``escalc``.

Implements the measures nephrosim pools:

* ``SMD`` – standardized mean difference with Hedges' exact small-sample correction
  ``J(m) = Γ(m/2) / (√(m/2) Γ((m-1)/2))``, ``m = n1+n2-2``, and metafor's default
  large-sample variance ``vi = 1/n1 + 1/n2 + yi² / (2 (n1+n2))`` (Hedges 1981;
  Viechtbauer 2010, ``escalc(measure="SMD", vtype="LS")``).
* ``MD`` – raw mean difference, ``vi = sd1²/n1 + sd2²/n2`` (heteroscedastic).
* ``ROM`` – log ratio of means, ``vi = sd1²/(n1 m1²) + sd2²/(n2 m2²)`` (Hedges,
  Gurevitch & Curtis 1999).
* ``OR`` – log odds ratio, ``RR`` – log risk ratio, from 2×2 counts ``ai, bi, ci, di``
  (group 1 events / non-events, group 2 events / non-events). As metafor's defaults
  (``add=1/2, to="only0"``), 1/2 is added to all four cells of a table only when one of
  its cells is zero.

Group 1 is the treated arm and group 2 the control arm throughout, so negative SMD/MD/
ROM on creatinine and negative log OR on mortality mean protection.

References
----------
Hedges LV (1981). Distribution theory for Glass's estimator of effect size and related
estimators. J Educ Stat 6:107–128.
Hedges LV, Gurevitch J, Curtis PS (1999). The meta-analysis of response ratios in
experimental ecology. Ecology 80:1150–1156.
Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat
Softw 36(3):1–48.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
from scipy.special import gammaln

from .errors import InputError

__all__ = ["escalc", "hedges_j", "sem_to_sd", "MEASURES", "CONTINUOUS_MEASURES", "BINARY_MEASURES"]

CONTINUOUS_MEASURES = ("SMD", "MD", "ROM")
BINARY_MEASURES = ("OR", "RR")
MEASURES = CONTINUOUS_MEASURES + BINARY_MEASURES
#: measures whose pooled value is a log ratio (back-transform with exp)
RATIO_MEASURES = ("ROM", "OR", "RR")


def hedges_j(m):
    """Exact small-sample bias correction of Hedges (1981).

    Parameters
    ----------
    m : array_like
        Degrees of freedom, ``n1 + n2 - 2``.

    Returns
    -------
    numpy.ndarray
        ``Γ(m/2) / (√(m/2) Γ((m-1)/2))``; approximately ``1 - 3/(4m - 1)``.
    """
    m = np.asarray(m, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.exp(gammaln(m / 2.0) - 0.5 * np.log(m / 2.0) - gammaln((m - 1.0) / 2.0))


def sem_to_sd(sem, n):
    """Convert a standard error of the mean to a standard deviation, ``SD = SEM·√n``.

    Parameters
    ----------
    sem : array_like
        Standard error(s) of the mean.
    n : array_like
        Group size(s).

    Returns
    -------
    numpy.ndarray
    """
    sem = np.asarray(sem, dtype=float)
    n = np.asarray(n, dtype=float)
    if np.any(sem < 0):
        raise InputError("SEM must be >= 0; got a negative value. Fix the dispersion column.")
    if np.any(n < 1):
        raise InputError("n must be >= 1 to convert SEM to SD; fix the n column.")
    return sem * np.sqrt(n)


_ALIASES = {
    # metafor dat.bcg names
    "tpos": "ai", "tneg": "bi", "cpos": "ci", "cneg": "di",
}


def _col(data, name, given):
    if given is not None:
        return np.asarray(given, dtype=float)
    if data is None:
        return None
    if name in data:
        return np.asarray(data[name], dtype=float)
    for alias, target in _ALIASES.items():
        if target == name and alias in data:
            return np.asarray(data[alias], dtype=float)
    return None


def _need(measure, names, arrays):
    missing = [n for n, a in zip(names, arrays) if a is None]
    if missing:
        raise InputError(
            f"measure={measure!r} needs columns {', '.join(names)}; missing: {', '.join(missing)}. "
            f"Supply them (as keyword arguments or data columns)."
        )


def _check_nonneg(name, a, strict=False):
    bad = np.flatnonzero(np.isfinite(a) & ((a <= 0) if strict else (a < 0)))
    if bad.size:
        i = int(bad[0])
        rel = "> 0" if strict else ">= 0"
        raise InputError(
            f"column '{name}' must be {rel}; row {i + 1} has {a[i]!r}. Fix or drop that row."
        )


def escalc(
    measure: str,
    data: pd.DataFrame | Mapping | None = None,
    *,
    m1i=None, sd1i=None, n1i=None, m2i=None, sd2i=None, n2i=None,
    ai=None, bi=None, ci=None, di=None,
    add: float = 0.5,
    to: str = "only0",
) -> pd.DataFrame:
    """Compute effect sizes ``yi`` and sampling variances ``vi`` (metafor ``escalc``).

    Parameters
    ----------
    measure : {"SMD", "MD", "ROM", "OR", "RR"}
        Effect measure (see module docstring). Group 1 = treated, group 2 = control.
    data : DataFrame or mapping, optional
        Table holding the columns named below; keyword arrays take precedence. For
        binary measures metafor's ``dat.bcg`` names ``tpos, tneg, cpos, cneg`` are
        accepted for ``ai, bi, ci, di``.
    m1i, sd1i, n1i, m2i, sd2i, n2i : array_like, optional
        Means, standard deviations and sizes of the two groups (continuous measures).
    ai, bi, ci, di : array_like, optional
        2×2 cell counts (binary measures).
    add : float, default 0.5
        Continuity correction for binary measures.
    to : {"only0", "all", "if0all", "none"}, default "only0"
        Where ``add`` is applied, as in metafor.

    Returns
    -------
    pandas.DataFrame
        ``data`` (if given, copied) with columns ``yi`` and ``vi`` appended.

    Examples
    --------
    >>> escalc("SMD", m1i=[10.0], sd1i=[2.0], n1i=[5], m2i=[12.0], sd2i=[2.0], n2i=[5]).round(4)
           yi      vi
    0 -0.9027  0.4407
    """
    measure = str(measure).upper()
    if measure not in MEASURES:
        raise InputError(f"measure={measure!r} is not supported; use one of {', '.join(MEASURES)}.")
    if to not in ("only0", "all", "if0all", "none"):
        raise InputError(f"to={to!r} is not supported; use 'only0', 'all', 'if0all' or 'none'.")
    if measure in CONTINUOUS_MEASURES:
        names = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
        arrs = [_col(data, nm, g) for nm, g in zip(names, (m1i, sd1i, n1i, m2i, sd2i, n2i))]
        _need(measure, names, arrs)
        m1, s1, n1, m2, s2, n2 = np.broadcast_arrays(*arrs)
        _check_nonneg("sd1i", s1)
        _check_nonneg("sd2i", s2)
        _check_nonneg("n1i", n1, strict=True)
        _check_nonneg("n2i", n2, strict=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            if measure == "SMD":
                mdf = n1 + n2 - 2.0
                sdp = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / mdf)
                yi = hedges_j(mdf) * (m1 - m2) / sdp
                vi = 1.0 / n1 + 1.0 / n2 + yi**2 / (2.0 * (n1 + n2))
            elif measure == "MD":
                yi = m1 - m2
                vi = s1**2 / n1 + s2**2 / n2
            else:  # ROM
                if np.any((m1 <= 0) | (m2 <= 0)):
                    raise InputError(
                        "measure='ROM' needs positive means in m1i and m2i (log ratio); "
                        "use measure='MD' or 'SMD' for data with zero or negative means."
                    )
                yi = np.log(m1 / m2)
                vi = s1**2 / (n1 * m1**2) + s2**2 / (n2 * m2**2)
    else:
        names = ("ai", "bi", "ci", "di")
        arrs = [_col(data, nm, g) for nm, g in zip(names, (ai, bi, ci, di))]
        _need(measure, names, arrs)
        a, b, c, d = (x.astype(float).copy() for x in np.broadcast_arrays(*arrs))
        for nm, x in zip(names, (a, b, c, d)):
            _check_nonneg(nm, x)
        if to == "all":
            sel = np.ones_like(a, dtype=bool)
        elif to == "only0":
            sel = (a == 0) | (b == 0) | (c == 0) | (d == 0)
        elif to == "if0all":
            sel = np.full_like(a, bool(np.any((a == 0) | (b == 0) | (c == 0) | (d == 0))), dtype=bool)
        else:
            sel = np.zeros_like(a, dtype=bool)
        for x in (a, b, c, d):
            x[sel] += add
        with np.errstate(divide="ignore", invalid="ignore"):
            if measure == "OR":
                yi = np.log(a * d / (b * c))
                vi = 1 / a + 1 / b + 1 / c + 1 / d
            else:  # RR
                n1, n2 = a + b, c + d
                yi = np.log((a / n1) / (c / n2))
                vi = 1 / a - 1 / n1 + 1 / c - 1 / n2
    out = pd.DataFrame(dict(data)) if data is not None else pd.DataFrame(index=range(len(np.atleast_1d(yi))))
    out = out.copy()
    out["yi"] = np.atleast_1d(yi).astype(float)
    out["vi"] = np.atleast_1d(vi).astype(float)
    return out
