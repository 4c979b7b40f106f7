"""The project's own code must stay ruff- and mypy-clean (configured in pyproject.toml)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "cmd",
    [
        [sys.executable, "-m", "ruff", "check", "bp_qiskit", "tests", "benchmarks", "docs"],
        [sys.executable, "-m", "mypy"],
    ],
    ids=["ruff", "mypy"],
)
def test_static_checks_are_clean(cmd):
    if shutil.which(cmd[0]) is None:  # pragma: no cover
        pytest.fail("interpreter missing")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_complexity_gate_fails_for_a_function_over_ten(tmp_path):
    # The gate is pyproject.toml's [tool.ruff.lint.mccabe]: a file with eleven branches,
    # checked with the project's configuration, must fail it.
    branches = "".join(f"    if x == {i}:\n        return {i}\n" for i in range(11))
    bad = tmp_path / "probe.py"
    bad.write_text(
        f'"""Probe."""\n\n\ndef f(x: int) -> int:\n    """Probe."""\n{branches}    return -1\n'
    )
    config = str(ROOT / "pyproject.toml")
    cmd = [sys.executable, "-m", "ruff", "check", "--no-cache", "--config", config, str(bad)]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.returncode == 1 and "C901" in proc.stdout, proc.stdout + proc.stderr
    bad.write_text('"""Probe."""\n\n\ndef f(x: int) -> int:\n    """Probe."""\n    return x\n')
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_module_of_the_package_is_over_450_lines():
    # A module that long holds more than one job: split it by job (docs/architecture.md).
    long = {
        str(path.relative_to(ROOT)): n
        for path in (ROOT / "bp_qiskit").rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 450
    }
    assert not long, long
