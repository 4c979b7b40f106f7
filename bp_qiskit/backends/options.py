"""``[backend.options]`` for the runtime backends: validation, and the runtime options model."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .protocol import BackendNameError

__all__ = [
    "AER_METHODS",
    "AER_ONLY_OPTIONS",
    "DEFAULT_OPTIMIZATION_LEVEL",
    "DEVICE_OPTIONS",
    "OPTION_DOC",
    "OPTION_PROBES",
    "RUNTIME_ONLY_OPTIONS",
    "SERVICE_OPTIONS",
    "UNPROBED_OPTIONS",
    "estimator_options",
    "validate_options",
]

# Level 0 by default: at level >= 1 the preset pass managers merge runs of single-qubit gates
# whose angles are parameter expressions symbolically, and that blows up with depth. Measured
# on FakeLagosV2: 4 qubits x 8 layers took 0.6 s at level 0 and did not finish in 400 s at
# level 1 (3 x 6: 0.1 s either way). Users can still ask for more with optimization_level.
DEFAULT_OPTIMIZATION_LEVEL = 0

# name -> allowed values, as the error message states them
OPTION_DOC = {
    "mode": "'batch' (default), 'session' or 'job'",
    "resilience_level": "0 (default), 1 or 2",
    "optimization_level": "0 (default), 1, 2 or 3",
    "twirling": "true or false (gates and measurements)",
    "dynamical_decoupling": "false (default), true, or a sequence name 'XX', 'XpXm', 'XY4'",
    "job_tags": "a list of strings (the study id is always added)",
    "max_execution_time": "an integer number of seconds",
    "poll_interval": "seconds between status polls of a remote job (default 5; polls slow "
    "down to once a minute while a job sits in one state)",
    "job_seconds": "QPU seconds of PUBs packed into one remote job, by the offline model "
    "(default 120; 0: one PUB per job)",
    "in_doubt_grace": "seconds a submission whose POST got no answer is looked up by its tag "
    "before it counts as lost (default 300)",
    "layout": "'noise_aware' (default), 'trivial', or a list of physical qubits to pin",
    "measure_mitigation": "true or false: TREX readout mitigation",
    "zne": "true or false: zero-noise extrapolation",
    "zne_noise_factors": "a list of noise factors >= 1, e.g. [1, 3, 5]",
    "twirling_randomizations": "'auto' or an integer >= 1",
    "shots_per_randomization": "'auto' or an integer >= 1",
    "depolarizing": "[p1, p2] in [0, 1): backend 'aer' only, a synthetic depolarising channel "
    "of strength p1 after every one-qubit gate and p2 after every two-qubit gate",
    "method": "'statevector' (default) or 'matrix_product_state' (shallow, wide circuits): "
    "backend 'aer' only",
    "device": "'CPU' (default) or 'GPU' (needs qiskit-aer-gpu and an NVIDIA GPU): backend 'aer' "
    "only",
}

# The ``[backend.options]`` that only bp_qiskit's own Aer estimator understands.
AER_ONLY_OPTIONS = ("depolarizing", "method", "device")
# The ones only the runtime backends (``fake:``, ``ibm:``) act on; ``aer`` used to accept and
# silently ignore them (zne, twirling, resilience_level = 2).
RUNTIME_ONLY_OPTIONS = (
    "mode",
    "resilience_level",
    "twirling",
    "dynamical_decoupling",
    "job_tags",
    "max_execution_time",
    "poll_interval",
    "job_seconds",
    "in_doubt_grace",
    "measure_mitigation",
    "zne",
    "zne_noise_factors",
    "twirling_randomizations",
    "shots_per_randomization",
)
# Transpilation for a device: the runtime backends and ``aer:<device>``.
DEVICE_OPTIONS = ("optimization_level", "layout")
AER_METHODS = ("statevector", "matrix_product_state")

# For the backend contract's check that an accepted option is not ignored: per option, the
# options it needs to matter at all, and a value that must then change what the backend does
# (its values, its metadata, or what the service received), against the same run without it.
OPTION_PROBES: dict[str, tuple[dict[str, Any], Any]] = {
    "depolarizing": ({}, [0.05, 0.1]),
    "method": ({}, "matrix_product_state"),
    "optimization_level": ({}, 3),
    "layout": ({}, [4, 3, 2]),
    "resilience_level": ({}, 1),
    "twirling": ({}, True),
    "dynamical_decoupling": ({}, "XY4"),
    "measure_mitigation": ({}, True),
    "zne": ({}, True),
    "zne_noise_factors": ({"zne": True}, [1, 2]),
    "twirling_randomizations": ({"twirling": True}, 3),
    "shots_per_randomization": ({"twirling": True}, 50),
    "mode": ({}, "session"),
    "job_tags": ({}, ["probe"]),
    "max_execution_time": ({}, 300),
}
# What the contract does not probe, and why (every option of a backend is in one table).
UNPROBED_OPTIONS = {
    # the run loop reads these, not the backend: tests/test_remote_faults.py covers them
    "poll_interval": "read by the remote run loop (execution/remote.py)",
    "job_seconds": "read by the run loop and the dry run, which pack jobs by it",
    "in_doubt_grace": "read by the remote run loop (execution/remote.py)",
    "device": "'GPU' needs an NVIDIA GPU and qiskit-aer-gpu",
}
# Options a service acts on: a local run has none to send them to, so they are probed only
# where the case has a (stand-in) service that records what it received.
SERVICE_OPTIONS = ("mode", "job_tags", "max_execution_time")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


_CHECKS: dict[str, Callable[[Any], bool]] = {
    "mode": lambda v: v in ("batch", "session", "job"),
    "resilience_level": lambda v: _is_int(v) and v in (0, 1, 2),
    "optimization_level": lambda v: _is_int(v) and v in (0, 1, 2, 3),
    "twirling": lambda v: isinstance(v, bool),
    "dynamical_decoupling": lambda v: isinstance(v, bool) or v in ("XX", "XpXm", "XY4"),
    "job_tags": lambda v: isinstance(v, list) and all(isinstance(t, str) for t in v),
    "max_execution_time": lambda v: _is_int(v) and v > 0,
    "poll_interval": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
    "job_seconds": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
    "in_doubt_grace": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
    "layout": lambda v: (
        v in ("noise_aware", "trivial")
        or (
            isinstance(v, list)
            and bool(v)
            and all(_is_int(q) and q >= 0 for q in v)
            and len(set(v)) == len(v)
        )
    ),
    "measure_mitigation": lambda v: isinstance(v, bool),
    "zne": lambda v: isinstance(v, bool),
    "zne_noise_factors": lambda v: (
        isinstance(v, list)
        and len(v) >= 2
        and all(isinstance(f, (int, float)) and not isinstance(f, bool) and f >= 1 for f in v)
    ),
    "twirling_randomizations": lambda v: v == "auto" or (_is_int(v) and v >= 1),
    "shots_per_randomization": lambda v: v == "auto" or (_is_int(v) and v >= 1),
    "method": lambda v: v in AER_METHODS,
    "device": lambda v: v in ("CPU", "GPU"),
    "depolarizing": lambda v: (
        isinstance(v, (list, tuple))
        and len(v) == 2
        and all(isinstance(p, (int, float)) and not isinstance(p, bool) and 0 <= p < 1 for p in v)
    ),
}


def validate_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``[backend.options]``; unknown keys and bad values name the key and allowed values."""
    out = dict(options)
    unknown = sorted(set(out) - set(OPTION_DOC))
    if unknown:
        raise BackendNameError(
            f"backend.options: unknown option(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(OPTION_DOC)}"
        )
    for key, ok in _CHECKS.items():
        if key in out and not ok(out[key]):
            raise BackendNameError(
                f"backend.options.{key}: got {out[key]!r}; allowed: {OPTION_DOC[key]}"
            )
    return out


# [backend.options] keys that map one to one onto a field of the estimator's sub-options.
_TWIRLING_KEYS = (
    ("twirling_randomizations", "num_randomizations"),
    ("shots_per_randomization", "shots_per_randomization"),
)
_RESILIENCE_KEYS = (("measure_mitigation", "measure_mitigation"), ("zne", "zne_mitigation"))


def estimator_options(
    options: Mapping[str, Any], *, seed: int | None, tags: Sequence[str], shots: int | None = None
) -> dict[str, Any]:
    """Translate ``[backend.options]`` into the runtime estimator's options model.

    ``shots`` goes in as ``default_shots``: the client turns a precision p into ceil(1/p^2)
    shots, so a shot count sent as a precision can come back one higher.
    """
    opts: dict[str, Any] = {"resilience_level": options.get("resilience_level", 0)}
    if shots:
        opts["default_shots"] = int(shots)
    twirling: dict[str, Any] = {}
    tw = options.get("twirling")
    if tw is not None:
        twirling.update(enable_gates=tw, enable_measure=tw)
    twirling.update({out: options[key] for key, out in _TWIRLING_KEYS if key in options})
    if twirling:
        opts["twirling"] = twirling
    resilience = {out: options[key] for key, out in _RESILIENCE_KEYS if key in options}
    if "zne_noise_factors" in options:
        resilience["zne"] = {"noise_factors": [float(f) for f in options["zne_noise_factors"]]}
    if resilience:
        opts["resilience"] = resilience
    dd = options.get("dynamical_decoupling", False)
    if dd:
        opts["dynamical_decoupling"] = {
            "enable": True,
            "sequence_type": dd if isinstance(dd, str) else "XX",
        }
    opts["environment"] = {"job_tags": [*options.get("job_tags", []), *tags]}
    if "max_execution_time" in options:
        opts["max_execution_time"] = options["max_execution_time"]
    if seed is not None:
        opts["simulator"] = {"seed_simulator": seed}
    return opts
