"""Every circuit of the grammar, per sample, against an independent numpy statevector.

The reference below shares no code with bp_qiskit or Qiskit's circuits: it builds each
gate as a matrix (exp(-i t P / 2) = cos(t/2) I - i sin(t/2) P, CZ and CX as permutations and
phases), follows the grammar as documented in bp_qiskit/core/grammar.py, and differentiates
by the shift rule on its own statevectors.
"""

import math

import numpy as np
import pytest

from bp_qiskit import StudySpec, run_study

PAULI = {
    "I": np.eye(2),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]]),
    "Z": np.diag([1.0 + 0j, -1.0]),
}


def operator(n, letters):
    """Kronecker product; ``letters[q]`` acts on qubit q (qubit 0 is the least significant)."""
    out = np.array([[1.0 + 0j]])
    for q in reversed(range(n)):
        out = np.kron(out, PAULI[letters.get(q, "I")])
    return out


def rotation(n, generator, qubits, angle):
    p = operator(n, dict(zip(qubits, generator, strict=True)))
    return math.cos(angle / 2) * np.eye(2**n) - 1j * math.sin(angle / 2) * p


def controlled_z(n, a, b):
    return np.diag([(-1.0) ** ((i >> a & 1) * (i >> b & 1)) for i in range(2**n)]).astype(complex)


def controlled_x(n, c, t):
    m = np.zeros((2**n, 2**n), dtype=complex)
    for i in range(2**n):
        m[i ^ (1 << t) if i >> c & 1 else i, i] = 1
    return m


def reference_state(n, layers, grammar, codes, angles):
    initial, rotations, random_set, entangler = grammar
    psi = np.zeros(2**n, dtype=complex)
    psi[0] = 1
    for q in range(n):
        if initial == "ry_pi4":
            psi = rotation(n, "Y", (q,), math.pi / 4) @ psi
        elif initial == "h":
            h = (operator(n, {q: "X"}) + operator(n, {q: "Z"})) / math.sqrt(2)
            psi = h @ psi
    k = 0
    for layer in range(layers):
        for g in rotations:
            width = 1 if g == "random" else len(g)
            for q in range(n - width + 1):
                gen = random_set[codes[layer, q]] if g == "random" else g
                psi = rotation(n, gen, tuple(range(q, q + width)), angles[k]) @ psi
                k += 1
        pairs = {"cz_ladder": range(n - 1), "cx_chain": range(n - 1),
                 "cz_brick": range(layer % 2, n - 1, 2), "none": ()}[entangler]  # fmt: skip
        for q in pairs:
            gate = (
                controlled_x(n, q, q + 1) if entangler == "cx_chain" else controlled_z(n, q, q + 1)
            )
            psi = gate @ psi
    assert k == len(angles)
    return psi


XYZ = ("X", "Y", "Z")
CASES = {
    # preset name or explicit grammar keys -> (initial, rotations, random_set, entangler)
    "product": ({"ansatz": "product"}, ("ry_pi4", ("random",), XYZ, "none")),
    "hardware_efficient": (
        {"ansatz": "hardware_efficient"},
        ("none", ("Y", "Z"), XYZ, "cz_ladder"),
    ),
    "alternating_layered": ({"ansatz": "alternating_layered"}, ("none", ("Y",), XYZ, "cz_brick")),
    "matchgate": ({"ansatz": "matchgate"}, ("h", ("Z", "XX", "YY"), XYZ, "none")),
    "explicit": (
        {"ansatz": "mcclean", "initial": "h", "rotations": ["random", "XZ"],
         "random_set": ["X", "Y"], "entangler": "cx_chain"},
        ("h", ("random", "XZ"), ("X", "Y"), "cx_chain"),
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_every_sample_matches_the_independent_statevector(name):
    keys, grammar = CASES[name]
    n, layers = 3, 2
    spec = StudySpec.from_dict(
        {
            "circuit": {**keys, "layers": layers, "qubits": [n]},
            "observable": {
                "kind": "pauli",
                "terms": ["Z0 Z1", "X2", "Y0 Z2"],
                "coeffs": [1.0, 0.5, -0.3],
            },
            "gradient": {"parameter": "all"},
            "sampling": {"samples": 3},
        }
    )
    (data,) = run_study(spec, progress=False).data
    obs = (
        operator(n, {0: "Z", 1: "Z"})
        + 0.5 * operator(n, {2: "X"})
        - 0.3 * operator(n, {0: "Y", 2: "Z"})
    )

    def cost(codes, angles):
        psi = reference_state(n, layers, grammar, codes, angles)
        return float(np.real(psi.conj() @ obs @ psi))

    num_params = data.params.shape[1]
    for s in range(3):
        for k in range(num_params):
            up, down = data.params[s].copy(), data.params[s].copy()
            up[k] += math.pi / 2
            down[k] -= math.pi / 2
            want = (cost(data.gates[s], up) - cost(data.gates[s], down)) / 2
            assert abs(data.grads[s, k] - want) < 1e-10, (name, s, k)
        first_up = data.params[s].copy()
        first_up[0] += math.pi / 2
        assert abs(data.costs[s] - cost(data.gates[s], first_up)) < 1e-10


def test_random_positions_use_every_gate_of_the_set_and_only_those():
    spec = StudySpec.from_dict(
        {
            "circuit": {"ansatz": "product", "random_set": ["X", "Z"], "layers": 3, "qubits": [4]},
            "sampling": {"samples": 200},
        }
    )
    (data,) = run_study(spec, progress=False).data
    assert data.gates.shape == (200, 3, 4)
    assert set(np.unique(data.gates)) == {0, 1}  # indices into ["X", "Z"]


@pytest.mark.parametrize(
    ("circuit", "message"),
    [
        ({"ansatz": "product", "entangler": "ring"}, "circuit.entangler: got 'ring'"),
        ({"ansatz": "product", "initial": "plus"}, "circuit.initial: got 'plus'"),
        ({"ansatz": "product", "rotations": ["XYZ"]}, "circuit.rotations: got 'XYZ'"),
        ({"ansatz": "product", "random_set": ["XX"]}, "circuit.random_set: got"),
        ({"ansatz": "identity_blocks", "layers": 2, "entangler": "none"}, "circuit.entangler"),
        ({"ansatz": "nope"}, "circuit.ansatz: got 'nope'; allowed: seed, mcclean"),
    ],
)
def test_bad_grammar_keys_are_one_line_errors(circuit, message):
    from bp_qiskit.spec import SpecError

    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace("[", r"\[")):
        StudySpec.from_dict({"circuit": {"qubits": [2], **circuit}})


def test_presets_round_trip_and_plain_specs_keep_their_keys():
    plain = StudySpec.from_dict({"circuit": {"ansatz": "mcclean", "layers": 2}}).to_dict()
    assert set(plain["circuit"]) == {"ansatz", "layers", "qubits", "angles"}
    for keys, _ in CASES.values():
        spec = StudySpec.from_dict({"circuit": {**keys, "layers": 2}})
        assert StudySpec.from_dict(spec.to_dict()) == spec
