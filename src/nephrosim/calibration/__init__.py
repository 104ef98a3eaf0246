"""Calibration, uncertainty and validation of nephrosim parameters against study data.

One entry point per job:

* :func:`calibrate` – multistart (or global) fit with exact forward-sensitivity
  gradients, checkpointed and resumable; returns a fitted :class:`Calibration`;
* :meth:`Calibration.profile`, :meth:`Calibration.sample`,
  :meth:`Calibration.predict_interval` – profile likelihoods, posterior draws,
  prediction intervals for any scenario;
* :func:`export_petab` / :func:`import_petab_measurements` – PEtab v1;
* :func:`cross_validate` / :func:`write_report` – leave-one-study-out validation
  and its Markdown report.

Command line: ``python -m nephrosim.calibration CONFIG.yaml --out DIR``.
"""

from nephrosim.calibration.config import (
    CalibrationConfig,
    CalibrationConfigError,
    EvidenceSource,
    Observation,
    ParameterSpec,
    RandomEffectSpec,
    StudySpec,
    as_config,
    load_config,
)
from nephrosim.calibration.fit import PROFILE_THRESHOLD, Calibration, NotFittedError, calibrate
from nephrosim.calibration.synthetic import synthesize
from nephrosim.calibration.problem import CalibrationProblem, check_config
from nephrosim.engine.sensitivity import SensitivityError, SensitivitySimulator, augment_sbml


def export_petab(*args, **kwargs):
    """Write a calibration problem as PEtab v1; see :func:`nephrosim.calibration.petab_io.export_petab`."""
    from nephrosim.calibration.petab_io import export_petab as _f

    return _f(*args, **kwargs)


def import_petab_measurements(*args, **kwargs):
    """Read a PEtab measurement table into observations; see :mod:`nephrosim.calibration.petab_io`."""
    from nephrosim.calibration.petab_io import import_petab_measurements as _f

    return _f(*args, **kwargs)


def cross_validate(*args, **kwargs):
    """Leave-one-study-out validation; see :func:`nephrosim.calibration.validation.cross_validate`."""
    from nephrosim.calibration.validation import cross_validate as _f

    return _f(*args, **kwargs)


def write_report(*args, **kwargs):
    """Markdown validation report; see :func:`nephrosim.calibration.validation.write_report`."""
    from nephrosim.calibration.validation import write_report as _f

    return _f(*args, **kwargs)


__all__ = [
    "PROFILE_THRESHOLD",
    "Calibration",
    "CalibrationConfig",
    "CalibrationConfigError",
    "CalibrationProblem",
    "EvidenceSource",
    "NotFittedError",
    "Observation",
    "ParameterSpec",
    "RandomEffectSpec",
    "SensitivityError",
    "SensitivitySimulator",
    "StudySpec",
    "as_config",
    "augment_sbml",
    "calibrate",
    "check_config",
    "cross_validate",
    "export_petab",
    "import_petab_measurements",
    "load_config",
    "synthesize",
    "write_report",
]
