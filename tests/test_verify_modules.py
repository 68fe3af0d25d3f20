"""Researchers' own claims: a module of theirs registers claims with the public decorator and
`lazyrich verify --module` runs them beside (or instead of) the toolkit's, with the same table,
JSON and exit status. The toolkit's claims all live in `lazyrich.claims`."""

import json
import sys
import textwrap

import pytest

from lazyrich.cli import main
from lazyrich.verify import _claim

USER_MODULE = textwrap.dedent('''
    """A researcher's claims: a closed form checked against an independent computation."""
    import math

    from lazyrich.verify import Outcome, claim


    @claim("mine/exp-series", statement="exp(1) equals its Taylor series",
           measure="|sum_k 1/k! - e| for k < 20", why="truncation 1/20! ~ 4e-19, round-off 1e-16",
           spec="Euler")
    def _series(quick: bool) -> Outcome:
        err = abs(sum(1.0 / math.factorial(k) for k in range(20)) - math.e)
        return Outcome.error_below(err, 1e-15)


    @claim("mine/planted-bug", statement="a claim that must fail", measure="2 vs 1",
           why="a planted error", spec="none")
    def _bug(quick: bool) -> Outcome:
        return Outcome.error_below(1.0, 1e-3)
''')


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """Writes ``labclaims_test/claims.py`` on a temporary path; its claims are unregistered
    after the test."""
    pkg = tmp_path / "labclaims_test"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "claims.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "labclaims_test.claims"
    for name in [n for n in _claim._REGISTRY if n.startswith("mine/")]:
        del _claim._REGISTRY[name]
    for name in [m for m in sys.modules if m.startswith("labclaims_test")]:
        del sys.modules[name]


def test_module_claims_run_with_the_toolkit_machinery(user_module, capsys):
    assert main(["verify", "--module", user_module, "mine/exp-series", "--json",
                 "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["claim"] for r in out] == ["mine/exp-series"]
    assert out[0]["status"] == "pass" and out[0]["measured"] < 1e-15


def test_a_failing_user_claim_fails_verify(user_module, capsys):
    assert main(["verify", "--module", user_module, "mine/", "--no-progress"]) == 1
    table = capsys.readouterr().out
    assert "mine/planted-bug" in table and "FAIL" in table


def test_listing_shows_user_claims_beside_the_toolkits(user_module, capsys):
    assert main(["verify", "--module", user_module, "--list"]) == 0
    out = capsys.readouterr().out
    assert "mine/exp-series" in out and "linear/C1" in out and "capacity/" in out


def test_a_missing_module_is_a_one_line_error(capsys):
    assert main(["verify", "--module", "no_such_lab.claims", "--list"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "claim module 'no_such_lab.claims' was not found" in err[0]


def test_every_toolkit_claim_lives_in_lazyrich_claims():
    claims = _claim.load_claims()
    assert len(claims) >= 60
    where = {c.fn.__module__ for c in claims.values()}
    import lazyrich.claims

    assert where <= {f"lazyrich.claims.{a}" for a in lazyrich.claims.__all__}
    assert {c.name.split("/")[0] for c in claims.values()} <= set(lazyrich.claims.__all__)
