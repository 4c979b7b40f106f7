import json
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
    ({"circuit": {"ansatz": "identity_blocks", "layers": 3}}, "circuit.layers", "a multiple of 2"),
    ({"circuit": {"qubits": "6-2"}}, "circuit.qubits", "ascend"),
    ({"circuit": {"qubits": [0, 2]}}, "circuit.qubits", "[1, 1000]"),
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


def test_layers_as_a_depth_axis():
    from bp_qiskit.execution import plan_cells
    from bp_qiskit.results import Cell

    spec = make(circuit={"ansatz": "mcclean", "layers": [2, "1n", 8], "qubits": [2, 4]})
    assert spec.circuit.layers == (2, "1n", 8)
    assert spec.circuit.layer_counts(2) == (2, 8)  # 1n = 2 at n = 2: one cell, not two
    assert spec.circuit.layer_counts(4) == (2, 4, 8)
    assert plan_cells(spec) == [Cell(2, 2), Cell(2, 8), Cell(4, 2), Cell(4, 4), Cell(4, 8)]
    assert StudySpec.from_dict(spec.to_dict()) == spec
    assert spec.to_dict()["circuit"]["layers"] == [2, "1n", 8]
    with pytest.raises(SpecError, match=r"circuit\.layers: got .*one layer count here"):
        spec.circuit.num_layers(4)
    for bad, allowed in (([], "a list of them"), ([2, 2], "distinct layer counts"),
                         ([1, 0], "an integer >= 1"), ([1, "x"], "'4n'")):  # fmt: skip
        with pytest.raises(SpecError, match=f"circuit.layers: got .*allowed: .*{allowed}"):
            make(circuit={"ansatz": "mcclean", "layers": bad, "qubits": [2]})
    with pytest.raises(
        SpecError, match=r"a multiple of 2 \(2 x block_depth\) layers for identity_blocks"
    ):
        make(circuit={"ansatz": "identity_blocks", "layers": [2, 3], "qubits": [2]})


def test_a_depth_axis_from_the_command_line_fits_each_curve(tmp_path, capsys):
    import json

    from bp_qiskit.cli import main

    spec = Path(__file__).resolve().parent.parent / "jobs" / "mcclean2018.toml"
    out = tmp_path / "o"
    args = ["run", str(spec), "--qubits", "2-4", "--layers", "1,3", "--samples", "30"]
    args += ["--store", str(tmp_path / "s.sqlite"), "--out", str(out), "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    data = json.loads((out / "results.json").read_text())
    assert [s["layers"] for s in data["series"]] == [1, 3]
    assert [len(s["fit"]["points"]) for s in data["series"]] == [3, 3]
    assert data["fit"] is None  # no fit across depths
    assert "L = 1:" in printed and "L = 3:" in printed and "predicted" in printed
    assert (out / "variance.png").read_bytes()[:4] == b"\x89PNG"


def test_several_costs_are_variants_on_the_same_circuits():
    data = {"study": {"name": "two", "seed": 3}, "circuit": {"qubits": [2, 3]},
            "observable": [{"kind": "global"}, {"kind": "local"}]}  # fmt: skip
    spec = StudySpec.from_dict(data)
    assert [c.kind for c in spec.observables] == ["global", "local"]
    assert StudySpec.from_dict(spec.to_dict()) == spec
    first, second = spec.variants()
    assert first.observable.kind == "global" and second.observable.kind == "local"
    assert second.study.name == "two-local" and second.study.seed == 3
    assert first.to_dict()["observable"] == {"kind": "global", "terms": [], "coeffs": []}
    with pytest.raises(SpecError, match=r"\[\[observable\]\]: got .*distinct costs"):
        StudySpec.from_dict({**data, "observable": [{"kind": "zz"}, {"kind": "zz"}]})
    with pytest.raises(SpecError, match="one cost in budget and adaptive studies"):
        StudySpec.from_dict({**data, "adaptive": {"target_rel_error": 0.1}})


def test_the_json_schema_takes_every_shipped_spec_and_refuses_what_load_spec_refuses(
    tmp_path, capsys
):
    """`bp-qiskit schema` (for editors) is generated from the sections: every spec in jobs/
    validates, and an unknown table, an unknown key, an option no backend takes and an
    unknown ansatz are refused by the schema as load_spec refuses them."""
    import jsonschema
    import tomllib

    from bp_qiskit.cli import main

    assert main(["schema", "--out", str(tmp_path / "schema.json")]) == 0
    assert capsys.readouterr().out.startswith("wrote ")
    schema = json.loads((tmp_path / "schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    root = Path(__file__).resolve().parent.parent
    for path in sorted((root / "jobs").glob("*.toml")):
        data = tomllib.loads(path.read_text())
        assert not list(validator.iter_errors(data)), path.name
    base = tomllib.loads((root / "jobs" / "seed_tutorial.toml").read_text())
    bad = [
        {**base, "sampler": {"samples": 3}},
        {**base, "sampling": {**base["sampling"], "sample": 3}},
        {**base, "backend": {"name": "aer", "options": {"zne_factor": 3}}},
        {**base, "circuit": {**base["circuit"], "ansatz": "mclean"}},
    ]
    for data in bad:
        assert list(validator.iter_errors(data)), data
        path = tmp_path / "bad.toml"
        path.write_text(_toml(data))
        with pytest.raises(SpecError):
            load_spec(path)
    names = schema["properties"]["backend"]["properties"]["options"]["properties"]
    assert {"depolarizing", "resilience_level", "job_seconds"} <= set(names)
    assert main(["schema"]) == 0 and json.loads(capsys.readouterr().out) == schema


def _toml(data):
    """A TOML text of nested tables of scalars and lists (enough for the specs above)."""
    lines = []
    for table, keys in data.items():
        scalars = {k: v for k, v in keys.items() if not isinstance(v, dict)}
        lines.append(f"[{table}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in scalars.items()]
        for sub, inner in ((k, v) for k, v in keys.items() if isinstance(v, dict)):
            lines.append(f"[{table}.{sub}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in inner.items()]
    return "\n".join(lines) + "\n"
