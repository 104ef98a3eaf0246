"""``ensemble``: many parameter sets, in parallel, streamed to Parquet, resumable.

Design
------
* Sample ``i`` draws its parameters from its own random stream
  (``numpy.random.default_rng([seed, i])``; :mod:`.priors`), so results depend only on
  the seed, never on the executor, the number of workers or the chunking.
* Samples are cut into chunks; each worker compiles each arm's SBML once and simulates
  whole chunks (:mod:`.executors`: this process, local worker processes, or Dask).
* Every finished chunk is written atomically to ``<out>.parts/chunk-NNNNNN.parquet``
  (:mod:`.storage`) — memory stays flat in N. A manifest records a hash of the request;
  rerunning the same command after an interruption computes only the missing chunks, and
  a different request refuses to mix with old parts.
* The chunks are appended, in order, to a temporary copy of ``<out>`` as they finish; when
  all are in, it is renamed onto ``<out>`` and the parts folder is removed.
* In this process the writing (and the next chunk's draws) runs in background threads while
  the batch engine's C solve, which releases the GIL, computes the next chunk (issue 15).
* Every option is checked, and the size of the output bounded, before the parts folder is
  created or anything is simulated (docs/reliability.md lists the guarantees and their tests).
"""

from __future__ import annotations

import json
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping

import numpy as np

from nephrosim.errors import UserInputError
from nephrosim.io import OutputError, check_writable
from nephrosim.progress import ProgressBar
from nephrosim.run.ensemble import executors, storage
from nephrosim.run.ensemble.priors import (
    PRIOR_COLUMNS,
    Prior,
    donor_priors,
    draw,
    priors_from_table,
    read_prior_file,
    varied_parameters,
)
from nephrosim.run.simulation import as_scenario

__all__ = [
    "BATCH_CHUNK", "BATCH_CHUNK_ROWS", "DEFAULT_CHUNK", "MAX_CHUNK_ROWS", "MAX_CHUNKS", "MAX_OUTPUT_ROWS", "MAX_SAMPLES", "MAX_SEED", "MAX_WORKERS",
    "PRIOR_COLUMNS", "EnsembleSummary", "Prior", "donor_priors", "draw", "ensemble", "priors_from_table",
    "read_prior_file", "rows_per_sample", "varied_parameters",
]

#: Samples per chunk when ``chunk_size`` is not given: libRoadRunner (~8 ms a sample; small
#: chunks keep worker processes balanced) ...
DEFAULT_CHUNK = 250
#: ... and the batch engine (~0.2 ms a sample: per-chunk costs — a C call, a file, SIMD lanes
#: left idle at a chunk's end — were ~20 µs a sample with 250; issue 15). A chunk of 2,000
#: samples holds ~160,000 rows of mouse IRI (~7 MB); a scenario with more rows per sample gets
#: fewer samples per chunk, at most :data:`BATCH_CHUNK_ROWS` rows (up to three chunks are in
#: memory at once: one being simulated, one queued, one being written).
BATCH_CHUNK = 2000
BATCH_CHUNK_ROWS = 500_000
#: Most samples one ensemble may draw (also the largest chunk size).
MAX_SAMPLES = 10**8
#: Most rows (sample × arm × time × readout) one ensemble may write: about 5–15 GB of Parquet.
MAX_OUTPUT_ROWS = 10**9
#: Most rows one chunk may hold; a chunk is built in a worker's memory (about 150 bytes a row).
MAX_CHUNK_ROWS = 5_000_000
#: Most chunks (files in the parts folder) one ensemble may have.
MAX_CHUNKS = 1_000_000
#: Most local worker processes.
MAX_WORKERS = 1024
#: Largest seed (a signed 64-bit integer).
MAX_SEED = 2**63 - 1


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


def rows_per_sample(scenario) -> int:
    """Rows one sample adds to the output: arms × output times × readouts."""
    return len(scenario.arms) * len(scenario.times_h) * len(scenario.readouts)


def _whole(name: str, option: str, value, lowest: int, highest: int, fix: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise UserInputError(f"{name}={value!r} ({option}): use a whole number; {fix}")
    if not lowest <= value <= highest:
        raise UserInputError(f"{name}={value} ({option}): {fix}")
    return int(value)


def _check_options(samples, workers, cv, seed, chunk_size, max_chunks, scheduler, dask_address, prior, out):
    """Everything that can be checked without the scenario; raises :class:`UserInputError`."""
    _whole("samples", "--samples", samples, 1, MAX_SAMPLES, f"give 1 to {MAX_SAMPLES:,} samples")
    if chunk_size is not None:
        _whole("chunk_size", "--chunk-size", chunk_size, 1, MAX_SAMPLES,
               f"give 1 to {MAX_SAMPLES:,} samples per chunk (default {DEFAULT_CHUNK}, {BATCH_CHUNK} with the "
               "batch engine)")
    _whole("workers", "--workers", workers, 1, MAX_WORKERS, f"give 1 to {MAX_WORKERS} worker processes")
    _whole("seed", "--seed", seed, 0, MAX_SEED, "give a seed from 0 to 2**63 - 1")
    if max_chunks is not None:
        _whole("max_chunks", "max_chunks", max_chunks, 0, MAX_CHUNKS, "give a number of chunks >= 0, or None")
    if isinstance(cv, bool) or not isinstance(cv, (int, float, np.number)) or not 0 <= cv < np.inf:
        raise UserInputError(f"cv={cv!r} (--cv): the coefficient of variation must be a finite number >= 0")
    if scheduler not in ("processes", "dask"):
        raise UserInputError(f"scheduler={scheduler!r} (--scheduler): use 'processes' or 'dask'")
    if dask_address is not None and scheduler != "dask":
        raise UserInputError(f"dask_address={dask_address!r} (--dask-address) needs scheduler='dask' "
                             "(--scheduler dask); add it, or drop the address")
    if dask_address is not None and not str(dask_address).startswith(("tls://", "tcp://")):
        raise UserInputError(f"dask_address={dask_address!r} (--dask-address): give the scheduler's address "
                             "as tls://host:port (or tcp://host:port)")
    if str(prior) not in ("lognormal", "table") and not Path(prior).is_file():
        raise UserInputError(f"prior={str(prior)!r} (--prior): use 'lognormal', 'table' or the path of a prior "
                             "CSV file")
    if Path(out).suffix.lower() != ".parquet":
        raise UserInputError(f"output {str(out)!r} (-o): ensembles are written as .parquet; name the file "
                             "*.parquet")
    check_writable(out)
    check_writable(storage.parts_folder(Path(out)) / storage.MANIFEST)


def _check_size(scenario, samples: int, chunk_size: int) -> None:
    """Refuse an output or a chunk too large for the documented bounds, before simulating."""
    per_sample = rows_per_sample(scenario)
    shape = (f"{len(scenario.arms)} arm(s) × {len(scenario.times_h)} time(s) × "
             f"{len(scenario.readouts)} readout(s) = {per_sample:,} rows per sample")
    if samples * per_sample > MAX_OUTPUT_ROWS:
        raise UserInputError(
            f"samples={samples:,} (--samples): the output would hold {samples * per_sample:,} rows ({shape}), "
            f"above the bound of {MAX_OUTPUT_ROWS:,}; use at most {max(MAX_OUTPUT_ROWS // per_sample, 1):,} "
            "samples, or fewer arms, times or readouts")
    rows = min(chunk_size, samples) * per_sample
    if rows > MAX_CHUNK_ROWS:
        fitting = MAX_CHUNK_ROWS // per_sample
        fix = (f"use --chunk-size {fitting:,} or less" if fitting >= 1 else
               "one sample alone is too large: use fewer arms, times or readouts")
        raise UserInputError(f"chunk_size={chunk_size:,} (--chunk-size): a chunk would hold {rows:,} rows ({shape}), "
                             f"above the bound of {MAX_CHUNK_ROWS:,} rows per chunk; {fix}")
    chunks = -(-samples // chunk_size)
    if chunks > MAX_CHUNKS:
        raise UserInputError(f"chunk_size={chunk_size:,} (--chunk-size): {samples:,} samples would make "
                             f"{chunks:,} chunk files, above the bound of {MAX_CHUNKS:,}; use --chunk-size "
                             f"{-(-samples // MAX_CHUNKS):,} or more")


def _default_chunk_size(scenario, out) -> int:
    """The chunk size of an interrupted run of ``out`` (so it resumes), else the engine's default."""
    resumed = storage.resumable_chunk_size(Path(out))
    if resumed is not None:
        return resumed
    if scenario.solver.engine == "batch":
        return max(1, min(BATCH_CHUNK, BATCH_CHUNK_ROWS // rows_per_sample(scenario)))
    return max(1, min(DEFAULT_CHUNK, MAX_CHUNK_ROWS // rows_per_sample(scenario)))  # a default within the bounds


def ensemble(
    scenario,
    samples: int,
    out: str | Path,
    *,
    cv: float = 0.3,
    seed: int = 0,
    workers: int = 1,
    prior: str | Path = "lognormal",
    chunk_size: int | None = None,
    progress: bool = False,
    max_chunks: int | None = None,
    scheduler: Literal["processes", "dask"] = "processes",
    dask_address: str | None = None,
    dask_security=None,
    donor_variability: bool = True,
) -> EnsembleSummary:
    """Simulate ``samples`` perturbed parameter sets of every arm into ``out`` (Parquet).

    Arguments
    ---------
    scenario : scenario object, path or mapping.
    samples : number of parameter sets, 1 to :data:`MAX_SAMPLES`.
    out : the Parquet file to write.
    cv : coefficient of variation of the log-normal perturbation.
    seed : random seed, 0 to 2**63 - 1; results are identical for any ``workers`` and
        ``scheduler``.
    workers : worker processes (each compiles the model once).
    prior : ``"lognormal"`` (nominal × LN with ``cv``), ``"table"`` (log-uniform on the
        parameter table's [lower, upper]), or the path of a prior CSV
        (:func:`read_prior_file`) naming the parameters to vary and their distributions.
    chunk_size : samples per chunk (the unit of resumption); ``None``: :data:`DEFAULT_CHUNK`, or
        :data:`BATCH_CHUNK` with the batch engine — or, when ``out`` has an interrupted run to
        resume, the chunk size that run used.
    progress : show a progress bar.
    max_chunks : stop after computing this many chunks (as if interrupted) — for tests.
    scheduler : ``"processes"`` (local worker processes) or ``"dask"`` (a Dask cluster:
        ``dask_address`` of a running scheduler, or a local cluster of ``workers``
        processes bound to 127.0.0.1 and secured by TLS). Results are identical either way.
    dask_address : ``tls://host:port`` of a running Dask scheduler.
    dask_security : TLS credentials for ``dask_address`` (or for the local cluster instead
        of the temporary ones): a ``distributed.security.Security``, or the paths
        ``(ca_file, cert_file, key_file)``. See docs/reliability.md.
    donor_variability : with the ``lognormal`` or ``table`` prior, also draw the donor of
        every treatment whose donor is unknown (:func:`donor_priors`). A prior file varies
        a donor only if it names ``donor_potency_k``.

    Returns
    -------
    :class:`EnsembleSummary`.

    Bounds: the output may hold at most :data:`MAX_OUTPUT_ROWS` rows and one chunk at most
    :data:`MAX_CHUNK_ROWS`; a larger request is refused before anything is simulated.
    """

    _check_options(samples, workers, cv, seed, chunk_size, max_chunks, scheduler, dask_address, prior, out)
    security = executors.dask_security(dask_security)
    if security is not None and scheduler != "dask":
        raise UserInputError("dask_security secures a Dask cluster; add scheduler='dask' (--scheduler dask), "
                             "or drop it")
    if security is not None and dask_address is not None and not dask_address.startswith("tls://"):
        raise UserInputError(f"dask_address={dask_address!r}: with dask_security, give the scheduler's "
                             "tls://host:port address")
    if security is None and dask_address is not None and dask_address.startswith("tls://"):
        raise UserInputError(f"dask_address={dask_address!r} is a TLS scheduler; give its credentials as "
                             "dask_security=(ca_file, cert_file, key_file) (docs/reliability.md)")
    if security is None and dask_address is not None:
        warnings.warn(f"the Dask scheduler at {dask_address} is unauthenticated: anyone who can reach it can run "
                      "code as you; secure it with TLS (docs/reliability.md)", stacklevel=2)
    samples, workers, seed = int(samples), int(workers), int(seed)
    scenario = as_scenario(scenario)
    chunk_size = _default_chunk_size(scenario, out) if chunk_size is None else int(chunk_size)
    _check_size(scenario, samples, chunk_size)
    out = Path(out)
    prior_is_file = str(prior) not in ("lognormal", "table")
    varied = varied_parameters(scenario)
    donors = donor_priors(scenario)
    if prior_is_file:
        everything = varied_parameters(scenario, include_fixed=True)
        everything.update({d.name: (1.0, None, None) for d in donors})
        priors = read_prior_file(prior, everything)
    else:
        priors = priors_from_table(varied, cv, str(prior)) + (donors if donor_variability else [])
    names = [p.name for p in priors]
    scenario_json = scenario.model_dump_json()
    request = {
        "scenario": json.loads(scenario_json), "samples": samples, "cv": cv, "seed": seed,
        "prior": [p.__dict__ for p in priors], "chunk_size": chunk_size, "parameters": names,
    }
    # batch engine threads (issue 15) change no result, so a run may resume with other threads
    request["scenario"].get("solver", {}).pop("threads", None)

    bounds = [(s, min(s + chunk_size, samples)) for s in range(0, samples, chunk_size)]
    with executors.exit_on_sigterm(), storage.open_parts(out, request) as parts:
        chunk_file = {s: storage.chunk_path(parts, k) for k, (s, _) in enumerate(bounds)}
        todo = [(s, e) for s, e in bounds if not chunk_file[s].exists()]
        if max_chunks is not None:
            todo = todo[:max_chunks]
        jobs = ((s, e, names, draw(priors, s, e, seed)) for s, e in todo)

        # chunks are written, and appended to the final file, by a background thread while the
        # next ones are computed (issue 15) — except while this process itself runs libRoadRunner,
        # which gains nothing from it and must not share the process with such a thread
        # (executors.run_serial says why)
        final = storage.Assembler(out, [chunk_file[s] for s, _ in bounds])
        in_process_roadrunner = scheduler != "dask" and workers == 1 and scenario.solver.engine != "batch"
        try:
            with ProgressBar("chunks", len(bounds), len(bounds) - len(todo), progress) as bar, \
                    storage.ChunkWriter(then=final.advance, background=not in_process_roadrunner) as writer:

                def save(result):
                    start, columns = result
                    writer.put(chunk_file[start], columns)

                if scheduler == "dask":
                    with executors.dask_client(workers, dask_address, security) as client:
                        executors.run_dask(client, scenario_json, jobs, save, bar.advance,
                                           None if dask_address else executors.LOCAL_NO_WORKER_LIMIT_S)
                elif workers == 1:
                    executors.run_serial(scenario_json, jobs, save, bar.advance)
                else:
                    executors.run_processes(scenario_json, jobs, workers, save, bar.advance)

            counts: dict[str, int] = {}
            failures: list[str] = []
            if all(chunk_file[s].exists() for s, _ in bounds) and final.finish():
                counts, failures = final.counts, final.failures
                shutil.rmtree(parts)
        except OutputError as exc:  # a full disk: say that the finished chunks are kept
            kept = sum(chunk_file[s].exists() for s, _ in bounds)
            raise OutputError(f"{exc}; {kept} of {len(bounds)} chunks are finished and kept in {parts} — free "
                              "disk space and rerun the same command to resume") from None
        finally:
            final.abandon()  # an unfinished final file (interrupted, failed, or max_chunks reached)
    return EnsembleSummary(out, samples, len(bounds), len(todo), counts, tuple(failures[:20]))
