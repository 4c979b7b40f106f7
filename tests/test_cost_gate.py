"""One cost gate before QPU time is spent: every study kind, resume, and the Python API."""

from pathlib import Path

import numpy as np
import pytest
import tomllib

from bp_qiskit import StudySpec, run_study
from bp_qiskit.backends import make_backend
from bp_qiskit.backends.timing import measurement_bases, seconds_per_execution
from bp_qiskit.cli import main
from bp_qiskit.errors import CostLimitError
from bp_qiskit.execution import create_study
from bp_qiskit.execution.cost import (
    PER_JOB_S,
    check_cost,
    estimate_cost,
    mitigation_overhead,
)
from bp_qiskit.execution.jobs import JobBuilder
from bp_qiskit.results import Cell
from bp_qiskit.store import SQLiteStore
from bp_qiskit.testing.standin import StandInService

SPEC_TOML = (
    '[study]\nname = "gate"\nseed = 3\n[circuit]\nqubits = [2, 3]\n[observable]\nkind = "zz"\n'
    "[sampling]\nsamples = 20\nshots = 100\nchunk = 10\n"
    '[backend]\nname = "ibm:ibm_standin"\n[backend.options]\npoll_interval = 0\n'
)


def spec_of(text):
    return StudySpec.from_dict(tomllib.loads(text))


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "gate.toml"
    path.write_text(SPEC_TOML)
    return path


def cli(args, service, tmp_path):
    return main([*args, "--store", str(tmp_path / "s.sqlite"), "--no-progress"], service=service)


def test_the_offline_model_counts_jobs_executions_and_mitigation():
    spec = spec_of(SPEC_TOML)
    backend = make_backend(
        spec.backend.name, options=spec.backend.options, service=StandInService()
    )
    est = estimate_cost(spec, backend)
    # 2 cells x 2 PUBs; each 10 samples x 1 parameter x 2 shifts x 100 shots; the four small
    # PUBs are packed into one job (backend.options.job_seconds, 120 s by default).
    assert (est.jobs, est.executions, est.source) == (1, 4 * 2000, "offline model")
    per_exec = seconds_per_execution(backend.target)
    assert per_exec >= backend.target.default_rep_delay
    assert est.seconds >= PER_JOB_S + 8000 * per_exec
    one_per_job = StudySpec.from_dict(
        {**spec.to_dict(), "backend": {"name": spec.backend.name, "options": {"job_seconds": 0}}}
    )
    unpacked = estimate_cost(one_per_job, backend)
    assert unpacked.jobs == 4
    assert unpacked.seconds == pytest.approx(est.seconds + 3 * PER_JOB_S)
    assert mitigation_overhead({"resilience_level": 2}) == pytest.approx(3.1)
    assert mitigation_overhead({"resilience_level": 1}) == pytest.approx(1.1)
    assert mitigation_overhead({"zne": True, "zne_noise_factors": [1, 2, 3, 4]}) == 4
    level2 = StudySpec.from_dict(
        {
            **spec.to_dict(),
            "backend": {"name": spec.backend.name, "options": {"resilience_level": 2}},
        }
    )
    assert estimate_cost(level2, backend).executions == pytest.approx(3.1 * 8000, abs=4)
    backend.close()


def test_the_service_dry_run_is_used_where_the_account_offers_it():
    spec = spec_of(SPEC_TOML)
    offline = estimate_cost(spec, make_backend(spec.backend.name, service=StandInService()))
    backend = make_backend(spec.backend.name, service=StandInService(estimate=10.0))
    est = estimate_cost(spec, backend)
    assert est.source.startswith("service dry run")
    # The service's 10 s for the first job, scaled by the model's total / first job.
    circuit = backend.isa(JobBuilder(spec).cell_objects(Cell(2, 1))[0]).circuit
    first = PER_JOB_S + 2000 * seconds_per_execution(backend.target, circuit)
    assert est.seconds == pytest.approx(10.0 * offline.seconds / first, rel=1e-12)


def test_plain_run_stops_at_the_gate_without_yes(spec_file, tmp_path, capsys):
    service = StandInService()
    code = cli(["run", str(spec_file), "--max-qpu-seconds", "1"], service, tmp_path)
    err = capsys.readouterr().err
    assert code == 2 and "nothing was submitted" in err and "--yes" in err
    assert err.count("\n") == 1 and service.submissions == 0
    assert not (tmp_path / "s.sqlite").exists()  # not even recorded
    out = tmp_path / "out"
    assert (
        cli(
            ["run", str(spec_file), "--max-qpu-seconds", "1", "--yes", "--out", str(out)],
            service,
            tmp_path,
        )
        == 0
    )
    assert service.submissions == 1 and len(service.jobs["standin-0"].pubs) == 4  # one job


def test_adaptive_run_stops_at_the_gate_without_yes(spec_file, tmp_path, capsys):
    service = StandInService()
    args = ["run", str(spec_file), "--target-rel-error", "0.2", "--max-shots", "400000"]
    args += ["--out", str(tmp_path / "out")]
    assert cli(args, service, tmp_path) == 2  # worst case 2 x 400000 shots, above 600 s
    assert "above the limit of 600 s" in capsys.readouterr().err
    assert service.submissions == 0


def test_budget_study_on_a_qpu_is_refused_before_anything(tmp_path, capsys):
    spec = tmp_path / "budget.toml"
    spec.write_text(SPEC_TOML + "[budget]\ntotal_shots = 4000\nshots = [10, 100]\nrepeats = 2\n")
    assert cli(["run", str(spec), "--yes"], StandInService(), tmp_path) == 2
    assert "shot-budget study runs on a simulator" in capsys.readouterr().err


def test_resume_stops_at_the_gate_without_yes(tmp_path, capsys):
    service = StandInService()
    store = SQLiteStore(tmp_path / "s.sqlite")
    sid = create_study(store, spec_of(SPEC_TOML))
    store.close()
    out = tmp_path / "out"
    assert cli(["resume", sid, "--max-qpu-seconds", "1", "--out", str(out)], service, tmp_path) == 2
    assert "nothing was submitted" in capsys.readouterr().err and service.submissions == 0
    out = tmp_path / "out"
    assert (
        cli(
            ["resume", sid, "--max-qpu-seconds", "1", "--yes", "--out", str(out)], service, tmp_path
        )
        == 0
    )
    assert service.submissions == 1 and len(service.jobs["standin-0"].pubs) == 4  # one job


def test_the_instances_remaining_allocation_is_a_limit_too(spec_file, tmp_path, capsys):
    service = StandInService(usage_report={"usage_remaining_seconds": 3.0})
    assert cli(["run", str(spec_file)], service, tmp_path) == 2
    assert "above the instance's remaining 3 s" in capsys.readouterr().err
    assert service.submissions == 0


def test_python_api_stops_at_the_gate_unless_approved():
    spec = spec_of(SPEC_TOML)
    service = StandInService()
    with pytest.raises(CostLimitError, match="approve_cost=True"):
        run_study(spec, service=service, progress=False, cost_limit_s=1.0)
    assert service.submissions == 0
    outcome = run_study(spec, service=service, progress=False, cost_limit_s=1.0, approve_cost=True)
    assert outcome.result is not None and service.submissions == 1


def test_an_interactive_no_submits_nothing():
    spec = spec_of(SPEC_TOML)
    backend = make_backend(spec.backend.name, service=StandInService())
    est = estimate_cost(spec, backend)
    asked = []
    with pytest.raises(CostLimitError):
        check_cost(est, limit_s=0.5, confirm=lambda e, why: asked.append(why) or False)
    assert asked == ["above the limit of 0 s"] or asked[0].startswith("above the limit")
    check_cost(est, limit_s=0.5, confirm=lambda e, why: True)  # yes: no error


def test_dry_run_counts_mitigation_and_names_the_offline_snapshot(tmp_path, capsys):
    from pathlib import Path

    spec = Path(__file__).resolve().parent.parent / "jobs" / "ibm_hardware.toml"
    totals = {}
    for level in (0, 2):
        text = spec.read_text().replace("resilience_level = 0", f"resilience_level = {level}")
        path = tmp_path / f"level{level}.toml"
        path.write_text(text)
        assert main(["run", str(path), "--dry-run", "--backend", "ibm:ibm_fez"]) == 0
        out = capsys.readouterr().out
        total = next(line for line in out.splitlines() if line.startswith("total:"))
        totals[level] = (int(total.split()[5]), float(total.split()[-3]))
        assert "offline snapshot of ibm_fez (FakeFez, calibration of 2025" in out
    assert totals[2][0] == pytest.approx(3.1 * totals[0][0], rel=1e-6)  # executions
    # 3 jobs of 2 s each, the rest scales with the executions.
    assert (totals[2][1] - 6) == pytest.approx(3.1 * (totals[0][1] - 6), rel=0.05)


def test_an_unknown_backend_on_a_valid_account_is_one_line(spec_file, tmp_path, capsys):
    from qiskit.providers.exceptions import QiskitBackendNotFoundError

    from bp_qiskit.backends.services import IBMService

    class Account:  # QiskitRuntimeService's answers for a name it does not have
        def backend(self, name):
            raise QiskitBackendNotFoundError("No backend matches the criteria.")

        def backends(self):
            from qiskit_ibm_runtime.fake_provider import FakeFez

            return [FakeFez()]

    service = object.__new__(IBMService)
    service._service = Account()
    args = ["run", str(spec_file), "--backend", "ibm:ibm_atlantis", "--dry-run"]
    assert main(args, service=service) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no backend 'ibm_atlantis'" in err and "fake_fez" in err
    assert main(["run", str(spec_file), "--backend", "ibm:ibm_atlantis"], service=service) == 2
    assert "no backend 'ibm_atlantis'" in capsys.readouterr().err


def test_the_python_api_spends_no_qpu_time_it_was_not_given():
    # No cost_limit_s and no approve_cost: even a few seconds are refused.
    spec = spec_of(SPEC_TOML)
    service = StandInService()
    with pytest.raises(CostLimitError, match=r"cost_limit_s= .* or approve_cost=True"):
        run_study(spec, service=service, progress=False)
    assert service.submissions == 0
    outcome = run_study(spec, service=service, progress=False, cost_limit_s=600.0)
    assert outcome.result is not None and service.submissions == 1


def test_the_dry_run_prices_what_each_study_kind_submits():
    """A budget study spends its budget per repetition and shot count (closed form from the
    spec), not sampling.samples x sampling.shots; an adaptive one at most adaptive.max_shots."""
    from bp_qiskit import load_spec
    from bp_qiskit.execution.dryrun import dry_run

    root = Path(__file__).resolve().parent.parent
    spec = load_spec(root / "jobs" / "shot_budget.toml")
    b = spec.budget
    per_rep = sum(2 * (b.total_shots // (2 * n)) * n for n in b.shots)
    for cost in dry_run(spec):
        assert cost.total_shots == b.repeats * per_rep  # 2,996,800 for the shipped spec
        assert cost.pubs == b.repeats * len(b.shots)
    plain = load_spec(root / "jobs" / "seed_tutorial.toml").with_overrides(
        **{"sampling.shots": 100}
    )
    assert {c.total_shots for c in dry_run(plain)} == {200 * 2 * 100}
    adaptive = plain.with_overrides(
        **{"adaptive.max_shots": 50_000, "adaptive.target_rel_error": 0.2}
    )
    assert {c.total_shots for c in dry_run(adaptive)} == {50_000}


def test_the_cost_gate_refuses_a_backend_it_cannot_price():
    """What it reads is a protocol (backends.remote.PricedBackend), not attributes of Any."""
    from bp_qiskit import StudySpec
    from bp_qiskit.backends import make_backend
    from bp_qiskit.execution.cost import estimate_cost

    with pytest.raises(TypeError, match="the cost gate prices a device backend"):
        estimate_cost(StudySpec.from_dict({}), make_backend("aer"))


def test_the_gate_prices_what_the_run_submits():
    """The gate builds each PUB as the run does and packs by the run's function: with an
    observable that needs 2 measurement bases and jobs of at most 3 s, its job count and
    executions equal what the stand-in service is then sent, PUB by PUB."""
    from bp_qiskit.execution.jobs import JobBuilder, job_of, plan_jobs, record_for

    text = SPEC_TOML.replace('kind = "zz"', 'kind = "pauli"\nterms = ["Z0 Z1", "X0"]').replace(
        "poll_interval = 0", "poll_interval = 0\njob_seconds = 3"
    )
    spec = spec_of(text)
    service = StandInService()
    backend = make_backend(spec.backend.name, options=spec.backend.options, service=service)
    est = estimate_cost(spec, backend)
    builder = JobBuilder(spec)
    assert measurement_bases([builder.family(Cell(2, 1)).observable]) == 2
    sent = [builder.build(job_of(record_for(spec, j))).task for j in plan_jobs(spec)]
    # 4 PUBs of 10 samples x 2 shifts x 100 shots, each measured in 2 bases.
    assert est.executions == sum(t.total_shots * 2 for t in sent) == 16_000
    assert est.jobs > 1  # 3 s per job cannot hold all four PUBs
    run_study(spec, service=service, progress=False, cost_limit_s=10_000.0)
    assert service.created() == est.jobs
    submitted = [
        int(np.prod(np.shape(pub[2])[:-1])) * 100 * 2
        for job in service.jobs.values()
        for pub in job.pubs
    ]
    assert sum(submitted) == est.executions


def test_gradient_variance_prices_every_measurement_basis():
    """The Python API's one-call gate counts bases as the study gate does (it did not)."""
    from qiskit.circuit.library import efficient_su2
    from qiskit.quantum_info import SparsePauliOp

    from bp_qiskit import gradient_variance

    circuit = efficient_su2(2, reps=1)
    backend = make_backend("ibm:ibm_standin", service=StandInService())
    out = gradient_variance(
        circuit,
        SparsePauliOp(["ZZ", "XI"]),
        samples=5,
        seed=1,
        shots=100,
        parameters=[0],
        backend=backend,
        approve_cost=True,
    )
    per_exec = seconds_per_execution(backend.target, backend.isa(circuit).circuit)
    # 5 samples x (the cost + 2 shifts) x 100 shots x 2 bases, and one job.
    assert out.qpu_seconds_estimate == pytest.approx(PER_JOB_S + 3000 * per_exec, rel=1e-12)
    backend.close()
