"""What a finished study of any kind hands to reports and exports: :class:`StudyOutcome`.

A sweep has a :class:`~bp_qiskit.results.schema.StudyResult` and per-sample data. What a
kind adds beside them is a *part*: any frozen object in ``StudyOutcome.parts`` (an adaptive
study adds an :class:`AdaptiveReport`, a shot-budget study a :class:`BudgetResult`).
Reports find each part's writer by its type (:mod:`bp_qiskit.report.parts`) and never ask
which kind ran, so a new kind with a new output is its kind module, its part here, and its
writer there.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, TypeVar

import numpy as np

from .data import CellData
from .schema import StudyResult

_P = TypeVar("_P")

__all__ = ["AdaptiveCell", "AdaptiveReport", "BudgetPoint", "BudgetResult", "StudyOutcome"]


@dataclasses.dataclass(frozen=True)
class AdaptiveCell:
    """What adaptive allocation reached in one cell and what it cost."""

    num_qubits: int
    num_layers: int
    samples: int
    final_shots: int
    total_shots: int
    rel_error: float
    reached: bool
    rounds: int

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for strict JSON: an unresolved relative error is null, not Infinity."""
        d = dataclasses.asdict(self)
        if not math.isfinite(d["rel_error"]):
            d["rel_error"] = None
        return d


@dataclasses.dataclass(frozen=True)
class AdaptiveReport:
    """An adaptive study's part: its targets and what each cell reached."""

    cells: tuple[AdaptiveCell, ...]
    target_rel_error: float
    max_shots: int

    def to_json(self, study_id: str) -> str:
        """``adaptive.json``: the targets and every cell's report."""
        report = {
            "study_id": study_id,
            "target_rel_error": self.target_rel_error,
            "max_shots_per_cell": self.max_shots,
            "cells": [r.to_dict() for r in self.cells],
        }
        return json.dumps(report, indent=2, sort_keys=True, allow_nan=False) + "\n"


@dataclasses.dataclass(frozen=True)
class BudgetPoint:
    """Achieved against predicted error for one (n, N) split."""

    num_qubits: int
    shots: int
    samples: int
    repeats: int
    reference_var: float
    mean_estimate: float
    achieved_rel_error: float
    achieved_rel_error_se: float
    predicted_rel_error: float


@dataclasses.dataclass(frozen=True)
class BudgetResult:
    """All splits of a budget study.

    Attributes:
        spec: The resolved spec.
        points: One point per (n, N).
        estimates: ``"<n>"`` -> per repetition, the corrected variance of every split.
    """

    spec: dict[str, Any]
    points: tuple[BudgetPoint, ...]
    estimates: dict[str, list[list[float]]] = dataclasses.field(default_factory=dict)

    def to_json(self) -> str:
        """Deterministic JSON (``budget.json``)."""
        data = {"spec": self.spec, "points": [dataclasses.asdict(p) for p in self.points]}
        return json.dumps(data, indent=2, sort_keys=True) + "\n"


@dataclasses.dataclass(frozen=True)
class StudyOutcome:
    """A finished study, whatever its kind.

    Attributes:
        study_id: The store's id.
        kind: The study kind's name (``plain``, ``adaptive``, ``budget``).
        result: The gradient-variance summary (sweeps).
        data: Per-cell sample data (sweeps).
        parts: What the kind adds, one object per output (:class:`AdaptiveReport`,
            :class:`BudgetResult`); reports look their writers up by type.
        submissions: What ran on a QPU, one JSON-ready row per submission (remote
            backends only): ids, states, causes, usage and provenance.
    """

    study_id: str
    kind: str
    result: StudyResult | None = None
    data: tuple[CellData, ...] = ()
    parts: tuple[Any, ...] = ()
    submissions: tuple[dict[str, Any], ...] = ()

    def part(self, kind: type[_P]) -> _P | None:
        """The part of this type, or None."""
        return next((p for p in self.parts if isinstance(p, kind)), None)

    @property
    def adaptive(self) -> tuple[AdaptiveCell, ...]:
        """Per-cell allocation reports (adaptive studies; empty otherwise)."""
        report = self.part(AdaptiveReport)
        return report.cells if report is not None else ()

    @property
    def budget(self) -> BudgetResult | None:
        """Achieved against predicted errors (budget studies; None otherwise)."""
        return self.part(BudgetResult)

    @property
    def spec(self) -> dict[str, Any]:
        """The resolved spec: the summary's, or that of a part that carries one."""
        if self.result is not None:
            return self.result.spec
        for p in self.parts:
            if isinstance(getattr(p, "spec", None), dict):
                return dict(p.spec)
        raise ValueError(f"study {self.study_id}: the outcome carries no spec")

    def to_pandas(self) -> Any:
        """One row per sample and differentiated column: n, L, sample, gradient, shot noise.

        Needs pandas (the optional extra ``pandas``); the per-cell summary is
        ``result.to_pandas()``.
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_pandas needs pandas: pip install 'bp_qiskit[pandas]'") from None
        frames = []
        for d in self.data:
            s, k = d.grads.shape
            frames.append(
                pd.DataFrame(
                    {
                        "num_qubits": d.cell.num_qubits,
                        "num_layers": d.cell.num_layers,
                        "sample": np.repeat(np.arange(s), k),
                        "column": np.tile(np.arange(k), s),
                        "grad": d.grads.ravel(),
                        "shot_var": d.shot_var.ravel(),
                    }
                )
            )
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def resources(self) -> dict[str, Any]:
        """Measured peak memory per cell, in MiB (``resources.json`` beside ``results.json``).

        Each figure is the largest peak resident memory of the cell's jobs, measured in the
        process that ran them (:mod:`bp_qiskit.execution.memory`). Not measured (QPU jobs,
        older stores): left out.
        """
        peaks = {
            d.cell.tag: round(d.peak_memory / 2**20, 1)
            for d in self.data
            if d.peak_memory is not None
        }
        if not peaks:
            return {}
        return {
            "peak_memory_mib": peaks,
            "peak_memory_mib_max": max(peaks.values()),
            "measured": "per job in the process that ran it (Linux: VmHWM reset before each "
            "job); differs between runs, unlike results.json",
        }
