"""Shared small calibration problems (creatinine kinetics, rat, clearance_change)."""

from __future__ import annotations

TRUE = {"creatinine_production_mg_per_kg_h": 1.7, "tbw_fraction": 0.66, "gfr_ml_min_per_kg": 6.5}


def small_config(n_starts: int = 3, seed: int = 0, random_effects=()) -> dict:
    """Two rat studies: a severe and a moderate transient clearance loss (same model structure,
    so the problem also exports to PEtab).

    SCr and BUN at several times plus measured GFR identify production, body water and GFR.
    """
    def study(sid, injury, times, gfr_times=()):
        obs = [{"readout": r, "time_h": t, "mean": 1.0, "sd": 0.1, "n": 8}
               for r in ("serum_creatinine", "bun") for t in times]
        # measured GFR (e.g. inulin clearance) fixes the absolute clearance; without it only
        # production/GFR and body water/GFR are identifiable
        obs += [{"readout": "gfr", "time_h": t, "mean": 1.0, "sd": 0.1, "n": 8, "unit": "mL/min"}
                for t in gfr_times]
        return {"id": sid, "citation": "synthetic", "mapping": "synthetic data from known parameters",
                "scenario": {"species": "rat", "injury": injury}, "observations": obs}

    return {
        "name": "synthetic_creatinine_rat",
        "parameters": [{"name": n} for n in TRUE],
        "random_effects": list(random_effects),
        "studies": [
            study("severe", {"model": "clearance_change", "fraction": 0.85, "onset_h": 0.0, "duration_h": 36.0,
                             "recovery_h": 60.0}, [0.0, 4.0, 12.0, 24.0, 60.0, 120.0], gfr_times=[0.0, 24.0]),
            study("moderate", {"model": "clearance_change", "fraction": 0.5, "duration_h": 72.0, "recovery_h": 48.0},
                  [0.0, 6.0, 18.0, 48.0, 96.0]),
        ],
        "fit": {"n_starts": n_starts, "seed": seed},
    }




def kept_run(name: str):
    """A formal fit kept in the repository: ``(config, run, problem)`` for ``calibration/<name>.yaml``
    and its run ``calibration/runs/<name>/calibrated.json``."""
    import json
    from pathlib import Path

    from nephrosim.calibration import CalibrationProblem, load_config

    root = Path(__file__).resolve().parents[2]
    config = load_config(root / "calibration" / f"{name}.yaml")
    run = json.loads((root / "calibration" / "runs" / name / "calibrated.json").read_text(encoding="utf-8"))
    return config, run, CalibrationProblem(config)


def assert_run_belongs(run: dict, config, problem, n_observations: int, study: str, evidence_id: str) -> None:
    """The kept run was made from this config (digest, seed) and from the data it builds today."""
    assert run["config_digest"] == config.digest() and run["seed"] == config.fit.seed
    assert run["evidence"]["digest"] == problem.evidence_digest()
    assert run["evidence"]["n_observations"] == problem.n_observations == n_observations
    assert list(run["studies"]) == [study] and evidence_id in run["evidence"]["studies"][study]
