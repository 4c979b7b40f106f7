"""The backend-name grammar and the table that maps each form to its factory.

A name is either a bare kind (``aer``, ``statevector``, ``aer_estimator``) or
``<kind>:<device>`` (``aer:manila``, ``fake:brisbane``, ``ibm:ibm_brisbane``). Each form is
one :class:`BackendEntry` in :data:`REGISTRY`, which also states the backend's
:class:`~bp_qiskit.backends.protocol.Capabilities` and the ``[backend.options]`` it takes, so
a spec is validated against what the backend can do without building it, and an option the
backend would ignore is refused. Adding a backend is one module with a factory and one line
here.

Factories are named as ``"module:function"`` and imported on first use: loading a spec or
printing ``--help`` must not import Aer or the IBM runtime client.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from .devices import available_devices
from .local import AER_DEVICE, AER_NOISELESS, EXACT_ONLY, STATEVECTOR
from .options import AER_ONLY_OPTIONS, DEVICE_OPTIONS, RUNTIME_ONLY_OPTIONS
from .protocol import Backend, BackendNameError, Capabilities

__all__ = [
    "BACKEND_FORMS",
    "REGISTRY",
    "BackendEntry",
    "backends_taking",
    "capabilities_of",
    "entry_of",
    "make_backend",
    "parse_backend_name",
]

_RUNTIME_LOCAL = Capabilities(exact=False, shots=True, remote=False)
_RUNTIME_REMOTE = Capabilities(exact=False, shots=True, remote=True)


@dataclasses.dataclass(frozen=True)
class BackendEntry:
    """One form of backend name.

    Attributes:
        form: The name as users write it: ``aer`` or ``aer:<device>``.
        factory: ``"module:function"`` (relative to this package) building the backend from
            ``(name, device, options, tags, service)``.
        capabilities: What the backend can do.
        device: ``""`` (no device), ``"fake"`` (a fake device name) or ``"any"`` (any QPU name).
        summary: One line for ``--help`` and the docs.
        options: The ``[backend.options]`` keys this backend acts on; any other is refused
            (:mod:`bp_qiskit.backends.options` checks their values).
    """

    form: str
    factory: str
    capabilities: Capabilities
    device: str
    summary: str
    options: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        """The part before ``:``."""
        return self.form.partition(":")[0]


_RUNTIME_OPTIONS = RUNTIME_ONLY_OPTIONS + DEVICE_OPTIONS

REGISTRY: tuple[BackendEntry, ...] = (
    # aer: adjoint only while its options keep it a noiseless CPU statevector (aer_backend).
    BackendEntry("aer", "local:aer_backend", AER_NOISELESS, "", "batched Aer: exact or real shots",
                 AER_ONLY_OPTIONS),
    BackendEntry("statevector", "local:statevector_backend", STATEVECTOR, "", "qiskit reference"),
    BackendEntry("aer_estimator", "local:aer_estimator_backend", EXACT_ONLY, "", "qiskit-aer"),
    BackendEntry("aer:<device>", "local:aer_device_backend", AER_DEVICE, "fake", "device noise",
                 DEVICE_OPTIONS),
    BackendEntry("fake:<device>", "runtime:fake_runtime_backend", _RUNTIME_LOCAL, "fake", "local",
                 _RUNTIME_OPTIONS),
    BackendEntry("ibm:<backend>", "runtime:ibm_runtime_backend", _RUNTIME_REMOTE, "any", "a QPU",
                 _RUNTIME_OPTIONS),
)  # fmt: skip

BACKEND_FORMS = tuple(e.form for e in REGISTRY)


def _lookup(name: str) -> tuple[BackendEntry, str]:
    kind, sep, device = name.partition(":")
    for entry in REGISTRY:
        if entry.kind != kind or bool(entry.device) != bool(sep):
            continue
        if sep and not device:
            break
        if entry.device == "fake" and device not in available_devices():
            raise BackendNameError(
                f"backend.name: unknown device {device!r} in {name!r}; available devices: "
                f"{', '.join(available_devices())}"
            )
        return entry, device
    raise BackendNameError(
        f"backend.name: got {name!r}; allowed: {', '.join(BACKEND_FORMS)} "
        "(devices: e.g. manila, brisbane; see `bp-qiskit devices`)"
    )


def entry_of(name: str) -> BackendEntry:
    """The registry entry a backend name belongs to."""
    return _lookup(name)[0]


def parse_backend_name(name: str) -> tuple[str, str]:
    """Split a backend name into (kind, device); raise with the valid forms if unknown."""
    entry, device = _lookup(name)
    return entry.kind, device


def backends_taking(option: str) -> list[str]:
    """The backend forms whose entry lists ``option`` (for the error that refuses it)."""
    return [e.form for e in REGISTRY if option in e.options]


def capabilities_of(name: str) -> Capabilities:
    """What the named backend can do, without building it."""
    return _lookup(name)[0].capabilities


def make_backend(
    name: str,
    *,
    options: Mapping[str, Any] | None = None,
    tags: Sequence[str] = (),
    service: Any = None,
) -> Backend:
    """Build the backend a spec's ``[backend] name`` refers to.

    Args:
        name: A name in one of :data:`BACKEND_FORMS`.
        options: ``[backend.options]`` (validated by the spec).
        tags: Job tags the runtime backends add to every job (the study id).
        service: A runtime service to submit to instead of the default one (local testing
            mode for ``fake:``, the saved account for ``ibm:``); tests pass a stand-in.
    """
    entry, device = _lookup(name)
    module, _, function = entry.factory.partition(":")
    factory = getattr(importlib.import_module(f"{__package__}.{module}"), function)
    backend: Backend = factory(name, device, dict(options or {}), tuple(tags), service)
    return backend
