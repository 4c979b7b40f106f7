"""Who runs a study: ``host:pid`` marks, and whether the marked process is still alive."""

from __future__ import annotations

import os
import socket

__all__ = ["current_owner", "owner_alive"]


def current_owner() -> str:
    """This process as ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str) -> bool:
    """Whether ``owner`` may still be running. Owners on other hosts cannot be checked: alive."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except ValueError:
        return False
    # A zombie (killed, not yet reaped by its parent) counts as gone.
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="ascii") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
