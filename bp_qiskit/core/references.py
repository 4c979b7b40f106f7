"""Closed-form reference values of the gradient variance, where theory gives one.

Pure functions of a spec's plain-data form (``StudySpec.to_dict()``), so plots and tables can
draw the reference next to the measurement without knowing how the study ran.

- The seed experiment (seed ansatz, global projector, last parameter, angles uniform on
  [0, 2pi)): CZ is diagonal and leaves |0...0> alone, so the cost factorises over qubits and
  ``Var_n = (1/16) * ((17 + 4 sqrt 2) / 48) ** (n - 1)`` exactly.
- McClean et al.'s deep-circuit limit (mcclean ansatz, Z0 Z1): once the circuit after the
  differentiated gate forms a 2-design, ``Var -> 2^n / (3 (4^n - 1))``. It is a *limit*:
  at finite depth the variance approaches it from above (docs/specs.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["mcclean_two_design_limit", "reference_curve", "seed_exact_variance"]


def seed_exact_variance(num_qubits: int) -> float:
    """Exact Var[dC/dtheta_last] of the seed experiment with angles uniform on [0, 2pi)."""
    return (1 / 16) * ((17 + 4 * math.sqrt(2)) / 48) ** (num_qubits - 1)


def mcclean_two_design_limit(num_qubits: int) -> float:
    """Var[dC/dtheta] of Z0 Z1 when the circuit is a 2-design (McClean et al. 2018)."""
    return 2**num_qubits / (3 * (4**num_qubits - 1))


def reference_curve(spec: Mapping[str, Any]) -> tuple[str, Callable[[int], float]] | None:
    """The reference for a study, as (label, Var(n)), or None where none is known."""
    circuit = spec.get("circuit", {})
    ansatz = circuit.get("ansatz", "seed")
    kind = spec.get("observable", {}).get("kind", "global")
    parameter = spec.get("gradient", {}).get("parameter", "last")
    low, high = (float(a) for a in circuit.get("angles", (0.0, 2 * math.pi)))
    full_turn = math.isclose(low, 0.0) and math.isclose(high, 2 * math.pi)
    layers = circuit.get("layers", 1)
    if any(k in circuit for k in ("initial", "rotations", "random_set", "entangler", "factory")):
        return None  # a different circuit from the one the closed forms are about
    if ansatz == "seed" and kind == "global" and parameter == "last" and full_turn:
        if layers in (1, "1"):
            return "exact (closed form)", seed_exact_variance
    if ansatz == "mcclean" and kind == "zz" and full_turn:
        return "2-design limit (deep circuits)", mcclean_two_design_limit
    return None
