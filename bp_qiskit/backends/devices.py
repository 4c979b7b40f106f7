"""The fake devices of qiskit-ibm-runtime by short name: ``FakeManilaV2`` -> ``manila``."""

from __future__ import annotations

import functools
from typing import Any

from .protocol import BackendNameError

__all__ = ["available_devices", "fake_backend"]


# Cached: the set of classes in an installed package cannot change while the process runs.
@functools.cache
def available_devices() -> dict[str, str]:
    """Device name -> fake backend class name, e.g. ``{"manila": "FakeManilaV2"}``."""
    from qiskit.providers import BackendV2
    from qiskit_ibm_runtime import fake_provider

    out = {}
    for cls in dir(fake_provider):
        obj = getattr(fake_provider, cls)
        if cls.startswith("Fake") and isinstance(obj, type) and issubclass(obj, BackendV2):
            out[cls[4:].removesuffix("V2").lower()] = cls
    return dict(sorted(out.items()))


def fake_backend(device: str) -> Any:
    """Instantiate the fake backend for a device name."""
    from qiskit_ibm_runtime import fake_provider

    devices = available_devices()
    if device not in devices:
        raise BackendNameError(
            f"backend.name: unknown device {device!r}; available devices: {', '.join(devices)}"
        )
    return getattr(fake_provider, devices[device])()
