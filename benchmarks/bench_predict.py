"""How far and how fast the predictor goes: the local cost at n = 1000, against measurement.

1. The local cost (1/n) sum_j |0><0|_j on Cerezo et al.'s alternating layered ansatz at depth
   L = 10 (about log2 1000), gradient of the first rotation, at n = 1000: wall time of
   ``predict_cell`` with 500 000 sampled Pauli paths, and the relative standard error reached.
   No state-vector simulator holds 1000 qubits; the light cone of the differentiated gate
   leaves a 20-qubit program.
2. The global cost |0..0><0..0| on the same circuit at n = 1000: the rigorous light-cone
   bound (``projector_bound``), its value and wall time.
3. The same local-cost prediction at n = 8, against an exact-expectation Aer measurement of 4000
   circuits (and the time each takes), so the speed is read beside the reference.
Run: ``python benchmarks/bench_predict.py``.
"""

from __future__ import annotations

import time

from bp_qiskit import StudySpec, run_study
from bp_qiskit.core.statistics import prediction_z
from bp_qiskit.execution.predict import predict_cell


def main() -> None:
    spec = StudySpec.from_dict(
        {
            "study": {"seed": 7},
            "circuit": {"ansatz": "alternating_layered", "layers": 10, "qubits": [8]},
            "observable": {"kind": "local"},
            "gradient": {"parameter": [0, 0]},
            "sampling": {"samples": 4000, "chunk": 4000},
        }
    )
    start = time.perf_counter()
    big = predict_cell(spec, 1000, 10, paths=500_000, seed=7)
    seconds = time.perf_counter() - start
    rel = (big.grad_var_se or 0.0) / (big.grad_var or 1.0)
    print(
        f"n=1000, L=10, local cost: predicted Var = {big.grad_var:.4e} +/- "
        f"{big.grad_var_se or 0.0:.2e} ({big.method}, {big.paths} paths, "
        f"{big.qubits_used} qubits after the light cone): relative SE {rel:.3f}, {seconds:.1f} s"
    )
    glob = StudySpec.from_dict({**spec.to_dict(), "observable": {"kind": "global"}})
    start = time.perf_counter()
    bound = predict_cell(glob, 1000, 10, seed=7)
    print(
        f"n=1000, L=10, global cost: {bound.method}, upper bound {bound.upper_bound:.3e} "
        f"({bound.note}), {time.perf_counter() - start:.1f} s"
    )
    start = time.perf_counter()
    small = predict_cell(spec, 8, 10, paths=500_000, seed=7)
    t_predict = time.perf_counter() - start
    start = time.perf_counter()
    (cell,) = run_study(spec, progress=False).result.cells
    t_measure = time.perf_counter() - start
    z = prediction_z(
        cell.grad_var,
        cell.grad_var_se,
        cell.samples,
        small.grad_var or 0.0,
        predicted_se=small.grad_var_se,
        contribution_sd=small.contribution_sd,
    )
    print(
        f"n=8, L=10: predicted {small.grad_var:.4e} ({small.method}, {t_predict:.2f} s); "
        f"measured {cell.grad_var:.4e} +/- {cell.grad_var_se:.1e} (Aer exact, 4000 circuits, "
        f"{t_measure:.2f} s); z = {z:.2f}"
    )


if __name__ == "__main__":
    main()
