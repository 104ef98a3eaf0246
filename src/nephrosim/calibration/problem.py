"""The compiled calibration problem: negative log-likelihood and its exact gradient.

Vector layout (the optimiser's ``x``): first the log10 values of the estimated
parameters, in config order; then, if random effects are declared, one log10
deviation ``b`` per (selected study, random effect), study-major.

Likelihood of a reported group mean ``y`` with standard error ``se`` given the
model mean ``m`` (``se = SD/√n`` or the reported SEM):

* ``normal``    : ½ log(2π se²) + ½ ((y − m)/se)²
* ``lognormal`` : σ = √log(1 + (se/y)²);  ½ log(2π σ² y²) + ½ ((log y − log m)/σ)²

— the PEtab / pyPESTO convention (``lin_normal`` / ``log_normal``), so a PEtab
export gives the same number. Random effects add Σ ½ log(2π sd²) + b²/(2 sd²).

Two backends, chosen by the config's ``solver.engine``:

* ``roadrunner`` (default): libRoadRunner with forward sensitivities — the *exact* gradient.
* ``batch``: the compiled batch engine (:mod:`nephrosim.engine.batch`), which evaluates many
  parameter vectors in one call (:meth:`CalibrationProblem.nll_many`). The gradient is then a
  central difference (step :data:`FD_STEP` in log10 units; all 2·dim + 1 points in one call per
  experiment) and the Gauss–Newton information a central-difference Jacobian. Differential
  evolution evaluates its whole population per call, and MCMC (``sample(method="emcee")``) its
  walkers. For models whose sensitivity system is too slow to integrate (MSC dosing, many
  parameters), this is what makes a formal fit affordable.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nephrosim.biology.parameters import ParameterTable
from nephrosim.calibration.config import CalibrationConfig, CalibrationConfigError, Observation, as_config
from nephrosim.calibration.held_out import check_not_held_out, load_held_out
from nephrosim.calibration.observations import study_observations, study_scenario
from nephrosim.engine.sensitivity import SensitivitySimulator
from nephrosim.run.simulation import compile_arm

LN10 = math.log(10.0)
FAILED_NLL = 1e10
#: central-difference step of the batch backend's gradient, in log10 units (0.23 % of the value):
#: large against the solver's relative error (rtol ≤ 1e-6), small against the curvature
FD_STEP = 1e-3


@dataclass(frozen=True)
class ContrastTerm:
    """A :class:`Contrast` bound to rows of two experiments."""

    study: str
    spec: object  # the Contrast
    treated: tuple[int, int]  # (experiment index, row)
    control: tuple[int, int]

    def value(self, m_t: float, m_c: float) -> tuple[float, float, float]:
        """The measure and its derivatives with respect to the treated and control means."""
        if self.spec.measure == "log_ratio":
            return math.log(m_t / m_c), 1.0 / m_t, -1.0 / m_c
        cv = self.spec.cv
        return (m_t / m_c - 1.0) / cv, 1.0 / (cv * m_c), -m_t / (cv * m_c ** 2)


@dataclass(frozen=True)
class EstimatedParameter:
    name: str
    species: str | None
    nominal: float
    lower: float
    upper: float
    table_lower: float | None
    table_upper: float | None

    @property
    def label(self) -> str:
        return self.name if self.species is None else f"{self.name}[{self.species}]"


@dataclass
class Experiment:
    """One arm of one study: simulator + the observations it is compared with.

    Rows are reported means (``data``) and, for contrasts, model values at the
    contrast's readout and time (not data themselves: ``y`` NaN, weight 0).
    """

    study: str
    arm: str
    scenario: object
    program: object
    times: np.ndarray
    t_idx: np.ndarray
    o_idx: np.ndarray
    factor: np.ndarray
    y: np.ndarray
    se: np.ndarray
    readout: tuple[str, ...]
    unit: tuple[str, ...]
    obs_time: np.ndarray
    par_index: tuple[int, ...]  # estimated parameter index for each simulator parameter
    re_index: tuple[int, ...]  # x index of the random effect per simulator parameter (-1 = none)
    sim_pars: tuple[str, ...] = ()  # SBML ids of the simulator's sensitivity parameters
    data: np.ndarray | None = None  # True: a reported mean; False: a model value only a contrast uses
    simulator: SensitivitySimulator | None = field(default=None, repr=False)
    plain_simulator: SensitivitySimulator | None = field(default=None, repr=False)
    batch_simulator: object | None = field(default=None, repr=False)


def resolve_parameters(config: CalibrationConfig) -> list[EstimatedParameter]:
    table = ParameterTable.default(calibrated=config.parameter_set == "calibrated")
    studies = config.selected_studies()
    out = []
    for p in config.parameters:
        species = p.species or studies[0].species
        try:
            rec = table.record(p.name, species)
        except KeyError as exc:
            raise CalibrationConfigError(f"parameters.{p.name}: {exc.args[0]}") from None
        lower = p.lower if p.lower is not None else rec.lower
        upper = p.upper if p.upper is not None else rec.upper
        nominal = p.nominal if p.nominal is not None else rec.value
        if lower is None or upper is None or lower <= 0 or upper <= lower:
            raise CalibrationConfigError(
                f"parameters.{p.name}: needs positive bounds lower < upper for log10 estimation; the table gives "
                f"[{rec.lower}, {rec.upper}] — set lower/upper in the config")
        several = len({s.species for s in studies}) > 1
        if p.species is None and several and not p.across_species:
            raise CalibrationConfigError(
                f"parameters.{p.name}: studies of several species are selected; give species: for this "
                "parameter (one entry per species) so one value is not shared across species, or across_species: "
                "true where the table gives it once for all species")
        if p.across_species and (p.species is not None or
                                 any(table.has_row(p.name, sp) for sp in {s.species for s in studies})):
            raise CalibrationConfigError(
                f"parameters.{p.name}: across_species needs a table row for 'all' species only (and no species:); "
                "this parameter has species-specific rows — give one entry per species instead")
        nominal = min(max(nominal, lower), upper)
        out.append(EstimatedParameter(p.name, p.species, nominal, lower, upper, rec.lower, rec.upper))
    return out


#: Fisher information matrices already computed in this process (see
#: :meth:`CalibrationProblem.fisher_information`), oldest first.
_FISHER: dict[str, np.ndarray] = {}
_log = logging.getLogger("nephrosim.calibration")


def fisher_cache_dir() -> Path:
    """Where Fisher information matrices are kept between processes:
    ``platformdirs.user_cache_dir("nephrosim")/fisher``, or ``$NEPHROSIM_FISHER_CACHE``."""
    env = os.environ.get("NEPHROSIM_FISHER_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("nephrosim")) / "fisher"


@functools.lru_cache(maxsize=1)
def _code_digest() -> str:
    """The source of what computes a Fisher matrix (this module, the sensitivity engine, the batch
    engine's Python sources for the finite-difference path) and the libRoadRunner version: a change to
    any of them never reuses a matrix cached before it."""
    import hashlib

    import nephrosim.engine.batch as batch
    import nephrosim.engine.sensitivity as sensitivity

    h = hashlib.sha256()
    sources = [Path(sys.modules[__name__].__file__), Path(sensitivity.__file__),
               *sorted(Path(batch.__file__).parent.glob("*.py"))]
    for source in sources:
        h.update(source.read_bytes())
    from importlib.metadata import PackageNotFoundError, version

    try:
        h.update(version("libroadrunner").encode())
    except PackageNotFoundError:  # an unpackaged build: its module file stands for the version
        import roadrunner

        h.update(Path(roadrunner.__file__).read_bytes())
    return h.hexdigest()


def _read_cached_fisher(key: str, dim: int) -> np.ndarray | None:
    path = fisher_cache_dir() / f"{key}.npy"
    if not path.exists():
        return None
    try:
        H = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        _log.warning("Fisher information cache %s not read (%s): computing it again", path, exc)
        return None
    if H.shape != (dim, dim) or not np.all(np.isfinite(H)):
        _log.warning("Fisher information cache %s holds a %s matrix, not %d x %d finite: computing it again",
                     path, H.shape, dim, dim)
        return None
    return H


def _write_cached_fisher(key: str, H: np.ndarray) -> None:
    from nephrosim.errors import UserInputError
    from nephrosim.io import atomic_path

    path = fisher_cache_dir() / f"{key}.npy"
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.save(handle, H, allow_pickle=False)
    except UserInputError as exc:  # OutputError: a read-only or full cache folder
        _log.warning("Fisher information not cached (%s); it is computed again next time", exc)


class CalibrationProblem:
    """Everything an optimiser needs: bounds, starts, ``nll(x)`` and ``nll_and_grad(x)``.

    Arguments
    ---------
    config : a :class:`CalibrationConfig`.
    """

    def __init__(self, config: CalibrationConfig):
        self.config = config
        self.parameters = resolve_parameters(config)
        self.studies = config.selected_studies()
        self.held_out = load_held_out()
        check_not_held_out(self.studies, self.held_out)  # a pre-registered held-out study is never fitted
        self.study_ids = tuple(s.id for s in self.studies)
        self.random_effects = config.random_effects
        n_p = len(self.parameters)
        self.re_slots: list[tuple[str, str, int]] = []  # (publication, parameter, x index)
        re_lookup: dict[tuple[str, str], int] = {}  # (study entry id, parameter) → x index
        self.groups = config.study_groups()
        for group, ids in self.groups.items():
            for r in self.random_effects:
                idx = n_p + len(self.re_slots)
                self.re_slots.append((group, r.parameter, idx))
                for sid in ids:
                    re_lookup[(sid, r.parameter)] = idx
        self.re_sd = np.array([next(r.sd_log10 for r in self.random_effects if r.parameter == p)
                               for _, p, _ in self.re_slots])
        self.names = [p.label for p in self.parameters] + [f"re:{s}:{p}" for s, p, _ in self.re_slots]
        self.lower = np.array([math.log10(p.lower) for p in self.parameters]
                              + [-4.0 * sd for sd in self.re_sd])
        self.upper = np.array([math.log10(p.upper) for p in self.parameters]
                              + [4.0 * sd for sd in self.re_sd])
        self.x_nominal = np.array([math.log10(p.nominal) for p in self.parameters] + [0.0] * len(self.re_slots))
        opts = config.solver
        self.solver_options = opts
        self.batch = opts.engine == "batch"
        self.experiments: list[Experiment] = []
        self.contrasts: list[ContrastTerm] = []
        self.observations: dict[str, list[Observation]] = {}
        for s in self.studies:
            obs = study_observations(s, config.base_dir)
            self.observations[s.id] = obs
            scenario = study_scenario(s, obs, parameter_set=config.parameter_set)
            arm_names = [a.name for a in scenario.arms]
            for o in obs:
                if o.arm is not None and o.arm not in arm_names:
                    raise CalibrationConfigError(f"studies.{s.id}: observation arm {o.arm!r} is not an arm of "
                                                 f"the scenario; arms: {arm_names}")
            for c in s.contrasts:
                for a in (c.treated, c.control):
                    if a not in arm_names:
                        raise CalibrationConfigError(f"studies.{s.id}.contrasts: arm {a!r} is not an arm of the "
                                                     f"scenario; arms: {arm_names}")
            times = np.asarray(scenario.times_h, dtype=float)
            rows_at: dict[tuple[str, str, float], tuple[int, int]] = {}
            for arm in arm_names:
                mine = [o for o in obs if (o.arm or arm_names[0]) == arm]
                aux = [(c.readout, float(c.time_h)) for c in s.contrasts if arm in (c.treated, c.control)]
                aux = [k for k in dict.fromkeys(aux) if not any((o.readout, o.time_h) == k for o in mine)]
                mine = mine + [Observation(arm=arm, readout=r, time_h=t, mean=1.0, sem=1.0) for r, t in aux]
                is_data = np.array([True] * (len(mine) - len(aux)) + [False] * len(aux))
                if not mine:
                    continue
                for j, o in enumerate(mine):
                    rows_at[(arm, o.readout, float(o.time_h))] = (len(self.experiments), j)
                program = compile_arm(scenario, arm)
                present = set(program.parameter_values)
                sim_pars, par_index, re_index = [], [], []
                for i, p in enumerate(self.parameters):
                    if (p.species is None or p.species == scenario.species) and p.name in present:
                        sim_pars.append(p.name)
                        par_index.append(i)
                        re_index.append(re_lookup.get((s.id, p.name), -1))
                readouts = list(program.readouts)
                self.experiments.append(Experiment(
                    study=s.id, arm=arm, scenario=scenario, program=program, times=times,
                    t_idx=np.array([int(np.searchsorted(times, o.time_h)) for o in mine]),
                    o_idx=np.array([readouts.index(o.readout) for o in mine]),
                    factor=np.array([program.factors[readouts.index(o.readout)] for o in mine]),
                    y=np.where(is_data, [o.mean for o in mine], np.nan),
                    se=np.where(is_data, [o.se for o in mine], np.nan),
                    data=is_data,
                    readout=tuple(o.readout for o in mine),
                    unit=tuple(program.units[readouts.index(o.readout)] for o in mine),
                    obs_time=np.array([o.time_h for o in mine], dtype=float),
                    par_index=tuple(par_index), re_index=tuple(re_index), sim_pars=tuple(sim_pars),
                ))
            for c in s.contrasts:
                self.contrasts.append(ContrastTerm(s.id, c, rows_at[(c.treated, c.readout, float(c.time_h))],
                                                   rows_at[(c.control, c.readout, float(c.time_h))]))
        used = {i for e in self.experiments for i in e.par_index}
        unused = [self.parameters[i].label for i in range(n_p) if i not in used]
        if unused:
            raise CalibrationConfigError(
                f"parameters {unused} appear in none of the selected studies' models; remove them or add "
                "studies whose model uses them")
        if config.likelihood == "lognormal":
            bad = [(e.study, float(v)) for e in self.experiments for v in e.y[e.data] if v <= 0]
            if bad:
                raise CalibrationConfigError(f"likelihood lognormal needs positive means; {bad[:3]} are not — "
                                             "use likelihood: normal")
        self.n_evaluations = 0
        self.reset_failures()

    # ------------------------------------------------------------------ failed evaluations
    def reset_failures(self) -> None:
        """Start counting failed evaluations afresh (called at the start of every local fit)."""
        self.n_failed = 0
        self.failure_messages: list[str] = []
        self.best_ok: tuple[float, np.ndarray | None] = (math.inf, None)

    def _failed(self, x: np.ndarray, why: str) -> float:
        """Record a failed evaluation at ``x`` (solver status or non-finite likelihood)."""
        self.n_failed += 1
        if why not in self.failure_messages and len(self.failure_messages) < 5:
            self.failure_messages.append(why)
        return FAILED_NLL

    def _succeeded(self, x: np.ndarray, value: float) -> float:
        if value < self.best_ok[0]:
            self.best_ok = (value, np.array(x, dtype=float))
        return value

    def _status_problem(self, e, m, status) -> str | None:
        if not status.ok:
            return f"study {e.study}: {status.code}: {status.message}"
        if self.config.likelihood == "lognormal" and np.any(m[e.data] <= 0):
            return f"study {e.study}: a model mean is not positive under the lognormal likelihood"
        return None

    # ------------------------------------------------------------------ helpers
    @property
    def dim(self) -> int:
        return len(self.names)

    @property
    def n_observations(self) -> int:
        return int(sum(e.data.sum() for e in self.experiments)) + len(self.contrasts)

    def _sim(self, e: Experiment, grad: bool = True) -> SensitivitySimulator:
        """The experiment's simulator: with sensitivities, or the plain model (objective only,
        measured ~100× faster on the IRI model than the augmented one)."""
        if grad:
            if e.simulator is None:
                e.simulator = SensitivitySimulator(e.program.sbml, e.program.outputs, e.sim_pars,
                                                   self.solver_options)
            return e.simulator
        if e.plain_simulator is None:
            e.plain_simulator = SensitivitySimulator(e.program.sbml, e.program.outputs, (), self.solver_options)
        return e.plain_simulator

    def warm_up(self) -> CalibrationProblem:
        """Compile every experiment's sensitivity model now (else on first use)."""
        for e in self.experiments:
            if self.batch:
                self._batch_sim(e)
                continue
            self._sim(e, True)
            self._sim(e, False)
        return self

    # ------------------------------------------------------------------ batch backend
    def _batch_sim(self, e: Experiment):
        if e.batch_simulator is None:
            e.batch_simulator = e.program.simulator(self.solver_options)
        return e.batch_simulator

    def means_many(self, X: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
        """Model means of every experiment for each row of ``X`` (batch backend): a list of
        (rows of X × observations) arrays, a mask of the rows every experiment solved, and the
        first failure message per failed row ('' when it solved)."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        ok = np.ones(len(X), dtype=bool)
        why = [""] * len(X)
        means = []
        for e in self.experiments:
            lv = np.stack([X[:, i] for i in e.par_index], axis=1) if e.par_index else np.zeros((len(X), 0))
            for k, j in enumerate(e.re_index):
                if j >= 0:
                    lv[:, k] += X[:, j]
            out, statuses = self._batch_sim(e).run_batch(e.times, e.sim_pars, 10.0 ** lv)
            m = e.factor[None, :] * out[:, e.t_idx, e.o_idx]
            for r, st in enumerate(statuses):
                if not st.ok and ok[r]:
                    ok[r], why[r] = False, f"study {e.study}: {st.code}: {st.message}"
            if self.config.likelihood == "lognormal":
                bad = ok & np.any(np.where(e.data[None, :], m, 1.0) <= 0, axis=1)
                for r in np.flatnonzero(bad):
                    why[r] = f"study {e.study}: a model mean is not positive under the lognormal likelihood"
                ok &= ~bad
            means.append(m)
        return means, ok, why

    def _nll_rows(self, X: np.ndarray, means: list[np.ndarray]) -> np.ndarray:
        """The NLL of each row of ``X`` from its model means (same terms as :meth:`nll`)."""
        total = np.zeros(len(X))
        for e, m in zip(self.experiments, means):
            with np.errstate(divide="ignore", invalid="ignore"):
                total += self._residual_terms(e, m)[0].sum(axis=1)
        for c in self.contrasts:
            m_t, m_c = means[c.treated[0]][:, c.treated[1]], means[c.control[0]][:, c.control[1]]
            with np.errstate(divide="ignore", invalid="ignore"):
                f = np.log(m_t / m_c) if c.spec.measure == "log_ratio" else (m_t / m_c - 1.0) / c.spec.cv
            se = c.spec.se
            term = 0.5 * math.log(2 * math.pi * se ** 2) + 0.5 * ((f - c.spec.estimate) / se) ** 2
            total += np.where((m_t > 0) & (m_c > 0), term, np.inf)
        if self.re_slots:
            b = X[:, len(self.parameters):]
            total += np.sum(0.5 * np.log(2 * np.pi * self.re_sd ** 2) + 0.5 * (b / self.re_sd) ** 2, axis=1)
        return total

    def nll_many(self, X: np.ndarray) -> np.ndarray:
        """The NLL of each row of ``X`` in one batch-engine call per experiment (``FAILED_NLL`` where
        a trajectory failed or the likelihood is not finite). Needs ``solver.engine: batch``."""
        if not self.batch:
            raise CalibrationConfigError("nll_many needs the batch engine: set solver: {engine: batch} in the "
                                         "calibration config")
        X = np.atleast_2d(np.asarray(X, dtype=float))
        self.n_evaluations += len(X)
        means, ok, why = self.means_many(X)
        total = self._nll_rows(X, means)
        finite = np.isfinite(total)
        for r in np.flatnonzero(ok & ~finite):
            why[r] = "the likelihood is not finite"
        good = ok & finite
        for r in np.flatnonzero(~good):
            self._failed(X[r], why[r] or "the likelihood is not finite")
        for r in np.flatnonzero(good):
            self._succeeded(X[r], float(total[r]))
        return np.where(good, total, FAILED_NLL)

    def _fd_points(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x, then x ± FD_STEP along each axis (clipped to the bounds), and the actual steps."""
        X = [x]
        steps = np.empty(self.dim)
        for i in range(self.dim):
            up, down = x.copy(), x.copy()
            up[i] = min(x[i] + FD_STEP, self.upper[i])
            down[i] = max(x[i] - FD_STEP, self.lower[i])
            steps[i] = up[i] - down[i]
            X += [up, down]
        return np.array(X), steps

    def _nll_and_grad_batch(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        X, steps = self._fd_points(x)
        values = self.nll_many(X)
        self.n_evaluations -= len(X) - 1  # one evaluation of the objective, as for the exact gradient
        if values[0] >= FAILED_NLL:
            return float(values[0]), np.zeros(self.dim)
        g = np.zeros(self.dim)
        for i in range(self.dim):
            up, down = values[1 + 2 * i], values[2 + 2 * i]
            if up >= FAILED_NLL or down >= FAILED_NLL:  # one side failed: the one-sided difference
                side, h = (down, x[i] - X[2 + 2 * i][i]) if up >= FAILED_NLL else (up, X[1 + 2 * i][i] - x[i])
                if side >= FAILED_NLL or h == 0:
                    continue
                g[i] = (values[0] - side) / h if up >= FAILED_NLL else (side - values[0]) / h
            elif steps[i] > 0:
                g[i] = (up - down) / steps[i]
        return float(values[0]), g

    def _fisher_batch(self, x: np.ndarray) -> np.ndarray:
        """Gauss–Newton information from a central-difference Jacobian of the standardised residuals."""
        X, steps = self._fd_points(x)
        means, ok, why = self.means_many(X)
        if not ok.all():
            raise RuntimeError(f"Fisher information: the model failed near the optimum ({next(w for w in why if w)})")

        def residuals(r: int) -> np.ndarray:
            parts = []
            for e, m in zip(self.experiments, means):
                y, se, mm = e.y[e.data], e.se[e.data], m[r][e.data]
                if self.config.likelihood == "normal":
                    parts.append((mm - y) / se)
                else:
                    parts.append(np.log(mm / y) / np.sqrt(np.log1p((se / y) ** 2)))
            for c in self.contrasts:
                f = c.value(means[c.treated[0]][r, c.treated[1]], means[c.control[0]][r, c.control[1]])[0]
                parts.append(np.array([(f - c.spec.estimate) / c.spec.se]))
            return np.concatenate(parts) if parts else np.zeros(0)

        J = np.stack([(residuals(1 + 2 * i) - residuals(2 + 2 * i)) / steps[i] if steps[i] > 0
                      else np.zeros_like(residuals(0)) for i in range(self.dim)], axis=1)
        H = J.T @ J
        n_p = len(self.parameters)
        for k in range(len(self.re_slots)):
            H[n_p + k, n_p + k] += 1.0 / self.re_sd[k] ** 2
        return H

    def parameter_values(self, x: np.ndarray) -> dict[str, float]:
        """Natural-scale values of the estimated parameters (labels → value)."""
        return {p.label: float(10.0 ** x[i]) for i, p in enumerate(self.parameters)}

    def _log_values(self, e: Experiment, x: np.ndarray) -> np.ndarray:
        lv = np.array([x[i] for i in e.par_index], dtype=float)
        for k, j in enumerate(e.re_index):
            if j >= 0:
                lv[k] += x[j]
        return lv

    def predict(self, e: Experiment, x: np.ndarray, grad: bool = False):
        """Model means at the experiment's observations (reporting units) [and d/d log10 value]."""
        if self.batch and not grad:
            lv = self._log_values(e, np.asarray(x, dtype=float))
            out, statuses = self._batch_sim(e).run_batch(e.times, e.sim_pars, (10.0 ** lv)[None, :])
            return e.factor * out[0][e.t_idx, e.o_idx], statuses[0]
        sim = self._sim(e, grad)
        lv = self._log_values(e, x)
        values = dict(zip(e.sim_pars, 10.0 ** lv))
        y, dy, status = sim.run(e.times - e.program.start_h, values)  # SBML clock starts at start_h
        m = e.factor * y[e.t_idx, e.o_idx]
        if not grad:
            return m, status
        dm = e.factor[:, None] * dy[e.t_idx, e.o_idx, :] * (10.0 ** lv * LN10)[None, :]
        return m, dm, status

    def _residual_terms(self, e, m):
        """Per-row NLL and dNLL/dm (zero on rows that only contrasts use)."""
        y, se = np.where(e.data, e.y, 1.0), np.where(e.data, e.se, 1.0)
        if self.config.likelihood == "normal":
            r = (y - m) / se
            nll = 0.5 * np.log(2 * np.pi * se ** 2) + 0.5 * r ** 2
            dn_dm = -(y - m) / se ** 2
        else:
            sig = np.sqrt(np.log1p((se / y) ** 2))
            with np.errstate(divide="ignore", invalid="ignore"):
                r = (np.log(y) - np.log(m)) / sig
                nll = 0.5 * np.log(2 * np.pi * sig ** 2 * y ** 2) + 0.5 * r ** 2
                dn_dm = -r / sig / m
        return np.where(e.data, nll, 0.0), np.where(e.data, dn_dm, 0.0)

    def _contrast_terms(self, means: list[np.ndarray]):
        """Per contrast: NLL, dNLL/d treated mean, dNLL/d control mean, and the model measure."""
        out = []
        for c in self.contrasts:
            m_t, m_c = means[c.treated[0]][c.treated[1]], means[c.control[0]][c.control[1]]
            if m_t <= 0 or m_c <= 0:
                return None
            f, df_t, df_c = c.value(m_t, m_c)
            se = c.spec.se
            nll = 0.5 * math.log(2 * math.pi * se ** 2) + 0.5 * ((f - c.spec.estimate) / se) ** 2
            dn_df = (f - c.spec.estimate) / se ** 2
            out.append((nll, dn_df * df_t, dn_df * df_c, f))
        return out

    def _to_x(self, e: Experiment, g_sim: np.ndarray) -> np.ndarray:
        """A gradient over the experiment's simulator parameters, mapped onto ``x``."""
        g = np.zeros(self.dim)
        for k, i in enumerate(e.par_index):
            g[i] += g_sim[k]
            if e.re_index[k] >= 0:
                g[e.re_index[k]] += g_sim[k]
        return g

    def nll_and_grad(self, x: Sequence[float]) -> tuple[float, np.ndarray]:
        """Negative log-likelihood and its exact gradient with respect to ``x`` (batch backend: a
        central difference)."""
        x = np.asarray(x, dtype=float)
        if self.batch:
            return self._nll_and_grad_batch(x)
        self.n_evaluations += 1
        total = 0.0
        g = np.zeros(self.dim)
        means, sens = [], []
        for e in self.experiments:
            m, dm, status = self.predict(e, x, grad=True)
            if (why := self._status_problem(e, m, status)) is not None:
                return self._failed(x, why), np.zeros(self.dim)
            nll, dn_dm = self._residual_terms(e, m)
            total += float(nll.sum())
            g += self._to_x(e, dn_dm @ dm)  # dm: d/d log10 value of each simulator parameter
            means.append(m)
            sens.append(dm)
        terms = self._contrast_terms(means)
        if terms is None:
            return self._failed(x, "a contrast's control mean is not positive"), np.zeros(self.dim)
        for c, (nll, dt, dc, _) in zip(self.contrasts, terms):
            total += nll
            (i, r), (j, q) = c.treated, c.control
            g += self._to_x(self.experiments[i], dt * sens[i][r]) + self._to_x(self.experiments[j], dc * sens[j][q])
        if self.re_slots:
            b = x[len(self.parameters):]
            total += float(np.sum(0.5 * np.log(2 * np.pi * self.re_sd ** 2) + 0.5 * (b / self.re_sd) ** 2))
            g[len(self.parameters):] += b / self.re_sd ** 2
        if not np.isfinite(total):
            return self._failed(x, "the likelihood is not finite"), np.zeros(self.dim)
        return self._succeeded(x, total), g

    def nll(self, x: Sequence[float]) -> float:
        """Negative log-likelihood only (plain model, no sensitivities)."""
        x = np.asarray(x, dtype=float)
        if self.batch:
            return float(self.nll_many(x[None, :])[0])
        self.n_evaluations += 1
        total = 0.0
        means = []
        for e in self.experiments:
            m, status = self.predict(e, x)
            if (why := self._status_problem(e, m, status)) is not None:
                return self._failed(x, why)
            total += float(self._residual_terms(e, m)[0].sum())
            means.append(m)
        terms = self._contrast_terms(means)
        if terms is None:
            return self._failed(x, "a contrast's control mean is not positive")
        total += sum(t[0] for t in terms)
        if self.re_slots:
            b = x[len(self.parameters):]
            total += float(np.sum(0.5 * np.log(2 * np.pi * self.re_sd ** 2) + 0.5 * (b / self.re_sd) ** 2))
        if not np.isfinite(total):
            return self._failed(x, "the likelihood is not finite")
        return self._succeeded(x, total)

    def fisher_information(self, x: Sequence[float]) -> np.ndarray:
        """Gauss–Newton (expected) Hessian of the NLL at ``x`` from the exact sensitivities.

        Kept for the process (:data:`_FISHER`, a few entries) and on disk (:func:`fisher_cache_dir`)
        under a digest of everything it is computed from — the config, the data, every experiment's
        model and outputs, the solver settings, ``x``, the source of the code that computes it
        (:func:`_code_digest`) and the libRoadRunner version — because compiling the sensitivity models
        costs over a minute on the rat IRI calibration (measured: 73 s of 76 s for ``simulate
        --uncertainty shipped`` with 20 draws) and every shipped-uncertainty band, in a session or
        from the command line, asks for the same matrix. A cache file that cannot be read is
        recomputed (and logged); one that cannot be written is logged, and the matrix returned."""
        x = np.asarray(x, dtype=float)
        key = self._fisher_key(x)
        if key in _FISHER:
            return _FISHER[key].copy()
        H = _read_cached_fisher(key, self.dim)
        if H is None:
            H = self._fisher_batch(x) if self.batch else self._fisher_exact(x)
            _write_cached_fisher(key, H)
        _FISHER[key] = H.copy()
        while len(_FISHER) > 8:
            _FISHER.pop(next(iter(_FISHER)))
        return H

    def _fisher_key(self, x: np.ndarray) -> str:
        import hashlib

        h = hashlib.sha256()
        for part in (self.config.digest(), self.evidence_digest(), repr(self.solver_options), str(self.batch),
                     repr(self.re_sd), x.tobytes(), _code_digest()):
            h.update(part if isinstance(part, bytes) else part.encode())
        for e in self.experiments:
            h.update(e.program.sbml.encode())
            h.update(repr((e.program.outputs, e.sim_pars, e.par_index, e.re_index)).encode())
            for a in (e.times, e.t_idx, e.o_idx, e.factor):
                h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()

    def _fisher_exact(self, x: np.ndarray) -> np.ndarray:
        H = np.zeros((self.dim, self.dim))
        means, jacs = [], []
        for e in self.experiments:
            m, dm, _ = self.predict(e, x, grad=True)
            J = np.array([self._to_x(e, row) for row in dm]).reshape(m.size, self.dim)
            y, se = np.where(e.data, e.y, 1.0), np.where(e.data, e.se, 1.0)
            if self.config.likelihood == "normal":
                w = 1.0 / se ** 2
            else:
                w = 1.0 / (np.log1p((se / y) ** 2) * m ** 2)
            w = np.where(e.data, w, 0.0)
            H += J.T @ (w[:, None] * J)
            means.append(m)
            jacs.append(J)
        for c in self.contrasts:
            (i, r), (j, q) = c.treated, c.control
            _, df_t, df_c = c.value(means[i][r], means[j][q])
            row = df_t * jacs[i][r] + df_c * jacs[j][q]
            H += np.outer(row, row) / c.spec.se ** 2
        n_p = len(self.parameters)
        for k in range(len(self.re_slots)):
            H[n_p + k, n_p + k] += 1.0 / self.re_sd[k] ** 2
        return H

    def start_points(self, n: int, seed: int) -> np.ndarray:
        """Start 0 is the nominal point; the rest are a Latin hypercube in the log10 box (seeded)."""
        rng = np.random.default_rng(seed)
        starts = np.empty((n, self.dim))
        starts[0] = self.x_nominal
        if n > 1:
            k = n - 1
            n_p = len(self.parameters)
            u = (rng.permuted(np.tile(np.arange(k), (n_p, 1)), axis=1).T + rng.random((k, n_p))) / k
            starts[1:, :n_p] = self.lower[:n_p] + u * (self.upper[:n_p] - self.lower[:n_p])
            starts[1:, n_p:] = 0.0
        return starts

    def full_values(self, x: np.ndarray, study: str | None = None) -> dict[str, dict[str, float]]:
        """Per experiment key 'study/arm': SBML parameter id → value at ``x``."""
        out = {}
        for e in self.experiments:
            if study is not None and e.study != study:
                continue
            out[f"{e.study}/{e.arm}"] = dict(zip(e.sim_pars, 10.0 ** self._log_values(e, x)))
        return out

    def evidence_digest(self) -> str:
        """Digest of the data fitted (study, arm, readout, time, mean, SE of every
        observation): the evidence version a shipped calibration records."""
        import hashlib
        import json

        obs = sorted((e.study, e.arm, r, float(t), float(y), float(se)) for e in self.experiments
                     for r, t, y, se, d in zip(e.readout, e.obs_time, e.y, e.se, e.data) if d)
        obs += sorted((c.study, c.spec.label(), float(c.spec.time_h), c.spec.estimate, c.spec.se)
                      for c in self.contrasts)
        return hashlib.sha256(json.dumps(obs).encode()).hexdigest()[:16]

    def data_frame(self, x: np.ndarray | None = None):
        """Observations (and, with ``x``, the model means) as a long table."""
        import pandas as pd

        rows, means = [], []
        for e in self.experiments:
            m = self.predict(e, x)[0] if x is not None else np.full(e.y.size, np.nan)
            means.append(m)
            for j in np.flatnonzero(e.data):
                rows.append({"study": e.study, "arm": e.arm, "readout": e.readout[j], "unit": e.unit[j],
                             "time_h": float(e.obs_time[j]), "mean": float(e.y[j]), "se": float(e.se[j]),
                             "model": float(m[j])})
        for c in self.contrasts:
            (i, r), (j, q) = c.treated, c.control
            f = c.value(means[i][r], means[j][q])[0] if x is not None else np.nan
            rows.append({"study": c.study, "arm": f"{c.spec.treated} vs {c.spec.control}",
                         "readout": c.spec.label(), "unit": c.spec.measure, "time_h": float(c.spec.time_h),
                         "mean": c.spec.estimate, "se": c.spec.se, "model": float(f)})
        return pd.DataFrame(rows)


def values_for_scenario(problem_parameters: Sequence[EstimatedParameter], x_params: np.ndarray,
                        scenario, sbml_ids: Mapping[str, float]) -> dict[str, float]:
    """Estimated parameter values that apply to ``scenario`` (species and presence in its model)."""
    out = {}
    for i, p in enumerate(problem_parameters):
        if (p.species is None or p.species == scenario.species) and p.name in sbml_ids:
            out[p.name] = float(10.0 ** x_params[i])
    return out


def check_config(config) -> list[str]:
    """Problems a reviewer should fix before trusting a calibration (empty = none found).

    Builds the problem (so every scenario compiles and every observation maps to a
    readout) and checks reviewability: each selected study cites its source and says
    how its scenario stands for it; each estimated parameter has cited bounds in the
    parameter table; there are more observations than estimated values.
    """

    out: list[str] = []
    try:
        cfg = as_config(config)
        problem = CalibrationProblem(cfg)
    except (CalibrationConfigError, ValueError) as exc:
        return [str(exc)]
    for s in cfg.selected_studies():
        if not s.citation:
            out.append(f"studies.{s.id}: no citation — name the publication (PMID/DOI) the numbers come from")
        if not s.mapping:
            out.append(f"studies.{s.id}: no mapping — say in words why this scenario stands for the study")
    for q in problem.parameters:
        if q.table_lower is None or q.table_upper is None:
            out.append(f"parameters.{q.label}: the parameter table gives no cited range; bounds come from the "
                       "config only")
    if problem.n_observations <= problem.dim:
        out.append(f"{problem.n_observations} observations for {problem.dim} estimated values: the problem is "
                   "not identifiable; add data or estimate fewer parameters")
    return out
