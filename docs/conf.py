"""Sphinx configuration: the bp_qiskit documentation site (``make docs``).

MyST Markdown pages (the same files read on GitHub), a tutorial notebook executed at build
time (myst-nb), the Python API from docstrings (autodoc/autosummary), and the spec and CLI
references generated from the code at build time (``docs/_ext/generated_refs.py``), so none
of them can drift. Built with warnings as errors.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

from bp_qiskit import __version__  # noqa: E402

project = "bp_qiskit"
author = "the bp_qiskit developers"
copyright = "2026, the bp_qiskit developers"
release = __version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "generated_refs",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "scripts", "_ext", "**.ipynb_checkpoints", "gallery/output"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "substitution"]
myst_heading_anchors = 3
# The numbers the gallery pages quote, as written by docs/scripts/gallery.py from its runs.
myst_substitutions = json.loads((HERE / "gallery" / "gallery.json").read_text(encoding="utf-8"))
# The tutorial runs on every build: a stale notebook fails the build instead of shipping.
nb_execution_mode = "force"
nb_execution_timeout = 300
nb_execution_raise_on_error = True

autosummary_generate = ["reference/api.rst"]
autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "qiskit-ecosystem"
html_title = f"bp_qiskit {release}"
html_static_path: list[str] = []
# qiskit-sphinx-theme 2.1 replaces furo's stylesheet with its own, which only overrides it: on
# its own the pages render unstyled (seen in headless Chromium). Load furo's first.
html_css_files = [("styles/furo.css", {"priority": 100})]
