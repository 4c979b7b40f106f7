"""A user's circuit factory (``circuit.factory = "module:function"``): imported and called.

Import and call failures are the spec's problem, so each is one SpecError naming
``circuit.factory`` (or ``circuit.layers``, for a factory that takes no layer count).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from ..errors import SpecError

__all__ = ["call_factory", "load_factory"]

_LAYER_KEYWORDS = ("num_layers", "layers", "reps")


def load_factory(reference: str) -> Callable[..., Any]:
    """Import ``module:function``; a one-line SpecError names what failed."""
    module_name, _, attr = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import-time failure of user code is the spec's problem
        raise SpecError(
            f"circuit.factory: cannot import module {module_name!r} ({type(exc).__name__}: "
            f"{exc}); it must be importable, e.g. on PYTHONPATH"
        ) from None
    func: Any = module
    for part in attr.split("."):
        func = getattr(func, part, None)
        if func is None:
            raise SpecError(f"circuit.factory: module {module_name!r} has no {attr!r}")
    if not callable(func):
        raise SpecError(f"circuit.factory: {reference} is not callable")
    return func


def call_factory(reference: str, num_qubits: int, num_layers: int) -> tuple[Any, Any]:
    """What the factory builds for one cell, as ``(circuit, observable or None)``."""
    func = load_factory(reference)
    try:
        names = set(inspect.signature(func).parameters)
    except (TypeError, ValueError):  # some builtins have no signature
        names = set()
    layer_kw = next((k for k in _LAYER_KEYWORDS if k in names), None)
    kwargs = {layer_kw: num_layers} if layer_kw else {}
    if layer_kw is None and num_layers != 1:
        raise SpecError(
            f"circuit.layers: got {num_layers}; allowed: 1, because {reference} takes none of "
            f"{', '.join(_LAYER_KEYWORDS)}"
        )
    built = func(num_qubits, **kwargs)
    return built if isinstance(built, tuple) else (built, None)
