"""Ensemble throughput: nephrosim (1 and 2 workers) vs a plain libRoadRunner loop.

Run:  python benchmarks/ensemble_throughput.py [--samples 10000] [--scenario examples/...]

The plain loop runs the *same SBML* with the *same parameter sets* and tolerances:
set parameters, reset, simulate at the scenario's times — the minimum any tool must
do. nephrosim additionally draws the samples, converts units, checks states, and
streams Parquet chunks to disk. Printed: seconds per simulation (one arm, one
sample), parallel efficiency on 2 workers, and nephrosim's overhead over the loop.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def plain_loop(scenario, samples: int, seed: int, cv: float) -> tuple[float, int]:
    import roadrunner

    from nephrosim.run.ensemble import donor_priors, draw, priors_from_table, varied_parameters
    from nephrosim.run.simulation import compile_arm

    roadrunner.Logger.setLevel(roadrunner.Logger.LOG_FATAL)
    varied = varied_parameters(scenario)
    # the same parameter sets nephrosim's ensemble draws, donors of treated arms included
    priors = priors_from_table(varied, cv, "lognormal") + donor_priors(scenario)
    names = [p.name for p in priors]
    matrix = draw(priors, 0, samples, seed)
    elapsed, sims = 0.0, 0
    for arm in scenario.arms:
        program = compile_arm(scenario, arm.name)
        t0 = time.perf_counter()  # loading the SBML is part of any loop's work
        rr = roadrunner.RoadRunner(program.sbml)
        rr.integrator.relative_tolerance = scenario.solver.rtol
        rr.integrator.absolute_tolerance = scenario.solver.atol
        rr.integrator.maximum_num_steps = scenario.solver.max_steps
        rr.timeCourseSelections = ["time", *program.outputs]
        # model time 0 is the first dose for arms dosed before the insult (program.start_h ≤ 0)
        times = [t - program.start_h for t in scenario.times_h]
        own = [j for j, n in enumerate(names) if n in program.parameter_values]
        own_names = [names[j] for j in own]
        sub = matrix[:, own]
        for row in sub:
            rr.setValues(own_names, row)
            rr.reset()
            rr.simulate(times=times)
        elapsed += time.perf_counter() - t0
        sims += samples
    return elapsed, sims


def nephrosim_run(scenario_path, samples: int, seed: int, cv: float, workers: int) -> float:
    from nephrosim import ensemble

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ensemble(scenario_path, samples, Path(tmp) / "bench.parquet", seed=seed, cv=cv, workers=workers)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--scenario", default="examples/mouse_clearance_drop.yaml")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cv", type=float, default=0.3)
    args = ap.parse_args()

    from nephrosim import load_scenario

    scenario = load_scenario(args.scenario)
    n_arms = len(scenario.arms)
    plain_s, sims = plain_loop(scenario, args.samples, args.seed, args.cv)
    one = nephrosim_run(args.scenario, args.samples, args.seed, args.cv, workers=1)
    two = nephrosim_run(args.scenario, args.samples, args.seed, args.cv, workers=2)
    per = lambda s: 1e3 * s / (args.samples * n_arms)  # noqa: E731
    print(f"scenario {args.scenario}: {args.samples} samples x {n_arms} arms = {sims} simulations")
    print(f"plain libRoadRunner loop      : {per(plain_s):.3f} ms/simulation ({plain_s:.1f} s)")
    print(f"nephrosim ensemble, 1 worker  : {per(one):.3f} ms/simulation ({one:.1f} s)")
    print(f"nephrosim ensemble, 2 workers : {per(two):.3f} ms/simulation ({two:.1f} s)")
    print(f"parallel efficiency (2 workers): {100 * one / (2 * two):.1f} %   (floor 85 %)")
    print(f"overhead over plain loop       : {100 * (one / plain_s - 1):.1f} %   (ceiling 10 %)")


if __name__ == "__main__":
    main()
