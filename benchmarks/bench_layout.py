"""Noise-aware layout against the trivial one, on fake devices with real calibration data.

For each device and qubit count: the mean readout error and the mean two-qubit gate error of
the qubits and gates the ISA circuit uses, under ``layout = "trivial"`` (physical qubits
0..n-1, what optimization level 0 does) and ``layout = "noise_aware"`` (the default: the
device's one chain for line-shaped circuits, backends/layout.py), and ``vf2_per_cell`` (the
previous default, still used for circuits that are not lines: VF2Layout placing each cell on
its own, so cells of a sweep land on unrelated qubits), with the transpile time of each
(median of ``--repeats``, same process, interleaved). Ratios < 1 favour the chain.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bp_qiskit.backends import isa as isa_mod
from bp_qiskit.backends.devices import fake_backend
from bp_qiskit.backends.isa import IsaTranspiler
from bp_qiskit.backends.layout import is_line
from bp_qiskit.core.circuits import template_circuit


def errors(target, isa) -> tuple[float, float]:
    """Mean readout error of the used qubits, mean error of the two-qubit gates used."""
    qubits = isa.layout.final_index_layout()
    readout = statistics.fmean(target["measure"][(q,)].error for q in qubits)
    two = [
        target[inst.operation.name][tuple(isa.find_bit(q).index for q in inst.qubits)].error
        for inst in isa.data
        if inst.operation.num_qubits == 2
    ]
    return readout, statistics.fmean(two) if two else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", default="fez,torino,marrakesh")
    ap.add_argument("--qubits", default="4,8")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    print(f"{'device':<11} {'n':>3} {'layout':<12} {'readout':>9} {'2q error':>9} {'ms':>7}")
    for name in args.devices.split(","):
        backend = fake_backend(name)
        for n in (int(q) for q in args.qubits.split(",")):
            circuit = template_circuit(n, args.layers, ansatz="mcclean")
            times: dict[str, list[float]] = {"trivial": [], "noise_aware": [], "vf2_per_cell": []}
            isas = {}
            for _ in range(args.repeats):
                for layout in times:
                    vf2 = layout == "vf2_per_cell"
                    isa_t = IsaTranspiler(backend, 0, layout="noise_aware" if vf2 else layout)
                    isa_mod._SHARED.clear()  # no process-wide cache: time a real transpile
                    isa_mod.is_line = (lambda c: False) if vf2 else is_line
                    t0 = time.perf_counter()
                    isas[layout] = isa_t(circuit).circuit
                    times[layout].append(time.perf_counter() - t0)
                isa_mod.is_line = is_line
            rows = {}
            for layout, isa in isas.items():
                rows[layout] = (*errors(backend.target, isa), statistics.median(times[layout]))
                r = rows[layout]
                print(
                    f"{name:<11} {n:>3} {layout:<12} {r[0]:>9.2e} {r[1]:>9.2e} {r[2] * 1e3:>7.1f}"
                )
            a = rows["noise_aware"]
            for base in ("trivial", "vf2_per_cell"):
                t = rows[base]
                print(
                    f"{'':<11} {n:>3} {'/ ' + base:<12} {a[0] / t[0]:>9.2f} {a[1] / t[1]:>9.2f} "
                    f"{a[2] / t[2]:>7.2f}"
                )


if __name__ == "__main__":
    main()
