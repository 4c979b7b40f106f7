"""A hand-built circuit through ``gradient_variance`` against the same circuit as a preset.

Workload (issue 23): the matchgate layers (RZ on every qubit, then RXX and RYY on every
neighbouring pair) built by hand as a ``QuantumCircuit``, n = 5, L = 15, 300 samples, cost
Z0, and the same layers as the ``matchgate`` preset through ``run_study``. Three
differentiated parameter sets: the first parameter, a middle one, and all of them (30
samples). Interleaved rounds in one process, after a warm-up of each; the median seconds and
the hand-built circuit's time over the preset's. Both estimates of the variance are printed
with their standard errors: they are the same quantity on independent draws.

Run: ``python benchmarks/bench_custom_circuit.py [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from typing import Any

from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector

from bp_qiskit import StudySpec, gradient_variance, run_study

N, LAYERS = 5, 15


def hand_built(n: int, layers: int) -> QuantumCircuit:
    """The matchgate preset's layers, written out gate by gate."""
    theta = ParameterVector("t", layers * (3 * n - 2))
    qc = QuantumCircuit(n)
    qc.h(range(n))
    k = 0
    for _ in range(layers):
        for q in range(n):
            qc.rz(theta[k], q)
            k += 1
        for q in range(n - 1):
            qc.rxx(theta[k], q, q + 1)
            k += 1
        for q in range(n - 1):
            qc.ryy(theta[k], q, q + 1)
            k += 1
    return qc


def preset(parameter: Any, samples: int) -> StudySpec:
    return StudySpec.from_dict(
        {
            "study": {"seed": 1},
            "circuit": {"ansatz": "matchgate", "layers": LAYERS, "qubits": [N]},
            "observable": {"kind": "pauli", "terms": ["Z0"]},
            "gradient": {"parameter": parameter},
            "sampling": {"samples": samples},
        }
    )


def _preset(spec: StudySpec) -> tuple[float, float]:
    cells = run_study(spec, progress=False).result.cells
    return cells[0].grad_var, cells[0].grad_var_se


def _own(circuit: QuantumCircuit, samples: int, parameters: Any) -> tuple[float, float]:
    observable = "I" * (N - 1) + "Z"  # Z on qubit 0 (Qiskit labels read right to left)
    gv = gradient_variance(circuit, observable, samples=samples, seed=1, parameters=parameters)
    return float(gv.variance.mean()), float(gv.variance_se.mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    circuit = hand_built(N, LAYERS)
    middle = (LAYERS // 2) * (3 * N - 2) + N  # layer 7's first RXX: [layer, index] = [7, 5]
    cases = [
        ("first", "first", [0], 300),
        ("middle", [LAYERS // 2, N], [middle], 300),
        ("all", "all", None, 30),
    ]
    print(f"matchgate n = {N}, L = {LAYERS}: {circuit.num_parameters} parameters, cost Z0")
    print(f"{'parameter':>9} {'preset s':>9} {'own s':>9} {'own/preset':>11}  variances")
    for label, spec_parameter, own_parameters, samples in cases:
        spec = preset(spec_parameter, samples)

        run_preset = functools.partial(_preset, spec)
        run_own = functools.partial(_own, circuit, samples, own_parameters)
        times: dict[str, list[float]] = {"preset": [], "own": []}
        values: dict[str, tuple[float, float]] = {}
        for fn in (run_preset, run_own):
            fn()  # warm-up: imports, caches
        for _ in range(args.rounds):
            for name, fn in (("preset", run_preset), ("own", run_own)):
                start = time.perf_counter()
                values[name] = fn()
                times[name].append(time.perf_counter() - start)
        a, b = statistics.median(times["preset"]), statistics.median(times["own"])
        (vp, sp), (vo, so) = values["preset"], values["own"]
        print(
            f"{label:>9} {a:>9.3f} {b:>9.3f} {b / a:>10.2f}x  "
            f"preset {vp:.4g} +- {sp:.2g}, own {vo:.4g} +- {so:.2g}"
        )


if __name__ == "__main__":
    main()
