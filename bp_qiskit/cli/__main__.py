"""``python -m bp_qiskit.cli``."""

import sys

from . import exit_after_interrupt, main

sys.exit(exit_after_interrupt(main()))
