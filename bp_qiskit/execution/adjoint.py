"""A job's gradients by the adjoint pass: which jobs may take it, and how it is laid out.

``gradient.method`` chooses (spec/sections.py): ``shift`` always shifts; ``adjoint`` takes
the pass or fails with one line; ``auto`` takes it where it applies and more than one
shifted pair would be evaluated (for one pair, the two shifted circuits cost about what the
pass does, and the shift path's bytes stay what they were).

It applies to an exact (``shots == 0``) job on a backend whose capabilities say ``adjoint``
(a noiseless CPU statevector), for a template that :func:`~bp_qiskit.backends.adjoint.
compile_circuit` accepts, when each shifted pair of the family's layout moves one template
column by +-pi/2. The layout comes from the family itself (``family.values``), so the
adjoint path differentiates exactly what the shift path would: the same pairs, combined by
the same chain rule (``family.chain_rule``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..backends.adjoint import (
    ADJOINT,
    AdjointProgram,
    compile_circuit,
    expectations,
    gradients,
    wants_adjoint,
)
from ..core.circuits import CircuitSamples
from ..core.gradients import SHIFT
from ..errors import SpecError
from ..results import Cell
from ..spec import StudySpec
from .families import CircuitFamily, family_for

__all__ = ["ADJOINT", "adjoint_gradients", "check_adjoint", "wants_adjoint"]


# Rows of (B, 2^n) states in one pass: three such arrays live at once.
_STATE_ENTRIES = 1 << 22


def check_adjoint(spec: StudySpec) -> None:
    """With ``gradient.method = "adjoint"``, refuse a circuit the pass cannot take, up front."""
    if spec.gradient.method != ADJOINT:
        return
    for n in spec.circuit.qubits:
        for layers in spec.circuit.layer_counts(n):
            if compile_circuit(family_for(spec, Cell(n, layers)).template) is None:
                _unsupported(
                    ADJOINT,
                    f"at n={n}, L={layers} the circuit has a gate or angle the adjoint pass "
                    "does not take",
                )


def _unsupported(method: str, why: str) -> None:
    if method == ADJOINT:
        raise SpecError(f"gradient.method: got 'adjoint'; allowed: 'auto' or 'shift' ({why})")


def adjoint_gradients(
    program: AdjointProgram | None,
    family: CircuitFamily,
    samples: CircuitSamples,
    indices: NDArray[np.int64],
    method: str,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None] | None:
    """The (s, J) half differences of the shift pairs, and the (s,) costs where known.

    The costs are the family's own (``family.costs``), at the point the shift path takes
    them (the first pair's "+" binding: one more forward pass), so Var[C] means what it means
    on the shift path; for identity blocks the drawn angles themselves are the identity.

    ``program`` is the family's template compiled by :func:`~bp_qiskit.backends.adjoint.
    compile_circuit` (None: it cannot be). None where the pass does not apply (under
    ``auto``): the caller then shifts.
    """
    if program is None:
        _unsupported(method, "the circuit has a gate or angle the adjoint pass does not take")
        return None
    s = samples.params.shape[0]
    probe = family.values(
        CircuitSamples(samples.gates[:1], samples.params[:1]), indices
    )  # (1, J, 2, P)
    pairs = probe.shape[1]
    if method != ADJOINT and pairs < 2:
        return None
    layout = family.adjoint_layout(samples, indices)
    if layout is None:
        _unsupported(method, "a shifted pair moves more than one angle of the circuit")
        return None
    base, cols = layout
    wanted = np.unique(cols)
    # One thread: threads over chunks of these sizes (10 bindings of 2^10 amplitudes) made
    # McClean at n = 10 1.6x slower (benchmarks/bench_adjoint.py), unlike the fused pass.
    rows = max(1, _STATE_ENTRIES // 2**program.num_qubits)
    plus = base.copy()
    plus[np.arange(s), cols[:, 0]] += SHIFT

    def chunk(a: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        _, grads = gradients(program, family.observable, base[a : a + rows], wanted)
        diffs = np.take_along_axis(grads, np.searchsorted(wanted, cols[a : a + rows]), axis=1)
        return diffs, expectations(program, family.observable, plus[a : a + rows])

    parts = [chunk(a) for a in range(0, s, rows)]
    diffs = np.concatenate([p[0] for p in parts])
    first_plus = np.concatenate([p[1] for p in parts])
    evs = np.full((s, 1, 2), np.nan)
    evs[:, 0, 0] = first_plus
    costs = family.costs(evs, np.zeros_like(evs))
    return diffs, None if costs is None else costs[0]
