"""libRoadRunner's JIT sections of one model stay within 32-bit reach (nephrosim.engine.jit_placement).

The failure is built on purpose in a child process: every hole of its address space is covered, a
3 GiB reservation is placed below the mappings, and small holes (1–8 pages) are opened at its top and one
16 MiB hole at its bottom. A model's small data sections then fit the top holes while its code (~200 kB)
only fits the bottom one, 3 GiB away — the layout a long test session or server can reach by chance.
A bare RoadRunner dies there with a segmentation fault (the control: it shows the layout is the one that
breaks libRoadRunner); the nephrosim Simulator, which loads through ``sections_together``, runs and
gives the trajectory of a clean process. The child loads libRoadRunner before it builds the layout and runs
with the interpreter's own allocator off (``PYTHONMALLOC=malloc``) and its collector paused: a 1 MiB arena
of Python objects freed after the layout was built opened a hole next to it, where all of the model's
sections then went together (a control survived on CI; 9 in 30 here once libRoadRunner loaded first). A
control that survives prints the child's mappings with the failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from nephrosim.engine.jit_placement import HOLE_LIMIT, holes

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "mouse_iri_msc.yaml"
TIMES = [0.0, 6.0, 24.0, 72.0]
OUTPUTS = ["tub_h_l", "tub_d_l", "ros_l"]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the guard is Linux-only (procfs)")

HOSTILE_LAYOUT = textwrap.dedent("""
    import ctypes, gc, json, sys
    import nephrosim
    from nephrosim.engine.jit_placement import holes
    from nephrosim.engine.simulator import Simulator, _roadrunner, fast_compile, own_compilation

    sbml = nephrosim.export_sbml(sys.argv[2])
    rr = _roadrunner()  # its libraries load now, not into the holes opened below
    gc.collect()  # nothing Python frees may open a hole above the layout (a freed 1 MiB arena did)
    gc.disable()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    PAGE, FIXED = 4096, 0x100000
    def reserve(addr, size, flags=0):
        got = libc.mmap(addr, size, 0, 0x02 | 0x20 | 0x4000 | flags, -1, 0)
        taken = got in (None, ctypes.c_void_p(-1).value)
        assert not taken or ctypes.get_errno() == 17, ctypes.get_errno()  # EEXIST: taken since read
        return None if taken else got
    # cover every hole below 64 GiB, those beside the kernel's [vvar]/[vdso] among the libraries too
    for start, size in holes(open("/proc/self/maps").read(), limit=64 << 30):
        reserve(start, size, FIXED)
    size = 3 << 30
    base = reserve(None, size)  # lands right below the lowest mapping of the top cluster
    top = base + size - PAGE
    for pages in (1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 8, 8):  # small holes at the top, one page apart
        top -= pages * PAGE
        libc.munmap(top, pages * PAGE)
        top -= PAGE
    libc.munmap(base + PAGE, 16 << 20)  # the only hole that fits the code, 3 GiB below them
    if sys.argv[1] == "bare":
        with fast_compile(rr):  # the load options read the backend settings when they are made
            model = rr.RoadRunner(sbml, own_compilation(rr))
        model.simulate(0, 1, 2)
        print(json.dumps("survived"))
        print(open("/proc/self/maps").read(), file=sys.stderr)  # where the sections went, if it ever survives
    else:
        out, status = Simulator(sbml, json.loads(sys.argv[3])).run(json.loads(sys.argv[4]))
        print(json.dumps({"status": status.code, "values": out.tolist()}))
""")



def _no_core_file():
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # the control's crash must not leave a core in the checkout


def _child(mode: str) -> subprocess.CompletedProcess:
    # PYTHONMALLOC=malloc: Python's own 1 MiB arenas, mapped among the libraries and freed at any time, would
    # open a hole above the layout after it is built (seen: 9 survivors in 30 with pymalloc, one on CI)
    return subprocess.run([sys.executable, "-c", HOSTILE_LAYOUT, mode, str(EXAMPLE), json.dumps(OUTPUTS),
                           json.dumps(TIMES)], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          preexec_fn=_no_core_file, env={**os.environ, "PYTHONMALLOC": "malloc"})


def test_holes_lists_the_gaps_below_the_stack_beside_the_vdso_too():
    top = 0x7f0000004000 + HOLE_LIMIT
    maps = "\n".join([
        "55d000000000-55d000100000 rw-p 00000000 00:00 0 [heap]",
        "7f0000000000-7f0000001000 rw-p 00000000 00:00 0",
        "7f0000003000-7f0000004000 r--p 00000000 00:00 0",  # a 2-page hole above the last
        f"{top:x}-{top + 0x1000:x} rw-p 00000000 00:00 0",  # a hole as large as the limit below it
        f"{top + 0x41000:x}-{top + 0x42000:x} r--p 00000000 00:00 0 [vvar]",  # 256 kB above the last
        f"{top + 0x43000:x}-{top + 0x45000:x} r-xp 00000000 00:00 0 [vdso]",  # 1 page above vvar
        f"{top + 0x45000 + (1 << 30):x}-{top + 0x46000 + (1 << 30):x} r--p 00000000 fe:00 1 /lib/ld.so",  # 1 GiB
        "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]",
    ])
    assert holes(maps) == [(0x7f0000001000, 0x2000), (top + 0x1000, 0x40000), (top + 0x42000, 0x1000),
                           (top + 0x45000, 1 << 30)]  # not the limit-sized hole, the heap's gap, the stack's


def test_a_hostile_address_layout_kills_a_bare_roadrunner_but_not_the_simulator():
    from nephrosim import export_sbml
    from nephrosim.engine.simulator import Simulator

    bare = _child("bare")
    assert bare.returncode == -signal.SIGSEGV, (
        "the control no longer crashes: libRoadRunner may place a model's sections together now (then "
        f"jit_placement can go) — rc {bare.returncode}, {bare.stdout[-300:]}\n"
        f"the child's mappings after the load:\n{bare.stderr}")
    guarded = _child("simulator")
    assert guarded.returncode == 0, guarded.stderr[-2000:]
    result = json.loads(guarded.stdout.strip().splitlines()[-1])
    reference, status = Simulator(export_sbml(str(EXAMPLE)), OUTPUTS).run(TIMES)
    assert result["status"] == status.code == "ok"
    np.testing.assert_allclose(result["values"], reference, rtol=1e-12, atol=0)


def test_a_child_forked_during_a_load_starts_with_a_free_lock_and_the_collector_on():
    """Ensembles fork worker processes; a fork while another thread holds the load lock (with the cyclic
    GC paused) must not leave the child unable to load a model or without its collector."""
    import gc
    import os

    from nephrosim.engine import jit_placement

    with jit_placement._LOADING:  # what compiling() holds while another thread compiles
        gc.disable()
        jit_placement._GC_PAUSED = True
        try:
            pid = os.fork()
            if pid == 0:  # the child: the lock must be free and the collector running
                ok = jit_placement._LOADING.acquire(timeout=5) and gc.isenabled()
                os._exit(0 if ok else 1)
            _, status = os.waitpid(pid, 0)
        finally:
            jit_placement._GC_PAUSED = False
            gc.enable()
    assert os.waitstatus_to_exitcode(status) == 0
