"""``bp-qiskit schema``: the spec file's JSON Schema, for an editor's completion and checks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..spec.schema import spec_schema
from .base import Command, CommandContext

__all__ = ["SchemaCommand"]


class SchemaCommand(Command):
    """The JSON Schema of a study spec (every table, key and allowed name)."""

    name = "schema"
    help = "print the JSON Schema of a study spec, for editors (e.g. a TOML language server)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Where to write it."""
        parser.add_argument("--out", help="write the schema to this file instead of printing it")

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        """Print or write the schema."""
        text = json.dumps(spec_schema(), indent=2) + "\n"
        if args.out:
            Path(args.out).write_text(text, encoding="utf-8")
            print(f"wrote {args.out}")
        else:
            print(text, end="")
        return 0
