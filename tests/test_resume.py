"""Crash safety: SIGKILL a running study, resume it, get the uninterrupted result bit for bit."""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KILL_AFTER_DONE = 5
POLL_S = 0.01


def cli(*args, **kw):
    return subprocess.run(
        [sys.executable, "-m", "bp_qiskit.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=kw.get("cwd"),
        timeout=300,
    )


def in_process(capsys, *args):
    """The CLI's main() in this process, with the subprocess result's fields."""
    import types

    from bp_qiskit.cli import main

    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return types.SimpleNamespace(returncode=code, stdout=captured.out, stderr=captured.err)


def start_cli(*args):
    """The CLI in a background process, for tests that kill or interrupt it."""
    return subprocess.Popen(
        [sys.executable, "-m", "bp_qiskit.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def done_keys(db_path):
    if not db_path.exists():
        return set()
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1)
        try:
            rows = db.execute("SELECT key FROM jobs WHERE state = 'DONE'").fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return set()  # schema not created yet
    return {r[0] for r in rows}


def attempts(db_path):
    db = sqlite3.connect(db_path)
    try:
        return dict(db.execute("SELECT key, attempts FROM jobs").fetchall())
    finally:
        db.close()


@pytest.mark.parametrize("shots", [0, 50], ids=["exact", "shots"])
def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path, shots):
    spec = tmp_path / "spec.toml"
    spec.write_text(
        '[study]\nname = "crash"\nseed = 11\n'
        '[circuit]\nansatz = "mcclean"\nlayers = 12\nqubits = [6, 7, 8]\n'
        '[observable]\nkind = "zz"\n[gradient]\nparameter = "first"\n'
        f"[sampling]\nsamples = 1000\nchunk = 20\nshots = {shots}\n"
    )
    # Reference: uninterrupted.
    ref = cli(
        "run",
        str(spec),
        "--store",
        str(tmp_path / "ref.sqlite"),
        "--out",
        str(tmp_path / "ref"),
        "--no-progress",
    )
    assert ref.returncode == 0, ref.stderr

    db = tmp_path / "crash.sqlite"
    proc = start_cli(
        "run",
        str(spec),
        "--store",
        str(db),
        "--out",
        str(tmp_path / "crash"),
        "--no-progress",
    )
    deadline = time.monotonic() + 120
    while len(done_keys(db)) < KILL_AFTER_DONE and proc.poll() is None:
        assert time.monotonic() < deadline, "study never started"
        time.sleep(POLL_S)
    os.kill(proc.pid, signal.SIGKILL)
    stdout, _ = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "the study finished before it could be killed"
    finished_before = done_keys(db)
    total = len(attempts(db))
    assert KILL_AFTER_DONE <= len(finished_before) < total
    study_id = stdout.decode().split()[1]

    status = cli("status", study_id, "--store", str(db))
    assert status.returncode == 0 and "interrupted" in status.stdout

    res = cli(
        "resume", study_id, "--store", str(db), "--out", str(tmp_path / "crash"), "--no-progress"
    )
    assert res.returncode == 0, res.stderr
    counts = attempts(db)
    assert all(counts[k] == 1 for k in finished_before), "a finished job ran again"
    assert len(done_keys(db)) == total
    for name in ("results.json", "samples.npz"):
        assert without_study_id(tmp_path / "crash" / name) == without_study_id(
            tmp_path / "ref" / name
        )

    # `report` reproduces what `run` wrote, bit for bit.
    rep = cli("report", study_id, "--store", str(db), "--out", str(tmp_path / "report"))
    assert rep.returncode == 0, rep.stderr
    for name in ("results.json", "samples.npz"):
        assert without_study_id(tmp_path / "report" / name) == without_study_id(
            tmp_path / "ref" / name
        )


def test_bad_input_is_one_line_exit_2_without_traceback(tmp_path, capsys):
    # In process: the same main() the console script calls, without 9 interpreter start-ups
    # (test_cli.py runs the console script itself in a subprocess).
    def cli(*args):
        return in_process(capsys, *args)

    good = ROOT / "jobs" / "seed_tutorial.toml"
    store = tmp_path / "s.sqlite"
    assert (
        cli(
            "run",
            str(good),
            "--store",
            str(store),
            "--samples",
            "4",
            "--qubits",
            "2",
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
        ).returncode
        == 0
    )
    bad_spec = tmp_path / "bad.toml"
    bad_spec.write_text("[sampling]\nsamples = 'many'\n")
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"\x00garbage" * 512)
    future = tmp_path / "future.sqlite"
    db = sqlite3.connect(future)
    db.execute("PRAGMA user_version = 999")
    db.commit()
    db.close()
    cases = [
        (("run", str(bad_spec), "--store", str(store)), "sampling.samples"),
        (("run", str(tmp_path / "missing.toml"), "--store", str(store)), "missing.toml"),
        (("status", "no-such-study", "--store", str(store)), "no study 'no-such-study'"),
        (("resume", "no-such-study", "--store", str(store)), "no study 'no-such-study'"),
        (("report", "no-such-study", "--store", str(store)), "no study 'no-such-study'"),
        (("list", "--store", str(corrupt)), "not a bp_qiskit store or is corrupt"),
        (("status", "--store", str(future)), "newer than this bp_qiskit supports"),
        (("list", "--store", str(tmp_path / "absent.sqlite")), "no store at"),
    ]
    for args, message in cases:
        out = cli(*args)
        assert out.returncode == 2, (args, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
        assert "Traceback" not in out.stderr


def test_list_and_status_json(tmp_path, capsys):
    import json

    def cli(*args):
        return in_process(capsys, *args)

    store = tmp_path / "s.sqlite"
    out = cli(
        "run",
        str(ROOT / "jobs" / "seed_tutorial.toml"),
        "--store",
        str(store),
        "--samples",
        "20",
        "--qubits",
        "2,3",
        "--shots",
        "10",
        "--out",
        str(tmp_path / "o"),
        "--no-progress",
    )
    assert out.returncode == 0, out.stderr
    studies = json.loads(cli("list", "--json", "--store", str(store)).stdout)
    assert len(studies) == 1 and {"id", "name", "state"} <= set(studies[0])
    assert studies[0]["state"] == "done" and studies[0]["name"] == "seed_tutorial"
    status = json.loads(cli("status", studies[0]["id"], "--json", "--store", str(store)).stdout)
    assert status["shots_used"] == 2 * 20 * 10 * 2  # cells x samples x shots x (+/-)
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert [c["grad_var"] for c in status["cells"]] == pytest.approx(
        [c["grad_var"] for c in results["cells"]]
    )
    csv_out = cli("export", studies[0]["id"], "--format", "csv", "--store", str(store)).stdout
    assert len(csv_out.strip().splitlines()) == 1 + 2 * 20
    js = json.loads(
        cli("export", "seed_tutorial", "--format", "json", "--store", str(store)).stdout
    )
    assert js["study_id"] == studies[0]["id"] and len(js["samples"]["3_1"]["grads"]) == 20


def test_ctrl_c_stops_cleanly_and_keeps_finished_work(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(
        '[study]\nname = "ctrlc"\n[circuit]\nansatz = "mcclean"\nlayers = 12\nqubits = [7, 8]\n'
        '[observable]\nkind = "zz"\n[sampling]\nsamples = 1000\nchunk = 20\n'
    )
    db = tmp_path / "s.sqlite"
    proc = start_cli(
        "run",
        str(spec),
        "--store",
        str(db),
        "--no-progress",
        "--out",
        str(tmp_path / "o"),
    )
    deadline = time.monotonic() + 120
    while len(done_keys(db)) < KILL_AFTER_DONE and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(POLL_S)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert b"bp-qiskit resume" in stderr and b"Traceback" not in stderr
    dbc = sqlite3.connect(db)
    states = dict(dbc.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall())
    owner = dbc.execute("SELECT owner FROM studies").fetchone()[0]
    dbc.close()
    assert states.get("RUNNING", 0) == 0  # the job in flight went back to PENDING
    assert states["DONE"] >= KILL_AFTER_DONE and states["PENDING"] > 0
    assert owner is None  # the study was released


def test_adaptive_run_is_recorded_and_resumable_from_the_cli(tmp_path):
    import json

    store = tmp_path / "s.sqlite"
    args = [
        "run",
        str(ROOT / "jobs" / "seed_tutorial.toml"),
        "--qubits",
        "2,3",
        "--shots",
        "30",
        "--target-rel-error",
        "0.3",
        "--max-shots",
        "200000",
        "--store",
        str(store),
        "--no-progress",
    ]
    first = cli(*args, "--out", str(tmp_path / "a"))
    assert first.returncode == 0, first.stderr
    report = json.loads((tmp_path / "a" / "adaptive.json").read_text())
    assert all(c["reached"] for c in report["cells"])
    again = cli(
        "resume",
        report["study_id"],
        "--store",
        str(store),
        "--out",
        str(tmp_path / "b"),
        "--no-progress",
    )
    assert again.returncode == 0, again.stderr
    for name in ("results.json", "samples.npz", "adaptive.json"):
        assert without_study_id(tmp_path / "a" / name) == without_study_id(tmp_path / "b" / name)
    db = sqlite3.connect(store)
    assert db.execute("SELECT max(attempts) FROM jobs").fetchone()[0] == 1
    db.close()


def without_study_id(path):
    """A results.json's bytes without its study id (new for every study)."""
    return re.sub(rb'  "study_id": "[0-9a-f]+",\n', b"", path.read_bytes())
