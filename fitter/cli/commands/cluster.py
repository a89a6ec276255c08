"""``spikefit submit | status | logs | stop``: jobs on a running Ray cluster (Ray Jobs API).

``submit`` refuses a job whose ``[resources]`` the cluster can never give; ``logs`` of a waiting
job ends with the cluster's pending resource demands; ``stop`` waits for the job to end and
marks its results folder ``stopped`` when this client can reach it.
"""

from __future__ import annotations

import argparse
import os

__all__ = ["register"]

_ADDRESS_HELP = "Ray dashboard address, e.g. http://head:8265 (default: $RAY_ADDRESS)"
_SUBMIT_DOC = ("Run `spikefit run JOB --address auto` on a Ray cluster as a Ray job. The job's folder "
               "(or --working-dir) is uploaded without results/, virtual environments and caches; "
               "spikefit is pip-installed there (same version, or --wheel), never uploaded as source.")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("submit", help="submit a job to a Ray cluster (Ray Jobs API)",
                       description=_SUBMIT_DOC)
    p.add_argument("job", help="job spec (TOML)")
    p.add_argument("--address", default=os.environ.get("RAY_ADDRESS"), help=_ADDRESS_HELP)
    p.add_argument("--trials", type=int, help="trial budget per cell (overrides [search.trials])")
    p.add_argument("--output", help="results location seen from the cluster (e.g. s3://bucket/run)")
    p.add_argument("--working-dir", help="folder uploaded as the job's working dir; must hold the job "
                                         "file and its relative data paths (default: the job file's folder)")
    p.add_argument("--wheel", help="spikefit wheel (.whl file, uploaded; or an http(s) URL) to install "
                                   "on the cluster (default: spikefit==<this version> from the "
                                   "cluster's image or package index)")
    p.add_argument("--no-resource-check", action="store_true",
                   help="submit even if [resources] asks more CPUs/GPUs than the cluster's nodes have now "
                        "(a cluster that scales up)")
    p.set_defaults(func=_submit)
    for name, helptext, func in (("status", "status of a submitted job", _status),
                                 ("logs", "driver log of a submitted job", _logs),
                                 ("stop", "stop a submitted job", _stop)):
        q = sub.add_parser(name, help=helptext)
        q.add_argument("submission_id")
        q.add_argument("--address", default=os.environ.get("RAY_ADDRESS"), help=_ADDRESS_HELP)
        q.set_defaults(func=func)


def _address(args) -> str:
    if not args.address:
        raise ValueError("--address: expected the Ray dashboard address (or set RAY_ADDRESS), got none")
    return args.address


def _submit(args) -> int:
    from spikefit.execution.submit import submit_job

    print(submit_job(args.job, _address(args), trials=args.trials, output=args.output,
                     working_dir=args.working_dir, wheel=args.wheel, check_resources=not args.no_resource_check))
    return 0


def _status(args) -> int:
    from spikefit.execution.submit import job_status

    print(job_status(_address(args), args.submission_id))
    return 0


def _logs(args) -> int:
    from spikefit.execution.submit import job_logs

    print(job_logs(_address(args), args.submission_id), end="")
    return 0


def _stop(args) -> int:
    from spikefit.execution.submit import stop_job

    stopped, results = stop_job(_address(args), args.submission_id)
    print("stopped" if stopped else "not running")
    print(results)
    return 0
