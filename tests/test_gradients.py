import numpy as np
import pytest
from qiskit.primitives import StatevectorEstimator
from qiskit.quantum_info import Statevector

from bp_qiskit.backends import ExpectationTask, make_backend
from bp_qiskit.core.circuits import build_circuit, draw_samples, template_circuit, template_values
from bp_qiskit.core.gradients import (
    combine_shifts,
    parameter_indices,
    shift_parameters,
    shot_noise_variance,
)
from bp_qiskit.core.observables import global_projector, local_cost, pauli_sum, to_pauli_op, zz

SEED = 2019
FD_STEP = 1e-4
FD_TOL = 1e-6  # central differences: O(h^2) truncation ~1e-8, roundoff ~1e-12
SV_TOL = 1e-10

OBSERVABLES = {
    "global": global_projector,
    "zz": zz,
    "local": local_cost,
    "pauli": lambda n: pauli_sum(["X0 Y1", "Z2", "Z0 Z1 Z2"], [0.5, -1.0, 0.8], n),
}


def _expectation(qc, obs, params):
    return float(np.real(Statevector(qc.assign_parameters(params)).expectation_value(obs)))


@pytest.mark.parametrize("ansatz,layers", [("mcclean", 2), ("identity_blocks", 2)])
@pytest.mark.parametrize("name", OBSERVABLES)
def test_all_parameter_shift_gradients_match_finite_differences_and_statevector(
    name, ansatz, layers
):
    n, samples = 3, 3
    obs = OBSERVABLES[name](n)
    cs = draw_samples(np.random.default_rng(SEED), samples, n, layers, ansatz=ansatz)
    idx = parameter_indices("all", n * layers)
    shifted = shift_parameters(cs.params, idx)
    tmpl = template_circuit(n, layers, ansatz=ansatz)
    task = ExpectationTask(tmpl, obs, template_values(cs.gates, shifted))
    (ev,) = make_backend("aer").evaluate([task])
    grads = combine_shifts(ev.evs)
    assert grads.shape == (samples, n * layers)

    pauli = to_pauli_op(obs)
    for s in range(samples):
        lit = build_circuit(cs.gates[s], ansatz=ansatz)
        fd = []
        for k in range(n * layers):
            e = np.zeros(n * layers)
            e[k] = FD_STEP
            fd.append(
                (
                    _expectation(lit, pauli, cs.params[s] + e)
                    - _expectation(lit, pauli, cs.params[s] - e)
                )
                / (2 * FD_STEP)
            )
        np.testing.assert_allclose(grads[s], fd, atol=FD_TOL)

        # Independent implementation: qiskit's StatevectorEstimator on the literal circuit.
        lit_shifts = shift_parameters(cs.params[s : s + 1], idx)[0]
        sv = StatevectorEstimator().run([(lit, pauli, lit_shifts)]).result()[0].data.evs
        np.testing.assert_allclose(grads[s], combine_shifts(sv), atol=SV_TOL)


@pytest.mark.parametrize("backend", ["statevector", "aer_estimator"])
def test_backends_agree_through_the_common_interface(backend):
    n, layers = 3, 2
    cs = draw_samples(np.random.default_rng(SEED), 5, n, layers)
    tmpl = template_circuit(n, layers)
    vals = template_values(cs.gates, shift_parameters(cs.params, parameter_indices("last", 6)))
    task = ExpectationTask(tmpl, global_projector(n), vals)
    (ref,) = make_backend("aer").evaluate([task])
    (other,) = make_backend(backend).evaluate([task])
    np.testing.assert_allclose(other.evs, ref.evs, atol=SV_TOL)
    assert ref.evs.shape == (5, 1, 2)


def test_exact_only_backends_refuse_shots():
    tmpl = template_circuit(2, 1)
    task = ExpectationTask(tmpl, zz(2), np.zeros((1, 6)), shots=100)
    with pytest.raises(ValueError, match="shots: backend 'aer_estimator' evaluates exactly only"):
        make_backend("aer_estimator").evaluate([task])


def test_shift_array_layout():
    params = np.arange(6.0).reshape(2, 3)
    out = shift_parameters(params, np.array([0, 2]))
    assert out.shape == (2, 2, 2, 3)
    np.testing.assert_allclose(out[1, 1, 0], [3, 4, 5 + np.pi / 2])
    np.testing.assert_allclose(out[1, 1, 1], [3, 4, 5 - np.pi / 2])
    np.testing.assert_allclose(out[0, 0, 0], [np.pi / 2, 1, 2])
    assert list(parameter_indices("last", 5)) == [4]
    assert list(parameter_indices(-2, 5)) == [3]
    with pytest.raises(ValueError, match="allowed: \\[-5, 4\\]"):
        parameter_indices(5, 5)
    np.testing.assert_allclose(combine_shifts(np.array([[3.0, 1.0]])), [1.0])
    np.testing.assert_allclose(shot_noise_variance(np.array([[0.2, 0.4]])), [0.05])
