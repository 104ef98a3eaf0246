"""Shipping a fit as nephrosim's calibrated parameter set, and rebuilding it from there.

A shipped calibration (``biology/calibrated.json`` in a source checkout) carries its
provenance: config name and digest, seed, date, version, the data fitted (each study's
citation and a digest of every observation), estimates with their 95 % profile intervals
and what is needed to rebuild the fit for prediction intervals. The parameter table turns
it into ``fitted`` rows (:meth:`nephrosim.biology.parameters.ParameterTable.with_calibration`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nephrosim.biology.parameters import ParameterTable, shipped_calibration
from nephrosim.calibration.config import config_from_dict
from nephrosim.calibration.problem import CalibrationProblem


class ShippingMixin:
    """:meth:`shipped`, :meth:`ship` and :meth:`from_shipped` of :class:`Calibration`."""

    def shipped(self, *, date: str | None = None) -> dict:
        """This fit as a shipped calibration (what ``model/calibrated.json`` holds).

        Provenance: config name and digest, seed, date, nephrosim version, and the
        *evidence* fitted — every study's citation and a digest of the observations
        (study, arm, readout, time, mean, SE), so a changed data set changes the digest.
        """
        import datetime
        from importlib import metadata

        self._check_fitted()
        p = self.problem_
        try:
            version = metadata.version("nephrosim")
        except metadata.PackageNotFoundError:  # pragma: no cover — running from a source tree
            version = "unknown"
        return {
            "config": self.config_.name, "config_digest": self.config_.digest(), "seed": self.config_.fit.seed,
            "date": date or datetime.date.today().isoformat(), "nephrosim_version": version,
            "likelihood": self.config_.likelihood, "nll": self.nll_,
            "evidence": {"digest": p.evidence_digest(), "n_observations": p.n_observations,
                         "studies": {s.id: s.citation for s in p.studies}},
            "studies": list(p.study_ids),
            "parameters": {self._table_label(q): float(self.parameters_[q.label]) for q in p.parameters},
            "intervals_95": {k: list(v) for k, v in getattr(self, "intervals_", {}).items()},
            "cited_ranges": {q.label: [q.table_lower, q.table_upper] for q in p.parameters},
            "random_effects_sd_log10": {r.parameter: r.sd_log10 for r in p.random_effects},
            "random_effects": self.random_effects_,
            # enough to rebuild the fit (Calibration.from_shipped) for prediction intervals
            "names": p.names, "x": [float(v) for v in self.x_],
            "config_data": self.config_.model_dump(mode="json", exclude={"base_dir"}),
        }

    @classmethod
    def from_shipped(cls, data: dict | None = None):
        """The fitted :class:`Calibration` behind the shipped parameter set (default: the
        package's ``model/calibrated.json``) — e.g. for ``simulate --uncertainty shipped``."""

        data = data or shipped_calibration()
        if data is None:
            raise FileNotFoundError("no shipped calibration in this installation; run `nephrosim calibrate "
                                    "calibration/default.yaml --out DIR --ship` or give a calibration folder")
        cfg = config_from_dict(data["config_data"], "shipped calibration")
        if cfg.digest() != data["config_digest"]:
            raise RuntimeError("the shipped calibration's config does not match its digest; re-ship it")
        cal = cls(cfg)
        cal.config_ = cfg
        cal.problem_ = CalibrationProblem(cfg)
        cal.x_ = np.asarray(data["x"], dtype=float)
        cal.nll_ = float(data["nll"])
        cal.starts_ = [{"start": 0, "nll": cal.nll_, "x": data["x"]}]
        cal._set_results()
        cal.intervals_ = {k: tuple(v) for k, v in data.get("intervals_95", {}).items()}
        return cal

    def _table_label(self, q) -> str:
        """``name`` for a parameter-table row of all species, else ``name[species]`` (the species
        of the studies that informed it)."""

        if q.species is not None:
            return q.label
        table = ParameterTable.default(calibrated=False)
        if table.has_row(q.name, "all"):
            return q.name
        return f"{q.name}[{self.problem_.studies[0].species}]"

    def ship(self, path: str | Path) -> Path:
        """Write :meth:`shipped` to ``path`` (atomic), ready to become the package's
        ``biology/calibrated.json`` in a source checkout. The installed package is never
        written at run time. Refuses a fit whose config estimated from the shipped values
        (``parameter_set: calibrated``), so a shipped set never feeds on itself."""
        if self.config_.parameter_set != "table":
            raise ValueError("only a calibration with parameter_set: table can be shipped (it must start from the "
                             "cited table, not from a previous shipped calibration); set it in the config")
        self._write_json(Path(path), self.shipped())
        return Path(path)

