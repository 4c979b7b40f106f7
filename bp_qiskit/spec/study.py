"""A whole study spec: the sections together, cross-section checks, overrides, TOML loading."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..backends import REGISTRY, capabilities_of
from ..backends.local import noiseless_statevector
from ..errors import SpecError
from .backend_section import BackendSpec
from .parsing import fail
from .section import Section
from .sections import (
    AdaptiveSpec,
    BudgetSpec,
    CircuitSpec,
    GradientSpec,
    ObservableSpec,
    SamplingSpec,
    StudyInfo,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

__all__ = ["KIND_SECTIONS", "OPTIONAL_SECTIONS", "SECTIONS", "StudySpec", "load_spec"]


SECTIONS: dict[str, type[Section]] = {
    "study": StudyInfo,
    "circuit": CircuitSpec,
    "observable": ObservableSpec,
    "gradient": GradientSpec,
    "sampling": SamplingSpec,
    "backend": BackendSpec,
    "budget": BudgetSpec,
    "adaptive": AdaptiveSpec,
}
# Sections that are absent (None) unless the spec file has the table.
OPTIONAL_SECTIONS = ("budget", "adaptive")
# Sections that make a study of another kind than a plain sweep; at most one per spec.
KIND_SECTIONS = ("budget", "adaptive")


@dataclasses.dataclass(frozen=True)
class StudySpec:
    """A whole study: one frozen section per table of the spec file."""

    study: StudyInfo = dataclasses.field(default_factory=StudyInfo)
    circuit: CircuitSpec = dataclasses.field(default_factory=CircuitSpec)
    observable: ObservableSpec = dataclasses.field(default_factory=ObservableSpec)
    gradient: GradientSpec = dataclasses.field(default_factory=GradientSpec)
    sampling: SamplingSpec = dataclasses.field(default_factory=SamplingSpec)
    backend: BackendSpec = dataclasses.field(default_factory=BackendSpec)
    budget: BudgetSpec | None = None
    adaptive: AdaptiveSpec | None = None
    # Further costs (``[[observable]]`` tables after the first): each is measured as its own
    # study on the very same circuits (same seed, same draws), see :meth:`variants`.
    more_observables: tuple[ObservableSpec, ...] = ()

    def __post_init__(self) -> None:
        # Cross-section checks: only here do we know both the observable and the qubit counts.
        small = min(self.circuit.qubits)
        for cost in (self.observable, *self.more_observables):
            need = cost.min_qubits()
            if small < need:
                raise fail(
                    "circuit.qubits",
                    list(self.circuit.qubits),
                    f"qubit counts >= {need} for observable.kind = {cost.kind!r}",
                )
        self._check_parameter()
        self._check_backend()

    def _check_parameter(self) -> None:
        """``gradient.parameter`` names a parameter of every cell (of a grammar circuit)."""
        p = self.gradient.parameter
        if isinstance(p, tuple) and not self.circuit.factory:
            grammar = self.circuit.grammar()
            for n in self.circuit.qubits:
                width = grammar.params_per_layer(n) if grammar else n
                for depth in self.circuit.layer_counts(n):
                    if not (-depth <= p[0] < depth and -width <= p[1] < width):
                        raise fail(
                            "gradient.parameter",
                            list(p),
                            f"[layer, position] with layer in [{-depth}, {depth - 1}] and "
                            f"position in [{-width}, {width - 1}] at n={n}, L={depth}",
                        )
        # A factory's parameter count is known only once it is called (execution checks it).
        if isinstance(p, int) and not self.circuit.factory:
            grammar = self.circuit.grammar()
            for n in self.circuit.qubits:
                depth = min(self.circuit.layer_counts(n))
                num = grammar.num_params(n, depth) if grammar else n * depth
                if not -num <= p < num:
                    raise fail("gradient.parameter", p, f"an index in [{-num}, {num - 1}] at n={n}")

    def _check_backend(self) -> None:
        """Shots, the gradient method and the study kind are ones the backend can do."""
        caps = capabilities_of(self.backend.name)
        if self.sampling.shots and not caps.shots:
            with_shots = [e.form for e in REGISTRY if e.capabilities.shots]
            raise fail(
                "backend.name",
                self.backend.name,
                f"{', '.join(repr(f) for f in with_shots)} when sampling.shots > 0 "
                f"({self.backend.name} is exact only)",
            )
        adjoint = caps.adjoint and noiseless_statevector(self.backend.options)
        if self.gradient.method == "adjoint" and (self.sampling.shots or not adjoint):
            why = (
                "sampling.shots > 0"
                if self.sampling.shots
                else f"backend {self.backend.name} and these backend.options"
            )
            raise fail(
                "gradient.method",
                "adjoint",
                f"'auto' or 'shift' with {why}: the adjoint pass is exact and noiseless "
                "(sampling.shots = 0 on aer or statevector)",
            )
        if not self.sampling.shots and not caps.exact:
            raise fail("sampling.shots", 0, f"an integer >= 2 for backend {self.backend.name!r}")
        mixed = [f"[{name}]" for name in KIND_SECTIONS if getattr(self, name) is not None]
        if len(mixed) > 1:
            raise SpecError(
                f"{' and '.join(mixed)}: a study is of one kind; keep one of these sections "
                "and run the other as a separate study"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StudySpec:
        """Build from a nested mapping such as a parsed TOML file."""
        if not isinstance(data, Mapping):
            raise SpecError("spec: expected a table of sections")
        unknown = sorted(set(data) - set(SECTIONS))
        if unknown:
            raise SpecError(
                f"spec: unknown section(s) {', '.join(unknown)}; "
                f"allowed sections: {', '.join(SECTIONS)}"
            )
        costs = data.get("observable", {})
        more: tuple[ObservableSpec, ...] = ()
        if isinstance(costs, list):  # [[observable]]: several costs
            if not costs:
                raise fail("[[observable]]", costs, "at least one table")
            parsed = tuple(ObservableSpec.from_dict(c) for c in costs)
            if len(set(parsed)) != len(parsed):
                raise fail("[[observable]]", costs, "distinct costs")
            data = {**data, "observable": costs[0]}
            more = parsed[1:]
        kwargs = {
            name: sec.from_dict(data.get(name, {}))
            for name, sec in SECTIONS.items()
            if name not in OPTIONAL_SECTIONS or name in data
        }
        spec = cls(**kwargs, more_observables=more)  # type: ignore[arg-type]
        if more and (spec.budget or spec.adaptive):
            raise fail(
                "[[observable]]",
                [c.kind for c in parsed],
                "one cost in budget and adaptive studies",
            )
        return spec

    @property
    def observables(self) -> tuple[ObservableSpec, ...]:
        """Every cost of the study, the first one first."""
        return (self.observable, *self.more_observables)

    def variants(self) -> list[StudySpec]:
        """The studies this spec runs: itself, then one per variant, each a plain spec.

        Variants: every backend of ``backend.compare``; the random-initialisation control of
        ``circuit.control``; every further cost of ``[[observable]]``. All share the study
        seed, so they draw the same circuits (same gates and angles, sample by sample): the
        curves are paired. Each is a study of its own in the store.
        """
        plain = dataclasses.replace(
            self,
            circuit=dataclasses.replace(self.circuit, control=False),
            backend=dataclasses.replace(self.backend, compare=()),
            more_observables=(),
        )
        out = [plain]
        for name in self.backend.compare:
            out.append(
                dataclasses.replace(plain, backend=dataclasses.replace(plain.backend, name=name))
            )
        if self.circuit.control:
            circuit = dataclasses.replace(plain.circuit, ansatz="mcclean", block_depth=1)
            study = dataclasses.replace(plain.study, name=f"{plain.study.name}-control")
            out.append(dataclasses.replace(plain, circuit=circuit, study=study))
        for cost in self.more_observables:
            study = dataclasses.replace(plain.study, name=f"{plain.study.name}-{cost.kind}")
            out.append(dataclasses.replace(plain, observable=cost, study=study))
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return the resolved spec as nested plain data; ``from_dict`` inverts it."""
        out = {
            name: getattr(self, name).to_dict()
            for name in SECTIONS
            if getattr(self, name) is not None
        }
        if self.more_observables:
            out["observable"] = [c.to_dict() for c in self.observables]
        return out

    def with_overrides(self, **overrides: Any) -> StudySpec:
        """Return a copy with ``section.key`` overrides applied (None values are ignored).

        Example: ``spec.with_overrides(**{"sampling.samples": 1000})``.
        """
        data = self.to_dict()
        for dotted, value in overrides.items():
            if value is None:
                continue
            section, _, key = dotted.partition(".")
            if section in OPTIONAL_SECTIONS:
                data.setdefault(section, {})
            if section not in data or not key:
                raise SpecError(f"override {dotted!r}: expected 'section.key'")
            data[section][key] = value
        return StudySpec.from_dict(data)


def load_spec(path: str | Path) -> StudySpec:
    """Load and validate a TOML study spec."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"spec file {str(path)!r}: {exc.strerror or exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"spec file {str(path)!r} is not valid TOML: {exc}") from exc
    return StudySpec.from_dict(data)
