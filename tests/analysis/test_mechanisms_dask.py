"""Sensitivity and attribution on a Dask cluster: the same numbers as in this process, bit for
bit, and an interrupted Dask run resumes from the chunks it kept.

One test starts its own cluster (``scheduler="local", workers=2``); the others share one TLS
cluster of two worker processes on 127.0.0.1 (the same :func:`nephrosim.run.ensemble.executors.
dask_client`), since a start costs seconds, and reach it by its ``tls://`` address and
credentials.
"""

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from nephrosim.analysis.attribution import attribute
from nephrosim.analysis.checkpoints import Checkpoints
from nephrosim.analysis.sensitivity import scenario_sensitivity
from tests.analysis._cli import mechanisms_app
from nephrosim.scenarios.schema import scenario_from_dict

CLEARANCE = "examples/mouse_clearance_drop.yaml"
#: Morris, 2 parameters, 4 trajectories: 12 simulations, in 6 chunks of 2 rows
MORRIS = dict(scenario=CLEARANCE, readout="serum_creatinine", at_h=24.0, arm="vehicle", method="morris",
              samples=4, seed=3, parameters=["gfr_ml_min_per_kg", "tbw_fraction"], chunk=2)


@pytest.fixture(scope="module")
def cluster():
    """``(address, security)`` of a local TLS cluster of two worker processes."""
    from nephrosim.run.ensemble.executors import dask_client

    with dask_client(workers=2) as client:
        assert len(client.nthreads()) == 2
        yield client.scheduler.address, client.security


@pytest.fixture(scope="module")
def serial_morris():
    return scenario_sensitivity(**MORRIS)


def _head_to_head(arms):
    with open("examples/head_to_head_mouse_iri.yaml") as f:
        data = yaml.safe_load(f)
    data["arms"] = [a for a in data["arms"] if a["name"] in arms]
    return scenario_from_dict(data)


def _stop_after(saves: int, monkeypatch):
    """Make the checkpoint store raise Ctrl-C right after its ``saves``-th piece is kept: an
    interruption in the middle of a run, with other tasks still in flight on the cluster."""
    kept = []
    real = Checkpoints.save

    def save_then_interrupt(self, key, **arrays):
        real(self, key, **arrays)
        kept.append(key)
        if len(kept) == saves:
            raise KeyboardInterrupt

    monkeypatch.setattr(Checkpoints, "save", save_then_interrupt)
    return kept


def _assert_same_indices(a, b):
    assert a.names == b.names and a.evaluations == b.evaluations
    for key in a.indices:
        for x, y in zip(a.indices[key], b.indices[key]):
            np.testing.assert_array_equal(x, y)  # exact: the same simulations, wherever they ran


def test_sensitivity_on_dask_is_the_serial_result(serial_morris):
    on_dask = scenario_sensitivity(**MORRIS, scheduler="local", workers=2)  # starts and closes its own cluster
    _assert_same_indices(serial_morris, on_dask)
    assert serial_morris.value("mu_star", "gfr_ml_min_per_kg") > 0


def test_interrupted_dask_sensitivity_resumes_from_its_chunks(cluster, serial_morris, tmp_path, monkeypatch):
    address, security = cluster
    kept = _stop_after(2, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        scenario_sensitivity(**MORRIS, scheduler=address, security=security, out_dir=tmp_path)
    monkeypatch.undo()
    chunks = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("rows-*.npz")}
    assert sorted(chunks) == sorted(f"{k}.npz" for k in kept) and len(chunks) == 2
    resumed = scenario_sensitivity(**MORRIS, scheduler=address, security=security, out_dir=tmp_path)
    after = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("rows-*.npz")}
    assert len(after) == 6  # 12 rows in chunks of 2
    assert {n: after[n] for n in chunks} == chunks  # the kept chunks were read back, not simulated again
    _assert_same_indices(serial_morris, resumed)


def test_interrupted_dask_attribution_resumes_and_equals_serial(cluster, tmp_path, monkeypatch):
    """Vehicle and one EV arm, nominal parameters plus 2 draws: 1 + 3 tasks of one parameter set each."""
    address, security = cluster
    scenario = _head_to_head({"vehicle", "ev"})
    options = dict(samples=2, seed=4, chunk=1)
    serial = attribute(scenario, **options)
    _stop_after(2, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        attribute(scenario, **options, scheduler=address, security=security, out_dir=tmp_path)
    monkeypatch.undo()
    kept = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.npz")}
    assert len(kept) == 2 and not (tmp_path / "arm-0.npz").exists()  # the EV arm was not finished
    resumed = attribute(scenario, **options, scheduler=address, security=security, out_dir=tmp_path)
    assert (tmp_path / "arm-0.npz").is_file() and (tmp_path / "vehicle.npz").is_file()
    assert all((tmp_path / n).stat().st_mtime_ns == t for n, t in kept.items())  # read back, not rerun
    a, b = serial.arms["ev"], resumed.arms["ev"]
    assert a.shares == b.shares and a.total == b.total and a.vs_vehicle == b.vs_vehicle
    for x, y in ((a.coalitions, b.coalitions), (a.draw_shares, b.draw_shares),
                 (a.draw_vs_vehicle, b.draw_vs_vehicle), (a.interactions, b.interactions)):
        np.testing.assert_array_equal(x, y)
    assert sum(b.shares.values()) == pytest.approx(b.total, rel=1e-9)  # Shapley efficiency


def test_commands_run_on_a_tls_scheduler_and_refuse_a_bad_one(cluster, serial_morris, tmp_path):
    address, security = cluster
    pems = []
    for name, pem in (("ca", security.tls_ca_file), ("cert", security.tls_client_cert),
                      ("key", security.tls_client_key)):
        pems.append(tmp_path / f"{name}.pem")
        pems[-1].write_text(pem)
    runner = CliRunner()
    args = ["sensitivity", CLEARANCE, "--method", "morris", "--arm", "vehicle", "--samples", "4", "--seed", "3",
            "--parameter", "gfr_ml_min_per_kg", "--parameter", "tbw_fraction", "--json"]
    done = runner.invoke(mechanisms_app(), [*args, "--scheduler", address, "--tls", *map(str, pems)])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["parameters"]["gfr_ml_min_per_kg"]["mu_star"]["value"] == serial_morris.value(
        "mu_star", "gfr_ml_min_per_kg")
    for command in (args, ["attribute", "examples/head_to_head_mouse_iri.yaml", "--samples", "0"]):
        for bad, fix in ((["--scheduler", "dask"], "'local'"), (["--scheduler", address], "--tls CA CERT KEY"),
                         (["--scheduler", "local", "--workers", "0"], "give 1 to 1024")):
            done = runner.invoke(mechanisms_app(), [*command, *bad])
            assert done.exit_code == 2, done.output
            assert ("--scheduler" in done.output or "--workers" in done.output) and fix in done.output
            assert "Traceback" not in done.output
