"""Compile a model structure once and keep it on disk, keyed by a hash of its SBML.

The key is the SHA-256 of the SBML text, the code generator's source and the compiler
command, so a changed model, generator or compiler never reuses a stale library. The
library and its metadata are written to temporary files and renamed into place
(atomic on POSIX), so two processes compiling the same model at once both end with a
complete library. Cache: ``platformdirs.user_cache_dir("nephrosim")/batch`` or
``$NEPHROSIM_BATCH_CACHE``.

Libraries are built with OpenMP (``-fopenmp``) so that one call solves patients on
several threads (:class:`~nephrosim.engine.batch.BatchSimulator`'s ``threads``). A
compiler that cannot build OpenMP code is an error that says so; single-threaded
libraries are built only when asked for with ``NEPHROSIM_BATCH_OPENMP=0`` (then
``threads`` must be 1), never as a silent fallback.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: bump when the generated code or the solver template changes meaning
CODEGEN_VERSION = "rodas4-4-lanes"
CC = os.environ.get("CC", "gcc")
#: -march=native: the library is built for this machine's CPU (its model is part of the cache key)
CFLAGS = ("-O3", "-march=native", "-fPIC", "-shared", "-fno-math-errno")
#: set to ``0`` to build single-threaded libraries (for a compiler without OpenMP)
OPENMP_ENV = "NEPHROSIM_BATCH_OPENMP"


def openmp_enabled() -> bool:
    """Whether libraries are built with OpenMP: yes unless ``$NEPHROSIM_BATCH_OPENMP`` is ``0``."""
    value = os.environ.get(OPENMP_ENV, "1").strip()
    if value not in ("0", "1"):
        from nephrosim.errors import UserInputError

        raise UserInputError(f"${OPENMP_ENV}={value!r}: use 1 (build with OpenMP, the default) or 0 (single-threaded "
                             "libraries, threads = 1)")
    return value == "1"


def cflags() -> tuple[str, ...]:
    """The compiler flags: :data:`CFLAGS`, plus ``-fopenmp`` unless OpenMP is switched off."""
    return CFLAGS + (("-fopenmp",) if openmp_enabled() else ())


def _cpu() -> str:
    """The CPU model, so a cache shared between machines never loads code built for another CPU."""
    import platform

    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(("model name", "flags")):
                    return platform.machine() + line
    except OSError:
        pass
    return platform.machine() + platform.processor()


@dataclass(frozen=True)
class CompiledModel:
    """A loaded library for one model structure, with the ids its arrays are ordered by."""

    key: str
    library: object  # cffi library
    ffi: object
    species: tuple[str, ...]
    parameters: tuple[str, ...]
    parameter_values: tuple[float, ...]
    rules: tuple[str, ...]
    info: dict
    #: threads the library's OpenMP runtime offers (``omp_get_max_threads``); 0: built without OpenMP
    openmp_threads: int = 0


def cache_dir() -> Path:
    env = os.environ.get("NEPHROSIM_BATCH_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("nephrosim")) / "batch"


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_LOADED: dict[str, CompiledModel] = {}


def _generator_digest() -> str:
    """Hash of the generator's own source, so an edited generator never reuses a stale library."""
    here = Path(__file__).parent
    h = hashlib.sha256()
    for name in ("symbolic.py", "codegen.py", "solver_c.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()


def model_key(sbml: str) -> str:
    h = hashlib.sha256()
    for part in (CODEGEN_VERSION, _generator_digest(), CC, " ".join(cflags()), _cpu(), sbml):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:24]


def load(sbml: str) -> CompiledModel:
    """The compiled model for ``sbml``: from this process, from the disk cache, or built now."""
    key = model_key(sbml)
    if key in _LOADED:
        return _LOADED[key]
    folder = cache_dir()
    lib_path, meta_path = folder / f"{key}.so", folder / f"{key}.json"
    if not (lib_path.is_file() and meta_path.is_file()):
        _build(sbml, folder, lib_path, meta_path)
    meta = json.loads(meta_path.read_text())
    from cffi import FFI

    from nephrosim.engine.batch.solver_c import CDEF

    ffi = FFI()
    ffi.cdef(CDEF)
    lib = ffi.dlopen(str(lib_path))
    model = CompiledModel(key, lib, ffi, tuple(meta["species"]), tuple(meta["parameters"]),
                          tuple(meta["parameter_values"]), tuple(meta["rules"]), meta["info"], int(lib.nb_openmp()))
    _LOADED[key] = model
    return model


def _build(sbml: str, folder: Path, lib_path: Path, meta_path: Path) -> None:
    from nephrosim.engine.batch.codegen import generate
    from nephrosim.engine.batch.symbolic import read_sbml

    model = read_sbml(sbml)
    gen = generate(model)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        src = Path(tmp) / "model.c"
        src.write_text(gen.source)
        so = Path(tmp) / "model.so"
        flags = cflags()
        try:
            proc = subprocess.run([CC, *flags, "-o", str(so), str(src), "-lm"], capture_output=True, text=True)
        except FileNotFoundError:
            from nephrosim.errors import UserInputError

            raise UserInputError(f"engine: batch needs a C compiler and {CC!r} was not found; install gcc (or set "
                                 "$CC to one), or use engine: roadrunner") from None
        if proc.returncode != 0:
            if "-fopenmp" in flags:
                _check_openmp(Path(tmp))
            raise RuntimeError(f"compiling the batch model failed ({CC}): {proc.stderr[-2000:]}")
        meta = {"species": model.species, "parameters": model.parameters,
                "parameter_values": model.parameter_values, "rules": [r for r, _ in model.rules],
                "info": {"jac_nnz": gen.jac_nnz, "lu_nnz": gen.lu_nnz, "lu_flops": gen.flops_lu,
                         "source_bytes": len(gen.source)}}
        _atomic_write(meta_path, json.dumps(meta).encode())
        _atomic_write(lib_path, so.read_bytes())


def _check_openmp(folder: Path) -> None:
    """Raise a clear error if the compiler cannot build OpenMP code (called after a failed build)."""
    probe = folder / "openmp_probe.c"
    probe.write_text("#include <omp.h>\nint nb_probe(void) { return omp_get_max_threads(); }\n")
    proc = subprocess.run([CC, *cflags(), "-o", str(folder / "probe.so"), str(probe)], capture_output=True, text=True)
    if proc.returncode != 0:
        from nephrosim.errors import UserInputError

        raise UserInputError(
            f"engine: batch builds its models with OpenMP (-fopenmp) and the C compiler {CC!r} cannot build OpenMP "
            f"code ({proc.stderr.strip()[-500:]}) — install gcc with libgomp (Debian: apt install gcc), or set $CC to a "
            f"compiler with OpenMP, or set {OPENMP_ENV}=0 to build single-threaded libraries (threads = 1)")
