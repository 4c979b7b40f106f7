"""The benchmark suite, in one command (``make bench``): bp_qiskit side by side with its peers.

Every workload is drawn once by bp_qiskit; each peer then computes the gradients of exactly
those circuits (``benchmarks/peers.py``) and must agree with bp_qiskit's to 1e-8 before
its time counts. Runs are interleaved (round r runs every implementation once, in a fresh
process, before round r + 1 starts) and the suite reports medians and ratios, since these
machines are noisy. It writes ``benchmarks/results.md`` (and ``results.json``) with the
machine's details.

Measured per implementation and workload:
- ``process``: the wall time of the whole process (interpreter start, imports, one run).
- ``import``: imports and set-up inside the process.
- ``cold``: the first run (JIT compilation included where there is one).
- ``warm``, ``cpu``: the median of the warm runs, wall and CPU (all threads) time.

Workloads:
- ``seed``: the PennyLane demo's study, n = 2..6, 200 circuits, global cost, last angle.
  Also bp_qiskit's command line as users run it, with and without the figure.
- ``mcclean_n10/12/14``: McClean L = 50, 200 circuits, Z0 Z1, first angle.
- ``seed_1000_shots``: the seed study with 1000 shots per shifted value.
- ``scaling``: bp_qiskit alone, McClean L = 10 with the global cost, n = 12..22: the time
  per added qubit, and each cell's peak memory.
- ``dask``: McClean n = 14, L = 50, 200 circuits: serial, a 2-worker Dask LocalCluster and a
  2-process local pool (each worker with cores / workers Aer threads).

Usage: ``python benchmarks/suite.py [--rounds 3] [--quick]`` (``--quick``: fewer circuits
and sizes, a smoke run of the suite itself).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
BIN = str(Path(sys.executable).parent / "bp-qiskit")
TOLERANCE = 1e-8


def spec_dict(
    name: str, ansatz: str, qubits: list[int], layers: int, cost: str, param: str, samples: int,
    shots: int = 0,
) -> dict[str, Any]:  # fmt: skip
    return {
        "study": {"name": name, "seed": 7},
        "circuit": {"ansatz": ansatz, "layers": layers, "qubits": qubits},
        "observable": {"kind": cost},
        "gradient": {"parameter": param},
        "sampling": {"samples": samples, "shots": shots},
        "backend": {"name": "aer"},
    }


def write_workload(path: Path, spec: dict[str, Any]) -> np.ndarray:
    """Draw the workload with bp_qiskit; save the circuits for the peers. Returns the
    reference gradients (bp_qiskit's, exact)."""
    from bp_qiskit import StudySpec, run_study

    exact = json.loads(json.dumps(spec))
    exact["sampling"]["shots"] = 0
    data = run_study(StudySpec.from_dict(exact), progress=False).data
    arrays: dict[str, Any] = {
        "spec": json.dumps(spec),
        "shots": spec["sampling"]["shots"],
        "cost": spec["observable"]["kind"],
        "num_cells": len(data),
    }
    for i, d in enumerate(data):
        n, layers = d.cell.num_qubits, d.cell.num_layers
        arrays[f"n_{i}"] = n
        arrays[f"layers_{i}"] = layers
        arrays[f"param_{i}"] = 0 if spec["gradient"]["parameter"] == "first" else n * layers - 1
        arrays[f"gates_{i}"] = d.gates
        arrays[f"params_{i}"] = d.params
    np.savez(path, **arrays)
    return np.concatenate([d.grads.reshape(-1) for d in data])


def run_peer(impl: str, workload: Path, repeats: int, tmp: Path) -> dict[str, Any]:
    out = tmp / f"{impl}.json"
    t0 = time.perf_counter()
    subprocess.run([PY, str(HERE / "peers.py"), impl, str(workload), str(out), str(repeats)],
                   check=True, cwd=tmp, stderr=subprocess.PIPE, text=True)  # fmt: skip
    report = json.loads(out.read_text())
    report["process_s"] = time.perf_counter() - t0
    return report


def run_cli(args: list[str], tmp: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([BIN, *args, "--no-progress", "--store", str(tmp / "cli.sqlite"),
                    "--out", str(tmp / f"cli-{time.monotonic_ns()}")],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - t0


def median(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def compare(name: str, spec: dict[str, Any], impls: list[str], rounds: int, repeats: int,
            tmp: Path, shots_impls: bool = False) -> dict[str, Any]:  # fmt: skip
    """Interleaved rounds of every implementation on one workload."""
    workload = tmp / f"{name}.npz"
    reference = write_workload(workload, spec)
    runs: dict[str, list[dict[str, Any]]] = {i: [] for i in impls}
    failed: dict[str, str] = {}
    for r in range(rounds):
        for impl in impls:
            if impl in failed:
                continue
            try:
                rep = run_peer(impl, workload, repeats, tmp)
            except subprocess.CalledProcessError as exc:
                # A peer that cannot run this workload (out of memory, say) is reported,
                # not allowed to stop the suite.
                failed[impl] = (exc.stderr or "").strip().splitlines()[-1:][0][:200] or "failed"
                print(f"  {name}: {impl} failed: {failed[impl]}", flush=True)
                continue
            grads = np.array(rep.pop("grads"))
            if not shots_impls:
                err = float(np.max(np.abs(grads - reference)))
                if err > TOLERANCE:
                    raise SystemExit(f"{name}: {impl} disagrees with bp_qiskit by {err:.2e}")
                rep["max_abs_diff"] = err
            else:  # sampled: the same circuits, independent shots; compare the variance
                rep["grad_var"] = float(np.var(grads, ddof=1))
            runs[impl].append(rep)
            print(f"  {name} round {r + 1}: {impl:<18} process {rep['process_s']:7.2f} s"
                  f"  warm {median(rep['warm_s']):8.3f} s", flush=True)  # fmt: skip
    summary: dict[str, Any] = {impl: {"failed": why} for impl, why in failed.items()}
    for impl, reps in runs.items():
        if not reps:
            continue
        summary[impl] = {
            "process_s": median([x["process_s"] for x in reps]),
            "setup_s": median([x["setup_s"] for x in reps]),
            "cold_s": median([x["cold_s"] for x in reps]),
            "warm_s": median([w for x in reps for w in x["warm_s"]]),
            "cpu_s": median([c for x in reps for c in x["cpu_s"]]),
            "runs": len(reps),
        }
        for key in ("max_abs_diff", "grad_var"):
            if key in reps[0]:
                summary[impl][key] = max(x[key] for x in reps)
    return summary


def import_times() -> dict[str, float]:
    """Seconds of ``python -X importtime -c 'import M'`` (the outermost module's total)."""
    out = {}
    for module in ("bp_qiskit.cli", "pennylane", "tensorcircuit"):
        done = subprocess.run([PY, "-X", "importtime", "-c", f"import {module}"],
                              capture_output=True, text=True)  # fmt: skip
        lines = [ln for ln in done.stderr.splitlines() if ln.startswith("import time:")]
        if done.returncode == 0 and lines:
            out[module] = int(lines[-1].split("|")[1]) / 1e6
    return out


def scaling(qubits: list[int], samples: int) -> list[dict[str, Any]]:
    """bp_qiskit alone: seconds and peak memory per cell, McClean L = 10, global cost."""
    from bp_qiskit import StudySpec, run_study

    rows = []
    for n in qubits:
        spec = StudySpec.from_dict(spec_dict("scaling", "mcclean", [n], 10, "global", "first",
                                             samples))  # fmt: skip
        t0 = time.perf_counter()
        outcome = run_study(spec, progress=False)
        seconds = time.perf_counter() - t0
        rows.append({"n": n, "seconds": seconds,
                     "peak_mib": outcome.resources()["peak_memory_mib_max"]})  # fmt: skip
        print(f"  scaling n = {n}: {seconds:.2f} s, peak {rows[-1]['peak_mib']} MiB", flush=True)
    return rows


def dask_compare(n: int, samples: int) -> dict[str, float]:
    from bp_qiskit import StudySpec, run_study
    from bp_qiskit.execution.executors import open_executor

    data = spec_dict("dask", "mcclean", [n], 50, "zz", "first", samples)
    # 8 jobs: with the default chunk (250) the 200 circuits were one job, which no number
    # of workers can share (the first full run measured exactly that: 0.46x).
    data["sampling"]["chunk"] = max(1, samples // 8)
    spec = StudySpec.from_dict(data)
    out: dict[str, float] = {}
    results = {}
    for label, executor, workers in (("serial", "local", 1), ("dask_2", "dask", 2),
                                     ("pool_2", "local", 2)):  # fmt: skip
        t0 = time.perf_counter()
        with open_executor(executor, workers) as pool:
            results[label] = run_study(spec, progress=False, executor=pool).result.to_json()
        out[label] = time.perf_counter() - t0
        print(f"  dask n = {n}: {label} {out[label]:.1f} s", flush=True)
    if len(set(results.values())) != 1:
        raise SystemExit("dask: the executors gave different results")
    return out


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for pkg in ("bp_qiskit", "qiskit", "qiskit-aer", "pennylane", "pennylane-lightning",
                "tensorcircuit-ng", "jax", "numpy", "distributed"):  # fmt: skip
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = "not installed"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "versions": versions, "commit": commit,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="a smoke run: small sizes")
    ap.add_argument("--out", default=str(HERE / "results"), help="writes OUT.md and OUT.json")
    ap.add_argument(
        "--only",
        choices=["dask", "seed"],
        help="rerun one section into an existing OUT.json (the report says so)",
    )
    args = ap.parse_args()
    if args.only:
        result = json.loads(Path(args.out + ".json").read_text())
        if args.only == "dask":
            print("dask", flush=True)
            quick = result["quick"]
            result["dask"] = dask_compare(8 if quick else 14, 20 if quick else 200)
        else:
            with tempfile.TemporaryDirectory() as name:
                result.update(seed_section(result["quick"], args.rounds, Path(name)))
        result.setdefault("reruns", []).append(
            f"{args.only} at commit {machine()['commit']}, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {args.rounds} rounds"
        )
        Path(args.out + ".json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        Path(args.out + ".md").write_text(report(result), encoding="utf-8")
        print(f"wrote {args.out}.md and {args.out}.json")
        return
    quick = args.quick
    s = 20 if quick else 200
    result: dict[str, Any] = {"machine": machine(), "rounds": args.rounds, "quick": quick}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        result.update(seed_section(quick, args.rounds, tmp))
        _partial(args.out, result)
        for n in [8] if quick else [10, 12, 14]:
            print(f"mcclean n = {n}", flush=True)
            spec = spec_dict(f"mcclean_n{n}", "mcclean", [n], 10 if quick else 50, "zz",
                             "first", s)  # fmt: skip
            impls = ["bp_qiskit", "lightning_adjoint", "tensorcircuit_jax", "numpy_floor"]
            result[f"mcclean_n{n}"] = compare(f"mcclean_n{n}", spec, impls, args.rounds, 1, tmp)
            _partial(args.out, result)
        print("seed, 1000 shots", flush=True)
        shots = spec_dict("seed_shots", "seed", [2, 3, 4, 5, 6], 1, "global", "last", s, 1000)
        result["seed_1000_shots"] = compare("seed_1000_shots", shots,
                                            ["bp_qiskit", "lightning_shift"], args.rounds, 3,
                                            tmp, shots_impls=True)  # fmt: skip
    print("scaling", flush=True)
    result["scaling"] = scaling(
        [8, 10, 12] if quick else [12, 14, 16, 18, 20, 22], 4 if quick else 20
    )
    print("dask", flush=True)
    result["dask"] = dask_compare(8 if quick else 14, s)
    Path(args.out + ".json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    Path(args.out + ".md").write_text(report(result), encoding="utf-8")
    print(f"wrote {args.out}.md and {args.out}.json")


def seed_section(quick: bool, rounds: int, tmp: Path) -> dict[str, Any]:
    """The seed study against every peer, as computations and as whole processes."""
    s = 20 if quick else 200
    all_peers = ["bp_qiskit", "pennylane_demo", "lightning_adjoint", "lightning_shift",
                 "tensorcircuit_jax", "numpy_floor"]  # fmt: skip
    print("seed", flush=True)
    seed = spec_dict("seed", "seed", [2, 3, 4, 5, 6], 1, "global", "last", s)
    out: dict[str, Any] = {"seed": compare("seed", seed, all_peers, rounds, 3, tmp)}
    cli: dict[str, list[float]] = {"bp-qiskit run": [], "bp-qiskit run --no-plot": []}
    seed_args = ["run", "jobs/seed_tutorial.toml"] + (["--samples", str(s)] if quick else [])
    for _ in range(rounds):
        cli["bp-qiskit run"].append(run_cli(seed_args, tmp))
        cli["bp-qiskit run --no-plot"].append(run_cli([*seed_args, "--no-plot"], tmp))
    out["seed_cli"] = {k: median(v) for k, v in cli.items()}
    out["import_s"] = import_times()
    return out


def _partial(out: str, result: dict[str, Any]) -> None:
    """What has been measured so far (a suite stopped later keeps it)."""
    Path(out + ".partial.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b > 0 else "n/a"


def report(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        "# Benchmark results",
        "",
        "Written by `python benchmarks/suite.py` (`make bench`); do not edit by hand.",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; "
        f"{m['platform']}; Python {m['python']}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        f"- Commit {m['commit']}, {m['date']}; {r['rounds']} interleaved rounds"
        + (" (**quick run: reduced sizes**)" if r["quick"] else ""),
        "- Ratios are the peer's time over bp_qiskit's (above 1: bp_qiskit is faster).",
        *[f"- Section rerun on its own: {x}." for x in r.get("reruns", [])],
        "",
    ]
    workloads = [k for k in r if k == "seed" or k.startswith("mcclean_") or k == "seed_1000_shots"]
    for name in workloads:
        rows = r[name]
        bp = rows["bp_qiskit"]
        lines += [f"## {name}", "",
                  "| implementation | process s | import s | cold s | warm s | cpu s | "
                  "process ratio | warm ratio | cpu ratio |",
                  "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for impl, x in rows.items():
            if "failed" in x:
                lines.append(f"| {impl} | failed: {x['failed']} | | | | | | | |")
                continue
            lines.append(
                f"| {impl} | {x['process_s']:.2f} | {x['setup_s']:.2f} | {x['cold_s']:.3f} | "
                f"{x['warm_s']:.3f} | {x['cpu_s']:.3f} | {_ratio(x['process_s'], bp['process_s'])}"
                f" | {_ratio(x['warm_s'], bp['warm_s'])} | {_ratio(x['cpu_s'], bp['cpu_s'])} |"
            )
        if name == "seed_1000_shots":
            lines.append("")
            shown = [f"{i} {x['grad_var']:.4g}" for i, x in rows.items() if "grad_var" in x]
            lines.append("Var[grad] over all cells' gradients: " + ", ".join(shown))
        lines.append("")
        if name == "seed":
            cli = r["seed_cli"]
            lines += ["Whole process as users run it (`bp-qiskit run jobs/seed_tutorial.toml`):",
                      ""]  # fmt: skip
            for k, v in cli.items():
                lines.append(f"- `{k}`: {v:.2f} s")
            lines.append("")
            lines.append("Import time (`python -X importtime -c 'import M'`): " + ", ".join(
                f"{k} {v:.2f} s" for k, v in r["import_s"].items()))  # fmt: skip
            lines.append("")
    rows = r["scaling"]
    lines += ["## scaling (bp_qiskit, McClean L = 10, global cost)", "",
              "| n | seconds | growth per qubit | peak MiB |", "|---|---|---|---|"]  # fmt: skip
    for prev, row in zip([None, *rows[:-1]], rows, strict=True):
        growth = (
            ""
            if prev is None
            else f"{(row['seconds'] / prev['seconds']) ** (1 / (row['n'] - prev['n'])):.2f}"
        )
        lines.append(f"| {row['n']} | {row['seconds']:.2f} | {growth} | {row['peak_mib']} |")
    d = r["dask"]
    lines += ["", "## dask (McClean L = 50, Z0 Z1, 200 circuits in 8 jobs)", "",
              f"- serial {d['serial']:.1f} s; Dask 2 workers {d['dask_2']:.1f} s "
              f"(ratio {_ratio(d['serial'], d['dask_2'])}); local pool 2 {d['pool_2']:.1f} s "
              f"(ratio {_ratio(d['serial'], d['pool_2'])}); ratios above 1: faster than serial.",
              ""]  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
