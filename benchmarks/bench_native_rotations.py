"""Transpiling the random-gate template: U gates as written, against U as rz·sx·rz·sx·rz first.

Workload: the McClean template (one ``u(θ, φ, λ)`` per cell, a CZ ladder) at level 0 on a
CX-basis device (FakeLagosV2, FakeManilaV2) and a CZ-basis one (FakeFez). ``as written`` runs
the preset pass manager on the template itself, in a child process stopped after
``LIMIT_S``; ``native`` is :class:`bp_qiskit.backends.isa.IsaTranspiler`, which writes every U
out first (:func:`~bp_qiskit.backends.isa.native_rotations`). Also printed: the sx pulses per
random cell on the device, the price of one template for RX, RY and RZ cells alike.
Run: ``python benchmarks/bench_native_rotations.py``.
"""

from __future__ import annotations

import multiprocessing as mp
import time

from qiskit.transpiler import generate_preset_pass_manager

from bp_qiskit import StudySpec
from bp_qiskit.backends.devices import fake_backend
from bp_qiskit.backends.isa import IsaTranspiler
from bp_qiskit.execution.jobs import JobBuilder, plan_cells

LIMIT_S = 30.0
SIZES = [(4, 6), (4, 8), (5, 10), (7, 14)]


def template(n: int, layers: int):
    spec = StudySpec.from_dict(
        {
            "circuit": {"ansatz": "mcclean", "qubits": [n], "layers": layers},
            "observable": {"kind": "zz"},
            "sampling": {"samples": 2},
        }
    )
    circuit, _ = JobBuilder(spec).cell_objects(plan_cells(spec)[0])
    return circuit


def _as_written(device: str, n: int, layers: int) -> None:
    pm = generate_preset_pass_manager(
        backend=fake_backend(device), optimization_level=0, layout_method="trivial"
    )
    pm.run(template(n, layers))


def as_written_seconds(device: str, n: int, layers: int) -> float | None:
    """Seconds, or None when it did not finish within LIMIT_S."""
    start = time.perf_counter()
    proc = mp.get_context("fork").Process(target=_as_written, args=(device, n, layers))
    proc.start()
    proc.join(LIMIT_S)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return None
    return time.perf_counter() - start


def main() -> None:
    print(f"{'device':>7} {'n':>3} {'L':>3} {'as written s':>13} {'native s':>9} {'sx/cell':>8}")
    for device in ("lagos", "manila", "fez"):
        backend = fake_backend(device)
        for n, layers in SIZES:
            if n > backend.num_qubits:
                continue
            circuit = template(n, layers)
            start = time.perf_counter()
            isa = IsaTranspiler(backend, 0, layout="trivial")(circuit).circuit
            native = time.perf_counter() - start
            before = as_written_seconds(device, n, layers)
            sx = isa.count_ops().get("sx", 0) / (n * layers)
            shown = f"{before:.2f}" if before is not None else f"> {LIMIT_S:.0f}"
            print(f"{device:>7} {n:>3} {layers:>3} {shown:>13} {native:>9.3f} {sx:>8.1f}")


if __name__ == "__main__":
    main()
