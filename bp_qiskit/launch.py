"""The ``bp-qiskit`` console script: start the figure helper, then run the command line.

The helper (:mod:`bp_qiskit.report.render`) must start before ``bp_qiskit.cli`` is imported:
that import loads Qiskit, and the helper loads matplotlib on the other core in the meantime.
Only the commands that draw (``run``, ``resume``, ``report`` without ``--no-plot``) start it.
"""

from __future__ import annotations

import sys

__all__ = ["main"]

_DRAWING = frozenset({"run", "resume", "report"})


def _draws(argv: list[str]) -> bool:
    words = [a for a in argv if not a.startswith("-")]
    skip = {"--no-plot", "--dry-run", "-h", "--help"}
    return bool(words) and words[0] in _DRAWING and not skip & set(argv)


def main() -> int:
    """Entry point of the console script."""
    argv = sys.argv[1:]
    if _draws(argv):
        from .report import render

        render.prestart()
    from .cli import exit_after_interrupt
    from .cli import main as cli_main

    return exit_after_interrupt(cli_main(argv))
