"""Meta-analysis engine: fixed- and random-effects models as metafor's ``rma.uni``.

One fitter, :func:`rma`, covers the fixed-effect model (``method="FE"``), the random-
effects model with the τ² estimators REML (default), ML, DL, PM, SJ and HE, mixed-effects
meta-regression on moderators, and the Knapp–Hartung adjustment (``test="knha"``). On top
of a fitted :class:`MetaResult` sit :func:`confint_tau2` (Q-profile CI), :func:`regtest`
(Egger), :func:`trimfill` (Duval & Tweedie L0), :func:`leave1out` and :func:`subgroups`.

Numerics follow ``metafor`` 4.x (Viechtbauer 2010) so results agree to printed precision:

* weights ``wi = 1/(vi + τ²)``; ``b = (XᵀWX)⁻¹XᵀWy``; ``Var(b) = (XᵀWX)⁻¹``;
* Q = Cochran's residual heterogeneity with fixed-effect weights, df ``k − p``;
* for τ² > 0 models ``I² = 100 τ²/(τ² + ṽ)`` and ``H² = 1 + τ²/ṽ`` with the "typical"
  within-study variance ``ṽ = (k − p)/tr(P)`` (Higgins & Thompson 2002), for FE models
  ``I² = 100 (Q − df)/Q`` and ``H² = Q/df``;
* ML/REML by Fisher scoring with step halving (Viechtbauer 2005);
* DL (DerSimonian & Laird 1986), HE (Hedges & Olkin 1985), SJ (Sidik & Jonkman 2005),
  PM (Paule & Mandel 1982) as closed form / root of the generalized Q-statistic;
* Knapp–Hartung: ``Var(b)`` multiplied by ``s² = yᵀPy/(k − p)``, t-tests with ``k − p``
  df (Hartung & Knapp 2001; Knapp & Hartung 2003); not truncated at 1 (metafor ``knha``);
* prediction interval ``μ̂ ± c·√(τ² + SE²)``, ``c`` a t(k − p) quantile under knha and a
  normal quantile otherwise (metafor ``predict.rma``);
* τ² CI by the Q-profile method (Viechtbauer 2007).

References
----------
DerSimonian R, Laird N (1986). Meta-analysis in clinical trials. Control Clin Trials 7:177–188.
Duval S, Tweedie R (2000). Trim and fill. Biometrics 56:455–463.
Egger M et al. (1997). Bias in meta-analysis detected by a simple, graphical test. BMJ 315:629–634.
Hartung J, Knapp G (2001). On tests of the overall treatment effect in meta-analysis with
normally distributed responses. Stat Med 20:1771–1782.
Higgins JPT, Thompson SG (2002). Quantifying heterogeneity in a meta-analysis. Stat Med 21:1539–1558.
Paule RC, Mandel J (1982). Consensus values and weighting factors. J Res Natl Bur Stand 87:377–385.
Sidik K, Jonkman JN (2005). Simple heterogeneity variance estimation for meta-analysis.
J R Stat Soc C 54:367–384.
Viechtbauer W (2005). Bias and efficiency of meta-analytic variance estimators in the
random-effects model. J Educ Behav Stat 30:261–293.
Viechtbauer W (2007). Confidence intervals for the amount of heterogeneity in meta-analysis.
Stat Med 26:37–52.
Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat Softw 36(3).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .errors import InputError

__all__ = [
    "METHODS",
    "MetaResult",
    "Tau2CI",
    "RegtestResult",
    "TrimfillResult",
    "SubgroupResult",
    "rma",
    "confint_tau2",
    "regtest",
    "trimfill",
    "leave1out",
    "subgroups",
]

METHODS = ("FE", "REML", "ML", "DL", "PM", "SJ", "HE")
_TESTS = ("z", "knha")


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class MetaResult:
    """A fitted (mixed-/random-/fixed-effects) meta-analytic model.

    The scalar fields describe the first coefficient (the pooled effect for an
    intercept-only model, the intercept for a meta-regression); all coefficients are in
    ``coef_names``/``beta``/``beta_se``/``beta_ci_lb``/``beta_ci_ub``/``beta_stat``/
    ``beta_p``.

    Attributes
    ----------
    estimate, se, ci_lb, ci_ub, stat, pval : float
        Estimate, standard error, CI, z or t statistic and p-value.
    tau2, tau2_ci_lb, tau2_ci_ub : float
        Residual heterogeneity variance and its Q-profile CI (NaN for FE models).
    i2, i2_ci_lb, i2_ci_ub : float
        I² in percent (and CI from the τ² CI).
    h2 : float
        H².
    q, q_df, q_p : float, int, float
        Cochran's Q test of (residual) heterogeneity.
    qm, qm_df, qm_p : float
        Omnibus test of moderators (NaN for intercept-only models); with knha an F test
        (``qm`` is then the F value, ``qm_df`` the numerator df).
    r2 : float
        Pseudo R² in percent for meta-regressions (metafor), else NaN.
    pi_lb, pi_ub : float
        Prediction interval for the effect in a new study (intercept-only models).
    k, p : int
        Number of studies and of coefficients.
    method, measure, test : str
        τ² estimator, effect measure label and ``"z"`` or ``"knha"``.
    df : float
        Degrees of freedom of the t tests (knha), else ``inf``.
    level : float
        Confidence level in percent.
    yi, vi, weights : tuple of float
        The data the model was fitted to and the percent weights of the studies.
    labels : tuple of str
        Study labels.
    """

    estimate: float
    se: float
    ci_lb: float
    ci_ub: float
    stat: float
    pval: float
    tau2: float
    tau2_ci_lb: float
    tau2_ci_ub: float
    i2: float
    i2_ci_lb: float
    i2_ci_ub: float
    h2: float
    q: float
    q_df: int
    q_p: float
    qm: float
    qm_df: float
    qm_p: float
    r2: float
    pi_lb: float
    pi_ub: float
    k: int
    p: int
    method: str
    measure: str
    test: str
    df: float
    level: float
    coef_names: tuple[str, ...]
    beta: tuple[float, ...]
    beta_se: tuple[float, ...]
    beta_stat: tuple[float, ...]
    beta_p: tuple[float, ...]
    beta_ci_lb: tuple[float, ...]
    beta_ci_ub: tuple[float, ...]
    yi: tuple[float, ...] = field(repr=False)
    vi: tuple[float, ...] = field(repr=False)
    weights: tuple[float, ...] = field(repr=False)
    labels: tuple[str, ...] = field(repr=False)
    moderators: tuple[tuple[float, ...], ...] = field(repr=False, default=())

    @property
    def tau(self) -> float:
        """√τ²."""
        return float(np.sqrt(self.tau2)) if np.isfinite(self.tau2) else float("nan")

    def to_dict(self, include_data: bool = False) -> dict:
        """JSON-ready dictionary (NaN/inf become ``None``).

        Parameters
        ----------
        include_data : bool, default False
            Also include ``yi``, ``vi``, ``weights`` and ``labels``.
        """
        d = asdict(self)
        if not include_data:
            for key in ("yi", "vi", "weights", "labels", "moderators"):
                d.pop(key)
        d["coefficients"] = [
            dict(name=n, estimate=b, se=s, stat=z, pval=pv, ci_lb=lo, ci_ub=hi)
            for n, b, s, z, pv, lo, hi in zip(
                self.coef_names, self.beta, self.beta_se, self.beta_stat, self.beta_p,
                self.beta_ci_lb, self.beta_ci_ub,
            )
        ]
        for key in ("coef_names", "beta", "beta_se", "beta_stat", "beta_p", "beta_ci_lb", "beta_ci_ub"):
            d.pop(key)
        d["tau"] = self.tau
        return _jsonable(d)

    def summary(self) -> str:
        """A short human-readable report, in the spirit of metafor's print method."""
        lvl = f"{self.level:g}%"
        lines = [
            f"{'Fixed-effect' if self.method == 'FE' else 'Random-effects'} model "
            f"(k = {self.k}; method: {self.method}; test: {self.test}; measure: {self.measure})",
        ]
        if self.method != "FE":
            lines.append(
                f"tau^2 = {self.tau2:.4f} [{self.tau2_ci_lb:.4f}, {self.tau2_ci_ub:.4f}]; "
                f"I^2 = {self.i2:.2f}%; H^2 = {self.h2:.2f}"
            )
        else:
            lines.append(f"I^2 = {self.i2:.2f}%; H^2 = {self.h2:.2f}")
        lines.append(f"Q({self.q_df}) = {self.q:.4f}, p = {_fmt_p(self.q_p)}")
        if self.p > 1:
            lines.append(f"Test of moderators: QM({self.qm_df:g}) = {self.qm:.4f}, p = {_fmt_p(self.qm_p)}; R^2 = {self.r2:.2f}%")
        for i, name in enumerate(self.coef_names):
            lines.append(
                f"  {name:>12s}: {self.beta[i]: .4f} (SE {self.beta_se[i]:.4f}), "
                f"{'t' if self.test == 'knha' else 'z'} = {self.beta_stat[i]:.4f}, p = {_fmt_p(self.beta_p[i])}, "
                f"{lvl} CI [{self.beta_ci_lb[i]:.4f}, {self.beta_ci_ub[i]:.4f}]"
            )
        if self.p == 1:
            lines.append(f"  prediction interval [{self.pi_lb:.4f}, {self.pi_ub:.4f}]")
        return "\n".join(lines)


def _fmt_p(p: float) -> str:
    return "<.0001" if p < 1e-4 else f"{p:.4f}"


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if np.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


@dataclass(frozen=True)
class Tau2CI:
    """Q-profile confidence interval for τ² (and the derived τ, I², H²)."""

    tau2: float
    tau2_lb: float
    tau2_ub: float
    i2_lb: float
    i2_ub: float
    h2_lb: float
    h2_ub: float
    level: float


@dataclass(frozen=True)
class RegtestResult:
    """Egger-type regression test for funnel-plot asymmetry (metafor ``regtest``)."""

    stat: float
    df: float
    pval: float
    test: str
    predictor: str
    limit_estimate: float
    limit_ci_lb: float
    limit_ci_ub: float

    def to_dict(self) -> dict:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class TrimfillResult:
    """Duval & Tweedie trim-and-fill (metafor ``trimfill``)."""

    k0: int
    se_k0: float
    side: str
    estimator: str
    result: MetaResult
    filled_yi: tuple[float, ...]
    filled_vi: tuple[float, ...]

    def to_dict(self) -> dict:
        return _jsonable(
            dict(k0=self.k0, se_k0=self.se_k0, side=self.side, estimator=self.estimator,
                 filled_yi=list(self.filled_yi), filled_vi=list(self.filled_vi),
                 result=self.result.to_dict())
        )


@dataclass(frozen=True)
class SubgroupResult:
    """Per-subgroup random-effects fits and the between-subgroup Q test.

    ``q_between`` is Cochran's Q among the subgroup estimates with fixed-effect weights
    ``1/SE²`` ("separate τ² per subgroup", Borenstein et al. 2009, ch. 19; RevMan).
    """

    by: str
    groups: tuple[str, ...]
    results: tuple[MetaResult, ...]
    q_between: float
    q_between_df: int
    q_between_p: float

    def to_dict(self) -> dict:
        return _jsonable(
            dict(by=self.by, q_between=self.q_between, q_between_df=self.q_between_df,
                 q_between_p=self.q_between_p,
                 groups={g: r.to_dict() for g, r in zip(self.groups, self.results)})
        )


# --------------------------------------------------------------------------- numerics
def _wls(y, v, X, tau2):
    """Weighted least squares pieces for weights 1/(v + tau2)."""
    w = 1.0 / (v + tau2)
    XtW = X.T * w
    A = XtW @ X
    Ainv = np.linalg.inv(A)
    b = Ainv @ (XtW @ y)
    r = y - X @ b
    Py = w * r  # P y
    return w, Ainv, b, r, Py


def _trace_P(w, X, Ainv):
    return float(np.sum(w) - np.trace(Ainv @ ((X.T * w**2) @ X)))


def _trace_PP(w, X, Ainv):
    B2 = Ainv @ ((X.T * w**2) @ X)
    B3 = Ainv @ ((X.T * w**3) @ X)
    return float(np.sum(w**2) - 2.0 * np.trace(B3) + np.trace(B2 @ B2))


def _qgen(y, v, X, tau2):
    w, _, _, r, _ = _wls(y, v, X, tau2)
    return float(np.sum(w * r**2))


def _tau2_he(y, v, X):
    """Hedges (HE) estimator: (RSS_OLS - tr(P V)) / (k - p), P = I - X(X'X)^-1 X'."""
    k, p = X.shape
    XtX_inv = np.linalg.inv(X.T @ X)
    r = y - X @ (XtX_inv @ (X.T @ y))
    rss = float(r @ r)
    trPV = float(np.sum(v) - np.trace(XtX_inv @ ((X.T * v) @ X)))
    return max(0.0, (rss - trPV) / (k - p))


def _tau2_dl(y, v, X):
    k, p = X.shape
    w, Ainv, _, r, _ = _wls(y, v, X, 0.0)
    qe = float(np.sum(w * r**2))
    return max(0.0, (qe - (k - p)) / _trace_P(w, X, Ainv))


def _tau2_sj(y, v, X):
    k, p = X.shape
    tau2_0 = float(np.var(y))  # var(yi) * (k-1)/k, as metafor
    if tau2_0 <= 0:
        return 0.0
    return tau2_0 * _qgen(y, v, X, tau2_0) / (k - p)


def _tau2_pm(y, v, X):
    k, p = X.shape
    target = k - p
    f = lambda t: _qgen(y, v, X, t) - target  # noqa: E731  (decreasing in t)
    if f(0.0) <= 0:
        return 0.0
    hi = max(1.0, 10.0 * float(np.var(y)))
    while f(hi) > 0:
        hi *= 10.0
        if hi > 1e12:
            raise InputError("PM estimator did not bracket a root; check yi/vi for extreme values.")
    return float(optimize.brentq(f, 0.0, hi, xtol=1e-14, rtol=1e-14, maxiter=500))


def _tau2_fisher(y, v, X, method, tol=1e-5, maxiter=1000):
    """ML/REML by Fisher scoring with step halving, started at the (truncated) HE
    estimate and stopped when |Δτ²| <= tol, exactly as metafor rma.uni (threshold 1e-5)."""
    tau2 = _tau2_he(y, v, X)
    for _ in range(maxiter):
        w, Ainv, _, _, Py = _wls(y, v, X, tau2)
        if method == "ML":
            adj = (float(Py @ Py) - float(np.sum(w))) / float(np.sum(w**2))
        else:
            adj = (float(Py @ Py) - _trace_P(w, X, Ainv)) / _trace_PP(w, X, Ainv)
        if tau2 + adj < 0:
            if tau2 == 0.0:
                return 0.0
            for _h in range(60):
                adj /= 2.0
                if tau2 + adj >= 0:
                    break
            else:
                adj = -tau2
        tau2 += adj
        if abs(adj) <= tol:
            return max(0.0, tau2)
    raise InputError(
        f"method={method!r}: Fisher scoring did not converge in {maxiter} iterations; "
        "try method='PM' or 'DL'."
    )


_ESTIMATORS = {"DL": _tau2_dl, "HE": _tau2_he, "SJ": _tau2_sj, "PM": _tau2_pm}


def _as_design(mods, k, intercept, mod_names):
    if mods is None:
        X = np.ones((k, 1))
        names = ["intrcpt"]
        return X, names
    M = np.asarray(mods, dtype=float)
    if M.ndim == 1:
        M = M[:, None]
    if M.shape[0] != k:
        raise InputError(f"mods has {M.shape[0]} rows but yi has {k}; give one moderator row per study.")
    if not np.all(np.isfinite(M)):
        raise InputError("mods contains missing/non-finite values; drop those studies or impute explicitly.")
    if mod_names is None:
        mod_names = [f"mod{i + 1}" for i in range(M.shape[1])]
    names = list(mod_names)
    if intercept:
        M = np.column_stack([np.ones(k), M])
        names = ["intrcpt"] + names
    return M, names


def rma(
    yi: Sequence[float],
    vi: Sequence[float],
    *,
    method: str = "REML",
    test: str = "z",
    mods=None,
    mod_names: Sequence[str] | None = None,
    intercept: bool = True,
    level: float = 95.0,
    measure: str = "GEN",
    labels: Sequence[str] | None = None,
    tol: float = 1e-5,
    _compute_r2: bool = True,
) -> MetaResult:
    """Fit a fixed-, random- or mixed-effects meta-analytic model (metafor ``rma.uni``).

    Parameters
    ----------
    yi, vi : array_like
        Observed effect sizes and their sampling variances (``vi > 0``).
    method : {"REML", "ML", "DL", "PM", "SJ", "HE", "FE"}, default "REML"
        τ² estimator, or ``"FE"`` for the fixed-effect (common-effect) model.
    test : {"z", "knha"}, default "z"
        Wald z tests, or the Knapp–Hartung adjustment with t(k − p) tests.
    mods : array_like, optional
        Moderator matrix (k × m) for a meta-regression; an intercept is added unless
        ``intercept=False``.
    mod_names : sequence of str, optional
        Names of the moderator columns.
    intercept : bool, default True
    level : float, default 95
        Confidence level in percent.
    measure : str, default "GEN"
        Label of the effect measure (carried into the result).
    labels : sequence of str, optional
        Study labels.
    tol : float, default 1e-5
        Convergence threshold on |Δτ²| of the ML/REML Fisher scoring. The default is
        metafor's ``control=list(threshold=1e-5)`` so that printed values agree to the
        last digit (e.g. dat.bcg ~ ablat: τ² = 0.0764 in metafor; the exact REML
        maximizer, reached with ``tol=1e-12``, is 0.07635).

    Returns
    -------
    MetaResult

    Examples
    --------
    >>> res = rma([-0.9, -1.6, -1.4, -1.4, -0.2], [0.57, 0.19, 0.42, 0.02, 0.05])
    >>> round(res.estimate, 4) < 0
    True
    """
    method = str(method).upper()
    test = str(test).lower()
    if method not in METHODS:
        raise InputError(f"method={method!r} is not supported; use one of {', '.join(METHODS)}.")
    if test not in _TESTS:
        raise InputError(f"test={test!r} is not supported; use 'z' or 'knha'.")
    if not (0 < level < 100):
        raise InputError(f"level={level!r} must be a percentage between 0 and 100, e.g. 95.")
    y = np.asarray(yi, dtype=float).ravel()
    v = np.asarray(vi, dtype=float).ravel()
    if y.shape != v.shape:
        raise InputError(f"yi has {y.size} values but vi has {v.size}; give one vi per yi.")
    k = y.size
    if k == 0:
        raise InputError("no studies to pool (yi is empty).")
    bad = np.flatnonzero(~np.isfinite(y) | ~np.isfinite(v))
    if bad.size:
        raise InputError(f"yi/vi must be finite; study {int(bad[0]) + 1} has yi={y[bad[0]]!r}, vi={v[bad[0]]!r}. Drop it.")
    bad = np.flatnonzero(v <= 0)
    if bad.size:
        raise InputError(f"column 'vi' must be > 0; study {int(bad[0]) + 1} has vi={v[bad[0]]!r}. Fix or drop it.")
    X, names = _as_design(mods, k, intercept, mod_names)
    p = X.shape[1]
    if p > k:
        raise InputError(f"{p} coefficients but only {k} studies; use fewer moderators.")
    if np.linalg.matrix_rank(X) < p:
        raise InputError("the moderator matrix is rank deficient (collinear columns); drop redundant moderators.")
    labels = tuple(str(s) for s in labels) if labels is not None else tuple(f"Study {i + 1}" for i in range(k))
    if len(labels) != k:
        raise InputError(f"labels has {len(labels)} entries but yi has {k}.")

    dfres = k - p
    # tau^2
    if method == "FE":
        tau2 = 0.0
    elif dfres < 1:
        tau2 = 0.0
    elif method in ("ML", "REML"):
        tau2 = _tau2_fisher(y, v, X, method, tol=tol)
    else:
        tau2 = _ESTIMATORS[method](y, v, X)

    w, Ainv, b, r, Py = _wls(y, v, X, tau2)
    vb = Ainv.copy()
    if test == "knha":
        if dfres < 1:
            s2w = float("nan")
        else:
            s2w = float(np.sum(w * r**2)) / dfres
        vb = s2w * vb
        df = float(dfres) if dfres >= 1 else float("nan")
    else:
        df = float("inf")
    se = np.sqrt(np.diag(vb))
    alpha = 1.0 - level / 100.0
    with np.errstate(invalid="ignore", divide="ignore"):
        zval = b / se
        if test == "knha":
            crit = float(stats.t.ppf(1 - alpha / 2, df)) if np.isfinite(df) else float("nan")
            pval = 2 * stats.t.sf(np.abs(zval), df) if np.isfinite(df) else np.full(p, np.nan)
        else:
            crit = float(stats.norm.ppf(1 - alpha / 2))
            pval = 2 * stats.norm.sf(np.abs(zval))
    ci_lb, ci_ub = b - crit * se, b + crit * se

    # heterogeneity (fixed-effect weights)
    w0, Ainv0, _, r0, _ = _wls(y, v, X, 0.0)
    qe = float(np.sum(w0 * r0**2))
    q_p = float(stats.chi2.sf(qe, dfres)) if dfres >= 1 else float("nan")
    if dfres >= 1:
        if method == "FE":
            i2 = max(0.0, 100.0 * (qe - dfres) / qe) if qe > 0 else 0.0
            h2 = qe / dfres
        else:
            vt = dfres / _trace_P(w0, X, Ainv0)
            i2 = 100.0 * tau2 / (vt + tau2)
            h2 = tau2 / vt + 1.0
    else:
        i2 = h2 = float("nan")

    # moderators omnibus test
    qm = qm_df = qm_p = float("nan")
    if p > 1:
        idx = np.arange(1, p) if intercept else np.arange(p)
        bb = b[idx]
        qm = float(bb @ np.linalg.solve(vb[np.ix_(idx, idx)], bb))
        qm_df = float(idx.size)
        if test == "knha":
            qm = qm / qm_df
            qm_p = float(stats.f.sf(qm, qm_df, dfres)) if dfres >= 1 else float("nan")
        else:
            qm_p = float(stats.chi2.sf(qm, qm_df))

    # prediction interval (intercept-only)
    if p == 1:
        pi_se = float(np.sqrt(se[0] ** 2 + tau2))
        pi_lb, pi_ub = b[0] - crit * pi_se, b[0] + crit * pi_se
    else:
        pi_lb = pi_ub = float("nan")

    # tau2 CI
    if method != "FE" and dfres >= 1:
        ci = _qprofile(y, v, X, tau2, level)
        t_lb, t_ub = ci
        vt = dfres / _trace_P(w0, X, Ainv0)
        i2_lb, i2_ub = 100 * t_lb / (vt + t_lb), 100 * t_ub / (vt + t_ub)
    else:
        t_lb = t_ub = i2_lb = i2_ub = float("nan")

    # pseudo R^2 (metafor): compare with the intercept-only RE model
    r2 = float("nan")
    if p > 1 and intercept and method != "FE" and _compute_r2:
        tau2_re = rma(y, v, method=method, test="z", level=level, _compute_r2=False).tau2
        r2 = max(0.0, 100.0 * (tau2_re - tau2) / tau2_re) if tau2_re > 0 else 0.0

    wts = 100.0 * w / np.sum(w)
    mod_rows = tuple(tuple(float(x) for x in row) for row in X) if p > 1 else ()
    return MetaResult(
        estimate=float(b[0]), se=float(se[0]), ci_lb=float(ci_lb[0]), ci_ub=float(ci_ub[0]),
        stat=float(zval[0]), pval=float(pval[0]),
        tau2=float(tau2) if method != "FE" else 0.0,
        tau2_ci_lb=float(t_lb), tau2_ci_ub=float(t_ub),
        i2=float(i2), i2_ci_lb=float(i2_lb), i2_ci_ub=float(i2_ub), h2=float(h2),
        q=qe, q_df=int(dfres), q_p=q_p, qm=qm, qm_df=qm_df, qm_p=qm_p, r2=r2,
        pi_lb=float(pi_lb), pi_ub=float(pi_ub), k=int(k), p=int(p), method=method,
        measure=str(measure), test=test, df=df, level=float(level),
        coef_names=tuple(names), beta=tuple(map(float, b)), beta_se=tuple(map(float, se)),
        beta_stat=tuple(map(float, zval)), beta_p=tuple(map(float, pval)),
        beta_ci_lb=tuple(map(float, ci_lb)), beta_ci_ub=tuple(map(float, ci_ub)),
        yi=tuple(map(float, y)), vi=tuple(map(float, v)), weights=tuple(map(float, wts)),
        labels=labels, moderators=mod_rows,
    )


def _qprofile(y, v, X, tau2_hat, level):
    """Q-profile CI for tau^2 (Viechtbauer 2007), as metafor confint.rma.uni."""
    k, p = X.shape
    dfres = k - p
    alpha = 1 - level / 100
    q_hi = stats.chi2.ppf(1 - alpha / 2, dfres)  # for lower bound
    q_lo = stats.chi2.ppf(alpha / 2, dfres)  # for upper bound
    q0 = _qgen(y, v, X, 0.0)

    def root(target):
        if q0 < target:
            return 0.0
        hi = max(1.0, 10 * tau2_hat, 10 * float(np.var(y)))
        while _qgen(y, v, X, hi) > target:
            hi *= 10.0
            if hi > 1e12:
                return float("inf")
        return float(optimize.brentq(lambda t: _qgen(y, v, X, t) - target, 0.0, hi, xtol=1e-12, rtol=1e-12))

    return root(q_hi), root(q_lo)


def _design_from(res: MetaResult):
    if res.p == 1:
        return None
    X = np.asarray(res.moderators, dtype=float)
    return X


def confint_tau2(res: MetaResult) -> Tau2CI:
    """Q-profile confidence interval for τ², I² and H² (metafor ``confint.rma.uni``).

    Parameters
    ----------
    res : MetaResult
        A random- or mixed-effects fit (not ``method="FE"``).

    Returns
    -------
    Tau2CI

    References
    ----------
    Viechtbauer W (2007). Confidence intervals for the amount of heterogeneity in
    meta-analysis. Stat Med 26:37–52.
    """
    if res.method == "FE":
        raise InputError("confint_tau2 needs a random-effects model; refit with method='REML' (or another τ² estimator).")
    y, v = np.asarray(res.yi), np.asarray(res.vi)
    X = _design_from(res)
    if X is None:
        X = np.ones((res.k, 1))
    dfres = res.k - res.p
    w0, Ainv0, _, _, _ = _wls(y, v, X, 0.0)
    vt = dfres / _trace_P(w0, X, Ainv0)
    lb, ub = res.tau2_ci_lb, res.tau2_ci_ub
    return Tau2CI(
        tau2=res.tau2, tau2_lb=lb, tau2_ub=ub,
        i2_lb=100 * lb / (vt + lb), i2_ub=100 * ub / (vt + ub),
        h2_lb=1 + lb / vt, h2_ub=1 + ub / vt, level=res.level,
    )


def _refit(res: MetaResult, yi, vi, mods=None, mod_names=None, labels=None, intercept=True):
    return rma(yi, vi, method=res.method, test=res.test, mods=mods, mod_names=mod_names,
               intercept=intercept, level=res.level, measure=res.measure, labels=labels)


def regtest(res: MetaResult, predictor: str = "sei") -> RegtestResult:
    """Egger's regression test for funnel-plot asymmetry (metafor ``regtest`` default).

    The standard error (``predictor="sei"``) or the sampling variance (``"vi"``) is
    added as a moderator to the model, refitted with the same τ² estimator and test, and
    its coefficient tested (z test, or t test with k − p df for a knha model).

    Parameters
    ----------
    res : MetaResult
    predictor : {"sei", "vi"}, default "sei"

    Returns
    -------
    RegtestResult
        ``limit_estimate`` is the intercept (the effect as SE → 0).

    References
    ----------
    Egger M, Davey Smith G, Schneider M, Minder C (1997). BMJ 315:629–634.
    Sterne JAC, Egger M (2005). Regression methods to detect publication and other bias
    in meta-analysis. In: Publication Bias in Meta-Analysis, Wiley, 99–110.
    """
    if predictor not in ("sei", "vi"):
        raise InputError(f"predictor={predictor!r} is not supported; use 'sei' or 'vi'.")
    y, v = np.asarray(res.yi), np.asarray(res.vi)
    pred = np.sqrt(v) if predictor == "sei" else v
    X = _design_from(res)
    if X is None:
        mods = pred[:, None]
        names = [predictor]
    else:
        mods = np.column_stack([X[:, 1:], pred])
        names = list(res.coef_names[1:]) + [predictor]
    if res.k - (mods.shape[1] + 1) < 1:
        raise InputError(f"regtest needs at least {mods.shape[1] + 2} studies; have k={res.k}.")
    fit = rma(y, v, method=res.method, test=res.test, mods=mods, mod_names=names,
              level=res.level, measure=res.measure, _compute_r2=False)
    j = len(fit.beta) - 1
    return RegtestResult(
        stat=fit.beta_stat[j], df=fit.df, pval=fit.beta_p[j], test=res.test, predictor=predictor,
        limit_estimate=fit.beta[0], limit_ci_lb=fit.beta_ci_lb[0], limit_ci_ub=fit.beta_ci_ub[0],
    )


def trimfill(res: MetaResult, side: str | None = None, estimator: str = "L0", maxiter: int = 100) -> TrimfillResult:
    """Duval & Tweedie trim-and-fill (metafor ``trimfill.rma.uni``).

    Parameters
    ----------
    res : MetaResult
        An intercept-only model; the trimmed and filled data are refitted with the same
        ``method`` and ``test``.
    side : {"left", "right"}, optional
        Side of the funnel where studies are missing. By default chosen as metafor does:
        regress ``yi`` on ``√vi`` with the model's method; a negative slope means
        studies are missing on the right, otherwise on the left.
    estimator : {"L0", "R0"}, default "L0"
    maxiter : int, default 100

    Returns
    -------
    TrimfillResult

    References
    ----------
    Duval S, Tweedie R (2000). Trim and fill: a simple funnel-plot-based method of testing
    and adjusting for publication bias in meta-analysis. Biometrics 56:455–463.
    Duval S, Tweedie R (2000). A nonparametric "trim and fill" method of accounting for
    publication bias in meta-analysis. JASA 95:89–98.
    """
    if res.p != 1:
        raise InputError("trimfill needs an intercept-only model (no moderators); refit without mods.")
    if estimator not in ("L0", "R0"):
        raise InputError(f"estimator={estimator!r} is not supported; use 'L0' or 'R0'.")
    y0, v0 = np.asarray(res.yi), np.asarray(res.vi)
    k = y0.size
    if side is None:
        if k < 3:
            side = "left"
        else:
            fit = rma(y0, v0, method=res.method, test="z", mods=np.sqrt(v0)[:, None], _compute_r2=False)
            side = "right" if fit.beta[1] < 0 else "left"
    if side not in ("left", "right"):
        raise InputError(f"side={side!r} must be 'left' or 'right'.")
    y = -y0 if side == "right" else y0.copy()
    order = np.argsort(y, kind="mergesort")
    y, v = y[order], v0[order]
    k0, k0_prev, it = 0, -1, 0
    se_k0 = float("nan")
    beta = float("nan")
    while k0 != k0_prev:
        k0_prev = k0
        it += 1
        if it > maxiter:
            raise InputError(f"trimfill did not converge in {maxiter} iterations.")
        beta = rma(y[: k - k0], v[: k - k0], method=res.method, test=res.test, _compute_r2=False).estimate
        yc = y - beta
        ranks = stats.rankdata(np.abs(yc), method="ordinal")
        signed = np.sign(yc) * ranks
        if estimator == "L0":
            sr = float(np.sum(signed[signed > 0]))
            k0f = (4 * sr - k * (k + 1)) / (2 * k - 1)
            var_sr = (k * (k + 1) * (2 * k + 1) + 10 * k0f**3 + 27 * k0f**2 + 17 * k0f
                      - 18 * k * k0f**2 - 18 * k * k0f + 6 * k**2 * k0f) / 24.0
            se_k0 = 4 * np.sqrt(max(var_sr, 0.0)) / (2 * k - 1)
        else:
            neg = signed[signed < 0]
            k0f = (k - (np.max(-neg) if neg.size else 0)) - 1
            se_k0 = np.sqrt(2 * max(0, k0f) + 2)
        k0 = int(np.round(max(0.0, k0f)))
        k0 = min(k0, k - 1)
    if k0 > 0:
        fill_flipped = 2 * beta - y[k - k0:]
        fill = -fill_flipped if side == "right" else fill_flipped
        fill_v = v[k - k0:]
    else:
        fill, fill_v = np.array([]), np.array([])
    labels = tuple(res.labels) + tuple(f"Filled {i + 1}" for i in range(k0))
    out = rma(np.concatenate([y0, fill]), np.concatenate([v0, fill_v]), method=res.method, test=res.test,
              level=res.level, measure=res.measure, labels=labels)
    return TrimfillResult(k0=k0, se_k0=float(max(0.0, se_k0)), side=side, estimator=estimator, result=out,
                          filled_yi=tuple(map(float, fill)), filled_vi=tuple(map(float, fill_v)))


def leave1out(res: MetaResult) -> pd.DataFrame:
    """Leave-one-out sensitivity analysis (metafor ``leave1out``).

    Returns
    -------
    pandas.DataFrame
        One row per omitted study: ``label, estimate, se, ci_lb, ci_ub, pval, q, q_p,
        tau2, i2, h2``.
    """
    if res.k < 2:
        raise InputError("leave1out needs at least 2 studies.")
    y, v = np.asarray(res.yi), np.asarray(res.vi)
    X = _design_from(res)
    rows = []
    for i in range(res.k):
        keep = np.arange(res.k) != i
        mods = None if X is None else X[keep][:, 1:]
        names = None if X is None else list(res.coef_names[1:])
        f = rma(y[keep], v[keep], method=res.method, test=res.test, mods=mods, mod_names=names,
                level=res.level, measure=res.measure, _compute_r2=False)
        rows.append(dict(label=res.labels[i], estimate=f.estimate, se=f.se, ci_lb=f.ci_lb, ci_ub=f.ci_ub,
                         pval=f.pval, q=f.q, q_p=f.q_p, tau2=f.tau2, i2=f.i2, h2=f.h2))
    return pd.DataFrame(rows)


def subgroups(yi, vi, groups, *, method: str = "REML", test: str = "z", level: float = 95.0,
              measure: str = "GEN", labels=None, by: str = "subgroup") -> SubgroupResult:
    """Subgroup analysis: a separate model per subgroup and a between-subgroup Q test.

    Parameters
    ----------
    yi, vi : array_like
    groups : array_like of str
        Subgroup of each study (missing values become ``"not stated"``).
    method, test, level, measure
        Passed to :func:`rma` for every subgroup.
    labels : sequence of str, optional
    by : str
        Name of the grouping variable (for reports).

    Returns
    -------
    SubgroupResult

    References
    ----------
    Borenstein M, Hedges LV, Higgins JPT, Rothstein HR (2009). Introduction to
    Meta-Analysis, ch. 19. Wiley.
    """
    y = np.asarray(yi, float)
    v = np.asarray(vi, float)
    g = np.array(["not stated" if (x is None or (isinstance(x, float) and np.isnan(x))) else str(x) for x in groups])
    if g.size != y.size:
        raise InputError(f"groups has {g.size} entries but yi has {y.size}.")
    labels = np.array(labels if labels is not None else [f"Study {i + 1}" for i in range(y.size)], dtype=object)
    names, results = [], []
    for name in sorted(set(g.tolist())):
        sel = g == name
        names.append(name)
        results.append(rma(y[sel], v[sel], method=method, test=test, level=level, measure=measure,
                           labels=list(labels[sel])))
    est = np.array([r.estimate for r in results])
    se = np.array([r.se for r in results])
    ok = np.isfinite(se) & (se > 0)
    if ok.sum() >= 2:
        w = 1 / se[ok] ** 2
        mu = np.sum(w * est[ok]) / np.sum(w)
        qb = float(np.sum(w * (est[ok] - mu) ** 2))
        dfb = int(ok.sum() - 1)
        pb = float(stats.chi2.sf(qb, dfb))
    else:
        qb, dfb, pb = float("nan"), 0, float("nan")
    return SubgroupResult(by=by, groups=tuple(names), results=tuple(results), q_between=qb,
                          q_between_df=dfb, q_between_p=pb)
