"""Exact, pickle-free (de)serialisation of numpy arrays in the ``.npy`` format.

Why not ``np.lib.format`` alone: a study writes and reads dozens of small arrays per job,
and numpy's reader parses each header with ``ast.literal_eval`` (about 30 us an array,
more than the seed study's numpy pass per cell). The headers of one shape and dtype are
the same bytes, so both directions keep them: a header seen once is not built or parsed
again. The bytes are numpy's own (``tests/test_store.py`` checks them against
``np.lib.format.write_array``); anything but a plain version-1.0 C-order array goes through
numpy.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["decode_array", "encode_array"]

_MAGIC = b"\x93NUMPY\x01\x00"
_PREFIX = len(_MAGIC) + 2  # magic, version 1.0, then the header's length (2 bytes)
_HEADERS: dict[tuple[str, tuple[int, ...]], bytes] = {}
_PARSED: dict[bytes, tuple[np.dtype[Any], tuple[int, ...]]] = {}
_CACHE_LIMIT = 4096  # distinct shapes; a study has a handful


def encode_array(a: NDArray[Any]) -> bytes:
    """Serialise an array exactly (dtype, shape and bytes)."""
    a = np.ascontiguousarray(a)
    if a.dtype.hasobject or a.dtype.fields is not None:
        return _numpy_encode(a)
    key = (a.dtype.str, a.shape)
    header = _HEADERS.get(key)
    if header is not None:
        return header + a.tobytes()
    blob = _numpy_encode(a)
    # numpy's own bytes the first time; their header is kept if it is version 1.0.
    if blob[: len(_MAGIC)] == _MAGIC and len(_HEADERS) < _CACHE_LIMIT:
        _HEADERS[key] = blob[: len(blob) - a.nbytes]
    return blob


def decode_array(blob: bytes) -> NDArray[Any]:
    """Inverse of :func:`encode_array`."""
    if blob[: len(_MAGIC)] != _MAGIC:
        return _numpy_decode(blob)
    end = _PREFIX + int.from_bytes(blob[len(_MAGIC) : _PREFIX], "little")
    header = blob[:end]
    parsed = _PARSED.get(header)
    if parsed is not None:
        dtype, shape = parsed
        return np.frombuffer(blob, dtype=dtype, offset=end).reshape(shape).copy()
    array = _numpy_decode(blob)
    c_order = b"'fortran_order': False" in header
    if c_order and not array.dtype.hasobject and len(_PARSED) < _CACHE_LIMIT:
        _PARSED[header] = (array.dtype, array.shape)
    return array


def _numpy_encode(a: NDArray[Any]) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, a, allow_pickle=False)
    return buf.getvalue()


def _numpy_decode(blob: bytes) -> NDArray[Any]:
    return np.lib.format.read_array(io.BytesIO(blob), allow_pickle=False)
