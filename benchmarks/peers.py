"""The peers of the benchmark suite, each computing the same gradients as bp_qiskit.

Every implementation gets the *same* circuits: the gate codes (RX, RY, RZ = 0, 1, 2) and
angles that bp_qiskit drew, loaded from a file, so its gradients can be checked against
bp_qiskit's to 1e-8 before any time counts. The circuits are bp_qiskit's ``seed`` /
``mcclean`` ansatz: RY(pi/4) on every qubit, then L layers of one rotation per qubit and a
CZ ladder CZ(q, q + 1). Costs: ``global`` = |0...0><0...0|, ``zz`` = Z0 Z1. The gradient is
taken with respect to one angle (``param``).

Run as ``python benchmarks/peers.py IMPL WORKLOAD.npz OUT.json [REPEATS]`` (the suite does
this, one fresh process per measurement): the process imports the peer, times a cold call
(first call: imports done, JIT compilation included), then REPEATS warm calls, and writes
the timings and its gradients. Peers are optional (``pip install -e '.[benchmark]'``).

- ``pennylane_demo``: the seed demo's own method, a fresh ``default.qubit`` QNode per circuit
  and ``qml.grad`` (dense Hermitian projector).
- ``lightning_adjoint``: ``lightning.qubit``, one tape per circuit with only the
  differentiated angle trainable, all tapes in one ``compute_derivatives`` call (adjoint).
- ``lightning_shift``: ``lightning.qubit``, the two shifted tapes of every circuit in one
  ``execute`` call (the parameter-shift rule, as bp_qiskit evaluates it); with shots, sampled.
- ``tensorcircuit_jax``: TensorCircuit-ng on JAX, ``jit(vmap(grad(cost)))`` over the batch.
- ``numpy_floor``: a batched statevector in plain numpy: both shifted copies of every circuit
  in one array, each gate applied to the whole batch at once. No framework overhead at all.
- ``bp_qiskit``: bp_qiskit's own run (``run_study``), for the same process-level timing.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

Grads = Callable[[], np.ndarray]


def _rotation_matrices(codes: np.ndarray, thetas: np.ndarray) -> np.ndarray:
    """(..., 2, 2) matrices of RX / RY / RZ (codes 0 / 1 / 2) at the given angles."""
    paulis = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=complex)
    c = np.cos(thetas / 2)[..., None, None]
    s = np.sin(thetas / 2)[..., None, None]
    return c * np.eye(2) - 1j * s * paulis[codes]


def numpy_floor(w: dict[str, Any]) -> Grads:
    n, layers, cost, param = w["n"], w["layers"], w["cost"], w["param"]
    gates, params = w["gates"], w["params"]
    s = len(params)

    def run() -> np.ndarray:
        shifted = np.concatenate([params, params])
        shifted[:s, param] += np.pi / 2
        shifted[s:, param] -= np.pi / 2
        codes = np.concatenate([gates, gates]).reshape(2 * s, layers * n)
        mats = _rotation_matrices(codes, shifted)  # (2S, L*n, 2, 2)
        b = 2 * s
        psi = np.zeros((b,) + (2,) * n, dtype=complex)
        psi[(slice(None),) + (0,) * n] = 1.0
        ry = _rotation_matrices(np.array(1), np.array(np.pi / 4))
        # qubit q is axis n - q of the (batch, q_{n-1}, ..., q_0) array (Qiskit's order)
        for q in range(n):
            psi = np.moveaxis(np.tensordot(ry, psi, axes=([1], [n - q])), 0, n - q)
        cz = np.ones((2,) * n)
        for q in range(n - 1):
            idx = [slice(None)] * n
            idx[n - 1 - q], idx[n - 2 - q] = 1, 1
            cz[tuple(idx)] *= -1
        for layer in range(layers):
            for q in range(n):
                m = mats[:, layer * n + q]  # (b, 2, 2)
                ax = n - q
                moved = np.moveaxis(psi, ax, 1)  # (b, 2, rest...)
                shape = moved.shape
                out = np.einsum("bij,bjr->bir", m, moved.reshape(b, 2, -1))
                psi = np.moveaxis(out.reshape(shape), 1, ax)
            psi = psi * cz
        flat = psi.reshape(b, -1)
        if cost == "global":
            values = np.abs(flat[:, 0]) ** 2
        else:  # Z0 Z1: sign by the parity of bits 0 and 1 of the index
            k = np.arange(2**n)
            sign = 1.0 - 2.0 * (((k & 1) ^ ((k >> 1) & 1)).astype(float))
            values = (np.abs(flat) ** 2) @ sign
        return (values[:s] - values[s:]) / 2

    return run


def _pennylane_ops(qml: Any, n: int, layers: int, codes: np.ndarray, thetas: np.ndarray) -> list:
    rot = [qml.RX, qml.RY, qml.RZ]
    ops = [qml.RY(np.pi / 4, wires=q) for q in range(n)]
    for layer in range(layers):
        for q in range(n):
            i = layer * n + q
            ops.append(rot[int(codes[i])](float(thetas[i]), wires=q))
        ops += [qml.CZ(wires=[q, q + 1]) for q in range(n - 1)]
    return ops


def _pennylane_obs(qml: Any, n: int, cost: str) -> Any:
    if cost == "global":
        return qml.Projector(np.zeros(n, dtype=int), wires=range(n))
    return qml.Z(0) @ qml.Z(1)


def lightning_adjoint(w: dict[str, Any]) -> Grads:
    import pennylane as qml
    from pennylane.devices import ExecutionConfig

    n, layers, cost, param = w["n"], w["layers"], w["cost"], w["param"]
    codes = w["gates"].reshape(len(w["params"]), -1)
    dev = qml.device("lightning.qubit", wires=n)
    config = ExecutionConfig(gradient_method="adjoint")

    def run() -> np.ndarray:
        tapes = [
            qml.tape.QuantumScript(
                _pennylane_ops(qml, n, layers, c, t),
                [qml.expval(_pennylane_obs(qml, n, cost))],
                trainable_params=[n + param],  # after the n fixed RY(pi/4) angles
            )
            for c, t in zip(codes, w["params"], strict=True)
        ]
        return np.array(dev.compute_derivatives(tapes, config), dtype=float).reshape(-1)

    return run


def lightning_shift(w: dict[str, Any]) -> Grads:
    import pennylane as qml

    n, layers, cost, param, shots = w["n"], w["layers"], w["cost"], w["param"], w["shots"]
    codes = w["gates"].reshape(len(w["params"]), -1)
    dev = qml.device("lightning.qubit", wires=n)

    def run() -> np.ndarray:
        tapes = []
        for c, t in zip(codes, w["params"], strict=True):
            for sign in (1, -1):
                shifted = t.copy()
                shifted[param] += sign * np.pi / 2
                tapes.append(
                    qml.tape.QuantumScript(
                        _pennylane_ops(qml, n, layers, c, shifted),
                        [qml.expval(_pennylane_obs(qml, n, cost))],
                        shots=shots or None,
                    )
                )
        values = np.array(dev.execute(tapes), dtype=float).reshape(-1, 2)
        return (values[:, 0] - values[:, 1]) / 2

    return run


def pennylane_demo(w: dict[str, Any]) -> Grads:
    import pennylane as qml
    from pennylane import numpy as pnp

    n, layers, param = w["n"], w["layers"], w["param"]
    codes = w["gates"].reshape(len(w["params"]), -1)
    rot = [qml.RX, qml.RY, qml.RZ]
    h = np.zeros((2**n, 2**n))
    h[0, 0] = 1

    def circuit(params: Any, seq: np.ndarray) -> Any:
        for q in range(n):
            qml.RY(np.pi / 4, wires=q)
        for layer in range(layers):
            for q in range(n):
                rot[int(seq[layer * n + q])](params[layer * n + q], wires=q)
            for q in range(n - 1):
                qml.CZ(wires=[q, q + 1])
        return qml.expval(qml.Hermitian(h, list(range(n))))

    def run() -> np.ndarray:
        out = []
        for c, t in zip(codes, w["params"], strict=True):
            dev = qml.device("default.qubit", wires=n)
            grad = qml.grad(qml.QNode(circuit, dev), argnums=0)
            out.append(grad(pnp.array(t, requires_grad=True), c)[param])
        return np.array(out)

    return run


def tensorcircuit_jax(w: dict[str, Any]) -> Grads:
    import jax
    import jax.numpy as jnp
    import tensorcircuit as tc

    tc.set_backend("jax")
    tc.set_dtype("complex128")
    jax.config.update("jax_enable_x64", True)
    n, layers, cost, param = w["n"], w["layers"], w["cost"], w["param"]
    paulis = jnp.array(
        [[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=jnp.complex128
    )
    eye = jnp.eye(2, dtype=jnp.complex128)

    def layer(state: Any, xs: Any) -> tuple[Any, None]:
        # One rotation layer and its CZ ladder; jax.lax.scan compiles it once for all L
        # layers (unrolled, McClean at L = 50 took over 8 minutes to compile).
        thetas, codes = xs
        c = tc.Circuit(n, inputs=state)
        for q in range(n):
            u = jnp.cos(thetas[q] / 2) * eye - 1j * jnp.sin(thetas[q] / 2) * paulis[codes[q]]
            c.any(q, unitary=u)
        for q in range(n - 1):
            c.cz(q, q + 1)
        return c.state(), None

    def value(thetas: Any, codes: Any) -> Any:
        start = tc.Circuit(n)
        for q in range(n):
            start.ry(q, theta=np.pi / 4)
        # bp_qiskit's qubit q is TensorCircuit's wire q: both read |0...0> the same way, and
        # Z0 Z1 is symmetric, so no reordering is needed for these costs.
        state, _ = jax.lax.scan(
            layer, start.state(), (thetas.reshape(layers, n), codes.reshape(layers, n))
        )
        c = tc.Circuit(n, inputs=state)
        if cost == "global":
            return jnp.abs(c.state()[0]) ** 2
        return jnp.real(c.expectation_ps(z=[0, 1]))

    grad = jax.jit(jax.vmap(jax.grad(value), in_axes=(0, 0)))
    codes = jnp.asarray(w["gates"].reshape(len(w["params"]), -1))
    thetas = jnp.asarray(w["params"])
    # Reverse mode keeps every layer's state for the whole batch: at n = 14, L = 50 and 200
    # circuits that asked for 35 GB. Batches of 25 circuits share one compilation.
    size = 25 if n >= 13 else len(thetas)

    def run() -> np.ndarray:
        parts = [
            np.asarray(grad(thetas[i : i + size], codes[i : i + size]).block_until_ready())
            for i in range(0, len(thetas), size)
        ]
        return np.concatenate(parts)[:, param]

    return run


def bp_qiskit_run(w: dict[str, Any]) -> Grads:
    """The whole study (every cell) through ``run_study``, as a user would run it."""
    from bp_qiskit import StudySpec, run_study

    spec = StudySpec.from_dict(json.loads(str(w["spec"])))

    def run() -> np.ndarray:
        data = run_study(spec, progress=False).data
        return np.concatenate([d.grads.reshape(-1) for d in data])

    return run


IMPLS: dict[str, Callable[[dict[str, Any]], Grads]] = {
    "pennylane_demo": pennylane_demo,
    "lightning_adjoint": lightning_adjoint,
    "lightning_shift": lightning_shift,
    "tensorcircuit_jax": tensorcircuit_jax,
    "numpy_floor": numpy_floor,
}


def load_workload(path: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The workload file the suite wrote: its spec and shots, and one dict per cell."""
    with np.load(path) as f:
        raw = {k: f[k] for k in f.files}
    common = {"spec": str(raw["spec"]), "shots": int(raw["shots"]), "cost": str(raw["cost"])}
    cells = []
    for i in range(int(raw["num_cells"])):
        cells.append(
            {
                **common,
                "n": int(raw[f"n_{i}"]),
                "layers": int(raw[f"layers_{i}"]),
                "param": int(raw[f"param_{i}"]),
                "gates": raw[f"gates_{i}"],
                "params": raw[f"params_{i}"],
            }
        )
    return common, cells


def runner(impl: str, common: dict[str, Any], cells: list[dict[str, Any]]) -> Grads:
    """One callable computing every cell's gradients, concatenated in cell order."""
    if impl == "bp_qiskit":
        return bp_qiskit_run(common)
    parts = [IMPLS[impl](w) for w in cells]
    return lambda: np.concatenate([run() for run in parts])


def main() -> None:
    impl, workload, out = sys.argv[1:4]
    repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    t0 = time.perf_counter()
    common, cells = load_workload(workload)
    run = runner(impl, common, cells)
    setup = time.perf_counter() - t0  # the peer's imports and set-up
    t1 = time.perf_counter()
    grads = run()
    cold = time.perf_counter() - t1
    warm, cpu = [], []
    for _ in range(repeats):
        c0, t1 = time.process_time(), time.perf_counter()
        run()
        warm.append(time.perf_counter() - t1)
        cpu.append(time.process_time() - c0)
    report = {
        "impl": impl,
        "setup_s": setup,
        "cold_s": cold,
        "warm_s": warm,
        "cpu_s": cpu,
        "grads": grads.tolist(),
    }
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(report, fh)


if __name__ == "__main__":
    main()
