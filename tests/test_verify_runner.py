"""The claim registry, runner, CLI and report (the machinery behind `lazyrich verify`)."""

import json
import os

import numpy as np
import pytest

from lazyrich import cli
from lazyrich.verify import Outcome, Plot, Series, claim, format_table, run_claims, select
from lazyrich.verify._claim import _REGISTRY, Claim


def _mk(name, fn, tier="cpu"):
    return Claim(name, "s", "m", "w", "spec", tier, fn)


def test_outcome_constructors():
    assert Outcome.error_below(1e-10, 1e-9).passed
    assert not Outcome.error_below(1e-8, 1e-9).passed
    assert not Outcome.error_below(float("nan"), 1.0).passed  # NaN never passes
    assert Outcome.close_to(2.0, 2.01, rtol=0.01).passed
    assert not Outcome.close_to(2.0, 2.05, rtol=0.01).passed
    assert Outcome.in_range(0.5, 0.0, 1.0).passed
    assert not Outcome.in_range(1.5, 0.0, 1.0).passed


def test_series_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="x has 3 points but y has 2"):
        Series([1, 2, 3], [1, 2], "bad")


def test_runner_records_fail_error_and_skip():
    def boom(quick):
        raise RuntimeError("kaput")

    claims = [_mk("t/ok", lambda q: Outcome.error_below(0.0, 1.0)),
              _mk("t/bad", lambda q: Outcome.error_below(2.0, 1.0)),
              _mk("t/boom", boom), _mk("t/gpu", lambda q: Outcome.error_below(0, 1), tier="gpu")]
    res = run_claims(claims, progress=False)
    assert [r.status for r in res] == ["pass", "fail", "error", "skip"]
    assert "kaput" in res[2].error
    table = format_table(res)
    assert "1 passed, 2 failed, 1 skipped" in table


def test_select_prefix_glob_and_unknown():
    reg = {n: _mk(n, None) for n in ["linear/C1", "linear/C2", "gamma/C1"]}
    assert [c.name for c in select(reg, ["linear/"])] == ["linear/C1", "linear/C2"]
    assert [c.name for c in select(reg, ["*/C1"])] == ["gamma/C1", "linear/C1"]
    with pytest.raises(ValueError, match="no claim matches 'nope'"):
        select(reg, ["nope"])


def test_claim_name_must_have_area():
    with pytest.raises(ValueError, match="area/short-name"):
        claim("noarea", statement="", measure="", why="")


def test_cli_json_list_and_report(tmp_path, capsys, monkeypatch):
    x = np.linspace(0, 1, 5)

    @claim("zz-test/demo", statement="y = x", measure="max |y - x|", why="exact")
    def _demo(quick):
        plot = Plot([Series(x, x, "theory"), Series(x, x, "sim", kind="sim")], xlabel="x")
        details = {"n": 5, "list": [1.0, 2.5], "nested": [[1, 2], [3]], "flag": True, "none": None}
        return Outcome.error_below(0.0, 1e-12, plot=plot, details=details)

    try:
        assert cli.main(["verify", "zz-test/", "--list"]) == 0
        assert "zz-test/demo" in capsys.readouterr().out
        rc = cli.main(["verify", "zz-test/", "--json", "--no-progress",
                       "--report", str(tmp_path)])
        assert rc == 0
        data = json.loads(capsys.readouterr().out)
        assert data[0]["claim"] == "zz-test/demo" and data[0]["status"] == "pass"
        assert os.path.exists(tmp_path / "figures" / "zz-test_demo.png")
        md = (tmp_path / "index.md").read_text()
        assert "zz-test/demo" in md and "[1, 2.5]" in md and "[[1, 2], [3]]" in md
        assert "<img" in (tmp_path / "index.html").read_text()
        assert cli.main(["verify", "no-such-area/"]) == 2
        # a claim without a Plot still gets a figure (measured vs tolerance)
        claim("zz-test/noplot", statement="e small", measure="e", why="round-off")(
            lambda quick: Outcome.error_below(1e-13, 1e-12))
        assert cli.main(["verify", "zz-test/noplot", "--no-progress", "--report",
                         str(tmp_path)]) == 0
        assert (tmp_path / "figures" / "zz-test_noplot.png").exists()
    finally:
        _REGISTRY.pop("zz-test/demo", None)
        _REGISTRY.pop("zz-test/noplot", None)


def test_source_is_recorded_and_spec_is_its_old_name():
    """``source=`` is stored and reported; ``spec=`` still works for one release, with a
    DeprecationWarning, and giving both is an error."""
    from lazyrich.verify import _claim

    try:
        claim("zz-test/src", statement="s", measure="m", why="w", source="Paper 2025")(
            lambda q: Outcome.error_below(0.0, 1.0))
        assert _claim._REGISTRY["zz-test/src"].source == "Paper 2025"
        with pytest.warns(DeprecationWarning, match="source="):
            claim("zz-test/old", statement="s", measure="m", why="w", spec="Old 2020")(
                lambda q: Outcome.error_below(0.0, 1.0))
        assert _claim._REGISTRY["zz-test/old"].source == "Old 2020"
        assert _claim._REGISTRY["zz-test/old"].spec == "Old 2020"
        with pytest.raises(TypeError, match="source= only"):
            claim("zz-test/both", statement="s", measure="m", why="w", source="a", spec="b")
    finally:
        for n in ("zz-test/src", "zz-test/old"):
            _claim._REGISTRY.pop(n, None)


def test_reference_is_reported_next_to_predicted_and_measured(tmp_path, capsys):
    """``reference=`` reaches the JSON, the Markdown summary table (its own column, between the
    claim and the prediction) and each claim's section, in Markdown and HTML."""
    try:
        claim("zz-test/ref", statement="s", measure="m", why="w",
              reference="DOP853 at rtol 1e-13 <x>")(lambda q: Outcome.error_below(0.0, 1.0))
        assert cli.main(["verify", "zz-test/ref", "--json", "--no-progress",
                         "--report", str(tmp_path)]) == 0
        assert json.loads(capsys.readouterr().out)[0]["reference"] == "DOP853 at rtol 1e-13 <x>"
        md = (tmp_path / "index.md").read_text()
        assert "| claim | reference | predicted | measured |" in md
        row = next(ln for ln in md.splitlines() if ln.startswith("| [zz-test/ref]"))
        assert row.split(" | ")[1] == "DOP853 at rtol 1e-13 &lt;x&gt;"  # escaped outside text
        assert "**Reference.** DOP853 at rtol 1e-13 &lt;x&gt;" in md
        page = (tmp_path / "index.html").read_text()
        assert "<th>reference</th>" in page and "<td>DOP853 at rtol 1e-13 &lt;x&gt;</td>" in page
        with pytest.raises(TypeError, match="reference must be a string"):
            claim("zz-test/bad", statement="s", measure="m", why="w", reference=1.0)
    finally:
        _REGISTRY.pop("zz-test/ref", None)


def test_every_toolkit_claim_names_its_reference():
    """Each of the toolkit's claims says what it is checked against, in words that are not just
    its source (the papers the prediction comes from)."""
    from lazyrich.verify import load_claims

    claims = {n: c for n, c in load_claims().items() if not n.startswith("zz-test/")}
    assert len(claims) >= 70
    missing = [n for n, c in claims.items() if len(c.reference.strip()) < 15]
    assert not missing, f"claims without a reference: {missing}"
    same = [n for n, c in claims.items() if c.reference.strip() == c.source.strip()]
    assert not same, f"reference repeats the source: {same}"
