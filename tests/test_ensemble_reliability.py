"""Ensembles under stress: a secured Dask cluster, killed runs, full disks, bad requests, bounds.

docs/reliability.md lists each guarantee with the test here that checks it.
"""

import errno
import fcntl
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from nephrosim import ensemble
from nephrosim.errors import UserInputError
from nephrosim.run.ensemble import MAX_CHUNK_ROWS, MAX_CHUNKS, MAX_OUTPUT_ROWS, MAX_SAMPLES, executors

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "examples" / "mouse_clearance_drop.yaml")


# --- helpers: processes by pid (psutil when installed, else /proc) ---------------------
def _children(pid: int) -> list[int]:
    try:
        import psutil
    except ImportError:
        kids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(entry.name))
        return kids
    return [p.pid for p in psutil.Process(pid).children(recursive=True)]


def _alive(pid: int) -> bool:
    """Running and not a zombie (an orphan's zombie is dead, waiting for init to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _wait_until_gone(pids, seconds: float) -> list[int]:
    deadline = time.time() + seconds
    while time.time() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


def _cli(out: Path, samples: int, chunk_size: int, workers: int = 2) -> list[str]:
    return [sys.executable, "-m", "nephrosim.cli", "ensemble", SCENARIO, "-n", str(samples), "-o", str(out),
            "--seed", "5", "--chunk-size", str(chunk_size), "--workers", str(workers)]


def _start_and_wait_for_a_chunk(cmd, parts: Path):
    """Start the CLI and return (process, its worker pids) once it has saved a chunk."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not list(parts.glob("chunk-*.parquet")):
        assert proc.poll() is None, "the run ended before it saved a chunk"
        time.sleep(0.02)
    workers = _children(proc.pid)
    assert len(workers) >= 2, f"expected 2 worker processes, found {workers}"
    return proc, workers


def _reap(pids) -> None:
    for pid in pids:  # only the processes this test started
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _pem_files(folder: Path, security) -> tuple[Path, Path, Path]:
    """A Security's in-memory CA, certificate and key, written as files."""
    folder.mkdir()
    paths = (folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    for path, pem in zip(paths, (security.tls_ca_file, security.tls_client_cert, security.tls_client_key)):
        path.write_text(pem)
    return paths


def _tls_client(host: str, port: int, cert_and_key) -> str:
    """'accepted' if the server talks over TLS to a client with this certificate, else 'refused'."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # we test the server's check, not ours
    if cert_and_key:
        ctx.load_cert_chain(*map(str, cert_and_key))
    with socket.create_connection((host, port), timeout=5) as raw:
        try:
            with ctx.wrap_socket(raw) as tls:
                tls.settimeout(1.5)
                data = tls.recv(1)  # TLS 1.3 reports a rejected client certificate here
        except TimeoutError:
            return "accepted"  # connected, nothing said yet
        except (ssl.SSLError, ConnectionError):
            return "refused"
    return "accepted" if data else "refused"  # an accepted client gets the Dask handshake


# --- 1. the Dask cluster nephrosim starts --------------------------------------------
def test_local_dask_cluster_admits_only_holders_of_its_certificate(tmp_path):
    from distributed.security import Security

    with executors.dask_client(workers=1) as client:
        address = client.scheduler.address
        assert address.startswith("tls://127.0.0.1:"), address
        assert client.submit(sum, [1, 2]).result(timeout=30) == 3  # the cluster's own client works
        workers = client.scheduler_info()["workers"]
        assert workers and all(w.startswith("tls://127.0.0.1:") for w in workers), workers
        host, port = address.removeprefix("tls://").rsplit(":", 1)
        own = _pem_files(tmp_path / "own", client.security)
        other = _pem_files(tmp_path / "other", Security.temporary())
        assert _tls_client(host, int(port), own[1:]) == "accepted"  # the check can tell the two apart
        assert _tls_client(host, int(port), None) == "refused"  # no certificate
        assert _tls_client(host, int(port), other[1:]) == "refused"  # a certificate of another cluster
        with socket.create_connection((host, int(port)), timeout=3) as plain:  # no TLS at all
            plain.sendall(b"GET / HTTP/1.0\r\n\r\n")
            try:
                reply = plain.recv(64)
            except ConnectionResetError:
                reply = b""
            assert reply[:1] in (b"", b"\x15"), reply  # closed, or a TLS alert record

        # no dashboard, no HTTP routes
        http_port = client.cluster.scheduler.http_server.port
        for path in ("/status", "/health", "/info/main/workers.html", "/metrics"):
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(f"http://127.0.0.1:{http_port}{path}", timeout=3)
            assert info.value.code == 404, path

        # the same cluster as a "remote" scheduler, with its credentials as files: = serial
        remote = ensemble(SCENARIO, 20, tmp_path / "d.parquet", seed=4, chunk_size=10, scheduler="dask",
                          dask_address=address, dask_security=own)
        # and from the command line, with the files given as --dask-tls CA,CERT,KEY
        from typer.testing import CliRunner

        from nephrosim.cli import app

        cli = CliRunner().invoke(app, ["ensemble", SCENARIO, "-n", "20", "--seed", "4", "--chunk-size", "10",
                                       "-o", str(tmp_path / "c.parquet"), "--scheduler", "dask",
                                       "--dask-address", address, "--dask-tls", ",".join(map(str, own))])
        assert cli.exit_code == 0, cli.output
    serial = ensemble(SCENARIO, 20, tmp_path / "s.parquet", seed=4, chunk_size=10)
    pd.testing.assert_frame_equal(pd.read_parquet(serial.path), pd.read_parquet(remote.path))
    pd.testing.assert_frame_equal(pd.read_parquet(serial.path), pd.read_parquet(tmp_path / "c.parquet"))


def test_a_local_cluster_that_lost_its_workers_is_an_error_not_a_hang():
    with executors.dask_client(workers=1) as client:
        client.retire_workers(close_workers=True)
        deadline = time.time() + 20
        while client.nthreads() and time.time() < deadline:
            time.sleep(0.1)
        started = time.time()
        with pytest.raises(RuntimeError, match="no worker for 1 s"):
            executors.run_dask(client, "{}", [(0, 1, [], None)], lambda r: None, lambda: None, no_worker_limit_s=1)
        assert time.time() - started < 10


def test_dask_options_are_checked_before_anything_starts(tmp_path):
    out = tmp_path / "x.parquet"
    with pytest.raises(UserInputError, match="dask_security: the CA certificate"):
        ensemble(SCENARIO, 10, out, scheduler="dask", dask_address="tls://127.0.0.1:1",
                 dask_security=(tmp_path / "no.pem", tmp_path / "no.pem", tmp_path / "no.pem"))
    with pytest.raises(UserInputError, match="give its credentials as dask_security"):
        ensemble(SCENARIO, 10, out, scheduler="dask", dask_address="tls://127.0.0.1:1")
    with pytest.raises(UserInputError, match="needs scheduler='dask'"):
        ensemble(SCENARIO, 10, out, dask_address="tls://127.0.0.1:1")
    from typer.testing import CliRunner

    from nephrosim.cli import app

    for tls, says in (("ca.pem,cert.pem", "the paths of a TLS CA certificate, certificate and private key"),
                      (f"{tmp_path / 'no.pem'},b,c", "the CA certificate")):
        cli = CliRunner().invoke(app, ["ensemble", SCENARIO, "-n", "10", "-o", str(out), "--scheduler", "dask",
                                       "--dask-address", "tls://127.0.0.1:1", "--dask-tls", tls])
        assert cli.exit_code != 0 and says in " ".join(cli.output.split()), cli.output
        assert "Traceback" not in cli.output
    assert not list(tmp_path.iterdir())


# --- 2. killed runs: no orphans, no leftovers, exact resume -----------------------------
def test_kill_9_leaves_no_worker_and_the_rerun_resumes_exactly(tmp_path):
    out, parts = tmp_path / "k.parquet", tmp_path / "k.parquet.parts"
    cmd = _cli(out, 120, 6)
    proc, workers = _start_and_wait_for_a_chunk(cmd, parts)
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert _wait_until_gone(workers, 5) == [], "worker processes outlived their killed parent"
    finally:
        _reap(workers)
    done_before = len(list(parts.glob("chunk-*.parquet")))
    assert 0 < done_before < 20, "the run should have been killed midway"
    rerun = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"({20 - done_before} computed now)" in rerun.stdout
    assert not parts.exists() and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    clean = ensemble(SCENARIO, 120, tmp_path / "clean.parquet", seed=5, chunk_size=120)
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(clean.path))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sigterm_and_sigint_stop_the_workers_and_keep_finished_chunks(tmp_path, sig):
    out, parts = tmp_path / "t.parquet", tmp_path / "t.parquet.parts"
    proc, workers = _start_and_wait_for_a_chunk(_cli(out, 200, 10), parts)
    try:
        os.kill(proc.pid, sig)
        assert proc.wait(timeout=10) != 0
        assert _wait_until_gone(workers, 5) == [], "worker processes outlived their stopped parent"
    finally:
        _reap(workers)
    assert not out.exists()
    assert (parts / "manifest.json").is_file() and list(parts.glob("chunk-*.parquet"))
    assert not list(parts.glob("*.tmp")), "a half-written chunk was left behind"


# A pool worker that has begun to send its result and then dies (or is killed by the parent)
# mid-message: CPython's ProcessPoolExecutor then waits for the rest of the message forever.
_HALF_SENT = """
import os, signal, struct, sys, time
from nephrosim.run.ensemble import executors

def job(index):
    if index == 0:  # begin a 1 MiB result as the pool's worker would, then stop mid-message
        frame = sys._getframe()
        while "result_queue" not in frame.f_locals:
            frame = frame.f_back
        writer = frame.f_locals["result_queue"]._writer
        os.write(writer.fileno(), struct.pack("!i", 1 << 20) + b"half a result")
        if sys.argv[1] == "worker-dies":
            os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)

executors.run_chunk = job
executors._init_process_worker = lambda scenario_json, parent_pid: executors._die_with_parent(parent_pid)
print("started", flush=True)
with executors.exit_on_sigterm():
    try:
        executors.run_processes("{}", [0, 1], 2, save=print, advance=lambda: None)
    except executors.WorkerLostError as exc:
        print("WorkerLostError:", exc, flush=True)
        sys.exit(3)
"""


@pytest.mark.parametrize("how", ["worker-dies", "SIGTERM"])
def test_a_worker_lost_in_the_middle_of_a_result_neither_hangs_the_run_nor_its_stop(tmp_path, how):
    """Seen in CI: SIGTERM during a two-worker ensemble hung the parent (10 s timeout) because
    the pool's manager thread was blocked reading a result a killed worker had half sent. Here a
    worker half-sends a 1 MiB result and then dies, or the parent gets SIGTERM meanwhile."""
    script = tmp_path / "half_sent.py"
    script.write_text(_HALF_SENT)
    proc = subprocess.Popen([sys.executable, str(script), how], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout.readline().strip() == "started"
        workers = []
        deadline = time.time() + 20
        while len(workers) < 2 and time.time() < deadline:
            workers = _children(proc.pid)
            time.sleep(0.05)
        assert len(workers) == 2, workers
        if how == "SIGTERM":
            time.sleep(1.0)  # the half result is in the pipe by now
            os.kill(proc.pid, signal.SIGTERM)
        output, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
        _reap(workers)
    if how == "SIGTERM":
        assert proc.returncode == 143, output
    else:
        assert proc.returncode == 3, output
        assert "was killed by signal 9" in output and "rerun the same command to resume" in output, output
    assert _wait_until_gone(workers, 5) == [], "worker processes outlived the run"


def test_resume_removes_stale_temporary_files_of_the_same_output(tmp_path):
    out, parts = tmp_path / "r.parquet", tmp_path / "r.parquet.parts"
    ensemble(SCENARIO, 20, out, seed=2, chunk_size=10, max_chunks=1)
    stale = [parts / ".chunk-000001.parquet.k3j2.tmp", tmp_path / ".r.parquet.x8d1.tmp"]
    kept = [tmp_path / ".other.parquet.a1b2.tmp", parts / "notes.txt"]
    for path in stale + kept:
        path.write_bytes(b"PAR1 half a file")
    done = ensemble(SCENARIO, 20, out, seed=2, chunk_size=10)
    assert done.chunks_computed == 1 and out.exists()
    assert not any(p.exists() for p in stale)
    assert kept[0].exists()


def test_a_second_run_on_the_same_output_is_refused_while_the_first_holds_it(tmp_path):
    out, parts = tmp_path / "c.parquet", tmp_path / "c.parquet.parts"
    ensemble(SCENARIO, 20, out, seed=2, chunk_size=10, max_chunks=0)  # creates the folder only
    fd = os.open(parts / ".lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a running ensemble holds it
        with pytest.raises(UserInputError, match="another nephrosim ensemble is writing"):
            ensemble(SCENARIO, 20, out, seed=2, chunk_size=10)
    finally:
        os.close(fd)
    assert ensemble(SCENARIO, 20, out, seed=2, chunk_size=10).chunks_computed == 2


def test_a_full_disk_loses_no_chunk_and_the_rerun_completes_exactly(tmp_path, monkeypatch):
    """ENOSPC while writing a chunk, then while assembling the file: the error surfaces,
    nothing partial stays, and the rerun gives the clean result. (Since issue 15 the final file
    is appended to as chunks finish, so its failure stops the run at the first append: the
    chunk kept from before and the one just written.)"""
    import pyarrow.parquet as pq

    out, parts = tmp_path / "f.parquet", tmp_path / "f.parquet.parts"
    real_write, calls = pq.write_table, []

    def write_then_fill_the_disk(table, where, **kw):
        calls.append(where)
        if len(calls) == 2:
            Path(where).write_bytes(b"PAR1 partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(table, where, **kw)

    monkeypatch.setattr(pq, "write_table", write_then_fill_the_disk)
    with pytest.raises(UserInputError) as info:
        ensemble(SCENARIO, 30, out, seed=6, chunk_size=10)
    assert "No space left on device" in str(info.value) and "1 of 3 chunks are finished" in str(info.value)
    assert sorted(p.name for p in parts.iterdir() if not p.name.startswith(".lock")) == \
        ["chunk-000000.parquet", "manifest.json"]
    monkeypatch.undo()

    class FullDiskWriter(pq.ParquetWriter):  # the writer that assembles the final file
        def write_table(self, table, *a, **kw):
            super().write_table(table, *a, **kw)
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq, "ParquetWriter", FullDiskWriter)  # pq.write_table keeps the real one
    with pytest.raises(UserInputError, match="2 of 3 chunks are finished .* rerun the same command"):
        ensemble(SCENARIO, 30, out, seed=6, chunk_size=10)
    monkeypatch.undo()
    assert not out.exists() and len(list(parts.glob("chunk-*.parquet"))) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

    last = ensemble(SCENARIO, 30, out, seed=6, chunk_size=10)
    assert last.chunks_computed == 1
    clean = ensemble(SCENARIO, 30, tmp_path / "clean.parquet", seed=6, chunk_size=30)
    frame = pd.read_parquet(out)
    pd.testing.assert_frame_equal(frame, pd.read_parquet(clean.path))
    assert sorted(frame["sample"].unique()) == list(range(30))


# --- 2b. bad requests leave nothing behind --------------------------------------------
BAD = {
    "chunk_size=0": ({"chunk_size": 0}, "chunk_size"),
    "chunk_size=-5": ({"chunk_size": -5}, "chunk_size"),
    "chunk_size=2.5": ({"chunk_size": 2.5}, "chunk_size"),
    "seed=-1": ({"seed": -1}, "seed"),
    "samples=0": ({"samples": 0}, "samples"),
    "workers=0": ({"workers": 0}, "workers"),
    "cv=nan": ({"cv": float("nan")}, "cv"),
    "bad prior": ({"prior": "PRIOR"}, "line 2, distribution"),
    "missing prior": ({"prior": "no_such_prior.csv"}, "prior"),
}


@pytest.mark.parametrize("bad", list(BAD), ids=list(BAD))
def test_a_rejected_request_creates_nothing_and_the_corrected_one_runs(tmp_path, bad):
    options, named = BAD[bad]
    options = dict(options)
    if options.get("prior") == "PRIOR":
        options["prior"] = tmp_path / "prior.csv"
        options["prior"].write_text("name,distribution,median,cv,lower,upper\ngfr_ml_min_per_kg,gamma,,,1,2\n")
    samples = options.pop("samples", 10)
    out = tmp_path / "out" / "e.parquet"
    with pytest.raises(UserInputError) as info:
        ensemble(SCENARIO, samples, out, **{"chunk_size": 5, **options})
    assert named in str(info.value)
    assert not (tmp_path / "out").exists(), "a rejected request left files behind"
    if bad == "chunk_size=0":  # the corrected rerun is not blocked by anything
        assert ensemble(SCENARIO, 10, out, chunk_size=5).chunks_computed == 2


def test_the_command_line_refuses_a_bad_chunk_size_on_one_line(tmp_path):
    out = tmp_path / "e.parquet"
    done = subprocess.run([sys.executable, "-m", "nephrosim.cli", "ensemble", SCENARIO, "-n", "10", "-o", str(out),
                           "--chunk-size", "-5"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--chunk-size" in done.stderr and "-5" in done.stderr
    assert not list(tmp_path.iterdir())


# --- 3. bounds ------------------------------------------------------------------------
@pytest.fixture
def no_simulation(monkeypatch):
    """Fail the test if anything is simulated."""
    def refuse(*a, **k):
        raise AssertionError("simulated a request that should have been refused")

    for name in ("run_serial", "run_processes", "run_dask"):
        monkeypatch.setattr(executors, name, refuse)


def _tiny(times: int = 1, readouts=("serum_creatinine",), arms: int = 1) -> dict:
    return {"species": "mouse", "injury": {"model": "sham"}, "readouts": list(readouts),
            "times_h": [float(t) for t in range(times)], "arms": [{"name": f"a{k}"} for k in range(arms)]}


def test_samples_and_chunk_size_above_the_maximum_are_refused(tmp_path, no_simulation):
    with pytest.raises(UserInputError, match=r"samples=100000001 \(--samples\): give 1 to 100,000,000"):
        ensemble(_tiny(), MAX_SAMPLES + 1, tmp_path / "e.parquet")
    with pytest.raises(UserInputError, match=r"chunk_size=100000001 \(--chunk-size\)"):
        ensemble(_tiny(), 10, tmp_path / "e.parquet", chunk_size=MAX_SAMPLES + 1)
    assert not list(tmp_path.iterdir())


def test_an_output_above_the_row_bound_is_refused_before_simulating(tmp_path, no_simulation):
    # 2 arms × 11 times × 5 readouts = 110 rows a sample
    with pytest.raises(UserInputError) as info:
        ensemble(SCENARIO, 10**8, tmp_path / "e.parquet")
    message = str(info.value)
    assert f"above the bound of {MAX_OUTPUT_ROWS:,}" in message and "110 rows per sample" in message
    assert f"use at most {MAX_OUTPUT_ROWS // 110:,} samples" in message
    assert not list(tmp_path.iterdir())


def test_a_chunk_above_the_row_bound_is_refused_with_the_chunk_size_that_fits(tmp_path, no_simulation):
    scenario = _tiny(times=5000, readouts=("serum_creatinine", "bun", "gfr"), arms=2)  # 30,000 rows a sample
    with pytest.raises(UserInputError) as info:
        ensemble(scenario, 1000, tmp_path / "e.parquet", chunk_size=250)
    assert f"use --chunk-size {MAX_CHUNK_ROWS // 30000:,} or less" in str(info.value)
    with pytest.raises(UserInputError, match=f"above the bound of {MAX_CHUNKS:,}; use --chunk-size 3 or more"):
        ensemble(_tiny(), 2 * MAX_CHUNKS + 1, tmp_path / "e.parquet", chunk_size=1)
    assert not list(tmp_path.iterdir())
