"""A wrong input or a broken part never comes back "ok" (issue: one-way architecture).

Each test here failed on the code before the fix it guards: a misspelt parameter name was
taken for a solver failure and "recovered"; overrides of rows read at build time were
accepted and ignored; unused fields were validated and then read by nothing.
"""

from __future__ import annotations

import numpy as np
import pytest

import nephrosim
from nephrosim.biology.parameters import ParameterTable
from nephrosim.errors import UserInputError
from nephrosim.run.assemble import OverrideError, assemble, check_overrides, scenario_table
from nephrosim.run.simulation import as_scenario, compile_scenario

CLEARANCE = {"species": "mouse", "injury": {"model": "clearance_change", "fraction": 0.8, "duration_h": 24,
                                            "recovery_h": 24},
             "readouts": ["serum_creatinine"], "times_h": [0, 24, 48]}


def test_a_misspelt_parameter_is_an_error_naming_the_closest_names():
    with pytest.raises(UserInputError, match="gfr_ml_min_per_kgg.*did you mean 'gfr_ml_min_per_kg'"):
        nephrosim.simulate(CLEARANCE, parameters={"gfr_ml_min_per_kgg": 2.0})


def test_one_valid_and_one_misspelt_name_applies_neither():
    with pytest.raises(UserInputError, match="tbw_fractoin"):
        nephrosim.simulate(CLEARANCE, parameters={"gfr_ml_min_per_kg": 2.0, "tbw_fractoin": 0.5})


def test_a_valid_runtime_parameter_changes_the_result():
    base = nephrosim.simulate(CLEARANCE).get("vehicle", "serum_creatinine")
    low_gfr = nephrosim.simulate(CLEARANCE, parameters={"gfr_ml_min_per_kg": 4.0}).get("vehicle", "serum_creatinine")
    assert low_gfr[0] > 1.5 * base[0]


def test_non_finite_parameter_values_are_refused():
    with pytest.raises(UserInputError, match="finite"):
        nephrosim.simulate(CLEARANCE, parameters={"gfr_ml_min_per_kg": float("nan")})


def test_an_override_no_arm_uses_is_refused():
    sc = {**CLEARANCE, "parameters": {"protocol_source_adipose_vegf_fold": 3.0}}
    with pytest.raises(OverrideError, match="protocol_source_adipose_vegf_fold.*do not change the model"):
        nephrosim.simulate(sc)


def test_a_protocol_row_override_changes_the_treated_arm():
    """protocol_* rows are read when the model is built, not in the SBML: they used to be
    read from the global table, so a scenario override changed nothing."""
    arm = {"name": "hyp", "treatments": [{"product": "msc", "dose": 5e5, "route": "iv",
                                          "protocol": {"hypoxia_o2_percent": 1, "hypoxia_hours": 48}}]}
    sc = {**CLEARANCE, "arms": [arm], "readouts": ["paracrine_vegf"], "times_h": [0, 6, 24]}
    name = "protocol_hypoxia_vegf_fold_bm"
    fold = ParameterTable.default().record(name, "all").value
    base = nephrosim.simulate(sc).get("hyp", "paracrine_vegf")
    more = nephrosim.simulate({**sc, "parameters": {name: 3 * fold}}).get("hyp", "paracrine_vegf")
    assert more[1] > base[1] + 0.05  # the effect saturates (x / (1 + x)): 0.76 -> 0.91


RICH = {
    "species": "mouse", "injury": {"model": "ischemia_reperfusion", "clamp_min": 30},
    "arms": [
        {"name": "vehicle"},
        {"name": "msc", "treatments": [{"product": "msc", "dose": 5e5, "route": "iv", "donor": "allogeneic",
                                         "knockouts": ["il10"], "repeat_every_h": 336, "repeat_count": 2,
                                         "protocol": {"tissue_source": "adipose", "passage": 8,
                                                      "donor_age_years": 60, "hypoxia_o2_percent": 1,
                                                      "hypoxia_hours": 48, "priming": ["ifn_gamma"],
                                                      "culture": "spheroid", "serum_free": True}}]},
        {"name": "ev", "treatments": [{"product": "ev", "dose": 30, "dose_unit": "ug_protein",
                                        "source": "umbilical_cord"}]},
        {"name": "cm", "treatments": [{"product": "conditioned_medium", "dose": 5e5}]},
    ],
    "readouts": ["serum_creatinine"], "times_h": [0, 24, 400],
}


def _fingerprint(scenario) -> list:
    """Independent of the assembly's own check: every arm's SBML text and risk indices."""
    from nephrosim.analysis.risks import arm_risk
    from nephrosim.run.simulation import compile_arm

    table = scenario_table(scenario)
    return [(compile_arm(scenario, a.name).sbml, sorted(arm_risk(a, "mouse", 0.025, table).items()))
            for a in scenario.arms]


@pytest.mark.parametrize("factor", [1.37, 0.2])
def test_every_overridable_row_changes_the_model_or_is_refused(factor):
    """For every row of the table: an override either changes some arm's SBML (a value, a
    build-time lot value such as a potency, a dose event) or risk index, or is refused before
    anything runs."""
    scenario = as_scenario(RICH)
    nominal = _fingerprint(scenario)
    silent = []
    for rec in ParameterTable.default().for_species("mouse"):
        new = rec.value * factor + (0.01 if rec.value == 0 else 0.0)
        sc = scenario.model_copy(update={"parameters": {rec.name: new}})
        try:
            check_overrides(sc, [assemble(sc, a.name) for a in sc.arms])
        except UserInputError:  # refused: OverrideError, or an inconsistent pair of rows
            continue
        if _fingerprint(sc) == nominal:
            silent.append(rec.name)
    assert silent == [], f"overrides accepted but changing nothing: {silent}"


def test_fields_the_model_does_not_read_are_refused():
    with pytest.raises(UserInputError, match="female"):
        as_scenario({"species": "mouse", "sex": "female"})
    with pytest.raises(UserInputError, match="subtype"):
        as_scenario({"species": "mouse", "arms": [{"name": "e", "treatments": [
            {"product": "ev", "dose": 10, "dose_unit": "ug_protein", "subtype": "microvesicle"}]}]})
    assert as_scenario({"species": "mouse", "sex": "male"}).sex == "male"


def test_plotting_keeps_the_callers_backend(tmp_path):
    import matplotlib

    before = matplotlib.get_backend()
    fig = nephrosim.simulate(CLEARANCE).plot(tmp_path / "f.png")
    assert matplotlib.get_backend() == before
    assert (tmp_path / "f.png").stat().st_size > 1000 and fig.axes


def test_compile_refuses_unused_overrides_before_anything_runs():
    sc = as_scenario({**CLEARANCE, "parameters": {"msc_lung_passage_fraction": 0.5}})
    with pytest.raises(OverrideError):
        compile_scenario(sc)


def test_ensemble_counts_recovered_trajectories_apart(tmp_path, monkeypatch):
    """A trajectory that needed the retry is 'ok_recovered' in the file and in the summary."""
    import pandas as pd

    from nephrosim.engine import simulator as engine

    real = engine.integrate_with_retry

    def first_attempt_fails(rr, options, integrate, *scales):  # the first attempt of every trajectory fails
        attempts = iter(range(10))

        def flaky():
            if next(attempts) == 0:
                raise RuntimeError("CVODE Error: CV_CONV_FAILURE: test")
            return integrate()

        return real(rr, options, flaky, *scales)

    monkeypatch.setattr(engine, "integrate_with_retry", first_attempt_fails)
    sc = {"species": "mouse", "injury": {"model": "clearance_change", "fraction": 0.5}, "readouts": ["serum_creatinine"],
          "times_h": [0, 24, 72]}
    summary = nephrosim.ensemble(sc, samples=3, out=tmp_path / "e.parquet", cv=0.1)
    assert summary.status_counts.get("ok_recovered") == 3, summary.status_counts
    assert summary.failure_fraction == 0.0
    frame = pd.read_parquet(tmp_path / "e.parquet")
    assert frame["status"].str.startswith("ok_recovered").all()
    assert np.isfinite(frame["value"]).all()
