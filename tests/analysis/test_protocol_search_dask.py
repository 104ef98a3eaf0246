"""``optimize-protocol`` on Dask: optuna proposes the candidates here, one NSGA-II generation at a
time, and the workers evaluate them; the trials and the Pareto front are those of the serial run,
exactly.

The cluster is started as in ``test_mechanisms_dask.py``: a local TLS cluster of two worker
processes on 127.0.0.1 (:func:`nephrosim.run.ensemble.executors.dask_client`), reached by its
``tls://`` address and credentials.
"""

import json

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from nephrosim.analysis import protocol_search
from nephrosim.analysis.protocol_search import Evaluator, load_spec, optimize_protocol
from tests.analysis._cli import mechanisms_app
from tests.analysis.test_protocol_search import small_spec

#: 2 generations of 3 candidates (MSC IV, 2 parameter sets each)
TINY = {"trials": 6, "population": 3, "seed": 7}


@pytest.fixture(scope="module")
def cluster():
    """``(client, address, security)`` of a local TLS cluster of two worker processes."""
    from nephrosim.run.ensemble.executors import dask_client

    with dask_client(workers=2) as client:
        assert len(client.nthreads()) == 2
        yield client, client.scheduler.address, client.security


def _pems(security, folder):
    paths = []
    for name, pem in (("ca", security.tls_ca_file), ("cert", security.tls_client_cert),
                      ("key", security.tls_client_key)):
        paths.append(folder / f"{name}.pem")
        paths[-1].write_text(pem)
    return [str(p) for p in paths]


def _evaluators_on_worker():
    return len(protocol_search._EVALUATORS)


def test_search_on_dask_is_the_serial_search(cluster, tmp_path):
    client, address, security = cluster
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(small_spec(optimizer=TINY)))
    evaluator = Evaluator(load_spec(path))
    serial = optimize_protocol(path, tmp_path / "serial", evaluator=evaluator)
    on_dask = optimize_protocol(path, tmp_path / "dask", evaluator=evaluator, scheduler=address, security=security)
    assert serial.completed == on_dask.completed == 6 and on_dask.computed == 6 and on_dask.failed == 0
    # the same candidates, objectives and front, bit for bit
    pd.testing.assert_frame_equal(serial.trials, on_dask.trials, check_exact=True)
    pd.testing.assert_frame_equal(serial.front, on_dask.front, check_exact=True)
    pd.testing.assert_frame_equal(serial.references, on_dask.references, check_exact=True)
    assert len(serial.front) >= 1
    # two generations of NSGA-II: the second drew its candidates from the first
    assert on_dask.trials["trial"].tolist() == list(range(6))
    # the candidates were evaluated on the workers (each built the spec's Evaluator), not here
    built = client.run(_evaluators_on_worker)
    assert sum(built.values()) >= 1 and not protocol_search._EVALUATORS

    # the command: --scheduler with --tls gives the library's front
    runner = CliRunner()
    done = runner.invoke(mechanisms_app(), ["optimize-protocol", str(path), "--out", str(tmp_path / "cli"), "--json",
                                  "--scheduler", address, "--tls", *_pems(security, tmp_path)])
    assert done.exit_code == 0, done.output
    out = json.loads(done.stdout)
    assert out["computed_now"] == 6 and out["front"] == json.loads(serial.front.to_json(orient="records"))


def test_an_interrupted_dask_search_resumes(cluster, tmp_path, monkeypatch):
    """Ctrl-C right after the second result is told, with the rest of the generation in flight on
    the workers: the rerun keeps the two told trials, marks the unfinished ones failed
    (interrupted) and evaluates only what the requested total still lacks."""
    import optuna

    _, address, security = cluster
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(small_spec(optimizer=TINY)))
    evaluator = Evaluator(load_spec(path))
    real, told = optuna.study.Study.tell, []

    def tell_then_interrupt(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        told.append(out.number)
        if len(told) == 2:
            raise KeyboardInterrupt
        return out

    monkeypatch.setattr(optuna.study.Study, "tell", tell_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        optimize_protocol(path, tmp_path / "out", evaluator=evaluator, scheduler=address, security=security)
    monkeypatch.undo()
    resumed = optimize_protocol(path, tmp_path / "out", evaluator=evaluator, scheduler=address, security=security)
    frame = pd.read_csv(tmp_path / "out" / "trials.csv")
    interrupted = frame[~frame["complete"]]
    assert len(interrupted) == 1 and (interrupted["failure"] == "interrupted before it finished").all()
    assert set(told) <= set(resumed.trials["trial"])  # the told trials were kept, not evaluated again
    assert resumed.computed == 6 - 3 and resumed.completed + resumed.failed == 6


def test_command_refuses_a_bad_scheduler_before_any_work(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(small_spec(optimizer=TINY)))
    runner = CliRunner()
    for bad, fix in ((["--scheduler", "dask"], "'local'"), (["--scheduler", "tls://127.0.0.1:1"], "--tls CA CERT KEY"),
                     (["--scheduler", "local", "--workers", "0"], "give 1 to 1024")):
        done = runner.invoke(mechanisms_app(), ["optimize-protocol", str(path), "--out", str(tmp_path / "o"), *bad])
        assert done.exit_code == 2, done.output
        assert ("--scheduler" in done.output or "--workers" in done.output) and fix in done.output
        assert "Traceback" not in done.output and not (tmp_path / "o").exists()


def test_a_candidate_does_not_depend_on_the_candidates_evaluated_before(tmp_path):
    """What makes the Dask run equal the serial one: a worker evaluates another subset of the
    candidates, in another order. A compiled model keeps the tolerance scales (dose magnitude) of
    the scenario it was compiled from, so it is compiled from the low end of the dose range, not
    from whichever candidate came first (which changed results in the 7th digit)."""
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(small_spec(optimizer=TINY)))
    spec = load_spec(path)
    c = {"product": "msc", "tissue_source": "bone_marrow", "passage": 4, "hypoxia_o2_percent": None,
         "priming": ["ifn_gamma"], "culture": "spheroid", "serum_free": False, "dose": 1.7e6, "route": "iv",
         "time_h": 0.0, "doses_given": 1}
    other = dict(c, tissue_source="umbilical_cord", passage=2, hypoxia_o2_percent=1.0, priming=[], dose=3.1e5)
    first = Evaluator(spec)
    alone = first.evaluate(c)
    after = Evaluator(spec)
    after.evaluate(other)
    assert after.evaluate(c) == alone  # exact: every objective and modifier


def test_generation_batches_propose_what_optunas_own_loop_proposes(tmp_path):
    """optimize_protocol asks optuna for a generation at a time and tells the results as they
    finish; optuna's own loop (``study.optimize``, one trial after the other) with the same
    evaluator gives the same trials — parameters and objectives — including a last, partial
    generation (7 trials, population 3)."""
    import optuna

    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(small_spec(optimizer={"trials": 7, "population": 3, "seed": 11})))
    spec = load_spec(path)
    evaluator = Evaluator(spec)
    optimize_protocol(path, tmp_path / "batched", evaluator=evaluator)
    batched = protocol_search._open_study(spec, tmp_path / "batched").get_trials()

    reference = protocol_search._open_study(spec, tmp_path / "optuna")

    def objective(trial):
        ev = evaluator.evaluate(protocol_search._suggest(trial, spec.search))
        return [ev.efficacy, *(ev.risks[r] for r in spec.risks)]

    reference.optimize(objective, n_trials=7)
    ours = [(t.params, t.values, t.state) for t in batched]
    theirs = [(t.params, t.values, t.state) for t in reference.get_trials()]
    assert len(ours) == 7 and all(state == optuna.trial.TrialState.COMPLETE for _, _, state in ours)
    assert ours == theirs
