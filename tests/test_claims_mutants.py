"""The mutation harness of `make mutants` (tools/mutants): its table is current, and it tells a
planted bug from clean code. The whole run (every mutant killed) is the slow tier."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from lazyrich.verify import load_claims, select  # noqa: E402
from tools import mutants as mh  # noqa: E402

MUTANTS = mh.all_mutants()


def test_every_mutant_applies_exactly_once_and_names_real_claims():
    registry = load_claims()
    for m in MUTANTS:
        assert m.path.startswith("lazyrich/") and "/claims/" not in m.path, m.name
        with open(os.path.join(ROOT, m.path), encoding="utf-8") as f:
            assert mh.check_applies(m) != f.read()  # raises unless `old` occurs exactly once
        for c in m.claims:
            assert select(registry, [c]), (m.name, c)
            assert c.startswith(m.area + "/"), f"{m.name}: {c} is not a claim of its area"


def test_at_least_four_mutants_per_area_and_twenty_in_all():
    names = [m.name for m in MUTANTS]
    assert len(set(names)) == len(names)
    for area in mh.AREAS:
        assert sum(m.area == area for m in MUTANTS) >= 4, area
    assert len(MUTANTS) >= 20


def test_a_stale_mutant_is_an_error_not_a_silent_no_op():
    m = mh.Mutant("kernels/stale", "lazyrich/theory/_kernel_dynamics.py", "no such text", "x",
                  ("kernels/lazy-mlp-kernel-dynamics",))
    with pytest.raises(ValueError, match="occurs 0 times"):
        mh.check_applies(m)


def test_the_harness_kills_a_planted_bug_and_passes_clean_code():
    """A known answer: the kernel dynamics without the loss's factor 2 (half speed) must fail
    kernels/lazy-mlp-kernel-dynamics, which passes on the unmutated copy."""
    m = next(m for m in MUTANTS if m.name == "kernels/loss-factor-2-dropped")
    clean, _, err = mh.run_claims(m.claims)
    assert clean == {"kernels/lazy-mlp-kernel-dynamics": "pass"}, err
    mutated, _, err = mh.run_claims(m.claims, m)
    assert mutated == {"kernels/lazy-mlp-kernel-dynamics": "fail"}, err


@pytest.mark.slow
def test_every_mutant_is_killed():
    assert mh.main([]) == 0
