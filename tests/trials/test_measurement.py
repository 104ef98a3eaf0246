"""The trial's view of SCr (nephrosim.trials.design.Measurement): noisy daily samples and a noisy
pre-operative baseline, checked against the sampling rule done by hand and against the
probabilities that follow from the log-normal noise model (scipy), not against the code's output."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from nephrosim.trials import TrialError, trial_from_dict
from nephrosim.trials.design import Endpoints, Measurement, Recovery
from nephrosim.trials.endpoints import measured_recovery, outcomes

T = np.arange(0.0, 768.0 + 1e-9, 6.0)
TRIAL_RULE = Recovery(margin_mg_dl=0.0, margin_fraction=0.0)


def _flat(ratio: float, n: int) -> np.ndarray:
    """n patients with baseline 1.0 mg/dL and SCr at ``ratio`` × baseline from 6 h on."""
    scr = np.full((n, T.size), ratio)
    scr[:, 0] = 1.0
    return scr


def test_noise_free_samples_apply_the_rule_once_a_day_after_entry():
    """CV 0: recovery is the first *daily* sample at or below the rule, counted from entry, even when
    the 6-h grid meets the rule earlier."""
    scr = np.full((2, T.size), 2.0)
    scr[:, 0] = 1.0
    scr[0, T >= 30 + 60] = 1.0       # entry 30 h; back at baseline from 90 h: samples at 54, 78, 102 h -> day 3
    scr[1, T >= 42 + 6] = 1.2        # 1.2 <= 1.0 + 0.3 from 48 h on: first sample at 42 + 24 = 66 h -> day 1
    ep = Endpoints(recovery=Recovery(margin_mg_dl=0.3, margin_fraction=0.25),
                   measurement=Measurement(cv_within_subject=0.0, cv_analytical=0.0, every_h=24), horizon_days=30)
    days, rec = measured_recovery(T, scr, np.array([30.0, 42.0]), scr[:, 0], ep, np.random.default_rng(0))
    assert rec.tolist() == [True, True]
    assert days.tolist() == [3.0, 1.0]
    # the trial's rule (margin 0) without noise is never met by SCr that stays a hair above baseline
    scr_tail = _flat(1.0 + 1e-6, 1)
    ep0 = Endpoints(recovery=TRIAL_RULE, measurement=ep.measurement, horizon_days=30)
    days, rec = measured_recovery(T, scr_tail, np.array([24.0]), scr_tail[:, 0], ep0, np.random.default_rng(0))
    assert not rec[0] and days[0] == 30.0


def test_first_sample_recovery_probability_matches_the_lognormal_noise_model():
    """True SCr at 1.05 × baseline: the first daily sample is ≤ the measured baseline with probability
    Φ(−ln 1.05 / (s√2)) (two independent log-normal errors with the same mean shift)."""
    m = Measurement()
    ep = Endpoints(recovery=TRIAL_RULE, measurement=m, horizon_days=30)
    n = 200_000
    scr = _flat(1.05, n)
    days, _ = measured_recovery(T, scr, np.full(n, 24.0), scr[:, 0], ep, np.random.default_rng(7))
    p = stats.norm.cdf(-math.log(1.05) / (m.sdlog * math.sqrt(2.0)))
    se = math.sqrt(p * (1 - p) / n)
    assert (days == 1.0).mean() == pytest.approx(p, abs=4 * se)


def test_recovery_within_the_horizon_carries_the_shared_baseline_error():
    """The baseline is measured once, so a patient's daily chances are not independent: P(recovered within
    K samples) = E_z0[1 − (1 − Φ(−ln r/s + z0))^K]. Independent samples would give 1 − (1 − p)^K, which is
    far larger here — the test tells the two apart."""
    m = Measurement(every_h=24)
    ep = Endpoints(recovery=TRIAL_RULE, measurement=m, horizon_days=10)
    r, k, n = 1.12, 10, 200_000
    scr = _flat(r, n)
    _, rec = measured_recovery(T, scr, np.full(n, 24.0), scr[:, 0], ep, np.random.default_rng(11))
    s = m.sdlog

    def integrand(z0):
        return (1.0 - (1.0 - stats.norm.cdf(-math.log(r) / s + z0)) ** k) * stats.norm.pdf(z0)

    expected = integrate.quad(integrand, -10, 10)[0]
    independent = 1.0 - (1.0 - stats.norm.cdf(-math.log(r) / (s * math.sqrt(2)))) ** k
    se = math.sqrt(expected * (1 - expected) / n)
    assert rec.mean() == pytest.approx(expected, abs=4 * se)
    assert abs(independent - expected) > 20 * se


def test_measured_outcomes_are_deterministic_for_a_generator_seed_and_need_one():
    ep = Endpoints(recovery=TRIAL_RULE, measurement=Measurement(), horizon_days=30)
    scr = _flat(1.03, 50)
    surv = np.ones_like(scr)
    entry = np.full(50, 24.0)
    a = outcomes(T, scr, surv, entry, scr[:, 0], ep, np.random.default_rng([3, 5, 1]))
    b = outcomes(T, scr, surv, entry, scr[:, 0], ep, np.random.default_rng([3, 5, 1]))
    c = outcomes(T, scr, surv, entry, scr[:, 0], ep, np.random.default_rng([4, 5, 1]))
    assert np.array_equal(a.recovery_days, b.recovery_days)
    assert not np.array_equal(a.recovery_days, c.recovery_days)
    with pytest.raises(ValueError, match="rng"):
        outcomes(T, scr, surv, entry, scr[:, 0], ep)


@pytest.mark.parametrize("measurement, words", [
    ({"every_h": 10}, ["every_h", "multiple of 6"]),
    ({"cv_within_subject": -0.1}, ["cv_within_subject"]),
    ({"cv_analytical": 0.02, "cv": 0.1}, ["cv", "Extra inputs"]),
])
def test_a_bad_measurement_block_names_the_field(measurement, words):
    data = {"arms": [{"name": "placebo", "n": 20}, {"name": "msc", "n": 20}],
            "endpoints": {"measurement": measurement}}
    with pytest.raises(TrialError) as err:
        trial_from_dict(data, "t.yaml")
    for w in words:
        assert w in str(err.value)


def test_each_replicate_reads_its_own_noise_draw():
    """A patient's baseline error is shared by all their samples; frozen into the pool, one draw would bias
    every replicate the same way. ``realizations`` gives independent draws, one per replicate (modulo)."""
    ep = Endpoints(recovery=TRIAL_RULE, measurement=Measurement(), horizon_days=30)
    scr = _flat(1.04, 400)
    surv = np.ones_like(scr)
    entry = np.full(400, 24.0)
    o = outcomes(T, scr, surv, entry, scr[:, 0], ep, np.random.default_rng(1), realizations=5)
    assert o.recovery_days.shape == (400, 5) and o.size == 400
    # independent draws: the same patient recovers on different days in different draws
    assert np.mean(o.recovery_days[:, 0] != o.recovery_days[:, 1]) > 0.3
    assert np.array_equal(o.recovery(7)[0], o.recovery_days[:, 2])
    # the first draw is the single draw of the same generator
    one = outcomes(T, scr, surv, entry, scr[:, 0], ep, np.random.default_rng(1))
    assert np.array_equal(one.recovery_days, o.recovery_days[:, 0])
    # noise-free endpoints are the same for every replicate
    free = outcomes(T, scr, surv, entry, scr[:, 0], Endpoints(horizon_days=30))
    assert free.recovery_days.ndim == 1 and np.array_equal(free.recovery(3)[0], free.recovery_days)
