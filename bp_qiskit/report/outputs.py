"""The output folder and the exports of a finished study, for every kind.

Each part of a :class:`~bp_qiskit.results.StudyOutcome` has its files: a gradient summary
writes ``results.json``, ``samples.npz``, ``variance.png`` and ``resources.json`` (each
cell's measured peak memory); every other part writes its own through its writer
(:mod:`bp_qiskit.report.parts`: ``adaptive.json``; ``budget.json`` and ``budget.png``);
a QPU study adds ``jobs.json`` (every submission: id, state, usage, physical qubits,
calibration time, options, shots). Exports are the per-sample rows (CSV) or everything
(JSON).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, TextIO

from ..core.gradients import parameter_indices
from ..results import StudyOutcome, cell_arrays, write_npz
from .parts import writer_for
from .render import draw_in_process, take

__all__ = ["export_csv", "export_json", "write_outputs"]


def write_outputs(out_dir: Path, outcome: StudyOutcome, *, plots: bool = True) -> list[Path]:
    """Write every file of ``outcome`` into ``out_dir``; return their paths.

    ``plots=False`` (``--no-plot``) skips the figures. matplotlib is imported only when one
    is drawn, since its import alone takes about 0.3 s; the console script loads it in a
    helper process while the study runs (:mod:`bp_qiskit.report.render`), and the gradient
    figures are drawn there from ``results.json``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    helper = take()
    figures: list[tuple[str, Path, Path]] = []
    if outcome.result is not None:
        figures = _write_result(out_dir, outcome, plots, paths)
        if helper is not None:
            for figure in figures:
                helper.draw(*figure)  # drawn in the helper while the rest is written
        _write_resources(out_dir, outcome, paths)
    for part in outcome.parts:
        paths += writer_for(part).files(part, outcome, out_dir, plots)
    if outcome.submissions:
        paths.append(out_dir / "jobs.json")
        payload = {"study_id": outcome.study_id, "submissions": list(outcome.submissions)}
        paths[-1].write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n", "utf-8")
    drawn = helper is not None and helper.finish()
    if helper is not None and not drawn:
        helper.close()
    for figure in figures if not drawn else ():
        draw_in_process(*figure)
    return paths


def _write_result(
    out_dir: Path, outcome: StudyOutcome, plots: bool, paths: list[Path]
) -> list[tuple[str, Path, Path]]:
    """results.json and samples.npz (appended to ``paths``); the figures to draw from them."""
    assert outcome.result is not None
    spec = outcome.result.spec
    results, samples = out_dir / "results.json", out_dir / "samples.npz"
    paths += [results, samples]
    # The study id on top: outputs of different studies can never be mistaken.
    results.write_text(outcome.result.to_json(study_id=outcome.study_id), "utf-8")
    write_npz(samples, cell_arrays(outcome.data, with_shot_var=spec["sampling"]["shots"] > 0))
    figures = []
    if plots:
        paths.append(out_dir / "variance.png")
        figures.append(("variance", results, paths[-1]))
    if plots and any(c.grad_var_params is not None for c in outcome.result.cells):
        paths.append(out_dir / "parameters.png")
        figures.append(("parameters", results, paths[-1]))
    return figures


def _write_resources(out_dir: Path, outcome: StudyOutcome, paths: list[Path]) -> None:
    """resources.json: measured, so kept out of results.json."""
    resources = outcome.resources()
    if resources:
        # Measured, so it differs between runs: kept out of results.json, which a killed
        # and resumed study reproduces byte for byte.
        paths.append(out_dir / "resources.json")
        payload = {"study_id": outcome.study_id, **resources}
        paths[-1].write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", "utf-8")


def export_json(outcome: StudyOutcome, stream: TextIO) -> None:
    """Everything: the summary, and every sample (or every repetition's estimates)."""
    payload: dict[str, Any] = {"study_id": outcome.study_id, "kind": outcome.kind}
    if outcome.result is not None:
        payload.update(outcome.result.to_dict())
        payload["samples"] = {
            d.cell.tag: {
                "gates": d.gates.tolist(),
                "params": d.params.tolist(),
                "grads": d.grads.tolist(),
                "shot_var": d.shot_var.tolist(),
            }
            for d in outcome.data
        }
    for part in outcome.parts:
        payload.update(writer_for(part).export(part))
    if outcome.submissions:
        payload["submissions"] = list(outcome.submissions)
    json.dump(payload, stream, indent=1, sort_keys=True)
    stream.write("\n")


def export_csv(outcome: StudyOutcome, stream: TextIO) -> None:
    """One row per sample and parameter (sweeps), or per repetition and split (budgets)."""
    writer = csv.writer(stream)
    sid = outcome.study_id
    if any(writer_for(part).csv_rows(part, sid, writer) for part in outcome.parts):
        return
    writer.writerow(
        ["study_id", "num_qubits", "num_layers", "sample", "parameter", "gates", "grad", "shot_var"]
    )
    assert outcome.result is not None
    which = outcome.result.spec["gradient"]["parameter"]
    for d in outcome.data:
        # The parameter's index l*n + q in the circuit, not the column: "last" is L*n - 1.
        index = parameter_indices(which, d.params.shape[1], d.cell.num_layers)
        for s in range(d.grads.shape[0]):
            gates = "".join("XYZ"[g] for g in d.gates[s].ravel())
            for k in range(d.grads.shape[1]):
                writer.writerow(
                    [
                        sid,
                        d.cell.num_qubits,
                        d.cell.num_layers,
                        s,
                        int(index[k]),
                        gates,
                        repr(float(d.grads[s, k])),
                        repr(float(d.shot_var[s, k])),
                    ]
                )
