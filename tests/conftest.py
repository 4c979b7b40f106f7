"""Shared test settings. Seeds and tolerances are named constants, as in mitiq's suite."""

import pytest


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
