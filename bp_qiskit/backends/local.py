"""The in-process backends: ``aer``, ``aer:<device>``, ``statevector``, ``aer_estimator``.

Each factory has the registry's signature ``(name, device, options, tags, service)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from .estimator import EstimatorBackend
from .protocol import BackendNameError, Capabilities

__all__ = [
    "AER",
    "AER_DEVICE",
    "AER_NOISELESS",
    "EXACT_ONLY",
    "STATEVECTOR",
    "aer_backend",
    "aer_device_backend",
    "aer_estimator_backend",
    "check_aer_device",
    "noiseless_statevector",
    "statevector_backend",
]

AER = Capabilities(exact=True, shots=True, native_projectors=True, parallel=True)
AER_DEVICE = AER
AER_NOISELESS = dataclasses.replace(AER, adjoint=True)
EXACT_ONLY = Capabilities(exact=True, shots=False, parallel=True)
STATEVECTOR = dataclasses.replace(EXACT_ONLY, adjoint=True)


def noiseless_statevector(options: Mapping[str, Any]) -> bool:
    """Whether these options leave a backend a noiseless CPU statevector.

    That is the adjoint pass's model: not with depolarising noise, another simulation method
    (MPS for width), or a GPU.
    """
    opts = dict(options)
    return (
        opts.get("depolarizing") is None
        and opts.get("method", "statevector") == "statevector"
        and str(opts.get("device", "CPU")) == "CPU"
    )


def aer_backend(
    name: str, device: str, options: Mapping[str, Any], tags: Sequence[str], service: Any
) -> EstimatorBackend:
    """bp_qiskit's batched :class:`~bp_qiskit.backends.aer.AerEstimator`.

    ``options["depolarizing"] = [p1, p2]`` adds a synthetic noise model: a depolarising
    channel E(rho) = (1 - p) rho + p I / 2^k after every one-qubit (k = 1) and two-qubit (k = 2)
    gate, simulated exactly on density matrices. It is the model the predictions propagate.
    """
    from .aer import AerEstimator

    depolarizing = dict(options).get("depolarizing")
    device_name = str(dict(options).get("device", "CPU"))
    if device_name != "CPU":
        check_aer_device(device_name)
    if depolarizing is None:
        method = dict(options).get("method", "statevector")
        sim_options: dict[str, Any] = {"method": method, "device": device_name}
        if method == "matrix_product_state":
            # LAPACK's SVD, not Aer's own: the seed circuit's gradients at n = 100 came out
            # to 6e-9 of their costs' scale with Aer's, 3e-13 with LAPACK, at the same speed
            # (tests/test_wide.py checks 1e-10 against the closed form).
            sim_options["mps_lapack"] = True
        return EstimatorBackend(
            lambda seed: AerEstimator(seed=seed, backend_options=sim_options),
            name=name,
            capabilities=AER_NOISELESS if noiseless_statevector(options) else AER,
        )
    sim = depolarizing_simulator(*depolarizing, device=device_name)
    return EstimatorBackend(
        lambda seed: AerEstimator(seed=seed, simulator=sim), name=name, capabilities=AER
    )


def check_aer_device(device: str) -> None:
    """Refuse ``backend.options.device`` when this Aer cannot simulate on it, saying why."""
    from qiskit_aer import AerSimulator

    available = tuple(AerSimulator().available_devices())
    if device not in available:
        raise BackendNameError(
            f"backend.options.device: got {device!r}; this qiskit-aer offers "
            f"{', '.join(available)} only. A GPU needs the qiskit-aer-gpu package in place of "
            "qiskit-aer (Linux, an NVIDIA GPU and its CUDA driver)"
        )


def depolarizing_simulator(p1: float, p2: float, *, device: str = "CPU") -> Any:
    """A density-matrix AerSimulator with depolarising noise after every gate."""
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel, depolarizing_error

    noise = NoiseModel()
    if p1:
        one = ["u", "rx", "ry", "rz", "h", "x", "y", "z", "sx"]
        noise.add_all_qubit_quantum_error(depolarizing_error(p1, 1), one)
    if p2:
        noise.add_all_qubit_quantum_error(
            depolarizing_error(p2, 2), ["cz", "cx", "rxx", "ryy", "rzz"]
        )
    # Runtime parameter binding is off: with a noise model Aer 0.18 refuses the parameterised
    # circuit at load ("instruction param position out of range"); it binds before the run.
    return AerSimulator(method="density_matrix", noise_model=noise, device=device)


def aer_device_backend(
    name: str, device: str, options: Mapping[str, Any], tags: Sequence[str], service: Any
) -> EstimatorBackend:
    """Aer with a fake device's noise model and gate set, on ISA circuits."""
    from qiskit_aer import AerSimulator

    from .aer import AerEstimator
    from .devices import fake_backend
    from .isa import IsaTranspiler
    from .options import DEFAULT_OPTIMIZATION_LEVEL

    fake = fake_backend(device)
    # Density matrix: exact noisy expectations, and the exact noisy outcome distribution for
    # shots. Runtime parameter binding is off: ISA circuits carry parameter expressions
    # (rz(theta + pi)), which Aer can only bind before the run.
    sim = AerSimulator.from_backend(fake, method="density_matrix")
    level = dict(options).get("optimization_level", DEFAULT_OPTIMIZATION_LEVEL)
    return EstimatorBackend(
        lambda seed: AerEstimator(seed=seed, simulator=sim),
        name=name,
        capabilities=AER_DEVICE,
        transpiler=IsaTranspiler(fake, level, layout=dict(options).get("layout", "noise_aware")),
    )


def statevector_backend(
    name: str, device: str, options: Mapping[str, Any], tags: Sequence[str], service: Any
) -> EstimatorBackend:
    """Qiskit's reference ``StatevectorEstimator`` (exact only)."""
    from qiskit.primitives import StatevectorEstimator

    return EstimatorBackend(
        lambda seed: StatevectorEstimator(seed=seed),
        name=name,
        capabilities=STATEVECTOR,
    )


def aer_estimator_backend(
    name: str, device: str, options: Mapping[str, Any], tags: Sequence[str], service: Any
) -> EstimatorBackend:
    """qiskit-aer's own ``EstimatorV2``: exact only, because its precision adds Gaussian noise."""
    from qiskit_aer.primitives import EstimatorV2

    opts = {"backend_options": {"runtime_parameter_bind_enable": True}}
    return EstimatorBackend(
        lambda seed: EstimatorV2(options=opts), name=name, capabilities=EXACT_ONLY
    )
