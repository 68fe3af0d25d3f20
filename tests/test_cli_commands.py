"""The ``lazyrich`` commands as a researcher runs them: ``sweep --help`` lists the valid values of
every choice option (from the library's own tuples) and refuses others in one line;
``--version``; the configs in ``examples/`` run end to end (at a tiny size); the progress bar
follows the terminal unless forced; ``plot phase-map`` and ``plot curves`` write figures of a
finished sweep, and refuse bad input in one line naming the argument (exit status 2)."""

import json
import os
import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pytest
import xarray as xr

import lazyrich
from lazyrich import sims
from lazyrich.cli import main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(REPO, "examples")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# -- 1. choice options -----------------------------------------------------------------------

#: option -> its valid values, read from the library
CHOICES = {"--task": sims.TASKS, "--optimizer": sims.OPTIMIZERS,
           "--parametrization": sims.PARAMETRIZATIONS, "--activation": sims.activation_names(),
           "--trainable": sims.TRAINABLE, "--model": sims.MODELS, "--dtype": sims.DTYPES,
           "--loss": sims.LOSSES, "--padding": sims.PADDINGS}


def _valid(option):
    return tuple(CHOICES[option])


@pytest.fixture(scope="module")
def sweep_help():
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["sweep", "--help"]) == 0
    return " ".join(buf.getvalue().split())


@pytest.mark.parametrize("option", list(CHOICES))
def test_help_lists_every_valid_value(sweep_help, option):
    valid = _valid(option)
    m = re.search(rf"{option} [A-Z_]+ one of: (.*?) \(default ", sweep_help)
    assert m, f"{option} lists no values in: {sweep_help}"
    assert tuple(m.group(1).split(", ")) == valid


@pytest.mark.parametrize("option", list(CHOICES))
def test_an_invalid_value_is_one_usage_line_naming_the_valid_ones(tmp_path, capsys, option):
    valid = _valid(option)
    status = main(["sweep", "--out", str(tmp_path / "x.nc"), option, "no-such-value"])
    err = capsys.readouterr().err
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"lazyrich sweep: argument {option}: invalid choice: "
                               f"'no-such-value'"), err
    assert all(repr(v) in lines[0] for v in valid), err
    assert not os.path.exists(tmp_path / "x.nc")


# -- 2. version ------------------------------------------------------------------------------

def test_version(capsys):
    try:
        expected = version("lazyrich")
    except PackageNotFoundError:  # a source tree that was not installed
        expected = lazyrich.__version__
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"lazyrich {expected}\n"


@pytest.mark.parametrize("before, after", [
    (None, "--xla_backend_optimization_level=1"),
    ("--xla_cpu_foo=1", "--xla_cpu_foo=1 --xla_backend_optimization_level=1"),
    ("--xla_backend_optimization_level=3", "--xla_backend_optimization_level=3"),  # user's own
])
def test_verify_compiles_at_llvm_O1_unless_told_otherwise(monkeypatch, before, after):
    from lazyrich.cli import _quick_compile

    if before is None:
        monkeypatch.delenv("XLA_FLAGS", raising=False)
    else:
        monkeypatch.setenv("XLA_FLAGS", before)
    _quick_compile()
    assert os.environ["XLA_FLAGS"] == after


# -- 3. the examples, end to end at a tiny size ----------------------------------------------

#: Size overrides only (width, steps, logging, batch, grid subsets of the file's own values);
#: every other field is the file's.
SMALL = ["--width", "4", "--num-steps", "8", "--log-points", "4"]
EXAMPLE_FILES = ("phase_map", "lazy_limit", "convnet_digits")


def _tiny_grid(grid):
    """The file's own grid values, at most two per axis and one seed."""
    argv = []
    for key, flag in (("gamma", "--gamma"), ("eta", "--eta"), ("eta_hat", "--eta-hat")):
        if key in grid:
            argv += [flag, *(str(v) for v in dict.fromkeys((grid[key][0], grid[key][-1])))]
    return argv + ["--seeds", str(grid["seeds"][0])]


def _example_argv(name: str, out: str) -> tuple[dict, list]:
    """The file's config (parsed) and the command that runs it at a tiny size into ``out``."""
    path = os.path.join(EXAMPLES, f"{name}.toml")
    with open(path, "rb") as f:
        spec = tomllib.load(f)
    extra = ["--batch-size", "8"] if "batch_size" in spec else []
    return spec, ["sweep", "--config", path, "--out", out, *SMALL, *extra,
                  *_tiny_grid(spec["grid"])]


@pytest.fixture(scope="module")
def example_runs(tmp_path_factory):
    """Each example file, run once through the CLI at a tiny size: {name: (toml, dataset)}."""
    out, cache = tmp_path_factory.mktemp("examples"), {}

    def run(name):
        if name not in cache:
            nc = str(out / f"{name}.nc")
            spec, argv = _example_argv(name, nc)
            assert main([*argv, "--no-progress"]) == 0
            cache[name] = (spec, nc, xr.open_dataset(nc, engine="h5netcdf").load())
        return cache[name]

    return run


def test_the_examples_are_the_three_documented_configs():
    assert sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".toml")) == sorted(
        f"{n}.toml" for n in EXAMPLE_FILES)
    for name in EXAMPLE_FILES:
        with open(os.path.join(EXAMPLES, f"{name}.toml")) as f:
            text = f.read()
        header = text.split("\n\n")[0]
        assert header.startswith("# ") and "Shows:" in text, name
        assert f"lazyrich sweep --config examples/{name}.toml --out" in text, name
        assert "lazyrich plot " in text, name


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_example_runs_end_to_end(example_runs, name):
    spec, _, ds = example_runs(name)
    grid = spec["grid"]
    e = "eta_hat" if "eta_hat" in grid else "eta"
    assert ds["loss"].dims == ("gamma", e, "seed", "step")
    np.testing.assert_allclose(ds["gamma"].values, sorted({grid["gamma"][0], grid["gamma"][-1]}))
    np.testing.assert_allclose(ds[e].values, sorted({grid[e][0], grid[e][-1]}))
    assert ds["seed"].values.tolist() == [grid["seeds"][0]]
    assert ds["step"].values[-1] == 8 and ds.sizes["step"] >= 4
    assert set(ds["diverged"].dims) == {"gamma", e, "seed"}
    # the run is the file's config: every field it sets, except the sizes overridden above
    config = json.loads(ds.attrs["config"])
    for key, value in spec.items():
        if key in ("grid", "width", "num_steps", "log_points", "batch_size"):
            continue
        assert config[key] == value, (name, key)
    assert config["width"] == 4 and config["num_steps"] == 8
    if spec.get("loss") == "xent":
        assert "accuracy" in ds
    if spec.get("dtype") == "float64":
        assert ds.attrs["dtype"] == "float64" and ds["loss"].dtype == np.float64


# -- 4. progress bar -------------------------------------------------------------------------

BAR = re.compile(r"sweep: +100%\|.*\| *4/4 ")  # the phase-map example's 4 tiny cells


@pytest.mark.parametrize("flag, tty, bar", [("--progress", False, True),
                                            ("--no-progress", True, False),
                                            (None, True, True),
                                            (None, False, False)],
                         ids=["forced-on", "forced-off-on-a-terminal", "terminal", "pipe"])
def test_progress_bar(tmp_path, capsys, monkeypatch, flag, tty, bar):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty)  # capsys's stream, as the CLI sees it
    _, argv = _example_argv("phase_map", str(tmp_path / "p.nc"))  # compiled once for the file
    assert main(argv + ([flag] if flag else [])) == 0
    err = capsys.readouterr().err
    assert bool(BAR.search(err)) == bar, err
    assert ("%|" in err) == bar, err


def test_progress_flags_exclude_each_other(capsys):
    for cmd in (["verify", "--list"], ["sweep", "--out", "x.nc"]):
        assert main([*cmd, "--progress", "--no-progress"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "not allowed with argument --progress" in err[0], err


# -- 5. plots --------------------------------------------------------------------------------

def _is_png(path):
    with open(path, "rb") as f:
        head = f.read(8)
    return head == PNG_MAGIC and os.path.getsize(path) > 1000


@pytest.mark.parametrize("argv", [["phase-map"], ["phase-map", "--metric", "loss"],
                                  ["curves"], ["curves", "--gamma", "{g}"],
                                  ["curves", "--metric", "loss", "--gamma", "{g}"]],
                         ids=["phase-map", "phase-map-loss", "curves", "curves-gamma",
                              "curves-loss-gamma"])
def test_plot_writes_a_png(example_runs, tmp_path, capsys, argv):
    spec, nc, _ = example_runs("phase_map")
    capsys.readouterr()  # the fixture's own sweep output, when this test runs it first
    g = str(spec["grid"]["gamma"][-1])
    png = tmp_path / "sub" / "fig.png"  # the folder is created
    assert main(["plot", argv[0], nc, "-o", str(png),
                 *(a.replace("{g}", g) for a in argv[1:])]) == 0
    assert _is_png(png)
    assert capsys.readouterr().err.strip() == f"wrote {png}"


def test_plot_accuracy_curves_of_the_convnet(example_runs, tmp_path):
    _, nc, _ = example_runs("convnet_digits")
    assert main(["plot", "curves", nc, "-o", str(tmp_path / "acc.png"), "--metric",
                 "accuracy"]) == 0
    assert _is_png(tmp_path / "acc.png")


def test_plot_selects_a_further_grid_dimension(example_runs, tmp_path, capsys):
    """A sweep over one more axis (here width, added to a finished file) needs --select."""
    _, nc, ds = example_runs("phase_map")
    wide = ds.expand_dims(width=[4, 8])
    path = str(tmp_path / "wide.nc")
    wide.to_netcdf(path, engine="h5netcdf")
    png = tmp_path / "w.png"
    assert main(["plot", "phase-map", path, "-o", str(png)]) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(r"lazyrich plot phase-map: SCAN '.*wide.nc' also varies \{'width': "
                        r"\[4, 8\]\}; pick one value of each with --select width=VALUE\n", err)
    assert main(["plot", "phase-map", path, "-o", str(png), "--select", "width=8"]) == 0
    assert _is_png(png)


PLOT_ERRORS = [
    # (argv with {d} for a folder of bad inputs and {nc} for a finished sweep, stderr regex)
    (["phase-map", "{d}/missing.nc", "-o", "{d}/x.png"],
     r"SCAN '.*missing.nc' does not exist; expected a netCDF file written by 'lazyrich sweep'"),
    (["curves", "{d}", "-o", "{d}/x.png"], r"SCAN '.*' is a directory; expected a netCDF file"),
    (["phase-map", "{d}/junk.nc", "-o", "{d}/x.png"], r"SCAN.*junk.nc.* not a netCDF file"),
    (["curves", "{d}/foreign.nc", "-o", "{d}/x.png"],
     r"SCAN.*foreign.nc.* not written by a lazyrich sweep"),
    (["phase-map", "{nc}", "-o", "{d}/x.png", "--metric", "test_los"],
     r"--metric 'test_los': SCAN '.*' has no such logged variable; expected one of \['loss', "
     r"'test_loss'\]"),
    (["curves", "{nc}", "-o", "{d}/x.png", "--gamma", "3"],
     r"--gamma 3: not in the grid of SCAN '.*'; expected one of \[0.01, 100.0\]"),
    (["curves", "{nc}", "-o", "{d}", "--gamma", "3"],
     r"-o '.*' is a directory; expected an image path"),
    (["phase-map", "{nc}", "-o", "{d}/x.nc"],
     r"-o '.*x.nc': expected an image file name ending in one of \[.*'.png'"),
    (["phase-map", "{nc}", "-o", "{d}/x.png", "--select", "width=8"],
     r"--select width: not a further grid dimension of SCAN '.*'; expected one of \[\]"),
]


@pytest.mark.parametrize("argv, match", PLOT_ERRORS,
                         ids=[f"{c[0][0]}{i}" for i, c in enumerate(PLOT_ERRORS)])
def test_plot_bad_input_exits_2_with_one_line(example_runs, tmp_path, capsys, argv, match):
    _, nc, _ = example_runs("phase_map")
    (tmp_path / "junk.nc").write_bytes(b"not netcdf")
    xr.Dataset({"a": ("x", np.arange(3.0))}).to_netcdf(tmp_path / "foreign.nc",
                                                       engine="h5netcdf")
    status = main(["plot", *(a.replace("{d}", str(tmp_path)).replace("{nc}", nc)
                             for a in argv)])
    err = capsys.readouterr().err
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"lazyrich plot {argv[0]}: "), err
    assert re.search(match, lines[0]), lines[0]
    assert not os.path.exists(tmp_path / "x.png")


def test_plot_phase_map_of_accuracy_is_refused(example_runs, tmp_path, capsys):
    """Accuracy is logged but is not a loss: the phase map (lowest final loss) refuses it."""
    _, nc, _ = example_runs("convnet_digits")
    assert main(["plot", "phase-map", nc, "-o", str(tmp_path / "x.png"), "--metric",
                 "accuracy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(r"--metric 'accuracy': .*must be a loss", err[0]), err
