"""Every fixed-width table the command line prints, in one place."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..core.references import reference_curve
from ..core.statistics import prediction_z
from ..results import AdaptiveCell, BudgetResult, CellResult, FitResult, SeriesFit, StudyResult

if TYPE_CHECKING:  # annotations only: the tables (and the figure helper) load no Qiskit
    from ..core.planning import NoiseModel, Plan
    from ..execution.dryrun import CellCost
    from ..execution.predict import Prediction
    from ..spec import StudySpec

__all__ = [
    "format_adaptive",
    "format_budget",
    "format_budget_plan",
    "format_dry_run",
    "format_predictions",
    "format_status",
    "format_studies",
    "format_table",
]


def format_table(result: StudyResult, adaptive: Sequence[AdaptiveCell] = ()) -> str:
    """A fixed-width table of the cells and the fit, as printed by ``bp-qiskit run``.

    ``adaptive``: the allocation reports of an adaptive study. Its rounds ran at different N;
    the shots column then shows the final N of each cell (results.json keeps the least N in
    ``shots_executed``, the one that bounds every sample's shot noise).
    """
    final = {(r.num_qubits, r.num_layers): r.final_shots for r in adaptive}
    head = (
        f"{'n':>3} {'L':>4} {'samples':>8} {'shots':>7} {'mean':>11} {'Var[grad]':>11} {'se':>10}"
    )
    # What theory expects, where a closed form or limit is known, and how far the cell is
    # from it in its own standard errors; a prediction covers the closed forms and more.
    predicted = any(c.predicted_method is not None for c in result.cells)
    reference = None if predicted else reference_curve(result.spec)
    columns = _optional_columns(result, predicted, reference)
    head += "".join(h for h, _ in columns)
    lines = [head, "-" * len(head)]
    for c in result.cells:
        row = (
            f"{c.num_qubits:>3} {c.num_layers:>4} {c.samples:>8} "
            f"{final.get((c.num_qubits, c.num_layers), c.shots_executed):>7} "
            f"{c.grad_mean:>11.3e} {c.grad_var:>11.4e} {c.grad_var_se:>10.2e}"
        )
        lines.append(row + "".join(cell(c) for _, cell in columns))
    if predicted:
        lines.append(
            "predicted: Pauli propagation (bp-qiskit predict); z: the measurement's distance from "
            "the prediction in standard units that hold with heavy tails (Wilson-Hilferty, "
            "docs/predictions.md); left out for a bound, and where the circuits are too few for "
            "the tails"
        )
    if reference is not None:
        lines.append(f"theory: {reference[0]}; z as for the prediction")
    unknown = [c for c in result.cells if c.shots and math.isinf(c.shot_noise_var)]
    if unknown:
        where = ", ".join(f"n={c.num_qubits} L={c.num_layers}" for c in unknown)
        lines.append(
            f"shot noise: unknown at {where}: the estimator reported an infinite standard error "
            "for some values (zero-noise extrapolation that did not converge does), so Var[grad] "
            "is left out there"
        )
    lines.append(format_gradient_method(result))
    lines.extend(format_limit_depths(result))  # a depth axis, predicted or not
    lines.extend(format_fits(result))
    return "\n".join(lines)


_Column = tuple[str, Callable[[CellResult], str]]


def _optional_columns(
    result: StudyResult, predicted: bool, reference: tuple[str, Callable[[int], float]] | None
) -> list[_Column]:
    """The table's optional column groups, each a header and a cell formatter."""
    out: list[_Column] = []
    if any(c.shots for c in result.cells):
        out.append((
            f" {'floor':>10} {'resolved':>8}",
            lambda c: f" {c.shot_noise_var:>10.2e} {'yes' if c.resolved else 'no':>8}",
        ))  # fmt: skip
    # Cost concentration: Var[C] over the random angles, next to Var[dC].
    if any(c.cost_var is not None for c in result.cells):
        out.append((f" {'Var[C]':>11} {'se':>9}", _cost_columns))
    if predicted:
        out.append((f" {'predicted':>11} {'method':<14} {'z':>6}", _predicted_columns))
    if reference is not None:
        curve = reference[1]

        def theory(c: CellResult) -> str:
            expected = curve(c.num_qubits)
            z = prediction_z(c.grad_var, c.grad_var_se, c.samples, expected)
            return f" {expected:>11.4e} {'-' if math.isnan(z) else format(z, '.1f'):>6}"

        out.append((f" {'theory':>11} {'z':>6}", theory))
    return out


def _cost_columns(c: CellResult) -> str:
    if c.cost_var is None or c.cost_var_se is None:
        return f" {'-':>11} {'-':>9}"
    return f" {c.cost_var:>11.4e} {c.cost_var_se:>9.2e}"


def format_gradient_method(result: StudyResult) -> str:
    """Which method produced the gradients: the adjoint pass, parameter shift, or both."""
    adjoint = [c for c in result.cells if c.gradient_method == "adjoint"]
    if not adjoint:
        return "gradients: parameter shift (2 circuits per differentiated parameter and sample)"
    what = "adjoint pass (exact statevector: one forward and one backward pass per sample)"
    if len(adjoint) == len(result.cells):
        return f"gradients: {what}"
    cells = ", ".join(f"n={c.num_qubits} L={c.num_layers}" for c in adjoint)
    return f"gradients: {what} for {cells}; parameter shift for the others"


def _predicted_columns(c: CellResult) -> str:
    method = c.predicted_method or "-"
    if c.predicted_grad_var is None or method == "none":
        return f" {'-':>11} {method:<14} {'-':>6}"
    if method == "bound":
        return f" {'<' + format(c.predicted_upper_bound or 0.0, '.3e'):>11} {method:<14} {'-':>6}"
    z = c.z()
    shown = "-" if z is None or math.isnan(z) else f"{z:.1f}"
    return f" {c.predicted_grad_var:>11.4e} {method:<14} {shown:>6}"


def limit_depths(result: StudyResult, within: float = 3.0) -> dict[int, int | None]:
    """Per n of a depth axis: the least L from which every deeper cell is near the limit.

    Near: within ``within`` standard errors of the 2-design limit. None when the deepest
    cell is not.
    """
    reference = reference_curve(result.spec)
    if reference is None or not reference[0].startswith("2-design") or not result.series:
        return {}
    out: dict[int, int | None] = {}
    for n in sorted({c.num_qubits for c in result.cells}):
        cells = sorted((c for c in result.cells if c.num_qubits == n), key=lambda c: c.num_layers)
        depth = None
        for c in reversed(cells):
            if abs(c.grad_var - reference[1](n)) >= within * c.grad_var_se:
                break
            depth = c.num_layers
        out[n] = depth
    return out


def format_limit_depths(result: StudyResult) -> list[str]:
    """One line: the depth at which each n reaches the 2-design limit (a depth axis only)."""
    depths = limit_depths(result)
    if not depths:
        return []
    parts = [f"n = {n}: {'not reached' if L is None else f'L >= {L}'}" for n, L in depths.items()]
    return ["within 3 se of the 2-design limit from: " + ", ".join(parts)]


def _chi2(f: FitResult) -> str:
    return "" if f.chi2_dof is None else f", chi2/dof = {f.chi2_dof:.2f}"


def format_fits(result: StudyResult | SeriesFit) -> list[str]:
    """The exponential and power-law fits, and which one the cells prefer (per depth curve)."""
    if isinstance(result, StudyResult) and result.series:
        if all(s.fit is None for s in result.series):
            return ["fits over n: none (one qubit count per depth); Var against L: variance.png"]
        lines = []
        for series in result.series:
            lines.append(f"L = {series.layers}:")
            lines.extend("  " + line for line in format_fits(series))
        return lines
    f, p = result.fit, result.fit_power
    if f is None:
        return ["fit: no fit over n (fewer than 2 qubit counts with a variance and an error bar)"]
    lines = [
        f"fit over n={list(f.points)}: ln Var = ({f.slope:.4f} +/- {f.slope_se:.4f}) n "
        f"+ {f.intercept:.3f}{_chi2(f)}  [exponential; slope = d ln Var / dn]"
    ]
    if p is not None:
        lines.append(
            f"                power law: ln Var = ({p.slope:.4f} +/- {p.slope_se:.4f}) ln n "
            f"+ {p.intercept:.3f}{_chi2(p)}"
        )
    if result.preferred is not None and result.delta_aic is not None:
        verdict = {
            "exponential": "the data prefer the exponential (a barren plateau)",
            "power_law": "the data prefer the power law (no exponential decay)",
            "either": "the data cannot tell the models apart",
        }[result.preferred]
        lines.append(f"model: {verdict}; AIC(exp) - AIC(power) = {result.delta_aic:.1f}")
    if isinstance(result, StudyResult) and result.cost_fit is not None:
        c = result.cost_fit
        lines.append(
            f"cost concentration: ln Var[C] = ({c.slope:.4f} +/- {c.slope_se:.4f}) n "
            f"+ {c.intercept:.3f}{_chi2(c)}"
        )
    return lines


def format_dry_run(spec: StudySpec, costs: Sequence[CellCost]) -> str:
    """The table printed by ``bp-qiskit run --dry-run``."""
    head = (
        f"{'n':>3} {'L':>4} {'depth':>6} {'2q gates':>8} {'PUBs':>5} {'bindings':>9} "
        f"{'shots':>11} {'QPU s':>9}"
    )
    lines = [
        f"dry run of {spec.study.name} on {spec.backend.name}: nothing is submitted",
        head,
        "-" * len(head),
    ]
    for c in costs:
        lines.append(
            f"{c.num_qubits:>3} {c.num_layers:>4} {c.depth:>6} {c.two_qubit_gates:>8} "
            f"{c.pubs:>5} {c.bindings:>9} {c.total_shots:>11} {c.qpu_seconds:>9.1f}"
        )
    total_s = sum(c.qpu_seconds for c in costs)
    total_shots = sum(c.total_shots for c in costs)
    executions = sum(c.executions for c in costs)
    lines.append(
        f"total: {sum(c.pubs for c in costs)} PUBs, {total_shots} shots, "
        f"{executions} executions, about {total_s:.0f} QPU seconds"
    )
    lines.append(
        f"QPU time is an offline model: 2 s per job + executions x (rep_delay + circuit "
        f"duration on the device); mitigation overhead x{executions / max(total_shots, 1):.2g} "
        "(resilience level 1: 1.1, level 2: 3.1)"
    )
    return "\n".join(lines)


def format_adaptive(reports: Sequence[AdaptiveCell]) -> str:
    """What adaptive allocation reached per cell."""
    lines = [f"{'n':>3} {'S':>7} {'N':>6} {'shots used':>11} {'rel.err':>8} {'reached':>8}"]
    for r in reports:
        lines.append(
            f"{r.num_qubits:>3} {r.samples:>7} {r.final_shots:>6} {r.total_shots:>11} "
            f"{r.rel_error:>8.3f} {'yes' if r.reached else 'no':>8}"
        )
    return "\n".join(lines)


def format_budget(result: BudgetResult) -> str:
    """Achieved against predicted relative error for every split of a budget study."""
    lines = [f"{'n':>3} {'N':>6} {'S':>7} {'achieved':>9} {'+/-':>6} {'predicted':>9} {'ratio':>6}"]
    for p in result.points:
        lines.append(
            f"{p.num_qubits:>3} {p.shots:>6} {p.samples:>7} {p.achieved_rel_error:>9.4f} "
            f"{p.achieved_rel_error_se:>6.4f} {p.predicted_rel_error:>9.4f} "
            f"{p.achieved_rel_error / p.predicted_rel_error:>6.3f}"
        )
    return "\n".join(lines)


def format_studies(rows: Sequence[Mapping[str, Any]]) -> str:
    """``bp-qiskit list``: one line per study."""
    lines = [
        f"{'id':<12} {'name':<24} {'kind':<9} {'backend':<16} {'shots':>7} {'samples':>8} "
        f"{'state':<12} {'jobs done':>10} {'created':<19}"
    ]
    for r in rows:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["created_at"]))
        done = f"{r['jobs'].get('DONE', 0)}/{r['jobs_total']}"
        if isinstance(r["shots"], list):
            shots = ",".join(map(str, r["shots"]))
        else:
            shots = "exact" if not r["shots"] else str(r["shots"])
        samples = "-" if r["samples"] is None else str(r["samples"])
        lines.append(
            f"{r['id']:<12} {r['name']:<24} {r['kind']:<9} {r['backend']:<16} {shots:>7} "
            f"{samples:>8} {r['state']:<12} {done:>10} {created:<19}"
        )
    return "\n".join(lines)


def format_status(r: Mapping[str, Any]) -> str:
    """``bp-qiskit status``: one study, its cells, failures and remote jobs."""
    states = ", ".join(f"{k} {v}" for k, v in sorted(r["jobs"].items()))
    pending = r.get("usage_not_yet_reported", 0)
    usage = f"QPU seconds: {r['qpu_seconds_used']:.1f}" + (
        f" ({pending} job(s) not yet reported)" if pending else ""
    )
    # A budget study's cells count circuits over all its splits, not gradient samples.
    circuits = "circuits" if r["kind"] == "budget" else "samples"
    lines = [
        f"study {r['id']} {r['name']} ({r['kind']}, {r['backend']}): {r['state']}; "
        f"jobs: {states}; shots used: {r['shots_used']}; {usage}",
        f"  {'n':>3} {'L':>4} {'jobs':>9} {circuits:>8} {'Var[grad]':>11} {'se':>10}",
    ]
    for c in r["cells"]:
        var = "-" if c["grad_var"] is None else f"{c['grad_var']:.4e}"
        se = "-" if c["grad_var_se"] is None else f"{c['grad_var_se']:.2e}"
        done = f"{c['jobs_done']}/{c['jobs_total']}"
        lines.append(
            f"  {c['num_qubits']:>3} {c['num_layers']:>4} {done:>9} {c['samples_done']:>8} "
            f"{var:>11} {se:>10}"
        )
    for f in r["failed_jobs"]:
        lines.append(
            f"  {f['state'].lower()} {f['key']} after {f['attempts']} attempt(s): {f['error']}"
        )
    if r["remote_jobs"]:
        lines.append(
            f"  {'job':<10} {'try':>3} {'remote job id':<24} {'state':<10} {'queue':<10} "
            f"{'usage s':>8} {'qubits':<14} cause"
        )
    for q in r["remote_jobs"]:
        usage_s = "-" if q["usage_seconds"] is None else f"{q['usage_seconds']:.1f}"
        qubits = ",".join(str(x) for x in (q.get("qubits") or [[]])[0])
        lines.append(
            f"  {q['key']:<10} {q['attempt']:>3} {q['remote_job_id'] or '(in doubt)':<24} "
            f"{q['state']:<10} {q.get('queue_state', '-'):<10} {usage_s:>8} {qubits:<14} "
            f"{q['cause'] or ''}"
        )
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def format_budget_plan(
    rows: Sequence[tuple[NoiseModel, Plan, Plan]],
    rel_error: float,
    per_shot_s: float,
    per_circuit_s: float,
) -> str:
    """``bp-qiskit budget``: the fewest-shots and the least-QPU-time plan per qubit count."""
    source = rows[0][0].source if rows else "-"
    head = f"{'S':>8} {'N':>7} {'shots':>11} {'QPU time':>9}"
    lines = [
        f"target relative error {rel_error} (estimates from the {source}); "
        f"time model: {per_circuit_s} s per circuit + {per_shot_s} s per shot",
        f"{'':>24}{'--- fewest shots ---':^38}  {'--- least QPU time ---':^38}".rstrip(),
        f"{'n':>3} {'Var[grad]':>10} {'T/V':>8}  {head}  {head}",
    ]
    for m, a, b in rows:
        cols = [
            f"{p.samples:>8} {p.shots:>7} {p.total_shots:>11} {_duration(p.qpu_seconds):>9}"
            for p in (a, b)
        ]
        lines.append(f"{m.num_qubits:>3} {m.V:>10.3e} {m.T / m.V:>8.1f}  {cols[0]}  {cols[1]}")
    return "\n".join(lines)


def format_predictions(rows: Sequence[Prediction]) -> str:
    """``bp-qiskit predict``: one line per cell and cost, with the method and its error."""
    lines = [
        f"{'n':>6} {'L':>5} {'cost':<7} {'Var[grad]':>11} {'se':>9} {'method':<14} "
        f"{'bound':>9} {'Var[C]':>11} {'qubits':>6}"
    ]
    notes = sorted({p.note for p in rows if p.note})
    for p in rows:
        var = "-" if p.grad_var is None else f"{p.grad_var:.4e}"
        if p.grad_var == 0.0 and p.log10_grad_var is not None:
            # Below the smallest float (the global cost at n = 1000): from its logarithm.
            exponent = math.floor(p.log10_grad_var)
            var = f"{10 ** (p.log10_grad_var - exponent):.4f}e{exponent}"
        se = "-" if p.grad_var_se is None else f"{p.grad_var_se:.2e}"
        bound = "-" if p.upper_bound is None else f"{p.upper_bound:.2e}"
        cost = "-" if p.cost_var is None else f"{p.cost_var:.4e}"
        lines.append(
            f"{p.num_qubits:>6} {p.num_layers:>5} {p.observable:<7} {var:>11} {se:>9} "
            f"{p.method:<14} {bound:>9} {cost:>11} {p.qubits_used:>6}"
        )
    lines += [f"note: {n}" for n in notes]
    lines.append(
        "methods: exact = full Pauli propagation; tensor_network = the pair chain as a "
        "matrix-product state (no se: nothing above 1e-10 of its weight discarded; se: the "
        "change when its bond dimension is halved, where it had to cut); monte_carlo = "
        "sampled Pauli paths (se from the paths); bound = Var below the bound (every sampled "
        "path vanished: 95%; or from disjoint light cones: rigorous)"
    )
    return "\n".join(lines)
