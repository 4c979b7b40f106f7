"""Wide studies: matrix-product states at n = 50 and 100, and the checks that refuse what
cannot fit, naming the cell and the limit.

Oracles:
- the seed circuit's cost factorises. The CZ chain is diagonal and leaves |0...0> alone, so
  <psi| CZ P0 CZ |psi> = |<0...0|psi>|^2 = prod_q p_q with p_q = |<0| R_q RY(pi/4) |0>|^2.
  Each gradient is then (prod of the other p_q) * dp_last / dtheta, computed here with 2 x 2
  matrices, not through any bp_qiskit or Qiskit code;
- ln g^2 is a sum of n independent terms, so its sample mean is close to normal and is
  checked against quadrature within 3 SE (the variance itself is too heavy-tailed at n = 50
  for its sample SE to mean anything, see jobs/seed_mps.toml);
- the alternating layered local cost against Pauli propagation's exact prediction.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bp_qiskit import StudySpec
from bp_qiskit.cli import main
from bp_qiskit.errors import SpecError
from bp_qiskit.execution.checks import check_resources, mps_bond_bits, mps_bytes

ROOT = Path(__file__).resolve().parent.parent

_PAULIS = [
    np.array([[0, 1], [1, 0]], dtype=complex),
    np.array([[0, -1j], [1j, 0]]),
    np.diag([1.0, -1.0]).astype(complex),
]
_START = np.array([np.cos(np.pi / 8), np.sin(np.pi / 8)], dtype=complex)  # RY(pi/4)|0>


def _rotation(k: int, t: float) -> np.ndarray:
    return np.cos(t / 2) * np.eye(2) - 1j * np.sin(t / 2) * _PAULIS[k]


def _amplitude(k: int, t: float) -> tuple[complex, complex]:
    """<0|R_k(t) RY(pi/4)|0> and its derivative in t."""
    r = _rotation(k, t)
    return (r @ _START)[0], ((-0.5j * _PAULIS[k] @ r) @ _START)[0]


def _seed_gradient(gates: np.ndarray, thetas: np.ndarray) -> tuple[float, float]:
    """The closed-form gradient of the last angle (see the module docstring), and its scale:
    the product of the other factors, which bounds both shifted costs. A parameter-shift
    difference of two such costs is exact to about 1e-16 of that scale, not of g."""
    p = [abs(_amplitude(int(k), float(t))[0]) ** 2 for k, t in zip(gates, thetas, strict=True)]
    a, da = _amplitude(int(gates[-1]), float(thetas[-1]))
    rest = float(np.prod(p[:-1]))
    return rest * 2 * float(np.real(np.conj(a) * da)), rest


def _quadrature_mean(f, points: int = 1 << 21) -> float:
    """Mean over theta ~ U[0, 2pi) by the midpoint rule (the log singularities are
    integrable; at 2^21 points the rule is good to about 1e-5)."""
    t = (np.arange(points) + 0.5) * (2 * np.pi / points)
    return float(np.mean(f(t)))


def _expected_mean_log_g2(n: int) -> float:
    """E[ln g^2] given that the last gate is RX or RY (an RZ last gives g = 0 exactly)."""
    c, s = np.cos(np.pi / 8), np.sin(np.pi / 8)
    # p(theta) and dp/dtheta for RX, RY, RZ acting on RY(pi/4)|0>, in closed form.
    p = [
        lambda t: np.cos(t / 2) ** 2 * c**2 + np.sin(t / 2) ** 2 * s**2,
        lambda t: np.cos((t + np.pi / 4) / 2) ** 2,
        lambda t: np.full_like(t, c**2),
    ]
    dp = [
        lambda t: -0.5 * np.sin(t) * (c**2 - s**2),
        lambda t: -0.5 * np.sin(t + np.pi / 4),
    ]
    log_p = np.mean([_quadrature_mean(lambda t, f=f: np.log(f(t))) for f in p])
    log_dp2 = np.mean([_quadrature_mean(lambda t, f=f: np.log(f(t) ** 2)) for f in dp])
    # g^2 = (prod of the other n - 1 p's)^2 * dp^2
    return float(2 * (n - 1) * log_p + log_dp2)


def test_the_closed_form_matches_a_dense_statevector_at_small_n():
    """The oracle itself, against Qiskit's Statevector on the literal circuit (n = 5)."""
    from qiskit.quantum_info import Statevector

    from bp_qiskit.core.circuits import build_circuit

    rng = np.random.default_rng(3)
    gates = rng.integers(0, 2, size=(1, 5)).astype(np.int8)  # RX/RY only: g != 0
    thetas = rng.uniform(0, 2 * np.pi, 5)
    qc = build_circuit(gates, ansatz="seed")

    def cost(values: np.ndarray) -> float:
        return float(abs(Statevector(qc.assign_parameters(values)).data[0]) ** 2)

    shift = np.zeros(5)
    shift[-1] = np.pi / 2
    exact = (cost(thetas + shift) - cost(thetas - shift)) / 2
    assert _seed_gradient(gates[0], thetas)[0] == pytest.approx(exact, rel=1e-12)


@pytest.mark.slow
def test_seed_mps_at_50_and_100_qubits_gives_every_gradient_and_the_log_moment(tmp_path):
    """``jobs/seed_mps.toml`` as shipped: each gradient to the closed form (1e-10 of its
    costs' scale), and the mean of ln g^2 within 3 SE of its exact value."""
    out = tmp_path / "out"
    args = ["run", str(ROOT / "jobs" / "seed_mps.toml"), "--store", str(tmp_path / "s.sqlite")]
    assert main([*args, "--out", str(out), "--no-progress", "--no-plot"]) == 0
    data = np.load(out / "samples.npz")
    for n in (50, 100):
        gates = data[f"gates_{n}_1"].reshape(200, n)
        thetas, grads = data[f"params_{n}_1"], data[f"grads_{n}_1"]
        exact, scale = np.array(
            [_seed_gradient(g, t) for g, t in zip(gates, thetas, strict=True)]
        ).T
        moving = gates[:, -1] != 2  # RZ last: the cost does not depend on the angle
        assert np.all(exact[~moving] == 0.0)
        ratio = np.abs(grads - exact) / scale
        assert np.max(ratio) <= 1e-10, (np.argmax(ratio), np.max(ratio), gates[np.argmax(ratio)])
        # and, where the gradient is not tiny against its costs, to 1e-9 of itself
        big = moving & (np.abs(exact) > 1e-3 * scale)
        assert big.sum() > 100
        np.testing.assert_allclose(grads[big], exact[big], rtol=1e-9, atol=0)
        logs = np.log(grads[moving] ** 2)
        se = logs.std(ddof=1) / np.sqrt(len(logs))
        assert abs(logs.mean() - _expected_mean_log_g2(n)) < 3 * se, (n, logs.mean(), se)


@pytest.mark.slow
def test_alternating_mps_local_cost_at_50_qubits_agrees_with_the_prediction(tmp_path):
    """``jobs/alternating_mps.toml`` run as its comment says (``--predict``): |z| < 3."""
    out = tmp_path / "out"
    args = ["run", str(ROOT / "jobs" / "alternating_mps.toml"), "--predict"]
    args += ["--store", str(tmp_path / "s.sqlite"), "--out", str(out), "--no-progress"]
    assert main(args) == 0
    (cell,) = json.loads((out / "results.json").read_text())["cells"]
    assert cell["num_qubits"] == 50 and cell["predicted_method"] == "exact"
    se = np.hypot(cell["grad_var_se"], cell["predicted_grad_var_se"] or 0.0)
    assert abs(cell["grad_var"] - cell["predicted_grad_var"]) < 3 * se
    assert (out / "variance.png").read_bytes()[:4] == b"\x89PNG"


def test_mps_bond_bound_follows_the_two_qubit_gates():
    from qiskit import QuantumCircuit

    chain = QuantumCircuit(6)
    for q in range(5):
        chain.cz(q, q + 1)
    assert mps_bond_bits(chain) == [1, 1, 1, 1, 1]
    wide = QuantumCircuit(6)
    wide.swap(0, 5)  # rank 4 across every cut, capped by each side's dimension
    assert mps_bond_bits(wide) == [1, 2, 2, 2, 1]
    deep = QuantumCircuit(6)
    for _ in range(10):
        for q in range(5):
            deep.cz(q, q + 1)
    assert mps_bond_bits(deep) == [1, 2, 3, 2, 1]
    # bytes: site i holds 2 x chi_i x chi_(i+1) amplitudes of 16 bytes
    assert mps_bytes(chain)[0] == 32 * (2 + 4 + 4 + 4 + 4 + 2)


def _spec(**backend) -> StudySpec:
    return StudySpec.from_dict(
        {
            "circuit": {"ansatz": "mcclean", "layers": 200, "qubits": [60]},
            "observable": {"kind": "local"},
            "sampling": {"samples": 4},
            "backend": {"name": "aer", **backend},
        }
    )


def test_a_deep_wide_mps_cell_is_refused_with_the_cell_and_the_limit():
    spec = _spec(options={"method": "matrix_product_state"})
    message = (
        r"the cell n = 60, L = 200 can need .* GiB for a matrix-product state \(bond "
        r"dimension up to 2\^30\); the limit"
    )
    with pytest.raises(SpecError, match=message):
        check_resources(spec, memory_bytes=4 << 30)


def test_a_statevector_too_large_points_to_the_mps_method():
    message = r"n = 60, L = 200 needs .* for a statevector on aer; the limit is 4\.0 GiB .*mat"
    with pytest.raises(SpecError, match=message):
        check_resources(_spec(), memory_bytes=4 << 30)


def test_mps_and_device_are_aer_options_only():
    with pytest.raises(
        SpecError, match=r"backend\.options\.method: got it with backend 'statevector'"
    ):
        StudySpec.from_dict(
            {"backend": {"name": "statevector", "options": {"method": "matrix_product_state"}}}
        )
    with pytest.raises(SpecError, match=r"backend\.options\.method: got 'tensor'; allowed: "):
        StudySpec.from_dict({"backend": {"name": "aer", "options": {"method": "tensor"}}})
    with pytest.raises(SpecError, match=r"method: got 'matrix_product_state' with depolarizing"):
        StudySpec.from_dict(
            {
                "backend": {
                    "name": "aer",
                    "options": {"method": "matrix_product_state", "depolarizing": [0.01, 0.02]},
                }
            }
        )


def _has_gpu() -> bool:
    from qiskit_aer import AerSimulator

    return "GPU" in AerSimulator().available_devices()


@pytest.mark.skipif(_has_gpu(), reason="this Aer has a GPU: the refusal cannot happen here")
def test_gpu_without_a_gpu_aer_is_refused_before_the_study_exists(tmp_path, capsys):
    spec = tmp_path / "gpu.toml"
    spec.write_text(
        '[circuit]\nqubits = [2]\n[backend]\nname = "aer"\noptions = {device = "GPU"}\n'
    )
    assert main(["run", str(spec), "--store", str(tmp_path / "s.sqlite"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "backend.options.device: got 'GPU'; this qiskit-aer offers CPU only" in err
    assert "qiskit-aer-gpu" in err and err.count("\n") == 1
    if (tmp_path / "s.sqlite").exists():
        from bp_qiskit.store import SQLiteStore

        assert SQLiteStore(tmp_path / "s.sqlite").list_studies() == []


@pytest.mark.skipif(not _has_gpu(), reason="no GPU here (qiskit-aer-gpu and an NVIDIA GPU)")
def test_gpu_gives_the_cpu_values():  # pragma: no cover - runs only where a GPU exists
    from bp_qiskit import run_study

    data = {"circuit": {"qubits": [4, 6]}, "sampling": {"samples": 20}}
    cpu = run_study(StudySpec.from_dict(data), progress=False)
    data["backend"] = {"name": "aer", "options": {"device": "GPU"}}
    gpu = run_study(StudySpec.from_dict(data), progress=False)
    for a, b in zip(cpu.data, gpu.data, strict=True):
        np.testing.assert_allclose(a.grads, b.grads, atol=1e-10)


def test_peak_memory_is_measured_per_block():
    """A block that allocates 200 MiB peaks above it; the next, small block does not (the
    high-water mark is reset between blocks where Linux allows it)."""
    from bp_qiskit.execution import memory

    if not memory._reset():
        pytest.skip("this kernel does not let a process reset its peak memory")
    with memory.peak_memory() as big:
        block = np.ones(200 << 17)  # 200 MiB of float64
        del block
    with memory.peak_memory() as small:
        np.ones(1 << 10)
    assert big.bytes - small.bytes > 150 << 20


def test_resources_json_records_each_cells_peak_memory_and_report_keeps_it(tmp_path):
    """A 22-qubit statevector is 64 MiB: the recorded peak must hold it, and stays what was
    measured when the study is reported again (it is stored with the jobs)."""
    out, again = tmp_path / "out", tmp_path / "again"
    store = ["--store", str(tmp_path / "s.sqlite"), "--no-progress", "--no-plot"]
    spec = str(ROOT / "jobs" / "seed_tutorial.toml")
    assert main(["run", spec, "--qubits", "4,22", "--samples", "4", "--out", str(out), *store]) == 0
    resources = json.loads((out / "resources.json").read_text())
    peaks = resources["peak_memory_mib"]
    assert set(peaks) == {"4_1", "22_1"}
    assert 16 * 2**22 / 2**20 <= peaks["22_1"] < 4096
    assert resources["peak_memory_mib_max"] == max(peaks.values())
    assert main(["report", "seed_tutorial", "--out", str(again), *store[:2]]) == 0
    for name in ("results.json", "resources.json"):
        assert (again / name).read_bytes() == (out / name).read_bytes()
    assert "peak_memory" not in (out / "results.json").read_text()
