"""Kronecker blocks: the kernel that applies many one-qubit gates in few matrix products.

A run of one-qubit gates (at most one product per qubit) is applied as one Kronecker product
per block of at most four neighbouring qubits: one matrix multiplication per block and
binding instead of one sweep over 2^n amplitudes per gate. Each block's product is written
transposed, so the block just applied becomes the lowest axis and the next block the
leading one: every multiplication reads its block as the leading axis, with no copy, and
after the last block the axes are back in place.

Why blocks of four: on McClean's circuits at n = 14, 400 bindings of L = 50 on one core,
blocks of (4, 4, 3, 3) qubits took 8.2 s, (5, 5, 4) 9.4 s and (7, 7) 23.9 s (a dense
product's work grows as 2^block; more, smaller blocks cost more calls), against 26.4 s for
Aer's statevector on one core (measured by hand while choosing; ``benchmarks/bench_fused.py``
compares the shipped pass).

Both the fused numpy pass (:mod:`.fused`) and the adjoint pass (:mod:`.adjoint`) run on it;
the bindings of a PUB are shared over the cores by :func:`map_over_cores`.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "apply_blocks",
    "blocks",
    "map_over_cores",
    "single_blas_thread",
    "thread_budget",
]

_BLOCK = 4  # qubits per Kronecker block, at most


def blocks(n: int) -> list[int]:
    """Block sizes, highest qubits first: ceil(n / 4) blocks whose sizes differ by one at most."""
    k = -(-n // _BLOCK)
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


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

    pool = ThreadPoolExecutor(threads)
    try:
        out = list(pool.map(pinned, chunks))
    except BaseException:
        # Ctrl-C or SIGTERM in the caller: drop the chunks not started, rather than waiting
        # for all of them as leaving a ``with`` block does (the running ones finish).
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return out


@contextlib.contextmanager
def single_blas_thread() -> Iterator[None]:
    """OpenBLAS on one thread for the calling thread, inside the block (where it can be set).

    A product's last bits can depend on how many threads OpenBLAS splits it over; work whose
    bytes must not depend on the machine (the predictions) runs inside this.
    """
    local_threads = _blas_thread_setter()
    if local_threads is None:
        yield
        return
    before = local_threads(1)
    try:
        yield
    finally:
        local_threads(before)


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
