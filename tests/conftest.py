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


# The longest tests go first (seconds from `pytest --durations=30` on 2 cores). Under
# xdist's load scheduling the 123 s shot-budget test, collected late, ran alone at the end
# while the other worker idled; longest-first keeps both cores busy to the end.
LONG_FIRST = (
    "test_planning.py::test_shot_budget_spec_prediction",  # 123 s
    "test_shipped_specs.py::test_shipped_spec_runs[mcclean_depth",  # 38 s
    "test_resume.py::test_sigkill_then_resume",  # 2 x 30 s
    "test_kinds.py::test_every_kind_survives_sigkill",  # 3 x 21-30 s
    "test_shots.py::test_corrected_variance_is_unbiased",  # 4 x 27-30 s
    "test_shipped_specs.py::test_shipped_spec_runs[mcclean2018",  # 25 s
    "test_physics.py::test_seed_study_matches_closed_form",  # 24 s
)


def pytest_collection_modifyitems(items):
    """Sort the known-long tests to the front; the rest keep their order."""

    def rank(item):
        return next((i for i, p in enumerate(LONG_FIRST) if p in item.nodeid), len(LONG_FIRST))

    items.sort(key=rank)
