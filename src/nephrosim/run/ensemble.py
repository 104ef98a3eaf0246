"""``ensemble``: many parameter sets, in parallel, streamed to Parquet, resumable.

Design
------
* Sample ``i`` draws its parameters from its own random stream
  (``numpy.random.default_rng([seed, i])``), so results depend only on the seed,
  never on the number of workers or the chunking.
* Samples are cut into chunks; each worker process compiles each arm's SBML once
  and simulates whole chunks. Every finished chunk is written atomically to
  ``<out>.parts/chunk-NNNNNN.parquet`` — memory stays flat in N.
* A manifest records a hash of the request. Rerunning the same command after an
  interruption finds the finished chunks and computes only the missing ones; a
  different request refuses to mix with old parts.
* When all chunks exist they are concatenated, in order, into ``<out>``
  (atomic rename) and the parts folder is removed.

Perturbation: log-normal with median at the nominal value and the given CV
(σ = √ln(1 + CV²)), or log-uniform within the table's [lower, upper]
(``prior="table"``); draws are truncated to the table's plausible range.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping

import numpy as np

from nephrosim.biology.parameters import ParameterTable
from nephrosim.engine.simulator import quiet_solver
from nephrosim.errors import UserInputError
from nephrosim.io import atomic_path, write_text_atomic
from nephrosim.progress import ProgressBar
from nephrosim.run.assemble import build_model, scenario_table
from nephrosim.run.simulation import as_scenario, compile_arm, solver_options
from nephrosim.scenarios.schema import Scenario

DEFAULT_CHUNK = 250


@dataclass(frozen=True)
class EnsembleSummary:
    """What an ensemble run produced."""

    path: Path
    samples: int
    chunks: int
    chunks_computed: int
    status_counts: Mapping[str, int]
    failures: tuple[str, ...]

    @property
    def failure_fraction(self) -> float:
        total = sum(self.status_counts.values())
        usable = self.status_counts.get("ok", 0) + self.status_counts.get("ok_recovered", 0)
        return 0.0 if not total else 1.0 - usable / total


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

    ``lognormal``: median ``a``, log-SD ``b``; ``loguniform`` / ``uniform``: on [``a``, ``b``].
    Draws are truncated to [``lower``, ``upper``] when given.
    """

    name: str
    distribution: Literal["lognormal", "loguniform", "uniform"]
    a: float
    b: float
    lower: float | None = None
    upper: float | None = None


def priors_from_table(varied, cv: float, mode: Literal["lognormal", "table"]) -> list[Prior]:
    """Priors for the table's varied parameters: nominal × log-normal(CV), or its bounds."""
    out = []
    sigma = float(np.sqrt(np.log1p(cv * cv)))
    for name, (nominal, lower, upper) in varied.items():
        if mode == "lognormal":
            out.append(Prior(name, "lognormal", nominal, sigma, lower, upper))
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
    their nominal values.
    """
    import csv

    problems, priors = [], []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("name", "distribution") if c not in (reader.fieldnames or [])]
        if missing:
            raise UserInputError(f"{path}: missing column(s) {missing}; columns are {PRIOR_COLUMNS}")
        for line, row in enumerate(reader, start=2):
            def num(col):
                text = (row.get(col) or "").strip()
                try:
                    return float(text) if text else None
                except ValueError:
                    problems.append(f"line {line}, {col}: {text!r} is not a number")
                    return None
            name, dist = row["name"].strip(), row["distribution"].strip()
            median, cv, lower, upper = num("median"), num("cv"), num("lower"), num("upper")
            if name not in known:
                problems.append(f"line {line}, name: {name!r} is not a parameter of this scenario "
                                "(see `nephrosim params`)")
                continue
            if dist == "lognormal":
                if median is None or median <= 0 or cv is None or cv < 0:
                    problems.append(f"line {line}: lognormal needs median > 0 and cv >= 0")
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
    rows = np.empty((stop - start, len(priors)))
    for k, i in enumerate(range(start, stop)):
        rng = np.random.default_rng([seed, i])
        z, u = rng.standard_normal(len(priors)), rng.random(len(priors))
        rows[k] = np.where(logn, a * np.exp(b * z),
                           np.where(logu, np.exp(np.log(safe_a) + u * (np.log(safe_b) - np.log(safe_a))),
                                    a + u * (b - a)))
    rows = np.where(np.isnan(lower), rows, np.maximum(rows, lower))
    rows = np.where(np.isnan(upper), rows, np.minimum(rows, upper))
    return rows


# --- worker side -----------------------------------------------------------------------
_WORKER: dict = {}


def _init_worker(scenario_json: str, silence: bool) -> None:
    """Compile every arm once in this worker process."""

    if silence:  # SUNDIALS prints failures itself; statuses carry them instead
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    scenario = Scenario.model_validate_json(scenario_json)
    programs = [compile_arm(scenario, a.name) for a in scenario.arms]
    _WORKER.clear()
    _WORKER.update(
        key=hashlib.sha256(scenario_json.encode()).hexdigest(),
        scenario=scenario,
        programs=programs,
        sims=[p.simulator(solver_options(scenario, check_states="final")) for p in programs],
    )


def _run_chunk(args):
    """Simulate samples [start, stop) for every arm; return column arrays.

    Rows are ordered sample → arm → time → readout, so the concatenated file does
    not depend on how samples were cut into chunks. Text columns come back as
    integer codes plus their dictionary (Parquet stores them dictionary-encoded).
    """
    start, stop, names, matrix = args
    scenario: Scenario = _WORKER["scenario"]
    times = np.asarray(scenario.times_h, dtype=float)
    n, T = stop - start, times.size
    arms = [p.arm for p in _WORKER["programs"]]
    readouts = list(_WORKER["programs"][0].readouts)
    units = sorted({u for p in _WORKER["programs"] for u in p.units})
    statuses_seen: dict[str, int] = {"ok": 0}
    cols: dict[str, list] = {k: [] for k in ("arm", "sample", "time_h", "readout", "value", "unit", "status")}
    for a, (program, sim) in enumerate(zip(_WORKER["programs"], _WORKER["sims"])):
        own = [j for j, nm in enumerate(names) if nm in program.parameter_values]
        values, statuses = sim.run_batch(times, [names[j] for j in own], matrix[:, own])
        values = program.convert(values)  # (n, T, R)
        R = values.shape[2]
        codes = np.array([statuses_seen.setdefault(s.code if s.code == "ok" else f"{s.code}: {s.message}",
                                                   len(statuses_seen))
                          for s in statuses], dtype=np.int32)
        shape = (n, T * R)
        unit_codes = np.array([units.index(u) for u in program.units], dtype=np.int32)
        cols["arm"].append(np.full(shape, a, dtype=np.int32))
        cols["sample"].append(np.broadcast_to(np.arange(start, stop, dtype=np.int64)[:, None], shape))
        cols["time_h"].append(np.broadcast_to(np.repeat(times, R)[None, :], shape))
        cols["readout"].append(np.broadcast_to(np.tile(np.arange(R, dtype=np.int32), T)[None, :], shape))
        cols["value"].append(values.reshape(shape))
        cols["unit"].append(np.broadcast_to(np.tile(unit_codes, T)[None, :], shape))
        cols["status"].append(np.broadcast_to(codes[:, None], shape))
    out = {k: np.concatenate(v, axis=1).ravel() for k, v in cols.items()}
    dictionaries = {"arm": arms, "readout": readouts, "unit": units, "status": list(statuses_seen)}
    return start, (out, dictionaries)


def _dask_chunk(scenario_json: str, job):
    """A chunk on a Dask worker: compile once per worker and scenario, then simulate."""

    if _WORKER.get("key") != hashlib.sha256(scenario_json.encode()).hexdigest():
        _init_worker(scenario_json, silence=False)
    with quiet_solver():
        return _run_chunk(job)


def _table(result):
    import pyarrow as pa

    cols, dicts = result

    def text(name):  # decoded to plain strings so every chunk has the same schema
        return pa.DictionaryArray.from_arrays(pa.array(cols[name]), pa.array(dicts[name], pa.string())).cast(pa.string())

    return pa.table({
        "arm": text("arm"),
        "sample": pa.array(cols["sample"], pa.int64()),
        "time_h": pa.array(cols["time_h"], pa.float64()),
        "readout": text("readout"),
        "value": pa.array(cols["value"], pa.float64()),
        "unit": text("unit"),
        "status": text("status"),
    })


def ensemble(
    scenario,
    samples: int,
    out: str | Path,
    *,
    cv: float = 0.3,
    seed: int = 0,
    workers: int = 1,
    prior: str | Path = "lognormal",
    chunk_size: int = DEFAULT_CHUNK,
    progress: bool = False,
    max_chunks: int | None = None,
    scheduler: Literal["processes", "dask"] = "processes",
    dask_address: str | None = None,
    donor_variability: bool = True,
) -> EnsembleSummary:
    """Simulate ``samples`` perturbed parameter sets of every arm into ``out`` (Parquet).

    Arguments
    ---------
    scenario : scenario object, path or mapping.
    samples : number of parameter sets.
    out : the Parquet file to write.
    cv : coefficient of variation of the log-normal perturbation.
    seed : random seed; results are identical for any ``workers``.
    workers : worker processes (each compiles the model once).
    prior : ``"lognormal"`` (nominal × LN with ``cv``), ``"table"`` (log-uniform on the
        parameter table's [lower, upper]), or the path of a prior CSV
        (:func:`read_prior_file`) naming the parameters to vary and their distributions.
    chunk_size : samples per chunk (the unit of resumption).
    progress : show a progress bar.
    max_chunks : stop after computing this many chunks (as if interrupted) — for tests.
    scheduler : ``"processes"`` (local worker processes) or ``"dask"`` (a Dask cluster:
        ``dask_address`` of a running scheduler, or a local cluster of ``workers``
        processes bound to 127.0.0.1). Results are identical either way.
    donor_variability : with the ``lognormal`` or ``table`` prior, also draw the donor of
        every treatment whose donor is unknown (:func:`donor_priors`). A prior file varies
        a donor only if it names ``donor_potency_k``.

    Returns
    -------
    :class:`EnsembleSummary`.
    """

    scenario = as_scenario(scenario)
    if samples < 1:
        raise UserInputError(f"samples={samples}: give at least 1 sample")
    if workers < 1:
        raise UserInputError(f"workers={workers}: give at least 1 worker")
    if not cv >= 0:
        raise UserInputError(f"cv={cv}: the coefficient of variation must be >= 0")
    if scheduler not in ("processes", "dask"):
        raise UserInputError(f"scheduler={scheduler!r}: use 'processes' or 'dask'")
    prior_is_file = str(prior) not in ("lognormal", "table")
    if prior_is_file and not Path(prior).is_file():
        raise UserInputError(f"prior={str(prior)!r}: use 'lognormal', 'table' or the path of a prior CSV file")
    out = Path(out)
    if out.suffix.lower() != ".parquet":
        raise UserInputError(f"output {str(out)!r}: ensembles are written as .parquet")
    varied = varied_parameters(scenario)
    donors = donor_priors(scenario)
    if prior_is_file:
        everything = varied_parameters(scenario, include_fixed=True)
        everything.update({d.name: (1.0, None, None) for d in donors})
        priors = read_prior_file(prior, everything)
    else:
        priors = priors_from_table(varied, cv, str(prior)) + (donors if donor_variability else [])
    names = [p.name for p in priors]
    request = {
        "scenario": json.loads(scenario.model_dump_json()), "samples": samples, "cv": cv, "seed": seed,
        "prior": [p.__dict__ for p in priors], "chunk_size": chunk_size, "parameters": names,
    }
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
    parts = out.with_name(out.name + ".parts")
    manifest = parts / "manifest.json"
    if parts.exists():
        old = json.loads(manifest.read_text()) if manifest.exists() else {}
        if old.get("digest") != digest:
            raise UserInputError(
                f"{parts} holds chunks of a different ensemble request; delete that folder to "
                "start over, or rerun the original command to resume it"
            )
    else:
        parts.mkdir(parents=True)
        write_text_atomic(manifest, json.dumps({"digest": digest, "request": request}, indent=1))

    bounds = [(s, min(s + chunk_size, samples)) for s in range(0, samples, chunk_size)]
    chunk_file = {s: parts / f"chunk-{k:06d}.parquet" for k, (s, _) in enumerate(bounds)}
    todo = [(s, e) for s, e in bounds if not chunk_file[s].exists()]
    if max_chunks is not None:
        todo = todo[:max_chunks]
    jobs = ((s, e, names, draw(priors, s, e, seed)) for s, e in todo)

    import pyarrow.parquet as pq

    def _save(result):
        start, cols = result
        with atomic_path(chunk_file[start]) as tmp:
            pq.write_table(_table(cols), tmp)

    bar = ProgressBar("chunks", len(bounds), len(bounds) - len(todo), progress)
    try:
        if scheduler == "dask":
            _run_on_dask(scenario.model_dump_json(), list(jobs), workers, dask_address, _save, bar)
        elif workers == 1:
            _init_worker(scenario.model_dump_json(), silence=False)

            with quiet_solver():
                for job in jobs:
                    _save(_run_chunk(job))
                    bar.advance()
        else:
            import multiprocessing as mp

            ctx = mp.get_context("fork" if os.name == "posix" else "spawn")
            with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                     initargs=(scenario.model_dump_json(), True)) as pool:
                for result in pool.map(_run_chunk, jobs):
                    _save(result)
                    bar.advance()
    finally:
        bar.close()

    done = sum(chunk_file[s].exists() for s, _ in bounds)
    counts: dict[str, int] = {}
    failures: list[str] = []
    if done == len(bounds):
        writer = None
        try:
            with atomic_path(out) as tmp:
                for s, _ in bounds:
                    table = pq.read_table(chunk_file[s])
                    writer = writer or pq.ParquetWriter(tmp, table.schema)
                    writer.write_table(table)
                    _count_statuses(table, counts, failures)
                writer.close()
                writer = None
        finally:
            if writer is not None:
                writer.close()
        shutil.rmtree(parts)
    return EnsembleSummary(out, samples, len(bounds), len(todo), counts, tuple(failures[:20]))


def _run_on_dask(scenario_json, jobs, workers, address, save, bar) -> None:
    from distributed import Client, LocalCluster, as_completed

    if address:
        client, cluster = Client(address), None
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
    try:
        futures = [client.submit(_dask_chunk, scenario_json, job, pure=False) for job in jobs]
        for fut in as_completed(futures):
            save(fut.result())
            bar.advance()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _count_statuses(table, counts: dict, failures: list) -> None:
    import pyarrow.compute as pc

    per_traj = table.select(["arm", "sample", "status"]).group_by(["arm", "sample", "status"]).aggregate([])
    for status, n in zip(*pc.value_counts(per_traj["status"]).flatten()):
        code = status.as_py().split(":")[0]
        counts[code] = counts.get(code, 0) + n.as_py()
    bad = per_traj.filter(pc.not_equal(per_traj["status"], "ok"))
    for row in bad.to_pylist()[:20]:
        failures.append(f"arm {row['arm']}, sample {row['sample']}: {row['status']}")
