"""A job's peak memory, measured in the process that runs it.

On Linux the kernel's high-water mark of the resident set (``VmHWM``) is reset before the
job (writing ``5`` to ``/proc/self/clear_refs``) and read after it, so each job reports its
own peak, Aer's threads included. Where the reset is not possible the figure is the
process's peak so far (``getrusage``), an upper bound for the job. Measurements are
recorded in the store with the job and written per cell to ``resources.json``. They differ
between runs, so they stay out of ``results.json`` and the study's summary
(:class:`~bp_qiskit.results.StudyResult`), which a killed and resumed study reproduces bit
for bit.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["PeakMemory", "peak_memory"]

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


class PeakMemory:
    """The peak resident memory of a block, in bytes (0 until the block has run)."""

    def __init__(self) -> None:
        self.bytes = 0


def _reset() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def _high_water_mark() -> int:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # reported in kB
    except (OSError, ValueError):
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, else KiB


@contextlib.contextmanager
def peak_memory() -> Iterator[PeakMemory]:
    """Measure the peak resident memory of the ``with`` block."""
    out = PeakMemory()
    _reset()
    try:
        yield out
    finally:
        out.bytes = _high_water_mark()
