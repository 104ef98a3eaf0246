"""Batch engine vs libRoadRunner: same-run CPU-time ratios and readout agreement.

For each case (scenario, arm) both engines simulate the same random parameter sets (the
ensemble's own priors: log-normal, CV 0.3, truncated to the table's range) at the
scenario's tolerances (rtol 1e-6, atol 1e-9 in the examples). The runs are interleaved —
roadrunner, batch, roadrunner, batch, ... — and the CPU time (``time.process_time``) of
each is taken, so a busy shared machine slows both alike. Printed per case:

* ``speedup`` = roadrunner CPU time / batch CPU time for the same patients, min and
  median over the repeats (> 1: the batch engine is faster);
* per-simulation CPU time of each engine (median);
* ``max rel diff``: the largest relative difference of any readout at any output time
  between the engines (|Δ| > 1e-9 only), over patients that both report ok;
* ``vs tight rr / b``: the same for each engine against libRoadRunner at rtol 1e-8,
  atol 1e-14 (× state scale) on the first 10 patients — which engine the difference is from;
* compile time of the batch model (first build; later runs load it from the disk cache).

Run:  python benchmarks/engine_vs_roadrunner.py [--patients 40] [--repeats 3]
      python benchmarks/engine_vs_roadrunner.py --agreement [--patients 5]
        (every arm of every example: both engines at rtol 1e-8, atol 1e-14; readouts that
        differ by more than 1e-4 relative and 1e-9 absolute are counted as "bad")
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from nephrosim.engine.batch.simulator import BatchSimulator
from nephrosim.run.ensemble.priors import draw, priors_from_table, varied_parameters
from nephrosim.run.simulation import as_scenario, compile_arm, solver_options

CASES = (
    ("examples/mouse_iri.yaml", "vehicle"),
    ("examples/head_to_head_mouse_iri.yaml", "msc"),
    ("examples/head_to_head_mouse_iri.yaml", "conditioned_medium"),
    ("examples/head_to_head_mouse_iri.yaml", "ev"),
    ("examples/rat_cisplatin.yaml", "vehicle"),
    ("examples/human_cardiac_surgery.yaml", "vehicle"),
)


def case(path: str, arm: str, patients: int, repeats: int, seed: int = 1) -> dict:
    scenario = as_scenario(path)
    program = compile_arm(scenario, arm)
    options = solver_options(scenario, check_states="final")  # as in ensembles
    times = np.asarray(scenario.times_h, dtype=float)
    priors = [p for p in priors_from_table(varied_parameters(scenario), 0.3, "lognormal")
              if p.name in program.parameter_values]
    names = [p.name for p in priors]
    t0 = time.perf_counter()
    # same per-state scales as rr; one thread, as libRoadRunner (threads: benchmarks/population_throughput.py)
    batch = program.simulator(options.model_copy(update={"engine": "batch", "threads": 1}))
    load_s = time.perf_counter() - t0
    rr = program.simulator(options)
    rr_times, b_times, diffs, fails = [], [], [], [0, 0]
    for r in range(repeats):
        values = draw(priors, r * patients, (r + 1) * patients, seed)
        c0 = time.process_time()
        ref, ref_st = rr.run_batch(times, names, values)
        c1 = time.process_time()
        out, st = batch.run_batch(times, names, values)
        c2 = time.process_time()
        rr_times.append(c1 - c0)
        b_times.append(c2 - c1)
        both = np.array([a.ok and b.ok for a, b in zip(ref_st, st)])
        fails[0] += sum(not s.ok for s in ref_st)
        fails[1] += sum(not s.ok for s in st)
        d = np.abs(out[both] - ref[both])
        rel = np.where(d > 1e-9, d / np.maximum(np.abs(ref[both]), 1e-300), 0.0)
        diffs.append(float(rel.max(initial=0.0)))
    tight = program.simulator(options.model_copy(update={"rtol": 1e-8, "atol": 1e-14}))
    first = draw(priors, 0, min(10, patients), seed)
    ref_tight, _ = tight.run_batch(times, names, first)
    vs_tight = []
    for engine in (rr, batch):
        got, _ = engine.run_batch(times, names, first)
        d = np.abs(got - ref_tight)
        with np.errstate(divide="ignore", invalid="ignore"):
            vs_tight.append(float(np.nanmax(np.where(d > 1e-9, d / np.abs(ref_tight), 0.0))))
    ratio = np.array(rr_times) / np.array(b_times)
    return dict(case=f"{scenario.name}:{arm}", speedup_min=ratio.min(), speedup_median=float(np.median(ratio)),
                rr_ms=1e3 * float(np.median(rr_times)) / patients, batch_ms=1e3 * float(np.median(b_times)) / patients,
                max_rel=max(diffs), vs_tight=vs_tight, failures=tuple(fails), load_s=load_s, n_states=len(batch.state_ids))


def agreement(patients: int, seed: int = 3) -> None:
    """Every arm of every example, both engines at rtol 1e-8 / atol 1e-14, random parameter sets."""
    import glob

    from nephrosim.engine.simulator import SolverOptions, Simulator
    from nephrosim.run.simulation import compile_scenario

    tight = SolverOptions(rtol=1e-8, atol=1e-14)
    for path in sorted(glob.glob("examples/*.yaml")):
        scenario = as_scenario(path)
        table = priors_from_table(varied_parameters(scenario), 0.3, "lognormal")
        times = np.asarray(scenario.times_h, dtype=float)
        for program in compile_scenario(scenario):
            priors = [p for p in table if p.name in program.parameter_values]
            names, values = [p.name for p in priors], draw(priors, 0, patients, seed)
            kw = dict(start_time=program.start_h, state_scales=program.state_scales)
            ref, ref_st = Simulator(program.sbml, program.outputs, tight, **kw).run_batch(times, names, values)
            out, st = BatchSimulator(program.sbml, program.outputs, tight, **kw).run_batch(times, names, values)
            d = np.abs(out - ref)
            bad = (d > 1e-9) & (d > 1e-4 * np.abs(ref))
            with np.errstate(divide="ignore", invalid="ignore"):
                worst = float(np.nanmax(np.where(d > 1e-9, d / np.abs(ref), 0.0)))
            codes = (sorted({x.code for x in ref_st}), sorted({x.code for x in st}))
            print(f"{path}:{program.arm:24s} status rr={codes[0]} batch={codes[1]} bad={int(bad.sum())} "
                  f"max rel diff={worst:.2e}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--agreement", action="store_true", help="check every example arm instead of timing")
    args = ap.parse_args()
    if args.agreement:
        return agreement(args.patients)
    print(f"{args.patients} patients x {args.repeats} interleaved repeats per case, 1 process, CPU time\n")
    head = (f"{'case':42s} {'states':>6s} {'speedup min':>11s} {'median':>7s} {'rr ms/sim':>9s} {'batch ms/sim':>12s} "
            f"{'max rel diff':>12s} {'vs tight rr / b':>19s} {'fail rr/b':>9s} {'load s':>6s}")
    print(head)
    for path, arm in CASES:
        r = case(path, arm, args.patients, args.repeats)
        print(f"{r['case']:42s} {r['n_states']:6d} {r['speedup_min']:11.2f} {r['speedup_median']:7.2f} "
              f"{r['rr_ms']:9.2f} {r['batch_ms']:12.3f} {r['max_rel']:12.2e} "
              f"{r['vs_tight'][0]:9.2e}/{r['vs_tight'][1]:<9.2e} "
              f"{r['failures'][0]:>4d}/{r['failures'][1]:<4d} {r['load_s']:6.1f}", flush=True)


if __name__ == "__main__":
    main()
