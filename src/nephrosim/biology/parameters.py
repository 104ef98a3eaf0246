"""The parameter table: every number in the model, with its unit, species and source.

The table ships as ``parameters.csv`` beside this module. One row per parameter
and species (``species = all`` applies to every species unless a species row
overrides it). Provenance is one of

* ``source``  – a published value: ``citation``, ``pmid_or_doi`` and the verbatim ``quote``;
* ``derived`` – computed from sourced values: ``reason`` gives the computation;
* ``fitted``  – estimated by a shipped calibration run: the evidence calibration
  (``calibrated.json``; the run, the data, the 95 % profile interval and an identifiability
  verdict, set by :meth:`with_calibration`) or a target calibration (``fitted/*.json``; the 95 %
  posterior interval and verdict, set by :meth:`with_target_fit`); never written by hand in the CSV;
* ``assumed`` – no source yet: ``reason`` says why, and ``lower``/``upper`` give the range
  that enters every uncertainty band. A value tuned by hand to a target is ``assumed`` and
  says so ("hand-tuned, not formally fitted"): the targets it was tuned to are in-sample. A
  target calibration that cannot identify a row leaves it ``assumed`` with its value and verdict.

``lower``/``upper`` bound the plausible range (used by ensembles with a prior and by
calibration). ``vary`` says whether ensembles perturb the parameter (structural
constants such as unit conversions do not vary).

The shipped calibration (``calibrated.json`` beside this module, written by
``nephrosim calibrate calibration/default.yaml --out DIR --ship``) overrides the
values it estimated: :meth:`ParameterTable.default` applies it (the model
``simulate`` uses), ``ParameterTable.default(calibrated=False)`` is the table as
cited. An overridden row keeps its citation and cited range and gets provenance
``calibrated`` with a reason naming the fit (config, digest, seed, date,
evidence). A scenario chooses with ``parameter_set: calibrated | table``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterable, Mapping

from nephrosim.errors import UnknownNameError

SPECIES = ("mouse", "rat", "human")
PROVENANCE_KINDS = ("source", "derived", "fitted", "assumed")
COLUMNS = (
    "name", "species", "value", "unit", "lower", "upper", "provenance",
    "citation", "pmid_or_doi", "quote", "reason", "vary", "description",
)


@dataclass(frozen=True)
class ParameterRecord:
    """One row of the parameter table."""

    name: str
    species: str
    value: float
    unit: str
    lower: float | None
    upper: float | None
    provenance: str
    citation: str
    pmid_or_doi: str
    quote: str
    reason: str
    vary: bool
    description: str

    def problems(self) -> list[str]:
        """Reasons this row breaks the provenance rules (empty when it is fine)."""
        out = []
        if self.species not in (*SPECIES, "all"):
            out.append(f"species {self.species!r} is not one of {SPECIES} or 'all'")
        if self.provenance not in PROVENANCE_KINDS:
            out.append(f"provenance {self.provenance!r} is not one of {PROVENANCE_KINDS}")
        if self.provenance == "source" and not (self.citation and self.quote and self.pmid_or_doi):
            out.append("provenance 'source' needs citation, pmid_or_doi and the quoted sentence")
        if self.provenance in ("derived", "assumed", "fitted") and not self.reason:
            out.append(f"provenance {self.provenance!r} needs a reason")
        if self.provenance == "assumed" and self.vary and (self.lower is None or self.upper is None):
            out.append("provenance 'assumed' needs a range (lower and upper) to enter the uncertainty bands")
        if self.provenance == "fitted" and not ("95 % profile interval" in self.reason
                                                or "95 % posterior interval" in self.reason):
            out.append("provenance 'fitted' needs the 95 % profile (or posterior) interval and identifiability verdict")
        if self.lower is not None and self.upper is not None:
            if not self.lower <= self.value <= self.upper:
                out.append(f"value {self.value} outside its range [{self.lower}, {self.upper}]")
        if not self.unit:
            out.append("unit is empty (use 'dimensionless' for pure numbers)")
        return out


CALIBRATED_FILE = "calibrated.json"
#: folder (beside this module) of the shipped target calibrations (nephrosim.calibration.targets)
FITTED_FOLDER = "fitted"


def shipped_target_fits() -> list[dict]:
    """The target calibrations shipped in the package (``biology/fitted/*.json``), in file-name order.

    Each is the ``result.json`` of ``nephrosim calibrate-targets SPEC --ship``: the spec and its
    digest, the targets used and their digest, seed, date, MAP, posterior median and 95 % interval
    and the identifiability verdict of every parameter (:func:`nephrosim.calibration.targets.fit_targets`).
    """
    folder = resources.files("nephrosim.biology").joinpath(FITTED_FOLDER)
    if not folder.is_dir():
        return []
    return [json.loads(f.read_text("utf-8")) for f in sorted(folder.iterdir(), key=lambda f: f.name)
            if f.name.endswith(".json")]


def shipped_calibration() -> dict | None:
    """The calibration shipped in the package (``model/calibrated.json``), or None.

    Keys: ``config``, ``config_digest``, ``seed``, ``date``, ``nephrosim_version``,
    ``evidence`` (digest and count of the observations fitted, each study's citation),
    ``studies``, ``parameters`` (label → value; ``name[species]`` for species-specific
    rows), ``intervals_95``, ``cited_ranges``, random effects, ``nll``, and ``x``,
    ``names`` and ``config_data`` to rebuild the fit
    (:meth:`nephrosim.calibration.fit.Calibration.from_shipped`).
    """
    f = resources.files("nephrosim.biology").joinpath(CALIBRATED_FILE)
    if not f.is_file():
        return None
    return json.loads(f.read_text("utf-8"))


def _float_or_none(text: str) -> float | None:
    text = (text or "").strip()
    return float(text) if text else None


class ParameterTable:
    """All parameter records, with per-species lookup.

    Examples
    --------
    >>> table = ParameterTable.default()
    >>> table.values("mouse")["tbw_fraction"]  # doctest: +SKIP
    0.6
    """

    def __init__(self, records: Iterable[ParameterRecord]):
        self.records: tuple[ParameterRecord, ...] = tuple(records)
        self._index: dict[tuple[str, str], ParameterRecord] = {}
        for r in self.records:
            key = (r.name, r.species)
            if key in self._index:
                raise ValueError(f"parameter table has two rows for {r.name!r} / {r.species!r}")
            self._index[key] = r

    @classmethod
    def read_csv(cls, path: str | Path) -> "ParameterTable":
        with open(path, newline="", encoding="utf-8") as fh:
            return cls._from_rows(csv.DictReader(fh), str(path))

    @classmethod
    @lru_cache(maxsize=4)
    def default(cls, calibrated: bool = True, target_fits: bool = True) -> "ParameterTable":
        """The table shipped with nephrosim.

        One logical table, stored as ``parameters.csv`` (physiology) plus one
        ``parameters_<domain>.csv`` per biology domain beside it, so domains can be
        reviewed separately. With ``target_fits`` (the default) the shipped target
        calibrations (``fitted/*.json``) replace the values that were once tuned by hand: they
        are the table's values now, in both parameter sets. With ``calibrated`` (the default)
        the shipped evidence calibration's estimates then replace the values it fitted.
        ``default(calibrated=False, target_fits=False)`` is the CSV as written.
        """
        folder = resources.files("nephrosim.biology")
        files = sorted(f for f in folder.iterdir() if f.name.startswith("parameters") and f.name.endswith(".csv"))
        records: list[ParameterRecord] = []
        for f in files:
            rows = csv.DictReader(io.StringIO(f.read_text("utf-8"), newline=""))
            records.extend(cls._from_rows(rows, f.name).records)
        table = cls(records)
        if target_fits:
            for fit in shipped_target_fits():  # hand-tuned rows replaced by formal fits to the targets
                table = table.with_target_fit(fit)
        if calibrated:
            shipped = shipped_calibration()
            if shipped is not None:
                table = table.with_calibration(shipped)
        return table

    def with_target_fit(self, fit: dict) -> "ParameterTable":
        """A copy whose rows estimated by a target calibration (``fit``, see
        :func:`shipped_target_fits`) carry its point estimate (a near-optimal posterior draw).

        An identifiable parameter becomes ``fitted``, its range the 95 % posterior interval. One the
        targets do not pin down stays ``assumed``, with the fit's value, its cited range (which enters
        every uncertainty band) and the verdict — no longer a number set by hand."""
        kind, data = (("population calibration", "reported population shares") if fit.get("kind") == "population"
                      else ("target calibration", "in-sample targets"))
        tag = (f"{kind} {fit['name']!r} (spec digest {fit['spec_digest']}, targets digest "
               f"{fit['targets_digest']}, seed {fit['seed']}, {fit['date']}; {data}: "
               f"{', '.join(fit['spec']['targets'])})")
        out = list(self.records)
        for label, est in fit["parameters"].items():
            name, _, species = label.partition("[")
            key = (name, species.rstrip("]") or "all")
            if key not in self._index:
                raise ValueError(f"shipped target fit {fit['name']!r} estimates {label!r}, which the parameter table "
                                 "lacks; re-run it (nephrosim calibrate-targets ... --ship)")
            rec = self._index[key]
            lo, hi = est["interval_95"]
            interval = f"95 % posterior interval {lo:.4g}–{hi:.4g} {rec.unit}"
            was = (f"hand-tuned value {est['hand_tuned_value']:.4g}" if "hand-tuned" in rec.reason
                   else f"table value {est['hand_tuned_value']:.4g} ({rec.provenance})")
            point = float(est["point"])
            if est["identifiable"]:
                new = dataclasses.replace(
                    rec, value=point, lower=float(min(lo, point)), upper=float(max(hi, point)),
                    provenance="fitted", reason=f"fitted by {tag}; {interval}; {est['verdict']}; was {was}")
            else:
                new = dataclasses.replace(
                    rec, value=point, provenance="assumed",
                    reason=f"formally fitted by {tag}, {est['verdict']}: the value is the fit's point estimate "
                           f"({interval}; was {was}); the cited range {rec.lower:g}–{rec.upper:g} enters every "
                           "uncertainty band")
            out[out.index(rec)] = new
        return ParameterTable(out)

    def with_calibration(self, calibration: dict) -> "ParameterTable":
        """A copy whose rows estimated by ``calibration`` (a shipped-calibration mapping,
        see :func:`shipped_calibration`) carry the estimates, provenance ``fitted``, with the
        run, its 95 % profile interval and an identifiability verdict in the reason."""
        values = calibration["parameters"]
        tag = (f"calibrated by {calibration['config']} (config digest {calibration['config_digest']}, seed "
               f"{calibration['seed']}, {calibration['date']}, evidence {calibration['evidence']['digest']}; "
               f"{len(calibration['studies'])} studies)")
        intervals = calibration.get("intervals_95", {})
        # an estimate applies to the species it was fitted on: a rat-only fit of a species-wide
        # row (iri_q10) becomes a rat row, and mouse and human keep the table value
        fitted_species = {(s.get("scenario") or {}).get("species")
                          for s in calibration.get("config_data", {}).get("studies", [])}
        only = next(iter(fitted_species)) if len(fitted_species) == 1 and None not in fitted_species else None
        out = list(self.records)
        for label, value in values.items():
            name, _, species = label.partition("[")
            species = species.rstrip("]") or only or "all"
            key = (name, species) if (name, species) in self._index else (name, "all")
            if key not in self._index:
                raise ValueError(f"shipped calibration estimates {label!r}, which the parameter table lacks; "
                                 "re-run the calibration and --ship it again")
            rec = self._index[key]
            lo, hi = intervals.get(label, (None, None))
            ends = ["open" if v is None else f"{v:.4g}" for v in (lo, hi)]
            verdict = ("identifiable" if lo is not None and hi is not None else
                       "practically non-identifiable (the profile stays below the threshold on the "
                       + " and ".join(s for s, v in (("lower", lo), ("upper", hi)) if v is None) + " side)")
            new = dataclasses.replace(
                rec, species=species, value=float(value), provenance="fitted",
                reason=f"{tag}; 95 % profile interval {ends[0]}–{ends[1]} {rec.unit}; {verdict}; table value "
                       f"{rec.value:g} {rec.unit} ({rec.provenance}" + (f": {rec.citation}" if rec.citation else "") + ")")
            if species == rec.species:
                out[out.index(rec)] = new
            elif (name, species) in self._index and species != "all":
                out[out.index(self._index[(name, species)])] = new
            else:
                out.append(new)
        return ParameterTable(out)

    @classmethod
    def _from_rows(cls, rows, where: str) -> "ParameterTable":
        records = []
        for i, row in enumerate(rows, start=2):
            try:
                records.append(
                    ParameterRecord(
                        name=row["name"].strip(),
                        species=row["species"].strip(),
                        value=float(row["value"]),
                        unit=row["unit"].strip(),
                        lower=_float_or_none(row.get("lower", "")),
                        upper=_float_or_none(row.get("upper", "")),
                        provenance=row["provenance"].strip(),
                        citation=row.get("citation", "").strip(),
                        pmid_or_doi=row.get("pmid_or_doi", "").strip(),
                        quote=row.get("quote", "").strip(),
                        reason=row.get("reason", "").strip(),
                        vary=row.get("vary", "true").strip().lower() in ("true", "1", "yes"),
                        description=row.get("description", "").strip(),
                    )
                )
            except (KeyError, ValueError) as exc:
                raise ValueError(f"{where}, line {i}: {exc}; columns must be {COLUMNS}") from exc
        return cls(records)

    def has_row(self, name: str, species: str) -> bool:
        """Whether the table has a row for exactly this name and species (``all`` included)."""
        return (name, species) in self._index

    def names(self) -> set[str]:
        return {r.name for r in self.records}

    def record(self, name: str, species: str) -> ParameterRecord:
        """The record in force for ``species`` (species row, else the ``all`` row)."""
        return self._lookup(name, species)

    def _lookup(self, name: str, species: str) -> ParameterRecord:
        rec = self._index.get((name, species)) or self._index.get((name, "all"))
        if rec is None:
            if name in self.names():
                have = sorted(r.species for r in self.records if r.name == name)
                raise UnknownNameError(f"parameter {name!r} has no value for species {species!r} (only for "
                                       f"{', '.join(have)}); add a {species} row to src/nephrosim/biology/parameters*.csv")
            close = self.closest_names(name)
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
            raise UnknownNameError(
                f"parameter {name!r} is not in the parameter table{hint}; see `nephrosim params`, "
                "or add a row to src/nephrosim/biology/parameters*.csv"
            )
        return rec

    def values(self, species: str) -> dict[str, float]:
        """Every parameter's value for ``species``."""
        return {n: self._lookup(n, species).value for n in sorted(self.names())
                if (n, species) in self._index or (n, "all") in self._index}

    def for_species(self, species: str) -> list[ParameterRecord]:
        return [self._lookup(n, species) for n in sorted(self.names())
                if (n, species) in self._index or (n, "all") in self._index]

    def problems(self) -> list[str]:
        return [f"{r.name} [{r.species}]: {p}" for r in self.records for p in r.problems()]

    def with_overrides(self, values: Mapping[str, float], species: str) -> "ParameterTable":
        """A copy in which ``values`` (name → value) replace the rows in force for ``species``.

        A scenario has one species, so a row shared by all species (``all``) is replaced as
        it stands: build-time readers that ask for the ``all`` row see the override too.
        Unknown names raise :class:`~nephrosim.errors.UnknownNameError` naming the closest
        known names. The overridden rows keep their citation; their reason says so.
        """
        if not values:
            return self
        out = list(self.records)
        for name, value in values.items():
            rec = self._lookup(name, species)
            new = dataclasses.replace(rec, value=float(value),
                                      reason=f"overridden by the scenario (table value {rec.value:g} {rec.unit})")
            out[out.index(rec)] = new
        return ParameterTable(out)

    def tracked(self) -> "TrackedTable":
        """A view of this table that records every name looked up through :meth:`record`."""
        return TrackedTable(self)

    def closest_names(self, name: str, n: int = 3) -> list[str]:
        """The known parameter names closest to ``name`` (for "did you mean" messages)."""
        import difflib

        return difflib.get_close_matches(name, sorted(self.names()), n=n, cutoff=0.6)


class TrackedTable(ParameterTable):
    """A :class:`ParameterTable` view that remembers which rows were read (``read``).

    Model builders read some rows at build time (protocol fold changes, knockout shares);
    those never become SBML parameters. The assembly uses ``read`` to tell whether a
    scenario override reached the model.
    """

    def __init__(self, table: ParameterTable):
        self.records = table.records
        self._index = table._index
        self.read: set[str] = set()

    def record(self, name: str, species: str) -> ParameterRecord:
        self.read.add(name)
        return super().record(name, species)
