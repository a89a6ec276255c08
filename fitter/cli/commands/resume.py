"""``spikefit resume RESULTS_DIR``: run the job of a results folder on to its budget.

The job is the one the folder's ``manifest.json`` records: its spec as it ran (data paths
resolved against the job file's folder then), so the job file need be neither at hand nor
unchanged. An interrupted, stopped or failed run resumes as ``spikefit run`` would (finished
studies skipped, untold trials asked again, none counted twice). A folder without a manifest,
or whose job is complete, is refused in one line; ``--trials`` raises the budget, which also
runs a complete job further.
"""

from __future__ import annotations

import argparse
import os

from spikefit.errors import SpikefitError

__all__ = ["register", "job_of", "ResumeError"]


class ResumeError(SpikefitError):
    """The folder holds no job that can be resumed."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("resume", help="resume the job of a results folder (interrupted, stopped or failed)",
                       description=__doc__.split("\n\n")[1])
    p.add_argument("dir", help="results folder (or pyarrow URI) of an earlier spikefit run")
    p.add_argument("--trials", type=int, help="raise the trial budget per cell (also runs a complete job on)")
    p.add_argument("--address", help="Ray cluster address (overrides the recorded [resources.address])")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_main)


def job_of(root: str, *, trials: int | None = None):
    """The :class:`~spikefit.spec.jobspec.JobSpec` recorded in ``root``'s manifest, writing to
    ``root``; ``trials`` replaces the budget of the one stage or of every stage."""
    from spikefit.results.store import ResultStore
    from spikefit.spec.jobspec import parse_job

    if "://" not in root and not os.path.isfile(os.path.join(root, "manifest.json")):
        seen = "a folder without manifest.json" if os.path.isdir(root) else "no such folder"
        raise ResumeError(f"{root}: expected the results folder of a spikefit run (with manifest.json), got "
                          f"{seen}; start the job with: spikefit run JOB.toml --output {root}")
    try:
        manifest = ResultStore(root).read_manifest()
    except (OSError, ValueError) as err:
        raise ResumeError(f"{root}/manifest.json: cannot be read ({err}); start the job with spikefit run") from None
    if not isinstance(manifest.get("spec"), dict):
        raise ResumeError(f"{root}/manifest.json: expected the job spec under 'spec', got none; resume with "
                          "spikefit run JOB.toml --output " + root)
    data = _in_order(manifest["spec"], manifest.get("key_order") or {})
    base_dir = data.pop("base_dir", ".")
    data["output"] = root
    if trials is not None:
        data["search"] = dict(data.get("search") or {}, trials=trials)
        if data["search"].get("stages"):
            data["search"]["stages"] = [dict(s, trials=trials) for s in data["search"]["stages"]]
    elif manifest.get("status") == "complete":
        counts = manifest.get("trials") or {}
        raise ResumeError(f"{root}: job {manifest.get('job')!r} is already complete "
                          f"({sum(counts.values())} trials); to run more, pass --trials with a larger "
                          "budget per cell")
    spec = parse_job(data, source=manifest.get("job_file") or f"{root}/manifest.json", base_dir=base_dir)
    if manifest.get("fingerprint") not in (None, spec.fingerprint()):
        raise ResumeError(f"{root}/manifest.json: its job spec no longer reads as the job that ran (fingerprint "
                          f"{spec.fingerprint()}, recorded {manifest['fingerprint']}; another spikefit "
                          "version?); resume with spikefit run JOB.toml --output " + root)
    return spec


def _in_order(spec: dict, order: dict) -> dict:
    """``spec`` (keys sorted in the manifest) with its ordered tables back in the run's order."""
    data = dict(spec)
    for dotted, keys in order.items():
        *parents, last = dotted.split(".")
        table = data
        for key in parents:
            table[key] = dict(table.get(key) or {})
            table = table[key]
        if isinstance(table.get(last), dict):
            table[last] = {k: table[last][k] for k in keys if k in table[last]} | table[last]
    return data


def _main(args: argparse.Namespace) -> int:
    from spikefit.cli.commands.run import run_spec

    spec = job_of(args.dir, trials=args.trials)
    if args.address:
        spec = spec.model_copy(update={"resources": spec.resources.model_copy(update={"address": args.address})})
    return run_spec(spec, f"spikefit resume {args.dir}", progress=not args.no_progress)
