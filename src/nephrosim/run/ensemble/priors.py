"""Priors of an ensemble: which parameters vary, their distributions, and the draws.

Sample ``i`` draws its parameters from its own random stream
(``numpy.random.default_rng([seed, i])``), so a draw depends only on the seed and the
sample's index, never on the number of workers or the chunking.

Perturbation: log-normal with median at the nominal value and the given CV
(σ = √ln(1 + CV²)), or log-uniform within the table's [lower, upper]
(``prior="table"``), or centred on the nominal within the table's range (``prior="range"``:
:data:`RANGE_Z`); draws are truncated to the table's plausible range.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping

import numpy as np

from nephrosim.biology.parameters import ParameterTable
from nephrosim.errors import UserInputError
from nephrosim.inputs import MAX_FILE_BYTES
from nephrosim.run.assemble import build_model, scenario_table
from nephrosim.scenarios.schema import Scenario


def varied_parameters(scenario: Scenario, table: ParameterTable | None = None,
                      include_fixed: bool = False) -> dict[str, tuple[float, float | None, float | None]]:
    """Parameters an ensemble perturbs: name → (nominal, lower, upper), over all arms.

    ``include_fixed`` also lists table parameters marked ``vary = false`` (a user prior
    file may still vary them).
    """

    table = table or scenario_table(scenario)
    out: dict[str, tuple[float, float | None, float | None]] = {}
    for arm in scenario.arms:
        spec = build_model(scenario, arm.name, table)
        for name, value in spec.parameter_values.items():
            if name in scenario.parameters or name in out:
                continue
            try:
                rec = table.record(name, scenario.species)
            except KeyError:
                continue  # scenario-derived values (doses, clamp time) are not perturbed
            if rec.vary or include_fixed:
                out[name] = (float(value), rec.lower, rec.upper)
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class Prior:
    """The distribution one parameter is sampled from.

    ``lognormal``: median ``a``, log-SD ``b``; ``loguniform`` / ``uniform``: on [``a``, ``b``];
    ``split_lognormal`` / ``split_normal``: median ``a``, with [``lower``, ``upper``] ``b``
    standard deviations away on each side (of the log for ``split_lognormal``), truncated there —
    a side of zero width sends every draw to the other side.
    Draws are truncated to [``lower``, ``upper``] when given.
    """

    name: str
    distribution: Literal["lognormal", "loguniform", "uniform", "split_lognormal", "split_normal"]
    a: float
    b: float
    lower: float | None = None
    upper: float | None = None


#: ``prior="range"``: the table's bounds sit this many log-SDs from the nominal value.
#: 1.96 makes the untruncated split log-normal put 95 % of its mass inside the range, the
#: reading of an assumed row's range as a plausible (95 %) range around its best value.
RANGE_Z = 1.96


def priors_from_table(varied, cv: float, mode: Literal["lognormal", "table", "range"]) -> list[Prior]:
    """Priors for the table's varied parameters.

    ``lognormal``: nominal × log-normal(CV). ``table``: log-uniform (uniform for a range that is
    not positive) on the table's [lower, upper] — every value of the range equally likely, so
    the draws centre on the range's geometric midpoint, wherever the nominal lies.
    ``range``: a split log-normal (split normal for a range that is not positive) with its
    median at the nominal value and each bound :data:`RANGE_Z` log-SDs away on its own side,
    truncated to the range: the nominal stays the best value, and a nominal near one bound
    keeps most draws near it. An assumed row's band (:meth:`Calibration.predict_draws`) uses it.
    """
    out = []
    sigma = float(np.sqrt(np.log1p(cv * cv)))
    for name, (nominal, lower, upper) in varied.items():
        if mode == "lognormal":
            out.append(Prior(name, "lognormal", nominal, sigma, lower, upper))
        elif mode == "range":
            lo = nominal / 2 if lower is None else lower
            hi = nominal * 2 if upper is None else upper
            positive = lo > 0 and hi > 0 and nominal > 0
            out.append(Prior(name, "split_lognormal" if positive else "split_normal", nominal, RANGE_Z, lo, hi))
        else:
            lo = nominal / 2 if lower is None else lower
            hi = nominal * 2 if upper is None else upper
            kind = "loguniform" if lo > 0 and hi > 0 else "uniform"
            out.append(Prior(name, kind, lo, hi, lower, upper))
    return out


def donor_priors(scenario: Scenario, table: ParameterTable | None = None) -> list[Prior]:
    """Donor-to-donor variability: one log-normal factor per treatment whose donor is unknown.

    A treatment without ``donor_potency`` gets ``donor_potency_k`` (k = its position in the
    arm; :meth:`nephrosim.biology.therapy.base.ArmContext.donor`) drawn with median 1 and
    log-SD ``msc_donor_potency_sigma`` (assumed 0.5; 5th–95th percentile 0.44–2.3). This is
    variability between donors, not parameter uncertainty, so it does not scale with ``cv``.
    A treatment that states ``donor_potency`` is a characterised donor and stays fixed.
    """

    numbers = sorted({k for arm in scenario.arms for k, t in enumerate(arm.treatments, start=1)
                      if getattr(t, "donor_potency", 0.0) is None})
    if not numbers:
        return []
    table = table or scenario_table(scenario)
    sigma = table.record("msc_donor_potency_sigma", scenario.species).value
    return [Prior(f"donor_potency_{k}", "lognormal", 1.0, sigma) for k in numbers]


PRIOR_COLUMNS = ("name", "distribution", "median", "cv", "lower", "upper")


def read_prior_file(path: str | Path, known: Mapping[str, tuple]) -> list[Prior]:
    """Read a user prior table (CSV: name, distribution, median, cv, lower, upper).

    ``lognormal`` needs median and cv (lower/upper optional truncation);
    ``uniform`` and ``loguniform`` need lower and upper. Parameters not listed stay at
    their nominal values. The file must be UTF-8 text of at most
    :data:`nephrosim.inputs.MAX_FILE_BYTES` bytes; every number must be finite.
    """
    import csv
    import io

    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"prior={str(path)!r}: not a file; use 'lognormal', 'table' or the path of a prior CSV file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise UserInputError(f"prior={str(path)!r}: the file is {size:,} bytes; a prior file may be at most "
                             f"{MAX_FILE_BYTES:,} bytes (one row per varied parameter)")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserInputError(f"prior={str(path)!r}: byte {exc.start} is not UTF-8 text; save the prior table "
                             "as UTF-8 CSV") from None

    problems, priors, seen = [], [], set()
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in ("name", "distribution") if c not in (reader.fieldnames or [])]
    if missing:
        raise UserInputError(f"{path}: missing column(s) {missing}; columns are {PRIOR_COLUMNS}")
    for line, row in enumerate(reader, start=2):
        def num(col):
            text = (row.get(col) or "").strip()
            try:
                value = float(text) if text else None
            except ValueError:
                problems.append(f"line {line}, {col}: {text!r} is not a number")
                return None
            if value is not None and not np.isfinite(value):
                problems.append(f"line {line}, {col}: {text!r} is not finite; use a finite number")
                return None
            return value
        name, dist = (row["name"] or "").strip(), (row["distribution"] or "").strip()
        median, cv, lower, upper = num("median"), num("cv"), num("lower"), num("upper")
        if name not in known:
            problems.append(f"line {line}, name: {name!r} is not a parameter of this scenario "
                            "(see `nephrosim params`)")
            continue
        if name in seen:
            problems.append(f"line {line}, name: {name!r} is listed twice; keep one row per parameter")
            continue
        seen.add(name)
        if dist == "lognormal":
            if median is None or median <= 0 or cv is None or cv < 0:
                problems.append(f"line {line}: lognormal needs median > 0 and cv >= 0")
                continue
            if lower is not None and upper is not None and not lower < upper:
                problems.append(f"line {line}: the truncation needs lower < upper")
                continue
            priors.append(Prior(name, dist, median, float(np.sqrt(np.log1p(cv * cv))), lower, upper))
        elif dist in ("uniform", "loguniform"):
            if lower is None or upper is None or not lower < upper or (dist == "loguniform" and lower <= 0):
                problems.append(f"line {line}: {dist} needs lower < upper" + (" and lower > 0" if dist == "loguniform" else ""))
                continue
            priors.append(Prior(name, dist, lower, upper, lower, upper))
        else:
            problems.append(f"line {line}, distribution: {dist!r}; use lognormal, uniform or loguniform")
    if problems:
        raise UserInputError(f"{path}: {len(problems)} problem(s)\n" + "\n".join(f"  - {p}" for p in problems))
    if not priors:
        raise UserInputError(f"{path}: no parameters listed; add rows with columns {PRIOR_COLUMNS}")
    return priors


def draw(priors: list[Prior], start: int, stop: int, seed: int) -> np.ndarray:
    """Parameter matrix for samples ``start..stop-1`` (rows) — independent of chunking."""
    kind = np.array([p.distribution for p in priors])
    a = np.array([p.a for p in priors], dtype=float)
    b = np.array([p.b for p in priors], dtype=float)
    lower = np.array([np.nan if p.lower is None else p.lower for p in priors])
    upper = np.array([np.nan if p.upper is None else p.upper for p in priors])
    logn, logu = kind == "lognormal", kind == "loguniform"
    safe_a, safe_b = np.where(logu, a, 1.0), np.where(logu, b, 1.0)
    # np.where evaluates every branch: the log-SD of non-lognormal rows is 0, not their upper
    # bound (exp(5e8 · z) overflowed and printed a RuntimeWarning in every run that mixed kinds)
    log_sd = np.where(logn, b, 0.0)
    # --- issue 15: per-sample streams in the loop, the transform once for the whole chunk
    # (elementwise, so bit-identical to transforming row by row; 22 -> 13.5 µs per sample) ---
    z, u = np.empty((stop - start, len(priors))), np.empty((stop - start, len(priors)))
    for k, i in enumerate(range(start, stop)):
        rng = np.random.default_rng([seed, i])
        z[k], u[k] = rng.standard_normal(len(priors)), rng.random(len(priors))
    rows = np.where(logn, a * np.exp(log_sd * z),
                    np.where(logu, np.exp(np.log(safe_a) + u * (np.log(safe_b) - np.log(safe_a))), a + u * (b - a)))
    # --- end issue 15 ---
    split = (kind == "split_lognormal") | (kind == "split_normal")
    if split.any():
        rows[:, split] = _split_draws(u[:, split], kind[split] == "split_lognormal", a[split], b[split],
                                      lower[split], upper[split])
    rows = np.where(np.isnan(lower), rows, np.maximum(rows, lower))
    rows = np.where(np.isnan(upper), rows, np.minimum(rows, upper))
    return rows


def range_quantiles(u, nominal, lower, upper) -> np.ndarray:
    """The ``range`` prior's quantiles at uniforms ``u`` (one column per parameter; positive
    ``nominal``, ``lower`` and ``upper``): the split log-normal of :func:`priors_from_table`
    (median at the nominal, each bound :data:`RANGE_Z` log-SDs away, truncated there), for a
    caller that draws its own uniforms (the trial design search)."""
    u = np.atleast_2d(np.asarray(u, dtype=float))
    width = u.shape[1]
    nominal, lower, upper = (np.broadcast_to(np.asarray(v, dtype=float), (width,)) for v in (nominal, lower, upper))
    return _split_draws(u, np.ones(width, bool), nominal, RANGE_Z, lower, upper)


def _split_draws(u, log_scale, median, z_bound, lower, upper) -> np.ndarray:
    """Split (log-)normal draws from uniforms ``u`` (one column per parameter).

    A standard normal truncated to [−``z_bound``, ``z_bound``] by inverse transform, scaled by
    the lower side's SD below the median and the upper side's above it (SD = the side's width /
    ``z_bound``), so the median is ``median`` and the bounds are the support. A side of zero
    width folds its half onto the other side (the nominal is then the mode, at the bound).
    """
    from scipy.special import ndtr, ndtri

    centre = np.where(log_scale, np.log(np.where(log_scale, median, 1.0)), median)
    lo = np.where(log_scale, np.log(np.where(log_scale, lower, 1.0)), lower)
    hi = np.where(log_scale, np.log(np.where(log_scale, upper, 1.0)), upper)
    down, up = np.maximum(centre - lo, 0.0) / z_bound, np.maximum(hi - centre, 0.0) / z_bound
    p = ndtr(z_bound)
    z = ndtri((1.0 - p) + u * (2.0 * p - 1.0))
    z = np.where(down == 0.0, np.abs(z), np.where(up == 0.0, -np.abs(z), z))
    x = centre + np.where(z < 0, z * down, z * up)
    return np.where(log_scale, np.exp(x), x)
