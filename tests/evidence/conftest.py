import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def bcg():
    return pd.read_csv(DATA / "dat_bcg.csv")


@pytest.fixture(scope="session")
def bcg_rr(bcg):
    from nephrosim.evidence import escalc

    return escalc("RR", bcg)


@pytest.fixture(scope="session")
def _seeded_template(tmp_path_factory):
    from nephrosim.evidence import EvidenceStore

    path = tmp_path_factory.mktemp("seed") / "evidence.duckdb"
    EvidenceStore(path).ensure()
    return path


@pytest.fixture
def store(_seeded_template, tmp_path, monkeypatch):
    """A fresh, seeded store per test (copied from one seeded template)."""
    from nephrosim.evidence import EvidenceStore

    path = tmp_path / "evidence.duckdb"
    shutil.copyfile(_seeded_template, path)
    monkeypatch.setenv("NEPHROSIM_DB", str(path))
    return EvidenceStore(path)


@pytest.fixture(autouse=True)
def _no_user_db(monkeypatch, tmp_path):
    """Never touch the real user data dir from tests."""
    if "NEPHROSIM_DB" not in os.environ:
        monkeypatch.setenv("NEPHROSIM_DB", str(tmp_path / "default.duckdb"))
