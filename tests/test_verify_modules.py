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
           source="Euler")
    def _series(quick: bool) -> Outcome:
        err = abs(sum(1.0 / math.factorial(k) for k in range(20)) - math.e)
        return Outcome.error_below(err, 1e-15)


    @claim("mine/planted-bug", statement="a claim that must fail", measure="2 vs 1",
           why="a planted error", source="none")
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


def test_jobs_run_claims_in_worker_processes_with_the_serial_results(user_module, capsys,
                                                                      tmp_path):
    """``--jobs 2``: the claims run in spawned workers that import the user's module by name;
    the JSON is the serial run's (same order, statuses and numbers), an exception in a worker is
    an ``error`` result, and a bad ``--jobs`` is a one-line usage error."""
    extra = tmp_path / "labclaims_test" / "broken.py"
    extra.write_text(textwrap.dedent('''
        from lazyrich.verify import claim


        @claim("mine/raises", statement="s", measure="m", why="w", source="none")
        def _raises(quick: bool):
            raise RuntimeError("planted failure")
    '''))
    runs = []
    for jobs in ("1", "2"):
        code = main(["verify", "--module", user_module, "--module", "labclaims_test.broken",
                     "mine/", "--json", "--no-progress", "--jobs", jobs])
        assert code == 1
        runs.append([{k: v for k, v in r.items() if k != "seconds"}
                     for r in json.loads(capsys.readouterr().out)])
    assert runs[0] == runs[1]
    assert [(r["claim"], r["status"]) for r in runs[1]] == [
        ("mine/exp-series", "pass"), ("mine/planted-bug", "fail"), ("mine/raises", "error")]
    assert "planted failure" in runs[1][2]["error"]
    assert main(["verify", "--jobs", "0", "--list"]) == 2
    assert "expected a positive integer number of worker processes, got '0'" in (
        capsys.readouterr().err)
