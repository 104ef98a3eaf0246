"""PEtab v1 export lints clean and pyPESTO computes nephrosim's objective; measurement import."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")

from nephrosim.calibration import CalibrationConfigError, CalibrationProblem, export_petab, import_petab_measurements
from nephrosim.calibration.petab_io import lint_petab, pypesto_objective


@pytest.mark.parametrize("likelihood", ["normal", "lognormal"])
def test_export_lints_clean_and_pypesto_agrees(tmp_path, synthetic_config, likelihood):
    cfg = synthetic_config.replace(likelihood=likelihood)
    yaml_path = export_petab(cfg, tmp_path / "petab")
    assert lint_petab(yaml_path) == ""
    problem = CalibrationProblem(cfg)
    objective, names = pypesto_objective(yaml_path)
    assert names == [q.name for q in problem.parameters]
    for x in (problem.x_nominal, problem.x_nominal + 0.02):
        ours = problem.nll(x)
        theirs = float(objective(x))
        assert abs(theirs - ours) <= 1e-6 * abs(ours), (ours, theirs)


def test_export_refuses_mixed_structures(tmp_path, synthetic_config):
    studies = [s.model_dump() for s in synthetic_config.studies]
    studies[1]["scenario"]["injury"] = {"model": "clearance_change", "fraction": 0.5}
    with pytest.raises(CalibrationConfigError, match="different model structure"):
        export_petab(synthetic_config.replace(studies=studies), tmp_path)


def test_random_effects_export_as_priors_and_pypesto_agrees(tmp_path, synthetic_config):
    """A between-study effect becomes P = P__typical·10^re__P in the model, a per-study
    deviation with a normal objective prior in the parameter table; pyPESTO's objective
    (simulation + prior) equals nephrosim's penalised one."""
    import pandas as pd

    cfg = synthetic_config.replace(random_effects=[{"parameter": "tbw_fraction", "sd_log10": 0.05}])
    yaml_path = export_petab(cfg, tmp_path / "petab")
    assert lint_petab(yaml_path) == ""
    pars = pd.read_csv(yaml_path.parent / "parameters.tsv", sep="\t")
    re_rows = pars[pars.parameterId.str.startswith("re__")]
    assert set(re_rows.parameterId) == {"re__severe__tbw_fraction", "re__moderate__tbw_fraction"}
    assert set(re_rows.objectivePriorType) == {"normal"} and set(re_rows.objectivePriorParameters) == {"0;0.05"}
    problem = CalibrationProblem(cfg)
    objective, names = pypesto_objective(yaml_path)
    assert len(names) == problem.dim
    for x in (problem.x_nominal, problem.x_nominal + np.linspace(-0.03, 0.04, problem.dim)):
        ours, theirs = problem.nll(x), float(objective(x))
        assert abs(theirs - ours) <= 1e-6 * abs(ours), (ours, theirs)


def test_import_measurements_roundtrip(tmp_path, synthetic_config):
    yaml_path = export_petab(synthetic_config, tmp_path / "petab")
    import pandas as pd

    obs_table = pd.read_csv(yaml_path.parent / "observables.tsv", sep="\t")
    meas = pd.read_csv(yaml_path.parent / "measurements.tsv", sep="\t")
    meas["noiseParameters"] = meas["observableId"].map(dict(zip(obs_table.observableId, obs_table.noiseFormula)))
    meas.to_csv(tmp_path / "m.tsv", sep="\t", index=False)
    readouts = {o: (o.rsplit("_", 1)[0], "mL/min" if o.startswith("gfr") else "mg/dL")
                for o in obs_table.observableId}
    conditions = {c: (c.split("__")[0], c.split("__")[1]) for c in meas.simulationConditionId.unique()}
    imported = import_petab_measurements(tmp_path / "m.tsv", observables=readouts, conditions=conditions)
    studies = []
    for s in synthetic_config.studies:
        d = s.model_dump()
        d["observations"] = [o.model_dump() for o in imported[s.id]]
        studies.append(d)
    again = synthetic_config.replace(studies=studies)
    x = CalibrationProblem(synthetic_config).x_nominal
    assert CalibrationProblem(again).nll(x) == pytest.approx(CalibrationProblem(synthetic_config).nll(x), rel=1e-8)

    # the same table named in a config (what a lab writes for `nephrosim calibrate`): each study
    # reads its own conditions from the shared file
    studies = []
    for s in synthetic_config.studies:
        d = s.model_dump()
        d["observations"] = []
        d["petab_measurements"] = {"file": "m.tsv", "observables": readouts,
                                   "conditions": {c: arm for c, (sid, arm) in conditions.items() if sid == s.id}}
        studies.append(d)
    data = synthetic_config.replace(studies=studies).model_dump(mode="json", exclude={"base_dir"})
    (tmp_path / "lab.yaml").write_text(yaml.safe_dump(data))
    from nephrosim.calibration import load_config

    from_file = CalibrationProblem(load_config(tmp_path / "lab.yaml"))
    assert from_file.n_observations == CalibrationProblem(synthetic_config).n_observations
    assert from_file.nll(x) == pytest.approx(CalibrationProblem(synthetic_config).nll(x), rel=1e-8)
    missing = synthetic_config.replace(studies=[{**studies[0], "petab_measurements": {**studies[0][
        "petab_measurements"], "file": "nope.tsv"}}, studies[1]])
    with pytest.raises(CalibrationConfigError, match="petab_measurements.file"):
        CalibrationProblem(missing)


def test_import_rejects_unknown_observable(tmp_path):
    (tmp_path / "m.tsv").write_text("observableId\tsimulationConditionId\ttime\tmeasurement\tnoiseParameters\n"
                                    "x\tA\t24\t1.0\t0.1\n")
    with pytest.raises(CalibrationConfigError, match="has no readout"):
        import_petab_measurements(tmp_path / "m.tsv", observables={})
