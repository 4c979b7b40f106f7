"""A QPU job is never billed twice: every fault the real client produces, one test each.

The stand-in service raises qiskit-ibm-runtime's own exception types. In every scenario the
number of submissions equals the number of distinct jobs, plus only the deliberate, recorded
retries of transient infrastructure failures.
"""

import sqlite3

import pytest
from qiskit_ibm_runtime.api.exceptions import RequestsApiError

from bp_qiskit import StudySpec
from bp_qiskit.backends.ibm_errors import failure_cause, is_transient
from bp_qiskit.backends.remote import RemoteStatus
from bp_qiskit.backends.runtime import RuntimeBackend
from bp_qiskit.errors import StudyFailedError, StudyPausedError
from bp_qiskit.execution import collect, create_study, run_stored
from bp_qiskit.store import InMemoryStore, JobState, SQLiteStore, SubmissionState
from bp_qiskit.testing.faults import ProcessDied, max_time_exceeded, outage
from bp_qiskit.testing.standin import StandInService

SPEC = StudySpec.from_dict(
    {
        "study": {"name": "hw", "seed": 5150},
        "circuit": {"qubits": [2]},
        "sampling": {"samples": 30, "shots": 100, "chunk": 10},
        # No waiting in tests: the in-doubt lookups still happen DOUBT_LOOKUPS times. One PUB
        # per job (job_seconds = 0), so each scenario faults one job of three.
        "backend": {
            "name": "ibm:ibm_standin",
            "options": {"poll_interval": 0, "in_doubt_grace": 0, "job_seconds": 0},
        },
    }
)
JOBS = 3  # 30 samples in chunks of 10


def backend(service):
    return RuntimeBackend(
        service, "ibm_standin", options=SPEC.backend.options, tags=["t"], name=SPEC.backend.name
    )


def run(store, sid, service, **kw):
    # These scenarios are about faults, not the gate (tests/test_cost_gate.py): approved.
    kw.setdefault("approve_cost", True)
    run_stored(store, sid, backend=backend(service), progress=False, **kw)


def per_job(store, sid):
    """Submissions per job key, in order, as (state, cause)."""
    out = {}
    for s in store.get_submissions(sid):
        out.setdefault(s.key, []).append((s.state.value, s.cause))
    return out


def same_numbers_as_a_clean_run(store, sid):
    clean = InMemoryStore()
    sid2 = create_study(clean, SPEC)
    run(clean, sid2, StandInService())
    assert collect(store, sid).result.to_json() == collect(clean, sid2).result.to_json()


def test_the_stand_in_raises_the_real_client_exception():
    exc = outage()
    assert isinstance(exc, RequestsApiError) and not isinstance(exc, (ConnectionError, OSError))
    assert is_transient(exc) and is_transient(outage(429)) and not is_transient(outage(401))
    assert not is_transient(ValueError("bad input"))


def test_failure_causes_follow_the_error_code_registry():
    assert failure_cause(RemoteStatus("CANCELLED", "")) == "cancelled"
    assert failure_cause(RemoteStatus("ERROR", max_time_exceeded("j"))) == "timeout"
    assert failure_cause(RemoteStatus("ERROR", "Error code 1305; ran too long")) == "timeout"
    assert failure_cause(RemoteStatus("ERROR", "Error code 1010; backend error")) == "transient"
    assert failure_cause(RemoteStatus("ERROR", "Error code 9999; internal")) == "transient"
    assert failure_cause(RemoteStatus("ERROR", "Error code 1002; invalid job")) == "permanent"
    # No code: it may be a time-out or the job's own error; a retry could bill it again.
    assert failure_cause(RemoteStatus("ERROR", "no code at all")) == "unknown"


def test_all_jobs_are_submitted_before_any_is_waited_for():
    service = StandInService()
    store = InMemoryStore()
    sid = create_study(store, SPEC)
    run(store, sid, service)
    kinds = [kind for kind, _ in service.events]
    assert kinds[:JOBS] == ["submit"] * JOBS and "submit" not in kinds[JOBS:]
    jobs = store.get_jobs(sid)
    assert all(j.state is JobState.DONE and j.shots_executed == 100 for j in jobs)
    # Shots executed equal shots asked for, and they were sent as a shot count.
    assert service.last_options["default_shots"] == 100


def test_transient_poll_error_polls_again_and_never_resubmits():
    service = StandInService(
        scripts={
            0: ["QUEUED", outage(), outage(502), "RUNNING", ConnectionError("reset"), "DONE"],
            2: ["QUEUED", outage(429), "DONE"],
        }
    )
    store = InMemoryStore()
    sid = create_study(store, SPEC)
    run(store, sid, service)
    assert service.submissions == JOBS
    assert all(subs == [("DONE", None)] for subs in per_job(store, sid).values())
    assert all(j.attempts == 1 for j in store.get_jobs(sid))
    same_numbers_as_a_clean_run(store, sid)


def test_transient_attach_error_on_resume_never_resubmits(tmp_path):
    path = tmp_path / "s.sqlite"
    service = StandInService(scripts={1: ["QUEUED", ProcessDied()]})
    store = SQLiteStore(path)
    sid = create_study(store, SPEC)
    with pytest.raises(ProcessDied):
        run(store, sid, service)
    store.close()
    # The ids were persisted the moment they existed, before the crash.
    db = sqlite3.connect(path)
    rows = db.execute("SELECT state, remote_job_id FROM submissions ORDER BY rowid").fetchall()
    db.close()
    assert [r[1] for r in rows] == ["standin-0", "standin-1", "standin-2"]
    # A new process; the service is unreachable for the first two re-attach calls.
    service.jobs["standin-1"].script = ["RUNNING", "DONE"]
    service.attach_faults = 2
    fresh = StandInService()
    fresh.jobs, fresh._ids = service.jobs, service._ids
    fresh.attach_faults = 2
    store = SQLiteStore(path)
    run(store, sid, fresh)
    assert service.submissions + fresh.submissions == JOBS
    assert per_job(store, sid) == {k: [("DONE", None)] for k in per_job(store, sid)}
    same_numbers_as_a_clean_run(store, sid)


def test_user_cancel_is_never_resubmitted_and_pauses_the_study():
    service = StandInService(scripts={0: ["QUEUED", "CANCELLED"]})
    store = InMemoryStore()
    sid = create_study(store, SPEC)
    with pytest.raises(StudyPausedError, match=rf"paused: .*cancelled.*resume {sid} --resubmit"):
        run(store, sid, service)
    assert service.submissions == JOBS  # the other jobs still ran
    assert per_job(store, sid)["n2_L1_c0"] == [("CANCELLED", "cancelled")]
    assert store.get_jobs(sid)[0].state is JobState.CANCELLED
    # resume without --resubmit: still paused, nothing submitted
    with pytest.raises(StudyPausedError):
        run(store, sid, service)
    assert service.submissions == JOBS
    # the user says so: one more submission, recorded
    run(store, sid, service, resubmit=True)
    assert service.submissions == JOBS + 1
    assert per_job(store, sid)["n2_L1_c0"] == [("CANCELLED", "cancelled"), ("DONE", None)]


def test_1305_timeout_is_not_resubmitted():
    service = StandInService(scripts={1: ["RUNNING", "ERROR"]}, reasons={1: max_time_exceeded()})
    store = InMemoryStore()
    sid = create_study(store, SPEC)
    with pytest.raises(StudyPausedError, match="max_execution_time"):
        run(store, sid, service, max_attempts=3)
    assert service.submissions == JOBS
    assert per_job(store, sid)["n2_L1_c1"] == [("FAILED", "timeout")]


def test_rejected_job_is_not_resubmitted():
    service = StandInService(scripts={0: ["ERROR"]}, reasons={0: "Error code 1002; invalid job"})
    store = InMemoryStore()
    sid = create_study(store, SPEC)
    with pytest.raises(StudyPausedError, match="rejected"):
        run(store, sid, service)
    assert service.submissions == JOBS


def test_transient_infrastructure_failure_is_resubmitted_and_recorded():
    service = StandInService(
        scripts={0: ["RUNNING", "ERROR"]}, reasons={0: "Error code 1010; backend error"}
    )
    store = InMemoryStore()
    sid = create_study(store, SPEC)
    run(store, sid, service)
    assert service.submissions == JOBS + 1
    assert per_job(store, sid)["n2_L1_c0"] == [("FAILED", "transient"), ("DONE", None)]
    same_numbers_as_a_clean_run(store, sid)
    # ... up to the limit per run.
    always = StandInService(
        scripts={i: ["ERROR"] for i in range(20)}, reasons={i: "Error code 1011" for i in range(20)}
    )
    sid2 = create_study(store, SPEC)
    with pytest.raises(StudyFailedError, match="failed"):
        run(store, sid2, always, max_attempts=2)
    assert always.submissions == 2 * JOBS
    assert all(len(s) == 2 for s in per_job(store, sid2).values())


def test_job_in_doubt_found_by_its_tag_is_not_resubmitted(tmp_path):
    # The job reaches the service, then the process dies before the id is returned.
    path = tmp_path / "s.sqlite"
    service = StandInService(die_after_submit={1})
    store = SQLiteStore(path)
    sid = create_study(store, SPEC)
    with pytest.raises(ProcessDied):
        run(store, sid, service)
    store.close()
    store = SQLiteStore(path)
    doubt = [s for s in store.get_submissions(sid) if s.key == "n2_L1_c1"]
    assert [(s.state, s.remote_job_id) for s in doubt] == [(SubmissionState.SUBMITTING, None)]
    run(store, sid, service)
    assert service.submissions == JOBS
    assert store.get_jobs(sid)[1].remote_job_id == "standin-1"  # found by its tag
    same_numbers_as_a_clean_run(store, sid)


def test_job_in_doubt_that_never_reached_the_service_is_submitted_once(tmp_path, monkeypatch):
    service = StandInService()
    real_submit = service.submit
    calls = {"n": 0}

    def dies_before_the_call(*args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ProcessDied  # recorded as SUBMITTING, never sent
        return real_submit(*args)

    monkeypatch.setattr(service, "submit", dies_before_the_call)
    store = SQLiteStore(tmp_path / "s.sqlite")
    sid = create_study(store, SPEC)
    with pytest.raises(ProcessDied):
        run(store, sid, service)
    run(store, sid, service)
    assert service.submissions == JOBS
    assert per_job(store, sid)["n2_L1_c1"] == [("LOST", "lost"), ("DONE", None)]


def test_provenance_and_usage_are_recorded_and_never_zero_when_unknown(monkeypatch):
    monkeypatch.setenv("QISKIT_IBM_TOKEN", "tok-abcdef0123456789")
    service = StandInService(usage_pending=5)  # usage still being computed when collected
    store = InMemoryStore()
    sid = create_study(store, SPEC)
    run(store, sid, service)
    subs = store.get_submissions(sid)
    assert all(s.usage_seconds is None for s in subs)
    assert all(j.usage_seconds is None for j in store.get_jobs(sid))
    p = subs[0].provenance
    assert p["backend"] == "fake_manila" and p["instance"] == service.instance
    assert p["layout"] == "noise_aware" and len(p["qubits"][0]) == 2
    assert p["calibrated_at"] and p["shots_requested"] == 100 and p["shots_executed"] == 100
    assert p["options"]["default_shots"] == 100
    assert "tok-abcdef0123456789" not in repr(subs)


def test_usage_is_refreshed_on_status_and_provenance_reaches_report_and_export(tmp_path, capsys):
    import json

    from bp_qiskit.cli import main

    path = tmp_path / "s.sqlite"
    service = StandInService(usage_pending=1)  # pending when collected, known afterwards
    store = SQLiteStore(path)
    sid = create_study(store, SPEC)
    run(store, sid, service)
    assert [s.usage_seconds for s in store.get_submissions(sid)] == [None] * JOBS
    store.close()
    assert main(["status", sid, "--store", str(path)], service=service) == 0
    assert "QPU seconds: 7.5" in capsys.readouterr().out  # 3 jobs x 2.5 s, now reported
    out = tmp_path / "out"
    assert main(["report", sid, "--store", str(path), "--out", str(out)], service=service) == 0
    capsys.readouterr()
    jobs = json.loads((out / "jobs.json").read_text())
    assert jobs["study_id"] == sid and len(jobs["submissions"]) == JOBS
    first = jobs["submissions"][0]
    assert first["usage_seconds"] == 2.5 and first["shots_executed"] == 100
    assert first["remote_job_id"] == "standin-0" and first["calibrated_at"]
    assert main(["export", sid, "--format", "json", "--store", str(path)]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert [s["remote_job_id"] for s in exported["submissions"]] == [
        "standin-0",
        "standin-1",
        "standin-2",
    ]


def test_adaptive_rounds_of_every_cell_are_submitted_together():
    spec = StudySpec.from_dict(
        {
            **SPEC.to_dict(),
            "circuit": {"qubits": [2, 3]},
            "sampling": {"samples": 10, "shots": 20, "chunk": 10},
            "adaptive": {"target_rel_error": 0.3, "max_shots": 20000},
        }
    )
    service = StandInService()
    store = InMemoryStore()
    sid = create_study(store, spec)
    run(store, sid, service, approve_cost=True)
    kinds = [kind for kind, _ in service.events]
    assert kinds[:2] == ["submit", "submit"]  # the pilots of both cells, before any poll
    first_polls = kinds.index("poll")
    assert first_polls == 2
    assert service.submissions == len(store.get_jobs(sid))  # one submission per round
    assert {s.state for s in store.get_submissions(sid)} == {SubmissionState.DONE}


def test_ctrl_c_leaves_submitted_jobs_running_and_resume_collects_them():
    service = StandInService(scripts={0: ["QUEUED", KeyboardInterrupt()]})
    store = InMemoryStore()
    sid = create_study(store, SPEC)
    with pytest.raises(KeyboardInterrupt):
        run(store, sid, service)
    assert all(
        j.state is JobState.PENDING for j in store.get_jobs(sid) if not j.state.is_finished()
    )
    assert "keeps running" in (store.get_jobs(sid)[0].error or "")
    assert {s.state for s in store.get_submissions(sid)} == {SubmissionState.SUBMITTED}
    service.jobs["standin-0"].script = ["DONE"]
    run(store, sid, service)
    assert service.submissions == JOBS
    same_numbers_as_a_clean_run(store, sid)
