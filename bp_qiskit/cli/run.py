"""``bp-qiskit run SPEC``: create a study from a spec file, run it, write its outputs."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from ..backends import (
    BACKEND_FORMS,
    BackendNameError,
    capabilities_of,
    make_backend,
    parse_backend_name,
)
from ..backends.devices import fake_backend
from ..errors import SpecError, UsageError
from ..execution import create_study
from ..execution.cost import CostEstimate, check_cost, cost_siblings, estimate_group_cost
from ..execution.dryrun import dry_run, dry_run_group
from ..execution.executors import pooled
from ..report.tables import format_dry_run
from ..spec import StudySpec, load_spec, parse_qubits
from ..store import BaseStore, open_store
from .base import (
    Command,
    CommandContext,
    check_executor,
    check_out,
    cost_args,
    default_store,
    finish_group,
    finish_study,
    study_folder,
    write_comparison,
)

__all__ = ["RunCommand"]


def _layers(text: str) -> int | str | list[int | str]:
    """``4``, ``4n``, or a depth axis ``1,2,4,8`` (the spec validates each item)."""
    items: list[int | str] = [int(t) if t.strip().isdigit() else t for t in text.split(",")]
    return items if len(items) > 1 else items[0]


def spec_from_args(args: argparse.Namespace) -> StudySpec:
    """The spec file with the command-line overrides applied."""
    spec = load_spec(args.spec)
    qubits = list(parse_qubits("--qubits", args.qubits)) if args.qubits else None
    spec = spec.with_overrides(
        **{
            "sampling.samples": args.samples,
            "sampling.shots": args.shots,
            "circuit.qubits": qubits,
            "circuit.layers": args.layers,
            "study.seed": args.seed,
            "backend.name": args.backend,
        }
    )
    if (args.target_rel_error is None) != (args.max_shots is None):
        raise UsageError("--target-rel-error and --max-shots go together; give both or neither")
    if args.target_rel_error is None:
        return spec
    if args.samples is not None:
        raise UsageError(
            "--samples: adaptive allocation chooses the number of circuits itself; omit "
            "--samples (sampling.chunk sets the pilot)"
        )
    try:
        return spec.with_overrides(
            **{
                "adaptive.target_rel_error": args.target_rel_error,
                "adaptive.max_shots": args.max_shots,
            }
        )
    except SpecError as exc:  # name the flag the user typed, not the spec field
        msg = str(exc)
        for field in ("target_rel_error", "max_shots"):
            msg = msg.replace(f"adaptive.{field}", "--" + field.replace("_", "-"))
        raise SpecError(msg) from None


def hardware_target(spec: StudySpec, service: Any) -> tuple[Any, str]:
    """The device a dry run transpiles for, and a note when it is not the live device.

    ``ibm:<name>`` with an account: the live backend (an unknown or retired name is a
    one-line error). Without an account: the offline snapshot of the same device, and the
    note says so. Other backends: None (the dry run uses the fake device of the name).
    """
    kind, device = parse_backend_name(spec.backend.name)
    if kind != "ibm":
        return None, ""
    from ..backends.runtime_records import calibration_time
    from ..backends.services import IBMService

    try:
        live = service or IBMService()
    except BackendNameError:  # no account
        try:
            snapshot = fake_backend(device.removeprefix("ibm_"))
        except BackendNameError:
            raise UsageError(
                f"--dry-run: cannot reach {device} without an IBM Quantum account, and there is "
                "no fake backend of that name; try --backend fake:<device>"
            ) from None
        return snapshot, (
            f"note: no IBM Quantum account, so this dry run used the offline snapshot of "
            f"{device} ({type(snapshot).__name__}, calibration of "
            f"{calibration_time(snapshot) or 'unknown date'}), not the device as it is today"
        )
    return live.backend(device), ""


def qpu_estimate(spec: StudySpec, service: Any) -> CostEstimate:
    """What the whole command would cost on QPUs: every variant of the spec that runs on one.

    A spec with several costs, or ``backend.compare``, runs several studies; the gate prices
    them all together, so no variant after the first can pass unpriced. The costs of one spec
    run as one PUB each (:func:`~bp_qiskit.execution.cost.estimate_group_cost`).
    """
    parts = []
    for group in cost_siblings(spec.variants()):
        one = group[0]
        if one.backend.kind != "ibm":
            continue
        backend = make_backend(one.backend.name, options=one.backend.options, service=service)
        try:
            # Costs of one spec share their PUBs: priced together, as they run.
            parts.append(estimate_group_cost(group, backend))
        finally:
            backend.close()
    return combine_estimates(parts)


def combine_estimates(parts: list[CostEstimate]) -> CostEstimate:
    """One estimate for several studies (the remaining allocation is the account's, once)."""
    if len(parts) == 1:
        return parts[0]
    sources = sorted({p.source for p in parts})
    return CostEstimate(
        seconds=sum(p.seconds for p in parts),
        source=" + ".join(sources) + f", {len(parts)} studies",
        overhead=max((p.overhead for p in parts), default=1.0),
        jobs=sum(p.jobs for p in parts),
        executions=sum(p.executions for p in parts),
        remaining=next((p.remaining for p in parts if p.remaining is not None), None),
    )


def cost_gate(spec: StudySpec, args: argparse.Namespace, service: Any) -> None:
    """The cost gate before a QPU study is even recorded (any kind); see execution.cost."""
    estimate = qpu_estimate(spec, service)
    print(f"{spec.backend.name}: {estimate.summary()}", flush=True)
    kw = cost_args(args)
    check_cost(
        estimate, limit_s=kw["cost_limit_s"], approve=kw["approve_cost"], confirm=kw["confirm"]
    )
    # Approved for everything priced above: the studies' own gates do not ask again.
    args.yes = True


class RunCommand(Command):
    """Run a study spec (TOML) of any kind."""

    on_terminate = "terminated (SIGTERM); finished jobs are kept; continue with resume"

    name = "run"
    help = "run a study spec (TOML)"
    parents = ("store", "out", "progress", "workers", "cost")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The spec and its overrides."""
        parser.add_argument("spec", help="path to a study spec, e.g. jobs/seed_tutorial.toml")
        parser.add_argument("--samples", type=int, help="random circuits per cell")
        parser.add_argument("--qubits", help="qubit counts, e.g. 2-6 or 2,4,8")
        parser.add_argument(
            "--layers", type=_layers, help="layers L, e.g. 4n, or a depth axis 1,2,4,8"
        )
        parser.add_argument("--seed", type=int, help="study seed")
        parser.add_argument("--shots", type=int, help="shots per shifted value (0 = exact)")
        parser.add_argument("--backend", help=f"one of: {', '.join(BACKEND_FORMS)}")
        parser.add_argument(
            "--target-rel-error",
            type=float,
            help="adaptive: add circuits and shots until this relative error",
        )
        parser.add_argument("--max-shots", type=int, help="adaptive: shot budget per cell")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="print ISA depth, 2q gates, PUBs, bindings, shots and QPU time; submit nothing",
        )

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        """Create the study, run it, write its outputs (and the comparison plot)."""
        check_executor(args)
        spec = spec_from_args(args)
        variants = spec.variants()
        on_qpu = any(v.backend.kind == "ibm" for v in variants)
        if args.dry_run:
            return self._dry_run(spec, variants, on_qpu, ctx)
        if on_qpu:
            from ..backends.services import IBMService

            # No account: one clear sentence, before anything is stored.
            service = ctx.service or IBMService()
            ctx = dataclasses.replace(ctx, service=service)
            cost_gate(spec, args, service)
        if args.out:
            check_out(Path(args.out))  # before anything is computed
        with open_store(args.store or default_store()) as store:
            if len(variants) == 1:
                return self._recorded(store, spec, create_study(store, spec), args.out, args, ctx)
            return self._compared(store, spec, args, ctx)

    @staticmethod
    def _dry_run(
        spec: StudySpec, variants: list[StudySpec], on_qpu: bool, ctx: CommandContext
    ) -> int:
        """Price every study the command would run; submit nothing."""
        # Every study the command would run (each cost, each compared backend), then the
        # total: what the gate prices.
        seconds, jobs, notes = 0.0, 0, []
        for one in variants:
            target, note = hardware_target(one, ctx.service)
            print(format_dry_run(one, dry_run(one, target=target)))
            if note and note not in notes:
                notes.append(note)
        for group in cost_siblings(variants):
            target, _ = hardware_target(group[0], ctx.service)
            group_s, group_jobs = dry_run_group(group, target=target)
            seconds, jobs = seconds + group_s, jobs + group_jobs
        if len(variants) > 1 or jobs:
            studies = f"{len(variants)} stud{'y' if len(variants) == 1 else 'ies'}"
            print(
                f"as submitted ({studies} of {spec.study.name}; the costs of one spec share "
                f"each PUB; PUBs packed into jobs): {jobs} job(s), about {seconds:.0f} QPU "
                "seconds (offline model)"
            )
        for note in notes:
            print(note)
        if on_qpu and not notes:
            # An account: the service's own estimate where offered, and the allocation.
            print(f"{spec.backend.name}: {qpu_estimate(spec, ctx.service).summary()}")
        return 0

    def _compared(
        self, store: BaseStore, spec: StudySpec, args: argparse.Namespace, ctx: CommandContext
    ) -> int:
        """The study and its variants (:meth:`StudySpec.variants`), then the comparison plot.

        Every study is created before any runs, and the command that redraws the plot is
        printed first: a run stopped at any point leaves each study in the store, to be
        resumed on its own, and the plot can be rebuilt from the store.
        """
        specs = spec.variants()
        ids = [create_study(store, s) for s in specs]
        out = Path(args.out) if args.out else study_folder(spec.study.name, ids[0])
        store_arg = f" --store {args.store}" if args.store else ""
        print(
            f"comparison of {len(ids)} studies; rebuild its plot with: "
            f"bp-qiskit compare {' '.join(ids)}{store_arg}",
            flush=True,
        )
        folders: dict[str, str | None] = {}
        for i, (one, study_id) in enumerate(zip(specs, ids, strict=True)):
            # With --out, each variant gets a subfolder (named after what differs); else each
            # study its own folder.
            label = one.backend.name
            if one.circuit.ansatz != specs[0].circuit.ansatz:
                label = "control"
            elif one.observable != specs[0].observable:
                label = one.observable.kind
            sub = str(out / label.replace(":", "_")) if args.out and i else None
            folders[study_id] = args.out if i == 0 else sub
        by_spec = dict(zip(ids, specs, strict=True))
        for group in cost_siblings(specs):
            members = [sid for sid in ids if by_spec[sid] in group]
            caps = capabilities_of(group[0].backend.name)
            here = caps.parallel and not pooled(
                getattr(args, "executor", None) or group[0].backend.executor,
                getattr(args, "workers", None) or group[0].backend.workers,
            )
            if len(members) > 1 and (caps.remote or here):
                # The costs of one spec: one PUB over every cost (one simulation of each
                # circuit, or on a QPU one job for all of them).
                for sid in members:
                    one = by_spec[sid]
                    where = args.store or default_store()
                    print(f"study {sid} ({one.study.name}, {one.backend.name}) in {where}")
                outs = [
                    Path(folders[sid] or study_folder(by_spec[sid].study.name, sid))
                    for sid in members
                ]
                code = finish_group(store, members, outs, args, ctx)
            else:
                for sid in members:
                    code = self._recorded(store, by_spec[sid], sid, folders[sid], args, ctx)
                    if code:
                        return code
            if code:
                return code
        return write_comparison(store, ids, out)

    @staticmethod
    def _recorded(
        store: BaseStore,
        spec: StudySpec,
        study_id: str,
        out: str | None,
        args: argparse.Namespace,
        ctx: CommandContext,
    ) -> int:
        folder = Path(out) if out else study_folder(spec.study.name, study_id)
        # Printed before running, so the id is known even if the run is interrupted.
        where = args.store or default_store()
        print(f"study {study_id} ({spec.study.name}, {spec.backend.name}) in {where}", flush=True)
        return finish_study(store, study_id, folder, args, ctx)
