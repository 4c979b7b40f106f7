"""The documentation cannot drift from the code.

- Every number a gallery page quotes is a key of ``docs/gallery/gallery.json``, written by
  ``docs/scripts/gallery.py`` from the runs; two cheap studies are re-run here and must
  print the committed output byte for byte and give the committed numbers.
- Every ``bp-qiskit`` command shown in README.md and docs/ parses with today's parser and
  names spec files that exist.
- The generated spec reference documents every field of every section.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import sys
from pathlib import Path

import pytest

from bp_qiskit.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
GALLERY = DOCS / "gallery"


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_every_quoted_gallery_number_comes_from_the_gallery_runs():
    values = json.loads((GALLERY / "gallery.json").read_text())
    pages = [*GALLERY.glob("*.md"), *(DOCS / "howto").glob("*.md"), DOCS / "index.md"]
    used = set()
    for page in pages:
        for key in re.findall(r"\{\{\s*(\w+)\s*\}\}", page.read_text()):
            assert key in values, f"{page.name}: {{{{ {key} }}}} is not in gallery.json"
            used.add(key)
    gallery = _module(DOCS / "scripts" / "gallery.py", "docs_gallery")
    for name in gallery.STUDIES:
        assert (GALLERY / f"{name}.md").exists(), f"no gallery page for {name}"
        assert (GALLERY / "output" / f"{name}.txt").exists()
        for fig in gallery.STUDIES[name][1]:
            assert (GALLERY / "figures" / f"{name}_{fig}").read_bytes()[:4] == b"\x89PNG"
    assert used, "no page quotes a number"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["seed", "grant2019"])
def test_the_gallery_output_is_what_the_code_prints_today(name, tmp_path):
    gallery = _module(DOCS / "scripts" / "gallery.py", "docs_gallery")
    text = gallery.run(name, tmp_path)
    assert text == (GALLERY / "output" / f"{name}.txt").read_text()
    committed = json.loads((GALLERY / "gallery.json").read_text())
    for key, value in gallery.numbers(name, tmp_path / name, text).items():
        assert committed[key] == value, key


def _commands(text: str) -> list[str]:
    """``bp-qiskit ...`` lines inside fenced bash blocks."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split(" #", 1)[0].strip()
            if line.startswith("bp-qiskit "):
                # A usage synopsis ("[--json]", "csv|json") is checked with its options given.
                line = re.sub(r"\[([^\]]*)\]", r"\1", line)
                out.append(re.sub(r"(\w+)\|\w+", r"\1", line))
    return out


def test_every_command_shown_in_the_docs_parses_and_names_real_specs():
    pages = [ROOT / "README.md", *DOCS.rglob("*.md")]
    parser = build_parser()
    seen = 0
    for page in pages:
        if "_build" in page.parts or page.parent.name == "generated":
            continue
        for line in _commands(page.read_text()):
            args = shlex.split(line)[1:]
            try:
                parser.parse_args(args)
            except SystemExit:  # pragma: no cover - the message names the page
                pytest.fail(f"{page.relative_to(ROOT)}: `{line}` does not parse")
            for arg in args:
                if arg.startswith("jobs/") and arg.endswith(".toml"):
                    assert (ROOT / arg).exists(), f"{page.name}: {arg} does not exist"
            seen += 1
    assert seen >= 30


def test_the_generated_spec_and_cli_references_cover_everything():
    refs = _module(DOCS / "_ext" / "generated_refs.py", "docs_generated_refs")
    spec = refs.spec_reference()
    for section in ("study", "circuit", "observable", "gradient", "sampling", "backend"):
        assert f"## `[{section}]`" in spec
    assert "| `block_depth` |" in spec and "| `factory` |" in spec
    cli = refs.cli_reference()
    for command in ("run", "resume", "predict", "budget", "compare", "report"):
        assert f"## `bp-qiskit {command}`" in cli
