import math
from pathlib import Path

import pytest

from bp_qiskit.spec import SpecError, StudySpec, load_spec, parse_angle, parse_qubits

JOBS = Path(__file__).resolve().parent.parent / "jobs"


def make(**sections):
    return StudySpec.from_dict(sections)


@pytest.mark.parametrize("path", sorted(JOBS.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_spec_loads_and_round_trips(path):
    spec = load_spec(path)
    assert StudySpec.from_dict(spec.to_dict()) == spec


def test_seed_tutorial_matches_the_demo():
    spec = load_spec(JOBS / "seed_tutorial.toml")
    assert spec.circuit.qubits == (2, 3, 4, 5, 6)
    assert spec.sampling.samples == 200
    assert spec.circuit.angles == (0.0, 2 * math.pi)
    assert spec.gradient.parameter == "last"
    assert spec.observable.kind == "global"


# (sections, field named in the error, a fragment of the allowed values)
BAD = [
    ({"study": {"seed": -1}}, "study.seed", ">= 0"),
    ({"study": {"seed": "x"}}, "study.seed", "integer"),
    ({"study": {"name": "a b"}}, "study.name", "letters"),
    ({"circuit": {"ansatz": "qaoa"}}, "circuit.ansatz", "seed, mcclean, identity_blocks"),
    ({"circuit": {"layers": 0}}, "circuit.layers", ">= 1"),
    ({"circuit": {"ansatz": "mcclean", "layers": "4x"}}, "circuit.layers", "'4n'"),
    ({"circuit": {"ansatz": "seed", "layers": 3}}, "circuit.layers", "1 for ansatz 'seed'"),
    ({"circuit": {"ansatz": "identity_blocks", "layers": 3}}, "circuit.layers", "even"),
    ({"circuit": {"qubits": "6-2"}}, "circuit.qubits", "ascend"),
    ({"circuit": {"qubits": [0, 2]}}, "circuit.qubits", "[1, 32]"),
    ({"circuit": {"qubits": "two"}}, "circuit.qubits", "'2-6'"),
    ({"circuit": {"angles": [1, 0]}}, "circuit.angles", "low < high"),
    ({"circuit": {"angles": [0, "tau"]}}, "circuit.angles[1]", "multiple of pi"),
    ({"observable": {"kind": "energy"}}, "observable.kind", "global, zz, local, pauli"),
    ({"observable": {"kind": "pauli"}}, "observable.terms", "at least one"),
    ({"observable": {"kind": "pauli", "terms": ["Q0"]}}, "observable.terms", "'Z0'"),
    (
        {"observable": {"kind": "pauli", "terms": ["Z0"], "coeffs": [1, 2]}},
        "observable.coeffs",
        "1 numbers",
    ),
    ({"observable": {"kind": "global", "terms": ["Z0"]}}, "observable.terms", "kind = 'pauli'"),
    ({"observable": {"kind": "zz"}, "circuit": {"qubits": [1, 2]}}, "circuit.qubits", ">= 2"),
    ({"observable": {"kind": "pauli", "terms": ["Z5"]}}, "circuit.qubits", ">= 6"),
    ({"gradient": {"parameter": "middle"}}, "gradient.parameter", "'first', 'last', 'all'"),
    ({"gradient": {"parameter": 9}}, "gradient.parameter", "an index in"),
    ({"sampling": {"samples": 1}}, "sampling.samples", "in [2, 10000000]"),
    ({"sampling": {"samples": True}}, "sampling.samples", "integer"),
    ({"sampling": {"shots": -5}}, "sampling.shots", "in [0, 1000000000]"),
    ({"sampling": {"chunk": 0}}, "sampling.chunk", ">= 1"),
    ({"backend": {"name": "ibm"}}, "backend.name", "aer, statevector, aer_estimator"),
    ({"backend": {"name": "statevector"}, "sampling": {"shots": 10}}, "backend.name", "'aer'"),
]


@pytest.mark.parametrize(("sections", "field", "allowed"), BAD, ids=[b[1] for b in BAD])
def test_each_bad_field_gets_an_error_naming_it(sections, field, allowed):
    with pytest.raises(SpecError) as info:
        make(**sections)
    msg = str(info.value)
    assert msg.startswith(field), msg
    assert allowed in msg, msg


def test_unknown_sections_and_keys_list_the_allowed_ones():
    with pytest.raises(SpecError, match=r"unknown section\(s\) sampler; allowed sections: study"):
        make(sampler={})
    with pytest.raises(
        SpecError,
        match=r"\[sampling\]: unknown key\(s\) shot; allowed keys: "
        r"samples, shots, chunk",
    ):
        make(sampling={"shot": 3})


def test_load_spec_reports_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(SpecError, match=r"nope\.toml"):
        load_spec(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[study\nname=")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec(bad)


def test_angles_and_qubit_parsing():
    assert parse_angle("a", "2pi") == pytest.approx(2 * math.pi)
    assert parse_angle("a", "pi/2") == pytest.approx(math.pi / 2)
    assert parse_angle("a", "-pi") == pytest.approx(-math.pi)
    assert parse_angle("a", 1.5) == 1.5
    assert parse_qubits("q", "2-4,8") == (2, 3, 4, 8)
    assert parse_qubits("q", [5, 3]) == (3, 5)


def test_layers_per_qubit_and_overrides():
    spec = make(circuit={"ansatz": "mcclean", "layers": "4n", "qubits": [2, 3]})
    assert [spec.circuit.num_layers(n) for n in (2, 3)] == [8, 12]
    spec2 = spec.with_overrides(**{"sampling.samples": 50, "circuit.layers": 3, "study.seed": None})
    assert spec2.sampling.samples == 50 and spec2.circuit.num_layers(7) == 3
    assert spec2.study.seed == spec.study.seed
    with pytest.raises(SpecError, match=r"sampling\.samples"):
        spec.with_overrides(**{"sampling.samples": 0})
