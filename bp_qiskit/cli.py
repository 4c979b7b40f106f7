"""The ``bp-qiskit`` command line.

Each sub-command is one small function ``cmd_<name>(args) -> int``. Expected failures (bad
spec, bad option, unknown study) raise :class:`UsageError` or :class:`SpecError` and become a
one-line ``error: ...`` on stderr with exit code 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .backends.runtime import BackendNameError, fake_backend, parse_backend_name
from .manager import cell_progress, collect, create_study, run_jobs, study_state
from .planning import DEFAULT_PER_CIRCUIT_S, DEFAULT_PER_SHOT_S, NoiseModel, qpu_seconds
from .report import format_table, plot_comparison, write_outputs
from .results import StudyResult, cell_arrays
from .runner import StudyFailedError
from .spec import BACKEND_NAMES, SpecError, StudySpec, load_spec, parse_qubits
from .store import DEFAULT_STORE, BaseStore, JobState, StoreError, StudyRecord, open_store

__all__ = ["UsageError", "main"]


class UsageError(Exception):
    """A user error that the CLI reports in one line with exit code 2."""


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"got {value}; allowed: an integer >= 1")
    return value


def _layers(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def _spec_from_args(args: argparse.Namespace) -> StudySpec:
    spec = load_spec(args.spec)
    qubits = list(parse_qubits("--qubits", args.qubits)) if args.qubits else None
    return spec.with_overrides(
        **{
            "sampling.samples": args.samples,
            "sampling.shots": args.shots,
            "circuit.qubits": qubits,
            "circuit.layers": args.layers,
            "study.seed": args.seed,
            "backend.name": args.backend,
        }
    )


def cmd_run(args: argparse.Namespace) -> int:
    """Run a study from a spec file and write results.json, samples.npz and variance.png."""
    spec = _spec_from_args(args)
    out = Path(args.out) if args.out else Path("results") / spec.study.name
    if args.dry_run:
        return _dry_run(spec, args)
    if (args.target_rel_error is None) != (args.max_shots is None):
        raise UsageError("--target-rel-error and --max-shots go together; give both or neither")
    if args.target_rel_error is not None:
        spec = spec.with_overrides(
            **{
                "adaptive.target_rel_error": args.target_rel_error,
                "adaptive.max_shots": args.max_shots,
            }
        )
    if spec.budget is not None or spec.adaptive is not None:
        with open_store(args.store) as store:
            return _run_recorded(store, spec, out, args)
    if spec.backend.kind == "ibm":
        from . import backends

        backends.SERVICE_FACTORY()  # no account: one clear sentence, before anything is stored
        _confirm_cost(spec, args)
    with open_store(args.store) as store:
        code = _run_recorded(store, spec, out, args)
        if code or not spec.backend.compare:
            return code
        results = [(spec.backend.name, StudyResult.from_json((out / "results.json").read_text()))]
        for name in spec.backend.compare:
            other = dataclasses.replace(
                spec, backend=dataclasses.replace(spec.backend, name=name, compare=())
            )
            sub_out = out / name.replace(":", "_")
            code = _run_recorded(store, other, sub_out, args)
            if code:
                return code
            results.append((name, StudyResult.from_json((sub_out / "results.json").read_text())))
        plot_comparison(results, out / "comparison.png")
        print(f"wrote {out / 'comparison.png'}")
        return 0


def _run_recorded(store: BaseStore, spec: StudySpec, out: Path, args: argparse.Namespace) -> int:
    study_id = create_study(store, spec)
    # Printed before running, so the id is known even if the run is interrupted.
    print(f"study {study_id} ({spec.study.name}, {spec.backend.name}) in {args.store}", flush=True)
    return _complete(store, study_id, spec, out, args)


def _complete(
    store: BaseStore, study_id: str, spec: StudySpec, out: Path, args: argparse.Namespace
) -> int:
    """Run what is left of a study of any kind, then write its outputs."""
    progress = not args.no_progress
    if spec.adaptive is not None:
        return _adaptive_outputs(store, study_id, spec, out, progress=progress)
    if spec.budget is not None:
        return _budget_outputs(store, study_id, spec, out, progress=progress)
    return _finish(store, study_id, out, progress=progress, workers=args.workers)


def _hardware_target(spec: StudySpec) -> Any:
    """The real backend for ``ibm:`` (needs an account), else None (dry_run picks the fake)."""
    kind, device = parse_backend_name(spec.backend.name)
    if kind != "ibm":
        return None
    from . import backends

    try:
        return backends.SERVICE_FACTORY().backend(device)
    except BackendNameError:
        try:
            return fake_backend(device.removeprefix("ibm_"))
        except BackendNameError:
            raise UsageError(
                f"--dry-run: cannot reach {device} without an IBM Quantum account, and there is "
                "no fake backend of that name; try --backend fake:<device>"
            ) from None


def _dry_run(spec: StudySpec, args: argparse.Namespace) -> int:
    from .dryrun import dry_run, format_dry_run

    print(format_dry_run(spec, dry_run(spec, target=_hardware_target(spec))))
    return 0


def _confirm_cost(spec: StudySpec, args: argparse.Namespace) -> None:
    """Real QPU time costs money: above the threshold, ask (or require --yes)."""
    from .dryrun import dry_run

    seconds = sum(c.qpu_seconds for c in dry_run(spec, target=_hardware_target(spec)))
    if args.yes or seconds <= args.confirm_above:
        return
    question = (
        f"{spec.backend.name}: about {seconds:.0f} QPU seconds "
        f"(> {args.confirm_above:.0f}). Submit? [y/N] "
    )
    if not sys.stdin.isatty():
        raise UsageError(f"{question.split(' Submit')[0]}; pass --yes to submit without asking")
    if input(question).strip().lower() not in ("y", "yes"):
        raise UsageError("cancelled; nothing was submitted")


def _interrupted(study_id: str, what: str) -> int:
    """Ctrl-C: say what was kept and how to go on; exit code 130 as a shell would."""
    print(
        f"interrupted; finished {what} are kept; continue with: bp-qiskit resume {study_id}",
        file=sys.stderr,
    )
    return 130


def _finish(store: BaseStore, study_id: str, out: Path, *, progress: bool, workers: int = 1) -> int:
    """Run what is left of a study, then write and print its results."""
    try:
        if workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # spawn, not fork: Aer's thread pools do not survive a fork.
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
                failed = run_jobs(store, study_id, progress=progress, executor=pool)
        else:
            failed = run_jobs(store, study_id, progress=progress)
    except KeyboardInterrupt:
        return _interrupted(study_id, "jobs")
    if failed:
        raise StudyFailedError(
            f"{len(failed)} job(s) failed after retries (first: {failed[0].key}: "
            f"{failed[0].error}); retry with: bp-qiskit resume {study_id}"
        )
    return _write_report(store, study_id, out)


def _write_report(store: BaseStore, study_id: str, out: Path) -> int:
    result, data = collect(store, study_id)
    shots = result.spec["sampling"]["shots"] > 0
    paths = write_outputs(out, result, cell_arrays(data, with_shot_var=shots))
    print(format_table(result))
    print("wrote " + ", ".join(str(p) for p in paths))
    print(f"study {study_id}")
    return 0


def _default_out(store: BaseStore, study_id: str, out: str | None) -> Path:
    return Path(out) if out else Path("results") / store.get_study(study_id).name


def cmd_resume(args: argparse.Namespace) -> int:
    """Finish what is not finished in a stored study."""
    with open_store(_existing(args.store)) as store:
        study_id = store.get_study(args.study).id
        spec = StudySpec.from_dict(store.get_study(study_id).spec)
        return _complete(store, study_id, spec, _default_out(store, study_id, args.out), args)


def cmd_report(args: argparse.Namespace) -> int:
    """Write results.json, samples.npz and the plot from the store, running nothing."""
    with open_store(_existing(args.store)) as store:
        study_id = store.get_study(args.study).id
        spec = StudySpec.from_dict(store.get_study(study_id).spec)
        if spec.budget is not None:
            _require_finished(store, study_id)
            out = _default_out(store, study_id, args.out)
            return _budget_outputs(store, study_id, spec, out, progress=False)
        return _write_report(store, study_id, _default_out(store, study_id, args.out))


def _study_summary(store: BaseStore, study: StudyRecord) -> dict[str, Any]:
    jobs = store.get_jobs(study.id)
    by_state: dict[str, int] = {}
    for j in jobs:
        by_state[j.state.value] = by_state.get(j.state.value, 0) + 1
    return {
        "id": study.id,
        "name": study.name,
        "state": study_state(jobs, study.owner),
        "created_at": study.created_at,
        "version": study.version,
        "seed": study.seed,
        "jobs": by_state,
        "jobs_total": len(jobs),
    }


def cmd_list(args: argparse.Namespace) -> int:
    """List the studies in the store."""
    with open_store(_existing(args.store)) as store:
        rows = [_study_summary(store, s) for s in store.list_studies()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'id':<12} {'name':<24} {'state':<12} {'jobs done':>10} {'created':<19}")
    for r in rows:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["created_at"]))
        done = f"{r['jobs'].get('DONE', 0)}/{r['jobs_total']}"
        print(f"{r['id']:<12} {r['name']:<24} {r['state']:<12} {done:>10} {created:<19}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Studies, their jobs by state, shots used and the current variance per cell."""
    with open_store(_existing(args.store)) as store:
        studies = [store.get_study(args.study)] if args.study else store.list_studies()
        report = []
        for study in studies:
            summary = _study_summary(store, study)
            cells = cell_progress(store, study.id)
            summary["shots_used"] = sum(c.shots_used for c in cells)
            summary["qpu_seconds_used"] = sum(
                j.usage_seconds or 0.0 for j in store.get_jobs(study.id)
            )
            summary["cells"] = [dataclasses.asdict(c) for c in cells]
            jobs = store.get_jobs(study.id)
            summary["failed_jobs"] = [
                {"key": j.key, "attempts": j.attempts, "state": j.state.value, "error": j.error}
                for j in jobs
                if j.state in (JobState.FAILED, JobState.CANCELLED)
            ]
            summary["remote_jobs"] = _remote_states(StudySpec.from_dict(study.spec), jobs)
            report.append(summary)
    if args.json:
        print(json.dumps(report if not args.study else report[0], indent=2))
        return 0
    for r in report:
        states = ", ".join(f"{k} {v}" for k, v in sorted(r["jobs"].items()))
        print(
            f"study {r['id']} {r['name']}: {r['state']}; jobs: {states}; "
            f"shots used: {r['shots_used']}; QPU seconds: {r['qpu_seconds_used']:.1f}"
        )
        print(f"  {'n':>3} {'L':>4} {'jobs':>9} {'samples':>8} {'Var[grad]':>11} {'se':>10}")
        for c in r["cells"]:
            var = "-" if c["grad_var"] is None else f"{c['grad_var']:.4e}"
            se = "-" if c["grad_var_se"] is None else f"{c['grad_var_se']:.2e}"
            done = f"{c['jobs_done']}/{c['jobs_total']}"
            print(
                f"  {c['num_qubits']:>3} {c['num_layers']:>4} {done:>9} {c['samples_done']:>8} "
                f"{var:>11} {se:>10}"
            )
        for f in r["failed_jobs"]:
            print(
                f"  {f['state'].lower()} {f['key']} after {f['attempts']} attempt(s): {f['error']}"
            )
        for q in r["remote_jobs"]:
            print(f"  remote job {q['remote_job_id']} ({q['key']}): {q['queue_state']}")
    return 0


def _remote_states(spec: StudySpec, jobs: Sequence[Any]) -> list[dict[str, Any]]:
    """Queue state of submitted, unfinished remote jobs ('unknown' without an account)."""
    pending = [j for j in jobs if j.remote_job_id and not j.state.is_finished()]
    if not pending or spec.backend.kind != "ibm":
        return []
    from . import backends
    from .backends.runtime import normalize_status

    try:
        service = backends.SERVICE_FACTORY()
    except Exception:  # no account here: say so per job rather than fail the status command
        service = None
    out = []
    for j in pending:
        state = "unknown (no IBM Quantum account)"
        if service is not None:
            try:
                state = normalize_status(service.job(j.remote_job_id).status())
            except Exception as exc:  # a network hiccup must not break `status`
                state = f"unknown ({type(exc).__name__})"
        out.append({"key": j.key, "remote_job_id": j.remote_job_id, "queue_state": state})
    return out


def cmd_export(args: argparse.Namespace) -> int:
    """Export a finished study: per-sample rows as CSV, or everything as JSON."""
    with open_store(_existing(args.store)) as store:
        study_id = store.get_study(args.study).id
        result, data = collect(store, study_id)
    stream = open(args.out, "w", encoding="utf-8", newline="") if args.out else sys.stdout
    try:
        if args.format == "json":
            payload = result.to_dict()
            payload["study_id"] = study_id
            payload["samples"] = {
                d.cell.tag: {
                    "gates": d.gates.tolist(),
                    "params": d.params.tolist(),
                    "grads": d.grads.tolist(),
                    "shot_var": d.shot_var.tolist(),
                }
                for d in data
            }
            json.dump(payload, stream, indent=1, sort_keys=True)
            stream.write("\n")
        else:
            writer = csv.writer(stream)
            writer.writerow(
                [
                    "study_id",
                    "num_qubits",
                    "num_layers",
                    "sample",
                    "parameter",
                    "gates",
                    "grad",
                    "shot_var",
                ]
            )
            for d in data:
                for s in range(d.grads.shape[0]):
                    gates = "".join("XYZ"[g] for g in d.gates[s].ravel())
                    for k in range(d.grads.shape[1]):
                        writer.writerow(
                            [
                                study_id,
                                d.cell.num_qubits,
                                d.cell.num_layers,
                                s,
                                k,
                                gates,
                                repr(float(d.grads[s, k])),
                                repr(float(d.shot_var[s, k])),
                            ]
                        )
    finally:
        if args.out:
            stream.close()
    return 0


def _require_finished(store: BaseStore, study_id: str) -> None:
    jobs = store.get_jobs(study_id)
    left = sum(not j.state.is_finished() for j in jobs)
    if left:
        raise StoreError(
            f"study {study_id} is not finished: {len(jobs) - left} of {len(jobs)} jobs done; "
            f"run 'bp-qiskit resume {study_id}'"
        )


def _existing(path: str) -> str:
    """Commands that read a store must not silently create an empty one."""
    if path != ":memory:" and not Path(path).exists():
        raise UsageError(f"--store: no store at {path} (run a study first, or pass --store PATH)")
    return path


def _adaptive_outputs(
    store: BaseStore, study_id: str, spec: StudySpec, out: Path, *, progress: bool
) -> int:
    """Run (or resume) an adaptive study, then write its results and adaptive.json."""
    from .adaptive import run_adaptive

    try:
        result, data, reports = run_adaptive(
            spec, store=store, study_id=study_id, progress=progress
        )
    except KeyboardInterrupt:
        return _interrupted(study_id, "rounds")
    assert spec.adaptive is not None
    paths = write_outputs(out, result, cell_arrays(data, with_shot_var=True))
    report = {
        "study_id": study_id,
        "target_rel_error": spec.adaptive.target_rel_error,
        "max_shots_per_cell": spec.adaptive.max_shots,
        "cells": [r.to_dict() for r in reports],
    }
    (out / "adaptive.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(format_table(result))
    print(f"{'n':>3} {'S':>7} {'N':>6} {'shots used':>11} {'rel.err':>8} {'reached':>8}")
    for r in reports:
        print(
            f"{r.num_qubits:>3} {r.samples:>7} {r.final_shots:>6} {r.total_shots:>11} "
            f"{r.rel_error:>8.3f} {'yes' if r.reached else 'no':>8}"
        )
    print("wrote " + ", ".join(str(p) for p in [*paths, out / "adaptive.json"]))
    print(f"study {study_id}")
    return 0


def _pilot_models(pilot: Path, qubits: Sequence[int] | None) -> list[NoiseModel]:
    from .planning import model_from_samples
    from .results import StudyResult, read_npz

    try:
        result = StudyResult.from_json((pilot / "results.json").read_text(encoding="utf-8"))
        arrays = read_npz(pilot / "samples.npz")
    except (OSError, ValueError, KeyError) as exc:
        raise UsageError(f"--pilot {pilot}: cannot read results.json/samples.npz ({exc})") from exc
    models = []
    for cell in result.cells:
        if qubits and cell.num_qubits not in qubits:
            continue
        tag = f"{cell.num_qubits}_{cell.num_layers}"
        if cell.shots < 2 or f"shot_var_{tag}" not in arrays:
            raise UsageError(f"--pilot {pilot}: the pilot must be a shot-based study (shots >= 2)")
        models.append(
            model_from_samples(
                cell.num_qubits, arrays[f"grads_{tag}"], arrays[f"shot_var_{tag}"], cell.shots
            )
        )
    missing = sorted(set(qubits or []) - {m.num_qubits for m in models})
    if missing:
        raise UsageError(f"--qubits: the pilot has no cell at n = {missing}")
    return models


def cmd_budget(args: argparse.Namespace) -> int:
    """Print the (S, N) per qubit count that reach a target relative error.

    Two plans: the fewest total shots, and the least QPU time with the per-circuit overhead.
    """
    from .budget import model_for
    from .planning import optimal_plan

    qubits = list(parse_qubits("--qubits", args.qubits)) if args.qubits else None
    if args.pilot:
        models = _pilot_models(Path(args.pilot), qubits)
    else:
        spec = load_spec(args.spec)
        if qubits:
            spec = spec.with_overrides(**{"circuit.qubits": qubits})
        found = [model_for(spec, n) for n in spec.circuit.qubits]
        if any(m is None for m in found):
            raise UsageError(
                "budget: the model's own estimates exist for the seed experiment only "
                "(ansatz seed, global cost, last parameter, angles [0, 2pi)); pass --pilot DIR "
                "with a shot-based study's output for anything else"
            )
        models = [m for m in found if m is not None]
    timing = {"per_shot_s": args.per_shot_s, "per_circuit_s": args.per_circuit_s}
    rows = []
    for m in models:
        # Fewest shots: no per-circuit cost in the objective; its time is then priced in full.
        fewest = optimal_plan(m, args.rel_error, per_shot_s=args.per_shot_s, per_circuit_s=0.0)
        fewest = dataclasses.replace(
            fewest, qpu_seconds=qpu_seconds(fewest.samples, fewest.total_shots, **timing)
        )
        fastest = optimal_plan(m, args.rel_error, **timing)
        rows.append((m, fewest, fastest))
    if args.json:
        print(
            json.dumps(
                [
                    {"num_qubits": m.num_qubits, "min_shots": a.to_dict(), "min_time": b.to_dict()}
                    for m, a, b in rows
                ],
                indent=2,
            )
        )
        return 0
    source = models[0].source if models else "-"
    print(
        f"target relative error {args.rel_error} (estimates from the {source}); "
        f"time model: {args.per_circuit_s} s per circuit + {args.per_shot_s} s per shot"
    )
    print(f"{'':>24}{'--- fewest shots ---':^38}  {'--- least QPU time ---':^38}".rstrip())
    head = f"{'S':>8} {'N':>7} {'shots':>11} {'QPU time':>9}"
    print(f"{'n':>3} {'Var[grad]':>10} {'T/V':>8}  {head}  {head}")
    for m, a, b in rows:
        cols = [
            f"{p.samples:>8} {p.shots:>7} {p.total_shots:>11} {_duration(p.qpu_seconds):>9}"
            for p in (a, b)
        ]
        print(f"{m.num_qubits:>3} {m.V:>10.3e} {m.T / m.V:>8.1f}  {cols[0]}  {cols[1]}")
    return 0


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _budget_outputs(
    store: BaseStore, study_id: str, spec: StudySpec, out: Path, *, progress: bool
) -> int:
    """Run (or resume, or just collect) a budget study and write budget.json and budget.png."""
    from .budget import plot_budget, run_budget_study

    try:
        result = run_budget_study(spec, progress=progress, store=store, study_id=study_id)
    except KeyboardInterrupt:
        return _interrupted(study_id, "repetitions")
    out.mkdir(parents=True, exist_ok=True)
    (out / "budget.json").write_text(result.to_json(), encoding="utf-8")
    plot_budget(result, out / "budget.png")
    print(f"{'n':>3} {'N':>6} {'S':>7} {'achieved':>9} {'+/-':>6} {'predicted':>9} {'ratio':>6}")
    for p in result.points:
        print(
            f"{p.num_qubits:>3} {p.shots:>6} {p.samples:>7} {p.achieved_rel_error:>9.4f} "
            f"{p.achieved_rel_error_se:>6.4f} {p.predicted_rel_error:>9.4f} "
            f"{p.achieved_rel_error / p.predicted_rel_error:>6.3f}"
        )
    print(f"wrote {out / 'budget.json'}, {out / 'budget.png'}")
    print(f"study {study_id}")
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    """List the device names usable in ``aer:<device>`` and ``fake:<device>``."""
    from .backends.runtime import available_devices

    for name, cls in available_devices().items():
        print(f"{name:<20} {cls}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for all sub-commands."""
    from ._version import __version__

    p = argparse.ArgumentParser(
        prog="bp-qiskit", description="Measure barren plateaus with Qiskit Estimator V2."
    )
    p.add_argument("--version", action="version", version=f"bp-qiskit {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a study spec (TOML)")
    r.add_argument("spec", help="path to a study spec, e.g. jobs/seed_tutorial.toml")
    r.add_argument("--out", help="output folder (default results/<study name>/)")
    r.add_argument("--samples", type=int, help="random circuits per cell")
    r.add_argument("--qubits", help="qubit counts, e.g. 2-6 or 2,4,8")
    r.add_argument("--layers", type=_layers, help="layers L, or e.g. 4n")
    r.add_argument("--seed", type=int, help="study seed")
    r.add_argument("--shots", type=int, help="shots per shifted value (0 = exact)")
    r.add_argument("--backend", help=f"one of: {', '.join(BACKEND_NAMES)}")
    r.add_argument(
        "--target-rel-error",
        type=float,
        help="adaptive: add circuits and shots until this relative error",
    )
    r.add_argument("--max-shots", type=int, help="adaptive: shot budget per cell")
    r.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    r.add_argument("--store", default=DEFAULT_STORE, help=f"job store (default {DEFAULT_STORE})")
    r.add_argument(
        "--dry-run",
        action="store_true",
        help="print ISA depth, 2q gates, PUBs, bindings, shots and QPU time; submit nothing",
    )
    r.add_argument("--yes", action="store_true", help="submit to a real QPU without asking")
    r.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="worker processes for local simulation (default 1)",
    )
    r.add_argument(
        "--confirm-above",
        type=float,
        default=600.0,
        help="ask before real-QPU runs estimated above this many seconds (default 600)",
    )
    r.set_defaults(func=cmd_run)

    def store_arg(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument(
            "--store", default=DEFAULT_STORE, help=f"job store (default {DEFAULT_STORE})"
        )

    st = sub.add_parser("status", help="studies, jobs by state, current estimates")
    st.add_argument("study", nargs="?", help="study id, id prefix or name (default: all)")
    st.add_argument("--json", action="store_true", help="print JSON")
    store_arg(st)
    st.set_defaults(func=cmd_status)

    rs = sub.add_parser("resume", help="finish the unfinished jobs of a study")
    rs.add_argument("study", help="study id, id prefix or name")
    rs.add_argument("--out", help="output folder (default results/<study name>/)")
    rs.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    rs.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="worker processes for local simulation (default 1)",
    )
    store_arg(rs)
    rs.set_defaults(func=cmd_resume)

    rp = sub.add_parser("report", help="write results from the store without running")
    rp.add_argument("study", help="study id, id prefix or name")
    rp.add_argument("--out", help="output folder (default results/<study name>/)")
    store_arg(rp)
    rp.set_defaults(func=cmd_report)

    ex = sub.add_parser("export", help="export a finished study as CSV or JSON")
    ex.add_argument("study", help="study id, id prefix or name")
    ex.add_argument("--format", choices=["csv", "json"], required=True)
    ex.add_argument("--out", help="file to write (default: standard output)")
    store_arg(ex)
    ex.set_defaults(func=cmd_export)

    ls = sub.add_parser("list", help="list the studies in the store")
    ls.add_argument("--json", action="store_true", help="print JSON")
    store_arg(ls)
    ls.set_defaults(func=cmd_list)

    dv = sub.add_parser("devices", help="list fake devices for aer:<device> and fake:<device>")
    dv.set_defaults(func=cmd_devices)

    b = sub.add_parser("budget", help="plan circuits and shots for a target relative error")
    b.add_argument("--rel-error", type=float, required=True, help="target relative error r")
    b.add_argument("--qubits", help="qubit counts, e.g. 2-8")
    b.add_argument("--pilot", help="output folder of a shot-based study to estimate from")
    b.add_argument(
        "--spec",
        default="jobs/seed_tutorial.toml",
        help="spec for the model's own estimates (default: the seed experiment)",
    )
    b.add_argument(
        "--per-shot-s",
        type=float,
        default=DEFAULT_PER_SHOT_S,
        help=f"QPU seconds per shot (default {DEFAULT_PER_SHOT_S})",
    )
    b.add_argument(
        "--per-circuit-s",
        type=float,
        default=DEFAULT_PER_CIRCUIT_S,
        help=f"QPU seconds per circuit (default {DEFAULT_PER_CIRCUIT_S})",
    )
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_budget)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bp-qiskit`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (SpecError, UsageError, StoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except StudyFailedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into e.g. `head`: stop quietly, and keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
