"""The batch engine's SIMD exp/log/pow against libm called lane by lane, on the same models.

Issue 15: libm's ``pow``, called one lane at a time, was about 30 % of the batch solve. The
generated C now computes exp, log and pow of all four lanes at once
(:data:`nephrosim.engine.batch.codegen._SIMD_EXP_LOG_POW`). This benchmark builds every model
twice in one run — as shipped, and with the previous lane-by-lane libm functions (each in its
own temporary build cache, so neither touches the user's cache) — and prints, interleaved over
repeats, the CPU time per patient of one ``run_batch`` call on one thread, the ratio, and the
largest relative difference of any output between the two builds (the price in accuracy).

Run:  python benchmarks/simd_math.py [--patients 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

from nephrosim.engine.batch import codegen, compiled
from nephrosim.run.ensemble.priors import donor_priors, draw, priors_from_table, varied_parameters
from nephrosim.run.simulation import as_scenario, compile_arm, solver_options

#: the lane-by-lane libm functions the generated C used before the SIMD ones
LIBM_LANES = "\n".join(
    [f"static inline vd v{f}(vd a) {{ vd r; for (int l = 0; l < LANES; l++) r[l] = {f}(a[l]); return r; }}"
     for f in ("exp", "log")]
    + ["static inline vd vpow(vd a, vd b) { vd r; for (int l = 0; l < LANES; l++) r[l] = pow(a[l], b[l]); "
       "return r; }"])

CASES = (("examples/mouse_iri.yaml", "vehicle"), ("examples/head_to_head_mouse_iri.yaml", "msc"),
         ("examples/head_to_head_mouse_iri.yaml", "ev"), ("examples/rat_cisplatin.yaml", None),
         ("examples/human_cardiac_surgery.yaml", None))


def _simulators(scenario, arm):
    """(program, shipped simulator, libm simulator): built in separate temporary caches."""
    program = compile_arm(scenario, arm)
    options = solver_options(scenario, check_states="final").model_copy(update={"engine": "batch", "threads": 1})
    old_cache, old_header = os.environ.get("NEPHROSIM_BATCH_CACHE"), codegen._SIMD_EXP_LOG_POW
    sims = []
    try:
        for header in (old_header, LIBM_LANES):
            codegen._SIMD_EXP_LOG_POW = header
            os.environ["NEPHROSIM_BATCH_CACHE"] = tempfile.mkdtemp(prefix="nephrosim-simd-bench-")
            compiled._LOADED.clear()  # both builds share a key (the generator's file is unchanged)
            sims.append(program.simulator(options))
    finally:
        codegen._SIMD_EXP_LOG_POW = old_header
        compiled._LOADED.clear()
        if old_cache is None:
            os.environ.pop("NEPHROSIM_BATCH_CACHE", None)
        else:
            os.environ["NEPHROSIM_BATCH_CACHE"] = old_cache
    return program, *sims


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print(f"{args.patients} patients per call, 1 thread, {args.repeats} interleaved repeats; CPU µs per patient "
          "(median [min–max])")
    print(f"{'scenario / arm':44s} {'SIMD exp/log/pow':>22s} {'libm lane by lane':>22s} {'speed-up':>9s} "
          f"{'max rel diff':>13s}")
    for path, arm in CASES:
        scenario = as_scenario(path)
        arm = arm or scenario.arms[0].name
        program, simd, libm = _simulators(scenario, arm)
        priors = [p for p in priors_from_table(varied_parameters(scenario), 0.3, "lognormal")
                  + donor_priors(scenario) if p.name in program.parameter_values]
        names = [p.name for p in priors]
        times = np.asarray(scenario.times_h, dtype=float)
        cost = {"simd": [], "libm": []}
        diff = 0.0
        for r in range(args.repeats):
            values = draw(priors, r * args.patients, (r + 1) * args.patients, args.seed)
            out = {}
            for label, sim in (("simd", simd), ("libm", libm)) if r % 2 == 0 else (("libm", libm), ("simd", simd)):
                c = time.process_time()
                out[label] = sim.run_batch(times, names, values)
                cost[label].append((time.process_time() - c) / args.patients * 1e6)
            a, b = out["simd"][0], out["libm"][0]
            ok = np.array([s.ok for s in out["simd"][1]]) & np.array([s.ok for s in out["libm"][1]])
            with np.errstate(all="ignore"):
                rel = np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-9)
            diff = max(diff, float(np.nanmax(rel)) if rel.size else 0.0)
        s, m = (statistics.median(cost[k]) for k in ("simd", "libm"))
        span = {k: f"{statistics.median(v):7.1f} [{min(v):.0f}–{max(v):.0f}]" for k, v in cost.items()}
        print(f"{path.removeprefix('examples/') + ' / ' + arm:44s} {span['simd']:>22s} {span['libm']:>22s} "
              f"{m / s:8.2f}x {diff:13.1e}")


if __name__ == "__main__":
    main()
