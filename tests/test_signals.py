"""SIGTERM stops a study as Ctrl-C does; worker processes die with their parent."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC = str(ROOT / "jobs" / "seed_tutorial.toml")


def start(tmp_path, *extra, qubits="2-9", samples="3000"):
    cmd = [sys.executable, "-m", "bp_qiskit.cli", "run", SPEC, "--samples", samples,
           "--qubits", qubits, "--store", str(tmp_path / "s.sqlite"), "--out",
           str(tmp_path / "out"), "--no-progress", *extra]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # "study <id> (...)": the study is recorded and running
    assert line.startswith("study "), proc.stderr.read()
    return proc, line.split()[1]


def test_sigterm_behaves_like_ctrl_c_and_resume_finishes(tmp_path):
    # 3000 samples at n = 2..9 now finish in about a second: the signal then lands after the
    # run, in the report. 20,000 keep the study running when it arrives.
    proc, study = start(tmp_path, samples="20000")
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert f"bp-qiskit resume {study}" in err and "Traceback" not in err
    done = subprocess.run(
        [sys.executable, "-m", "bp_qiskit.cli", "resume", study, "--store",
         str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "out"), "--no-progress"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def children(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_die_with_their_parent(tmp_path):
    # Jobs of many seconds each (22 qubits): a worker busy in a job only notices a dead
    # parent when it next reads its queue, so without the kernel's help it outlives it.
    proc, _ = start(tmp_path, "--workers", "2", qubits="22", samples="500")
    deadline = time.time() + 60
    kids = []
    while time.time() < deadline and len(kids) < 3:  # the resource tracker and 2 workers
        kids = children(proc.pid)
        time.sleep(0.2)
    assert len(kids) >= 3, "the worker pool did not start"
    time.sleep(3.0)  # the workers are inside their first jobs
    proc.kill()  # SIGKILL: no clean-up code runs in the parent
    proc.communicate(timeout=30)  # reaps it and closes its pipes
    deadline = time.time() + 5
    while time.time() < deadline and any(os.path.exists(f"/proc/{k}") for k in kids):
        for k in kids:  # reap zombies of the dead parent's children adopted by init
            try:
                os.waitpid(k, os.WNOHANG)
            except ChildProcessError:
                pass
        time.sleep(0.2)
    alive = [k for k in kids if os.path.exists(f"/proc/{k}") and _state(k) != "Z"]
    assert alive == []


def _state(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return "gone"


def test_an_interrupted_process_ends_even_with_a_thread_still_running():
    """A simulator thread inside a job kept an interrupted run alive past its message; the
    console script's grace timer ends the process with the interrupt's code."""
    code = (
        "import sys, threading, time\n"
        "from bp_qiskit.cli import exit_after_interrupt\n"
        "threading.Thread(target=time.sleep, args=(600,)).start()  # not a daemon\n"
        "sys.exit(exit_after_interrupt(143))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert done.returncode == 143
    ok = "import sys; from bp_qiskit.cli import exit_after_interrupt as e; sys.exit(e(0))"
    assert subprocess.run([sys.executable, "-c", ok], timeout=60).returncode == 0


def test_sigterm_stops_a_long_prediction_with_its_own_line():
    """predict shares its cells over threads: a SIGTERM drops the cells not started (it
    does not wait for hundreds), and says nothing of jobs or resume (it keeps none)."""
    spec = str(ROOT / "jobs" / "cerezo2021.toml")
    cmd = [sys.executable, "-m", "bp_qiskit.cli", "predict", spec, "--qubits", "10-1000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()  # "predicting ... cells": the work has started
    assert line.startswith("predicting "), line
    time.sleep(2.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "terminated (SIGTERM)" in err and "resume" not in err and "Traceback" not in err
