"""What adding a thing touches, traced (docs/architecture.md, "Where to change what").

A backend with its options is one registry line: the spec, its errors and make_backend follow
from the entry alone, with nothing edited in the spec layer.
"""

import dataclasses

import pytest

from bp_qiskit import StudySpec, run_study
from bp_qiskit.backends import registry
from bp_qiskit.errors import SpecError


def test_a_backend_with_its_options_is_one_registry_line(monkeypatch):
    aer = registry.entry_of("aer")
    toy = dataclasses.replace(aer, form="toy", summary="a toy", options=("method",))
    monkeypatch.setattr(registry, "REGISTRY", (*registry.REGISTRY, toy))
    monkeypatch.setattr(registry, "BACKEND_FORMS", (*registry.BACKEND_FORMS, "toy"))
    spec = StudySpec.from_dict(
        {
            "backend": {"name": "toy", "options": {"method": "statevector"}},
            "circuit": {"qubits": [2]},
            "sampling": {"samples": 4},
        }
    )
    (cell,) = run_study(spec, progress=False).result.cells
    assert cell.samples == 4
    # The options it does not list are refused, naming the backends that take them.
    with pytest.raises(SpecError, match=r"backend.options.depolarizing: got it with backend 'toy'"):
        StudySpec.from_dict({"backend": {"name": "toy", "options": {"depolarizing": [0.1, 0.1]}}})
    with pytest.raises(SpecError, match=r"allowed: backends 'aer' and 'toy' only"):
        StudySpec.from_dict(
            {"backend": {"name": "statevector", "options": {"method": "statevector"}}}
        )


def test_expanding_the_projector_is_refused_by_capability_not_by_name():
    # Every backend without native projectors, the runtime's local mode too (it was missed
    # when the check listed names): the global cost at n = 15 would be 2^15 Pauli terms.
    from bp_qiskit.execution.checks import check_resources

    for name, shots in (("statevector", 0), ("aer_estimator", 0), ("fake:guadalupe", 100)):
        spec = StudySpec.from_dict(
            {"backend": {"name": name}, "circuit": {"qubits": [15]}, "sampling": {"shots": shots}}
        )
        with pytest.raises(SpecError, match=r"2\^15 Pauli terms"):
            check_resources(spec)
    check_resources(StudySpec.from_dict({"circuit": {"qubits": [15]}}))  # aer: native
