"""A JSON Schema of the spec file, for editors (TOML language servers read one).

Generated from the sections themselves, so it cannot drift from them: one object per table in
``SECTIONS``, one property per dataclass field, typed from its annotation and described by
the section's docstring, no other keys (the spec refuses unknown keys too). Where a registry
names the allowed values, they are the schema's ``enum``: the ansatz and grammar presets, the
observable kinds, the gradient methods, and the ``[backend.options]`` keys with their
documentation. The schema is a guide for typing and completion, not the check: values it
cannot express (a qubit range such as ``"2-12"`` parses, ``"2-1"`` does not) are still
refused by :func:`~bp_qiskit.spec.load_spec`, naming ``section.key``.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from typing import Any

from ..backends.options import OPTION_DOC
from ..core.circuits import ANSATZE
from ..core.grammar import PRESETS
from ..core.observables import OBSERVABLES
from .sections import GRADIENT_METHODS
from .study import SECTIONS

__all__ = ["spec_schema"]

_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}
# Fields whose TOML form is wider than the parsed value's type.
_INPUT_FORMS: dict[tuple[str, str], dict[str, Any]] = {
    ("circuit", "qubits"): {
        "anyOf": [
            {"type": "array", "items": {"type": "integer", "minimum": 1}},
            {"type": "string", "description": 'a range such as "2-12"'},
        ]
    },
    ("circuit", "angles"): {
        "type": "array",
        "minItems": 2,
        "maxItems": 2,
        "items": {"type": ["number", "string"], "description": 'a number or e.g. "2pi"'},
    },
}
_ENUMS: dict[tuple[str, str], tuple[Any, ...]] = {
    ("circuit", "ansatz"): (*ANSATZE, *PRESETS, "custom"),
    ("observable", "kind"): OBSERVABLES,
    ("gradient", "method"): GRADIENT_METHODS,
}


def spec_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a spec file's tables and keys."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "bp_qiskit study spec",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            name: _several(_section(name, cls)) if name == "observable" else _section(name, cls)
            for name, cls in SECTIONS.items()
        },
    }


def _several(section: dict[str, Any]) -> dict[str, Any]:
    """``[observable]``, or ``[[observable]]``: several costs on the same circuits."""
    return {
        "description": section["description"],
        "anyOf": [section, {"type": "array", "items": section, "minItems": 1}],
    }


def _section(name: str, cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    docs = _attribute_docs(cls.__doc__ or "")
    properties: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        prop = dict(_INPUT_FORMS.get((name, field.name)) or _json_type(hints[field.name]))
        if (name, field.name) in _ENUMS:
            prop["enum"] = list(_ENUMS[(name, field.name)])
        if field.name in docs:
            prop["description"] = docs[field.name]
        if field.default is not dataclasses.MISSING and field.default is not None:
            default = field.default
            prop["default"] = list(default) if isinstance(default, tuple) else default
        properties[field.name] = prop
    if name == "backend":
        properties["options"] = {
            "type": "object",
            "additionalProperties": False,
            "description": properties["options"].get("description", ""),
            "properties": {key: {"description": doc} for key, doc in OPTION_DOC.items()},
        }
    head = (cls.__doc__ or "").strip().splitlines()[0]
    return {
        "type": "object",
        "additionalProperties": False,
        "description": head.replace("``", "`"),
        "properties": properties,
    }


def _json_type(hint: Any) -> dict[str, Any]:
    """The schema of a field's annotation (None in a union: the key may be left out)."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = [_json_type(a) for a in typing.get_args(hint) if a is not type(None)]
        return options[0] if len(options) == 1 else {"anyOf": options}
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _json_type(args[0])}
        return {"type": "array", "prefixItems": [_json_type(a) for a in args],
                "minItems": len(args), "maxItems": len(args)}  # fmt: skip
    if origin is dict:
        return {"type": "object"}
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    return {}


def _attribute_docs(doc: str) -> dict[str, str]:
    """``name: text`` entries of a Google-style ``Attributes:`` block, one line each."""
    out: dict[str, str] = {}
    lines = doc.split("Attributes:", 1)[1].splitlines() if "Attributes:" in doc else []
    names: list[str] = []
    for line in lines:
        entry = re.match(r"^ {8}([a-z_][\w, ]*):\s*(.*)$", line)
        if entry:
            names = [n.strip() for n in entry.group(1).split(",")]
            for n in names:
                out[n] = entry.group(2).strip()
        elif line.startswith(" " * 12) and names:
            for n in names:
                out[n] += " " + line.strip()
        elif line.strip() and not line.startswith(" " * 8):
            break
    return {k: v.replace("``", "`") for k, v in out.items()}
