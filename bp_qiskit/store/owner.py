"""Who runs a study: ``host:pid:start`` marks, and whether the marked process is still alive.

The mark carries the process's start time (clock ticks since boot, from ``/proc``) as well as
its pid, because pids are reused: a lock left by a killed run must not be honoured for ever
just because a new, unrelated process later received the same pid. Marks without a start
time (``host:pid``, written by older versions) are checked by pid alone.
"""

from __future__ import annotations

import os
import socket
from typing import Literal

__all__ = ["current_owner", "owner_alive", "owner_state"]

OwnerState = Literal["alive", "gone", "unknown"]


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot, or None where /proc is absent."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            # Fields after the command name, which is in parentheses and may contain spaces:
            # state is field 3 (index 0 here), starttime is field 22 (index 19 here).
            return fh.read().rsplit(")", 1)[-1].split()[19]
    except (OSError, IndexError):
        return None


def current_owner() -> str:
    """This process as ``host:pid:start`` (``host:pid`` where the start time is unknown)."""
    pid = os.getpid()
    start = _start_ticks(pid)
    return f"{socket.gethostname()}:{pid}" + (f":{start}" if start else "")


def owner_state(owner: str) -> OwnerState:
    """``alive`` or ``gone`` when this host can tell; ``unknown`` for an owner on another host."""
    parts = owner.split(":")
    start: str | None = None
    if len(parts) >= 3 and parts[-1].isdigit() and parts[-2].isdigit():
        host, pid_text, start = ":".join(parts[:-2]), parts[-2], parts[-1]
    else:
        host, _, pid_text = owner.rpartition(":")
    if host != socket.gethostname():
        return "unknown"
    try:
        pid = int(pid_text)
        os.kill(pid, 0)
    except (ProcessLookupError, ValueError):
        return "gone"
    except PermissionError:
        pass  # another user's process: it exists
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[-1].split()
    except OSError:
        return "alive"
    if fields[0] == "Z":  # a zombie (killed, not yet reaped by its parent) counts as gone
        return "gone"
    if start is not None and len(fields) > 19 and fields[19] != start:
        return "gone"  # the pid was reused by a process that started later
    return "alive"


def owner_alive(owner: str) -> bool:
    """Whether ``owner`` may still be running. Owners on other hosts cannot be checked: alive."""
    return owner_state(owner) != "gone"
