"""``python -m bp_qiskit.cli``."""

import sys

from . import main

sys.exit(main())
