"""Conformance with metafor on dat.bcg (log risk ratios), to metafor's printed precision."""

import numpy as np
import pytest

from nephrosim.evidence import confint_tau2, leave1out, regtest, rma, trimfill
from nephrosim.evidence.meta import _qgen, _tau2_fisher

TOL = 5e-5


def close(a, b, tol=TOL):
    return abs(a - b) <= tol


def test_escalc_rr_first_trial(bcg_rr):
    # Aronson 1948: log((4/123)/(11/139)), vi = 1/4 - 1/123 + 1/11 - 1/139
    assert close(bcg_rr.yi[0], np.log((4 / 123) / (11 / 139)), 1e-12)
    assert close(bcg_rr.vi[0], 1 / 4 - 1 / 123 + 1 / 11 - 1 / 139, 1e-12)
    assert round(bcg_rr.yi[0], 4) == -0.8893
    assert round(bcg_rr.vi[0], 4) == 0.3256


def test_reml(bcg_rr):
    r = rma(bcg_rr.yi, bcg_rr.vi)
    assert r.method == "REML" and r.k == 13
    assert close(r.estimate, -0.7145)
    assert close(r.se, 0.1798)
    assert close(r.ci_lb, -1.0669)
    assert close(r.ci_ub, -0.3622)
    assert close(r.tau2, 0.3132)
    assert abs(r.i2 - 92.22) <= 0.005
    assert abs(r.h2 - 12.86) <= 0.005
    assert r.q_df == 12
    assert close(r.q, 152.2330)
    assert round(r.stat, 4) == -3.9744


def test_reml_tau2_qprofile_ci(bcg_rr):
    ci = confint_tau2(rma(bcg_rr.yi, bcg_rr.vi))
    # metafor confint(): tau^2 0.3132 [0.1197, 1.1115]; I^2 [81.92, 97.68]
    assert close(ci.tau2_lb, 0.1197)
    assert close(ci.tau2_ub, 1.1115)
    assert abs(ci.i2_lb - 81.92) < 0.01
    assert abs(ci.i2_ub - 97.68) < 0.01


def test_reml_knha_and_prediction_interval(bcg_rr):
    r = rma(bcg_rr.yi, bcg_rr.vi, test="knha")
    assert close(r.estimate, -0.7145)
    assert close(r.se, 0.1808)
    assert close(r.ci_lb, -1.1084)
    assert close(r.ci_ub, -0.3206)
    assert r.df == 12
    assert round(np.exp(r.pi_lb), 2) == 0.14
    assert round(np.exp(r.pi_ub), 2) == 1.76


def test_prediction_interval_z_without_knha(bcg_rr):
    r = rma(bcg_rr.yi, bcg_rr.vi)
    half = 1.959964 * np.sqrt(r.se**2 + r.tau2)
    assert close(r.pi_lb, r.estimate - half, 1e-6)
    # metafor predict(res, transf=exp): pi 0.15 to 1.55
    assert round(np.exp(r.pi_lb), 2) == 0.15 and round(np.exp(r.pi_ub), 2) == 1.55


def test_dl_and_fe(bcg_rr):
    dl = rma(bcg_rr.yi, bcg_rr.vi, method="DL")
    assert close(dl.estimate, -0.7141)
    assert close(dl.tau2, 0.3088)
    assert abs(dl.i2 - 92.1173) <= 5e-5
    fe = rma(bcg_rr.yi, bcg_rr.vi, method="FE")
    assert close(fe.estimate, -0.4303)
    assert fe.tau2 == 0
    assert abs(fe.i2 - 92.12) < 0.005  # I^2 = (Q - df)/Q for FE


def test_ml_tau2(bcg_rr):
    ml = rma(bcg_rr.yi, bcg_rr.vi, method="ML")
    assert close(ml.tau2, 0.2800)
    # ML score equation at the optimum (tight tolerance)
    y, v = np.asarray(bcg_rr.yi), np.asarray(bcg_rr.vi)
    t = _tau2_fisher(y, v, np.ones((13, 1)), "ML", tol=1e-12)
    w = 1 / (v + t)
    mu = np.sum(w * y) / np.sum(w)
    assert abs(np.sum(w**2 * (y - mu) ** 2) - np.sum(w)) < 1e-8


def test_pm_solves_generalized_q(bcg_rr):
    pm = rma(bcg_rr.yi, bcg_rr.vi, method="PM")
    y, v = np.asarray(bcg_rr.yi), np.asarray(bcg_rr.vi)
    assert abs(_qgen(y, v, np.ones((13, 1)), pm.tau2) - 12) < 1e-8
    assert round(pm.tau2, 4) == 0.3181  # metafor method="PM"


def test_he_and_sj_closed_forms(bcg_rr):
    y, v = np.asarray(bcg_rr.yi), np.asarray(bcg_rr.vi)
    k = 13
    he = rma(y, v, method="HE")
    # Hedges: (sum (y - ybar)^2 - (k-1)/k * sum v) / (k-1)   [intercept-only case]
    expected = (np.sum((y - y.mean()) ** 2) - (k - 1) / k * np.sum(v)) / (k - 1)
    assert abs(he.tau2 - expected) < 1e-10
    assert round(he.tau2, 4) == 0.3286
    sj = rma(y, v, method="SJ")
    t0 = np.var(y)
    w = 1 / (v + t0)
    mu = np.sum(w * y) / np.sum(w)
    assert abs(sj.tau2 - t0 * np.sum(w * (y - mu) ** 2) / (k - 1)) < 1e-10
    assert round(sj.tau2, 4) == 0.3455


def test_metaregression_ablat_knha(bcg, bcg_rr):
    r = rma(bcg_rr.yi, bcg_rr.vi, mods=bcg.ablat, mod_names=["ablat"], test="knha")
    assert r.coef_names == ("intrcpt", "ablat")
    assert close(r.beta[0], 0.2515)
    assert close(r.beta_se[0], 0.2839)
    assert close(r.beta[1], -0.0291)
    assert close(r.beta_se[1], 0.0082)
    assert close(r.tau2, 0.0764)
    assert abs(r.r2 - 75.62) <= 0.005
    assert r.df == 11


def test_exact_reml_differs_from_metafor_threshold_by_less_than_1e4(bcg, bcg_rr):
    exact = rma(bcg_rr.yi, bcg_rr.vi, mods=bcg.ablat, tol=1e-12)
    assert abs(exact.tau2 - 0.07635) < 1e-5


def test_egger_regtest_on_knha_model(bcg_rr):
    eg = regtest(rma(bcg_rr.yi, bcg_rr.vi, test="knha"))
    assert close(eg.stat, -0.7812)
    assert eg.df == 11
    assert close(eg.pval, 0.4512)


def test_trimfill_fe_and_reml(bcg_rr):
    tf = trimfill(rma(bcg_rr.yi, bcg_rr.vi, method="FE"))
    assert tf.k0 == 4 and tf.side == "right"
    assert close(tf.result.estimate, -0.2910)
    assert tf.result.method == "FE" and tf.result.k == 17
    tf2 = trimfill(rma(bcg_rr.yi, bcg_rr.vi))
    assert tf2.k0 == 1 and tf2.side == "right"
    assert close(tf2.result.estimate, -0.6571)
    assert tf2.result.method == "REML"


def test_leave1out_matches_refit(bcg_rr):
    r = rma(bcg_rr.yi, bcg_rr.vi)
    l1 = leave1out(r)
    assert len(l1) == 13
    ref = rma(bcg_rr.yi[1:], bcg_rr.vi[1:])
    assert close(l1.estimate[0], ref.estimate, 1e-12)


def test_result_is_immutable_and_serializable(bcg_rr):
    r = rma(bcg_rr.yi, bcg_rr.vi)
    with pytest.raises(Exception):
        r.estimate = 0.0
    d = r.to_dict()
    for key in ("estimate", "se", "ci_lb", "ci_ub", "tau2", "i2", "h2", "q", "q_df", "q_p", "k", "method",
                "measure", "pi_lb", "pi_ub"):
        assert key in d


@pytest.mark.parametrize("method", ["REML", "ML", "DL", "PM", "SJ", "HE", "FE"])
def test_all_methods_run_and_knha_widens(bcg_rr, method):
    z = rma(bcg_rr.yi, bcg_rr.vi, method=method)
    t = rma(bcg_rr.yi, bcg_rr.vi, method=method, test="knha")
    assert z.estimate == pytest.approx(t.estimate)
    assert np.isfinite(t.se) and t.ci_ub - t.ci_lb > 0
    # on dat.bcg (Q = 152 on 12 df) the Knapp-Hartung CI (t with k-1 df, rescaled SE) is wider than Wald's
    assert t.ci_ub - t.ci_lb > z.ci_ub - z.ci_lb


def test_knha_ci_is_wider_than_wald_reml_as_metafor(bcg_rr):
    # metafor 4.x, rma(yi, vi, data=dat.bcg-RR): Wald CI [-1.0669, -0.3622];
    # rma(..., test="knha"): CI [-1.1084, -0.3206]
    z = rma(bcg_rr.yi, bcg_rr.vi, method="REML")
    t = rma(bcg_rr.yi, bcg_rr.vi, method="REML", test="knha")
    wald_width, knha_width = z.ci_ub - z.ci_lb, t.ci_ub - t.ci_lb
    assert abs(wald_width - (-0.3622 - -1.0669)) < 2 * TOL
    assert abs(knha_width - (-0.3206 - -1.1084)) < 2 * TOL
    assert knha_width > wald_width + 0.08  # 0.7878 vs 0.7047


def test_bad_inputs_name_the_field():
    from nephrosim.evidence import InputError

    with pytest.raises(InputError, match="vi"):
        rma([0.1, 0.2], [0.1, -0.1])
    with pytest.raises(InputError, match="method"):
        rma([0.1, 0.2], [0.1, 0.1], method="XYZ")
