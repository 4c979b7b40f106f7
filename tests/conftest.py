"""Shared test settings. Seeds and tolerances are named constants, as in mitiq's suite."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
