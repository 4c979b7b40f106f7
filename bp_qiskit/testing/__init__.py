"""Test support shipped with the package, as optuna ships its storage tests.

- :mod:`bp_qiskit.testing.standin`: a stand-in runtime service with scripted jobs.
- :mod:`bp_qiskit.testing.backend_contract`: the checks every backend must pass.

The top layer: it may import anything, and nothing in the package imports it.
"""
