"""One function per ``nephrosim`` subcommand, so the CLI only parses arguments.

* ``nephrosim calibrate CONFIG.yaml --out DIR [--profile] [--report]`` → :func:`calibrate_command`
* ``nephrosim calibrate-targets SPEC.yaml --out DIR [--ship]``          → :func:`calibrate_targets_command`
* ``nephrosim validate --report DIR [--config CONFIG.yaml]``            → :func:`validate_command`
* ``nephrosim validate --held-out [--report DIR]``                      → :func:`validate_held_out_command`
* ``nephrosim export petab CONFIG.yaml -o DIR``                         → :func:`export_petab_command`
* ``nephrosim simulate SCENARIO --uncertainty DIR``                     → :func:`simulate_uncertainty_command`

Each returns plain data (a dict or a DataFrame) and raises
:class:`~nephrosim.calibration.config.CalibrationConfigError` with a message that
names the field and the fix.
"""

from __future__ import annotations

from pathlib import Path


def calibrate_command(config: str | Path, out: str | Path, *, profile: bool = False, report: bool = False,
                      petab: str | Path | None = None, progress: bool = True, ship: bool = False) -> dict:
    """Fit (resumably), optionally profile, export PEtab, write the validation report and
    write the estimates with their provenance to ``OUT/calibrated.json`` (``ship``), ready to replace
    ``src/nephrosim/biology/calibrated.json`` in a source checkout."""
    from nephrosim.calibration import calibrate, load_config

    cfg = load_config(config)
    cal = calibrate(cfg, out=out, progress=progress)
    if profile or report:
        cal.profile()
    if petab:
        from nephrosim.calibration.petab_io import export_petab

        export_petab(cfg, petab)
    report_path = None
    if report:
        from nephrosim.calibration.validation import cross_validate, write_report

        cv = cross_validate(cfg, full=cal, progress=progress)
        report_path = str(write_report(cal, cv, Path(out) / "report"))
    shipped = str(cal.ship(Path(out) / "calibrated.json")) if ship else None
    return {"nll": cal.nll_, "parameters": cal.parameters_, "random_effects": cal.random_effects_,
            "converged_to_best": f"{cal.n_converged()}/{len(cal.starts_)}",
            "intervals_95": getattr(cal, "intervals_", {}), "report": report_path, "shipped": shipped,
            "failed_evaluations": {r["start"]: (r.get("failed_evaluations", 0), r.get("failure_messages", []))
                                   for r in cal.starts_}}


def calibrate_targets_command(spec: str | Path, out: str | Path, *, ship: bool = False,
                              progress: bool = True) -> dict:
    """Fit a target calibration (:mod:`nephrosim.calibration.targets`); with ``ship`` also write
    ``OUT/<name>.json``, ready to be copied into ``src/nephrosim/biology/fitted/``."""
    from nephrosim.calibration.targets import fit_targets

    return _shipped(fit_targets(spec, out=out, progress=progress), out, ship)


def calibrate_population_command(spec: str | Path, out: str | Path, *, ship: bool = False,
                                 progress: bool = True) -> dict:
    """Fit a population calibration (:mod:`nephrosim.calibration.population`); with ``ship`` also write
    ``OUT/<name>.json``, ready to be copied into ``src/nephrosim/biology/fitted/``."""
    from nephrosim.calibration.population import fit_population

    return _shipped(fit_population(spec, out=out, progress=progress), out, ship)


def _shipped(result: dict, out: str | Path, ship: bool) -> dict:
    """With ``ship``, the result also as ``OUT/<name>.json`` (atomic), its path under ``shipped``."""
    import json

    from nephrosim.io import write_text_atomic

    if not ship:
        return result
    path = Path(out) / f"{result['name']}.json"
    write_text_atomic(path, json.dumps(result, indent=2) + "\n")
    return {**result, "shipped": str(path)}


def validate_command(out: str | Path, report_dir: str | Path | None = None, *, cv_starts: int = 3,
                     progress: bool = True) -> str:
    """Leave-one-study-out validation of a finished calibration folder; returns the report path.

    The report shows the fit's likelihood profiles when the folder saved them (``calibrate --profile``);
    they are never recomputed here (that is the slow part of a calibration, and silent), and the report
    says when they are absent."""
    from nephrosim.calibration.fit import Calibration
    from nephrosim.calibration.validation import cross_validate, write_report

    cal = Calibration.load(out)
    cv = cross_validate(cal.config_, full=cal, cv_starts=cv_starts, progress=progress)
    return str(write_report(cal, cv, report_dir or Path(out) / "report"))


def validate_held_out_command(report_dir: str | Path | None = None, *, n_draws: int = 100, seed: int = 0) -> dict:
    """Score the shipped calibration on the pre-registered held-out studies (``validation/held_out.yaml``);
    returns the summary numbers and, with ``report_dir``, the path of ``held_out.md``."""
    from nephrosim.calibration.held_out_report import validate_held_out, write_held_out_report

    result = validate_held_out(n_draws=n_draws, seed=seed)
    summary = result.summary()
    if report_dir is not None:  # the report also scores the in-sample publications, apart
        in_sample = validate_held_out(n_draws=n_draws, seed=seed, in_sample=True)
        Path(report_dir).mkdir(parents=True, exist_ok=True)
        summary["report"] = write_held_out_report(result, Path(report_dir) / "held_out.md", in_sample)
        summary["in_sample"] = in_sample.summary()
    summary["not_evaluable"] = result.not_evaluable
    return summary


def export_petab_command(config: str | Path, out_dir: str | Path) -> str:
    """Write the calibration problem as PEtab v1 (lint-checked); returns the YAML path."""
    from nephrosim.calibration.petab_io import export_petab

    return str(export_petab(config, out_dir))


def simulate_uncertainty_command(scenario, calibration_dir: str | Path, *, n: int = 200, method: str = "laplace",
                                 level: float = 0.95, seed: int = 0, new_study: bool = True):
    """Prediction intervals for ``scenario`` from a finished calibration folder, or from the
    shipped calibration (``calibration_dir="shipped"``); a DataFrame."""
    from nephrosim.calibration.fit import Calibration

    if str(calibration_dir) == "shipped":
        cal = Calibration.from_shipped()
    else:
        cal = Calibration.load(calibration_dir)
    draws = cal.sample(n, method=method, seed=seed)
    return cal.predict_interval(scenario, draws, level=level, new_study=new_study, seed=seed)
