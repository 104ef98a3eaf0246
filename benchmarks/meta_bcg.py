"""Benchmark: REML random-effects fit on dat.bcg (k = 13) and on 1,000 synthetic studies.

Run:  python benchmarks/meta_bcg.py     (prints milliseconds per fit; not a test)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
try:
    import nephrosim.evidence  # noqa: F401
except ImportError:
    sys.path.insert(0, str(ROOT / "src"))

from nephrosim.evidence import escalc, rma  # noqa: E402


def timeit(fn, repeat):
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat * 1e3


def main():
    bcg = escalc("RR", pd.read_csv(ROOT / "tests" / "evidence" / "data" / "dat_bcg.csv"))
    y, v = bcg.yi.to_numpy(), bcg.vi.to_numpy()
    ms = timeit(lambda: rma(y, v, method="REML"), 200)
    print(f"dat.bcg (k=13)        REML fit: {ms:8.3f} ms   (tau2 = {rma(y, v).tau2:.4f})")
    ms = timeit(lambda: rma(y, v, method="REML", test="knha"), 200)
    print(f"dat.bcg (k=13)   REML+knha fit: {ms:8.3f} ms")
    rng = np.random.default_rng(1)
    k = 1000
    vi = rng.uniform(0.01, 0.5, k)
    yi = rng.normal(-0.5, np.sqrt(0.1 + vi))
    ms = timeit(lambda: rma(yi, vi, method="REML"), 20)
    print(f"synthetic (k=1000)    REML fit: {ms:8.3f} ms   (tau2 = {rma(yi, vi).tau2:.4f}, true 0.1)")
    x = rng.normal(size=k)
    ms = timeit(lambda: rma(yi, vi, method="REML", mods=x), 20)
    print(f"synthetic (k=1000) REML metareg: {ms:8.3f} ms")


if __name__ == "__main__":
    main()
