"""Plots carry the reference curve where theory gives one, and say what was run."""

import math

import pytest

from bp_qiskit import StudySpec, run_study
from bp_qiskit.core.references import (
    mcclean_two_design_limit,
    reference_curve,
    seed_exact_variance,
)
from bp_qiskit.report import plot_variance


def test_reference_values_match_the_published_numbers():
    # ../shared/REFERENCE.md: n=2 0.029501, n=3 0.013925, n=4 0.006573, n=5 0.003103, n=6 0.001464
    published = {2: 0.029501, 3: 0.013925, 4: 0.006573, 5: 0.003103, 6: 0.001464}
    for n, value in published.items():
        assert seed_exact_variance(n) == pytest.approx(value, abs=6e-7)
    # Haar limit of a Pauli observable, about 1/(3 * 2^n) for large n
    assert mcclean_two_design_limit(10) * 3 * 2**10 == pytest.approx(1.0, rel=1e-6)


def test_reference_curves_only_where_they_hold():
    seed = StudySpec.from_dict({"circuit": {"qubits": [2, 3]}}).to_dict()
    assert reference_curve(seed)[0] == "exact (closed form)"
    half = StudySpec.from_dict({"circuit": {"qubits": [2, 3], "angles": [0, "pi"]}}).to_dict()
    assert reference_curve(half) is None  # U[0, pi): no closed form
    zz_first = {"circuit": {"ansatz": "mcclean", "qubits": [2, 3], "layers": 5},
                "observable": {"kind": "zz"}, "gradient": {"parameter": "first"}}  # fmt: skip
    label, _ = reference_curve(StudySpec.from_dict(zz_first).to_dict())
    assert label == "2-design limit (deep circuits)"


def test_variance_plot_shows_reference_description_and_natural_log_slope():
    spec = StudySpec.from_dict({"circuit": {"qubits": [2, 3, 4]}, "sampling": {"samples": 60}})
    result = run_study(spec, progress=False).result
    fig = plot_variance(result)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "exact (closed form)" in labels
    assert any(label.startswith("exp. fit: d ln Var / dn = ") for label in labels)
    assert any(label.startswith("power law: Var ∝ n^(") for label in labels)
    assert sum(label.endswith("(preferred)") for label in labels) == (result.preferred != "either")
    title = ax.get_title()
    assert "seed ansatz, L = 1, S = 60, N = exact, global cost, aer (noiseless)" in title
    ref = next(line for line in ax.get_lines() if line.get_label() == "exact (closed form)")
    assert list(ref.get_xdata()) == [2, 3, 4]
    assert ref.get_ydata()[0] == pytest.approx(seed_exact_variance(2))
    assert not math.isnan(ref.get_ydata()[-1])


def test_results_as_tables_for_notebooks():
    import pandas as pd  # in the test extra; optional for users

    spec = StudySpec.from_dict({"circuit": {"qubits": [2, 3]}, "sampling": {"samples": 20}})
    outcome = run_study(spec, progress=False)
    cells = outcome.result.to_pandas()
    assert list(cells["num_qubits"]) == [2, 3]
    assert list(cells["grad_var"]) == [c.grad_var for c in outcome.result.cells]
    assert {"grad_var_ci_low", "grad_var_ci_high", "resolved"} <= set(cells.columns)
    samples = outcome.to_pandas()
    assert isinstance(samples, pd.DataFrame) and len(samples) == 2 * 20
    first = samples[samples["num_qubits"] == 2]["grad"].to_numpy()
    assert first.tobytes() == outcome.data[0].grads.ravel().tobytes()


def test_log_labels_are_matplotlibs_labels_in_plain_text(tmp_path, monkeypatch):
    """The same ticks and mantissas as matplotlib's own log formatter, and no mathtext.

    Oracle: matplotlib's LogFormatterSciNotation on the same axis, its mathtext rewritten by
    hand; and a mathtext parser that fails if anything still asks for it.
    """
    import matplotlib.mathtext
    from matplotlib.ticker import LogFormatterSciNotation

    def no_mathtext(*args, **kwargs):
        raise AssertionError("mathtext was parsed")

    monkeypatch.setattr(matplotlib.mathtext.MathTextParser, "parse", no_mathtext)
    spec = StudySpec.from_dict({"circuit": {"qubits": [2, 3, 4]}, "sampling": {"samples": 60}})
    fig = plot_variance(run_study(spec, progress=False).result, tmp_path / "v.png")
    ax = fig.axes[0]
    reference = LogFormatterSciNotation()
    reference.set_axis(ax.yaxis)
    ticks = [t for t in ax.yaxis.get_majorticklocs() if t > 0]
    reference.set_locs(ticks)
    by_hand = {"0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "-": "⁻"}
    for tick in ticks:
        want = reference(tick)
        assert want.startswith(r"$\mathdefault{10^{") and want.endswith("}}$")
        exponent = want[len(r"$\mathdefault{10^{") : -len("}}$")]
        plain = "10" + "".join(by_hand[ch] for ch in exponent)
        assert ax.yaxis.get_major_formatter()(tick) == plain
    assert (tmp_path / "v.png").stat().st_size > 0
