"""Result files in one key convention, written byte-for-byte reproducibly.

``samples.npz`` keys are ``<array>_<n>_<L>`` (:attr:`~bp_qiskit.results.data.Cell.tag`). It
is written with fixed zip timestamps (``numpy.savez`` stamps the current time), so the same
arrays give the same bytes.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..core.arrays import encode_array
from .data import CellData

__all__ = ["cell_arrays", "read_npz", "write_npz"]


def cell_arrays(data: Sequence[CellData], *, with_shot_var: bool) -> dict[str, NDArray[Any]]:
    """The per-sample arrays of ``samples.npz``; single-parameter gradients are 1-D."""
    out: dict[str, NDArray[Any]] = {}
    for d in data:
        t = d.cell.tag
        out[f"gates_{t}"] = d.gates.astype(np.int8)
        out[f"params_{t}"] = d.params
        grads = d.grads[:, 0] if d.grads.shape[1] == 1 else d.grads
        out[f"grads_{t}"] = grads
        if with_shot_var:
            sv = d.shot_var[:, 0] if d.shot_var.shape[1] == 1 else d.shot_var
            out[f"shot_var_{t}"] = sv
        if d.costs is not None:
            out[f"costs_{t}"] = d.costs
            if with_shot_var and d.cost_shot_var is not None:
                out[f"cost_shot_var_{t}"] = d.cost_shot_var
    return out


def write_npz(path: Path, arrays: Mapping[str, NDArray[Any]]) -> None:
    """Write an ``.npz`` that ``numpy.load`` reads, byte-identical for identical arrays."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, encode_array(arrays[name]))


def read_npz(path: Path) -> dict[str, NDArray[Any]]:
    """Load every array of an ``.npz`` into memory."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}
