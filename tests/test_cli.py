import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bp_qiskit.cli import main
from bp_qiskit.results import StudyResult, read_npz

ROOT = Path(__file__).resolve().parent.parent
SEED_SPEC = ROOT / "jobs" / "seed_tutorial.toml"


def run_cli(*args):
    return main(["run", str(SEED_SPEC), "--no-progress", *args])


def test_run_writes_the_three_files_with_the_documented_schema(tmp_path, capsys):
    assert run_cli("--out", str(tmp_path), "--samples", "30", "--qubits", "2-4") == 0
    out = capsys.readouterr().out
    assert "Var[grad]" in out and "fit over n=[2, 3, 4]" in out
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["spec"]["sampling"]["samples"] == 30
    assert [c["num_qubits"] for c in data["cells"]] == [2, 3, 4]
    for key in (
        "num_qubits",
        "num_layers",
        "samples",
        "shots",
        "grad_mean",
        "grad_var",
        "grad_var_se",
    ):
        assert key in data["cells"][0]
    assert set(data["fit"]) >= {"slope", "slope_se", "intercept"}
    arrays = read_npz(tmp_path / "samples.npz")
    assert arrays["gates_3_1"].dtype == np.int8 and arrays["gates_3_1"].shape == (30, 1, 3)
    assert arrays["params_3_1"].shape == (30, 3)
    assert arrays["grads_3_1"].shape == (30,)
    assert (tmp_path / "variance.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = StudyResult.from_json((tmp_path / "results.json").read_text())
    assert result.to_json().encode() == without_study_id(tmp_path / "results.json")
    # The stored gradients are the ones summarised.
    assert np.var(arrays["grads_3_1"], ddof=1) == pytest.approx(data["cells"][1]["grad_var"])


def test_same_seed_same_bytes_other_seed_other_draws(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert run_cli("--out", str(a), "--samples", "40", "--seed", "5") == 0
    assert run_cli("--out", str(b), "--samples", "40", "--seed", "5") == 0
    assert run_cli("--out", str(c), "--samples", "40", "--seed", "6") == 0
    assert (a / "samples.npz").read_bytes() == (b / "samples.npz").read_bytes()
    assert without_study_id(a / "results.json") == without_study_id(b / "results.json")
    assert (a / "samples.npz").read_bytes() != (c / "samples.npz").read_bytes()


def test_more_samples_extend_rather_than_redraw(tmp_path):
    """Chunks have their own streams: the first 250 samples do not change when S grows."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli("--out", str(a), "--samples", "250", "--qubits", "3") == 0
    assert run_cli("--out", str(b), "--samples", "400", "--qubits", "3") == 0
    small, big = read_npz(a / "samples.npz"), read_npz(b / "samples.npz")
    np.testing.assert_array_equal(big["params_3_1"][:250], small["params_3_1"])
    np.testing.assert_array_equal(big["grads_3_1"][:250], small["grads_3_1"])


def test_all_parameter_gradients_are_two_dimensional(tmp_path, capsys):
    spec = tmp_path / "all.toml"
    spec.write_text(
        '[circuit]\nansatz = "mcclean"\nlayers = 2\nqubits = [2, 3]\n'
        '[gradient]\nparameter = "all"\n[sampling]\nsamples = 10\n'
    )
    assert main(["run", str(spec), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    arrays = read_npz(tmp_path / "o" / "samples.npz")
    assert arrays["grads_3_2"].shape == (10, 6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--samples", "1"], "sampling.samples"),
        (["--qubits", "x"], "--qubits"),
        (["--backend", "nope"], "backend.name: got 'nope'; allowed: aer, statevector"),
        (["--layers", "2"], "circuit.layers"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message, capsys):
    assert run_cli(*args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_console_script_runs_in_a_subprocess(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bp_qiskit.cli", "run", "missing.toml"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "missing.toml" in proc.stderr


def test_readme_python_examples_run(monkeypatch):
    """The README's Python blocks are executed as written (from the repository root)."""
    text = (ROOT / "README.md").read_text()
    study, custom, predicted = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(study.replace("print(", "_ = ("), "README.md", "exec"), namespace)
    result = namespace["outcome"].result
    assert abs(result.fit.slope + 0.7508) < 3 * result.fit.slope_se
    exec(compile(custom.replace("print(", "_ = ("), "README.md", "exec"), namespace)
    res = namespace["res"]
    assert res.variance.shape == (36,) and res.params.shape == (200, 36)
    assert res.grads.shape == (200, 36) and res.costs.shape == (200,)
    exec(compile(predicted.replace("print(", "_ = ("), "README.md", "exec"), namespace)
    last = namespace["p"]  # the loop's last prediction: theta[3], exact propagation
    assert last.parameter == "θ[3]" and last.method == "exact" and last.grad_var > 0


def without_study_id(path):
    """A results.json's bytes without its study id (new for every study)."""
    return re.sub(rb'  "study_id": "[0-9a-f]+",\n', b"", path.read_bytes())
