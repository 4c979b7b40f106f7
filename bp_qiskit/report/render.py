"""A figure helper: a child process that loads matplotlib while the study runs, then draws.

Why: importing matplotlib takes about 0.3 s, close to half of ``bp-qiskit run`` on the seed
study without its figure (benchmarks/bench_figure.py). Python cannot import two modules in
parallel in one process, but a second process can: the console script (``bp_qiskit.launch``)
starts this helper first thing, the helper imports the plots (matplotlib, numpy, no Qiskit)
on the second core while the study imports Qiskit and runs, and ``write_outputs`` then hands
it ``results.json`` to draw from. The figure is the same either way: the helper draws with
the same functions from the same numbers (JSON round-trips floats exactly), and
``tests/test_outputs.py`` compares the bytes.

Anything that goes wrong in the helper (it died, it could not draw) is not an error: the
figures are then drawn in this process, as they are without the helper (library calls,
notebooks, tests calling ``cli.main``).

Protocol: one JSON line per figure on the helper's stdin, ``{"figure": "variance" |
"parameters", "results": <results.json>, "out": <png>}``; end of input ends the helper, whose
exit status says whether every figure was drawn.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import IO

__all__ = ["FIGURES", "FigureHelper", "draw_in_process", "prestart", "serve", "take"]

FIGURES = ("variance", "parameters")
_pending: FigureHelper | None = None


class FigureHelper:
    """The child process and the figures sent to it."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            # Not ``-m``: the package imports this module first, and runpy warns about that.
            [
                sys.executable,
                "-c",
                "import sys; from bp_qiskit.report import render; sys.exit(render.serve())",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.sent: list[tuple[str, Path, Path]] = []

    def draw(self, figure: str, results: Path, out: Path) -> None:
        """Ask for one figure (returns at once; :meth:`finish` waits for it)."""
        line = json.dumps({"figure": figure, "results": str(results), "out": str(out)})
        stdin: IO[str] | None = self._proc.stdin
        try:
            assert stdin is not None
            stdin.write(line + "\n")
            stdin.flush()
        except (OSError, ValueError):  # the helper is gone: finish() reports it
            pass
        self.sent.append((figure, results, out))

    def finish(self) -> bool:
        """Wait for the helper; whether it drew every figure it was sent."""
        _, err = self._proc.communicate()
        return self._proc.returncode == 0 and not err.strip()

    def close(self) -> None:
        """End a helper that will not be used (its input closes: it exits)."""
        if self._proc.poll() is None:
            self._proc.communicate()


def prestart() -> None:
    """Start the helper now, for the next :func:`take` (the console script calls this)."""
    global _pending
    try:
        _pending = FigureHelper()
    except OSError:  # no helper: the figures are drawn in process
        _pending = None


def take() -> FigureHelper | None:
    """The helper started by :func:`prestart`, once; None if there is none."""
    global _pending
    helper, _pending = _pending, None
    return helper


def draw_in_process(figure: str, results: Path, out: Path) -> None:
    """What the helper does for one figure."""
    from ..results import StudyResult
    from .plots import plot_parameters, plot_variance

    result = StudyResult.from_json(results.read_text("utf-8"))
    (plot_variance if figure == "variance" else plot_parameters)(result, out)


def serve() -> int:
    """The helper's loop: load the plots, then draw each figure asked for on stdin."""
    from .plots import plot_variance  # noqa: F401  (the point of the helper: matplotlib now)

    for line in sys.stdin:
        request = json.loads(line)
        if request["figure"] not in FIGURES:
            raise ValueError(f"figure: got {request['figure']!r}; allowed: {FIGURES}")
        draw_in_process(request["figure"], Path(request["results"]), Path(request["out"]))
    return 0
