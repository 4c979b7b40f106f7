"""The global projector evaluated natively against its 2^n-term Pauli expansion, same process.

Workload: McClean circuits (L = 10), last-parameter gradients of |0..0><0..0| for 100
random circuits at n = 6, 8, 10. bp_qiskit's ``aer`` backend reads the projector as one
squared amplitude; qiskit-aer's ``EstimatorV2`` (``aer_estimator``) needs the projector
expanded into 2^n Pauli-Z strings. Both give the same numbers (checked); the ratio of their
times is printed per n.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bp_qiskit import StudySpec, run_study


def timed(spec: StudySpec) -> tuple[float, list[float]]:
    t0 = time.perf_counter()
    result = run_study(spec, progress=False).result
    return time.perf_counter() - t0, [c.grad_var for c in result.cells]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qubits", type=int, nargs="+", default=[6, 8, 10])
    ap.add_argument("--samples", type=int, default=100)
    args = ap.parse_args()
    print(f"{'n':>3} {'native (s)':>11} {'2^n Paulis (s)':>15} {'ratio':>7}")
    for n in args.qubits:

        def spec(backend: str, n: int = n) -> StudySpec:
            return StudySpec.from_dict(
                {
                    "circuit": {"ansatz": "mcclean", "layers": 10, "qubits": [n]},
                    "sampling": {"samples": args.samples},
                    "backend": {"name": backend},
                }
            )

        timed(spec("aer"))  # warm-up
        t_native, v_native = timed(spec("aer"))
        t_pauli, v_pauli = timed(spec("aer_estimator"))
        assert np.allclose(v_native, v_pauli, rtol=1e-8), (v_native, v_pauli)
        print(f"{n:>3} {t_native:>11.3f} {t_pauli:>15.3f} {t_pauli / t_native:>6.1f}x")


if __name__ == "__main__":
    main()
