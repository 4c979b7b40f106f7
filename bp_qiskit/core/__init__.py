"""Pure maths, no I/O: circuits, observables, gradients, statistics, planning, array bytes.

Nothing in here imports any other part of bp_qiskit except :mod:`bp_qiskit.errors`; every
function is a pure function of its arguments (random draws take a generator).
"""
