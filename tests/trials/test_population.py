import numpy as np

from nephrosim.trials import TARGETS, PopulationSpec, build_population
from nephrosim.trials.population import CATEGORY_NAMES, acceptance_probabilities, categories, kdigo


def test_kdigo_criteria_and_stages():
    t = np.arange(0.0, 200.0, 6.0)
    flat = np.full(t.size, 1.0)
    slow = 1.0 + 0.25 * t / 168.0          # +0.25 over 7 d: no AKI
    step = np.where(t >= 30, 1.35, 1.0)     # +0.35 at 30 h: stage 1, onset 30 h
    triple = np.where(t >= 60, 3.2, 1.0)    # 3.2x at 60 h: stage 3, late onset
    stage, onset = kdigo(t, np.vstack([flat, slow, step, triple]))
    assert stage.tolist() == [0, 0, 1, 3]
    assert np.isnan(onset[0]) and onset[2] == 30.0 and onset[3] == 60.0
    assert [CATEGORY_NAMES[c] for c in categories(stage, onset)] == ["no_aki", "no_aki", "s1_early", "s3_late"]


def test_a_rise_back_from_a_dilution_dip_is_not_aki_but_a_rise_above_baseline_is():
    """Baseline 1.2 mg/dL, diluted to 0.85 at 6 h: coming back to 1.2 by 48 h is a rise of 0.35 from the
    nadir (AKI under a bare rolling minimum) but none above the pre-operative value; going on to 1.55 is
    AKI, with onset when it first stands 0.3 above the pre-operative value. A patient whose SCr rises,
    falls back to 1.3 (above baseline) and then rises 0.3 within 48 h counts from 1.3."""
    t = np.arange(0.0, 200.0, 6.0)
    dip = np.interp(t, [0, 6, 48, 200], [1.2, 0.85, 1.2, 1.2])
    dip_then_rise = np.interp(t, [0, 6, 48, 96, 200], [1.2, 0.85, 1.2, 1.55, 1.55])
    relapse = np.interp(t, [0, 24, 48, 96, 120, 200], [1.2, 1.45, 1.3, 1.3, 1.62, 1.62])
    stage, onset = kdigo(t, np.vstack([dip, dip_then_rise, relapse]))
    assert stage.tolist() == [0, 1, 1]
    first_over = t[np.argmax(dip_then_rise >= 1.5 - 1e-12)]
    assert onset[1] == first_over
    assert onset[2] == t[np.argmax((relapse - 1.3 >= 0.3 - 1e-12) & (t > 96))]


def test_acceptance_probabilities_follow_allen_rule():
    cat = np.array([0] * 80 + [1] * 20)
    target = np.array([0.5, 0.5])
    acc = acceptance_probabilities(cat, target)
    assert acc.max() == 1.0
    np.testing.assert_allclose(acc, [0.25, 1.0])  # ratio (0.5/0.8) : (0.5/0.2)


def test_a_rare_category_does_not_set_the_acceptance_of_all_others():
    """Two common categories and one with 2 patients against a 10 % target: by Allen's bare rule the rare
    one sets the scale and the common ones are accepted at 1/50; with a minimum count it is kept whole
    (probability 1) and the common ones follow their own ratio."""
    cat = np.array([0] * 700 + [1] * 298 + [2] * 2)
    target = np.array([0.6, 0.3, 0.1])
    bare = acceptance_probabilities(cat, target)
    np.testing.assert_allclose(bare, np.array([0.6 / 0.7, 0.3 / 0.298, 0.1 / 0.002]) / 50.0)
    acc = acceptance_probabilities(cat, target, min_count=10)
    ratio = np.array([0.6 / 0.7, 0.3 / 0.298])
    np.testing.assert_allclose(acc, [*(ratio / ratio.max()), 1.0])


def test_acceptance_rejection_keeps_aki_incidence_in_range():
    spec = PopulationSpec()
    pop = build_population(spec, 800, seed=11)
    table = {r["target"]: r for r in pop.summary()}
    aki = table["aki_incidence"]
    assert aki["in_range"], aki
    assert abs(aki["simulated"] - 22.3) < 6.0  # aimed at the pooled 22.3 %, binomial noise allowed
    raw = build_population(spec.model_copy(update={"acceptance_rejection": False}), 800, seed=11)
    assert raw.size == 800 - raw.failed and pop.size < raw.size
    assert {t.name for t in TARGETS} == set(table)


def test_death_by_stage_follows_marco_2022():
    """Peak KDIGO stage → Marco 2022 hospital mortality: 2.0 / 4.3 / 23.9 / 59.7 %."""
    from nephrosim.trials.design import Endpoints
    from nephrosim.trials.endpoints import outcomes

    t = np.arange(0.0, 800.0, 6.0)
    base = np.full(t.size, 1.0)
    rows = np.vstack([base, np.where((t >= 30) & (t < 90), 1.35, 1.0), np.where((t >= 30) & (t < 90), 2.2, 1.0),
                      np.where((t >= 30) & (t < 90), 3.5, 1.0)])
    out = outcomes(t, rows, np.ones_like(rows), np.zeros(4), np.ones(4), Endpoints())
    np.testing.assert_allclose(out.death_by_stage, [0.020, 0.043, 0.239, 0.597])
