"""What a run does, in its own process: simulate (or compare) a scenario, reporting each step.

A run is a child process so that it can be cancelled at any moment (libRoadRunner cannot be
interrupted inside an integration) and so that a crashing solver never takes the web server
down. The child sends messages on a pipe:

* ``("progress", done, total, label)`` before each step;
* ``("result", payload)`` once, at the end (pandas tables and the arms' status codes);
* ``("error", kind, text)``: ``kind`` is ``"input"`` for a :class:`~nephrosim.errors.UserInputError`
  (shown as the message), ``"internal"`` for anything else (shown with its traceback).

The arms are simulated one at a time with the same public pieces as
:func:`nephrosim.run.simulation.simulate` (one compile of every arm, one simulator per arm, one
retry policy), so that progress can be shown per arm; ``tests/app`` checks that the CSV the app
offers equals ``nephrosim.simulate``'s table.
"""

from __future__ import annotations

import traceback

import numpy as np

from nephrosim.analysis.compare import compare
from nephrosim.errors import UserInputError
from nephrosim.run.simulation import SimulationResult, compile_scenario, solver_options
from nephrosim.scenarios.schema import scenario_from_dict

KINDS = ("simulate", "compare", "ensemble", "trial", "mechanisms", "sensitivity", "design", "protocol")
#: Most replicate trials one trial run of the app may ask for (the command line allows more).
MAX_APP_REPLICATES = 2000
#: Most parameter draws one mechanisms run of the app may ask for (``attribute`` allows 10,000).
MAX_APP_DRAWS = 200
#: An ensemble is split into this many chunks (its unit of progress).
ENSEMBLE_CHUNKS = 10
#: Most parameter sets one ensemble run of the app may ask for (the command line has no such cap).
MAX_APP_SAMPLES = 5000
#: Where a resumable run keeps its finished chunks, inside its work folder (``RunStore.work_folder``):
#: the ensemble's output file (its chunks are in ``<file>.parts/``) and the trial's output folder.
ENSEMBLE_FILE, TRIAL_FOLDER, SENSITIVITY_FOLDER = "ensemble.parquet", "trial", "sensitivity"
#: A design search's table in its work folder (its finished parts are in ``<file>.parts/``), and a
#: protocol search's study folder (optuna's journal: a rerun continues the study).
DESIGN_FILE, PROTOCOL_FOLDER = "designs.parquet", "protocol_search"
#: Most simulations one sensitivity run of the app may ask for (``nephrosim sensitivity`` has no cap).
MAX_APP_SENSITIVITY_SIMULATIONS = 20_000
#: Design rows per chunk of a sensitivity run (its unit of progress and of resumption).
SENSITIVITY_CHUNK = 32
#: The central interval drawn as a band around an ensemble's median.
BAND = (0.025, 0.975)
#: The uncertainty band of a simulation or comparison: fewest and most draws the app accepts
#: (a 95 % interval needs a few draws to mean anything; ``nephrosim simulate --uncertainty``
#: draws 200 by default and has no cap), and the default (small: a band in about half a minute).
MIN_BAND_DRAWS, MAX_BAND_DRAWS, DEFAULT_BAND_DRAWS = 8, 2000, 32
#: Where an uncertainty band's draws come from, as the command line draws them: the shipped
#: calibration's posterior (``nephrosim simulate --uncertainty shipped``), or the parameter
#: table's ranges (``nephrosim ensemble --prior table``).
BAND_SOURCES = {"shipped": "the shipped calibration (as simulate --uncertainty shipped)",
                "table": "the parameter table's ranges (as ensemble --prior table)"}
#: The probability of the uncertainty band (2.5–97.5 % quantiles of the draws).
BAND_LEVEL = 0.95


def steps(kind: str, n_arms: int, samples: int = 0, band: bool = False) -> int:
    """Steps a run counts: the build, one per arm, the uncertainty band's two (the posterior
    draws, then the predictions) and the comparison tables for ``compare``; for ``ensemble``,
    one per chunk of parameter sets and the bands."""
    if kind == "ensemble":
        return -(-samples // _chunk_size(samples)) + 1
    if kind in ("trial", "mechanisms", "sensitivity", "design", "protocol"):  # the input, then the library call
        return 2
    return 1 + n_arms + (2 if band else 0) + (1 if kind == "compare" else 0)


def check_band(band: dict) -> None:
    """Refuse an uncertainty band the app does not run (each message names the field and the fix)."""
    draws, source = band.get("draws"), band.get("source")
    if source not in BAND_SOURCES:
        raise UserInputError(f"uncertainty band source {source!r}: use one of {', '.join(BAND_SOURCES)}")
    if isinstance(draws, bool) or not isinstance(draws, int) or not MIN_BAND_DRAWS <= draws <= MAX_BAND_DRAWS:
        raise UserInputError(f"uncertainty band draws {draws!r}: use a whole number from {MIN_BAND_DRAWS} to "
                             f"{MAX_BAND_DRAWS} (a 95 % band needs at least {MIN_BAND_DRAWS} draws; "
                             "`nephrosim simulate --uncertainty shipped --samples N` runs more)")
    seed = band.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UserInputError(f"uncertainty band seed {seed!r}: use a whole number ≥ 0")


def _quantiles(frame):
    """Per arm, readout and time: the median and the central 95 % (:data:`BAND`) of the usable
    samples of a long ensemble table."""
    usable = frame[frame["status"].isin(["ok", "ok_recovered"])]
    q = usable.groupby(["arm", "readout", "time_h"], sort=False)["value"].quantile([BAND[0], 0.5, BAND[1]])
    return q.unstack().reset_index().rename(columns={BAND[0]: "lower", 0.5: "median", BAND[1]: "upper"})


def uncertainty_band(scenario, band: dict, report, done: int, total: int) -> dict:
    """The 95 % band of every arm × readout × time of ``scenario`` over ``band["draws"]`` draws
    of the source ``band["source"]``, drawn as the command line draws them (two progress steps):

    ``shipped``
        ``nephrosim simulate --uncertainty shipped --samples N``
        (:func:`nephrosim.calibration.commands.simulate_uncertainty_command`): Laplace draws of
        the shipped calibration's posterior, a new lab's between-study deviation per draw, and
        every assumed parameter the scenario uses drawn log-uniformly on its table range
        (:meth:`Calibration.predict_interval`). Its draws first compile the calibration's
        sensitivities (about 20–30 s).
    ``table``
        ``nephrosim ensemble --prior table --samples N --seed S`` (:func:`nephrosim.run.ensemble.ensemble`):
        every parameter the table lets vary drawn log-uniformly on its range, unknown donors
        drawn too; the band is the 2.5 / 50 / 97.5 % quantiles of the usable draws.

    Returns the band (``arm, time_h, readout, unit, median, lo, hi, n_ok``) and what varies in it.
    """
    check_band(band)
    if band["source"] == "table":
        return _table_band(scenario, band, report, done, total)
    from nephrosim.calibration.fit import Calibration
    from nephrosim.run.ensemble import varied_parameters

    draws, seed = band["draws"], band["seed"]
    report(done, total, f"uncertainty band: {draws} posterior draws of the shipped calibration (its sensitivities "
                        "are compiled first, about 20–30 s)")
    try:
        cal = Calibration.from_shipped()
    except FileNotFoundError as exc:  # an installation without a shipped calibration
        raise UserInputError(f"uncertainty band source 'shipped': {exc}; or draw the band from the table's "
                             "ranges") from None
    samples = cal.sample(draws, method="laplace", seed=seed)
    report(done + 1, total, f"uncertainty band: every arm simulated for each of the {draws} draws")
    frame = cal.predict_interval(scenario, samples, level=BAND_LEVEL, new_study=True, seed=seed)
    p = cal.problem_
    used = varied_parameters(scenario, include_fixed=True)
    fitted = sorted({q.name for q in p.parameters if q.name in used
                     and (q.species is None or q.species == scenario.species)})
    all_fitted = {q.name for q in p.parameters}
    assumed = sorted(k for k in varied_parameters(scenario) if k not in all_fitted)  # as predict_draws does
    between_lab = sorted({r.parameter for r in p.random_effects if r.sd_log10} & set(fitted))
    frame = frame.rename(columns={"lower": "lo", "upper": "hi"})
    info = {"draws": draws, "seed": seed, "source": band["source"], "level": BAND_LEVEL,
            "source_text": BAND_SOURCES[band["source"]], "fitted": fitted, "assumed": assumed, "donors": [],
            "between_lab": between_lab, "in_calibrated_domain": bool(frame["in_calibrated_domain"].all()),
            "calibrated_domain": sorted(f"{s} {m}" for s, m in cal.calibrated_domain()),
            "min_ok": int(frame["n_ok"].min()) if len(frame) else 0,
            "command": f"nephrosim simulate SCENARIO --uncertainty shipped --samples {draws}"}
    return {"band": frame.drop(columns=["in_calibrated_domain"]), "band_info": info}


def _table_band(scenario, band: dict, report, done: int, total: int) -> dict:
    """The ``table`` source of :func:`uncertainty_band` (``nephrosim ensemble --prior table``)."""
    import tempfile
    from pathlib import Path

    import pandas as pd

    from nephrosim.run.ensemble import donor_priors, ensemble, varied_parameters

    draws, seed = band["draws"], band["seed"]
    report(done, total, f"uncertainty band: {draws} draws of every varied parameter on its table range")
    varied, donors = sorted(varied_parameters(scenario)), sorted(p.name for p in donor_priors(scenario))
    report(done + 1, total, f"uncertainty band: every arm simulated for each of the {draws} draws")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "band.parquet"
        ensemble(scenario, draws, out, prior="table", seed=seed, workers=1, chunk_size=draws)
        frame = pd.read_parquet(out)
    bands = _quantiles(frame).rename(columns={"lower": "lo", "upper": "hi"})
    ok = frame[frame["status"].isin(["ok", "ok_recovered"])].drop_duplicates(["arm", "sample"]).groupby("arm").size()
    units = frame.drop_duplicates("readout").set_index("readout")["unit"]
    bands.insert(3, "unit", bands["readout"].map(units))
    bands["n_ok"] = bands["arm"].map(ok).fillna(0).astype(int)
    bands = bands[["arm", "time_h", "readout", "unit", "median", "lo", "hi", "n_ok"]]
    info = {"draws": draws, "seed": seed, "source": "table", "level": BAND_LEVEL, "source_text": BAND_SOURCES["table"],
            "fitted": [], "assumed": varied, "donors": donors, "between_lab": [], "in_calibrated_domain": None,
            "calibrated_domain": [], "min_ok": int(bands["n_ok"].min()) if len(bands) else 0,
            "command": f"nephrosim ensemble SCENARIO --prior table --samples {draws} --seed {seed} "
                       f"--chunk-size {draws}"}
    return {"band": bands, "band_info": info}


def literature(scenario, frame) -> dict:
    """The evidence store's data points for the run's plots (:mod:`nephrosim.app.literature`), in
    the run's reporting units; a store that cannot be read is said on the page, not hidden."""
    from nephrosim.app.literature import literature_points
    from nephrosim.evidence import EvidenceError

    units = dict(zip(frame["readout"], frame["unit"]))
    try:
        return literature_points(scenario, units)
    except EvidenceError as exc:
        return {"error": f"the evidence store could not be read: {exc}", "matched": 0, "drawn": 0, "skipped": [],
                "points": []}


def _chunk_size(samples: int) -> int:
    return max(1, -(-samples // ENSEMBLE_CHUNKS))


def simulate_arms(scenario, report) -> SimulationResult:
    """Every arm of ``scenario`` with nominal parameters, calling ``report(done, label)`` per step."""
    report(0, "building the model of every arm (SBML)")
    programs = compile_scenario(scenario)
    times = np.asarray(scenario.times_h, dtype=float)
    values, statuses, units = {}, {}, {}
    for k, (arm, program) in enumerate(zip(scenario.arms, programs)):
        report(1 + k, f"simulating arm {k + 1} of {len(programs)}: {arm.name}")
        out, status = program.simulator(solver_options(scenario)).run(times, None)
        values[arm.name] = program.convert(out)
        statuses[arm.name] = status
        units.update(zip(program.readouts, program.units))
    return SimulationResult(scenario, times, values, units, statuses)


def ensemble_bands(scenario, options: dict, report, work: str | None = None) -> dict:
    """``nephrosim ensemble`` of ``scenario`` (``options``: samples, cv, seed; one worker), its
    table, and per arm, readout and time the median and the central 95 % of the usable samples.

    Progress is the count of finished chunks, read from the ensemble's own parts folder. With a
    ``work`` folder the chunks are kept there (``ensemble()``'s own resumable storage): a run
    started again on the same folder computes only the missing chunks, with the same result.
    """
    import contextlib
    import tempfile
    import threading
    from pathlib import Path

    import pandas as pd

    from nephrosim.run.ensemble import ensemble
    from nephrosim.run.ensemble.storage import parts_folder

    samples, cv, seed = options["samples"], options["cv"], options["seed"]
    if not 1 <= samples <= MAX_APP_SAMPLES:
        raise UserInputError(f"samples {samples}: use 1 to {MAX_APP_SAMPLES} in the app (`nephrosim ensemble` "
                             "runs more, resumably)")
    chunk = _chunk_size(samples)
    chunks = -(-samples // chunk)
    total = chunks + 1
    with contextlib.ExitStack() as stack:
        if work is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        else:
            folder = Path(work)
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        out = folder / ENSEMBLE_FILE
        stop = threading.Event()

        kept = len(list(parts_folder(out).glob("chunk-*.parquet")))
        resuming = f" (resumed: {kept} of them finished before the interruption)" if kept else ""

        def watch():
            while not stop.wait(0.25):
                parts = parts_folder(out)
                done = len(list(parts.glob("chunk-*.parquet"))) if parts.is_dir() else 0
                report(done, total, f"{samples} parameter sets (cv {cv:g}, seed {seed}): {done} of {chunks} "
                                    f"chunks done{resuming}")

        report(kept, total, f"building the model of every arm; {samples} parameter sets in {chunks} chunks{resuming}")
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            summary = ensemble(scenario, samples, out, cv=cv, seed=seed, workers=1, chunk_size=chunk)
        finally:
            stop.set()
            watcher.join()
        frame = pd.read_parquet(out)
    report(chunks, total, "median and 95 % band of every readout")
    bands = _quantiles(frame)
    per_arm = frame.drop_duplicates(["arm", "sample"]).groupby("arm")["status"]
    statuses = {arm: ("ok", "") if set(s) <= {"ok", "ok_recovered"} else
                ("some_failed", f"{int((~s.isin(['ok', 'ok_recovered'])).sum())} of {len(s)} parameter sets "
                 "failed; the band uses the others") for arm, s in per_arm}
    return {"frame": frame, "bands": bands, "statuses": statuses,
            "summary": {"samples": summary.samples, "status_counts": dict(summary.status_counts),
                        "chunks": summary.chunks, "chunks_computed": summary.chunks_computed,
                        "failures": list(summary.failures), "chunk_size": chunk, "cv": cv, "seed": seed}}


def virtual_trial(design_data: dict, options: dict, report, work: str | None = None) -> dict:
    """``nephrosim.trials.run_trial`` of the design ``design_data`` (``options``: replicates, seed).

    Progress is ``run_trial``'s own: chunks done of each stage (virtual population, treated
    arms, replicate trials), after the design is read. With a ``work`` folder the trial's output
    folder is kept there (``run_trial(out=...)``, :mod:`nephrosim.trials.checkpoint`): a run
    started again on it reads the finished chunks back, bit-identical to an uninterrupted run.
    """
    from nephrosim.trials import run_trial, trial_from_dict

    replicates, seed = options["replicates"], options["seed"]
    if not 1 <= replicates <= MAX_APP_REPLICATES:
        raise UserInputError(f"replicates {replicates}: use 1 to {MAX_APP_REPLICATES} in the app (`nephrosim trial` "
                             "runs more)")
    report(0, 1, "reading the trial design")
    design = trial_from_dict(design_data)

    def stage(done: int, total: int, name: str) -> None:
        report(done, max(total, 1), f"{name}: {done} of {total} chunks ({design.virtual_patients} virtual "
                                    f"patients, {replicates} replicate trials, seed {seed})")

    out = None
    if work is not None:
        from pathlib import Path

        out = Path(work) / TRIAL_FOLDER
        kept = len(list(out.glob("chunks/*-*.*")))
        if kept:
            report(0, 1, f"resuming: {kept} chunks finished before the interruption are kept")
    result = run_trial(design, replicates=replicates, seed=seed, progress=stage, out=out)
    report(1, 1, "done")
    return {"trial": result.to_dict(), "options": {"replicates": replicates, "seed": seed}}


def mechanisms(scenario, options: dict, report) -> dict:
    """``nephrosim.analysis.attribution.attribute`` of ``scenario`` (``options``: outcome,
    samples, seed, cv): each treated arm's benefit split among the paracrine mechanisms."""
    from nephrosim.analysis.attribution import OUTCOMES, attribute

    samples = options["samples"]
    if not 0 <= samples <= MAX_APP_DRAWS:
        raise UserInputError(f"samples {samples}: use 0 to {MAX_APP_DRAWS} parameter draws in the app "
                             "(`nephrosim attribute` runs more)")
    outcome = OUTCOMES[options["outcome"]].description if options["outcome"] in OUTCOMES else options["outcome"]
    report(1, 2, f"Shapley attribution of {outcome}: 64 mechanism coalitions per arm and parameter set, {samples} draws (seed {options['seed']})")
    result = attribute(scenario, options["outcome"], samples=samples, seed=options["seed"], cv=options["cv"])
    report(2, 2, "done")
    return {"attribution": result.to_dict(), "frame": result.to_frame(), "unit": result.unit,
            "vehicle": result.vehicle, "vehicle_outcome": result.vehicle_outcome, "outcome": result.outcome,
            "options": dict(options)}


def sensitivity(scenario, options: dict, report, work: str | None = None) -> dict:
    """``nephrosim.analysis.sensitivity.scenario_sensitivity`` of ``scenario`` (``options``: method,
    readout, at_h, arm, samples, seed, groups, parameters — a list, empty for every parameter the
    ensemble varies): global sensitivity of one readout of one arm at one time.

    Progress is the chunks of design rows simulated. With a ``work`` folder the finished chunks are
    kept there (the analysis's own ``out_dir``): a run started again on it simulates only the missing
    chunks, with the same indices. A design over :data:`MAX_APP_SENSITIVITY_SIMULATIONS` is refused
    before any simulation."""
    from pathlib import Path

    from nephrosim.analysis.sensitivity import scenario_sensitivity

    o = options
    what = (f"{o['method']} of {o['readout']} at {o['at_h']:g} h in arm {o['arm']}, {o['samples']} samples "
            f"(seed {o['seed']}){', groups' if o['groups'] else ''}")
    report(0, 1, f"building the model: {what}")

    def chunks(done: int, total: int) -> None:
        report(done, max(total, 1), f"{what}: {done} of {total} chunks of {SENSITIVITY_CHUNK} simulations")

    result = scenario_sensitivity(
        scenario, readout=o["readout"], at_h=o["at_h"], arm=o["arm"], method=o["method"], samples=o["samples"],
        seed=o["seed"], parameters=list(o["parameters"]) or None, groups=bool(o["groups"]), progress=chunks,
        out_dir=Path(work) / SENSITIVITY_FOLDER if work is not None else None, chunk=SENSITIVITY_CHUNK,
        max_evaluations=MAX_APP_SENSITIVITY_SIMULATIONS)
    return {"sensitivity": result.to_dict(), "frame": result.to_frame().reset_index(),
            "ranking": result.ranking(), "options": dict(options)}


def design_search(search_data: dict, options: dict, report, work: str | None = None) -> dict:
    """``nephrosim.trials.search.run_search`` of the search ``search_data`` (its ``base`` trial written
    in; ``options``: seed): every candidate design's power, ranked, and the summary.

    Progress is the search's own: the population, then its conditions and designs. With a ``work``
    folder its parts are kept there (the search's own resumable storage): a run started again on it
    computes only what is missing, bit-identical to an uninterrupted run."""
    import contextlib
    import tempfile
    from pathlib import Path

    from nephrosim.trials import trial_from_dict
    from nephrosim.trials.search import run_search, search_from_dict

    report(0, 1, "reading the design search")
    spec = search_from_dict(search_data)
    base = trial_from_dict(spec.base)
    seed = options["seed"]

    def stage(done: int, total: int, name: str) -> None:
        report(done, max(total, 1), f"{name}: {done} of {total} (seed {seed})")

    with contextlib.ExitStack() as stack:
        folder = Path(work) if work is not None else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        result = run_search(spec, base, folder / DESIGN_FILE, seed=seed, progress=stage)
    report(1, 1, "done")
    return {"table": result.table, "summary": {**result.summary, "output": "designs.csv (download)"},
            "options": {"seed": seed}}


def protocol_search(spec_data: dict, report, work: str | None = None) -> dict:
    """``nephrosim.analysis.protocol_search.optimize_protocol`` of the spec ``spec_data`` (its experiment
    written in): the Pareto front and every finished trial.

    Progress is the trials finished. With a ``work`` folder the study lives there (optuna's journal,
    appended after every trial): a run started again on it continues the study, with the same trials
    and front as an uninterrupted run."""
    import contextlib
    import tempfile
    from pathlib import Path

    import pandas as pd

    from nephrosim.analysis.protocol_search import as_spec, optimize_protocol

    report(0, 1, "reading the protocol search")
    spec = as_spec(spec_data)[0]

    def trials(done: int, total: int) -> None:
        report(done, max(total, 1), f"protocol trials: {done} of {total} (NSGA-II, generations of "
                                    f"{spec.optimizer.population}, seed {spec.optimizer.seed})")

    with contextlib.ExitStack() as stack:
        folder = Path(work) / PROTOCOL_FOLDER if work is not None else \
            Path(stack.enter_context(tempfile.TemporaryDirectory()))
        result = optimize_protocol(spec, folder, progress=trials)
        every = pd.read_csv(folder / "trials.csv")  # failed trials too, with their reasons
    failures = every.loc[~every["complete"], "failure"].tolist() if "failure" in every.columns else []
    report(1, 1, "done")
    return {"front": result.front, "trials": result.trials, "completed": result.completed, "failed": result.failed,
            "failures": failures}


def execute(kind: str, scenario_data: dict, report, options: dict | None = None, work: str | None = None) -> dict:
    """Run ``kind`` on the scenario ``scenario_data`` (for ``trial``, ``design`` and ``protocol``: the trial
    design, the design search or the protocol search); the payload the app stores and shows. ``work``: the
    folder where a resumable kind (``nephrosim.app.runs.RESUMABLE``) keeps what it has finished."""
    if kind not in KINDS:
        raise UserInputError(f"run kind {kind!r}: use one of {', '.join(KINDS)}")
    if kind == "trial":
        return virtual_trial(scenario_data, options or {}, report, work)
    if kind == "design":
        return design_search(scenario_data, options or {}, report, work)
    if kind == "protocol":
        return protocol_search(scenario_data, report, work)
    scenario = scenario_from_dict(scenario_data)
    if kind == "mechanisms":
        return mechanisms(scenario, options or {}, report)
    if kind == "sensitivity":
        return sensitivity(scenario, options or {}, report, work)
    if kind == "ensemble":
        payload = ensemble_bands(scenario, options or {}, report, work)
        total = steps(kind, 0, options["samples"])
        report(total - 1, total, "literature data points: matching the evidence store")
        payload["literature"] = literature(scenario, payload["frame"])
        report(total, total, "done")
        return payload
    band = (options or {}).get("band")
    if band is not None:
        check_band(band)  # before anything runs
    total = steps(kind, len(scenario.arms), band=band is not None)
    result = simulate_arms(scenario, lambda done, label: report(done, total, label))
    payload = {
        "frame": result.to_frame(),
        "statuses": {arm: (s.code, s.message) for arm, s in result.statuses.items()},
        # for the HTML report, drawn on request (the result itself does not pickle: its scenario is rebuilt)
        "result": {"times_h": result.times_h, "values": dict(result.values), "units": dict(result.units)},
    }
    report(1 + len(scenario.arms), total, "literature data points: matching the evidence store")
    payload["literature"] = literature(scenario, payload["frame"])
    if band is not None:
        payload.update(uncertainty_band(scenario, band, report, 1 + len(scenario.arms), total))
    if kind == "compare":
        report(total - 1, total, "efficacy and risk tables (every arm again, on a dense time grid)")
        efficacy, risk = compare(scenario)
        payload["efficacy"], payload["risk"] = efficacy, risk
    report(total, total, "done")
    return payload


def _end_with(server_pid: int) -> None:
    """End this run's process when the server process ``server_pid`` ends, however it ends (a
    killed server cannot terminate its runs; their work would go nowhere). Linux's pidfd is
    immune to a reused pid; elsewhere the run goes on until it finishes, as before."""
    import os
    import select
    import threading

    if not hasattr(os, "pidfd_open"):
        return
    try:
        fd = os.pidfd_open(server_pid)
    except ProcessLookupError:  # gone already
        os._exit(1)

    def watch():
        select.select([fd], [], [])  # readable once the process has ended
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="server-watch").start()


def main(kind: str, scenario_data: dict, conn, options: dict | None = None, server_pid: int | None = None,
         work: str | None = None) -> None:
    """Entry point of the run's process: everything it has to say goes through ``conn``; the
    process ends with the server ``server_pid``; ``work`` keeps the chunks of a resumable run."""
    if server_pid is not None:
        _end_with(server_pid)
    try:
        payload = execute(kind, scenario_data, lambda done, total, label: conn.send(("progress", done, total, label)),
                          options, work)
    except UserInputError as exc:
        conn.send(("error", "input", str(exc)))
    except Exception:  # a bug: reported with its traceback on the run's page, never as a result
        conn.send(("error", "internal", traceback.format_exc()))
    else:
        conn.send(("result", payload))
    finally:
        conn.close()


def warm_up() -> None:
    """Nothing: starting it once makes the fork server import this module before the first run."""
