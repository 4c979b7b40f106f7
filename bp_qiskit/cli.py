"""The ``bp-qiskit`` command line.

Each sub-command is one small function ``cmd_<name>(args) -> int``. Expected failures (bad
spec, bad option, unknown study) raise :class:`UsageError` or :class:`SpecError` and become a
one-line ``error: ...`` on stderr with exit code 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .report import format_table, write_outputs
from .results import cell_arrays
from .runner import run_study
from .spec import BACKEND_NAMES, SpecError, StudySpec, load_spec, parse_qubits

__all__ = ["UsageError", "main"]


class UsageError(Exception):
    """A user error that the CLI reports in one line with exit code 2."""


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
    result, data = run_study(spec, progress=not args.no_progress)
    paths = write_outputs(out, result, cell_arrays(data, with_shot_var=spec.sampling.shots > 0))
    print(format_table(result))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for all sub-commands."""
    p = argparse.ArgumentParser(
        prog="bp-qiskit", description="Measure barren plateaus with Qiskit Estimator V2."
    )
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
    r.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    r.set_defaults(func=cmd_run)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bp-qiskit`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (SpecError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
