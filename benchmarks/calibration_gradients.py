"""Calibration gradients: exact forward sensitivities vs central finite differences vs pyPESTO.

Run:  python benchmarks/calibration_gradients.py [--config calibration/default.yaml]

Without --config it uses the synthetic creatinine-kinetics problem of the tests
(rat, clearance_change, 3 parameters, 24 observations). Printed, at the nominal point:
the seconds of one objective, of one objective+gradient by forward sensitivities
(augmented SBML under CVODE) and of a central-difference gradient (2·P objectives);
the largest relative gradient difference; pyPESTO's (roadrunner) objective and its
relative difference to nephrosim's, where the problem can be exported to PEtab.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=None)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    from nephrosim.calibration import CalibrationProblem, as_config, load_config, synthesize

    if args.config:
        cfg = load_config(args.config)
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "calibration"))
        from calib_problems import TRUE, small_config

        cfg = synthesize(as_config(small_config()), TRUE, seed=1)
    t0 = time.perf_counter()
    problem = CalibrationProblem(cfg).warm_up()
    build = time.perf_counter() - t0
    x = problem.x_nominal
    problem.nll_and_grad(x)

    def timed(fn):
        t = time.perf_counter()
        for _ in range(args.repeat):
            out = fn()
        return (time.perf_counter() - t) / args.repeat, out

    t_f, _ = timed(lambda: problem.nll(x))
    t_g, (f, g) = timed(lambda: problem.nll_and_grad(x))

    def central():
        out = np.zeros(problem.dim)
        for i in range(problem.dim):
            e = np.zeros(problem.dim)
            e[i] = 1e-5
            out[i] = (problem.nll(x + e) - problem.nll(x - e)) / 2e-5
        return out

    t_fd, fd = timed(central)
    rel = np.max(np.abs(fd - g) / np.abs(fd))
    print(f"problem {cfg.name}: {problem.dim} parameters, {problem.n_observations} observations, "
          f"{len(problem.experiments)} experiments; build (sympy + LLVM) {build:.2f} s")
    print(f"objective value                 {f:.10g}")
    print(f"objective only                  {t_f * 1e3:8.2f} ms")
    print(f"objective + exact gradient      {t_g * 1e3:8.2f} ms")
    print(f"central-difference gradient     {t_fd * 1e3:8.2f} ms  ({2 * problem.dim} objectives)")
    print(f"max relative gradient difference {rel:.2e}")
    try:
        from nephrosim.calibration.petab_io import export_petab, pypesto_objective

        with tempfile.TemporaryDirectory() as tmp:
            path = export_petab(cfg, tmp)
            obj, _ = pypesto_objective(path, rtol=cfg.solver.rtol, atol=cfg.solver.atol)
            t_p, fp = timed(lambda: float(obj(x)))
        print(f"pyPESTO (roadrunner) objective  {fp:.10g}  rel. diff {abs(fp - f) / abs(f):.2e}, "
              f"{t_p * 1e3:.2f} ms")
    except Exception as exc:  # noqa: BLE001 — report, don't fail the benchmark
        print(f"pyPESTO comparison skipped: {type(exc).__name__}: {exc}")


if __name__ == "__main__":
    main()
