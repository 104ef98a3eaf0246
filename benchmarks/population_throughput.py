"""Virtual-population throughput of the batch engine: 1 vs 2 threads, and vs a libRoadRunner loop.

Printed in one run (issue 15):

1. **Engine** — one ``BatchSimulator.run_batch`` call per batch, ``threads`` = 1 and 2,
   interleaved with a plain libRoadRunner loop (set parameters, reset, simulate — the least any
   tool must do) on the *same SBML*, the same parameter sets and tolerances. Per repeat: wall
   and CPU time per patient, patients/s, and the parallel efficiency
   ``rate(2 threads) / (2 × rate(1 thread))`` (wall clock: on a shared machine another user's
   job on the second core lowers it; the CPU-time ratio ``cpu(1) / cpu(2)`` shows whether
   threading itself adds work). Medians (and min/max) over the repeats.
2. **Ratio to libRoadRunner**: libRoadRunner µs per patient / batch µs per patient, for one
   thread (CPU time against CPU time) and for the two-thread wall-clock throughput.
3. **End to end** — ``nephrosim.ensemble`` (the serial executor, ``solver.threads`` = 1 and 2;
   draws, unit conversion, status checks, Parquet chunks and the final file included), µs per
   patient with the time spent in its parts (C solve: wall; draws, chunk writes and appending
   them to the final file: CPU of the thread that runs them — background threads since issue
   15, overlapping the solve), the
   start-up (compiling the arms, once per run), and the projection to 10^6 patients
   (start-up + 10^6 × the per-patient time). ``--compare-overlap`` also runs, interleaved, the
   same code with chunks drawn and written in the main thread between C calls.

The load average is printed before and after, and the cores other processes kept busy during
the timed runs (from ``/proc/stat``): on 2 cores, one core held by another user's job halves
the 2-thread wall-clock figures. Run it 2–3 times.

Run:  python benchmarks/population_throughput.py [--scenario examples/mouse_iri.yaml] [--arm vehicle]
          [--patients 2000] [--rr-patients 200] [--repeats 3] [--ensemble 20000] [--chunk-size N]
          [--compare-overlap] [--skip-engine]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from nephrosim.engine.batch import compiled
from nephrosim.engine.batch.codegen import LANES
from nephrosim.engine.batch.simulator import BatchSimulator, usable_cores
from nephrosim.run.ensemble.priors import donor_priors, draw, priors_from_table, varied_parameters
from nephrosim.run.simulation import as_scenario, compile_arm, solver_options


def _busy_cpu_s() -> float:
    """CPU seconds all processes on this machine have used (Linux /proc/stat; NaN elsewhere)."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()[1:]
    except OSError:
        return float("nan")
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


#: cores other processes kept busy during each timed run: (label, cores)
OTHERS: list[tuple[str, float]] = []


def _timed(f, label: str = ""):
    b, w, c = _busy_cpu_s(), time.perf_counter(), time.process_time()
    result = f()
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    OTHERS.append((label, max(0.0, (_busy_cpu_s() - b - cpu) / wall)))
    return result, wall, cpu


def roadrunner_loop(program, options, names, values, times):
    """A plain libRoadRunner loop over the patients (its model is loaded outside the timing)."""
    import roadrunner

    roadrunner.Logger.setLevel(roadrunner.Logger.LOG_FATAL)
    rr = roadrunner.RoadRunner(program.sbml)
    rr.integrator.relative_tolerance = options.rtol
    rr.integrator.absolute_tolerance = [options.atol * float(program.state_scales.get(s, 1.0))
                                        for s in rr.model.getFloatingSpeciesIds()]
    rr.integrator.maximum_num_steps = options.max_steps
    rr.timeCourseSelections = ["time", *program.outputs]
    model_times = [t - program.start_h for t in times]

    def run():
        for row in values:
            rr.setValues(names, row)
            rr.reset()
            rr.simulate(times=model_times)

    return run


def engine(scenario, arm: str, patients: int, rr_patients: int, repeats: int, seed: int) -> dict:
    program = compile_arm(scenario, arm)
    options = solver_options(scenario, check_states="final").model_copy(update={"engine": "batch"})
    priors = [p for p in priors_from_table(varied_parameters(scenario), 0.3, "lognormal") + donor_priors(scenario)
              if p.name in program.parameter_values]
    names = [p.name for p in priors]
    times = np.asarray(scenario.times_h, dtype=float)
    sims = {t: program.simulator(options.model_copy(update={"threads": t})) for t in (1, 2)}
    rows = {1: [], 2: [], "rr": []}
    for r in range(repeats):
        values = draw(priors, r * patients, (r + 1) * patients, seed)
        for t, sim in sims.items():
            (_, status), wall, cpu = _timed(lambda: sim.run_batch(times, names, values), f"engine {t}")
            rows[t].append((wall / patients, cpu / patients, sum(not s.ok for s in status)))
        rr = roadrunner_loop(program, options, names, values[:rr_patients], times)
        _, wall, cpu = _timed(rr, "engine rr")
        rows["rr"].append((wall / rr_patients, cpu / rr_patients, 0))
    med = {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for k, v in rows.items()}
    eff = [a[0] / (2 * b[0]) for a, b in zip(rows[1], rows[2])]
    cpu_ratio = [a[1] / b[1] for a, b in zip(rows[1], rows[2])]
    return dict(states=len(sims[1].state_ids), med=med, eff=eff, cpu_ratio=cpu_ratio,
                failures={k: sum(x[2] for x in v) for k, v in rows.items() if k != "rr"})


class _Synchronous:
    """The ensemble as before issue 15's overlap: each chunk written, and the next one drawn, in turn."""

    class Writer:
        def __init__(self, save=None, depth=1, then=None):
            from nephrosim.run.ensemble import storage

            self._save, self._then = save or storage.save_chunk, then

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def put(self, path, result):
            self._save(path, result)
            if self._then is not None:
                self._then()

    class Ahead:
        def __init__(self, jobs):
            self._jobs = jobs

        def __enter__(self):
            return iter(self._jobs)

        def __exit__(self, *exc):
            return None


def end_to_end(scenario, samples: int, chunk_size: int | None, threads: int, seed: int,
               overlap: bool = True) -> dict:
    """One ``ensemble`` run; the time of its parts measured by wrapping them (``overlap=False``:
    chunks written and drawn in the main thread, between C calls, as before issue 15)."""
    import importlib

    package = importlib.import_module("nephrosim.run.ensemble")  # the module (the package exports a function of that name)
    from nephrosim import ensemble
    from nephrosim.run.ensemble import executors, storage

    spent = {"solve": 0.0, "draw": 0.0, "save": 0.0, "final": 0.0, "start-up": 0.0}

    def timed(name, f, clock=time.perf_counter):
        def wrapper(*args, **kwargs):
            t0 = clock()
            try:
                return f(*args, **kwargs)
            finally:
                spent[name] += clock() - t0
        return wrapper

    scenario = scenario.model_copy(update={"solver": scenario.solver.model_copy(
        update={"engine": "batch", "threads": threads})})
    patches = [(BatchSimulator, "_solve", timed("solve", BatchSimulator._solve)),
               # draws and chunk writes may run in background threads: their own thread's CPU time
               (package, "draw", timed("draw", package.draw, time.thread_time)),
               (storage, "save_chunk", timed("save", storage.save_chunk, time.thread_time)),
               (storage.Assembler, "advance", timed("final", storage.Assembler.advance, time.thread_time)),
               (executors, "_init_worker", timed("start-up", executors._init_worker))]
    if not overlap:
        patches += [(storage, "ChunkWriter", _Synchronous.Writer), (executors, "prefetched", _Synchronous.Ahead)]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            summary, wall, cpu = _timed(lambda: ensemble(scenario, samples, Path(tmp) / "population.parquet",
                                                         seed=seed, chunk_size=chunk_size, workers=1),
                                        f"ensemble {threads}")
    finally:
        for owner, name, value in originals:
            setattr(owner, name, value)
    return dict(wall=wall, cpu=cpu, spent=spent, counts=dict(summary.status_counts))


def engine_figures(scenario, arm, args, us) -> None:
    r = engine(scenario, arm, args.patients, args.rr_patients, args.repeats, args.seed)
    print(f"\n1. engine: {args.patients} patients per call, {args.rr_patients} per libRoadRunner loop, "
          f"{args.repeats} interleaved repeats, medians; {r['states']} states; failed patients "
          f"1 thread {r['failures'][1]}, 2 threads {r['failures'][2]}")
    print(f"{'':24s} {'wall µs/patient':>16s} {'CPU µs/patient':>15s} {'patients/s':>11s} {'10^6 patients':>14s}")
    for key, label in ((1, "batch, 1 thread"), (2, "batch, 2 threads"), ("rr", "libRoadRunner loop")):
        wall, cpu = r["med"][key]
        print(f"{label:24s} {us(wall):16.1f} {us(cpu):15.1f} {1 / wall:11.0f} {1e6 * wall / 60:11.1f} min")
    eff = r["eff"]
    print(f"parallel efficiency (wall, 2 threads): median {100 * statistics.median(eff):.1f} % "
          f"(min {100 * min(eff):.1f}, max {100 * max(eff):.1f}); CPU time 1 thread / 2 threads: "
          f"{statistics.median(r['cpu_ratio']):.3f}")
    rr_cpu, rr_wall = r["med"]["rr"][1], r["med"]["rr"][0]
    print(f"\n2. ratio to libRoadRunner: 1 thread (CPU/CPU) {rr_cpu / r['med'][1][1]:.1f}x; "
          f"2 threads (wall throughput) {rr_wall / r['med'][2][0]:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="examples/mouse_iri.yaml")
    ap.add_argument("--arm", default=None, help="arm for the engine comparison (default: the first)")
    ap.add_argument("--patients", type=int, default=2000, help="patients per batch-engine call")
    ap.add_argument("--rr-patients", type=int, default=200, help="patients per libRoadRunner loop")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ensemble", type=int, default=20000, help="patients of the end-to-end ensemble (0: skip)")
    ap.add_argument("--chunk-size", type=int, default=None, help="end to end (default: the batch engine's, "
                    "nephrosim.run.ensemble.BATCH_CHUNK)")
    ap.add_argument("--compare-overlap", action="store_true",
                    help="end to end: also run with chunks drawn and written between C calls, interleaved")
    ap.add_argument("--skip-engine", action="store_true", help="only the end-to-end part")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    scenario = as_scenario(args.scenario)
    arm = args.arm or scenario.arms[0].name
    load0 = os.getloadavg()
    print(f"{args.scenario} arm {arm}; usable cores {usable_cores()}; load average before "
          f"{load0[0]:.2f} / {load0[1]:.2f} / {load0[2]:.2f} (1 / 5 / 15 min)")
    print(f"batch build: {compiled.CODEGEN_VERSION}, {LANES} patients per thread in SIMD lanes, "
          f"{compiled.CC} {' '.join(compiled.cflags())}")
    us = lambda s: 1e6 * s  # noqa: E731
    if not args.skip_engine:
        engine_figures(scenario, arm, args, us)
    if args.ensemble:
        chunk = args.chunk_size or "the batch engine's default"
        modes = (True, False) if args.compare_overlap else (True,)
        print(f"\n3. end to end: nephrosim.ensemble, {args.ensemble} patients, chunks of {chunk}, 1 process, "
              f"{args.repeats} interleaved repeats, medians; µs per patient; start-up (compiling the arms) is "
              "left out of the per-patient figures and added once to the 10^6 projection")
        print(f"{'':34s} {'wall':>6s} {'CPU':>6s} {'solve':>6s} {'draw':>5s} {'save':>5s} {'final':>5s} "
              f"{'start s':>7s} {'10^6 patients':>14s}")
        end_to_end(scenario, 200, None, 1, args.seed)  # warm-up: imports (pyarrow.parquet, …) and caches
        OTHERS.clear()
        runs: dict = {}
        for _ in range(args.repeats):
            for threads in (1, 2):
                for overlap in modes:
                    e = end_to_end(scenario, args.ensemble, args.chunk_size, threads, args.seed, overlap)
                    runs.setdefault((threads, overlap), []).append(e)
        for (threads, overlap), es in runs.items():
            med = lambda f: statistics.median(f(e) for e in es)  # noqa: E731
            start = med(lambda e: e["spent"]["start-up"])
            per = lambda key: med(lambda e: e[key] - e["spent"]["start-up"]) / args.ensemble  # noqa: E731
            part = lambda key: us(med(lambda e: e["spent"][key]) / args.ensemble)  # noqa: E731
            label = f"threads = {threads}" + ("" if overlap else ", no background threads")
            print(f"{label:34s} {us(per('wall')):6.1f} {us(per('cpu')):6.1f} {part('solve'):6.1f} {part('draw'):5.1f} "
                  f"{part('save'):5.1f} {part('final'):5.1f} {start:7.2f} "
                  f"{(start + 1e6 * per('wall')) / 60:11.2f} min   {es[0]['counts']}")
    load1 = os.getloadavg()
    print(f"\nload average after {load1[0]:.2f} / {load1[1]:.2f} / {load1[2]:.2f}")
    busy = {}
    for label, cores in OTHERS:
        busy.setdefault(label, []).append(cores)
    print("cores kept busy by other processes during the timed runs (median; > 0.2 makes the 2-thread wall "
          "figures unreliable): " + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in busy.items()))


if __name__ == "__main__":
    main()
