"""The base of every spec section: a frozen dataclass with a checked dict round trip."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from .parsing import check_keys, fail

__all__ = ["Section"]

T = TypeVar("T", bound="Section")


@dataclasses.dataclass(frozen=True)
class Section:
    """Shared dict round trip for the spec sections."""

    SECTION: ClassVar[str] = ""

    @classmethod
    def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
        """Build and validate the section from a mapping (one TOML table)."""
        if not isinstance(data, Mapping):
            raise fail(f"[{cls.SECTION}]", data, "a table")
        names = [f.name for f in dataclasses.fields(cls)]
        check_keys(cls.SECTION, data, names)
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON/TOML-friendly mapping that ``from_dict`` accepts."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out
