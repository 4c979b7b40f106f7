"""Shared test settings. Seeds and tolerances are named constants, as in mitiq's suite."""

import os

import pytest

# Under pytest-xdist every core already runs a test worker: Aer's own OpenMP threads would
# oversubscribe the cores (measured: the same shot-budget study used 16.5 s of CPU with
# Aer's threads and 14.0 s with one). Set before Aer is imported; subprocesses inherit it.
# Results do not depend on it (tests/test_reproducibility.py compares bytes).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _store_in_tmp(tmp_path, monkeypatch):
    """CLI runs inside tests never write bp_qiskit.sqlite into the repository.

    The default store is resolved when a command runs, so the environment is enough.
    """
    monkeypatch.setenv("BP_QISKIT_STORE", str(tmp_path / "default-store.sqlite"))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """QiskitRuntimeService() writes ~/.qiskit/qiskit-ibm.json even when it fails."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("QISKIT_IBM_TOKEN", "QISKIT_IBM_INSTANCE", "QISKIT_IBM_CHANNEL"):
        monkeypatch.delenv(var, raising=False)
