"""Pre-register the held-out studies: a seeded, stratified draw written to validation/held_out.yaml.

    python scripts/select_held_out.py [--seed 20261206] [--fraction 0.2] [-o validation/held_out.yaml]

Rule (also written into the file):

1. Units are *publications* with numeric evidence: every study in the evidence store with at
   least one row that has a mean and a time. Entries of one publication (same DOI, else same
   PMID) are one unit — a publication curated twice is held out (or kept) as a whole.
2. Publications that a calibration or a hand-tuned literature target already used cannot be
   "never seen" and are not drawn: those named (by evidence study id or DOI) in a calibration
   config under ``calibration/`` or in the source of an ``in_sample`` literature target
   (``nephrosim/analysis/targets/literature_targets.yaml``). They stay in-sample.
3. Strata are injury model × product (the treated products of the publication, ``none`` for
   untreated time courses). The number to hold out is ``ceil(fraction × all publications)`` —
   at least ``fraction`` of every numeric publication, counting the ineligible ones — shared
   out first over the product classes and then over the injury models within each class, in
   proportion to their eligible size by largest remainder (ties broken by the seeded
   generator), then drawn at random within each stratum. Two levels, because one-level
   proportional allocation gives every treated stratum (one or two publications each) a quota
   below one half, so no treated study would be held out.

The same seed and the same evidence give the same file (the date aside); the file records the
seed, the date, the rule, a digest of the candidate list and what was excluded, and why.

Amendments (``--amend``, ``--materialise``). The draw above is made once; re-running it on a grown
evidence base would redraw the old studies, so the script refuses to overwrite an existing registry.
Evidence curated *after* the draw is split by an amendment, written **before** that evidence
exists: it records every publication key already registered and a rule that decides, for any
later publication key alone, whether it is held out — ``u(key) = int(sha256("seed:key")[:13], 16) /
16**13``, held out iff ``u < fraction`` (one fraction for publications with a treated arm, one for
untreated time courses). The rule depends on nothing a curator or a fit can choose, so the split of
studies not yet curated is fixed in advance. ``--materialise`` lists, under each amendment, the
study ids the rule holds out (and keeps in-sample) in the evidence as it is now;
``tests/calibration/test_held_out.py`` fails when that list is out of date.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SEED = 20261206


def publications(records):
    """Publication key → its rows' study ids (numeric rows only), and every study id's key."""
    from nephrosim.calibration.held_out import publications as library_publications

    return library_publications(records)


def seen_text() -> str:
    """Everything a fit or a hand-tuned target already used: calibration configs and in-sample sources."""
    from nephrosim.calibration.held_out import seen_text as library_seen_text

    return library_seen_text(ROOT)


def _largest_remainder(sizes: dict, n: int, rng) -> dict:
    """Share ``n`` over groups in proportion to ``sizes`` (Hamilton's method; seeded tie-break)."""
    total = sum(sizes.values())
    keys = sorted(sizes)
    quota = {k: n * sizes[k] / total for k in keys}
    alloc = {k: math.floor(quota[k]) for k in keys}
    tiebreak = rng.random(len(keys))
    order = sorted(range(len(keys)), key=lambda i: (-(quota[keys[i]] - alloc[keys[i]]), tiebreak[i]))
    for i in order[:n - sum(alloc.values())]:
        alloc[keys[i]] += 1
    return alloc


def select(records, seed: int, fraction: float):
    from nephrosim.calibration.held_out import named_in

    pubs, _ = publications(records)
    text = seen_text()
    strata, excluded = {}, []
    info = {}
    for key, sids in pubs.items():
        info[key] = _publication_info(records, key, sids)
        injury, product = info[key]["injury"], info[key]["product"]
        named = named_in(text, key, sids)
        if named:
            excluded.append({**info[key], "reason": f"already used by a calibration config or an in-sample "
                                                     f"literature target (named: {', '.join(named)})"})
            continue
        strata.setdefault((injury, product), []).append(key)
    n_total = len(pubs)
    n_hold = math.ceil(fraction * n_total)
    n_eligible = sum(len(v) for v in strata.values())
    if n_hold > n_eligible:
        raise SystemExit(f"cannot hold out {n_hold} of {n_total} publications: only {n_eligible} are eligible")
    rng = np.random.default_rng(seed)
    # level 1: product classes (so treated studies are held out in proportion, not drowned by the
    # untreated time courses); level 2: injury models within each product class
    by_product = {}
    for (injury, product), members in strata.items():
        by_product[product] = by_product.get(product, 0) + len(members)
    alloc_product = _largest_remainder(by_product, n_hold, rng)
    alloc = {}
    for product, n in sorted(alloc_product.items()):
        sizes = {k: len(v) for k, v in strata.items() if k[1] == product}
        alloc.update(_largest_remainder(sizes, n, rng))
    keys = sorted(strata)
    held = []
    for k in keys:
        members = sorted(strata[k])
        if alloc[k]:
            held += [members[i] for i in sorted(rng.choice(len(members), size=alloc[k], replace=False))]
    digest = hashlib.sha256(json.dumps(sorted((k, v) for k, v in pubs.items())).encode()).hexdigest()[:16]
    return {
        "n_publications": n_total, "n_eligible": n_eligible, "n_held_out": len(held),
        "candidates_digest": digest,
        "strata": [{"injury": k[0], "product": k[1], "eligible": len(strata[k]), "held_out": alloc[k]}
                   for k in keys],
        "held_out": [info[k] for k in sorted(held)],
        "excluded_as_seen": excluded,
    }


RULE = ("units: publications with >=1 numeric evidence row (mean and time), entries sharing a DOI (else PMID) "
        "merged; not drawn: publications named in calibration/*.yaml or in the source of an in_sample literature "
        "target (already seen); n = ceil(fraction x all publications), shared first over product classes (the "
        "treated products, 'none' for untreated) and then over injury models within each class, each in "
        "proportion to eligible size by largest remainder (seeded tie-break), then drawn at random within each "
        "injury x product stratum (numpy default_rng(seed))")


AMENDMENT_RULE = ("publications with >=1 numeric evidence row whose key is not in `registered` (curated after "
                  "this amendment was written): held out iff u(key) < fraction_treated (a publication with a treated "
                  "or comparator arm) or u(key) < fraction_untreated (untreated time courses), where u(key) = "
                  "int(sha256(f'{seed}:{key}').hexdigest()[:13], 16) / 16**13")


def hash_draw(seed: int, key: str) -> float:
    """The amendment's uniform draw for one publication key: a function of the seed and the key alone."""
    return int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:13], 16) / 16 ** 13


def _publication_info(records, key, sids):
    from dataclasses import asdict

    from nephrosim.calibration.held_out import publication_info

    return {**asdict(publication_info(records, key, sids)), "study_ids": sids}


def materialise(records, amendment: dict, earlier_keys=frozenset()) -> dict:
    """The amendment's held-out and in-sample lists on ``records`` (publications new since it was written)."""
    pubs, _ = publications(records)
    known = set(amendment["registered"]) | set(earlier_keys)
    held, kept = [], []
    for key in sorted(k for k in pubs if k not in known):
        info = _publication_info(records, key, pubs[key])
        fraction = amendment["fraction_treated"] if info["product"] != "none" else amendment["fraction_untreated"]
        (held if hash_draw(amendment["seed"], key) < fraction else kept).append(info)
    return {**amendment, "held_out": held, "in_sample": kept}


def _shipped_records():
    from nephrosim.evidence import shipped_records

    return shipped_records()


def _write(path: Path, doc: dict) -> None:
    from nephrosim.io import write_text_atomic

    header = ("# Pre-registered held-out studies (written by scripts/select_held_out.py; do not edit by hand).\n"
              "# The calibration refuses any study listed here (nephrosim.calibration.held_out);\n"
              "# `nephrosim validate --held-out` scores the model on them.\n")
    write_text_atomic(path, header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110))


def amend(path: Path, seed: int, fraction_treated: float, fraction_untreated: float, date: str) -> dict:
    """Append an amendment to the registry at ``path``: every publication known now is registered."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    pubs, _ = publications(_shipped_records())
    amendment = {"date": date, "seed": seed, "fraction_treated": fraction_treated,
                 "fraction_untreated": fraction_untreated, "rule": AMENDMENT_RULE,
                 "registered": sorted(pubs), "held_out": [], "in_sample": []}
    doc.setdefault("amendments", []).append(amendment)
    _write(path, doc)
    return amendment


def materialise_file(path: Path) -> dict:
    """Refresh every amendment's lists in the registry at ``path`` from the shipped evidence."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    records = _shipped_records()
    earlier: set = set()
    out = []
    for amendment in doc.get("amendments") or ():
        out.append(materialise(records, amendment, earlier))
        earlier |= set(amendment["registered"]) | {s["key"] for s in out[-1]["held_out"] + out[-1]["in_sample"]}
    doc["amendments"] = out
    _write(path, doc)
    return doc


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--fraction", type=float, default=0.2)
    ap.add_argument("-o", "--output", type=Path, default=ROOT / "validation" / "held_out.yaml")
    ap.add_argument("--date", default=None, help="date to record (default: today, UTC)")
    ap.add_argument("--amend", action="store_true", help="append an amendment for evidence curated from now on")
    ap.add_argument("--fraction-treated", type=float, default=0.5, help="amendment: share of new treated publications")
    ap.add_argument("--materialise", action="store_true", help="refresh the amendments' lists from the evidence")
    ap.add_argument("--force", action="store_true", help="redraw an existing registry (never after a fit used it)")
    args = ap.parse_args(argv)
    date = args.date or datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    if args.amend:
        a = amend(args.output, args.seed, args.fraction_treated, args.fraction, date)
        print(f"amendment registered {len(a['registered'])} known publications -> {args.output}")
        return 0
    if args.materialise:
        doc = materialise_file(args.output)
        for a in doc.get("amendments") or ():
            print(f"amendment {a['date']}: {len(a['held_out'])} held out, {len(a['in_sample'])} in-sample")
        return 0
    if args.output.exists() and not args.force:
        raise SystemExit(f"{args.output} exists: the draw is made once (use --amend for new evidence, --materialise "
                         "to refresh amendments, or --force to redraw before any fit has used it)")
    records = _shipped_records()
    result = select(records, args.seed, args.fraction)
    doc = {"seed": args.seed, "fraction": args.fraction, "date": date,
           "rule": RULE, "script": "scripts/select_held_out.py", **result}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    _write(args.output, doc)
    print(f"held out {result['n_held_out']} of {result['n_publications']} publications "
          f"({result['n_eligible']} eligible) -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
