"""Every spec in jobs/ runs as shipped (reduced only where the full run takes over a minute).

A new spec file must be added to SHIPPED, so none can ship untested.
"""

import json
from pathlib import Path

import pytest

from bp_qiskit.cli import main
from bp_qiskit.core.references import mcclean_two_design_limit
from bp_qiskit.results import StudyResult

ROOT = Path(__file__).resolve().parent.parent

# spec -> extra CLI arguments (empty: exactly as shipped), or where it is tested as shipped.
SHIPPED = {
    "seed_tutorial.toml": [],
    "mcclean2018.toml": [],  # about 11 s on 2 cores
    "ibm_hardware.toml": [],  # local testing mode on fake:manila, about 6 s
    "efficient_su2.toml": [],  # a circuit.factory spec, about 3 s
    "mcclean_depth.toml": [],  # a depth axis, about 25 s
    "cost_concentration.toml": [],  # about 7 s
    "noise_induced.toml": [],  # about 7 s, as docs/gallery/noise.md runs it
    # About 7 s since the U gates are written as rz/sx products before transpiling (it did
    # not finish in 5 minutes while qiskit's BasisTranslator translated them symbolically).
    "noisy_fake_device.toml": [],
    "shot_budget.toml": "tests/test_planning.py::"
    "test_shot_budget_spec_prediction_matches_achieved_error_within_20_percent",
    "grant2019.toml": "tests/test_physics.py::"
    "test_grant_identity_blocks_escape_the_plateau_that_random_init_falls_into",
    "seed_mps.toml": "tests/test_wide.py::"
    "test_seed_mps_at_50_and_100_qubits_gives_every_gradient_and_the_log_moment",
    "alternating_mps.toml": "tests/test_wide.py::"
    "test_alternating_mps_local_cost_at_50_qubits_agrees_with_the_prediction",
    "cerezo2021.toml": "tests/test_physics.py::"
    "test_cerezo_global_cost_plateaus_and_local_cost_falls_as_one_over_n_squared",
}  # fmt: skip


def test_every_shipped_spec_is_listed():
    assert sorted(p.name for p in (ROOT / "jobs").glob("*.toml")) == sorted(SHIPPED)


@pytest.mark.parametrize("name", [n for n, extra in SHIPPED.items() if isinstance(extra, list)])
def test_shipped_spec_runs(name, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["run", str(ROOT / "jobs" / name), *SHIPPED[name]]
    args += ["--store", str(tmp_path / "s.sqlite"), "--out", str(out), "--no-progress"]
    assert main(args) == 0, capsys.readouterr().err
    result = json.loads((out / "results.json").read_text())
    assert result["cells"] and all(c["grad_var"] >= 0 or c["shots"] for c in result["cells"])
    if result["spec"]["backend"].get("compare"):
        assert (out / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    if name in DOC_CLAIMS:
        printed = capsys.readouterr().out
        docs = (ROOT / "docs" / "specs.md").read_text()
        for claim in DOC_CLAIMS[name](StudyResult.from_dict(result), printed):
            assert claim in docs, f"docs/specs.md no longer matches the run: {claim!r}"


def _mcclean_claims(result, printed):
    fit = result.fit
    high = [(c.grad_var - mcclean_two_design_limit(c.num_qubits)) / c.grad_var_se
            for c in result.cells]  # fmt: skip
    last_near = max(c.num_qubits for c, z in zip(result.cells, high, strict=True) if z <= 3)
    far = [z for c, z in zip(result.cells, high, strict=True) if c.num_qubits > last_near]
    return [
        f"ln Var = ({fit.slope:.4f} +/- {fit.slope_se:.4f}) n with chi2/dof = {fit.chi2_dof:.2f}",
        f"z <= 3 up to n = {last_near} and z between {int(min(far))} and {int(max(far)) + 1} from\n"
        f"n = {last_near + 1} on",
    ]


def _printed_lines(*starts):
    def claims(result, printed):
        return [next(ln for ln in printed.splitlines() if ln.startswith(s)) for s in starts]

    return claims


def _depth_claims(result, printed):
    return [next(line for line in printed.splitlines() if line.startswith("within 3 se"))]


# spec -> the statements of docs/specs.md that its run as shipped produces
DOC_CLAIMS = {
    "mcclean2018.toml": _mcclean_claims,
    "mcclean_depth.toml": _depth_claims,
    "cost_concentration.toml": _printed_lines("fit over n=", "cost concentration:"),
}


@pytest.mark.parametrize("name", [n for n, extra in SHIPPED.items() if isinstance(extra, str)])
def test_specs_tested_as_shipped_elsewhere_are(name):
    path, test = SHIPPED[name].split("::")
    text = (ROOT / path).read_text()
    assert f"def {test}(" in text
    assert f'"jobs" / "{name}"' in text
