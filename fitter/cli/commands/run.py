"""``spikefit run JOB.toml [--output DIR] [--trials N]``: fit on an embedded (or given) Ray cluster.

Ctrl-C (SIGINT) and SIGTERM (Slurm preemption, Kubernetes eviction) stop the run: every told
trial is written, the manifest says ``interrupted``, one line says how to resume, and the exit
status is the conventional 128 + signal number (130, 143). A results file that cannot be
written (disk full, read-only folder) stops the run with one line naming it (exit status 1);
the manifest says ``failed`` if it could still be written, and the same command resumes once
there is space. The summary counts the rows of the trials table.
"""

from __future__ import annotations

import argparse
import signal
import sys

__all__ = ["register", "run_spec"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a fitting job (embedded Ray cluster unless --address)")
    p.add_argument("job", help="job spec (TOML), e.g. jobs/quickstart.toml")
    p.add_argument("--output", help="results folder or pyarrow URI (default: the spec's, or results/<name>)")
    p.add_argument("--trials", type=int, help="trial budget per cell (overrides [search.trials])")
    p.add_argument("--address", help="Ray cluster address (overrides [resources.address])")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--overwrite", action="store_true",
                   help="replace another job's results in the output folder (default: refuse)")
    p.set_defaults(func=_main)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def _main(args: argparse.Namespace) -> int:
    from spikefit.spec.jobspec import load_job

    overrides = {"output": args.output, "trials": args.trials}
    spec = load_job(args.job, **overrides)
    if args.address:
        spec = spec.model_copy(update={"resources": spec.resources.model_copy(update={"address": args.address})})
    resume = " ".join(["spikefit run", args.job] + ([f"--output {args.output}"] if args.output else []))
    return run_spec(spec, resume, progress=not args.no_progress, overwrite=args.overwrite)


def run_spec(spec, resume: str, *, progress: bool = True, overwrite: bool = False) -> int:
    """Run ``spec`` as ``spikefit run`` does (signals, disk errors, summary); ``resume``: the
    command that resumes it, for the messages. Returns the exit status."""
    from spikefit.errors import OutputError
    from spikefit.fitting import fit_job

    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        summary = fit_job(spec, progress=progress, overwrite=overwrite).summary
    except KeyboardInterrupt as stop:
        term = isinstance(stop, _Terminated)
        print(f"spikefit run: {'terminated (SIGTERM)' if term else 'interrupted'}; the trials told so far are in "
              f"{spec.output_dir()}; resume with: {resume}", file=sys.stderr)
        return 128 + (signal.SIGTERM if term else signal.SIGINT)
    except OutputError as err:
        print(f"spikefit run: error: {err}; the results written so far are kept in {spec.output_dir()}; "
              f"free space (or make the folder writable) and resume with: {resume}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    if isinstance(summary, dict):  # a model-choice job: each model's summary, then the comparison
        from spikefit.cli.commands.results import print_models

        codes = [_report(s) for s in summary.values()]
        print_models(spec.output_dir())
        return max(codes)
    return _report(summary)


def _report(summary) -> int:
    """Print one run's summary (counts, time per phase, the fit); returns the exit status."""
    t = summary.timing
    total = max(summary.wall_s, 1e-9)
    more = summary.n_study - summary.n_trials
    print(f"{summary.status}: {summary.n_trials} trials ({summary.n_failed} failed) in {summary.wall_s:.1f} s "
          f"-> {summary.output}" + (f"; the studies hold {summary.n_study} trials ({more} asked before a restart "
                                    "and not in the table)" if more > 0 else ""))
    print("time: " + ", ".join(f"{k} {v:.1f} s ({100 * v / total:.0f}%)" for k, v in t.items() if k != "record")
          + f"; recorded in the background: {t.get('record', 0.0):.1f} s")
    if not summary.best:  # every trial failed: nothing to show but the reasons
        print(f"no cell has a COMPLETE trial; see fail_reason in {summary.output}/trials "
              "(pandas.read_parquet) and widen the bounds or fix the fixed parameters", file=sys.stderr)
        return 1
    from spikefit.cli.commands.results import print_summary

    print_summary(summary.output)
    return 0 if summary.status == "complete" else 1
