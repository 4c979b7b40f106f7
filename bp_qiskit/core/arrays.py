"""Exact, pickle-free (de)serialisation of numpy arrays in the ``.npy`` format."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["decode_array", "encode_array"]


def encode_array(a: NDArray[Any]) -> bytes:
    """Serialise an array exactly (dtype, shape and bytes)."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def decode_array(blob: bytes) -> NDArray[Any]:
    """Inverse of :func:`encode_array`."""
    return np.lib.format.read_array(io.BytesIO(blob), allow_pickle=False)
