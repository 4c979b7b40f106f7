"""The backend contract as reusable checks, run against every registered backend.

Each ``check_*`` function takes a :class:`BackendCase` and raises ``AssertionError`` when the
backend breaks a rule of :mod:`bp_qiskit.backends.protocol`. The project's own suite runs
every check against every case of :func:`default_cases`; a new backend adds a case (and
passes the checks) in the same way.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from ..backends import (
    Backend,
    CapabilityError,
    ExpectationTask,
    NotAttachableError,
    SharedTask,
    make_backend,
)
from ..backends.options import OPTION_PROBES, SERVICE_OPTIONS, UNPROBED_OPTIONS
from ..backends.registry import entry_of
from ..core.circuits import draw_samples, template_circuit, template_values
from ..core.gradients import shift_parameters
from ..core.observables import global_projector, local_cost, to_pauli_op, zz
from .standin import StandInService

__all__ = ["CHECKS", "BackendCase", "default_cases", "make_task"]

SEED = 4242
# 1000: sent as a precision, the runtime client would execute ceil(1/p^2) = 1001.
SHOTS = 1000


@dataclasses.dataclass(frozen=True)
class BackendCase:
    """A backend under test.

    Attributes:
        name: The case's name (the backend name it is built from).
        make: Builds a fresh backend; every call gives an independent one.
        service: The stand-in service behind it, when there is one (counts submissions).
        noisy: The backend adds device noise, so a noiseless oracle does not apply; its
            values are checked against its own one-observable evaluations instead.
        make_with: Builds a fresh backend with these ``[backend.options]``; the check that
            every option the registry lists for ``name`` takes effect needs it.
    """

    name: str
    make: Callable[[], Backend]
    service: StandInService | None = None
    noisy: bool = False
    make_with: Callable[[dict[str, Any]], Backend] | None = None


def _with_options(name: str, options: dict[str, Any]) -> Backend:
    return make_backend(name, options=options)


def default_cases() -> list[BackendCase]:
    """Every backend form of the registry, the runtime path through the stand-in service."""
    cases = [
        BackendCase(
            name,
            functools.partial(make_backend, name),
            noisy=":" in name,
            make_with=functools.partial(_with_options, name),
        )
        for name in ("aer", "statevector", "aer_estimator", "aer:manila", "fake:manila")
    ]
    service = StandInService()

    def remote(options: dict[str, Any]) -> Backend:
        return make_backend("ibm:ibm_standin", options={"poll_interval": 0, **options},
                            service=service)  # fmt: skip

    cases.append(BackendCase("ibm:standin", lambda: remote({}), service, make_with=remote))
    return cases


def make_task(shots: int, *, num_samples: int = 3, num_qubits: int = 2) -> ExpectationTask:
    """A small gradient task: ``num_samples`` seed circuits x both shifts of the last angle."""
    rng = np.random.default_rng(SEED)
    samples = draw_samples(rng, num_samples, num_qubits, 1, ansatz="seed", angles=(0, 2 * np.pi))
    values = template_values(
        samples.gates, shift_parameters(samples.params, np.array([num_qubits - 1]))
    )
    obs = zz(num_qubits) if shots else global_projector(num_qubits)
    return ExpectationTask(template_circuit(num_qubits, 1, ansatz="seed"), obs, values, shots)


def _shots_for(backend: Backend) -> int:
    return 0 if backend.capabilities.exact else SHOTS


def check_result_shapes(case: BackendCase) -> None:
    """The evs and stds have the shape of the values without the parameter axis, per task."""
    backend = case.make()
    try:
        shots = _shots_for(backend)
        tasks = [make_task(shots), make_task(shots, num_samples=2)]
        evs = backend.evaluate(tasks, seed=SEED)
        assert len(evs) == 2
        for task, ev in zip(tasks, evs, strict=True):
            assert ev.evs.shape == task.values.shape[:-1], (ev.evs.shape, task.values.shape)
            assert ev.stds.shape == ev.evs.shape
            assert np.all(np.isfinite(ev.evs))
            assert ev.shots == shots, f"asked for {shots} shots, executed {ev.shots}"
    finally:
        backend.close()


def check_exact_has_zero_stds(case: BackendCase) -> None:
    """Exact evaluation reports zero standard errors and zero shots."""
    backend = case.make()
    try:
        if not backend.capabilities.exact:
            return
        (ev,) = backend.evaluate([make_task(0)], seed=SEED)
        assert ev.shots == 0
        assert np.all(ev.stds == 0.0)
    finally:
        backend.close()


def check_refuses_what_it_cannot_do(case: BackendCase) -> None:
    """Shots on an exact-only backend, or exact values on a shot-only one: refused unsubmitted."""
    backend = case.make()
    submitted: list[str] = []
    try:
        caps = backend.capabilities
        for shots, able in ((SHOTS, caps.shots), (0, caps.exact)):
            if able:
                continue
            try:
                backend.evaluate([make_task(shots)], seed=SEED, on_submit=submitted.append)
            except CapabilityError:
                pass
            else:
                raise AssertionError(f"{case.name}: shots={shots} was not refused")
        assert submitted == [], "a refused task was submitted"
    finally:
        backend.close()


def check_on_submit_before_result(case: BackendCase) -> None:
    """``on_submit`` fires once, with the job's id, before the result is awaited."""
    backend = case.make()
    seen: list[tuple[str, int]] = []

    def record(job_id: str) -> None:
        polls = -1
        if case.service is not None:
            polls = case.service.jobs[job_id].polls
        seen.append((job_id, polls))

    try:
        (ev,) = backend.evaluate([make_task(_shots_for(backend))], seed=SEED, on_submit=record)
        assert len(seen) == 1, seen
        assert seen[0][0] == ev.job_id
        if case.service is not None:
            assert seen[0][1] == 0, "on_submit came after the job was polled"
    finally:
        backend.close()


def check_same_seed_same_bytes(case: BackendCase) -> None:
    """Two fresh backends, the same task and seed: the same bytes."""
    out: list[Any] = []
    for _ in range(2):
        backend = case.make()
        try:
            task = make_task(SHOTS if backend.capabilities.shots else 0)
            (ev,) = backend.evaluate([task], seed=SEED)
            out.append((ev.evs.tobytes(), ev.stds.tobytes()))
        finally:
            backend.close()
    assert out[0] == out[1]


def check_attach_never_resubmits(case: BackendCase) -> None:
    """Remote: attaching by id returns the job's values and submits nothing. Local: refused."""
    backend = case.make()
    try:
        task = make_task(_shots_for(backend))
        ids: list[str] = []
        (ev,) = backend.evaluate([task], seed=SEED, on_submit=ids.append)
        if not backend.capabilities.remote:
            try:
                backend.attach(ids[0], [task])
            except NotAttachableError:
                return
            raise AssertionError(f"{case.name}: attach to an in-process job did not refuse")
        before = case.service.submissions if case.service is not None else None
        (again,) = case.make().attach(ids[0], [task])
        assert np.array_equal(again.evs, ev.evs)
        if case.service is not None:
            assert case.service.submissions == before, "attach submitted a job"
    finally:
        backend.close()


def check_values_match_an_independent_statevector(case: BackendCase) -> None:
    """One PUB over three observables gives each one's value, as qiskit's statevector does.

    The oracle is ``qiskit.primitives.StatevectorEstimator``, not the code under test. Exact
    backends agree to 1e-10; with shots every value lies within 5 standard errors of it, the
    error taken as at least 1/sqrt(shots) (a mean of ``shots`` values in [-1, 1]). A backend
    that returns zeros, or one observable's values for another's, fails. A noisy backend
    (device noise) is held to its own evaluation of each observable alone instead.
    """
    from qiskit.primitives import StatevectorEstimator

    backend = case.make()
    try:
        shots = _shots_for(backend)
        base = make_task(shots, num_samples=4)
        n = base.circuit.num_qubits
        observables = (global_projector(n), zz(n), local_cost(n))
        task = SharedTask(base.circuit, observables, base.values, shots)
        (ev,) = backend.evaluate([task], seed=SEED)
        assert ev.evs.shape == (3, *base.values.shape[:-1]), ev.evs.shape
        floor = 1 / np.sqrt(shots) if shots else 0.0
        for i, obs in enumerate(observables):
            if case.noisy:
                alone = dataclasses.replace(base, observable=obs)
                (one,) = backend.evaluate([alone], seed=SEED + 1)
                truth, truth_se = one.evs, np.maximum(one.stds, floor)
            else:
                exact = StatevectorEstimator().run([(base.circuit, to_pauli_op(obs), base.values)])
                truth = np.asarray(exact.result()[0].data.evs)
                truth_se = np.zeros_like(truth)
            if shots == 0:
                np.testing.assert_allclose(ev.evs[i], truth, atol=1e-10)
            else:
                se = np.sqrt(np.maximum(ev.stds[i], floor) ** 2 + truth_se**2)
                assert np.all(np.abs(ev.evs[i] - truth) <= 5 * se), (i, ev.evs[i], truth)
    finally:
        backend.close()


def _what_it_did(case: BackendCase, options: dict[str, Any]) -> tuple[Any, ...]:
    """One probe run's values, its simulation method, and what the service received."""
    assert case.make_with is not None
    backend = case.make_with(options)
    try:
        task = make_task(_shots_for(backend), num_samples=2, num_qubits=3)
        # Gates that cancel, so the transpiler's optimisation level has work to do: three
        # pairs of CZs (a pair of Hadamards changed too little to move 1000 shots).
        circuit = task.circuit.copy()
        for _ in range(6):
            circuit.cz(0, 1)
        task = dataclasses.replace(task, circuit=circuit)
        ids: list[str] = []
        (ev,) = backend.evaluate([task], seed=SEED, on_submit=ids.append)
        seen: tuple[Any, ...] = (ev.evs.tobytes(), ev.stds.tobytes(), ev.shots)
        # Not the whole metadata: the runtime's carries the simulator's timings, which differ
        # between any two runs.
        seen += (ev.metadata.get("simulator_method"),)
        if case.service is not None:
            job = case.service.jobs[ids[0]]
            received = {k: v for k, v in job.options.items() if k != "environment"}
            tags = [t for t in job.tags if not t.startswith("bpq")]
            seen += (repr(received), tags, job.mode, repr([p[0] for p in job.pubs]))
        return seen
    finally:
        backend.close()


def check_accepted_options_take_effect(case: BackendCase) -> None:
    """Every ``[backend.options]`` key the registry lists for the backend takes effect.

    Set to its probe value (``options.OPTION_PROBES``), it must change the values, the
    simulation method, or what the service received (where the case has one). A backend
    that accepts an option and drops it fails. The options not probed are listed in
    ``options.UNPROBED_OPTIONS`` with the reason.
    """
    takes = entry_of(case.name).options
    unlisted = [o for o in takes if o not in OPTION_PROBES and o not in UNPROBED_OPTIONS]
    assert not unlisted, f"no probe for {unlisted}: add one to backends/options.py"
    probed = [o for o in takes if o in OPTION_PROBES]
    if case.service is None:
        probed = [o for o in probed if o not in SERVICE_OPTIONS]
    if not probed:
        return
    assert case.make_with is not None, f"{case.name}: the case cannot build with options"
    for option in probed:
        needs, value = OPTION_PROBES[option]
        before = _what_it_did(case, dict(needs))
        after = _what_it_did(case, {**needs, option: value})
        assert before != after, (
            f"{case.name}: accepted backend.options.{option} = {value!r} and did nothing with it"
        )


CHECKS: dict[str, Callable[[BackendCase], None]] = {
    "values_match_an_independent_statevector": check_values_match_an_independent_statevector,
    "result_shapes": check_result_shapes,
    "exact_has_zero_stds": check_exact_has_zero_stds,
    "refuses_what_it_cannot_do": check_refuses_what_it_cannot_do,
    "on_submit_before_result": check_on_submit_before_result,
    "same_seed_same_bytes": check_same_seed_same_bytes,
    "attach_never_resubmits": check_attach_never_resubmits,
    "accepted_options_take_effect": check_accepted_options_take_effect,
}
