"""From study data to what the calibration compares: observations and each study's scenario.

A study's observations come inline from its config, from a CSV, from a lab's PEtab
measurement table, or from the evidence store (mapped onto model readouts through
:mod:`nephrosim.vocabulary`); :func:`study_scenario` turns the study's design into the
scenario whose readouts, units and times cover its observations.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nephrosim.calibration.config import CalibrationConfigError, Observation, StudySpec
from nephrosim.evidence import EvidenceStore
from nephrosim.scenarios.errors import ScenarioError
from nephrosim.scenarios.schema import scenario_from_dict
from nephrosim.vocabulary import model_readout


def _read_observations_csv(path: Path) -> list[Observation]:
    if not path.exists():
        raise CalibrationConfigError(f"observations_csv {str(path)!r} not found — check the path (relative "
                                     "to the config file)")
    out = []
    with open(path, newline="", encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(fh), start=2):
            clean = {k: v for k, v in row.items() if v not in ("", None)}
            try:
                out.append(Observation.model_validate(clean))
            except ValueError as exc:  # pydantic's ValidationError is a ValueError
                raise CalibrationConfigError(f"{path}, line {i}: {exc}") from None
    return out


def study_observations(study: StudySpec, base_dir: str | Path = "") -> list[Observation]:
    obs = list(study.observations)
    if study.observations_csv:
        p = Path(study.observations_csv)
        if not p.is_absolute():
            p = Path(base_dir or ".") / p
        obs += _read_observations_csv(p)
    if study.evidence is not None:
        obs += observations_from_evidence(study.evidence, f"studies.{study.id}.evidence")
    if study.petab_measurements is not None:
        from nephrosim.calibration.petab_io import import_petab_measurements  # petab_io imports this module

        src = study.petab_measurements
        p = Path(src.file) if Path(src.file).is_absolute() else Path(base_dir or ".") / src.file
        if not p.exists():
            raise CalibrationConfigError(f"studies.{study.id}.petab_measurements.file {str(p)!r} not found — "
                                         "check the path (relative to the config file)")
        conditions = {cid: (study.id, arm) for cid, arm in src.conditions.items()}
        imported = import_petab_measurements(p, observables=src.observables, conditions=conditions,
                                             only_conditions=True)
        obs += imported.get(study.id, [])
    if not obs and not study.contrasts:
        raise CalibrationConfigError(f"studies.{study.id}: no observations; add observations, observations_csv, "
                                     "evidence, petab_measurements or contrasts")
    return obs


def observations_from_evidence(source, where: str = "evidence") -> list[Observation]:
    """Observations from the evidence store rows selected by an :class:`EvidenceSource`."""

    store = EvidenceStore(source.db) if source.db else EvidenceStore()
    rows = store.ensure().records(study_id=source.study_id)
    if rows.empty:
        raise CalibrationConfigError(f"{where}: study_id {source.study_id!r} is not in the evidence store "
                                     f"{store.path}; list ids with `nephrosim evidence list`")
    if source.arm_id is not None:
        rows = rows[rows.arm_id == source.arm_id]
        if rows.empty:
            raise CalibrationConfigError(f"{where}: arm_id {source.arm_id!r} not in study {source.study_id!r}")
    if source.readouts is not None:
        rows = rows[rows.readout.isin(source.readouts)]
    if source.times_h is not None:
        rows = rows[rows.time_h.isin(source.times_h)]
    rows = rows[rows["mean"].notna()]
    out: list[Observation] = []
    seen: set[tuple[str, float]] = set()
    for r in rows.itertuples():
        match = model_readout(r.readout)
        if match is None or match.comparability != "absolute":
            why = ("the model has no readout for it" if match is None else
                   f"the model computes {match.model!r} on its own scale, so only a ratio between two arms compares")
            raise CalibrationConfigError(
                f"{where}: evidence readout {r.readout!r} cannot be a target as a mean: {why}; select other readouts "
                "with `readouts:`, or give a contrast between two arms")
        key = (match.model, float(r.time_h))
        if key in seen:
            raise CalibrationConfigError(
                f"{where}: two rows for {r.readout} at {r.time_h} h in {source.study_id!r}; narrow the selection "
                "with arm_id/readouts/times_h or list the observations inline")
        seen.add(key)
        kind = r.dispersion_type if isinstance(r.dispersion_type, str) else source.dispersion_type_default
        if r.dispersion is None or not np.isfinite(r.dispersion) or kind is None:
            raise CalibrationConfigError(
                f"{where}: {r.readout} at {r.time_h} h has no usable dispersion (value {r.dispersion}, type "
                f"{r.dispersion_type}); set dispersion_type_default: SEM or SD if the source implies one")
        n = None if r.n is None or (isinstance(r.n, float) and not np.isfinite(r.n)) else r.n
        try:
            n = int(n) if n is not None else source.n_default
        except (TypeError, ValueError):
            n = source.n_default
        note = f"evidence store {source.study_id}/{r.arm_id}" + ("" if isinstance(r.dispersion_type, str)
                                                                 else f"; dispersion taken as {kind}")
        unit = r.unit if isinstance(r.unit, str) and r.unit else None
        if kind == "SEM":
            out.append(Observation(arm=source.arm, readout=match.model, time_h=float(r.time_h),
                                   mean=float(r.mean), sem=float(r.dispersion), unit=unit, note=note))
        else:
            if n is None:
                raise CalibrationConfigError(f"{where}: {r.readout} at {r.time_h} h is an SD without n; set "
                                             "n_default")
            out.append(Observation(arm=source.arm, readout=match.model, time_h=float(r.time_h), mean=float(r.mean),
                                   sd=float(r.dispersion), n=n, unit=unit, note=note))
    if not out:
        raise CalibrationConfigError(f"{where}: no rows with a mean were selected from {source.study_id!r}")
    return out


def study_scenario(study: StudySpec, observations: Sequence[Observation], extra_times: Sequence[float] = (),
                   parameter_set: str = "calibrated"):
    """The study's :class:`Scenario`: readouts, units and times taken from its observations."""

    data = dict(study.scenario)
    readouts: list[str] = []
    units: dict[str, str] = dict(data.get("units") or {})
    for c in study.contrasts:
        if c.readout not in readouts:
            readouts.append(c.readout)
    for o in observations:
        if o.readout not in readouts:
            readouts.append(o.readout)
        if o.unit:
            if units.get(o.readout, o.unit) != o.unit:
                raise CalibrationConfigError(
                    f"studies.{study.id}: readout {o.readout!r} is reported in two units ({units[o.readout]!r}, "
                    f"{o.unit!r}); convert the observations to one unit")
            units[o.readout] = o.unit
    data["name"] = study.id
    data.setdefault("parameter_set", parameter_set)
    data["readouts"] = readouts
    data["units"] = units
    data["times_h"] = sorted({float(o.time_h) for o in observations} | {float(c.time_h) for c in study.contrasts}
                             | {float(t) for t in extra_times})
    try:
        return scenario_from_dict(data, f"studies.{study.id}.scenario")
    except ScenarioError as exc:
        raise CalibrationConfigError(str(exc)) from None
