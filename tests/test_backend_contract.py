"""Every backend passes the contract of bp_qiskit.backends.protocol (shipped checks)."""

import pytest

from bp_qiskit.backends import REGISTRY
from bp_qiskit.backends.registry import entry_of
from bp_qiskit.testing.backend_contract import CHECKS, default_cases

CASES = {c.name: c for c in default_cases()}


def test_every_registered_form_has_a_case():
    assert {e.form for e in REGISTRY} == {entry_of(name).form for name in CASES}


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("case", list(CASES))
def test_backend_contract(case, check):
    CHECKS[check](CASES[case])


def test_a_broken_backend_fails_the_contract():
    """The checks can fail: a backend that reports a nominal std when exact is caught."""
    from bp_qiskit.backends import make_backend
    from bp_qiskit.testing.backend_contract import BackendCase, check_exact_has_zero_stds

    class NoisyStds:
        def __init__(self):
            self.inner = make_backend("aer")
            self.name, self.capabilities = "broken", self.inner.capabilities

        def evaluate(self, tasks, **kw):
            import dataclasses

            evs = self.inner.evaluate(tasks, **kw)
            return [dataclasses.replace(ev, stds=ev.stds + 0.1) for ev in evs]

        def close(self):
            pass

    with pytest.raises(AssertionError):
        check_exact_has_zero_stds(BackendCase("broken", NoisyStds))


def test_a_backend_that_returns_zeros_fails_the_value_check():
    """The value check can fail: zeros, or observables swapped, are caught by the oracle."""
    import dataclasses

    import numpy as np

    from bp_qiskit.backends import make_backend
    from bp_qiskit.testing.backend_contract import (
        BackendCase,
        check_values_match_an_independent_statevector,
    )

    class Broken:
        def __init__(self, how):
            self.inner, self.how = make_backend("aer"), how
            self.name, self.capabilities = "broken", self.inner.capabilities

        def evaluate(self, tasks, **kw):
            evs = self.inner.evaluate(tasks, **kw)
            fix = np.zeros_like if self.how == "zeros" else (lambda a: a[::-1])
            return [dataclasses.replace(ev, evs=fix(ev.evs)) for ev in evs]

        def close(self):
            pass

    for how in ("zeros", "swapped"):
        with pytest.raises(AssertionError):
            check_values_match_an_independent_statevector(
                BackendCase("broken", lambda how=how: Broken(how))
            )


@pytest.mark.parametrize(
    ("name", "dropped"),
    [("aer", "depolarizing"), ("aer:manila", "layout"), ("fake:manila", "twirling"),
     ("ibm:standin", "job_tags")],
)  # fmt: skip
def test_a_backend_that_drops_an_accepted_option_fails_the_contract(name, dropped):
    """The factory takes the options and leaves one out, as a backend that ignores it would:
    the check names that option."""
    import dataclasses

    from bp_qiskit.testing.backend_contract import check_accepted_options_take_effect

    real = CASES[name]

    def dropping(options):
        return real.make_with({k: v for k, v in options.items() if k != dropped})

    broken = dataclasses.replace(real, make_with=dropping)
    with pytest.raises(AssertionError, match=rf"backend\.options\.{dropped} = "):
        check_accepted_options_take_effect(broken)


def test_every_option_is_probed_or_says_why_not():
    from bp_qiskit.backends.options import OPTION_DOC, OPTION_PROBES, UNPROBED_OPTIONS

    assert set(OPTION_PROBES) | set(UNPROBED_OPTIONS) == set(OPTION_DOC)
    assert not set(OPTION_PROBES) & set(UNPROBED_OPTIONS)
