"""Study kinds in one table. A new kind is one module and one entry in :data:`KINDS`."""

from __future__ import annotations

from ...errors import SpecError
from ...spec import StudySpec
from .adaptive import AdaptiveKind
from .base import CellProgress, StudyKind
from .budget import BudgetKind, model_for
from .plain import PlainKind

__all__ = ["KINDS", "CellProgress", "StudyKind", "kind_of", "model_for"]

KINDS: dict[str, StudyKind] = {k.name: k for k in (PlainKind(), AdaptiveKind(), BudgetKind())}


def kind_of(spec: StudySpec) -> StudyKind:
    """The kind a spec describes: the one whose section it has, else the plain sweep."""
    chosen = [k for k in KINDS.values() if k.section and getattr(spec, k.section) is not None]
    if len(chosen) > 1:  # StudySpec refuses this too; kept so the table cannot be ambiguous
        raise SpecError(f"{' and '.join(f'[{k.section}]' for k in chosen)}: a study is of one kind")
    return chosen[0] if chosen else KINDS["plain"]
