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


def test_a_kind_with_a_new_output_is_its_part_and_its_writer(tmp_path, monkeypatch, capsys):
    """A new output needs its part type and one writer in report/parts.py: the output
    folder, the console and both exports pick it up without asking which kind ran; a part
    without a writer is refused by name, never silently left out."""
    import csv
    import dataclasses
    import io
    import json

    from bp_qiskit.cli.base import print_outcome
    from bp_qiskit.report import export_csv, export_json
    from bp_qiskit.report.parts import WRITERS, PartWriter
    from bp_qiskit.results import StudyOutcome

    @dataclasses.dataclass(frozen=True)
    class Scan:
        spec: dict
        values: tuple[float, ...]

    class ScanWriter(PartWriter):
        def files(self, part, outcome, out_dir, plots):
            path = out_dir / "scan.json"
            path.write_text(json.dumps(list(part.values)), encoding="utf-8")
            return [path]

        def table(self, part):
            return "scan: " + ", ".join(f"{v:.2f}" for v in part.values)

        def export(self, part):
            return {"scan": list(part.values)}

        def csv_rows(self, part, study_id, writer):
            writer.writerow(["study_id", "value"])
            writer.writerows([study_id, v] for v in part.values)
            return True

    outcome = StudyOutcome("s1", "scan", parts=(Scan({"study": {"name": "toy"}}, (0.5, 0.25)),))
    with pytest.raises(TypeError, match="no writer for outcome part Scan"):
        print_outcome(outcome, tmp_path / "refused", plots=False)
    monkeypatch.setitem(WRITERS, Scan, ScanWriter())
    assert print_outcome(outcome, tmp_path / "out", plots=False) == 0
    assert "scan: 0.50, 0.25" in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / "scan.json").read_text()) == [0.5, 0.25]
    stream = io.StringIO()
    export_json(outcome, stream)
    assert json.loads(stream.getvalue())["scan"] == [0.5, 0.25]
    stream = io.StringIO()
    export_csv(outcome, stream)
    assert list(csv.reader(io.StringIO(stream.getvalue())))[1] == ["s1", "0.5"]


def test_a_new_cost_kind_is_its_observable_and_is_measured_and_predicted(monkeypatch):
    """A cost kind is its name in OBSERVABLES and its branch of make_observable (both in
    core/observables.py): the spec accepts it, the backend measures it and the predictor
    reads it from that same observable, with nothing else edited. (The test patches the
    names each module imported; the edit itself is one file.)"""
    import math

    from qiskit.quantum_info import SparseObservable

    from bp_qiskit.core import observables
    from bp_qiskit.execution import families, predict_program
    from bp_qiskit.execution.predict import predict_cell
    from bp_qiskit.spec import sections

    kinds = (*observables.OBSERVABLES, "x_first")
    real = observables.make_observable

    def make(spec, n):  # the new branch: X on qubit 0
        if spec.kind == "x_first":
            return SparseObservable.from_sparse_list([("X", [0], 1.0)], n)
        return real(spec, n)

    monkeypatch.setattr(sections, "OBSERVABLES", kinds)
    for module in (observables, families, predict_program):
        monkeypatch.setattr(module, "make_observable", make)
    spec = StudySpec.from_dict({"circuit": {"ansatz": "product", "layers": 1, "qubits": [2]},
                                "observable": {"kind": "x_first"},
                                "gradient": {"parameter": "first"},
                                "sampling": {"samples": 400}})  # fmt: skip
    # RY(pi/4) gives the Bloch vector (a, 0, a), a = 1/sqrt(2); then a random rotation by t
    # on qubit 0, and <X>: RX leaves it a (derivative 0), RY makes it a (cos t + sin t)
    # (mean square derivative a^2 = 1/2), RZ makes it a cos t (a^2 / 2 = 1/4): Var[dC] = 1/4.
    predicted = predict_cell(spec, 2, 1)
    assert predicted.method == "exact"
    assert predicted.grad_var == pytest.approx(1 / 4, rel=1e-12)
    (cell,) = run_study(spec, progress=False).result.cells
    assert abs(cell.grad_var - 1 / 4) <= 3 * cell.grad_var_se and not math.isnan(cell.grad_var)
