"""Commands on stored studies: resume, report, compare, export, list, status, delete."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..execution import collect, study_kind, study_progress, study_spec, study_state
from ..execution.provenance import account_service, refresh_remote
from ..report import export_csv, export_json
from ..report.tables import format_status, format_studies
from ..spec import StudySpec
from ..store import BaseStore, JobState, StudyRecord
from .base import (
    Command,
    CommandContext,
    check_executor,
    default_out,
    existing_store,
    finish_study,
    print_outcome,
    write_comparison,
)

__all__ = [
    "CompareCommand",
    "DeleteCommand",
    "ExportCommand",
    "ListCommand",
    "ReportCommand",
    "ResumeCommand",
    "StatusCommand",
]


class ResumeCommand(Command):
    """Finish what is not finished in a stored study, of any kind."""

    on_terminate = "terminated (SIGTERM); finished jobs are kept; continue with resume"

    name = "resume"
    help = "finish the unfinished jobs of a study"
    parents = ("study", "store", "out", "progress", "workers", "cost")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """QPU jobs held by a cancel, a time-out or a rejection are resubmitted only if asked."""
        parser.add_argument(
            "--resubmit",
            action="store_true",
            help="submit again QPU jobs that were held (cancelled, timed out, rejected, "
            "vanished, or out of retries)",
        )
        parser.add_argument(
            "--max-execution-time",
            type=int,
            metavar="SECONDS",
            help="a new backend.options.max_execution_time for the jobs resubmitted now (a job "
            "that ran past its limit is resubmitted only with a higher one)",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="take over a study whose runner on another host is gone (a runner on this "
            "host is checked, and refused while alive)",
        )

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        """Run the rest, then write the outputs."""
        check_executor(args)
        with existing_store(args.store) as store:
            study_id = store.get_study(args.study).id
            out = default_out(store, study_id, args.out)
            return finish_study(store, study_id, out, args, ctx)


class DeleteCommand(Command):
    """Remove a study from the store (its output folders are left alone)."""

    name = "delete"
    help = "remove a study from the store, after confirmation"
    parents = ("study", "store")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Confirmation and the QPU guard."""
        parser.add_argument("--yes", action="store_true", help="delete without asking")
        parser.add_argument(
            "--force",
            action="store_true",
            help="delete even with QPU jobs that may still run (they are not cancelled)",
        )

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        """Describe, confirm, delete."""
        with existing_store(args.store) as store:
            study = store.get_study(args.study)
            live = [
                s.remote_job_id or s.tag
                for s in store.get_submissions(study.id)
                if s.state.may_be_running()
            ]
            if live and not args.force:
                raise UsageError(
                    f"delete: study {study.id} has QPU jobs that may still run "
                    f"({', '.join(live)}); resume it to collect them, or pass --force to "
                    "forget them"
                )
            what = (
                f"study {study.id} ({study.name}, {len(store.get_jobs(study.id))} jobs); "
                "its output folders stay"
            )
            if not args.yes:
                if not sys.stdin.isatty():
                    raise UsageError(f"delete: {what}; pass --yes to delete without asking")
                if input(f"delete {what}? [y/N] ").strip().lower() not in ("y", "yes"):
                    print("nothing deleted")
                    return 0
            store.delete_study(study.id)
        print(f"deleted {what}")
        return 0


class CompareCommand(Command):
    """Redraw the comparison plot of studies in the store (e.g. one ``backend.compare`` run)."""

    name = "compare"
    help = "plot finished studies' variance curves together (comparison.png)"
    parents = ("store",)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The studies, and where the plot goes."""
        parser.add_argument("studies", nargs="+", help="study ids, id prefixes or names")
        parser.add_argument(
            "--out", help="folder for comparison.png (default: the first study's folder)"
        )

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        """Collect each study and draw their curves on one plot."""
        with existing_store(args.store) as store:
            ids = [store.get_study(ref).id for ref in args.studies]
            return write_comparison(store, ids, default_out(store, ids[0], args.out))


class ReportCommand(Command):
    """Write a finished study's outputs from the store, running nothing."""

    name = "report"
    help = "write results from the store without running"
    parents = ("study", "store", "out")

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        """Collect and write."""
        with existing_store(args.store) as store:
            study_id = store.get_study(args.study).id
            spec = study_spec(store, study_id)
            rows = remote_rows(store, study_id, spec, ctx.service)
            outcome = collect(store, study_id, submissions=rows or None, predict=args.predict)
            return print_outcome(outcome, default_out(store, study_id, args.out))


class ExportCommand(Command):
    """A finished study as CSV rows or as JSON."""

    name = "export"
    help = "export a finished study as CSV or JSON"
    parents = ("study", "store")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Format and destination."""
        parser.add_argument("--format", choices=["csv", "json"], required=True)
        parser.add_argument("--out", help="file to write (default: standard output)")

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        """Collect, then write the export."""
        if args.out:
            folder = Path(args.out).resolve().parent
            if not folder.is_dir():
                raise UsageError(f"--out: folder {folder} does not exist")
            if Path(args.out).is_dir():
                raise UsageError(f"--out: {args.out} is a folder; give a file name")
        with existing_store(args.store) as store:
            outcome = collect(store, store.get_study(args.study).id)
        write = export_json if args.format == "json" else export_csv
        if not args.out:
            write(outcome, sys.stdout)
            return 0
        with open(args.out, "w", encoding="utf-8", newline="") as stream:
            write(outcome, stream)
        return 0


def study_summary(store: BaseStore, study: StudyRecord) -> dict[str, Any]:
    """One study as plain data: kind, backend, state and jobs by state."""
    jobs = store.get_jobs(study.id)
    by_state: dict[str, int] = {}
    for j in jobs:
        by_state[j.state.value] = by_state.get(j.state.value, 0) + 1
    spec = StudySpec.from_dict(study.spec)
    shots: int | list[int] = spec.sampling.shots
    samples: int | None = spec.sampling.samples
    if spec.budget is not None:
        # A budget study spends its own splits; [sampling] shots and samples do not apply.
        shots, samples = list(spec.budget.shots), None
    elif spec.adaptive is not None:
        samples = None  # chosen by the run; status shows what each cell reached
    return {
        "id": study.id,
        "name": study.name,
        "kind": study_kind(store, study.id).name,
        "backend": spec.backend.name,
        "shots": shots,
        "samples": samples,
        "state": study_state(store, study.id),
        "created_at": study.created_at,
        "version": study.version,
        "seed": study.seed,
        "jobs": by_state,
        "jobs_total": len(jobs),
    }


class ListCommand(Command):
    """The studies in the store."""

    name = "list"
    help = "list the studies in the store"
    parents = ("store", "json")

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        """One line (or JSON object) per study."""
        with existing_store(args.store) as store:
            rows = [study_summary(store, s) for s in store.list_studies()]
        print(json.dumps(rows, indent=2) if args.json else format_studies(rows))
        return 0


def remote_rows(store: BaseStore, study_id: str, spec: StudySpec, service: Any) -> list[Any]:
    """A QPU study's submissions, with queue states and usage refreshed from the service."""
    if not store.get_submissions(study_id):
        return []
    if spec.backend.kind == "ibm":
        service = account_service(service)
    else:
        service = None  # local testing mode: nothing outlives the run
    return refresh_remote(store, study_id, service)


class StatusCommand(Command):
    """Studies, their jobs by state, shots used and the current variance per cell."""

    name = "status"
    help = "studies, jobs by state, current estimates"
    parents = ("store", "json")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """An optional study."""
        parser.add_argument("study", nargs="?", help="study id, id prefix or name (default: all)")

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        """Summaries with per-cell progress, failures and remote queue states."""
        with existing_store(args.store) as store:
            studies = [store.get_study(args.study)] if args.study else store.list_studies()
            report = []
            for study in studies:
                summary = study_summary(store, study)
                cells = study_progress(store, study.id)
                jobs = store.get_jobs(study.id)
                summary["shots_used"] = sum(c.shots_used for c in cells)
                spec = study_spec(store, study.id)
                remote = remote_rows(store, study.id, spec, ctx.service)
                usage = [r["usage_seconds"] for r in remote]
                summary["qpu_seconds_used"] = sum(u for u in usage if u is not None)
                summary["usage_not_yet_reported"] = sum(
                    u is None and r["remote_job_id"] is not None
                    for u, r in zip(usage, remote, strict=True)
                )
                summary["cells"] = [dataclasses.asdict(c) for c in cells]
                summary["failed_jobs"] = [
                    {"key": j.key, "attempts": j.attempts, "state": j.state.value, "error": j.error}
                    for j in jobs
                    if j.state in (JobState.FAILED, JobState.CANCELLED)
                ]
                summary["remote_jobs"] = remote
                report.append(summary)
        if args.json:
            print(json.dumps(report if not args.study else report[0], indent=2))
        else:
            print("\n".join(format_status(r) for r in report))
        return 0
