"""Compile libRoadRunner models that stay valid wherever the JIT places their sections.

Why. libRoadRunner 2.x compiles each model with LLVM 13. For an x86-64 JIT, LLVM uses the large code
model, in which the machine code reaches its constants and the functions it calls through 64-bit
addresses, so code and data may lie anywhere. One construct was left out (llvm/llvm-project#62894): a
``switch`` lowered to a *jump table* keeps, in the read-only data section, one 32-bit difference between
each case's code and the table. The JIT's memory manager maps code and read-only data separately,
wherever the kernel finds room. In a long-lived process whose mappings span more than 2 GiB with holes (a
pytest worker after half the suite; the web app's workers; a long calibration) a model's read-only data
can land in a small hole more than 2 GiB from its code. The differences are then silently truncated, and
the first switch the model runs jumps into nowhere: a segmentation fault in RoadRunner's constructor
(CI exit 139, 2026-12-07, twice in the constructor of a 6 MiB sensitivity model; a CI core dump of
session 14 showed a jump table 3.2 GiB above its code).

What. Before the process's first compilation, :func:`compiling` sets LLVM's ``-min-jump-table-entries``
option to its maximum through the LLVM C API that libRoadRunner's library exports
(``LLVMParseCommandLineOptions``; LLVM's options are process-wide). LLVM then lowers every switch to
compares and branches, so no 32-bit reference between a model's sections remains. Measured on the mouse
IRI + MSC arm: the same trajectories to the last bit, load and run times unchanged within noise (0.24–0.30 s
load, 9–13 ms per run, either way). ``tests/engine/test_jit_placement.py`` builds the failing layout on
purpose — a model's data must go 3 GiB above its code — where a bare RoadRunner dies and one compiled
after :func:`compiling` runs and gives a clean process's trajectory.

History. Sessions 14–18 instead covered the address space's small holes for the length of each
compilation, so that all of a model's sections went into one free range. That left a hole that opened
*during* the compilation (memory another thread frees meanwhile, since libRoadRunner releases the GIL),
and CI still crashed in 2 of 4 runs of 2026-12-07. The guard is gone: with no jump tables the placement
no longer matters.

LLVM reports an unknown option only to a null stream (the C API gives no status): a libRoadRunner built
on another LLVM that renamed the option would go unprotected silently, which is why the test runs the
failing layout and not only this code. libRoadRunner also keeps every compiled object in a process-wide
cache with no Python API to clear it, so a long-lived process grows by each distinct model it compiles.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import warnings
from typing import Iterator

#: LLVM options set once per process before the first compilation (see the module text).
LLVM_OPTIONS = ("-min-jump-table-entries=4294967295",)

_LOADING = threading.Lock()
_LLVM_CONFIGURED = False


def configure_llvm() -> None:
    """Set :data:`LLVM_OPTIONS` in the LLVM inside libRoadRunner, once per process (a second parse of
    the same option is an error in LLVM 13). Call it before the process's first compilation: objects
    compiled before keep their jump tables. :func:`compiling` calls it."""
    global _LLVM_CONFIGURED
    if _LLVM_CONFIGURED:
        return
    from roadrunner import _roadrunner as extension

    library = ctypes.CDLL(extension.__file__)
    parse = getattr(library, "LLVMParseCommandLineOptions", None)
    if parse is None:  # a build that does not export LLVM's C API (only the Linux wheel was checked)
        warnings.warn("libRoadRunner's library does not export LLVMParseCommandLineOptions, so its models keep "
                      "their jump tables: a long-lived process can die with a segmentation fault when one is "
                      "compiled (docs/reliability.md §8)", RuntimeWarning, stacklevel=3)
        _LLVM_CONFIGURED = True
        return
    parse.restype = None
    parse.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_char_p), ctypes.c_char_p]
    argv = [b"nephrosim", *(option.encode("ascii") for option in LLVM_OPTIONS)]
    parse(len(argv), (ctypes.c_char_p * len(argv))(*argv), b"")
    _LLVM_CONFIGURED = True


def _after_fork_in_child() -> None:
    """A child forked while another thread of the parent was compiling inherits the held lock, and that
    thread does not exist in the child: start the child with a free lock (ensembles fork their worker
    processes). The LLVM options are inherited with the library's memory."""
    global _LOADING
    _LOADING = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@contextlib.contextmanager
def compiling() -> Iterator[None]:
    """Wrap every construction of a libRoadRunner model in the process (the engine's, and the bare ones
    the tests and pyPESTO make as references): LLVM configured without jump tables
    (:func:`configure_llvm`) and one compilation at a time (libRoadRunner's JIT settings, which
    :func:`nephrosim.engine.simulator.fast_compile` changes for the length of a load, are global)."""
    with _LOADING:
        configure_llvm()
        yield
