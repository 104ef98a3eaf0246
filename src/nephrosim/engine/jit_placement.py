"""Keep the sections libRoadRunner compiles for one model within 32-bit reach of each other.

Why. libRoadRunner (2.10, LLVM 13) compiles a model for the small code model: the machine code reaches
the model's constants and its global-offset table through 32-bit PC-relative offsets, so code and data
must lie within 2 GiB of each other. Its JIT's memory manager maps each kind of section (code, read-only
data, writable data) separately, and the first mapping of each carries no placement hint, so Linux puts
each in the highest free hole of the process's address range that fits it. In a long-lived process whose
mappings span more than 2 GiB with holes (a pytest worker that had run half the suite: 2.4 GiB mapped over
a 2.6 GiB range, with 13 malloc arenas of 64 MiB and ~250 numpy-sized holes), a one-page data section can
land in a small hole near the top while the code, too large for it, lands 2 GiB lower. The relocation is
then silently truncated (release builds do not assert) and the process dies with a segmentation fault
in RoadRunner's constructor: CI exit 139 in ``test_default_config`` (2026-12-07) and in a two-worker local
run. ``tests/engine/test_jit_placement.py`` builds such a layout on purpose: a bare RoadRunner dies there,
one loaded through :func:`sections_together` runs and gives the reference result. The upstream issues:
sys-bio/roadrunner#1091 (a large code model for the JIT) and llvm/llvm-project#65641.

What. For the duration of one compilation, every hole smaller than :data:`HOLE_LIMIT` between the
process's mappings (the kernel's ``[vvar]``/``[vdso]`` included, which recent kernels put among the
libraries) is covered by an inaccessible reservation (``PROT_NONE``, ``MAP_NORESERVE``: address space
only, no memory), so the first free range from the top that fits any section is one range, and the
kernel places all of the model's sections in it, next to each other. The reservations are released as
soon as the model is loaded. What the guard cannot cover is a hole that opens *during* the compilation
(memory another thread frees then; :func:`compiling` pauses the cyclic GC and serializes compilations to
keep this process's own frees out of that window); that risk remains. Cost: one read of
``/proc/self/maps`` and one ``mmap``/``munmap`` pair per hole (a few ms, against ~0.5 s for the
compilation).

Linux only (``/proc/self/maps``, ``MAP_FIXED_NOREPLACE`` from kernel 4.17; an older kernel that ignores
the flag gets its stray mapping released and that hole left open). On other systems this is a no-op and
the upstream limitation stands.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import sys
import threading
from typing import Iterator

#: Holes at least this large are left open: the highest of them (in practice the free range right below
#: the libraries, arenas and arrays at the top of the address space) receives all of a model's sections
#: together. Smaller holes are covered, however large (a first limit of 64 MiB left open the 64 MiB–1 GiB
#: holes a long pytest worker has; the sensitivity model's code is 6.1 MiB).
HOLE_LIMIT = 4 << 30

_PROT_NONE = 0x0
_MAP_PRIVATE = 0x02
_MAP_ANONYMOUS = 0x20
_MAP_NORESERVE = 0x4000
_MAP_FIXED_NOREPLACE = 0x100000

_libc = None


def _c_library():
    global _libc
    if _libc is None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                              ctypes.c_long]
        libc.munmap.restype = ctypes.c_int
        libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        _libc = libc
    return _libc


def holes(maps_text: str, limit: int = HOLE_LIMIT) -> list[tuple[int, int]]:
    """The holes ``(start, size)`` smaller than ``limit`` between the mappings listed in ``maps_text``
    (the format of ``/proc/self/maps``) below the main thread's stack.

    Every mapping counts as occupied, the kernel's own too: recent kernels put ``[vvar]`` and ``[vdso]``
    among the libraries at the top of the mmap area, and the small holes beside them are exactly where
    a one-page section (the global-offset table) would otherwise go. The stack and what lies above it
    (its growth gap, the vsyscall page) are left alone."""
    ranges, stack = [], None
    for line in maps_text.splitlines():
        fields = line.split()
        if not fields:
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if len(fields) > 5 and fields[5] == "[stack]":
            stack = start
        ranges.append((start, end))
    ranges.sort()
    if stack is not None:
        ranges = [r for r in ranges if r[1] <= stack]
    return [(end, nxt - end) for (_, end), (nxt, _) in zip(ranges, ranges[1:]) if 0 < nxt - end < limit]


@contextlib.contextmanager
def sections_together() -> Iterator[int]:
    """Cover the address space's small holes while a model is compiled (see the module text); yields the
    number of holes covered (0 where the guard does not apply)."""
    if not sys.platform.startswith("linux"):
        yield 0
        return
    try:
        with open("/proc/self/maps", encoding="ascii") as f:
            maps_text = f.read()
    except OSError:  # no procfs (a restricted container): the guard cannot see the holes
        yield 0
        return
    libc = _c_library()
    failed = ctypes.c_void_p(-1).value
    flags = _MAP_PRIVATE | _MAP_ANONYMOUS | _MAP_NORESERVE | _MAP_FIXED_NOREPLACE
    covered: list[tuple[int, int]] = []
    try:
        for start, size in holes(maps_text):
            got = libc.mmap(start, size, _PROT_NONE, flags, -1, 0)
            if got is None or got == failed:
                continue  # the hole was taken since /proc/self/maps was read
            if got != start:  # a kernel without MAP_FIXED_NOREPLACE treated the address as a hint
                libc.munmap(got, size)
                continue
            covered.append((start, size))
        yield len(covered)
    finally:
        for start, size in covered:
            libc.munmap(start, size)


_LOADING = threading.Lock()
_GC_PAUSED = False  # compiling() has paused the cyclic GC (process-wide) and not yet resumed it


def _after_fork_in_child() -> None:
    """A child forked while another thread of the parent was compiling inherits the held lock and the
    paused collector, and that thread does not exist in the child: start the child with a free lock and
    the collector as it was (ensembles fork their worker processes)."""
    global _LOADING, _GC_PAUSED
    _LOADING = threading.Lock()
    if _GC_PAUSED:
        _GC_PAUSED = False
        gc.enable()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@contextlib.contextmanager
def compiling() -> Iterator[None]:
    """Wrap every construction of a libRoadRunner model in the process (the engine's, and the bare ones
    the tests and pyPESTO make as references): one compilation at a time (libRoadRunner's JIT settings
    are global, and another thread's compilation would move the address space under the guard), Python's
    cyclic garbage collector paused (a collection there frees earlier models, and the holes their
    sections leave are just the size of a new model's data sections: a CI core dump, session 14), and
    :func:`sections_together`. libRoadRunner releases the GIL while it compiles, so memory another
    thread frees meanwhile can still open a hole: that residual risk stays."""
    global _GC_PAUSED
    with _LOADING:
        collecting = gc.isenabled()
        gc.disable()
        _GC_PAUSED = collecting
        try:
            with sections_together():
                yield
        finally:
            _GC_PAUSED = False
            if collecting:
                gc.enable()
