"""PEtab v1 export of a calibration problem, and import of a user's PEtab measurement table.

Export layout (``DIR/``): ``model.xml`` (SBML L3V2), ``conditions.tsv``,
``measurements.tsv``, ``observables.tsv``, ``parameters.tsv`` and ``problem.yaml``.

* One PEtab condition per (study, arm): ``<study>__<arm>``. PEtab v1 has one model,
  so every selected study must compile to the *same* SBML structure (same injury
  model and insult options, same species set); the parameter values that differ
  between studies (clamp time, injury fraction, body weight...) become condition
  columns. A problem mixing structures is refused with the studies named.
* Observables carry the unit conversion (``factor * quantity``) and a numeric
  noise formula equal to the observation's standard error (normal) or its
  log-scale σ = √log(1 + (SE/mean)²) (``observableTransformation: log``), so the
  negative log-likelihood is exactly nephrosim's (see
  :mod:`nephrosim.calibration.problem`). Observables are split by noise value
  because pyPESTO's roadrunner objective takes one noise formula per observable.
* Estimated parameters: ``parameterScale log10``, bounds and nominal value from the
  config/table. Species-specific entries become ``<name>__<species>`` and are mapped
  through the condition table.
* Contrasts (effects between two arms) have no PEtab v1 form and are refused.
* Random effects: for a parameter P with a between-study effect the model gets
  ``P = P__typical · 10^re__P`` (an assignment rule; ``P__typical`` and ``re__P``
  constant), the condition table maps ``P__typical`` to the estimated typical value
  and ``re__P`` to the study's deviation ``re__<study>__P``, and each deviation is an
  estimated parameter (lin scale, bounds ±4 SD) with ``objectivePriorType normal``
  and ``objectivePriorParameters 0;SD`` — the same penalised (MAP) objective as
  nephrosim's, which pyPESTO adds as a prior.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path

import libsbml
import numpy as np

from nephrosim.calibration.config import CalibrationConfigError, Observation, as_config
from nephrosim.calibration.problem import CalibrationProblem


def _pid(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return s if s[:1].isalpha() else f"c_{s}"


def _skeleton(sbml: str) -> tuple[str, dict[str, float]]:
    """SBML with constant parameter values blanked, and those values."""
    doc = libsbml.readSBMLFromString(sbml)
    m = doc.getModel()
    m.setId("nephrosim_calibration")
    values = {}
    for i in range(m.getNumParameters()):
        p = m.getParameter(i)
        if p.getConstant():
            values[p.getId()] = p.getValue()
            p.setValue(0.0)
        p.unsetNotes()
    for i in range(m.getNumSpecies()):
        m.getSpecies(i).unsetNotes()
    m.unsetNotes()
    return libsbml.writeSBMLToString(doc), values


def export_petab(config, out_dir: str | Path, *, lint: bool = True) -> Path:
    """Write ``config`` as a PEtab v1 problem; return the path of ``problem.yaml``.

    Arguments
    ---------
    config : a :class:`CalibrationConfig`, YAML path or mapping.
    out_dir : folder to write (created).
    lint : run ``petab.v1.lint_problem`` and raise if it reports errors.
    """
    import pandas as pd
    import yaml

    from nephrosim.io import write_text_atomic

    cfg = as_config(config)
    problem = CalibrationProblem(cfg)
    if problem.contrasts:
        raise CalibrationConfigError(
            "export petab: contrasts (treatment effects between two arms) have no PEtab v1 form — an observable "
            "belongs to one condition; export a config without contrasts (include: filters)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    skeletons, values = {}, {}
    for e in problem.experiments:
        key = f"{e.study}__{e.arm}"
        skeletons[key], values[key] = _skeleton(e.program.sbml)
    keys = list(skeletons)
    first = skeletons[keys[0]]
    differ = [k for k in keys if skeletons[k] != first]
    if differ:
        raise CalibrationConfigError(
            f"export petab: conditions {differ} compile to a different model structure than {keys[0]!r} (another "
            "injury model, species or insult option); PEtab v1 holds one model — export a subset of studies with "
            "the same structure (include: filters)")
    model_doc = libsbml.readSBMLFromString(problem.experiments[0].program.sbml)
    model_doc.getModel().setId("nephrosim_calibration")
    re_names = [r.parameter for r in cfg.random_effects]
    for name in re_names:
        _add_random_effect(model_doc.getModel(), name)

    # parameters (estimated) and their per-condition mapping
    est_ids = {}
    for q in problem.parameters:
        if q.species is not None:
            est_ids[q.label] = _pid(f"{q.name}__{q.species}")
        else:
            est_ids[q.label] = f"{q.name}__typical" if q.name in re_names else q.name
    # mapped through the condition table: species-specific values, and the typical value of a
    # parameter with a random effect (whose model id is then P__typical)
    species_specific = {q.name for q in problem.parameters if q.species is not None}
    estimated_names = {q.name for q in problem.parameters}
    group_of = {sid: g for g, ids in problem.groups.items() for sid in ids}

    cond_rows = []
    all_params = sorted(values[keys[0]])
    varying = [p for p in all_params
               if p not in estimated_names and len({values[k][p] for k in keys}) > 1]
    for e in problem.experiments:
        key = f"{e.study}__{e.arm}"
        row = {"conditionId": _pid(key), "conditionName": f"{e.study} / {e.arm}"}
        for p in varying:
            row[p] = values[key][p]
        for name in species_specific:
            q = next((q for q in problem.parameters if q.name == name and q.species == e.scenario.species), None)
            column = f"{name}__typical" if name in re_names else name
            row[column] = est_ids[q.label] if q is not None else values[key][name]
        for name in re_names:
            row[f"re__{name}"] = _pid(f"re__{group_of[e.study]}__{name}")
        cond_rows.append(row)
    conditions = pd.DataFrame(cond_rows)

    obs_rows, meas_rows, obs_key = [], [], {}
    lognormal = cfg.likelihood == "lognormal"
    for e in problem.experiments:
        cond = _pid(f"{e.study}__{e.arm}")
        for j in range(e.y.size):
            output = e.program.outputs[e.program.readouts.index(e.readout[j])]
            factor = float(e.factor[j])
            noise = float(math.sqrt(math.log1p((e.se[j] / e.y[j]) ** 2))) if lognormal else float(e.se[j])
            k = (output, factor, noise)
            if k not in obs_key:
                oid = _pid(f"{e.readout[j]}_{len(obs_key) + 1}")
                obs_key[k] = oid
                formula = output if factor == 1.0 else f"{factor!r} * {output}"
                obs_rows.append({"observableId": oid, "observableName": f"{e.readout[j]} [{e.unit[j]}]",
                                 "observableFormula": formula,
                                 "observableTransformation": "log" if lognormal else "lin",
                                 "noiseFormula": noise, "noiseDistribution": "normal"})
            meas_rows.append({"observableId": obs_key[k], "simulationConditionId": cond,
                              "time": float(e.obs_time[j]), "measurement": float(e.y[j]),
                              "datasetId": _pid(e.study)})
    observables = pd.DataFrame(obs_rows)
    # sorted by condition: pyPESTO 0.7's roadrunner objective pairs its per-condition data (in
    # measurement-table order) with petab's parameter mapping (in sorted order)
    measurements = pd.DataFrame(meas_rows).sort_values("simulationConditionId", kind="stable")
    conditions = conditions.sort_values("conditionId", kind="stable")
    par_rows = [{"parameterId": est_ids[q.label], "parameterName": q.label, "parameterScale": "log10",
                 "lowerBound": q.lower, "upperBound": q.upper, "nominalValue": q.nominal, "estimate": 1}
                for q in problem.parameters]
    for (group, name, _), sd in zip(problem.re_slots, problem.re_sd):
        par_rows.append({"parameterId": _pid(f"re__{group}__{name}"), "parameterName": f"re:{group}:{name}",
                         "parameterScale": "lin", "lowerBound": -4.0 * sd, "upperBound": 4.0 * sd,
                         "nominalValue": 0.0, "estimate": 1, "objectivePriorType": "normal",
                         "objectivePriorParameters": f"0;{float(sd)!r}"})
    parameters = pd.DataFrame(par_rows)

    # species-specific parameters are mapped via the condition table; the model keeps its own values
    write_text_atomic(out / "model.xml", libsbml.writeSBMLToString(model_doc))
    for name, frame in (("conditions", conditions), ("measurements", measurements),
                        ("observables", observables), ("parameters", parameters)):
        write_text_atomic(out / f"{name}.tsv", frame.to_csv(sep="\t", index=False))
    spec = {"format_version": 1, "parameter_file": "parameters.tsv",
            "problems": [{"sbml_files": ["model.xml"], "condition_files": ["conditions.tsv"],
                          "measurement_files": ["measurements.tsv"], "observable_files": ["observables.tsv"]}]}
    yaml_path = out / "problem.yaml"
    write_text_atomic(yaml_path, yaml.safe_dump(spec, sort_keys=False))
    if lint:
        errors = lint_petab(yaml_path)
        if errors:
            raise RuntimeError(f"export petab: the written problem does not lint clean:\n{errors}")
    return yaml_path


def _add_random_effect(model, name: str) -> None:
    """Rewrite constant parameter ``name`` as ``name = name__typical * 10^re__name``."""
    p = model.getParameter(name)
    if p is None:
        raise CalibrationConfigError(f"export petab: random effect on {name!r}, which the model does not have")
    for pid, value in ((f"{name}__typical", p.getValue()), (f"re__{name}", 0.0)):
        q = model.createParameter()
        q.setId(pid)
        q.setValue(value)
        q.setConstant(True)
        if p.isSetUnits():
            q.setUnits(p.getUnits() if pid.endswith("typical") else "dimensionless")
    p.setConstant(False)
    rule = model.createAssignmentRule()
    rule.setVariable(name)
    rule.setMath(libsbml.parseL3Formula(f"{name}__typical * pow(10, re__{name})"))


def lint_petab(yaml_path: str | Path) -> str:
    """Run PEtab's linter; return its error messages ('' when clean)."""
    import io
    import logging

    import petab.v1 as petab

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.ERROR)
    logger = logging.getLogger("petab")
    logger.addHandler(handler)
    try:
        problem = petab.Problem.from_yaml(str(yaml_path))
        failed = petab.lint_problem(problem)
    finally:
        logger.removeHandler(handler)
    return (stream.getvalue() or "lint_problem reported errors") if failed else ""


def pypesto_objective(yaml_path: str | Path, rtol: float = 1e-9, atol: float = 1e-12):
    """pyPESTO's roadrunner objective for an exported problem (for cross-checks).

    Returns (objective, x_names); the objective takes log10 parameter values.
    """
    import petab.v1 as petab
    from pypesto.objective.roadrunner import SolverOptions
    from pypesto.petab import PetabImporter

    problem = petab.Problem.from_yaml(str(yaml_path))
    importer = PetabImporter(problem, simulator_type="roadrunner")
    from nephrosim.engine.jit_placement import compiling

    with compiling():  # pyPESTO compiles the model with libRoadRunner here: the engine's JIT settings
        pproblem = importer.create_problem()
    obj = pproblem.objective
    options = SolverOptions(relative_tolerance=rtol, absolute_tolerance=atol, maximum_num_steps=100000)
    # with priors (random effects) the objective is an aggregate of the simulation and the prior
    for part in getattr(obj, "_objectives", [obj]):
        if hasattr(part, "solver_options"):
            part.solver_options = options
    return obj, list(pproblem.x_names)


def import_petab_measurements(path: str | Path, *, observables: Mapping[str, tuple[str, str]],
                              conditions: Mapping[str, tuple[str, str]] | None = None,
                              only_conditions: bool = False) -> dict[str, list[Observation]]:
    """Read a user's PEtab measurement table into nephrosim observations, per study.

    Arguments
    ---------
    path : the measurement TSV (``observableId, simulationConditionId, time, measurement,
        noiseParameters`` …). ``noiseParameters`` must be numeric: the standard error of
        the mean (it becomes ``sem``).
    observables : observableId → (nephrosim readout, unit).
    conditions : simulationConditionId → (study id, arm); default: the condition id is
        the study id and the first arm is used.
    only_conditions : skip rows whose condition is not in ``conditions`` (a table that
        holds several studies, read one study at a time).

    Returns
    -------
    study id → list of :class:`Observation`; put them in a config's studies.
    """
    import pandas as pd

    df = pd.read_csv(path, sep="\t", float_precision="round_trip")
    need = {"observableId", "simulationConditionId", "time", "measurement"}
    missing = need - set(df.columns)
    if missing:
        raise CalibrationConfigError(f"{path}: PEtab measurement table lacks columns {sorted(missing)}")
    if "noiseParameters" not in df.columns:
        raise CalibrationConfigError(f"{path}: add a numeric noiseParameters column (the SE of each mean)")
    out: dict[str, list[Observation]] = {}
    for i, row in df.iterrows():
        if only_conditions and row["simulationConditionId"] not in (conditions or {}):
            continue
        oid = row["observableId"]
        if oid not in observables:
            raise CalibrationConfigError(f"{path}, row {i + 2}: observableId {oid!r} has no readout; add it to "
                                         "observables={id: (readout, unit)}")
        readout, unit = observables[oid]
        cid = row["simulationConditionId"]
        study, arm = (conditions or {}).get(cid, (cid, None))
        try:
            se = float(row["noiseParameters"])
        except (TypeError, ValueError):
            raise CalibrationConfigError(f"{path}, row {i + 2}: noiseParameters {row['noiseParameters']!r} is not "
                                         "a number; give the standard error of the mean") from None
        if not np.isfinite(se) or se <= 0:
            raise CalibrationConfigError(f"{path}, row {i + 2}: noiseParameters must be a positive SE")
        out.setdefault(study, []).append(Observation(arm=arm, readout=readout, time_h=float(row["time"]),
                                                     mean=float(row["measurement"]), sem=se, unit=unit))
    return out
