"""Write the spec and CLI reference pages from the code, before Sphinx reads the sources.

- ``reference/spec.md``: one table per spec section, from the section dataclasses: every
  field, its default (read from the dataclass) and its meaning (the ``Attributes:`` block of
  the section's docstring). A field without a documented meaning fails the build.
- ``reference/cli.md``: every sub-command's ``--help``, from :func:`bp_qiskit.cli.build_parser`.

Both are written under ``docs/reference/`` and are not committed (``.gitignore``).
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
from pathlib import Path
from typing import Any

HEADER = "<!-- Generated at build time by docs/_ext/generated_refs.py: do not edit. -->\n\n"


def _attributes(cls: type) -> dict[str, str]:
    """The ``Attributes:`` block of a Google-style docstring, name -> text."""
    doc = inspect.getdoc(cls) or ""
    if "Attributes:" not in doc:
        return {}
    block = doc.split("Attributes:", 1)[1]
    out: dict[str, str] = {}
    current: list[str] = []
    for line in block.splitlines():
        match = re.match(r"^    (\w[\w, ]*):\s*(.*)$", line)
        if match:
            current = []
            for name in match.group(1).split(","):
                out[name.strip()] = ""
                current.append(name.strip())
            text = match.group(2)
        elif line.startswith("        ") and current:
            text = line.strip()
        elif not line.strip():
            continue
        else:
            break
        for name in current:
            out[name] = f"{out[name]} {text}".strip()
    return out


def spec_reference() -> str:
    """Markdown tables of every spec section."""
    from bp_qiskit.spec.study import SECTIONS

    lines = [
        HEADER,
        "# Spec reference\n\n",
        "Every section and key of a study spec (`jobs/*.toml`), generated from the section "
        "dataclasses (`bp_qiskit/spec/sections.py`, `bp_qiskit/spec/backend_section.py`). "
        "A wrong key or value fails in one line "
        "naming `section.key` and the allowed values. Worked examples: "
        "[the shipped studies](../specs.md).\n\n",
    ]
    for cls in SECTIONS.values():
        table = getattr(cls, "SECTION", "")
        doc = inspect.getdoc(cls) or ""
        summary = doc.split("\n\n", 1)[0].replace("\n", " ")
        meaning = _attributes(cls)
        lines.append(f"## `[{table}]`\n\n{summary}\n\n")
        lines.append("| key | default | meaning |\n|---|---|---|\n")
        for f in dataclasses.fields(cls):
            if f.name not in meaning:
                raise RuntimeError(
                    f"{cls.__name__}.{f.name}: no entry in the docstring's Attributes"
                )
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                default = "(required)"
            shown = repr(list(default) if isinstance(default, tuple) else default)
            text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", meaning[f.name]).replace("|", "\\|")
            lines.append(f"| `{f.name}` | `{shown}` | {text} |\n")
        lines.append("\n")
    return "".join(lines)


def cli_reference() -> str:
    """Every sub-command's help text."""
    import os

    from bp_qiskit.cli import build_parser

    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: fixed, for a stable page
    parser = build_parser()
    lines = [
        HEADER,
        "# Command-line reference\n\n",
        "Generated from the parser (`bp_qiskit.cli.build_parser`): what `bp-qiskit COMMAND "
        "--help` prints. Exit codes: 0 success, 1 a failed study, 2 bad input (one line on "
        "stderr naming the field and the allowed values), 130 interrupted.\n\n",
    ]
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subs.choices.items():
        sub.prog = f"bp-qiskit {name}"
        text = sub.format_help()
        lines.append(f"## `bp-qiskit {name}`\n\n```text\n{text}```\n\n")
    return "".join(lines)


def _write(app: Any) -> None:
    out = Path(app.srcdir) / "reference"
    out.mkdir(exist_ok=True)
    for name, text in (("spec.md", spec_reference()), ("cli.md", cli_reference())):
        path = out / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def setup(app: Any) -> dict[str, Any]:
    """Write the pages when the builder starts."""
    app.connect("builder-inited", _write)
    return {"parallel_read_safe": True}
