"""The spec sections: one frozen dataclass per TOML table, each with a dict round trip.

Every section validates itself in ``__post_init__`` and names the failing field as
``section.key`` with the allowed values, because a typo in a long-running study should fail
in a second, not after hours.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, ClassVar

from ..core.circuits import ANSATZE, resolve_layers
from ..core.grammar import PRESETS, Grammar
from ..core.observables import OBSERVABLES, parse_pauli_term
from ..errors import SpecError
from .parsing import check_int, fail, parse_angle, parse_qubits
from .section import Section

__all__ = [
    "GRADIENT_KEYWORDS",
    "GRADIENT_METHODS",
    "AdaptiveSpec",
    "BudgetSpec",
    "CircuitSpec",
    "GradientSpec",
    "ObservableSpec",
    "SamplingSpec",
    "StudyInfo",
]

GRADIENT_KEYWORDS = ("first", "last", "all")
GRADIENT_METHODS = ("auto", "shift", "adjoint")
GRAMMAR_KEYS = ("initial", "rotations", "random_set", "entangler")


@dataclasses.dataclass(frozen=True)
class StudyInfo(Section):
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
            raise fail("study.name", self.name, "a non-empty string of letters, digits, _ . -")
        check_int("study.seed", self.seed, minimum=0)


@dataclasses.dataclass(frozen=True)
class CircuitSpec(Section):
    """``[circuit]``: which random circuits to build.

    Attributes:
        ansatz: ``seed`` (the demo's one-layer circuit), ``mcclean`` (L random layers with a
            CZ ladder after each), ``identity_blocks`` (Grant et al.: blocks whose second half
            undoes the first at initialisation), or a grammar preset: ``product``,
            ``hardware_efficient``, ``alternating_layered``, ``matchgate``
            (:mod:`bp_qiskit.core.grammar`).
        layers: Number of rotation layers L, or a string ``"<k>n"`` for L = k * n per qubit
            count (e.g. ``"4n"``), or a list of these: a depth axis, one curve per item
            (``[1, 2, 4, 8]``). ``seed`` requires 1; ``identity_blocks`` requires an even L.
        qubits: Qubit counts to sweep.
        angles: ``[low, high]``; angles are drawn uniformly from [low, high).
        factory: ``"module:function"``: bring your own circuit. The function builds the
            circuit for n qubits (and L layers, passed as ``num_layers``, ``layers`` or
            ``reps`` when it takes one), optionally returning ``(circuit, observable)``.
            Then ``ansatz`` is ``"custom"`` and every parameter is drawn from ``angles``.
        block_depth: identity_blocks only: layers k per half block (L a multiple of 2k).
        control: identity_blocks only: also run the random-initialisation control at equal
            depth (the mcclean ansatz with the same L), a second study drawn beside it.
        initial, rotations, random_set, entangler: the grammar (:mod:`bp_qiskit.core.grammar`);
            each one set overrides the ansatz's own (``seed`` and ``mcclean`` are
            ``ry_pi4``, ``["random"]``, ``["X", "Y", "Z"]``, ``cz_ladder``).
    """

    SECTION: ClassVar[str] = "circuit"
    ansatz: str = "seed"
    layers: int | str | tuple[int | str, ...] = 1
    qubits: tuple[int, ...] = (2, 3, 4, 5, 6)
    angles: tuple[float, float] = (0.0, 2 * math.pi)
    factory: str = ""
    initial: str | None = None
    rotations: tuple[str, ...] | None = None
    random_set: tuple[str, ...] | None = None
    entangler: str | None = None
    block_depth: int = 1
    control: bool = False

    def __post_init__(self) -> None:
        # The order of the checks is the order of the errors a user meets: the ansatz first.
        self._check_ansatz()
        self._check_grammar()
        self._normalise_layers()
        object.__setattr__(self, "qubits", parse_qubits("circuit.qubits", self.qubits))
        self._normalise_angles()
        if self.ansatz == "seed" and self.layers != 1:
            raise fail("circuit.layers", self.layers, "1 for ansatz 'seed' (use 'mcclean')")
        self._check_identity_blocks()

    def _check_ansatz(self) -> None:
        if not isinstance(self.factory, str) or (
            self.factory and not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*", self.factory)
        ):
            raise fail(
                "circuit.factory", self.factory, "'module:function', e.g. 'mypkg.ansatz:build'"
            )
        if self.factory and self.ansatz in ("seed", "custom"):
            object.__setattr__(self, "ansatz", "custom")
        elif self.factory:
            raise fail(
                "circuit.ansatz", self.ansatz, "'custom' (or leave it out) with circuit.factory"
            )
        elif self.ansatz not in ANSATZE + tuple(PRESETS):
            raise fail("circuit.ansatz", self.ansatz, ", ".join(ANSATZE + tuple(PRESETS)))

    def _normalise_layers(self) -> None:
        layers = self.layers
        if isinstance(layers, (list, tuple)):
            # A depth axis: several layer counts per qubit count (each one a curve).
            if not layers:
                raise fail("circuit.layers", list(layers), _LAYERS_ALLOWED)
            items = tuple(_layer_item(item) for item in layers)
            if len(set(items)) != len(items):
                raise fail("circuit.layers", list(layers), "distinct layer counts")
            object.__setattr__(self, "layers", items)
        else:
            object.__setattr__(self, "layers", _layer_item(layers))

    def _normalise_angles(self) -> None:
        angles = self.angles
        if not isinstance(angles, (list, tuple)) or len(angles) != 2:
            raise fail("circuit.angles", angles, "[low, high] with low < high")
        lo = parse_angle("circuit.angles[0]", angles[0])
        hi = parse_angle("circuit.angles[1]", angles[1])
        if not lo < hi:
            raise fail("circuit.angles", angles, "[low, high] with low < high")
        object.__setattr__(self, "angles", (lo, hi))

    def _check_identity_blocks(self) -> None:
        check_int("circuit.block_depth", self.block_depth, minimum=1)
        if self.block_depth != 1 and self.ansatz != "identity_blocks":
            raise fail(
                "circuit.block_depth", self.block_depth, "1 unless ansatz is identity_blocks"
            )
        if not isinstance(self.control, bool) or (
            self.control and self.ansatz != "identity_blocks"
        ):
            raise fail("circuit.control", self.control, "true only with ansatz identity_blocks")
        block = 2 * self.block_depth
        for n in self.qubits:
            if self.ansatz == "identity_blocks" and any(k % block for k in self.layer_counts(n)):
                raise fail(
                    "circuit.layers",
                    self.layers,
                    f"a multiple of {block} (2 x block_depth) layers for identity_blocks",
                )

    def _check_grammar(self) -> None:
        for key in GRAMMAR_KEYS:
            value = getattr(self, key)
            if key in ("rotations", "random_set") and isinstance(value, (str, list)):
                object.__setattr__(self, key, (value,) if isinstance(value, str) else tuple(value))
            elif value is not None and not isinstance(value, (str, tuple)):
                raise fail(f"circuit.{key}", value, "a string")
        if not any(getattr(self, k) is not None for k in GRAMMAR_KEYS):
            return
        if self.factory or self.ansatz == "identity_blocks":
            key = next(k for k in GRAMMAR_KEYS if getattr(self, k) is not None)
            raise fail(
                f"circuit.{key}",
                getattr(self, key),
                "nothing with circuit.factory or ansatz 'identity_blocks' (its blocks are fixed)",
            )
        try:
            self.grammar()
        except (ValueError, TypeError) as exc:
            key = str(exc).split(":", 1)[0]
            raise SpecError(f"circuit.{exc}" if key in GRAMMAR_KEYS else str(exc)) from None

    def grammar(self) -> Grammar | None:
        """The grammar of this circuit, or None for the built-in seed/mcclean/identity_blocks."""
        overrides = {k: getattr(self, k) for k in GRAMMAR_KEYS if getattr(self, k) is not None}
        if self.ansatz in PRESETS:
            return dataclasses.replace(PRESETS[self.ansatz], **overrides)
        if overrides and self.ansatz in ("seed", "mcclean"):
            return Grammar(**overrides)
        return None

    def to_dict(self) -> dict[str, Any]:
        """Plain data; optional keys only when set, so built-in specs stay as they were."""
        out = super().to_dict()
        if not self.factory:
            del out["factory"]
        for key in GRAMMAR_KEYS:
            if out[key] is None:
                del out[key]
        if self.block_depth == 1:
            del out["block_depth"]
        if not self.control:
            del out["control"]
        return out

    @property
    def layer_series(self) -> tuple[int | str, ...]:
        """The layer counts as a tuple of items (``2``, ``"4n"``): one curve each."""
        return self.layers if isinstance(self.layers, tuple) else (self.layers,)

    def layer_counts(self, num_qubits: int) -> tuple[int, ...]:
        """Every L of a qubit count, in spec order, each once."""
        counts = [resolve_layers(item, num_qubits) for item in self.layer_series]
        return tuple(dict.fromkeys(counts))

    def num_layers(self, num_qubits: int) -> int:
        """Return the one L of a qubit count (resolves ``"<k>n"``).

        Raises:
            SpecError: when ``layers`` is a depth axis (use :meth:`layer_counts`).
        """
        counts = self.layer_counts(num_qubits)
        if len(counts) != 1:
            raise fail("circuit.layers", list(self.layer_series), "one layer count here")
        return counts[0]


_LAYERS_ALLOWED = "an integer >= 1, a string like '4n', or a list of them (a depth axis)"


def _layer_item(item: Any) -> int | str:
    """One layer count: an integer >= 1 or ``"<k>n"`` (L = k n)."""
    if isinstance(item, str):
        m = re.fullmatch(r"\s*(\d+)\s*\*?\s*n\s*", item)
        if not m or int(m.group(1)) < 1:
            raise fail("circuit.layers", item, _LAYERS_ALLOWED)
        return f"{int(m.group(1))}n"
    if isinstance(item, bool) or not isinstance(item, int) or item < 1:
        raise fail("circuit.layers", item, _LAYERS_ALLOWED)
    return item


@dataclasses.dataclass(frozen=True)
class ObservableSpec(Section):
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
            raise fail("observable.kind", self.kind, ", ".join(OBSERVABLES))
        terms = tuple(self.terms) if isinstance(self.terms, (list, tuple)) else self.terms
        if not isinstance(terms, tuple) or not all(isinstance(t, str) for t in terms):
            raise fail("observable.terms", self.terms, "a list of labels like 'Z0 Z1'")
        coeffs = self.coeffs
        if not isinstance(coeffs, (list, tuple)) or not all(
            isinstance(c, (int, float)) and not isinstance(c, bool) for c in coeffs
        ):
            raise fail("observable.coeffs", coeffs, "a list of real numbers")
        coeffs = tuple(float(c) for c in coeffs)
        if self.kind == "pauli":
            if not terms:
                raise fail("observable.terms", self.terms, "at least one label like 'Z0 Z1'")
            for t in terms:
                self.parse_term(t)
            if not coeffs:
                coeffs = (1.0,) * len(terms)
            if len(coeffs) != len(terms):
                raise fail("observable.coeffs", self.coeffs, f"{len(terms)} numbers (one per term)")
        elif terms or coeffs:
            raise fail("observable.terms", self.terms, "empty unless kind = 'pauli'")
        object.__setattr__(self, "terms", terms)
        object.__setattr__(self, "coeffs", coeffs)

    @staticmethod
    def parse_term(label: str) -> list[tuple[str, int]]:
        """Parse ``"Z0 Z1"`` into ``[("Z", 0), ("Z", 1)]``."""
        try:
            return parse_pauli_term(label)
        except ValueError as exc:
            raise fail("observable.terms", label, str(exc).split(": ", 1)[1]) from None

    def min_qubits(self) -> int:
        """Return the smallest qubit count the observable is defined on."""
        if self.kind == "zz":
            return 2
        if self.kind == "pauli":
            return 1 + max((q for t in self.terms for _, q in self.parse_term(t)), default=0)
        return 1


@dataclasses.dataclass(frozen=True)
class GradientSpec(Section):
    """``[gradient]``: which partial derivative(s) to take.

    Attributes:
        parameter: ``"first"``, ``"last"``, ``"all"``, a parameter index, or
            ``[layer, position]``. The rotation on qubit q in layer l has index ``l * n + q``
            (which names another gate when n changes); ``[l, q]`` names the same gate at every
            n, and ``[-1, 0]`` is the first rotation of the last layer. Negative numbers count
            from the end.
        method: ``"shift"``: the parameter-shift rule, two circuits per differentiated
            parameter through the Estimator (the reference; the only method with shots, noise
            or a QPU). ``"adjoint"``: every gradient of an exact noiseless statevector run
            from one forward and one backward pass (backends/adjoint.py), the same numbers to
            rounding. ``"auto"`` (default): adjoint where it applies and more than one
            parameter is differentiated, shift otherwise.
    """

    SECTION: ClassVar[str] = "gradient"
    parameter: str | int | tuple[int, int] = "last"
    method: str = "auto"

    def __post_init__(self) -> None:
        p = self.parameter
        if isinstance(p, (list, tuple)):
            if len(p) != 2 or not all(isinstance(a, int) and not isinstance(a, bool) for a in p):
                raise fail("gradient.parameter", list(p), "[layer, position] as two integers")
            object.__setattr__(self, "parameter", (int(p[0]), int(p[1])))
        elif isinstance(p, bool) or not (isinstance(p, int) or p in GRADIENT_KEYWORDS):
            raise fail(
                "gradient.parameter",
                p,
                "'first', 'last', 'all', an integer parameter index or [layer, position]",
            )
        if self.method not in GRADIENT_METHODS:
            raise fail("gradient.method", self.method, ", ".join(map(repr, GRADIENT_METHODS)))

    def to_dict(self) -> dict[str, Any]:
        """Plain data; ``method`` only when set, so existing specs keep their bytes."""
        out = super().to_dict()
        if self.method == "auto":
            del out["method"]
        return out


@dataclasses.dataclass(frozen=True)
class SamplingSpec(Section):
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
        # Upper bounds keep absurd sizes (typos, 1e14) from reaching the planner or the
        # store (SQLite integers are 64-bit): far above anything a study can run.
        check_int("sampling.samples", self.samples, minimum=2, maximum=MAX_SAMPLES)
        check_int("sampling.shots", self.shots, minimum=0, maximum=MAX_SHOTS)
        if self.shots == 1:
            # One shot gives no estimate of the single-shot variance, hence no floor.
            raise fail("sampling.shots", 1, "0 (exact) or an integer >= 2")
        check_int("sampling.chunk", self.chunk, minimum=1)


MAX_SAMPLES = 10_000_000
MAX_SHOTS = 1_000_000_000


@dataclasses.dataclass(frozen=True)
class BudgetSpec(Section):
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
        check_int("budget.total_shots", self.total_shots, minimum=8)
        shots = self.shots
        if not isinstance(shots, (list, tuple)) or not shots:
            raise fail("budget.shots", shots, "a non-empty list of integers >= 2")
        shots = tuple(check_int("budget.shots", n, minimum=2) for n in shots)
        for n in shots:
            if self.total_shots // (2 * n) < 2:
                raise fail(
                    "budget.shots",
                    list(shots),
                    f"values with total_shots / (2 N) >= 2 circuits (N <= {self.total_shots // 4})",
                )
        object.__setattr__(self, "shots", tuple(sorted(set(shots))))
        check_int("budget.repeats", self.repeats, minimum=2)


@dataclasses.dataclass(frozen=True)
class AdaptiveSpec(Section):
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
            raise fail("adaptive.target_rel_error", r, "a number in (0, 1)")
        object.__setattr__(self, "target_rel_error", float(r))
        check_int("adaptive.max_shots", self.max_shots, minimum=1)
        check_int("adaptive.fixed_shots", self.fixed_shots, minimum=0)
