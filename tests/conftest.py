import atexit
import os
import shutil
import tempfile

os.environ.setdefault("MPLBACKEND", "Agg")
# Fisher information matrices (nephrosim.calibration.problem.fisher_cache_dir) are cached per test
# process in a folder of its own, removed at exit, never in the user's cache: every run computes them
# once, as a fresh machine does, and no run reads what an earlier one left. The app servers the tests
# start inherit it.
os.environ["NEPHROSIM_FISHER_CACHE"] = _FISHER_CACHE = tempfile.mkdtemp(prefix="nephrosim-fisher-")
atexit.register(shutil.rmtree, _FISHER_CACHE, ignore_errors=True)
