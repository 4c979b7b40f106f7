"""The fused numpy pass (backends/fused.py) against Aer and against Qiskit's Statevector."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterVector
from qiskit.quantum_info import SparsePauliOp, Statevector
from test_batched import CIRCUITS, COSTS, spy_on

from bp_qiskit import StudySpec, run_study
from bp_qiskit.backends import blocks, fused
from bp_qiskit.backends.aer_readout import exact_plan

N = 9  # the narrowest register the pass takes


def _run(circuit: dict, cost: dict, qubits: int = N):
    spec = StudySpec.from_dict(
        {
            "study": {"seed": 5},
            "circuit": {**circuit, "qubits": [qubits]},
            "observable": cost,
            "gradient": {"parameter": "all", "method": "shift"},
            "sampling": {"samples": 3},
        }
    )
    return run_study(spec, progress=False).data


def _spy(monkeypatch) -> list[bool]:
    return spy_on(monkeypatch, "evaluate_fused")


@pytest.mark.parametrize("circuit", CIRCUITS, ids=lambda c: c["ansatz"])
@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c["kind"])
def test_the_fused_pass_gives_aers_values(circuit, cost, monkeypatch):
    used = _spy(monkeypatch)
    fast = _run(circuit, cost)
    if cost["kind"] == "global" and circuit["ansatz"] != "product":
        # the global cost's light cone is the register: the pass must have been taken
        assert used and all(used), "the fused pass was not taken"
    monkeypatch.setattr(fused, "MIN_QUBITS", 99)  # Aer for everything
    reference = _run(circuit, cost)
    for a, b in zip(fast, reference, strict=True):
        np.testing.assert_allclose(a.grads, b.grads, rtol=0, atol=1e-12)
        np.testing.assert_allclose(a.costs, b.costs, rtol=0, atol=1e-12)


def _every_gate_circuit() -> tuple[QuantumCircuit, list[Parameter]]:
    """Each kind of step: parametric and fixed one-qubit gates, CZs collected into one
    diagonal, a gate on a qubit that diagonal touches (it must wait) and on one it does not
    (it joins the products), other two-qubit gates, and a barrier."""
    theta = ParameterVector("t", 8)
    qc = QuantumCircuit(N)
    qc.h(range(N))
    qc.rx(theta[0], 0)
    qc.u(theta[1], theta[2], theta[3], 5)
    qc.cz(0, 1)
    qc.cz(3, 4)
    qc.ry(theta[4], 8)  # untouched by the diagonal: moves before it
    qc.rz(theta[5], 1)  # touched: the diagonal goes first
    qc.s(2)
    qc.t(7)
    qc.sx(6)
    qc.barrier()
    qc.cx(2, 7)
    qc.rzz(theta[6], 4, 8)
    qc.swap(0, 6)
    qc.rxx(theta[7], 1, 3)
    qc.p(0.3, 2)
    qc.cz(5, 6)
    qc.y(5)
    return qc, list(theta)


def test_every_step_kind_matches_statevector(monkeypatch):
    qc, _ = _every_gate_circuit()
    rng = np.random.default_rng(11)
    rows = rng.uniform(0, 2 * np.pi, size=(5, qc.num_parameters))
    obs = SparsePauliOp.from_list([("XIZIYIIZI", 0.7), ("ZZZZZZZZZ", -0.4), ("IIIIIIIIY", 1.1)])
    monkeypatch.setattr(fused, "_CHUNK_AMPLITUDES", 2 * 2**N)  # 3 chunks: the threads share them
    values = fused.evaluate(qc, [exact_plan(obs)], rows)
    assert values is not None
    ordered = list(qc.parameters)
    for b in range(rows.shape[0]):
        bound = qc.assign_parameters(dict(zip(ordered, rows[b], strict=True)))
        expected = Statevector(bound).expectation_value(obs).real
        assert values[0, b] == pytest.approx(expected, abs=1e-12)


def test_what_it_cannot_do_it_leaves_to_aer():
    a = Parameter("a")
    rows = np.array([[0.4]])
    plan = [exact_plan(SparsePauliOp("Z" * N))]
    expression = QuantumCircuit(N)
    expression.rz(a + np.pi, 0)
    foreign = QuantumCircuit(N)
    foreign.rx(a, 0)
    foreign.ccx(0, 1, 2)
    assert fused.evaluate(expression, plan, rows) is None
    assert fused.evaluate(foreign, plan, rows) is None
    assert not fused.worth_it(QuantumCircuit(fused.MIN_QUBITS - 1))
    assert not fused.worth_it(QuantumCircuit(fused.MAX_QUBITS + 1))


def test_a_narrow_light_cone_stays_with_aer(monkeypatch):
    """Z0 Z1 after one layer reaches three qubits: Aer simulates those alone, this pass would
    simulate all twelve, so it is not asked."""
    used = _spy(monkeypatch)
    _run({"ansatz": "mcclean", "layers": 1}, {"kind": "zz"}, qubits=12)
    assert used == []


def test_the_blocks_cover_the_register():
    for n in range(1, 25):
        sizes = blocks.blocks(n)
        assert sum(sizes) == n and max(sizes) <= 4 and max(sizes) - min(sizes) <= 1


def test_blas_threads_are_left_as_they_were():
    setter = blocks._blas_thread_setter()
    if setter is None:
        pytest.skip("numpy here carries no OpenBLAS with per-thread counts")
    before = setter(3)
    setter(before)
    qc, _ = _every_gate_circuit()
    rows = np.zeros((4, qc.num_parameters))
    fused.evaluate(qc, [exact_plan(SparsePauliOp("Z" * N))], rows)
    assert setter(before) == before


def test_a_worker_keeps_to_its_share_of_the_cores(monkeypatch):
    """Pool and Dask workers get OMP_NUM_THREADS (execution/executors.py); the pass keeps to it."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert blocks.thread_budget() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "")
    assert blocks.thread_budget() >= 1
