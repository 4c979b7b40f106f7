"""Outputs are never overwritten or mixed, and output paths are checked before compute."""

import json
import os

import pytest

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
    # Below a file: one line too. And a run that stops early leaves no empty folder behind.
    args[3] = str(tmp_path / "taken" / "sub")
    assert main(args) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    args[3] = str(tmp_path / "new" / "deeper")
    assert main([*args, "--backend", "aer:manila", "--qubits", "6"]) == 2  # after check_out
    assert "manila has 5" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


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


def test_absurd_sizes_are_one_line_errors_not_tracebacks_or_hangs(tmp_path, capsys):
    spec = str(tmp_path / "tiny.toml")
    (tmp_path / "tiny.toml").write_text(SPEC)
    db = str(tmp_path / "s.sqlite")
    cases = [
        (["--shots", str(10**20)], "sampling.shots: got 100000000000000000000"),
        (["--samples", str(10**14), "--dry-run"], "sampling.samples: got 100000000000000"),
    ]
    for extra, message in cases:
        assert main(["run", spec, "--store", db, *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and "allowed: an integer in" in err


def test_honest_numbers_in_exports_and_adaptive_reports(tmp_path, capsys):
    import csv
    import io
    import math

    from bp_qiskit.results import AdaptiveCell, AdaptiveReport

    spec = str(tmp_path / "tiny.toml")
    (tmp_path / "tiny.toml").write_text(SPEC + '[gradient]\nparameter = "last"\n')
    db = str(tmp_path / "s.sqlite")
    out = str(tmp_path / "o")
    assert main(["run", spec, "--store", db, "--out", out, "--no-progress"]) == 0
    sid = SQLiteStore(db).list_studies()[0].id
    capsys.readouterr()
    assert main(["export", sid, "--format", "csv", "--store", db]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    # "last" is parameter n - 1 of a one-layer circuit on n qubits, not column 0
    assert {(r["num_qubits"], r["parameter"]) for r in rows} == {("2", "1"), ("3", "2")}
    # An unresolved adaptive cell: strict JSON (null), never Infinity.
    cell = AdaptiveCell(2, 1, 10, 20, 400, math.inf, False, 1)
    text = AdaptiveReport((cell,), 0.1, 400).to_json("x")
    assert json.loads(text, parse_constant=lambda c: 1 / 0)["cells"][0]["rel_error"] is None


def test_adaptive_flags_that_cannot_work_are_refused_before_a_study_exists(tmp_path, capsys):
    spec = str(tmp_path / "tiny.toml")
    (tmp_path / "tiny.toml").write_text(SPEC)
    db = tmp_path / "s.sqlite"
    adaptive = ["--shots", "50", "--target-rel-error", "0.1"]
    assert main(["run", spec, "--store", str(db), *adaptive, "--max-shots", "100"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "adaptive.max_shots: got 100; allowed: at least 200" in err
    args = ["run", spec, "--store", str(db), *adaptive, "--max-shots", "10000", "--samples", "600"]
    assert main(args) == 2
    assert "--samples: adaptive allocation chooses" in capsys.readouterr().err
    assert not db.exists() or SQLiteStore(db).list_studies() == []


def test_delete_asks_refuses_live_qpu_jobs_and_removes_only_the_study(tmp_path, capsys):
    spec = str(tmp_path / "tiny.toml")
    (tmp_path / "tiny.toml").write_text(SPEC)
    db = str(tmp_path / "s.sqlite")
    for seed in ("1", "2"):
        out = str(tmp_path / f"o{seed}")
        args = ["run", spec, "--seed", seed, "--store", db, "--out", out, "--no-progress"]
        assert main(args) == 0
    first, second = [s.id for s in SQLiteStore(db).list_studies()]
    capsys.readouterr()
    assert main(["delete", first, "--store", db]) == 2  # not a terminal: needs --yes
    assert "pass --yes" in capsys.readouterr().err
    store = SQLiteStore(db)
    store.add_submission(first, store.get_jobs(first)[0].key, "tag-live")
    store.close()
    assert main(["delete", first, "--store", db, "--yes"]) == 2
    assert "may still run" in capsys.readouterr().err
    assert main(["delete", first, "--store", db, "--yes", "--force"]) == 0
    assert [s.id for s in SQLiteStore(db).list_studies()] == [second]
    assert (tmp_path / "o1" / "results.json").exists()  # outputs are the user's files


def test_work_that_can_never_succeed_is_refused_before_compute(tmp_path, capsys):
    from bp_qiskit import StudySpec
    from bp_qiskit.errors import SpecError
    from bp_qiskit.execution.checks import check_resources

    spec = str(tmp_path / "tiny.toml")
    (tmp_path / "tiny.toml").write_text(SPEC)
    db = tmp_path / "s.sqlite"
    cases = [
        (["--backend", "fake:manila", "--qubits", "6", "--shots", "100"], "fake:manila has 5"),
        (["--backend", "aer:manila", "--qubits", "6", "--dry-run"], "aer:manila has 5"),
        (["--backend", "aer_estimator", "--qubits", "17"], "2^17 Pauli terms"),
        (["--qubits", "32"], "GiB for a statevector"),
    ]
    for extra, message in cases:
        assert main(["run", spec, "--store", str(db), *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and "Traceback" not in err, err
        assert "resume" not in err
    assert not db.exists() or SQLiteStore(db).list_studies() == []
    # 30 qubits: 16 GiB of statevector, over a 12 GiB limit (half of a 24 GiB machine).
    big = StudySpec.from_dict({"circuit": {"qubits": [30]}})
    with pytest.raises(SpecError, match=r"n = 30, L = 1 needs 16.0 GiB .* limit is 12.0 GiB"):
        check_resources(big, memory_bytes=12 * 2**30)
    check_resources(StudySpec.from_dict({"circuit": {"qubits": [29]}}), memory_bytes=12 * 2**30)


def test_a_compare_run_keeps_every_backend_and_its_plot_rebuilds_from_the_store(
    tmp_path, monkeypatch, capsys
):
    from bp_qiskit.execution import create_study, run_stored
    from bp_qiskit.spec import StudySpec

    monkeypatch.chdir(tmp_path)
    (tmp_path / "cmp.toml").write_text(
        SPEC.replace('"tiny"', '"cmp"') + '[backend]\nname = "aer"\ncompare = ["statevector"]\n'
    )
    store = ["--store", "s.sqlite"]
    assert main(["run", "cmp.toml", *store, "--no-progress"]) == 0
    printed = capsys.readouterr().out
    ids = [s.id for s in SQLiteStore(tmp_path / "s.sqlite").list_studies()]
    # Both studies were created before either ran, and the rebuild command came first.
    assert printed.splitlines()[0].endswith(f"bp-qiskit compare {' '.join(ids)} --store s.sqlite")
    aer, sv = (tmp_path / "results" / f"cmp-{i}" for i in ids)
    assert json.loads((aer / "results.json").read_text())["spec"]["backend"]["name"] == "aer"
    assert json.loads((sv / "results.json").read_text())["spec"]["backend"]["name"] == "statevector"
    plot = aer / "comparison.png"
    first = plot.read_bytes()
    plot.unlink()
    assert main(["compare", *ids, *store]) == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and len(plot.read_bytes()) == len(first)
    # A study that has not finished is named, with how to finish it, in one line.
    with SQLiteStore(tmp_path / "s.sqlite") as s:
        spec = StudySpec.from_dict(json.loads((aer / "results.json").read_text())["spec"])
        pending = create_study(s, spec)
    capsys.readouterr()
    assert main(["compare", ids[0], pending, *store, "--out", "x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"bp-qiskit resume {pending}" in err
    with SQLiteStore(tmp_path / "s.sqlite") as s:
        run_stored(s, pending, progress=False)
    assert main(["compare", ids[0], pending, *store, "--out", "x"]) == 0
    assert (tmp_path / "x" / "comparison.png").exists()


def test_no_plot_writes_no_figure_and_never_imports_matplotlib(tmp_path):
    """``--no-plot``: the same results.json as a plotted run, no PNG, and no matplotlib.

    Run in a fresh interpreter: the test process itself has matplotlib loaded already.
    """
    import subprocess
    import sys

    (tmp_path / "tiny.toml").write_text(SPEC)
    script = (
        "import sys\n"
        "from bp_qiskit.cli import main\n"
        "code = main(['run', 'tiny.toml', '--store', 's.sqlite', '--no-progress', "
        "'--out', 'bare', '--no-plot'])\n"
        "print('loaded' if 'matplotlib' in sys.modules else 'absent', code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines()[-1] == "absent 0"
    names = sorted(p.name for p in (tmp_path / "bare").iterdir())
    assert names == ["resources.json", "results.json", "samples.npz"]
    assert (
        main(
            [
                "run",
                str(tmp_path / "tiny.toml"),
                "--store",
                str(tmp_path / "t.sqlite"),
                "--no-progress",
                "--out",
                str(tmp_path / "plotted"),
            ]
        )
        == 0
    )
    assert (tmp_path / "plotted" / "variance.png").read_bytes()[:4] == b"\x89PNG"
    bare = json.loads((tmp_path / "bare" / "results.json").read_text())
    plotted = json.loads((tmp_path / "plotted" / "results.json").read_text())
    assert bare["cells"] == plotted["cells"]


def test_the_console_scripts_figure_helper_draws_the_same_bytes(tmp_path):
    """The helper draws from results.json what the process draws from memory, byte for byte;
    a helper that fails leaves the figure to the process (the same bytes again)."""
    import subprocess
    import sys
    from pathlib import Path

    from bp_qiskit.launch import _draws
    from bp_qiskit.report import render

    spec = tmp_path / "s.toml"
    spec.write_text("[circuit]\nqubits = [2, 3]\n[sampling]\nsamples = 20\n")
    script = Path(sys.executable).parent / "bp-qiskit"
    common = ["run", str(spec), "--no-progress", "--store", str(tmp_path / "s.sqlite")]
    subprocess.run([str(script), *common, "--out", str(tmp_path / "helper")], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    assert main([*common, "--out", str(tmp_path / "inproc")]) == 0  # no helper in process
    png = (tmp_path / "helper" / "variance.png").read_bytes()
    assert png[:4] == b"\x89PNG" and png == (tmp_path / "inproc" / "variance.png").read_bytes()
    assert _draws(["run", "x.toml"]) and _draws(["report", "abc", "--out", "o"])
    assert not _draws(["run", "x.toml", "--no-plot"]) and not _draws(["predict", "x.toml"])

    class Broken(render.FigureHelper):
        def finish(self) -> bool:
            super().finish()
            return False  # as if the helper had died

    render._pending = Broken()
    assert main([*common, "--out", str(tmp_path / "fallback")]) == 0
    assert (tmp_path / "fallback" / "variance.png").read_bytes() == png
    assert render.take() is None  # taken once
