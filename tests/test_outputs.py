"""Outputs are never overwritten or mixed, and output paths are checked before compute."""

import json
import os

from bp_qiskit.cli import main
from bp_qiskit.store import SQLiteStore

SPEC = (
    '[study]\nname = "tiny"\nseed = 4\n[circuit]\nqubits = [2, 3]\n'
    "[sampling]\nsamples = 20\nchunk = 10\n"
)


def test_two_runs_then_resume_and_report_leave_both_outputs_intact(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(SPEC)
    store = ["--store", "s.sqlite", "--no-progress"]
    assert main(["run", "tiny.toml", *store]) == 0
    assert main(["run", "tiny.toml", "--seed", "5", *store]) == 0
    first, second = [s.id for s in SQLiteStore(tmp_path / "s.sqlite").list_studies()]
    a, b = tmp_path / "results" / f"tiny-{first}", tmp_path / "results" / f"tiny-{second}"
    before = {p: p.read_bytes() for p in (a / "results.json", b / "results.json")}
    assert json.loads(before[a / "results.json"])["study_id"] == first
    assert json.loads(before[b / "results.json"])["study_id"] == second
    assert before[a / "results.json"] != before[b / "results.json"]
    assert os.readlink(tmp_path / "results" / "tiny-latest") == f"tiny-{second}"
    # resume and report of the first study write to its own folder only
    assert main(["resume", first, "--store", "s.sqlite", "--no-progress"]) == 0
    assert main(["report", first, "--store", "s.sqlite"]) == 0
    assert (b / "results.json").read_bytes() == before[b / "results.json"]
    assert (a / "results.json").read_bytes() == before[a / "results.json"]
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == sorted(
        [a.name, b.name, "tiny-latest"]
    )
    capsys.readouterr()
    assert main(["list", "--store", "s.sqlite"]) == 0
    head, *rows = capsys.readouterr().out.splitlines()
    assert head.split()[:6] == ["id", "name", "kind", "backend", "shots", "samples"]
    assert [r.split()[3:7] for r in rows] == [["aer", "exact", "20", "done"]] * 2


def test_out_that_is_a_file_fails_before_any_compute(tmp_path, capsys):
    (tmp_path / "tiny.toml").write_text(SPEC)
    (tmp_path / "taken").write_text("not a folder")
    db = tmp_path / "s.sqlite"
    args = [
        "run",
        str(tmp_path / "tiny.toml"),
        "--out",
        str(tmp_path / "taken"),
        "--store",
        str(db),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out:" in err and "is a file" in err
    assert not db.exists()  # nothing was recorded, nothing computed


def test_export_into_a_missing_folder_is_one_line(tmp_path, capsys):
    (tmp_path / "tiny.toml").write_text(SPEC)
    db = str(tmp_path / "s.sqlite")
    out = str(tmp_path / "o")
    assert (
        main(["run", str(tmp_path / "tiny.toml"), "--store", db, "--out", out, "--no-progress"])
        == 0
    )
    sid = SQLiteStore(db).list_studies()[0].id
    capsys.readouterr()
    missing = str(tmp_path / "nope" / "x.csv")
    assert main(["export", sid, "--format", "csv", "--store", db, "--out", missing]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err
