"""Every study kind through the Python API and through the CLI, including SIGKILL and resume.

Each kind's spec is small but has enough jobs to be killed part-way. An uninterrupted run is
the reference: a killed-and-resumed run, and ``report`` from the store, give its bytes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from bp_qiskit import StudySpec, run_study
from bp_qiskit.cli import main
from bp_qiskit.execution import KINDS, kind_of

POLL_S = 0.005

BASE = """
[study]
name = "{name}"
seed = 31
[observable]
kind = "global"
[gradient]
parameter = "last"
"""

SPECS = {
    "plain": BASE
    + '[circuit]\nansatz = "mcclean"\nlayers = 6\nqubits = [4, 5, 6]\n'
    + "[sampling]\nsamples = 200\nchunk = 10\nshots = 40\n",
    "adaptive": BASE
    + "[circuit]\nqubits = [3, 4, 5]\n"
    + "[sampling]\nshots = 20\nchunk = 40\n"
    + "[adaptive]\ntarget_rel_error = 0.08\nmax_shots = 10000000\n",
    "budget": BASE
    + "[circuit]\nqubits = [2, 3]\n"
    + "[sampling]\nshots = 0\n"
    + "[budget]\ntotal_shots = 4000\nshots = [4, 16]\nrepeats = 15\n",
}

# The files a kind writes and whose bytes must not depend on interruptions.
FILES = {
    "plain": ("results.json", "samples.npz"),
    "adaptive": ("results.json", "samples.npz", "adaptive.json"),
    "budget": ("budget.json",),
}


def write_spec(tmp_path, kind):
    path = tmp_path / f"{kind}.toml"
    path.write_text(SPECS[kind].format(name=f"k_{kind}"), encoding="utf-8")
    return path


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "bp_qiskit.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def done_count(db):
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT count(*) FROM jobs WHERE state = 'DONE'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def without_study_id(path):
    """A results.json's bytes without its study id (new for every study)."""
    return re.sub(rb'  "study_id": "[0-9a-f]+",\n', b"", path.read_bytes())


def comparable(path):
    if path.name == "adaptive.json":  # holds the study id
        data = json.loads(path.read_text())
        data.pop("study_id")
        return data
    if path.name == "results.json":
        return without_study_id(path)
    return path.read_bytes()


def test_the_table_has_every_kind():
    assert set(KINDS) == set(SPECS)


@pytest.mark.parametrize("kind", list(SPECS))
def test_every_kind_through_run_study(tmp_path, kind):
    from bp_qiskit.spec import load_spec

    spec = load_spec(write_spec(tmp_path, kind))
    assert kind_of(spec).name == kind
    outcome = run_study(spec, progress=False)
    assert outcome.kind == kind
    if kind == "budget":
        assert outcome.result is None and outcome.budget is not None
        assert len(outcome.budget.points) == 2 * 2
    else:
        assert outcome.result is not None and len(outcome.data) == len(spec.circuit.qubits)
        assert all(c.grad_var > 0 for c in outcome.result.cells)
    assert bool(outcome.adaptive) == (kind == "adaptive")


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(SPECS))
def test_every_kind_survives_sigkill_and_every_command_works(tmp_path, kind):
    spec = write_spec(tmp_path, kind)
    ref = cli("run", str(spec), "--store", str(tmp_path / "ref.sqlite"), "--out",
              str(tmp_path / "ref"), "--no-progress")  # fmt: skip
    assert ref.returncode == 0, ref.stderr

    db = tmp_path / "crash.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bp_qiskit.cli", "run", str(spec), "--store", str(db),
         "--out", str(tmp_path / "crash"), "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while done_count(db) < 2 and proc.poll() is None:
        assert time.monotonic() < deadline, "study never started"
        time.sleep(POLL_S)
    os.kill(proc.pid, signal.SIGKILL)
    stdout, _ = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "the study finished before it could be killed"
    study_id = stdout.decode().split()[1]
    before = done_count(db)

    status = cli("status", study_id, "--store", str(db), "--json")
    assert status.returncode == 0, status.stderr
    info = json.loads(status.stdout)
    assert info["kind"] == kind and info["state"] == "interrupted"
    assert info["jobs"].get("DONE", 0) == before

    res = cli("resume", study_id, "--store", str(db), "--out", str(tmp_path / "crash"),
              "--no-progress")  # fmt: skip
    assert res.returncode == 0, res.stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT max(attempts) FROM jobs WHERE state = 'DONE'").fetchone()[0] <= 2
    assert con.execute("SELECT count(*) FROM jobs WHERE state != 'DONE'").fetchone()[0] == 0
    con.close()

    rep = cli("report", study_id, "--store", str(db), "--out", str(tmp_path / "report"))
    assert rep.returncode == 0, rep.stderr
    for name in FILES[kind]:
        want = comparable(tmp_path / "ref" / name)
        assert comparable(tmp_path / "crash" / name) == want, name
        assert comparable(tmp_path / "report" / name) == want, name

    exported = cli("export", study_id, "--store", str(db), "--format", "csv")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.reader(io.StringIO(exported.stdout)))
    assert rows[0][0] == "study_id" and len(rows) > 1
    assert all(r[0] == study_id for r in rows[1:])
    as_json = cli("export", study_id, "--store", str(db), "--format", "json")
    assert json.loads(as_json.stdout)["kind"] == kind


def test_a_spec_with_two_kinds_is_refused_with_both_sections_named(tmp_path, capsys):
    mixed = tmp_path / "mixed.toml"
    mixed.write_text(
        SPECS["budget"].format(name="mixed") + "[adaptive]\ntarget_rel_error = 0.1\n",
        encoding="utf-8",
    )
    store = tmp_path / "s.sqlite"
    assert main(["run", str(mixed), "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[budget]" in err and "[adaptive]" in err
    assert "Traceback" not in err and not store.exists()
    # --target-rel-error on a budget spec is the same mix.
    budget = write_spec(tmp_path, "budget")
    argv = ["run", str(budget), "--target-rel-error", "0.1", "--max-shots", "1000"]
    assert main([*argv, "--store", str(store)]) == 2
    assert "[budget] and [adaptive]" in capsys.readouterr().err
    with pytest.raises(Exception, match=r"\[budget\] and \[adaptive\]"):
        StudySpec.from_dict({"budget": {}, "adaptive": {}})


def test_tables_report_what_each_kind_actually_spent(tmp_path, capsys):
    from bp_qiskit.report import format_table
    from bp_qiskit.results import AdaptiveCell, StudyResult

    db = str(tmp_path / "s.sqlite")
    spec = write_spec(tmp_path, "adaptive")
    assert (
        main(["run", str(spec), "--store", db, "--out", str(tmp_path / "a"), "--no-progress"]) == 0
    )
    printed = capsys.readouterr().out
    adaptive = json.loads((tmp_path / "a" / "adaptive.json").read_text())["cells"]
    lines = printed.splitlines()
    head = next(
        i for i, line in enumerate(lines) if line.split()[:4] == ["n", "L", "samples", "shots"]
    )
    rows = [line.split() for line in lines[head + 2 : head + 2 + len(adaptive)]]
    assert [int(r[3]) for r in rows] == [c["final_shots"] for c in adaptive]
    # Rounds at different N: the table shows the final N, not the least (shots_executed).
    result = StudyResult.from_json((tmp_path / "a" / "results.json").read_text())
    first = result.cells[0]
    grown = AdaptiveCell(first.num_qubits, first.num_layers, 10, 777, 1, 0.1, True, 2)
    row = format_table(result, (grown,)).splitlines()[2].split()
    assert row[3] == "777" and first.shots_executed != 777

    db2 = str(tmp_path / "b.sqlite")
    budget = write_spec(tmp_path, "budget")
    assert (
        main(["run", str(budget), "--store", db2, "--out", str(tmp_path / "b"), "--no-progress"])
        == 0
    )
    capsys.readouterr()
    assert main(["list", "--store", db2, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["shots"] == [4, 16] and row["samples"] is None  # the splits, not [sampling]
    assert main(["status", "--store", db2, "--json"]) == 0
    (status,) = json.loads(capsys.readouterr().out)
    # 15 repetitions x 2 splits x 4000 shots per cell; S = 4000/8 + 4000/32 circuits each.
    assert status["shots_used"] == 2 * 15 * 2 * 4000
    assert [c["samples_done"] for c in status["cells"]] == [15 * (500 + 125)] * 2
