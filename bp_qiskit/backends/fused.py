"""Exact expectation values of wide circuits: one-qubit gates fused into Kronecker blocks.

The numpy pass of :mod:`bp_qiskit.backends.batched` applies every gate to the whole batch,
one gate at a time; past ten qubits its per-gate sweeps over 2^n amplitudes lose to Aer.
This pass keeps the batch but applies far fewer, denser operations:

- the one-qubit gates that meet no two-qubit gate in between are collected per qubit and
  applied together, as one Kronecker product per block of at most four neighbouring qubits:
  one matrix multiplication per block and binding instead of one sweep per gate;
- diagonal two-qubit gates (a CZ ladder) are collected into one sign vector, applied in one
  multiplication;
- any other gate flushes both and is applied on its own.

Each block's product is written transposed, so the block just applied becomes the lowest
axis and the next block the leading one: every multiplication reads its block as the leading
axis, with no copy, and after the last block the axes are back in place.

Why blocks of four: on McClean's circuits at n = 14, 400 bindings of L = 50 on one core,
blocks of (4, 4, 3, 3) qubits took 8.2 s, (5, 5, 4) 9.4 s and (7, 7) 23.9 s (a dense
product's work grows as 2^block; more, smaller blocks cost more calls), against 26.4 s for
Aer's statevector on one core (measured by hand while choosing; the benchmark below compares
the shipped pass).
``python benchmarks/bench_fused.py`` measures it against Aer side by side at each width;
``tests/test_fused.py`` checks it against Aer to 1e-12.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit

from .aer_readout import ExactPlan
from .batched import _FIXED, _PAIR, _PARAMETRIC, _angles, _apply_fixed, _apply_rotation, _read

__all__ = [
    "MAX_QUBITS",
    "MIN_QUBITS",
    "apply_blocks",
    "blocks",
    "evaluate",
    "thread_budget",
    "worth_it",
]

# Where this pass beats Aer's statevector (``python benchmarks/bench_fused.py``, McClean,
# first parameter, both on 2 cores): 0.76x Aer's wall time at n = 8 (L = 50), 1.8x at 9,
# 3.5x at 14, 4.1x at 16 and 1.7x at 20 (global cost, L = 10), 0.78x at 22, where one
# binding's state (64 MiB) is far outside the caches.
MIN_QUBITS = 9
MAX_QUBITS = 20
_BLOCK = 4  # qubits per Kronecker block, at most
_CHUNK_AMPLITUDES = 1 << 17  # amplitudes per chunk of bindings: 2 MiB, inside the caches


def worth_it(circuit: QuantumCircuit) -> bool:
    """Whether this circuit is wide enough for this pass and narrow enough to beat Aer."""
    return MIN_QUBITS <= circuit.num_qubits <= MAX_QUBITS


def blocks(n: int) -> list[int]:
    """Block sizes, highest qubits first: ceil(n / 4) blocks whose sizes differ by one at most."""
    k = -(-n // _BLOCK)
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def evaluate(
    circuit: QuantumCircuit, plans: Sequence[ExactPlan], rows: NDArray[np.float64]
) -> NDArray[np.float64] | None:
    """``(observables, bindings)`` exact values, or None where Aer must do it.

    ``rows`` holds one binding per row, its columns in ``circuit.parameters`` order. The
    bindings are split into chunks of a cache's size, shared out over the cores.
    """
    n = circuit.num_qubits
    program = _compile(circuit)
    if program is None:
        return None
    per = max(1, _CHUNK_AMPLITUDES >> n)
    chunks = [rows[i : i + per] for i in range(0, rows.shape[0], per)]
    columns = {p: j for j, p in enumerate(circuit.parameters)}

    def one(chunk: NDArray[np.float64]) -> NDArray[np.float64] | None:
        psi = _run(program, columns, chunk, n)
        return None if psi is None else _read(psi, plans, n)

    parts = map_over_cores(one, chunks)
    if any(p is None for p in parts):
        return None
    return np.concatenate([p for p in parts if p is not None], axis=1)


_T = TypeVar("_T")
_R = TypeVar("_R")


def map_over_cores(fn: Callable[[_T], _R], chunks: Sequence[_T]) -> list[_R]:
    """``[fn(c) for c in chunks]``, the chunks shared out over this process's threads.

    numpy's products and ufuncs release the GIL, so threads share the cores. Each worker
    thread holds OpenBLAS to one thread of its own: otherwise OpenBLAS threads each product
    too, and the two levels fight over the cores (n = 14, 400 bindings on 2 cores: 5.6 s wall
    and 9.8 s CPU, against 3.5 s and 6.3 s pinned). Without a per-thread setter, one thread.
    """
    local_threads = _blas_thread_setter()
    threads = min(len(chunks), thread_budget()) if local_threads else 1
    if threads <= 1:
        return [fn(c) for c in chunks]

    def pinned(chunk: _T) -> _R:
        assert local_threads is not None
        before = local_threads(1)
        try:
            return fn(chunk)
        finally:
            local_threads(before)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(pinned, chunks))


def thread_budget() -> int:
    """Threads this process may use.

    ``OMP_NUM_THREADS`` where set (a pool or Dask worker gets its share of the cores that
    way, as Aer does), else the cores it may run on.
    """
    value = os.environ.get("OMP_NUM_THREADS", "")
    if value.isdigit() and int(value) >= 1:
        return int(value)
    return len(os.sched_getaffinity(0))


@functools.cache
def _blas_thread_setter() -> Callable[[int], int] | None:
    """OpenBLAS's per-thread thread count setter in numpy's own copy, or None without one.

    ``openblas_set_num_threads_local`` (OpenBLAS 0.3.27) sets the count for the calling
    thread only and returns the old one, so nothing outside this pass changes. numpy's
    wheels carry OpenBLAS under numpy.libs; a numpy built on another BLAS has none, and this
    pass then runs on one thread (with that BLAS's own threading).
    """
    libs = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    for path in sorted(libs.glob("libscipy_openblas*")):
        try:
            lib = ctypes.CDLL(str(path))
        except OSError:
            continue
        setter = getattr(lib, "openblas_set_num_threads_local", None)
        if setter is not None:
            setter.argtypes, setter.restype = [ctypes.c_int], ctypes.c_int
            return cast(Callable[[int], int], setter)
    return None


# The compiled program, decided once per circuit (the bindings change only the angles):
# ("ones", {qubit: [gates, in order]}) applied as Kronecker blocks, ("diag", signs) applied
# as one product, or ("other", qubits, gate) applied on its own.
_Stage = tuple[Any, ...]


def _compile(circuit: QuantumCircuit) -> list[_Stage] | None:
    """The circuit's gates grouped into stages; None if a gate is one this pass lacks."""
    n = circuit.num_qubits
    index = np.arange(2**n)
    stages: list[_Stage] = []
    ones: dict[int, list[Any]] = {}
    diag: NDArray[np.float64] | None = None
    diag_qubits: set[int] = set()

    def flush() -> None:
        nonlocal ones, diag, diag_qubits
        if ones:
            stages.append(("ones", ones))
        if diag is not None:
            stages.append(("diag", diag))
        ones, diag, diag_qubits = {}, None, set()

    for inst in circuit.data:
        op = inst.operation
        qubits = [circuit.find_bit(q).index for q in inst.qubits]
        if op.name == "barrier":
            continue
        if len(qubits) == 1 and (op.name in _PARAMETRIC or op.name in _FIXED):
            # A gate on a qubit the collected diagonal touches must wait for it; on any other
            # qubit it commutes with the diagonal and joins the products.
            if qubits[0] in diag_qubits:
                flush()
            ones.setdefault(qubits[0], []).append(op)
        elif op.name == "cz":
            both = ((index >> qubits[0]) & 1) & ((index >> qubits[1]) & 1)
            sign = np.where(both, -1.0, 1.0)
            diag = sign if diag is None else diag * sign
            diag_qubits.update(qubits)
        elif (op.name in _PAIR and len(qubits) == 2) or op.name in _FIXED:
            flush()
            stages.append(("other", qubits, op))
        else:
            return None
    flush()
    return stages


def _matrix(op: Any, columns: dict[Any, int], rows: NDArray[np.float64]) -> Any:
    """The gate's (B, 2, 2) matrices over the bindings, or its one (2, 2) matrix if fixed."""
    if op.name in _PARAMETRIC:
        angles = _angles(op.params, columns, rows)
        if angles is None:
            return None
        return _PARAMETRIC[op.name](angles)
    return np.asarray(op.to_matrix(), dtype=complex)


def _products(
    ones: dict[int, list[Any]], columns: dict[Any, int], rows: NDArray[np.float64]
) -> dict[int, Any] | None:
    """Each qubit's collected gates multiplied out, later gates on the left."""
    out: dict[int, Any] = {}
    for q, ops in ones.items():
        prod = None
        for op in ops:
            m = _matrix(op, columns, rows)
            if m is None:
                return None
            prod = m if prod is None else np.matmul(m, prod)
        out[q] = prod
    return out


def _run(
    stages: list[_Stage], columns: dict[Any, int], rows: NDArray[np.float64], n: int
) -> NDArray[np.complex128] | None:
    """The final states of one chunk of bindings, or None for a gate angle Aer must bind."""
    psi = np.zeros((rows.shape[0], 2**n), dtype=complex)
    psi[:, 0] = 1.0
    index = np.arange(2**n)
    for stage in stages:
        if stage[0] == "ones":
            products = _products(stage[1], columns, rows)
            if products is None:
                return None
            psi = apply_blocks(psi, products, n)
        elif stage[0] == "diag":
            psi *= stage[1]
        else:
            _, qubits, op = stage
            if op.name in _PAIR:
                angles = _angles(op.params, columns, rows)
                if angles is None:
                    return None
                psi = _apply_rotation(psi, op.name, angles, qubits, n)
            else:
                psi = _apply_fixed(psi, op, qubits, index, n)
    return psi


def _kron(a: Any, b: Any) -> Any:
    """Kronecker product of two matrices or two stacks of matrices (broadcast)."""
    out = a[..., :, None, :, None] * b[..., None, :, None, :]
    shape = out.shape
    return out.reshape(*shape[:-4], shape[-4] * shape[-3], shape[-2] * shape[-1])


def apply_blocks(psi: NDArray[np.complex128], ones: dict[int, Any], n: int) -> Any:
    """Apply the pending one-qubit matrices, one Kronecker product per block of qubits."""
    b = psi.shape[0]
    eye = np.eye(2, dtype=complex)
    top = n
    for size in blocks(n):
        qubits = range(top - 1, top - 1 - size, -1)  # this block's qubits, highest first
        top -= size
        x = psi.reshape(b, 2**size, -1)
        if not any(q in ones for q in qubits):
            # nothing to apply: only rotate the axes, as the product would have
            psi = np.ascontiguousarray(x.transpose(0, 2, 1))
            continue
        u = ones.get(qubits[0], eye)
        for q in qubits[1:]:
            u = _kron(u, ones.get(q, eye))
        ut = np.swapaxes(u, -1, -2)
        psi = np.matmul(x.transpose(0, 2, 1), ut if ut.ndim == 3 else ut[None])
    return psi.reshape(b, -1)
