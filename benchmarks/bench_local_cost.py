"""The local cost: one Aer run per term's light cone against one run on their union.

Workload: Cerezo et al.'s local cost (1/n) sum_q |0><0|_q on the alternating layered ansatz,
gradient of parameter [0, 0], exact. bp_qiskit's arrangement (``_arrange`` in
``bp_qiskit/backends/aer.py``) runs each distinct light cone on its own when that simulates
at most half the amplitudes of the union; the reference forces the single run on the union
(what bp_qiskit did before). Runs alternate, the median of three is reported, and the
variances must agree to 1e-12 (checked). Run: ``python benchmarks/bench_local_cost.py``.
"""

from __future__ import annotations

import statistics

# Run as a script from benchmarks/, which is then on the path.
from bench_light_cone import time_cell

from bp_qiskit import StudySpec
from bp_qiskit.backends import aer, aer_reads

CASES = ((12, 2, 50), (16, 2, 20), (20, 2, 10), (12, 4, 50), (16, 4, 10))  # (n, L, samples)


def main() -> None:
    chosen = aer.arrange

    def union(circuit, reads):  # type: ignore[no-untyped-def]
        cone = frozenset().union(*(aer_reads.light_cone(circuit, r.qubits) for r in reads))
        return [(reads, len(cone))]

    head = ("n", "L", "samples", "runs", "union s", "chosen s", "ratio")
    print(" ".join(f"{h:>9}" for h in head))
    for n, layers, samples in CASES:
        spec = StudySpec.from_dict(
            {
                "study": {"seed": 3},
                "circuit": {"ansatz": "alternating_layered", "layers": layers, "qubits": [n]},
                "observable": {"kind": "local"},
                "gradient": {"parameter": [0, 0]},
                "sampling": {"samples": samples, "chunk": samples},
            }
        )
        runs: list[int] = []

        def counting(circuit, reads, runs=runs):  # type: ignore[no-untyped-def]
            out = chosen(circuit, reads)
            runs.append(len(out))
            return out

        u_t, c_t = [], []
        for _ in range(3):
            aer.arrange = union  # type: ignore[assignment]
            t_u, v_u = time_cell(spec)
            aer.arrange = counting  # type: ignore[assignment]
            t_c, v_c = time_cell(spec)
            assert abs(v_u - v_c) <= 1e-12 * abs(v_u), (v_u, v_c)
            u_t.append(t_u)
            c_t.append(t_c)
        aer.arrange = chosen  # type: ignore[assignment]
        a, b = statistics.median(u_t), statistics.median(c_t)
        row = (n, layers, samples, max(runs), f"{a:.3f}", f"{b:.3f}", f"{a / b:.1f}x")
        print(" ".join(f"{x:>9}" for x in row))


if __name__ == "__main__":
    main()
