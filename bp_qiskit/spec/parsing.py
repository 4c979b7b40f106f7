"""Field parsers shared by the spec sections; every error names ``section.key``."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import SpecError

__all__ = ["MAX_QUBITS", "check_int", "check_keys", "fail", "parse_angle", "parse_qubits"]

# Beyond every QPU (156 qubits today) and room for matrix-product states; whether a cell
# fits the chosen backend is the resource check's job (execution/checks.py), which names
# the cell and the limit.
MAX_QUBITS = 1000


def fail(field: str, got: Any, allowed: str) -> SpecError:
    """The error for ``field``: what was given and what is allowed."""
    return SpecError(f"{field}: got {got!r}; allowed: {allowed}")


def check_keys(section: str, data: Mapping[str, Any], allowed: Sequence[str]) -> None:
    """Reject keys of ``[section]`` outside ``allowed``, listing the allowed ones."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise SpecError(
            f"[{section}]: unknown key(s) {', '.join(unknown)}; allowed keys: {', '.join(allowed)}"
        )


def check_int(field: str, value: Any, *, minimum: int, maximum: int | None = None) -> int:
    """Return ``value`` if it is an integer in range (not a bool), else raise for ``field``."""
    # bool is an int subclass; `samples = true` is a typo, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(field, value, f"an integer >= {minimum}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"an integer in [{minimum}, {maximum}]" if maximum is not None else None
        raise fail(field, value, bound or f"an integer >= {minimum}")
    return value


_ANGLE_RE = re.compile(r"^\s*(?P<k>[-+]?\d*\.?\d*)\s*\*?\s*pi\s*(?:/\s*(?P<d>\d+\.?\d*))?\s*$")


def parse_angle(field: str, value: Any) -> float:
    """Parse an angle given as a number or as a multiple of pi ("pi", "2pi", "pi/2", "1.5*pi")."""
    if isinstance(value, bool):
        raise fail(field, value, "a number or a multiple of pi such as 'pi', '2pi', 'pi/2'")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise fail(field, value, "a finite number")
        return float(value)
    if isinstance(value, str):
        m = _ANGLE_RE.match(value)
        if m:
            k = m.group("k")
            factor = 1.0 if k in ("", "+") else -1.0 if k == "-" else float(k)
            div = float(m.group("d")) if m.group("d") else 1.0
            if div == 0:
                raise fail(field, value, "a non-zero divisor")
            return factor * math.pi / div
    raise fail(field, value, "a number or a multiple of pi such as 'pi', '2pi', 'pi/2'")


def _qubit_ranges(field: str, value: str, allowed: str) -> list[int]:
    """The counts of a string such as "2-6" or "2,4,8" (ranges ascend)."""
    items: list[int] = []
    for part in value.split(","):
        part = part.strip()
        if re.fullmatch(r"\d+\s*-\s*\d+", part):
            lo, hi = (int(x) for x in part.split("-"))
            if hi < lo:
                raise fail(field, value, allowed + " (ranges must ascend)")
            items.extend(range(lo, hi + 1))
        elif re.fullmatch(r"\d+", part):
            items.append(int(part))
        else:
            raise fail(field, value, allowed)
    return items


def parse_qubits(field: str, value: Any, *, maximum: int = MAX_QUBITS) -> tuple[int, ...]:
    """Parse qubit counts: a list of ints, an int, or a string "2-6" / "2,4,8".

    ``maximum``: the simulators' limit by default; predictions go far beyond it.
    """
    allowed = "a list of integers >= 1, or a string like '2-6' or '2,4,8'"
    if isinstance(value, bool):
        raise fail(field, value, allowed)
    if isinstance(value, int):
        items: list[Any] = [value]
    elif isinstance(value, str):
        items = _qubit_ranges(field, value, allowed)
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise fail(field, value, allowed)
    if not items:
        raise fail(field, value, allowed)
    out = [check_int(field, q, minimum=1, maximum=maximum) for q in items]
    if len(set(out)) != len(out):
        raise fail(field, value, allowed + " without repeats")
    return tuple(sorted(out))
