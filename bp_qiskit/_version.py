"""Package version (single source, read by pyproject via the package)."""

__version__ = "0.1.0"
