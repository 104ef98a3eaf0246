"""Leave-one-study-out cross-validation and the Markdown validation report.

A study is a publication: entries tagged with the same ``tags.study`` are held out
together. For each selected study s: refit on the other studies (same config, same seed,
``n_starts`` from ``cv_starts``, warm-started at the full fit), draw parameter
uncertainty (Laplace, Gauss–Newton covariance) and, if random effects are declared,
a fresh between-study deviation per draw (predicting a *new* study), then predict
s. An observation is covered when its reported mean lies inside the 95 %
prediction interval of the *observed mean*: model draws plus that observation's
own sampling error (normal, SE) — the interval a new replicate of the study would
fall in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nephrosim.calibration.config import as_config
from nephrosim.calibration.fit import Calibration
from nephrosim.calibration.problem import CalibrationProblem


@dataclass
class CrossValidation:
    """Result of :func:`cross_validate`: one row per held-out observation (``table``)."""

    table: object  # pandas DataFrame
    fits: dict  # study → Calibration fitted without it
    level: float

    @property
    def coverage(self) -> float:
        t = self.table
        return float(t["covered"].mean()) if len(t) else math.nan

    def coverage_by_study(self):
        return self.table.groupby("study")["covered"].mean()


def _predict_observations(cal: Calibration, problem: CalibrationProblem, study: str, n_draws: int, level: float,
                          seed: int, new_study: bool):
    """Draw-wise model means at the observations of publication ``study`` (all its
    entries), under ``cal``'s uncertainty. With ``new_study`` every draw also draws the
    publication's random effects afresh — one draw shared by its entries (one lab)."""
    rng = np.random.default_rng(seed)
    samples = cal.sample(n_draws, method="laplace", seed=seed)
    n_p = len(cal.problem_.parameters)
    xs = []
    for x_s in samples:
        x = problem.x_nominal.copy()
        # map the training fit's parameters onto this problem's layout (same parameter list)
        x[:n_p] = x_s[:n_p]
        if new_study:
            for group, par, idx in problem.re_slots:
                if group == study:
                    sd = next(r.sd_log10 for r in problem.random_effects if r.parameter == par)
                    x[idx] = rng.normal(0.0, sd)
        xs.append(x)
    ids = problem.groups.get(study, (study,))
    rows = []
    q = (1 - level) / 2
    x_point = np.concatenate([cal.x_[:n_p], np.zeros(problem.dim - n_p)])
    mine = [k for k, e in enumerate(problem.experiments) if e.study in ids]
    # model means of every experiment of the study, per draw (NaN where the solver failed)
    draws_of = {k: np.array([_means_or_nan(problem, problem.experiments[k], x) for x in xs]) for k in mine}
    point_of = {k: problem.predict(problem.experiments[k], x_point)[0] for k in mine}
    for k in mine:
        e = problem.experiments[k]
        draws = draws_of[k][~np.isnan(draws_of[k]).any(axis=1)]
        point = point_of[k]
        obs_draws = draws + rng.standard_normal(draws.shape) * np.nan_to_num(e.se)[None, :]
        for j in np.flatnonzero(e.data):
            lo, hi = np.quantile(obs_draws[:, j], [q, 1 - q]) if len(draws) else (np.nan, np.nan)
            mlo, mhi = np.quantile(draws[:, j], [q, 1 - q]) if len(draws) else (np.nan, np.nan)
            rows.append({"study": study, "entry": e.study, "arm": e.arm, "readout": e.readout[j], "unit": e.unit[j],
                         "time_h": float(e.obs_time[j]), "mean": float(e.y[j]), "se": float(e.se[j]),
                         "prediction": float(point[j]), "relative_error": float(point[j] / e.y[j] - 1.0),
                         "mean_lower": float(mlo), "mean_upper": float(mhi),
                         "pi_lower": float(lo), "pi_upper": float(hi),
                         "covered": bool(lo <= e.y[j] <= hi)})
    for c in (c for c in problem.contrasts if c.study in ids):
        (i, r), (j, s) = c.treated, c.control
        pair = np.column_stack([draws_of[i][:, r], draws_of[j][:, s]])
        pair = pair[~np.isnan(pair).any(axis=1) & (pair > 0).all(axis=1)]
        f = np.array([c.value(a, b)[0] for a, b in pair])
        point = c.value(point_of[i][r], point_of[j][s])[0]
        obs_f = f + rng.standard_normal(f.shape) * c.spec.se
        lo, hi = np.quantile(obs_f, [q, 1 - q]) if len(f) else (np.nan, np.nan)
        mlo, mhi = np.quantile(f, [q, 1 - q]) if len(f) else (np.nan, np.nan)
        est = c.spec.estimate
        rows.append({"study": study, "entry": c.study, "arm": f"{c.spec.treated} vs {c.spec.control}",
                     "readout": c.spec.label(), "unit": c.spec.measure, "time_h": float(c.spec.time_h),
                     "mean": est, "se": c.spec.se, "prediction": float(point),
                     "relative_error": float(point / est - 1.0) if est else float("nan"),
                     "mean_lower": float(mlo), "mean_upper": float(mhi), "pi_lower": float(lo),
                     "pi_upper": float(hi), "covered": bool(lo <= est <= hi)})
    return rows


def _means_or_nan(problem: CalibrationProblem, e, x) -> np.ndarray:
    m, status = problem.predict(e, x)
    return m if status.ok else np.full(e.y.size, np.nan)


def cross_validate(config, *, full: Calibration | None = None, cv_starts: int = 3, n_draws: int = 200,
                   level: float = 0.95, progress: bool = False) -> CrossValidation:
    """Leave-one-study-out cross-validation of ``config``.

    Arguments
    ---------
    config : the calibration config (≥ 2 selected studies).
    full : the fit on all studies (used as a warm start; fitted here if omitted).
    cv_starts : starts per held-out fit (start 0 is the full fit's optimum).
    n_draws : parameter draws per prediction.
    """
    import pandas as pd

    cfg = as_config(config)
    studies = list(cfg.study_groups())  # publications: entries sharing tags.study are held out together
    if len(studies) < 2:
        raise ValueError("cross_validate needs at least two selected studies (publications); add studies or "
                         "loosen include")
    full = full if full is not None and hasattr(full, "x_") else Calibration(cfg).fit()
    full_problem = full.problem_
    rows, fits = [], {}
    for k, sid in enumerate(studies):
        train_cfg = cfg.without_study(sid)
        nominal = {q.label: 10 ** full.x_[i] for i, q in enumerate(full_problem.parameters)}
        params = []
        for p in train_cfg.parameters:
            d = p.model_dump()
            label = p.name if p.species is None else f"{p.name}[{p.species}]"
            q = next(q for q in full_problem.parameters if q.label == label)
            d["nominal"] = min(max(nominal[label], q.lower), q.upper)
            d["lower"], d["upper"] = q.lower, q.upper
            params.append(d)
        train_cfg = train_cfg.replace(parameters=params, fit={**cfg.fit.model_dump(), "n_starts": cv_starts})
        try:
            cal = Calibration(train_cfg, progress=progress).fit()
        except Exception as exc:  # noqa: BLE001 — report the study as not validated, go on with the others
            rows.append({"study": sid, "error": f"{type(exc).__name__}: {exc}"})
            continue
        fits[sid] = cal
        rows += _predict_observations(cal, full_problem, sid, n_draws, level, seed=cfg.fit.seed + k,
                                      new_study=True)
    table = pd.DataFrame(rows)
    if "covered" not in table:
        table["covered"] = pd.Series(dtype=bool)
    return CrossValidation(table=table, fits=fits, level=level)


# --------------------------------------------------------------------------- report
def _plot_study(full: Calibration, cv: CrossValidation | None, study: str, path: Path) -> None:
    from nephrosim.figures import subplots
    p = full.problem_
    exps = [e for e in p.experiments if e.study == study]
    panels = sorted({(e.arm, r, u) for e in exps for r, u in zip(e.readout, e.unit)})
    ncol = min(3, len(panels))
    nrow = math.ceil(len(panels) / ncol)
    fig, axes = subplots(nrow, ncol, figsize=(4.2 * ncol, 3.2 * nrow), squeeze=False)
    for k, (arm, readout, unit) in enumerate(panels):
        ax = axes[k // ncol][k % ncol]
        e = next(e for e in exps if e.arm == arm)
        tmax = float(e.obs_time.max()) if e.obs_time.size else 1.0
        grid = np.linspace(0.0, max(tmax * 1.1, 1.0), 120)
        sim = p._sim(e, grad=False)
        lv = p._log_values(e, full.x_)
        y, _, status = sim.run(grid - e.program.start_h, dict(zip(e.sim_pars, 10.0 ** lv)))
        j = list(e.program.readouts).index(readout)
        if status.ok:
            ax.plot(grid, y[:, j] * e.program.factors[j], color="C0", label="fit (all studies)")
        mask = np.array([r == readout for r in e.readout])
        ax.errorbar(e.obs_time[mask], e.y[mask], yerr=1.96 * e.se[mask], fmt="o", color="k", capsize=3,
                    label="data (mean ± 1.96 SE)")
        if cv is not None and "readout" in cv.table:
            t = cv.table[(cv.table.entry == study) & (cv.table.arm == arm) & (cv.table.readout == readout)]
            if len(t):
                t = t.sort_values("time_h")
                yerr = np.vstack([t.prediction - t.pi_lower, t.pi_upper - t.prediction]).clip(min=0)
                ax.errorbar(t.time_h, t.prediction, yerr=yerr, fmt="s", color="C1", ms=4, capsize=3,
                            label=f"held-out prediction, {int(cv.level * 100)} % PI")
        ax.set_title(f"{study} · {arm}", fontsize=9)
        ax.set_xlabel("time after insult (h)")
        ax.set_ylabel(f"{readout} ({unit})")
        if k == 0:
            ax.legend(fontsize=7)
    for k in range(len(panels), nrow * ncol):
        axes[k // ncol][k % ncol].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _md_table(frame) -> str:
    cols = list(frame.columns)
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in frame.iterrows():
        cells = []
        for c in cols:
            v = row[c]
            if isinstance(v, float):
                cells.append("" if math.isnan(v) else f"{v:.4g}")
            elif v is None:
                cells.append("open (bound)")
            else:
                cells.append(str(v))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def _open_ends(ident):
    """Identifiability table with an interval end that reached its bound shown as 'open'."""
    shown = ident.copy()
    for col in ("ci95_lower", "ci95_upper"):
        shown[col] = [("open" if (v is None or (isinstance(v, float) and math.isnan(v))) and
                       r != "not profiled" else v) for v, r in zip(shown[col], shown["identifiability"])]
    return shown


def write_report(full: Calibration, cv: CrossValidation | None, out_dir: str | Path) -> Path:
    """Write ``report.md`` with PNG figures to ``out_dir``; return the Markdown path.

    Sections: data and studies, estimates with 95 % profile intervals
    (identifiability), parameters ending outside or at the edge of their cited
    range (flagged), fit per study, leave-one-study-out coverage.
    """
    from nephrosim.io import write_text_atomic

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = full.config_
    p = full.problem_
    lines = [f"# Calibration report: {cfg.name}", "", cfg.description or "", "",
             f"- likelihood: **{cfg.likelihood}** (SE of each mean = SD/√n or the reported SEM)",
             (f"- studies: {len(p.study_ids)}, observations: {p.n_observations}, parameters: {len(p.parameters)}"
              + (f", random effects: {len(p.re_slots)} (penalised study-level deviations)" if p.re_slots else "")),
             (f"- best negative log-likelihood: {full.nll_:.6g}; {full.n_converged()}/{len(full.starts_)} starts "
              "reached it (±1e-3)"), "", "## Studies and their scenarios", "",
             "| study | species | injury | mapping | citation |", "|---|---|---|---|---|"]
    for s in cfg.selected_studies():
        lines.append(f"| {s.id} | {s.species} | {s.injury} | {s.mapping} | {s.citation} |")
    ident = full.identifiability()
    lines += ["", "## Estimates and identifiability (95 % profile likelihood, ΔNLL = 1.92)", "",
              _md_table(_open_ends(ident)), ""]
    flagged = ident[(~ident["within_cited_range"]) | ident["at_bound"]]
    if len(flagged):
        lines.append("**Flagged:** " + ", ".join(
            f"`{r.parameter}` = {r.estimate:.4g} "
            + ("outside its cited range" if not r.within_cited_range else "at the edge of its allowed range")
            + f" [{r.cited_lower}, {r.cited_upper}]" for r in flagged.itertuples()))
    else:
        lines.append("No parameter ended outside (or at the edge of) its cited range.")
    if hasattr(full, "profiles_") and full.profiles_:
        from nephrosim.figures import subplots
        n = len(full.profiles_)
        fig, axes = subplots(1, n, figsize=(3.6 * n, 3.0), squeeze=False)
        for k, (name, prof) in enumerate(full.profiles_.items()):
            ax = axes[0][k]
            ax.plot(prof["value"], prof["delta_nll"], "o-", ms=3)
            ax.axhline(1.92, color="r", ls="--", lw=1)
            ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
            ax.set_xlabel(name, fontsize=8)
            ax.set_ylabel("ΔNLL")
        fig.tight_layout()
        fig.savefig(out / "profiles.png", dpi=110)
        lines += ["", "![profile likelihoods](profiles.png)", ""]
    else:
        lines += ["", "Profile curves: not in this calibration folder (`calibrate --profile` saves them in "
                      "`result.json`); the intervals above are those it saved.", ""]
    fit = p.data_frame(full.x_)
    fit["model / data"] = fit["model"] / fit["mean"]
    lines += ["## Fit and held-out prediction per study", "",
              "Fit at the estimate, each study with its own lab effect (random effects at their estimates):", "",
              _md_table(fit[["study", "arm", "readout", "time_h", "mean", "se", "model", "model / data"]]), ""]
    for sid in p.study_ids:
        png = f"study_{sid}.png"
        _plot_study(full, cv, sid, out / png)
        lines += [f"### {sid}", "", f"![{sid}]({png})", ""]
    if cv is not None:
        lines += ["## Leave-one-study-out cross-validation", ""]
        t = cv.table
        if "covered" in t and t["covered"].notna().any():
            lines.append(f"Coverage of the held-out means by the {int(cv.level * 100)} % prediction interval: "
                         f"**{cv.coverage:.0%}** ({int(t['covered'].sum())}/{int(t['covered'].notna().sum())}).")
            err = t["relative_error"].abs()
            lines.append(f"Held-out prediction error (prediction / reported mean − 1): median |error| "
                         f"**{err.median():.0%}**, largest {err.max():.0%}.")
            lines += ["", _md_table(cv.coverage_by_study().rename("coverage").reset_index()), ""]
            cols = [c for c in ("study", "entry", "arm", "readout", "time_h", "mean", "se", "prediction",
                                "relative_error", "pi_lower", "pi_upper", "covered") if c in t]
            lines += [_md_table(t[cols].dropna(subset=["readout"])), ""]
        if "error" in t:
            for r in t.dropna(subset=["error"]).itertuples():
                lines.append(f"- {r.study}: not validated — {r.error}")
    path = out / "report.md"
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path
