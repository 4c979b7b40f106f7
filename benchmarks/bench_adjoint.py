"""``gradient.parameter = "all"``: the adjoint pass against parameter shift and lightning's adjoint.

Workload (issue 23): McClean's circuits (RY(pi/4), then L layers of random RX/RY/RZ and a CZ
ladder), L = 50, cost Z0 Z1, every parameter differentiated, exact. Three implementations
of the same gradients of the same circuits (bp_qiskit's draws):

- ``adjoint``: ``run_study`` with ``gradient.method = "adjoint"`` (backends/adjoint.py);
- ``shift``: ``run_study`` with ``gradient.method = "shift"`` (2 circuits per parameter and
  sample through the batched Aer estimator), the reference;
- ``pass``: the adjoint pass alone (``backends.adjoint.gradients``) on the same bindings,
  compiled and laid out beforehand;
- ``lightning``: PennyLane's ``lightning.qubit`` ``compute_derivatives`` with the adjoint
  method and every rotation angle trainable (the strongest like-for-like peer), if installed
  (``pip install -e '.[benchmark]'``).

Each must agree with ``shift`` to 1e-8. Interleaved rounds in one process after a warm-up;
the median wall and CPU seconds (``getrusage``, all threads) and each one's time over the
adjoint pass's. Run: ``python benchmarks/bench_adjoint.py [--rounds 2]``.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bp_qiskit import StudySpec, run_study

sys.path.insert(0, str(Path(__file__).resolve().parent))
SIZES = ((10, 50, 10), (12, 50, 4))  # (n, L, samples)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _spec(n: int, layers: int, samples: int, method: str) -> StudySpec:
    return StudySpec.from_dict(
        {
            "study": {"seed": 7},
            "circuit": {"ansatz": "mcclean", "layers": layers, "qubits": [n]},
            "observable": {"kind": "zz"},
            "gradient": {"parameter": "all", "method": method},
            "sampling": {"samples": samples},
        }
    )


def _bp(n: int, layers: int, samples: int, method: str) -> Callable[[], Any]:
    spec = _spec(n, layers, samples, method)
    return lambda: run_study(spec, progress=False).data[0]


def _pass_alone(n: int, layers: int, samples: int) -> Callable[[], np.ndarray]:
    """The adjoint pass alone (``backends.adjoint.gradients``) on the study's own bindings,
    compiled and laid out beforehand: what lightning's ``compute_derivatives`` is to it."""
    from bp_qiskit.backends.adjoint import compile_circuit, gradients
    from bp_qiskit.core.circuits import CircuitSamples
    from bp_qiskit.execution.families import family_for

    spec = _spec(n, layers, samples, "adjoint")
    draws = run_study(spec, progress=False).data[0]
    family = family_for(spec, draws.cell)
    program = compile_circuit(family.template)
    indices = np.arange(family.num_params)
    base, cols = family.adjoint_layout(  # type: ignore[attr-defined]
        CircuitSamples(draws.gates, draws.params), indices
    )
    wanted = np.unique(cols)
    where = np.searchsorted(wanted, cols)  # each sample's rotation k -> its column's slot

    def run() -> np.ndarray:
        grads = gradients(program, family.observable, base, wanted)[1]
        return np.take_along_axis(grads, where, axis=1)

    return run


def _lightning(data: Any, n: int, layers: int) -> Callable[[], np.ndarray] | None:
    try:
        import pennylane as qml
        from pennylane.devices import ExecutionConfig
    except ImportError:
        return None
    from peers import _pennylane_obs, _pennylane_ops

    dev = qml.device("lightning.qubit", wires=n)
    config = ExecutionConfig(gradient_method="adjoint")
    codes = data.gates.reshape(len(data.params), -1)
    trainable = list(range(n, n + n * layers))  # after the n fixed RY(pi/4) angles

    def run() -> np.ndarray:
        tapes = [
            qml.tape.QuantumScript(
                _pennylane_ops(qml, n, layers, c, t),
                [qml.expval(_pennylane_obs(qml, n, "zz"))],
                trainable_params=trainable,
            )
            for c, t in zip(codes, data.params, strict=True)
        ]
        return np.array(dev.compute_derivatives(tapes, config), dtype=float)

    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"{'n':>3} {'L':>3} {'S':>3} {'impl':>10} {'wall s':>8} {'cpu s':>8} "
          f"{'wall / adjoint':>15} {'cpu / adjoint':>14} {'max |diff|':>11}")  # fmt: skip
    for n, layers, samples in SIZES:
        reference = _bp(n, layers, samples, "shift")()
        impls: dict[str, Callable[[], Any]] = {
            "adjoint": _bp(n, layers, samples, "adjoint"),
            "shift": _bp(n, layers, samples, "shift"),
            "pass": _pass_alone(n, layers, samples),
        }
        peer = _lightning(reference, n, layers)
        if peer is not None:
            impls["lightning"] = peer
        wall: dict[str, list[float]] = {k: [] for k in impls}
        cpu: dict[str, list[float]] = {k: [] for k in impls}
        diff: dict[str, float] = {}
        for fn in impls.values():
            fn()  # warm-up
        for _ in range(args.rounds):
            for name, fn in impls.items():
                w0, c0 = time.perf_counter(), _cpu()
                out = fn()
                wall[name].append(time.perf_counter() - w0)
                cpu[name].append(_cpu() - c0)
                grads = out if isinstance(out, np.ndarray) else out.grads
                diff[name] = float(
                    np.max(np.abs(grads.reshape(reference.grads.shape) - reference.grads))
                )
                if diff[name] > 1e-8:
                    raise SystemExit(f"{name} disagrees with the shift rule by {diff[name]:.2e}")
        base_w, base_c = statistics.median(wall["adjoint"]), statistics.median(cpu["adjoint"])
        for name in impls:
            w, c = statistics.median(wall[name]), statistics.median(cpu[name])
            ratios = f"{w / base_w:>14.1f}x {c / base_c:>13.1f}x"
            print(f"{n:>3} {layers:>3} {samples:>3} {name:>10} {w:>8.2f} {c:>8.2f} {ratios} "
                  f"{diff[name]:>11.1e}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
