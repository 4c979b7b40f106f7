"""The first real run of docs/hardware.md, step by step, against the stand-in service.

Account, dry run, cost gate, submit, close the laptop (the process dies while jobs are
queued), ``status`` the next day, ``resume``, ``report``. The spec is jobs/ibm_hardware.toml
as shipped, pointed at ``ibm:ibm_fez`` as the walkthrough does; only the poll interval is
set to 0 so the test does not sleep.
"""

import json
from pathlib import Path

import pytest

from bp_qiskit.cli import main
from bp_qiskit.testing.faults import ProcessDied
from bp_qiskit.testing.standin import StandInService

ROOT = Path(__file__).resolve().parent.parent


def test_first_real_run_walkthrough(tmp_path, capsys):
    text = (ROOT / "jobs" / "ibm_hardware.toml").read_text()
    spec = tmp_path / "ibm_hardware.toml"
    spec.write_text(
        text.replace(
            'job_tags = ["barren-plateaus"]', 'job_tags = ["barren-plateaus"]\npoll_interval = 0'
        )
    )
    store = str(tmp_path / "s.sqlite")
    common = ["--backend", "ibm:ibm_fez", "--store", store, "--no-progress"]

    # 1. Dry run: nothing submitted, the cost model and its inputs printed.
    # The study's 3 PUBs (about 27 s each on ibm_fez by the offline model) go out as one job
    # (backend.options.job_seconds, 120 s by default).
    service = StandInService(scripts={0: ["QUEUED", ProcessDied()]})
    assert main(["run", str(spec), "--dry-run", *common[:2]], service=service) == 0
    out = capsys.readouterr().out
    assert "nothing is submitted" in out and "about" in out and service.submissions == 0

    # 2. The cost gate: above --max-qpu-seconds nothing is submitted without --yes.
    assert main(["run", str(spec), *common, "--max-qpu-seconds", "10"], service=service) == 2
    assert "nothing was submitted" in capsys.readouterr().err and service.submissions == 0

    # 3. Submit; everything goes in up front. The laptop closes while the job is queued.
    with pytest.raises(ProcessDied):
        main(["run", str(spec), *common, "--yes", "--out", str(tmp_path / "out")], service=service)
    assert service.submissions == 1
    printed = capsys.readouterr().out
    study = next(line.split()[1] for line in printed.splitlines() if line.startswith("study "))

    # 4. The next day: status shows the study as submitted and every remote job.
    service.jobs["standin-0"].script = ["RUNNING", "DONE"]  # the QPU carried on
    assert main(["status", study, "--store", store], service=service) == 0
    out = capsys.readouterr().out
    assert f"study {study} ibm_hardware (plain, ibm:ibm_fez): submitted;" in out
    assert sum("SUBMITTED" in line for line in out.splitlines()) == 3

    # 5. resume re-attaches and collects; nothing is submitted again.
    out_dir = tmp_path / "out"
    assert (
        main(
            ["resume", study, "--store", store, "--out", str(out_dir), "--no-progress"],
            service=service,
        )
        == 0
    )
    assert service.submissions == 1
    capsys.readouterr()

    # 6. report writes the outputs again, with what ran on the QPU in jobs.json.
    assert main(["report", study, "--store", store, "--out", str(out_dir)], service=service) == 0
    jobs = json.loads((out_dir / "jobs.json").read_text())
    assert [s["state"] for s in jobs["submissions"]] == ["DONE"] * 3
    # One job billed 2.5 s, shared by its three PUBs.
    assert all(
        s["shots_executed"] == 1000 and s["usage_seconds"] == 2.5 / 3 for s in jobs["submissions"]
    )
    assert len({s["remote_job_id"] for s in jobs["submissions"]}) == 1
    assert all(s["layout"] == "noise_aware" for s in jobs["submissions"])
