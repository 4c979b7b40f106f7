"""Gradient addressing by [layer, position], and the variance of every parameter."""

import numpy as np
import pytest

from bp_qiskit import StudySpec, run_study
from bp_qiskit.core.gradients import parameter_indices
from bp_qiskit.spec import SpecError


def test_layer_position_names_the_same_gate_at_every_n():
    for n, layers in ((3, 4), (5, 4), (8, 2)):
        assert list(parameter_indices([-1, 0], n * layers, layers)) == [(layers - 1) * n]
        assert list(parameter_indices([0, -1], n * layers, layers)) == [n - 1]
        assert list(parameter_indices([1, 2], n * layers, layers)) == [n + 2]
    with pytest.raises(ValueError, match=r"\[layer, position\] = \[4, 0\] out of range"):
        parameter_indices([4, 0], 12, 4)


def test_a_layer_position_study_differentiates_that_gate():
    base = {"circuit": {"ansatz": "mcclean", "layers": 3, "qubits": [3, 4]},
            "observable": {"kind": "zz"}, "sampling": {"samples": 20}}  # fmt: skip
    by_address = run_study(
        StudySpec.from_dict({**base, "gradient": {"parameter": [-1, 1]}}), progress=False
    )
    everything = run_study(
        # the shift path, whose pairs are the single-parameter study's bit for bit
        StudySpec.from_dict({**base, "gradient": {"parameter": "all", "method": "shift"}}),
        progress=False,
    )
    for one, every in zip(by_address.data, everything.data, strict=True):
        n = one.cell.num_qubits
        np.testing.assert_array_equal(one.grads[:, 0], every.grads[:, 2 * n + 1])
    with pytest.raises(SpecError, match=r"gradient\.parameter: got \[0, 4\].*at n=3"):
        StudySpec.from_dict({**base, "gradient": {"parameter": [0, 4]}})
    with pytest.raises(SpecError, match=r"gradient\.parameter: got \[0, 'x'\]"):
        StudySpec.from_dict({**base, "gradient": {"parameter": [0, "x"]}})


def test_all_parameters_report_each_variance_and_draw_them(tmp_path):
    from bp_qiskit.report import write_outputs

    spec = StudySpec.from_dict(
        {
            "circuit": {"ansatz": "mcclean", "layers": 2, "qubits": [3, 4]},
            "gradient": {"parameter": "all"},
            "sampling": {"samples": 30},
        }
    )
    outcome = run_study(spec, progress=False)
    for cell, data in zip(outcome.result.cells, outcome.data, strict=True):
        assert len(cell.grad_var_params) == 2 * cell.num_qubits
        np.testing.assert_allclose(cell.grad_var_params, np.var(data.grads, axis=0, ddof=1))
        assert cell.grad_var == pytest.approx(np.mean(cell.grad_var_params))
    paths = write_outputs(tmp_path, outcome)
    assert tmp_path / "parameters.png" in paths
    assert (tmp_path / "parameters.png").read_bytes()[:4] == b"\x89PNG"
