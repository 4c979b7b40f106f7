"""Layer counts and layer orders: the spec's layer items and each layer's gate order.

Pure and free of Qiskit, so that results and reports can read a spec's layers without
loading it.
"""

from __future__ import annotations

__all__ = ["layer_kinds", "resolve_layers"]


def resolve_layers(item: int | str, num_qubits: int) -> int:
    """A spec's layer count item for n qubits: ``4`` -> 4, ``"4n"`` -> 4 n."""
    return int(item[:-1]) * num_qubits if isinstance(item, str) else int(item)


def layer_kinds(ansatz: str, num_layers: int, block_depth: int = 1) -> list[str]:
    """Return the order of each layer: ``"rc"`` = rotations then CZs, ``"cr"`` = the reverse.

    ``block_depth`` k (identity blocks): each block is k ``"rc"`` layers and their k mirrored
    ``"cr"`` layers, so L must be a multiple of 2k.
    """
    if ansatz in ("seed", "mcclean"):
        return ["rc"] * num_layers
    if ansatz == "identity_blocks":
        if num_layers % (2 * block_depth):
            raise ValueError(
                f"num_layers: identity_blocks with block depth {block_depth} needs a multiple "
                f"of {2 * block_depth}, got {num_layers}"
            )
        # k = 1, one block per pair of layers, is the smallest block that is still an identity:
        # Grant et al.'s recommendation for keeping the effective depth shallow.
        return (["rc"] * block_depth + ["cr"] * block_depth) * (num_layers // (2 * block_depth))
    raise ValueError(f"ansatz: got {ansatz!r}; allowed: seed, mcclean, identity_blocks")
