"""Virtual-trial throughput: a two-arm trial of 10^3 and 10^4 virtual patients, libRoadRunner vs the batch engine.

What is timed (one process, the serial executor, end to end from ``run_trial``'s call):

* ``population`` — drawing and simulating every plausible patient untreated, then
  acceptance–rejection (the stage that grows with ``virtual_patients``);
* ``treated arms`` — the eligible pool simulated again under the MSC arm (compilation of the
  treated arm included: the first run of each engine in the process pays it);
* ``replicates`` — the statistics of the replicate trials (lifelines; independent of the
  population size);

Stage times come from ``run_trial``'s progress callback (``progress(done, total, stage)``).
Patients/s = simulated patients (plausible + treated pool) / (population + treated-arm time).
The 10^5 projection is linear in the patients simulated, with the per-patient cost taken from
the difference between the 10^4 and the 10^3 run (so compilation and replicate analysis, which
do not grow with the population, are counted once), plus the 10^4 run's fixed part.

The batch engine uses ``--batch-threads`` OpenMP threads per call (default: every usable core);
libRoadRunner runs on one. ``cpu_s`` is this process's CPU time.

Every compiled arm is built once per process before timing (a warm-up trial of 200 patients),
so the numbers are steady-state simulation cost, not LLVM/C compilation. The machine of the
recorded numbers (docs/trials.md) was shared and loaded: the load average is printed before and
after; compare engines only within one run.

**Dask scaling** (``--workers 1 2``): the same trial on a local Dask cluster
(``scheduler="local"``, the TLS ``LocalCluster`` of ``nephrosim trial --scheduler local``) with
1 and then 2 worker processes, batch engine, one thread per worker, at the largest size. The
speed-up from 1 to 2 workers, and the per-patient cost on one worker, give the projection to
10^7 virtual patients on a cluster of W workers: ``10^7 × cost / (W × efficiency)``, with the
efficiency measured here (the cluster's own scheduling overhead grows with W; this is an
estimate, not a measurement at scale). The cluster start-up is timed apart.

Run:  python benchmarks/trial_throughput.py [--sizes 1000 10000] [--replicates 20] [--engines roadrunner batch]
          [--chunk-patients 200] [--n-per-arm 20] [--batch-threads N] [--workers 1 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

#: The trial: SCr rise >= 0.3 mg/dL within 48 h (about 1 in 6 plausible patients eligible),
#: 20 + 20 patients per replicate, one MSC arm dosed 48 h after surgery.
DESIGN = {
    "name": "throughput",
    "inclusion": {"kind": "scr_rise", "rise_mg_dl": 0.3, "within_h": 48},
    "arms": [{"name": "placebo", "n": 20},
             {"name": "msc", "n": 20,
              "treatment": {"product": "msc", "dose": 2.0e6, "dose_unit": "cells/kg", "route": "intra_arterial_aorta"},
              "timing": {"relative_to": "surgery", "delay_h": 48}}],
}


def timed_trial(size: int, engine: str, replicates: int, chunk: int, seed: int = 0, n_per_arm: int = 20,
                threads: int | None = None, workers: int | None = None) -> dict:
    from nephrosim.trials import population, run_trial, trial_from_dict

    population._POPULATIONS.clear()  # every timed run simulates its population (no in-memory reuse)

    arms = [{**arm, "n": n_per_arm} for arm in DESIGN["arms"]]
    solver = {"engine": engine, **({"threads": threads} if engine == "batch" else {})}
    design = trial_from_dict({**DESIGN, "arms": arms, "virtual_patients": size, "solver": solver})
    stamps: dict[str, list[float]] = {}

    def progress(done, total, stage):
        stamps.setdefault(stage, []).append(time.perf_counter())

    t0 = time.perf_counter()
    cpu0 = time.process_time()
    cluster = {} if workers is None else {"scheduler": "local", "workers": workers}
    result = run_trial(design, replicates=replicates, seed=seed, chunk_patients=chunk, progress=progress, **cluster)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    pop = result.summary["population"]
    begin = {s: v[0] for s, v in stamps.items()}
    end = {s: v[-1] for s, v in stamps.items()}
    stage_s = {"population": begin["treated arms"] - begin["population"],
               "treated arms": begin["replicates"] - begin["treated arms"],
               "replicates": end["replicates"] - begin["replicates"]}
    simulated = size + pop["eligible_pool"] + pop["failed_treated_simulations"]
    sim_s = stage_s["population"] + stage_s["treated arms"]
    return {"engine": engine, "threads": threads if engine == "batch" else 1, "workers": workers,
            "start_s": round(begin["population"] - t0, 2), "virtual_patients": size, "treated_pool": pop["eligible_pool"] +
            pop["failed_treated_simulations"], "simulated_patients": simulated, "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2), "stage_s": {k: round(v, 2) for k, v in stage_s.items()},
            "patients_per_s": round(simulated / sim_s, 1), "accepted": pop["accepted_patients"],
            "failed": pop["failed_simulations"], "power": result.summary["power"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--engines", nargs="+", default=["roadrunner", "batch"])
    parser.add_argument("--replicates", type=int, default=20)
    parser.add_argument("--chunk-patients", type=int, default=200)
    parser.add_argument("--n-per-arm", type=int, default=20)
    parser.add_argument("--batch-threads", type=int, default=None,
                        help="threads per batch-engine call (default: every usable core)")
    parser.add_argument("--project", type=int, default=100_000)
    parser.add_argument("--workers", type=int, nargs="*", default=[],
                        help="also run the largest size on a local Dask cluster with these worker counts (batch engine)")
    parser.add_argument("--json", default=None, help="also write the rows as JSON")
    args = parser.parse_args()

    print(f"load average before: {os.getloadavg()}; cores: {os.cpu_count()}", flush=True)
    rows = []
    for engine in args.engines:
        timed_trial(200, engine, 2, args.chunk_patients, seed=99, n_per_arm=3, threads=args.batch_threads)  # compile this engine's arms once
        for size in args.sizes:
            row = timed_trial(size, engine, args.replicates, args.chunk_patients, n_per_arm=args.n_per_arm,
                              threads=args.batch_threads)
            rows.append(row)
            print(json.dumps(row), flush=True)
    for w in args.workers:
        row = timed_trial(max(args.sizes), "batch", args.replicates, args.chunk_patients, n_per_arm=args.n_per_arm,
                          threads=1, workers=w)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"load average after: {os.getloadavg()}")

    print(f"\n{'engine':<11} {'threads':>7} {'workers':>7} {'patients':>9} {'simulated':>9} {'wall s':>8} "
          f"{'population s':>12} {'treated s':>9} {'replicates s':>12} {'patients/s':>10}")
    for r in rows:
        s = r["stage_s"]
        print(f"{r['engine']:<11} {str(r['threads'] or 'all'):>7} {str(r['workers'] or '-'):>7} "
              f"{r['virtual_patients']:>9} {r['simulated_patients']:>9} {r['wall_s']:>8.1f} "
              f"{s['population']:>12.1f} {s['treated arms']:>9.1f} {s['replicates']:>12.1f} {r['patients_per_s']:>10.1f}")
    projections = {}
    dask = {r["workers"]: r for r in rows if r["workers"]}
    if 1 in dask and len(dask) > 1:
        one, w_max = dask[1], max(dask)
        speedup = dask[w_max]["patients_per_s"] / one["patients_per_s"]
        efficiency = speedup / w_max
        cost = 1.0 / one["patients_per_s"]  # simulation seconds per simulated patient on one worker
        projections["dask"] = {"speedup": speedup, "workers": w_max, "efficiency": efficiency,
                               "s_per_simulated_patient_one_worker": cost}
        print(f"Dask, local cluster: {w_max} workers simulate {speedup:.2f}x the patients/s of 1 (efficiency "
              f"{100 * efficiency:.0f} %); one worker {1e3 * cost:.2f} ms per simulated patient")
        for w in (16, 64, 256):
            print(f"  10^7 virtual patients (+ their treated pool) on {w} workers at that efficiency: about "
                  f"{1e7 * (one['simulated_patients'] / one['virtual_patients']) * cost / (w * efficiency) / 60:.1f} min")
    for engine in args.engines:
        mine = sorted((r for r in rows if r["engine"] == engine and not r["workers"]), key=lambda r: r["virtual_patients"])
        if len(mine) < 2:
            continue
        small, large = mine[0], mine[-1]
        per_plausible = (large["wall_s"] - small["wall_s"]) / (large["virtual_patients"] - small["virtual_patients"])
        fixed = large["wall_s"] - per_plausible * large["virtual_patients"]
        projected = fixed + per_plausible * args.project
        projections[engine] = {"s_per_virtual_patient": per_plausible, "fixed_s": fixed, "projected_s": projected}
        print(f"{engine}: {1e3 * per_plausible:.2f} ms per virtual patient (treated pool included), fixed "
              f"{fixed:.1f} s -> {args.project:,} virtual patients: about {projected / 60:.1f} min in one process")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"rows": rows, "projections": projections, "load_after": os.getloadavg()}, fh, indent=1)


if __name__ == "__main__":
    main()
