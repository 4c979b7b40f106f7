"""What the submissions table says about a remote job, and what is done about it.

Pure reads of :class:`~bp_qiskit.store.SubmissionRecord` rows (the latest per job, how many
retryable failures in a row, the time limit a submission was sent with, a tag's place in a
shared job) and the one write that needs no backend but a lookup: adopting a LOST tag that
turned up (:func:`adopt_lost`). The state machine that submits and polls is
:mod:`bp_qiskit.execution.remote`; ``status`` uses these too, without submitting anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import UsageError
from ..store import BaseStore, JobState, SubmissionRecord, SubmissionState, redact

__all__ = [
    "HOLDING_CAUSES",
    "RETRY_CAUSES",
    "adopt_lost",
    "check_new_limit",
    "hold_message",
    "job_state",
    "latest_submissions",
    "parse_tag",
    "previous_limit",
    "retry_streak",
]

# Causes that stop a job until the user says otherwise (``resume --resubmit``).
HOLDING_CAUSES = ("cancelled", "timeout", "permanent", "unknown", "rejected", "vanished")
# Causes of a submission that may be made again on its own (counted, with backoff).
RETRY_CAUSES = ("transient", "refused", "lost")


def latest_submissions(subs: Sequence[SubmissionRecord]) -> dict[str, SubmissionRecord]:
    """The most recent submission of each job key."""
    out: dict[str, SubmissionRecord] = {}
    for s in subs:
        out[s.key] = s
    return out


def retry_streak(subs: Sequence[SubmissionRecord], key: str) -> int:
    """How many of the job's latest submissions in a row ended in a retryable failure."""
    streak = 0
    for s in reversed([s for s in subs if s.key == key]):
        retryable = s.cause in RETRY_CAUSES and s.state in (
            SubmissionState.FAILED,
            SubmissionState.LOST,
        )
        if not retryable:
            break
        streak += 1
    return streak


def adopt_lost(store: BaseStore, study_id: str, find: Callable[[str], list[str]]) -> list[str]:
    """Look every LOST tag up again; adopt a job that turned up, or record it as a duplicate.

    ``find(tag)`` returns the ids of the service's jobs with that tag. A job found for a key
    that is not finished and has no live submission becomes that key's live submission
    (SUBMITTED with its id), so the run collects it instead of submitting again. Where the
    key was meanwhile submitted again, the found job is recorded on its row as a billed
    duplicate. Returns one message per job found. Hiccups skip a tag (the next call tries).
    """
    subs = store.get_submissions(study_id)
    finished = {j.key for j in store.get_jobs(study_id) if j.state.is_finished()}
    live = {s.key for s in subs if s.state.may_be_running()}
    notes = []
    for s in subs:
        if s.state is not SubmissionState.LOST or s.cause != "lost" or s.remote_job_id:
            continue
        if s.provenance.get("duplicate_job_ids"):
            continue
        try:
            ids = find(s.tag)
        except Exception:  # a hiccup: the next run or status looks again
            continue
        if not ids:
            continue
        if s.key in finished or s.key in live:
            store.update_submission(
                study_id,
                s.tag,
                reason=f"found later as {', '.join(ids)}, after the job was submitted again: "
                "a duplicate that the service ran and billed; its result is not used",
                provenance={"duplicate_job_ids": ids},
            )
            notes.append(
                f"job {s.key}: submission {s.tag} turned up late as {ids[0]} (a duplicate)"
            )
            continue
        store.update_submission(
            study_id,
            s.tag,
            state=SubmissionState.SUBMITTED,
            remote_job_id=ids[0],
            reason="found by its tag after it was declared lost; adopted",
        )
        live.add(s.key)
        notes.append(f"job {s.key}: submission {s.tag} turned up as {ids[0]}; adopted")
    return notes


_HOLD_TEXT = {
    "cancelled": "was cancelled on the service (by you or an administrator)",
    "timeout": "ran past max_execution_time (code 1305); raise it with resume "
    "--max-execution-time SECONDS --resubmit",
    "permanent": "was rejected by the service",
    "rejected": "was refused by the service",
    "unknown": "ended in ERROR with no reason code (it may have run past max_execution_time, "
    "or the job may be at fault)",
    "vanished": "is no longer known to the service (HTTP 404) and will never finish",
    "retries": "failed on the service's side on every try",
}


def hold_message(study_id: str, key: str, job: str, cause: str | None, reason: str | None) -> str:
    """One line for a held job: what happened, why, and how to run it again (redacted)."""
    what = _HOLD_TEXT.get(cause or "permanent", _HOLD_TEXT["permanent"])
    return redact(
        f"job {key} ({job}) {what}: {reason or 'no reason given'}; it was not resubmitted; "
        f"to run it again: bp-qiskit resume {study_id} --resubmit"
    )


def job_state(cause: str | None) -> JobState:
    """The job row's state for a held job: CANCELLED for a user's cancel, else FAILED."""
    return JobState.CANCELLED if cause == "cancelled" else JobState.FAILED


# Tags of the members of a shared job: ``bpq-<group>-p<pub>`` and ``...o<observable>``; a
# job with one PUB for one study keeps the plain ``bpq-<hex>`` tag. The tag is stored with
# the SUBMITTING row before the POST, so a resumed study knows its PUB and observable.
_TAG_RE = re.compile(r"^bpq-([0-9a-f]+)(?:-p(\d+)(?:o(\d+))?)?$")


def parse_tag(tag: str) -> tuple[str, int, int | None]:
    """(group, pub, observable) of a member tag; any other tag is a group of its own."""
    found = _TAG_RE.match(tag)
    if not found:
        return tag, 0, None
    obs = found.group(3)
    return found.group(1), int(found.group(2) or 0), int(obs) if obs is not None else None


def previous_limit(sub: SubmissionRecord) -> int | None:
    """The max_execution_time a submission was sent with (None: the service's default)."""
    value = (sub.provenance.get("options") or {}).get("max_execution_time")
    return int(value) if isinstance(value, (int, float)) else None


def check_new_limit(key: str, last: SubmissionRecord, limit: Any) -> None:
    """A job that ran past its time limit is sent again only with a higher ``limit``.

    Raises UsageError otherwise: the same limit would stop it, and bill it, again.
    """
    before = previous_limit(last)
    if limit is None or (before is not None and limit <= before):
        raise UsageError(
            f"job {key} ran past max_execution_time"
            + (f" ({before} s)" if before is not None else " (the service's default)")
            + "; resubmitting with the same limit would bill it again: pass "
            "--max-execution-time SECONDS with a higher value"
        )
