"""The fault test's failures, one scenario each: no job billed twice, no loop, no ungated spend.

The stand-in service (bp_qiskit.testing.standin) fails as qiskit-ibm-runtime 0.51 does: it
caches a final state before it fetches the error text, wraps every POST error as
``IBMRuntimeError("Failed to run program: '4xx Client Error ...'")``, lists a new job by its
tag only after a delay, and answers 404 for a job it no longer knows. ``service.created()``
counts the jobs the service created: each of them runs and is billed.
"""

import dataclasses
import math

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter

from bp_qiskit import StudySpec
from bp_qiskit.backends import make_backend
from bp_qiskit.backends.ibm_errors import SubmitFailure, http_status, submit_failure
from bp_qiskit.backends.runtime import RuntimeBackend
from bp_qiskit.errors import CostLimitError, StudyFailedError, StudyPausedError, UsageError
from bp_qiskit.execution import create_study, run_stored
from bp_qiskit.execution import remote as remote_mod
from bp_qiskit.execution.cost import estimate_cost
from bp_qiskit.execution.custom import gradient_variance
from bp_qiskit.execution.remote import DOUBT_LOOKUPS
from bp_qiskit.execution.remote_records import adopt_lost
from bp_qiskit.store import InMemoryStore, JobState, SubmissionState
from bp_qiskit.testing.faults import max_time_exceeded, outage, post_error, read_timeout
from bp_qiskit.testing.standin import StandInService

# One PUB per job (job_seconds = 0): each scenario faults one job of three.
OPTIONS = {"poll_interval": 0, "in_doubt_grace": 0, "job_seconds": 0}
SPEC = StudySpec.from_dict(
    {
        "study": {"name": "hw", "seed": 5150},
        "circuit": {"qubits": [2]},
        "sampling": {"samples": 30, "shots": 100, "chunk": 10},
        "backend": {"name": "ibm:ibm_standin", "options": OPTIONS},
    }
)
JOBS = 3
KEYS = ["n2_L1_c0", "n2_L1_c1", "n2_L1_c2"]


def spec_with(**options):
    backend = dataclasses.replace(SPEC.backend, options={**OPTIONS, **options})
    return dataclasses.replace(SPEC, backend=backend)


def run(store, sid, service, spec=SPEC, **kw):
    backend = RuntimeBackend(
        service, "ibm_standin", options=spec.backend.options, tags=["t"], name=spec.backend.name
    )
    kw.setdefault("approve_cost", True)  # faults, not the gate (test_cost_gate.py)
    run_stored(store, sid, backend=backend, progress=False, **kw)


def per_job(store, sid):
    out = {}
    for s in store.get_submissions(sid):
        out.setdefault(s.key, []).append((s.state.value, s.cause))
    return out


def done(store, sid):
    return all(j.state is JobState.DONE for j in store.get_jobs(sid))


# -- paths that billed twice -------------------------------------------------------------------


def test_a_timeout_whose_error_text_fetch_failed_is_held_not_resubmitted():
    # The client caches ERROR, then the GET of the error text fails: error_message() is None
    # for ever on that object. The reason code is still on it, and a fresh copy reads it.
    service = StandInService(
        scripts={1: ["RUNNING", "ERROR"]}, reasons={1: max_time_exceeded()}, fetch_fails={1: 1}
    )
    store = InMemoryStore()
    sid = create_study(store, SPEC)
    with pytest.raises(StudyPausedError, match="1305"):
        run(store, sid, service)
    assert service.created() == JOBS
    assert per_job(store, sid)["n2_L1_c1"] == [("FAILED", "timeout")]


def test_an_error_whose_reason_cannot_be_read_anywhere_is_held():
    # No reason in the state, and no error text: nothing says a retry is safe.
    service = StandInService(scripts={0: ["ERROR"]}, fetch_fails={0: 1}, reason_in_state=False)
    store = InMemoryStore()
    sid = create_study(store, SPEC)
    with pytest.raises(StudyPausedError, match="reason unknown"):
        run(store, sid, service)
    assert service.created() == JOBS
    assert per_job(store, sid)["n2_L1_c0"] == [("FAILED", "unknown")]
    run_again = StandInService()
    run_again.jobs = service.jobs
    with pytest.raises(StudyPausedError):
        run(store, sid, run_again)  # still held without --resubmit
    assert run_again.created() == JOBS


def test_a_read_timeout_on_post_with_a_job_listed_late_is_adopted():
    # The POST timed out while the server committed the job, and the listing shows it only on
    # the third lookup: one lookup, as before, would have declared it lost.
    service = StandInService(post_errors={1: (read_timeout(), True)}, list_delay=2)
    store = InMemoryStore()
    sid = create_study(store, SPEC)
    run(store, sid, service)
    assert service.created() == JOBS
    assert per_job(store, sid)["n2_L1_c1"] == [("DONE", None)]
    assert service.instances_searched[0] == service.instance  # the tag search names it


def test_a_job_in_doubt_is_declared_lost_only_after_lookups_over_the_grace_period(monkeypatch):
    clock = {"t": 1_000.0}
    monkeypatch.setattr(remote_mod.time, "sleep", lambda s: clock.__setitem__("t", clock["t"] + s))
    monkeypatch.setattr(remote_mod.time, "monotonic", lambda: clock["t"])
    monkeypatch.setattr(remote_mod.time, "time", lambda: clock["t"])
    # Never created: the lookups come back empty, and only then is it submitted again.
    service = StandInService(post_errors={0: (read_timeout(), False)})
    spec = spec_with(in_doubt_grace=300)
    store = InMemoryStore()
    sid = create_study(store, spec)
    start = clock["t"]
    run(store, sid, service, spec=spec)
    lost = next(s for s in store.get_submissions(sid) if s.state is SubmissionState.LOST)
    assert lost.cause == "lost" and f"after {DOUBT_LOOKUPS} lookups over 300 s" in lost.reason
    assert clock["t"] - start >= 300
    assert service.submissions == JOBS + 1 and service.created() == JOBS
    assert done(store, sid)


def test_a_lost_tag_that_turns_up_later_is_adopted_by_the_next_run():
    service = StandInService()
    store = InMemoryStore()
    sid = create_study(store, SPEC)
    # A submission declared lost, whose job the service created after all.
    store.claim_job(sid, KEYS[0])
    store.add_submission(sid, KEYS[0], "bpq-late")
    store.update_submission(sid, "bpq-late", state=SubmissionState.LOST, cause="lost")
    store.fail_job(sid, KEYS[0], "lost", state=JobState.PENDING)
    backend = make_backend("ibm:ibm_standin", options=OPTIONS, service=service)
    built = service.submit(
        backend.target,
        backend.pubs([_task(store, sid, KEYS[0])]),
        {"environment": {"job_tags": ["bpq-late"]}, "default_shots": 100},
        "batch",
    )
    run(store, sid, service)
    assert service.created() == JOBS  # the late job, then the two others: none twice
    subs = per_job(store, sid)
    assert subs[KEYS[0]] == [("DONE", "lost")]
    assert store.get_jobs(sid)[0].remote_job_id == built.job_id()


def test_status_records_a_late_duplicate_instead_of_adopting_it():
    store = InMemoryStore()
    sid = create_study(store, SPEC)
    service = StandInService(post_errors={0: (read_timeout(), True)}, list_delay=2 * DOUBT_LOOKUPS)
    run(store, sid, service)  # lost after its lookups, submitted again, done
    assert service.created() == JOBS + 1  # the service did create the first one
    notes = []
    for _ in range(2 * DOUBT_LOOKUPS):  # later `status` calls, until the listing shows it
        notes += adopt_lost(store, sid, lambda tag: service.find_jobs(tag))
    assert len(notes) == 1 and "duplicate" in notes[0]  # recorded once
    lost = next(s for s in store.get_submissions(sid) if s.state is SubmissionState.LOST)
    assert lost.provenance["duplicate_job_ids"] == ["standin-0"]


def test_resubmit_after_1305_needs_a_higher_limit_and_the_gate_prices_it():
    spec = spec_with(max_execution_time=300)
    service = StandInService(scripts={1: ["RUNNING", "ERROR"]}, reasons={1: max_time_exceeded()})
    store = InMemoryStore()
    sid = create_study(store, spec)
    with pytest.raises(StudyPausedError, match="--max-execution-time"):
        run(store, sid, service, spec=spec)
    with pytest.raises(UsageError, match="300 s"):
        run_stored(store, sid, service=service, progress=False, resubmit=True, approve_cost=True)
    assert service.created() == JOBS
    backend = make_backend(
        "ibm:ibm_standin", options={**OPTIONS, "max_execution_time": 900}, service=service
    )
    priced = estimate_cost(spec_with(max_execution_time=900), backend, store=store, study_id=sid)
    assert priced.jobs == 1 and priced.seconds >= 900
    run_stored(
        store,
        sid,
        service=service,
        progress=False,
        resubmit=True,
        max_execution_time=900,
        approve_cost=True,
    )
    assert service.last_options["max_execution_time"] == 900
    assert done(store, sid) and service.created() == JOBS + 1


# -- loops and dead ends -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("http", "code", "hint"),
    [
        (400, 4317, "quota"),
        (400, 3458, "pending-job limit"),
        (409, 1217, "closed"),
        (422, None, "fix"),
    ],
)
def test_a_4xx_on_submit_is_held_with_its_code_and_never_posted_again(http, code, hint):
    service = StandInService(post_errors={0: (post_error(http, code), False)})
    store = InMemoryStore()
    sid = create_study(store, SPEC)
    with pytest.raises(StudyPausedError) as info:
        run(store, sid, service)
    assert f"HTTP {http}" in str(info.value) and hint in str(info.value)
    if code is not None:
        assert f"code {code}" in str(info.value)
    assert service.submissions == JOBS  # one POST each: no retry loop
    with pytest.raises(StudyPausedError):
        run(store, sid, service)
    assert service.submissions == JOBS


def test_submit_errors_are_classified_by_their_http_status():
    assert submit_failure(post_error(400, 4317)) == SubmitFailure("rejected", 400, 4317)
    assert submit_failure(post_error(429)).kind == "refused"
    assert submit_failure(post_error(408)).kind == "in_doubt"
    assert submit_failure(post_error(502)).kind == "in_doubt"
    assert submit_failure(read_timeout()) == SubmitFailure("in_doubt", None, None)
    assert submit_failure(outage()).kind == "in_doubt"
    assert submit_failure(ValueError("bad option")).kind == "rejected"
    assert http_status(outage(503)) == 503


def test_throttled_submissions_are_capped_across_resumes():
    always = {i: (post_error(429), False) for i in range(100)}
    service = StandInService(post_errors=always)
    store = InMemoryStore()
    sid = create_study(store, SPEC)
    with pytest.raises(StudyPausedError, match="in a row"):
        run(store, sid, service)
    assert service.submissions == 3 * JOBS  # max_attempts each
    for _ in range(3):
        with pytest.raises(StudyPausedError):
            run(store, sid, service)
    assert service.submissions == 3 * JOBS  # resumes add none
    with pytest.raises(StudyPausedError):
        run(store, sid, service, resubmit=True)  # asked for: one more round, capped again
    assert service.submissions == 6 * JOBS


def test_an_infrastructure_error_on_every_attempt_is_capped_across_resumes():
    reason = "Error code 1010; backend error"
    service = StandInService(
        scripts={i: ["ERROR"] for i in range(100)}, reasons={i: reason for i in range(100)}
    )
    store = InMemoryStore()
    sid = create_study(store, SPEC)
    for _ in range(4):
        with pytest.raises(StudyPausedError):
            run(store, sid, service)
    assert service.created() == 3 * JOBS  # 3 per job over 4 runs (was 19 over 3 resumes)


def test_a_vanished_job_is_held_and_resubmit_applies():
    service = StandInService(scripts={0: ["QUEUED", KeyboardInterrupt()]})
    store = InMemoryStore()
    sid = create_study(store, SPEC)
    with pytest.raises(KeyboardInterrupt):
        run(store, sid, service)
    service.vanish("standin-0")
    with pytest.raises(StudyPausedError, match="404"):
        run(store, sid, service)
    assert per_job(store, sid)[KEYS[0]] == [("LOST", "vanished")]
    run(store, sid, service, resubmit=True)
    assert done(store, sid) and service.created() == JOBS + 1


def test_a_failure_summary_quotes_the_jobs_latest_error():
    service = StandInService(scripts={0: ["QUEUED", ValueError("the account expired")]})
    store = InMemoryStore()
    sid = create_study(store, SPEC)
    with pytest.raises(StudyFailedError, match="the account expired") as info:
        run(store, sid, service)
    assert ": None" not in str(info.value)


# -- gates -------------------------------------------------------------------------------------


def _two_costs(tmp_path, **options):
    text = (
        '[study]\nname = "two"\nseed = 11\n[circuit]\nqubits = [2, 3]\n[[observable]]\n'
        'kind = "global"\n[[observable]]\nkind = "local"\n[sampling]\nsamples = 20\n'
        'shots = 100\nchunk = 10\n[backend]\nname = "ibm:ibm_standin"\n[backend.options]\n'
        "poll_interval = 0\n" + "".join(f"{k} = {v}\n" for k, v in options.items())
    )
    path = tmp_path / "two.toml"
    path.write_text(text)
    return path, StudySpec.from_dict(__import__("tomllib").loads(text))


def test_the_cli_gate_prices_every_cost_of_the_spec_as_one_pub(tmp_path, capsys):
    from bp_qiskit.cli import main
    from bp_qiskit.cli.run import qpu_estimate

    path, spec = _two_costs(tmp_path, job_seconds=0)
    one = qpu_estimate(spec.variants()[0], StandInService())
    both = qpu_estimate(spec, StandInService())
    # Both costs are diagonal: one PUB measures both from the same shots, at no extra time.
    assert both.jobs == one.jobs == 4 and math.isclose(both.seconds, one.seconds)
    service = StandInService()
    limit = str(0.5 * one.seconds)
    store = ["--store", str(tmp_path / "s.sqlite"), "--no-progress", "--no-plot"]
    assert main(["run", str(path), "--max-qpu-seconds", limit, *store], service=service) == 2
    assert service.submissions == 0
    assert "nothing was submitted" in capsys.readouterr().err
    assert main(["run", str(path), "--dry-run"], service=StandInService()) == 0
    assert "as submitted (2 studies of two;" in capsys.readouterr().out


def test_the_costs_of_one_spec_run_as_one_pub_per_job_key(tmp_path, capsys):
    from bp_qiskit.cli import main
    from bp_qiskit.store import SQLiteStore

    path, _ = _two_costs(tmp_path)
    service = StandInService()
    store_path = tmp_path / "s.sqlite"
    args = ["run", str(path), "--store", str(store_path), "--yes", "--no-progress", "--no-plot"]
    assert main([*args, "--out", str(tmp_path / "out")], service=service) == 0
    # 4 job keys (2 cells x 2 chunks), each one PUB over both costs, all packed in one job.
    assert service.submissions == 1
    (job,) = service.jobs.values()
    assert len(job.pubs) == 4 and all(np.shape(p[1])[0] == 2 for p in job.pubs)
    store = SQLiteStore(store_path)
    studies = store.list_studies()
    assert len(studies) == 2
    for study in studies:
        subs = store.get_submissions(study.id)
        assert len(subs) == 4 and {s.remote_job_id for s in subs} == {"standin-0"}
        assert all(s.provenance["shared_with"] == 8 for s in subs)
        assert all(j.state is JobState.DONE for j in store.get_jobs(study.id))
    # Paired: the same circuits and angles, sample by sample; different costs, each in its
    # own study: P(all qubits 0) <= the mean over qubits of P(qubit 0), sample by sample, so
    # on average over 20 samples the global study's cost lies well below the local one's.
    by_name = {s.name: s.id for s in studies}
    a, b = store.get_results(by_name["two"]), store.get_results(by_name["two-local"])
    for key in a:
        assert a[key]["costs"].mean() < b[key]["costs"].mean()
    for key in a:
        assert np.array_equal(a[key]["params"], b[key]["params"])
        assert not np.array_equal(a[key]["grads"], b[key]["grads"])


def _circuit():
    qc = QuantumCircuit(2)
    a, b = Parameter("a"), Parameter("b")
    qc.ry(a, 0)
    qc.cx(0, 1)
    qc.rx(b, 1)
    return qc


def test_gradient_variance_on_a_qpu_needs_a_limit_or_approval():
    service = StandInService()
    backend = make_backend("ibm:ibm_standin", options=OPTIONS, service=service)
    with pytest.raises(CostLimitError, match="max_qpu_seconds"):
        gradient_variance(_circuit(), "ZZ", samples=4, seed=1, backend=backend, shots=50)
    with pytest.raises(CostLimitError, match="above the limit"):
        gradient_variance(
            _circuit(), "ZZ", samples=4, seed=1, backend=backend, shots=50, max_qpu_seconds=1
        )
    assert service.submissions == 0
    seen = []
    out = gradient_variance(
        _circuit(),
        "ZZ",
        samples=4,
        seed=1,
        backend=backend,
        shots=50,
        approve_cost=True,
        on_submit=seen.append,
    )
    assert service.submissions == 1 and list(out.job_ids) == seen == ["standin-0"]
    assert out.qpu_seconds_estimate is not None and out.qpu_seconds_estimate > 2


def test_a_printed_pause_message_is_redacted(tmp_path, capsys, monkeypatch):
    from bp_qiskit.cli import main

    secret = "Bearer eyJhbGciOiJIUzI1NiJ9abcdef"
    service = StandInService(scripts={0: ["ERROR"]}, reasons={0: f"denied: {secret}"})
    path = tmp_path / "hw.toml"
    path.write_text(
        '[study]\nname = "hw"\n[circuit]\nqubits = [2]\n[sampling]\nsamples = 10\nshots = 20\n'
        '[backend]\nname = "ibm:ibm_standin"\n[backend.options]\npoll_interval = 0\n'
    )
    args = ["run", str(path), "--store", str(tmp_path / "s.sqlite"), "--yes", "--no-progress"]
    assert main(args, service=service) == 1
    err = capsys.readouterr().err
    assert "paused" in err and "eyJhbGciOiJIUzI1NiJ9abcdef" not in err


def _task(store, sid, key):
    from bp_qiskit.execution.jobs import JobBuilder, job_of

    rec = next(j for j in store.get_jobs(sid) if j.key == key)
    return JobBuilder(SPEC).build(job_of(rec), shots=rec.shots_requested).task


def test_status_adopts_a_lost_tag_that_turned_up(tmp_path):
    from bp_qiskit.cli import main
    from bp_qiskit.store import SQLiteStore

    path = tmp_path / "s.sqlite"
    store = SQLiteStore(path)
    sid = create_study(store, SPEC)
    store.claim_job(sid, KEYS[0])
    store.add_submission(sid, KEYS[0], "bpq-late")
    store.update_submission(sid, "bpq-late", state=SubmissionState.LOST, cause="lost")
    store.close()
    service = StandInService()
    service.submit(None, [], {"environment": {"job_tags": ["bpq-late"]}}, "batch")
    assert main(["status", sid, "--store", str(path), "--json"], service=service) == 0
    sub = SQLiteStore(path).get_submissions(sid)[0]
    assert sub.state is SubmissionState.SUBMITTED and sub.remote_job_id == "standin-0"


def test_a_session_on_an_open_plan_is_refused_up_front():
    from bp_qiskit.backends import BackendNameError

    service = StandInService(plan="open")
    with pytest.raises(BackendNameError, match=r"mode: 'session'.*Open Plan"):
        make_backend("ibm:ibm_standin", options={"mode": "session"}, service=service)
    assert make_backend("ibm:ibm_standin", options={"mode": "batch"}, service=service)
    assert service.submissions == 0


def test_each_submission_records_what_ran_where_and_when():
    import base64
    import io

    from qiskit import qpy

    service = StandInService()
    store = InMemoryStore()
    sid = create_study(store, SPEC)
    run(store, sid, service)
    sub = store.get_submissions(sid)[0]
    prov = sub.provenance
    (isa,) = qpy.load(io.BytesIO(base64.b64decode(prov["isa_qpy"])))
    assert isa.num_qubits == 5 and set(isa.count_ops()) <= {"rz", "sx", "x", "cx"}
    assert prov["versions"]["qiskit"] and prov["versions"]["qiskit-ibm-runtime"]
    assert prov["timestamps"]["running"] == "2026-12-01T10:05:00Z"
    assert prov["batch_id"] == "standin-batch-0"
    assert prov["calibrated_at_execution"].startswith("2026-12-01T09:00")
    assert prov["options_final"]["default_shots"] == 100  # as the service stored them
    assert "max_execution_time" in prov["options_final"]  # with the service's defaults
    assert "not_reported" not in prov


def test_each_template_is_transpiled_once_per_run(tmp_path, monkeypatch):
    from bp_qiskit.backends import isa as isa_mod
    from bp_qiskit.cli import main

    isa_mod._SHARED.clear()
    calls = []
    real = isa_mod.native_rotations
    monkeypatch.setattr(isa_mod, "native_rotations", lambda c: calls.append(c) or real(c))
    path = tmp_path / "hw.toml"
    path.write_text(
        '[study]\nname = "hw"\n[circuit]\nqubits = [2, 3]\n[sampling]\nsamples = 10\n'
        'shots = 20\n[backend]\nname = "ibm:ibm_standin"\n[backend.options]\npoll_interval = 0\n'
    )
    args = ["run", str(path), "--store", str(tmp_path / "s.sqlite"), "--yes", "--no-progress"]
    assert main([*args, "--no-plot"], service=StandInService()) == 0
    assert len(calls) == 2  # one per cell: the CLI's gate, run_stored's gate and the run share


def test_a_study_out_of_retries_reads_paused():
    from bp_qiskit.execution.study_status import study_state

    always = {i: (post_error(429), False) for i in range(100)}
    store = InMemoryStore()
    sid = create_study(store, SPEC)
    with pytest.raises(StudyPausedError):
        run(store, sid, StandInService(post_errors=always))
    assert study_state(store, sid) == "paused"


def test_on_aer_the_costs_of_one_spec_share_one_simulation(monkeypatch):
    from bp_qiskit.backends.estimator import EstimatorBackend
    from bp_qiskit.execution.studies import run_stored_group

    spec = StudySpec.from_dict(
        {
            "study": {"name": "two", "seed": 3},
            "circuit": {"ansatz": "alternating_layered", "qubits": [4, 6], "layers": 2},
            "observable": [{"kind": "global"}, {"kind": "local"}],
            "sampling": {"samples": 40, "chunk": 20},
        }
    )
    calls = []
    real = EstimatorBackend.evaluate
    monkeypatch.setattr(
        EstimatorBackend,
        "evaluate",
        lambda self, tasks, **kw: calls.append(1) or real(self, tasks, **kw),
    )
    shared, apart = InMemoryStore(), InMemoryStore()
    ids = [create_study(shared, s) for s in spec.variants()]
    run_stored_group(shared, ids, progress=False)
    assert len(calls) == 4  # 2 cells x 2 chunks, each one PUB over both costs
    calls.clear()
    ref = [create_study(apart, s) for s in spec.variants()]
    for sid in ref:
        run_stored(apart, sid, progress=False)
    assert len(calls) == 8
    for a, b in zip(ids, ref, strict=True):
        got, want = shared.get_results(a), apart.get_results(b)
        for key in want:
            assert np.array_equal(got[key]["params"], want[key]["params"])
            np.testing.assert_allclose(got[key]["grads"], want[key]["grads"], atol=1e-12)
