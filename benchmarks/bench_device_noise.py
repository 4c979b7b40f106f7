"""The device-noise prediction against Aer's noisy simulation, cell by cell.

Runs ``jobs/noisy_fake_device.toml``'s noisy study (McClean circuits, L = 2n, on
``aer:lagos``: Aer's density-matrix simulation with FakeLagosV2's noise model, exact
expectations) with the given number of circuits, and prints for each cell the measured
Var[dC], the prediction with the device's noise (``bp_qiskit/execution/device_noise.py``) and
the noiseless one, each with z (:func:`bp_qiskit.core.statistics.prediction_z`).
With ``--factory``, a user's own circuit instead: ``jobs/efficient_su2.toml``'s
efficient_su2 (RY, RZ, a CX chain) on ``aer:lagos`` at L = 8, n = 2..5, its noise read gate
by gate (:func:`~bp_qiskit.execution.device_noise.with_device_noise`).
With ``--pairs``, a circuit for the rules efficient_su2 does not reach (:func:`pair_layers`):
H to prepare, then per layer RZ on every qubit, RZZ and RXX on neighbouring pairs, a CZ
ladder (not the device's native CX) and a fixed X, at L = 3, n = 2..4.
With ``--shots N``, sampled shots, so that readout error counts (exact expectations leave
it out); Var[dC] is then the shot-noise-corrected one.
Run: ``python benchmarks/bench_device_noise.py [--samples 200] [--factory | --pairs] [--shots N]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector

from bp_qiskit import StudySpec, load_spec, run_study
from bp_qiskit.core.statistics import prediction_z
from bp_qiskit.execution.predict import predict_cell

ROOT = Path(__file__).resolve().parents[1]


def pair_layers(num_qubits: int, num_layers: int = 1) -> QuantumCircuit:
    """H, then per layer: RZ on each qubit, RZZ and RXX on each neighbouring pair, CZs, X."""
    n = num_qubits
    theta = ParameterVector("t", num_layers * (n + 2 * (n - 1)))
    qc = QuantumCircuit(n)
    qc.h(range(n))
    k = 0
    for _ in range(num_layers):
        for q in range(n):
            qc.rz(theta[k], q)
            k += 1
        for q in range(n - 1):
            qc.rzz(theta[k], q, q + 1)
            qc.rxx(theta[k + 1], q, q + 1)
            k += 2
        for q in range(n - 1):
            qc.cz(q, q + 1)
        qc.x(0)
    return qc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--factory", action="store_true", help="efficient_su2 on aer:lagos")
    ap.add_argument("--pairs", action="store_true", help="pair_layers on aer:lagos")
    ap.add_argument("--shots", type=int, default=0, help="sampled shots (readout counts)")
    args = ap.parse_args()
    if args.pairs:
        spec = StudySpec.from_dict(
            {"study": {"name": "pair_layers", "seed": 5},
             "circuit": {"factory": "bench_device_noise:pair_layers", "qubits": [2, 3, 4],
                         "layers": 3},
             "observable": {"kind": "local"}, "backend": {"name": "aer:lagos"}}
        )  # fmt: skip
    elif args.factory:
        spec = load_spec(ROOT / "jobs" / "efficient_su2.toml").with_overrides(
            **{"backend.name": "aer:lagos", "circuit.qubits": [2, 3, 4, 5], "circuit.layers": 8}
        )
    else:
        spec = load_spec(ROOT / "jobs" / "noisy_fake_device.toml").variants()[0]
    spec = spec.with_overrides(**{"sampling.samples": args.samples, "sampling.shots": args.shots})
    noiseless = spec.with_overrides(**{"backend.name": "aer"})
    result = run_study(spec, progress=False).result
    print(f"{'n':>3} {'L':>3} {'measured':>10} {'se':>9} {'device':>10} {'z':>6} "
          f"{'noiseless':>10} {'z':>6}")  # fmt: skip
    for c in result.cells:
        p_dev = predict_cell(spec, c.num_qubits, c.num_layers)
        p_clean = predict_cell(noiseless, c.num_qubits, c.num_layers)
        dev, clean = p_dev.grad_var or 0.0, p_clean.grad_var or 0.0
        z_dev, z_clean = (
            prediction_z(c.grad_var, c.grad_var_se, c.samples, p.grad_var or 0.0,
                         predicted_se=p.grad_var_se, contribution_sd=p.contribution_sd)
            for p in (p_dev, p_clean)
        )  # fmt: skip
        print(
            f"{c.num_qubits:>3} {c.num_layers:>3} {c.grad_var:>10.4e} {c.grad_var_se:>9.2e} "
            f"{dev:>10.4e} {z_dev:>6.2f} {clean:>10.4e} {z_clean:>6.2f}"
        )


if __name__ == "__main__":
    main()
