"""Seed workload: the PennyLane demo's own method against bp_qiskit, in one process.

Workload: qubits 2..6, S random circuits per qubit count (default 200, as in the demo),
gradient of the last parameter of the |0..0><0..0| cost, angles ~ U[0, 2pi).

- Reference: the demo's method, a fresh ``default.qubit`` QNode per sample and
  ``qml.grad(..., argnums=0)`` (PennyLane >= 0.45 renamed ``argnum``).
- bp_qiskit: ``run_study`` on the 'aer' backend (one PUB per qubit count).

Both compute the same quantity; timings are compute only (imports and one warm-up excluded),
best of ``--repeats``, and the ratio is printed.
Run ``make bench`` (installs the ``benchmark`` extra).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def pennylane_demo(qubits: list[int], samples: int, seed: int) -> list[float]:
    import pennylane as qml
    from pennylane import numpy as pnp

    rng = np.random.default_rng(seed)
    gate_set = [qml.RX, qml.RY, qml.RZ]

    def rand_circuit(params, random_gate_sequence=None, num_qubits=None):
        for i in range(num_qubits):
            qml.RY(np.pi / 4, wires=i)
        for i in range(num_qubits):
            random_gate_sequence[i](params[i], wires=i)
        for i in range(num_qubits - 1):
            qml.CZ(wires=[i, i + 1])
        h = np.zeros((2**num_qubits, 2**num_qubits))
        h[0, 0] = 1
        return qml.expval(qml.Hermitian(h, list(range(num_qubits))))

    variances = []
    for n in qubits:
        grads = []
        for _ in range(samples):
            dev = qml.device("default.qubit", wires=n)
            qcircuit = qml.QNode(rand_circuit, dev)
            grad = qml.grad(qcircuit, argnums=0)
            seq = {i: gate_set[rng.integers(3)] for i in range(n)}
            params = pnp.array(rng.uniform(0, 2 * np.pi, size=n), requires_grad=True)
            grads.append(grad(params, random_gate_sequence=seq, num_qubits=n)[-1])
        variances.append(float(np.var(grads, ddof=1)))
    return variances


def bp_qiskit_run(qubits: list[int], samples: int, seed: int) -> list[float]:
    from bp_qiskit import StudySpec, run_study

    spec = StudySpec.from_dict(
        {
            "study": {"name": "bench", "seed": seed},
            "circuit": {"qubits": qubits},
            "sampling": {"samples": samples},
        }
    )
    result = run_study(spec, progress=False).result
    return [c.grad_var for c in result.cells]


def best_of(fn, repeats: int, *args) -> tuple[float, list[float]]:
    times, out = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    qubits = [2, 3, 4, 5, 6]
    # Warm-up both (imports, JIT-ish caches, Aer library load) outside the timed region.
    pennylane_demo([2], 5, args.seed)
    bp_qiskit_run([2], 5, args.seed)
    t_ref, v_ref = best_of(pennylane_demo, args.repeats, qubits, args.samples, args.seed)
    t_bp, v_bp = best_of(bp_qiskit_run, args.repeats, qubits, args.samples, args.seed)
    exact = [(1 / 16) * ((17 + 4 * np.sqrt(2)) / 48) ** (n - 1) for n in qubits]
    print(f"seed workload: qubits {qubits}, {args.samples} samples, best of {args.repeats}")
    print(f"{'n':>3} {'exact':>10} {'pennylane':>10} {'bp_qiskit':>10}")
    for n, e, a, b in zip(qubits, exact, v_ref, v_bp, strict=True):
        print(f"{n:>3} {e:>10.5f} {a:>10.5f} {b:>10.5f}")
    print(f"pennylane demo method: {t_ref:.3f} s   bp_qiskit (aer): {t_bp:.3f} s")
    print(f"speed-up (pennylane / bp_qiskit): {t_ref / t_bp:.1f}x")


if __name__ == "__main__":
    main()
