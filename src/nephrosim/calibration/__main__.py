"""``python -m nephrosim.calibration CONFIG.yaml --out DIR`` — fit, resumably.

Writes ``DIR/starts.json`` after every start (atomic) and ``DIR/result.json`` at the
end. Rerun the same command after an interruption to resume. Options:
``--profile`` adds 95 % profile-likelihood intervals; ``--report`` also runs the
leave-one-study-out validation and writes ``DIR/report/report.md``;
``--petab DIR2`` exports the problem as PEtab v1; ``--ship`` writes the estimates,
with their provenance, to the package's ``model/calibrated.json`` (what
``simulate`` uses by default).
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nephrosim.calibration", description=__doc__.splitlines()[0])
    ap.add_argument("config", help="calibration config (YAML/JSON)")
    ap.add_argument("--out", required=True, help="folder for the checkpoint and result")
    ap.add_argument("--profile", action="store_true", help="compute 95 %% profile-likelihood intervals")
    ap.add_argument("--report", action="store_true", help="leave-one-study-out validation + Markdown report")
    ap.add_argument("--petab", default=None, help="also export the problem as PEtab v1 to this folder")
    ap.add_argument("--ship", action="store_true", help="write the estimates as the package's default parameter set")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)

    from nephrosim.calibration.commands import calibrate_command
    from nephrosim.calibration.config import CalibrationConfigError

    try:
        result = calibrate_command(args.config, args.out, profile=args.profile, report=args.report,
                                   petab=args.petab, progress=not args.no_progress, ship=args.ship)
    except CalibrationConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
