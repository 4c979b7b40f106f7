"""What every command shares: the command class, parent parsers for shared flags, the store.

Each command is one :class:`Command` subclass in its own module (optuna's CLI shape):
``add_arguments`` declares its flags, ``run`` does the work and returns the exit code.
Expected failures raise :class:`~bp_qiskit.errors.BPQiskitError` (or ``ValueError``) and
become one ``error: ...`` line with exit code 2, never a traceback.
"""

from __future__ import annotations

import abc
import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from ..errors import UsageError
from ..execution import collect, run_stored
from ..execution.cost import DEFAULT_COST_LIMIT_S, CostEstimate
from ..execution.studies import run_stored_group, study_spec
from ..report import format_table, write_outputs
from ..report.parts import writer_for
from ..results import StudyOutcome, StudyResult
from ..store import BaseStore, open_store

__all__ = [
    "Command",
    "CommandContext",
    "ask_to_submit",
    "check_out",
    "cost_args",
    "default_store",
    "existing_store",
    "finish_study",
    "parents",
    "positive_int",
    "print_outcome",
    "study_folder",
]

STORE_ENV = "BP_QISKIT_STORE"


def default_store() -> str:
    """The store path when ``--store`` is not given: ``$BP_QISKIT_STORE`` or the local file.

    Read when a command runs, not at import, so a changed environment is honoured.
    """
    return os.environ.get(STORE_ENV, "bp_qiskit.sqlite")


@dataclasses.dataclass(frozen=True)
class CommandContext:
    """What a command may be given besides its flags (tests pass a stand-in service).

    Attributes:
        service: The runtime service for ``fake:``/``ibm:`` backends; None: the real one.
    """

    service: Any = None


class Command(abc.ABC):
    """One sub-command."""

    name: ClassVar[str]
    help: ClassVar[str]
    parents: ClassVar[tuple[str, ...]] = ()
    # What is left after a SIGTERM: only the commands that run studies keep finished jobs.
    on_terminate: ClassVar[str] = "terminated (SIGTERM)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:  # noqa: B027
        """Declare the command's own flags (shared ones come from ``parents``)."""

    @abc.abstractmethod
    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        """Do the work; return the exit code."""


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"got {value}; allowed: an integer >= 1")
    return value


def _parent(*add: tuple[tuple[str, ...], dict[str, Any]]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    for flags, kw in add:
        p.add_argument(*flags, **kw)
    return p


def parents() -> dict[str, argparse.ArgumentParser]:
    """Shared flags by name, declared once."""
    return {
        "store": _parent(
            (("--store",), {"help": f"job store (default ${STORE_ENV} or bp_qiskit.sqlite)"})
        ),
        "study": _parent((("study",), {"help": "study id, id prefix or name"})),
        "out": _parent(
            (("--out",), {"help": "output folder (default results/<study name>/)"}),
            (
                ("--no-plot",),
                {
                    "action": "store_true",
                    "help": "write no figures (matplotlib is then never imported)",
                },
            ),
            (
                ("--predict",),
                {
                    "action": argparse.BooleanOptionalAction,
                    "default": True,
                    "help": "put beside every cell what theory predicts for it (results.json, "
                    "table, plot; on by default: predicting a shipped spec costs less than "
                    "running it, benchmarks/bench_predict_vs_run.py); --no-predict skips it",
                },
            ),
        ),
        "progress": _parent(
            (("--no-progress",), {"action": "store_true", "help": "hide the progress bar"})
        ),
        "workers": _parent(
            (
                ("--workers",),
                {
                    "type": positive_int,
                    "default": None,
                    "help": "worker processes for local simulation (default the spec's "
                    "backend.workers, else 1; with --executor dask, the LocalCluster's "
                    "workers, default the core count); each gets cores / workers Aer threads",
                },
            ),
            (
                ("--executor",),
                {
                    "default": None,
                    "help": "where jobs run (default the spec's backend.executor, else local): "
                    "local (this machine's processes), dask (a Dask LocalCluster), "
                    "dask://HOST:PORT or tcp://HOST:PORT (a running Dask scheduler); dask "
                    "needs the extra bp_qiskit[dask]",
                },
            ),
        ),
        "json": _parent((("--json",), {"action": "store_true", "help": "print JSON"})),
        "cost": _parent(
            (("--yes",), {"action": "store_true", "help": "submit to a QPU without asking"}),
            (
                ("--max-qpu-seconds", "--confirm-above"),
                {
                    "type": float,
                    "default": DEFAULT_COST_LIMIT_S,
                    "dest": "max_qpu_seconds",
                    "help": "ask (or require --yes) before QPU runs estimated above this many "
                    f"seconds (default {DEFAULT_COST_LIMIT_S:.0f})",
                },
            ),
        ),
    }


def existing_store(path: str | None) -> BaseStore:
    """Open a store that must exist: reading commands never create an empty one."""
    path = path or default_store()
    if path != ":memory:" and not Path(path).exists():
        raise UsageError(f"--store: no store at {path} (run a study first, or pass --store PATH)")
    return open_store(path)


def study_folder(name: str, study_id: str) -> Path:
    """The default output folder of a study: ``results/<name>-<id>/``, never shared."""
    return Path("results") / f"{name}-{study_id}"


def default_out(store: BaseStore, study_id: str, out: str | None) -> Path:
    """``--out``, or the study's own folder ``results/<name>-<id>/``."""
    return Path(out) if out else study_folder(store.get_study(study_id).name, study_id)


def check_out(out: Path) -> None:
    """Fail before any compute if the output folder cannot be written (one line, exit 2).

    Nothing is created: the probe goes into the folder, or into its nearest existing parent,
    so a run that stops before writing leaves no empty folder behind.
    """
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {out} is a file, not a folder")
    probe_dir = out
    while not probe_dir.exists():
        probe_dir = probe_dir.parent
    if not probe_dir.is_dir():
        raise UsageError(f"--out: cannot create {out}: {probe_dir} is a file, not a folder")
    try:
        probe = probe_dir / f".bp_qiskit_write_test_{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"--out: cannot write to {probe_dir} ({exc.strerror or exc})") from None


def link_latest(out: Path, name: str) -> None:
    """Point ``results/<name>-latest`` at a default output folder (where links work)."""
    if out.parent != Path("results") or not out.name.startswith(f"{name}-"):
        return
    link = out.parent / f"{name}-latest"
    try:
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(out.name, target_is_directory=True)
    except OSError:  # no symlinks here (some file systems): the id folder is what counts
        pass


def print_outcome(outcome: StudyOutcome, out: Path, *, plots: bool = True) -> int:
    """Write the outcome's files, print its tables and where they went."""
    paths = write_outputs(out, outcome, plots=plots)
    link_latest(out, str(outcome.spec["study"]["name"]))
    if outcome.result is not None:
        print(format_table(outcome.result, outcome.adaptive))
    for part in outcome.parts:
        table = writer_for(part).table(part)
        if table is not None:
            print(table)
    print("wrote " + ", ".join(str(p) for p in paths))
    print(f"study {outcome.study_id}")
    return 0


def write_comparison(store: BaseStore, study_ids: Sequence[str], out: Path) -> int:
    """Draw ``comparison.png`` in ``out`` from finished studies in the store (one curve each)."""
    results = []
    for study_id in study_ids:
        outcome = collect(store, study_id)  # a StoreError names the study and how to finish it
        if outcome.result is None:
            raise UsageError(
                f"compare: study {study_id} is a {outcome.kind} study; only variance curves "
                "can be compared"
            )
        results.append(outcome.result)
    check_out(out)
    out.mkdir(parents=True, exist_ok=True)
    from ..report.plots import plot_comparison  # matplotlib only when a figure is drawn

    plot_comparison(list(zip(_labels(results), results, strict=True)), out / "comparison.png")
    print(f"wrote {out / 'comparison.png'}")
    return 0


def _labels(results: Sequence[StudyResult]) -> list[str]:
    """Curve labels: what differs between the studies (backend, ansatz, cost)."""
    parts = [
        [str(r.spec["backend"]["name"]) for r in results],
        [str(r.spec["circuit"].get("ansatz", "")) for r in results],
        [f"{r.spec['observable'].get('kind', '')} cost" for r in results],
    ]
    differing = [p for p in parts if len(set(p)) > 1] or parts[:1]
    return [", ".join(items) for items in zip(*differing, strict=True)]


def ask_to_submit(estimate: CostEstimate, why: str) -> bool:
    """The interactive cost prompt (only offered when standard input is a terminal)."""
    answer = input(f"{estimate.summary()}, {why}. Submit? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def cost_args(args: argparse.Namespace) -> dict[str, Any]:
    """The cost-gate keywords of ``run_stored`` from the command line."""
    return {
        "approve_cost": bool(getattr(args, "yes", False)),
        "cost_limit_s": float(getattr(args, "max_qpu_seconds", DEFAULT_COST_LIMIT_S)),
        "confirm": ask_to_submit if sys.stdin.isatty() else None,
        "resubmit": bool(getattr(args, "resubmit", False)),
        "max_execution_time": getattr(args, "max_execution_time", None),
    }


def check_executor(args: argparse.Namespace) -> None:
    """Refuse a bad ``--executor`` in one line, before anything is created."""
    executor = getattr(args, "executor", None)
    if executor not in (None, "local"):
        from ..execution.executors import check_reachable

        check_reachable(executor)  # the form, and for an address a listening scheduler


def finish_study(
    store: BaseStore,
    study_id: str,
    out: Path,
    args: argparse.Namespace,
    ctx: CommandContext,
) -> int:
    """Run what is left of a study of any kind, then write and print its outputs.

    ``--executor`` and ``--workers`` override the spec's ``backend.executor`` and
    ``backend.workers``.
    """
    check_out(out)
    spec = study_spec(store, study_id)
    workers = getattr(args, "workers", None) or spec.backend.workers
    executor = getattr(args, "executor", None) or spec.backend.executor
    force = bool(getattr(args, "force", False))
    try:
        from ..execution.executors import open_executor, pooled

        if pooled(executor, workers):
            with open_executor(executor, workers) as pool:
                run_stored(
                    store, study_id, executor=pool, progress=not args.no_progress, force=force
                )
        else:
            run_stored(
                store,
                study_id,
                service=ctx.service,
                progress=not args.no_progress,
                force=force,
                **cost_args(args),
            )
    except KeyboardInterrupt as exc:
        print(
            f"interrupted; finished jobs are kept; continue with: bp-qiskit resume {study_id}",
            file=sys.stderr,
        )
        if type(exc).__name__ == "Terminated":
            return 143
        return 130
    outcome = collect(store, study_id, predict=args.predict)
    return print_outcome(outcome, out, plots=not getattr(args, "no_plot", False))


def finish_group(
    store: BaseStore,
    study_ids: Sequence[str],
    outs: Sequence[Path],
    args: argparse.Namespace,
    ctx: CommandContext,
) -> int:
    """Run studies that share their PUBs together (one QPU job for all costs), then write each.

    See :func:`~bp_qiskit.execution.studies.run_stored_group`; on a simulator it runs them
    one after the other.
    """
    for out in outs:
        check_out(out)
    try:
        run_stored_group(
            store,
            study_ids,
            service=ctx.service,
            progress=not args.no_progress,
            force=bool(getattr(args, "force", False)),
            **cost_args(args),
        )
    except KeyboardInterrupt as exc:
        ids = " and ".join(study_ids)
        print(
            f"interrupted; finished jobs are kept; continue with: bp-qiskit resume for {ids}",
            file=sys.stderr,
        )
        return 143 if type(exc).__name__ == "Terminated" else 130
    for study_id, out in zip(study_ids, outs, strict=True):
        outcome = collect(store, study_id, predict=args.predict)
        print_outcome(outcome, out, plots=not getattr(args, "no_plot", False))
    return 0
