"""The pre-registered held-out studies: which evidence the calibration must never see.

``validation/held_out.yaml`` (repository root) is written once, before fitting, by the seeded
script ``scripts/select_held_out.py``: it holds the seed, the date, the selection rule and the
list of held-out publications with every evidence ``study_id`` each one has in the store (one
publication can be curated twice, e.g. ``Ashour 2016`` and ``PMC5009659_2016_StemCellResTher``).
Evidence curated after that draw is split by the file's ``amendments``: each was written before
the evidence it splits existed, and decides by a seeded hash of the publication key alone (see
the script); their held-out publications join :attr:`HeldOutRegistry.studies` and the rest join
:attr:`HeldOutRegistry.in_sample` (available to fits, scored apart).

:func:`check_not_held_out` is called by the code that builds a calibration problem
(:class:`~nephrosim.calibration.problem.CalibrationProblem`): a study that reads a held-out
study's rows from the evidence store, is tagged with its id (``tags.evidence_id``), or names it
in its citation is an error, so a held-out study can never enter a fit by accident.

Fits added after the draw: a publication the draw left in neither list (eligible, not drawn) may
later be used by a new fit or in-sample literature target. :func:`in_sample_now` adds such
publications to the in-sample ones (they are scored in-sample, apart), and names any held-out
publication a fit or target has come to use, which must never happen.

Where the registry is read from: ``$NEPHROSIM_HELD_OUT`` if set, else the source checkout's
``validation/held_out.yaml``. An installed package without a checkout has no registry (a user's
own data has no project split); :func:`load_held_out` then returns ``None`` and a shipped fit
records ``held_out_registry: null``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from nephrosim.calibration.config import CalibrationConfigError, StudySpec
from nephrosim.inputs import read_mapping

#: environment variable naming another registry file (tests, other checkouts)
HELD_OUT_ENV = "NEPHROSIM_HELD_OUT"


@dataclass(frozen=True)
class HeldOutStudy:
    """One held-out publication: its key (DOI, PMID or study id) and its evidence study ids."""

    key: str
    study_ids: tuple[str, ...]
    injury: str
    product: str
    species: str


@dataclass(frozen=True)
class HeldOutRegistry:
    """The held-out list as read from ``held_out.yaml`` (``path``), with its seed and rule."""

    path: str
    seed: int
    date: str
    rule: str
    studies: tuple[HeldOutStudy, ...]
    #: publications a fit or a hand-tuned target already used (never drawn; scored in-sample, apart)
    in_sample: tuple[HeldOutStudy, ...] = ()

    @property
    def study_ids(self) -> frozenset[str]:
        return frozenset(i for s in self.studies for i in s.study_ids)

    def held_out_study(self, study: StudySpec) -> str | None:
        """The held-out evidence study id that ``study`` uses, or None.

        A calibration study uses evidence study ``e`` when it reads ``e``'s rows from the store
        (``evidence.study_id``), is tagged ``evidence_id: e``, or cites ``e`` (the id appears in
        its citation as a whole phrase)."""
        used = {study.evidence.study_id} if study.evidence is not None else set()
        if "evidence_id" in study.tags:
            used.add(study.tags["evidence_id"])
        hit = sorted(used & self.study_ids)
        if hit:
            return hit[0]
        for sid in sorted(self.study_ids):
            if names_whole(study.citation, sid):
                return sid
        return None


def names_whole(text: str, needle: str, flags: int = 0) -> bool:
    """Whether ``text`` names ``needle`` as a whole phrase (not inside a longer identifier)."""
    return re.search(r"(?<![A-Za-z0-9_])" + re.escape(needle) + r"(?![A-Za-z0-9_])", text, flags) is not None


def source_checkout() -> Path | None:
    """The source checkout this package runs from (the folder with ``pyproject.toml`` and
    ``validation/held_out.yaml``), or None for an installed package."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "validation" / "held_out.yaml").is_file() and (parent / "pyproject.toml").is_file():
            return parent
    return None


def default_registry_path() -> Path | None:
    """``$NEPHROSIM_HELD_OUT``, else ``validation/held_out.yaml`` of the source checkout (or None)."""
    env = os.environ.get(HELD_OUT_ENV)
    if env:
        return Path(env)
    root = source_checkout()
    return None if root is None else root / "validation" / "held_out.yaml"


def load_held_out(path: str | Path | None = None) -> HeldOutRegistry | None:
    """Read the held-out registry (default: :func:`default_registry_path`); None when there is none."""
    path = Path(path) if path is not None else default_registry_path()
    if path is None:
        return None
    if not path.is_file():
        raise CalibrationConfigError(f"held-out registry {str(path)!r} not found — run scripts/select_held_out.py "
                                     f"or point ${HELD_OUT_ENV} at the file")
    data = read_mapping(path, "held-out registry", CalibrationConfigError)
    try:
        def entries(key, section=data):
            return tuple(HeldOutStudy(key=str(s["key"]), study_ids=tuple(str(i) for i in s["study_ids"]),
                                      injury=str(s["injury"]), product=str(s["product"]), species=str(s["species"]))
                         for s in section.get(key) or ())

        held, kept = entries("held_out"), entries("excluded_as_seen")
        for amendment in data.get("amendments") or ():  # evidence curated after the draw, split by a prior rule
            held += entries("held_out", amendment)
            kept += entries("in_sample", amendment)
        return HeldOutRegistry(path=str(path), seed=int(data["seed"]), date=str(data["date"]), rule=str(data["rule"]),
                               studies=held, in_sample=kept)
    except (KeyError, TypeError, ValueError) as exc:
        raise CalibrationConfigError(f"{path}: malformed held-out registry ({type(exc).__name__}: {exc}); regenerate "
                                     "it with scripts/select_held_out.py") from None


def check_not_held_out(studies, registry: HeldOutRegistry | None) -> None:
    """Refuse a fit that would see a held-out study (a :class:`CalibrationConfigError` naming it)."""
    if registry is None:
        return
    for s in studies:
        sid = registry.held_out_study(s)
        if sid is not None:
            raise CalibrationConfigError(
                f"studies.{s.id}: uses evidence study {sid!r}, which is pre-registered as held out in "
                f"{registry.path} (seed {registry.seed}, {registry.date}); a held-out study may never be fitted — "
                "remove it from the calibration (it is scored by `nephrosim validate --held-out`)")


# --- which publications the fits use ------------------------------------------------------------
def publications(records) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Publication key (``doi:``, else ``pmid:``, else ``study:`` + study id) → its study ids with
    numeric rows (a mean and a time); and every study id's key."""
    numeric = records[records["mean"].notna() & records["time_h"].notna()]
    key_of = {}
    for sid, rows in records.groupby("study_id"):
        doi = next((str(d).strip().lower() for d in rows["doi"] if isinstance(d, str) and d.strip()), None)
        pmid = next((str(p).strip() for p in rows["pmid"] if isinstance(p, str) and p.strip()), None)
        key_of[sid] = f"doi:{doi}" if doi else f"pmid:{pmid}" if pmid else f"study:{sid}"
    out: dict[str, list[str]] = {}
    for sid in sorted(numeric["study_id"].unique()):
        out.setdefault(key_of[sid], []).append(sid)
    return out, key_of


def publication_info(records, key: str, study_ids) -> HeldOutStudy:
    """The registry entry of one publication: injury, the products of its treated/comparator arms, species."""
    rows = records[records["study_id"].isin(list(study_ids))]
    treated = sorted({p for p, role in zip(rows["product"], rows["role"])
                      if role in ("treated", "comparator") and isinstance(p, str) and p not in ("none", "")})
    return HeldOutStudy(key=key, study_ids=tuple(study_ids), injury=str(rows["injury"].iloc[0]),
                        product="+".join(treated) if treated else "none",
                        species=",".join(sorted({str(s) for s in rows["species"]})))


def seen_text(root: Path, *, target_fits: bool = False, comments: bool = True) -> str:
    """Everything a fit or a hand-tuned target uses: the calibration configs under ``root/calibration``
    (with ``target_fits`` also the literature-target fits under ``calibration/targets``) and the
    sources of the in-sample literature targets.

    The registry's draw read the configs as raw text, comments included (``comments=True``, its
    published rule). Without ``comments`` a config is read as the data it holds, so a publication a
    comment names only to say why it was *left out* of the fit does not count as used."""
    import json

    import yaml

    from nephrosim.analysis.model_check import load_targets

    folders = [root / "calibration"] + ([root / "calibration" / "targets"] if target_fits else [])
    parts = []
    for path in (p for folder in folders for p in sorted(folder.glob("*.yaml"))):
        text = path.read_text(encoding="utf-8")
        parts.append(text if comments else json.dumps(yaml.safe_load(text), ensure_ascii=False, default=str))
    for t in load_targets().of_kind("in_sample"):
        parts.append(json.dumps(t.source.model_dump(), ensure_ascii=False))
    return "\n".join(parts)


def named_in(text: str, key: str, study_ids) -> list[str]:
    """The study ids of a publication (whole words, any case) and its DOI that ``text`` names."""
    doi = key[4:] if key.startswith("doi:") else None
    found = [s for s in study_ids if names_whole(text, s, re.IGNORECASE)]
    return found + ([doi] if doi and doi in text.lower() else [])


def in_sample_now(registry: HeldOutRegistry, records, root: Path) -> tuple[tuple[HeldOutStudy, ...], list[str]]:
    """The publications to score in-sample today, and the held-out ones a fit or target now names.

    In-sample: the registry's own (:attr:`HeldOutRegistry.in_sample`), then every other publication
    of ``records`` that a calibration config, a target fit or an in-sample target's source names
    now (:func:`seen_text` with ``target_fits``, comments not read) — e.g. a survival target added
    after the draw.
    The second list should be empty: a held-out publication used by a fit is no longer held out.
    """
    text = seen_text(root, target_fits=True, comments=False)
    listed = {s.key for s in registry.in_sample}
    held = {s.key for s in registry.studies}
    pubs, _ = publications(records)
    added, leaked = [], []
    for key, sids in pubs.items():
        named = named_in(text, key, sids)
        if not named:
            continue
        if key in held:
            leaked.append(f"{key} (named: {', '.join(named)})")
        elif key not in listed:
            added.append(publication_info(records, key, sids))
    return registry.in_sample + tuple(added), leaked
