"""The ``bp-qiskit`` command line: one :class:`~bp_qiskit.cli.base.Command` per sub-command.

Layer 7, the top: it may import anything below, and nothing imports it. Expected failures
(bad spec, bad option, unknown study) become a one-line ``error: ...`` on stderr with exit
code 2; a study whose jobs still fail after their retries exits with 1; Ctrl-C with 130.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from .._version import __version__
from ..errors import BPQiskitError, StudyFailedError, redact
from .base import Command, CommandContext, parents
from .planning import BudgetCommand, DevicesCommand
from .predict import PredictCommand
from .run import RunCommand
from .schema import SchemaCommand
from .studies import (
    CompareCommand,
    DeleteCommand,
    ExportCommand,
    ListCommand,
    ReportCommand,
    ResumeCommand,
    StatusCommand,
)

__all__ = ["COMMANDS", "build_parser", "exit_after_interrupt", "main"]

COMMANDS: tuple[Command, ...] = (
    RunCommand(),
    StatusCommand(),
    ResumeCommand(),
    ReportCommand(),
    CompareCommand(),
    ExportCommand(),
    ListCommand(),
    DeleteCommand(),
    DevicesCommand(),
    BudgetCommand(),
    PredictCommand(),
    SchemaCommand(),
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for all sub-commands."""
    p = argparse.ArgumentParser(
        prog="bp-qiskit", description="Measure barren plateaus with Qiskit Estimator V2."
    )
    p.add_argument("--version", action="version", version=f"bp-qiskit {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    shared = parents()
    for cmd in COMMANDS:
        sp = sub.add_parser(cmd.name, help=cmd.help, parents=[shared[name] for name in cmd.parents])
        cmd.add_arguments(sp)
        sp.set_defaults(command_obj=cmd)
    return p


def main(argv: Sequence[str] | None = None, *, service: Any = None) -> int:
    """Entry point of the ``bp-qiskit`` console script.

    Args:
        argv: The arguments (default ``sys.argv[1:]``).
        service: A runtime service for ``fake:``/``ibm:`` backends instead of the real one;
            tests pass the stand-in of :mod:`bp_qiskit.testing.standin`.
    """
    args = build_parser().parse_args(argv)
    previous = _on_sigterm()
    try:
        return int(args.command_obj.run(args, CommandContext(service=service)))
    except Terminated:
        print(args.command_obj.on_terminate, file=sys.stderr)
        return 143
    except StudyFailedError as exc:
        # Messages can quote a service's reason: credentials are masked before printing.
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return 1
    except (BPQiskitError, ValueError) as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into e.g. `head`: stop quietly, and keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


# After Ctrl-C or SIGTERM the interpreter still joins its threads at exit, and a simulator
# thread inside a job (Aer runs each job on a worker thread) can keep it alive long after the
# message said the run stopped: once seen for over 120 s under load. The finished jobs are
# in the store by then, so a process that has not exited this long after is ended.
EXIT_GRACE_S = 10.0


def exit_after_interrupt(code: int) -> int:
    """For the console script: make sure an interrupted process ends (``EXIT_GRACE_S``)."""
    if code in (130, 143):
        timer = threading.Timer(EXIT_GRACE_S, os._exit, args=(code,))
        timer.daemon = True
        timer.start()
    return code


class Terminated(KeyboardInterrupt):
    """SIGTERM, delivered as a KeyboardInterrupt so the run loop stops as on Ctrl-C."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated


def _on_sigterm() -> Any:
    """Make SIGTERM behave like Ctrl-C (main thread only; returns the previous handler)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)
