"""Declarative study specifications: frozen dataclasses loaded from TOML and validated.

A spec file has one table per section (``[study]``, ``[circuit]``, ``[observable]``,
``[gradient]``, ``[sampling]``, ``[backend]``). Every section is a frozen dataclass with a
``from_dict`` / ``to_dict`` round trip. Sections are looked up in :data:`SECTIONS`, so a new
section is one dataclass and one registry entry; unknown sections and keys are rejected with
the allowed names, because a typo in a long-running study should fail in a second, not after
hours.
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

__all__ = [
    "ANSATZE",
    "OBSERVABLES",
    "AdaptiveSpec",
    "BackendSpec",
    "BudgetSpec",
    "CircuitSpec",
    "GradientSpec",
    "ObservableSpec",
    "SamplingSpec",
    "SpecError",
    "StudyInfo",
    "StudySpec",
    "load_spec",
    "parse_angle",
    "parse_qubits",
]

ANSATZE = ("seed", "mcclean", "identity_blocks")
OBSERVABLES = ("global", "zz", "local", "pauli")
GRADIENT_KEYWORDS = ("first", "last", "all")
BACKEND_NAMES = (
    "aer",
    "statevector",
    "aer_estimator",
    "aer:<device>",
    "fake:<device>",
    "ibm:<backend>",
)

_MAX_QUBITS = 32


class SpecError(ValueError):
    """A spec field is missing, has the wrong type or an invalid value.

    The message always names the field as ``section.key`` and the allowed values.
    """


T = TypeVar("T", bound="_Section")


def _fail(field: str, got: Any, allowed: str) -> SpecError:
    return SpecError(f"{field}: got {got!r}; allowed: {allowed}")


def _check_keys(section: str, data: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise SpecError(
            f"[{section}]: unknown key(s) {', '.join(unknown)}; allowed keys: {', '.join(allowed)}"
        )


def _int(field: str, value: Any, *, minimum: int, maximum: int | None = None) -> int:
    # bool is an int subclass; `samples = true` is a typo, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(field, value, f"an integer >= {minimum}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"an integer in [{minimum}, {maximum}]" if maximum is not None else None
        raise _fail(field, value, bound or f"an integer >= {minimum}")
    return value


_ANGLE_RE = re.compile(r"^\s*(?P<k>[-+]?\d*\.?\d*)\s*\*?\s*pi\s*(?:/\s*(?P<d>\d+\.?\d*))?\s*$")


def parse_angle(field: str, value: Any) -> float:
    """Parse an angle given as a number or as a multiple of pi ("pi", "2pi", "pi/2", "1.5*pi")."""
    if isinstance(value, bool):
        raise _fail(field, value, "a number or a multiple of pi such as 'pi', '2pi', 'pi/2'")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise _fail(field, value, "a finite number")
        return float(value)
    if isinstance(value, str):
        m = _ANGLE_RE.match(value)
        if m:
            k = m.group("k")
            factor = 1.0 if k in ("", "+") else -1.0 if k == "-" else float(k)
            div = float(m.group("d")) if m.group("d") else 1.0
            if div == 0:
                raise _fail(field, value, "a non-zero divisor")
            return factor * math.pi / div
    raise _fail(field, value, "a number or a multiple of pi such as 'pi', '2pi', 'pi/2'")


def parse_qubits(field: str, value: Any) -> tuple[int, ...]:
    """Parse qubit counts: a list of ints, an int, or a string "2-6" / "2,4,8"."""
    allowed = "a list of integers >= 1, or a string like '2-6' or '2,4,8'"
    if isinstance(value, bool):
        raise _fail(field, value, allowed)
    if isinstance(value, int):
        items: list[Any] = [value]
    elif isinstance(value, str):
        items = []
        for part in value.split(","):
            part = part.strip()
            if re.fullmatch(r"\d+\s*-\s*\d+", part):
                lo, hi = (int(x) for x in part.split("-"))
                if hi < lo:
                    raise _fail(field, value, allowed + " (ranges must ascend)")
                items.extend(range(lo, hi + 1))
            elif re.fullmatch(r"\d+", part):
                items.append(int(part))
            else:
                raise _fail(field, value, allowed)
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise _fail(field, value, allowed)
    if not items:
        raise _fail(field, value, allowed)
    out = [_int(field, q, minimum=1, maximum=_MAX_QUBITS) for q in items]
    if len(set(out)) != len(out):
        raise _fail(field, value, allowed + " without repeats")
    return tuple(sorted(out))


@dataclasses.dataclass(frozen=True)
class _Section:
    """Shared dict round trip for the spec sections."""

    SECTION: ClassVar[str] = ""

    @classmethod
    def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
        """Build and validate the section from a mapping (one TOML table)."""
        if not isinstance(data, Mapping):
            raise _fail(f"[{cls.SECTION}]", data, "a table")
        names = [f.name for f in dataclasses.fields(cls)]
        _check_keys(cls.SECTION, data, names)
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON/TOML-friendly mapping that ``from_dict`` accepts."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out


@dataclasses.dataclass(frozen=True)
class StudyInfo(_Section):
    """``[study]``: identity of the study.

    Attributes:
        name: Used for the default output folder ``results/<name>/``.
        seed: Root of every random stream in the study (circuits, angles, shot sampling).
    """

    SECTION: ClassVar[str] = "study"
    name: str = "study"
    seed: int = 1234

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", self.name):
            raise _fail("study.name", self.name, "a non-empty string of letters, digits, _ . -")
        _int("study.seed", self.seed, minimum=0)


@dataclasses.dataclass(frozen=True)
class CircuitSpec(_Section):
    """``[circuit]``: which random circuits to build.

    Attributes:
        ansatz: ``seed`` (the demo's one-layer circuit), ``mcclean`` (L random layers with a
            CZ ladder after each) or ``identity_blocks`` (Grant et al.: blocks whose second half
            undoes the first at initialisation).
        layers: Number of rotation layers L, or a string ``"<k>n"`` for L = k * n per qubit
            count (e.g. ``"4n"``). ``seed`` requires 1; ``identity_blocks`` requires an even L.
        qubits: Qubit counts to sweep.
        angles: ``[low, high]``; angles are drawn uniformly from [low, high).
    """

    SECTION: ClassVar[str] = "circuit"
    ansatz: str = "seed"
    layers: int | str = 1
    qubits: tuple[int, ...] = (2, 3, 4, 5, 6)
    angles: tuple[float, float] = (0.0, 2 * math.pi)

    def __post_init__(self) -> None:
        if self.ansatz not in ANSATZE:
            raise _fail("circuit.ansatz", self.ansatz, ", ".join(ANSATZE))
        layers = self.layers
        if isinstance(layers, str):
            m = re.fullmatch(r"\s*(\d+)\s*\*?\s*n\s*", layers)
            if not m or int(m.group(1)) < 1:
                raise _fail("circuit.layers", layers, "an integer >= 1 or a string like '4n'")
            layers = f"{int(m.group(1))}n"
        else:
            _int("circuit.layers", layers, minimum=1)
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "qubits", parse_qubits("circuit.qubits", self.qubits))
        angles = self.angles
        if not isinstance(angles, (list, tuple)) or len(angles) != 2:
            raise _fail("circuit.angles", angles, "[low, high] with low < high")
        lo = parse_angle("circuit.angles[0]", angles[0])
        hi = parse_angle("circuit.angles[1]", angles[1])
        if not lo < hi:
            raise _fail("circuit.angles", angles, "[low, high] with low < high")
        object.__setattr__(self, "angles", (lo, hi))
        if self.ansatz == "seed" and layers != 1:
            raise _fail("circuit.layers", self.layers, "1 for ansatz 'seed' (use 'mcclean')")
        for n in self.qubits:
            if self.ansatz == "identity_blocks" and self.num_layers(n) % 2:
                raise _fail(
                    "circuit.layers", self.layers, "an even number of layers for identity_blocks"
                )

    def num_layers(self, num_qubits: int) -> int:
        """Return L for a given qubit count (resolves ``"<k>n"``)."""
        if isinstance(self.layers, str):
            return int(self.layers[:-1]) * num_qubits
        return self.layers


@dataclasses.dataclass(frozen=True)
class ObservableSpec(_Section):
    """``[observable]``: the cost whose gradient is measured.

    Attributes:
        kind: ``global`` (projector onto ``|0...0>``), ``zz`` (Z0 Z1), ``local``
            ((1/n) sum_j ``|0><0|_j``) or ``pauli`` (a Pauli sum given by ``terms``/``coeffs``).
        terms: For ``pauli``: sparse labels such as ``"Z0 Z1"`` or ``"X2"`` (letter + qubit index,
            space separated). Every index must exist at the smallest qubit count.
        coeffs: For ``pauli``: one real coefficient per term (default all 1).
    """

    SECTION: ClassVar[str] = "observable"
    kind: str = "global"
    terms: tuple[str, ...] = ()
    coeffs: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in OBSERVABLES:
            raise _fail("observable.kind", self.kind, ", ".join(OBSERVABLES))
        terms = tuple(self.terms) if isinstance(self.terms, (list, tuple)) else self.terms
        if not isinstance(terms, tuple) or not all(isinstance(t, str) for t in terms):
            raise _fail("observable.terms", self.terms, "a list of labels like 'Z0 Z1'")
        coeffs = self.coeffs
        if not isinstance(coeffs, (list, tuple)) or not all(
            isinstance(c, (int, float)) and not isinstance(c, bool) for c in coeffs
        ):
            raise _fail("observable.coeffs", coeffs, "a list of real numbers")
        coeffs = tuple(float(c) for c in coeffs)
        if self.kind == "pauli":
            if not terms:
                raise _fail("observable.terms", self.terms, "at least one label like 'Z0 Z1'")
            for t in terms:
                self.parse_term(t)
            if not coeffs:
                coeffs = (1.0,) * len(terms)
            if len(coeffs) != len(terms):
                raise _fail(
                    "observable.coeffs", self.coeffs, f"{len(terms)} numbers (one per term)"
                )
        elif terms or coeffs:
            raise _fail("observable.terms", self.terms, "empty unless kind = 'pauli'")
        object.__setattr__(self, "terms", terms)
        object.__setattr__(self, "coeffs", coeffs)

    @staticmethod
    def parse_term(label: str) -> list[tuple[str, int]]:
        """Parse ``"Z0 Z1"`` into ``[("Z", 0), ("Z", 1)]``."""
        out: list[tuple[str, int]] = []
        for tok in label.split():
            m = re.fullmatch(r"([IXYZ])(\d+)", tok)
            if not m:
                raise _fail("observable.terms", label, "tokens like 'Z0', 'X3' separated by spaces")
            out.append((m.group(1), int(m.group(2))))
        qubits = [q for _, q in out]
        if len(set(qubits)) != len(qubits):
            raise _fail("observable.terms", label, "each qubit at most once per term")
        return out

    def min_qubits(self) -> int:
        """Return the smallest qubit count the observable is defined on."""
        if self.kind == "zz":
            return 2
        if self.kind == "pauli":
            return 1 + max((q for t in self.terms for _, q in self.parse_term(t)), default=0)
        return 1


@dataclasses.dataclass(frozen=True)
class GradientSpec(_Section):
    """``[gradient]``: which partial derivative(s) to take.

    Attributes:
        parameter: ``"first"``, ``"last"``, ``"all"`` or a parameter index. The rotation on qubit
            q in layer l has index ``l * n + q``; negative indices count from the end.
    """

    SECTION: ClassVar[str] = "gradient"
    parameter: str | int = "last"

    def __post_init__(self) -> None:
        p = self.parameter
        if isinstance(p, bool) or not (isinstance(p, int) or p in GRADIENT_KEYWORDS):
            raise _fail(
                "gradient.parameter", p, "'first', 'last', 'all' or an integer parameter index"
            )


@dataclasses.dataclass(frozen=True)
class SamplingSpec(_Section):
    """``[sampling]``: how many random circuits and how many shots.

    Attributes:
        samples: Random circuits per cell (each with new gates and angles).
        shots: Shots per shifted expectation value; 0 means exact expectation values.
        chunk: Samples per job. Each chunk has its own random stream derived from the study
            seed, so results do not depend on execution order; changing ``chunk`` changes the
            random draws.
    """

    SECTION: ClassVar[str] = "sampling"
    samples: int = 200
    shots: int = 0
    chunk: int = 250

    def __post_init__(self) -> None:
        _int("sampling.samples", self.samples, minimum=2)
        _int("sampling.shots", self.shots, minimum=0)
        if self.shots == 1:
            # One shot gives no estimate of the single-shot variance, hence no floor.
            raise _fail("sampling.shots", 1, "0 (exact) or an integer >= 2")
        _int("sampling.chunk", self.chunk, minimum=1)


@dataclasses.dataclass(frozen=True)
class BackendSpec(_Section):
    """``[backend]``: which Estimator V2 evaluates the circuits.

    Attributes:
        name: ``aer`` (bp_qiskit's batched Aer estimator: exact or sampled shots, projectors
            without Pauli expansion), ``statevector`` (qiskit's reference
            ``StatevectorEstimator``, exact only), ``aer_estimator`` (qiskit-aer's own
            ``EstimatorV2``, exact only), ``aer:<device>`` (Aer with a fake device's noise),
            ``fake:<device>`` (IBM Runtime local testing mode) or ``ibm:<backend>`` (a QPU).
        options: ``[backend.options]`` for the runtime backends: mode, resilience_level,
            optimization_level, twirling, dynamical_decoupling, job_tags,
            max_execution_time, poll_interval.
        compare: Other backends to run the same study on; their variance curves are drawn
            beside this one's in ``comparison.png`` (e.g. noiseless ``aer`` beside
            ``aer:manila``).
    """

    SECTION: ClassVar[str] = "backend"
    name: str = "aer"
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    compare: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from .backends.runtime import BackendNameError, parse_backend_name, validate_options

        try:
            if not isinstance(self.name, str):
                raise BackendNameError(f"backend.name: got {self.name!r}; allowed: a string")
            parse_backend_name(self.name)
            if not isinstance(self.compare, (list, tuple)):
                raise BackendNameError(
                    f"backend.compare: got {self.compare!r}; allowed: a list of backend names"
                )
            for other in self.compare:
                parse_backend_name(str(other))
            object.__setattr__(self, "compare", tuple(str(c) for c in self.compare))
            if not isinstance(self.options, dict):
                raise BackendNameError(f"backend.options: got {self.options!r}; allowed: a table")
            object.__setattr__(self, "options", validate_options(self.options))
        except BackendNameError as exc:
            raise SpecError(str(exc)) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain data; ``options`` only when set, so plain specs stay as they were."""
        out: dict[str, Any] = {"name": self.name}
        if self.options:
            out["options"] = dict(self.options)
        if self.compare:
            out["compare"] = list(self.compare)
        return out

    @property
    def kind(self) -> str:
        """``aer``, ``statevector``, ``aer_estimator``, ``aer`` (device), ``fake`` or ``ibm``."""
        from .backends.runtime import parse_backend_name

        return parse_backend_name(self.name)[0]


@dataclasses.dataclass(frozen=True)
class BudgetSpec(_Section):
    """``[budget]`` (optional): a shot-budget study instead of a plain sweep.

    For each qubit count and each N in ``shots``, ``repeats`` independent repetitions spend
    ``total_shots`` on S = total_shots / (2 N) circuits with N shots per shifted point. The
    circuits are shared between the splits of one repetition (a split with S circuits uses
    the first S of the repetition's pool), so only (S, N) differ. The achieved relative error
    of the corrected variance is compared with the planner's prediction.

    Attributes:
        total_shots: Shots per repetition and split (both shifts counted).
        shots: The values of N to compare, each >= 2.
        repeats: Independent repetitions used to measure the achieved error.
    """

    SECTION: ClassVar[str] = "budget"
    total_shots: int = 40_000
    shots: tuple[int, ...] = (4, 16, 64, 256)
    repeats: int = 100

    def __post_init__(self) -> None:
        _int("budget.total_shots", self.total_shots, minimum=8)
        shots = self.shots
        if not isinstance(shots, (list, tuple)) or not shots:
            raise _fail("budget.shots", shots, "a non-empty list of integers >= 2")
        shots = tuple(_int("budget.shots", n, minimum=2) for n in shots)
        for n in shots:
            if self.total_shots // (2 * n) < 2:
                raise _fail(
                    "budget.shots",
                    list(shots),
                    f"values with total_shots / (2 N) >= 2 circuits (N <= {self.total_shots // 4})",
                )
        object.__setattr__(self, "shots", tuple(sorted(set(shots))))
        _int("budget.repeats", self.repeats, minimum=2)


@dataclasses.dataclass(frozen=True)
class AdaptiveSpec(_Section):
    """``[adaptive]`` (optional): add circuits and shots per cell until a target error.

    Attributes:
        target_rel_error: Stop a cell when the corrected variance's relative standard error
            is at most this.
        max_shots: Shot budget per cell (both shifts counted).
        fixed_shots: 0 lets the planner choose N each round; N > 0 keeps N fixed (a baseline).
    """

    SECTION: ClassVar[str] = "adaptive"
    target_rel_error: float = 0.1
    max_shots: int = 1_000_000
    fixed_shots: int = 0

    def __post_init__(self) -> None:
        r = self.target_rel_error
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 < r < 1:
            raise _fail("adaptive.target_rel_error", r, "a number in (0, 1)")
        object.__setattr__(self, "target_rel_error", float(r))
        _int("adaptive.max_shots", self.max_shots, minimum=1)
        _int("adaptive.fixed_shots", self.fixed_shots, minimum=0)


SECTIONS: dict[str, type[_Section]] = {
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

    def __post_init__(self) -> None:
        # Cross-section checks: only here do we know both the observable and the qubit counts.
        need = self.observable.min_qubits()
        small = min(self.circuit.qubits)
        if small < need:
            raise _fail(
                "circuit.qubits",
                list(self.circuit.qubits),
                f"qubit counts >= {need} for observable.kind = {self.observable.kind!r}",
            )
        p = self.gradient.parameter
        if isinstance(p, int):
            for n in self.circuit.qubits:
                num = n * self.circuit.num_layers(n)
                if not -num <= p < num:
                    raise _fail(
                        "gradient.parameter", p, f"an index in [{-num}, {num - 1}] at n={n}"
                    )
        kind = self.backend.kind
        if self.sampling.shots and kind in ("statevector", "aer_estimator"):
            raise _fail(
                "backend.name",
                self.backend.name,
                "'aer', 'aer:<device>', 'fake:<device>' or 'ibm:<backend>' when "
                "sampling.shots > 0 (statevector and aer_estimator are exact only)",
            )
        if not self.sampling.shots and kind in ("fake", "ibm"):
            raise _fail("sampling.shots", 0, f"an integer >= 2 for backend {self.backend.name!r}")

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
        kwargs = {
            name: sec.from_dict(data.get(name, {}))
            for name, sec in SECTIONS.items()
            if name not in OPTIONAL_SECTIONS or name in data
        }
        return cls(**kwargs)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """Return the resolved spec as nested plain data; ``from_dict`` inverts it."""
        return {
            name: getattr(self, name).to_dict()
            for name in SECTIONS
            if getattr(self, name) is not None
        }

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
