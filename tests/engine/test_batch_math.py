"""The batch engine's SIMD exp/log/pow against the C library (issue 15).

The generated C computes exp, log and pow of four patients at once (fdlibm's reductions and
polynomials, :data:`nephrosim.engine.batch.codegen._SIMD_EXP_LOG_POW`) instead of calling libm
lane by lane. These tests compile exactly the header the models use, with the model's own
compiler flags, and compare it with libm (through numpy, which calls the same C library):

* exp and log within 1 ulp over a million arguments spread over their whole fast range;
* pow within 1e-13 relative, the error log's last bit makes when multiplied by |b·log a| ≤ 708;
* every special value — zero, negative, subnormal, infinite and NaN bases, huge exponents —
  is libm's own, bit for bit (those lanes call libm);
* a lane's result depends only on its own arguments (the same argument in every lane position,
  beside any neighbours, gives the same bits): a patient's numbers do not depend on its lane.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from nephrosim.engine.batch import compiled
from nephrosim.engine.batch.codegen import LANES, _MIN_MAX, _lanes_header

pytestmark = pytest.mark.skipif(shutil.which(compiled.CC) is None, reason="the batch engine needs a C compiler")

_WRAPPER = """
#define APPLY(NAME, EXPR) void NAME(const double *a, const double *b, double *out, long n) { \\
  for (long i = 0; i < n; i += LANES) { vd x, y; \\
    for (int l = 0; l < LANES; l++) { x[l] = a[i + l]; y[l] = b[i + l]; } \\
    vd r = EXPR; for (int l = 0; l < LANES; l++) out[i + l] = r[l]; } }
APPLY(t_exp, vexp(x))
APPLY(t_log, vlog(x))
APPLY(t_pow, vpow(x, y))
"""


@pytest.fixture(scope="module")
def simd(tmp_path_factory):
    """The generated header plus a wrapper, built as the models are, loaded with cffi."""
    from cffi import FFI

    folder = tmp_path_factory.mktemp("simd_math")
    src, lib = folder / "m.c", folder / "m.so"
    src.write_text(f"#include <math.h>\n#include <stdlib.h>\n{_MIN_MAX}{_lanes_header(LANES)}{_WRAPPER}")
    flags = [f for f in compiled.cflags() if f != "-fopenmp"]
    proc = subprocess.run([compiled.CC, *flags, "-o", str(lib), str(src), "-lm"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    ffi = FFI()
    ffi.cdef("\n".join(f"void t_{f}(const double *a, const double *b, double *out, long n);"
                       for f in ("exp", "log", "pow")))
    handle = ffi.dlopen(str(lib))

    def call(name, a, b=None):
        a = np.ascontiguousarray(a, dtype=float)
        b = np.ascontiguousarray(np.zeros_like(a) if b is None else b, dtype=float)
        assert a.size % LANES == 0
        out = np.empty_like(a)
        getattr(handle, f"t_{name}")(ffi.cast("double *", a.ctypes.data), ffi.cast("double *", b.ctypes.data),
                                     ffi.cast("double *", out.ctypes.data), a.size)
        return out

    return call


def _ulps(got, ref):
    return np.abs(got - ref) / np.spacing(np.abs(ref))


def test_exp_and_log_are_within_one_ulp_of_libm(simd):
    rng = np.random.default_rng(15)
    x = rng.uniform(-708.0, 708.0, 1_000_000)
    assert _ulps(simd("exp", x), np.exp(x)).max() <= 1.0
    a = np.exp(rng.uniform(-700.0, 700.0, 1_000_000))  # bases over ~600 binary orders of magnitude
    a[:1000] = 1.0 + rng.uniform(-1e-6, 1e-6, 1000)     # near 1, where log is smallest
    assert _ulps(simd("log", a), np.log(a)).max() <= 1.0


def test_pow_is_within_its_error_bound_of_libm(simd):
    rng = np.random.default_rng(16)
    a = np.exp(rng.uniform(-40.0, 40.0, 400_000))
    b = rng.uniform(-8.0, 8.0, 400_000)  # Hill exponents and beyond; |b·log a| up to 320
    got, ref = simd("pow", a, b), np.power(a, b)
    assert np.max(np.abs(got / ref - 1.0)) < 1e-13
    # elementwise, the bound of exp(u) with u = b·log a: u's rounding (log within 1 ulp, times
    # |b|, then one product rounded) moves the result by |Δu| relative, plus exp's own 1 ulp
    u = b * np.log(a)
    bound = (np.abs(b) * np.spacing(np.abs(np.log(a))) + np.spacing(np.abs(u)) + 2 * np.finfo(float).eps)
    assert np.all(np.abs(got / ref - 1.0) <= bound)
    # exact where pow is exact in libm
    ones = np.ones(8)
    np.testing.assert_array_equal(simd("pow", ones * 1.0, np.linspace(-5, 5, 8)), ones)
    np.testing.assert_array_equal(simd("pow", np.linspace(0.1, 9.0, 8), np.zeros(8)), ones)


def test_special_values_are_libms_bit_for_bit(simd):
    tiny = 5e-324  # subnormal
    with np.errstate(all="ignore"):
        x = np.array([-709.0, 709.5, 1000.0, -1000.0, np.inf, -np.inf, np.nan, 0.0])
        np.testing.assert_array_equal(simd("exp", x), np.exp(x))
        a = np.array([0.0, -0.0, -1.0, tiny, np.inf, np.nan, 1.0, 2.0])
        np.testing.assert_array_equal(simd("log", a), np.log(a))
        a = np.array([0.0, 0.0, -2.0, -2.0, tiny, np.inf, np.nan, 1e300, 1e-300, 2.0, 0.5, 10.0])
        b = np.array([2.5, -1.5, 3.0, 0.5, 0.5, 2.0, 1.0, 3.0, 3.0, np.nan, 2000.0, -400.0])
        np.testing.assert_array_equal(simd("pow", a, b), np.power(a, b))


def test_a_lanes_result_does_not_depend_on_its_lane_or_neighbours(simd):
    rng = np.random.default_rng(17)
    probe_a, probe_b = 0.8137, 2.63
    for name in ("exp", "log", "pow"):
        alone = simd(name, np.full(LANES, probe_a), np.full(LANES, probe_b))[0]
        for lane in range(LANES):
            # neighbours from every path: fast, and libm's (a negative base, a huge exponent)
            a = rng.choice([0.3, -1.0, 1e300, 7.0], LANES)
            b = rng.choice([1.5, 900.0, 0.5], LANES)
            a[lane], b[lane] = probe_a, probe_b
            with np.errstate(all="ignore"):
                got = simd(name, a, b)[lane]
            assert got.tobytes() == alone.tobytes(), (name, lane)
