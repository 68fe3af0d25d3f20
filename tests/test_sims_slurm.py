"""Sweeps as job arrays through submitit (lazyrich.sims._slurm): end to end with submitit's
LocalExecutor (every task a subprocess, the way a Slurm array task runs), preemption requeue,
resubmission of failed tasks, giving up, bad input.

Failures and preemptions are injected through the module's test-only ``_task_hook``, pickled by
value with each task and run in the job at the start of every attempt."""

import ast
import os
import pathlib
import sys
import time
import warnings

import numpy as np
import pytest

from lazyrich import sims
from lazyrich.sims import _slurm
from lazyrich.sims._slurm import submit_sweep

submitit = pytest.importorskip("submitit")
import cloudpickle  # noqa: E402  (a dependency of submitit)
from submitit.core.job_environment import JobEnvironment  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the hooks below, for the jobs

CFG = sims.SweepConfig(model="mlp", depth=2, width=8, input_dim=4, task="single-index",
                       batch_size=8, num_steps=20, log_every=5, dtype="float64")
# 12 cells; 3 shards of 4 cells, 2 chunks each. The jobs see one CPU device: the reference
# uses one too, and the same chunk size (cells are independent computations, so a cell's values
# do not depend on its shard; the merged file must equal the direct run bit for bit).
GRID = dict(gamma=[0.1, 1.0, 10.0], eta=[0.05, 0.5], seeds=[0, 1], devices=1, chunk_size=2)


def _local_executor(folder):
    ex = submitit.LocalExecutor(folder=folder)
    # a long limit: submitit then treats the test's signal as a preemption, not a time-out
    ex.update_parameters(timeout_min=60)
    return ex


def _preempt_and_fail_once(task):
    """Shard 0/3: the first attempt finishes one chunk, then waits to be preempted; the requeued
    attempt records the finished chunks it starts from. Shard 1/3: the first submission fails."""
    import lazyrich.sims._sweep as sw

    if task.shard == "0/3" and task.preemptions == 0 and task.resubmission == 0:
        real = sw.write_atomic

        def write_then_wait(ds, path):
            real(ds, path)
            if ".parts" in path:  # a chunk is finished: tell the test who to preempt, and wait
                with open(task.path + ".test-started", "w") as f:
                    f.write(str(os.getpid()))
                time.sleep(90)

        sw.write_atomic = write_then_wait
    elif task.shard == "0/3":
        with open(task.path + ".test-resumed", "w") as f:
            f.write("\n".join(sorted(os.listdir(task.path + ".parts"))))
    if task.shard == "1/3" and task.resubmission == 0:
        raise RuntimeError("injected failure of shard 1/3")


def _always_fails(task):
    raise RuntimeError(f"shard {task.shard} is always broken")


def _assert_same(ds, ref):
    assert set(ds.data_vars) == set(ref.data_vars)
    assert set(ds.coords) == set(ref.coords)
    for name in list(ref.data_vars) + list(ref.coords):
        assert ds[name].dims == ref[name].dims, name
        assert ds[name].dtype == ref[name].dtype, name
        np.testing.assert_array_equal(ds[name].values, ref[name].values, err_msg=name)


@pytest.fixture(scope="module")
def reference():
    return sims.sweep(CFG, **GRID)


@pytest.fixture(scope="module")
def requeued(tmp_path_factory):
    """One LocalExecutor array of 3 shards: shard 0 preempted mid-run (after its first chunk),
    shard 1 failing on its first submission, shard 2 plain."""
    d = tmp_path_factory.mktemp("slurm")
    path = str(d / "scan.nc")
    mp = pytest.MonkeyPatch()
    mp.setattr(_slurm, "_task_hook", _preempt_and_fail_once)
    try:
        handle = submit_sweep(CFG, path=path, shards=3, executor=_local_executor(d / "logs"),
                              wait=False, **GRID)
    finally:
        mp.undo()
    started = d / "scan.shard-0-of-3.nc.test-started"
    deadline = time.time() + 120
    while not (started.exists() and started.read_text()):
        assert time.time() < deadline, (handle.status(), handle.jobs[0].stderr())
        assert handle.jobs[0].state == "RUNNING", handle.jobs[0].stderr()
        time.sleep(0.2)
    # the signal Slurm (or the local controller, near the time limit) sends to a task that is
    # preempted or about to time out: submitit checkpoints the task and requeues it
    os.kill(int(started.read_text()), JobEnvironment._usr_sig())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = handle.wait()
    return handle, ds, d, [str(w.message) for w in caught if w.category is RuntimeWarning]


def test_job_array_equals_direct_sweep(requeued, reference):
    handle, ds, d, _ = requeued
    _assert_same(ds, reference)
    _assert_same(sims.sweep(CFG, path=handle.path, **GRID), reference)  # the file, resumed as done
    left = sorted(p.name for p in d.iterdir() if p.name.startswith("scan.shard") and
                  not p.name.endswith(("test-started", "test-resumed")))
    assert left == []  # shard files (and their chunk folders) are gone once merged
    assert handle.jobs and all(s["state"] == "finished" for s in handle.status().values())


def test_preempted_task_is_requeued_and_keeps_its_finished_chunk(requeued):
    handle, _, d, _ = requeued
    assert handle.preemptions["0/3"] == 1  # requeued by submitit's checkpoint protocol ...
    assert handle.resubmissions["0/3"] == 0  # ... not resubmitted as a failure
    resumed = (d / "scan.shard-0-of-3.nc.test-resumed").read_text().split()
    # the chunk done before preemption (its name: first and last cell; the sweep orders cells
    # by initialisation, so the first chunk holds cell 0 and a later cell of the same seed)
    assert len(resumed) == 1 and resumed[0].startswith("cells-000000000-"), resumed


def test_failed_task_is_resubmitted_and_reported(requeued):
    handle, _, _, messages = requeued
    assert handle.resubmissions == {"0/3": 0, "1/3": 1, "2/3": 0}
    assert len(messages) == 1
    assert "shard 1/3" in messages[0] and "injected failure of shard 1/3" in messages[0]
    assert "resubmitting" in messages[0] and "log:" in messages[0]


def test_gives_up_after_max_requeues_naming_shard_and_log(tmp_path, monkeypatch):
    monkeypatch.setattr(_slurm, "_task_hook", _always_fails)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match=r"shard 0/1 .* failed 2 time\(s\) .*max_requeues=1"
                                               r".*always broken.*Log: ") as err:
            submit_sweep(CFG, path=str(tmp_path / "scan.nc"), shards=1, max_requeues=1,
                         executor=_local_executor(tmp_path / "logs"), **GRID)
    assert [str(w.message).startswith("shard 0/1") for w in caught] == [True]
    log = str(err.value).split("Log: ")[1].split(" (stdout")[0]
    assert "always broken" in pathlib.Path(log).read_text()
    assert not (tmp_path / "scan.nc").exists()


# submitit's DebugJob drops its log FileHandlers without closing them
@pytest.mark.filterwarnings("ignore::ResourceWarning",
                            "ignore::pytest.PytestUnraisableExceptionWarning")
def test_debug_executor_resumes_from_existing_files(tmp_path, reference):
    """In-process (DebugExecutor): a shard file already written is checked and not
    resubmitted; the merged result equals the direct run; a finished path submits nothing."""
    path = str(tmp_path / "scan.nc")
    sims.sweep(CFG, path=str(tmp_path / "scan.shard-0-of-2.nc"), shard="0/2", **GRID)
    ex = submitit.DebugExecutor(folder=tmp_path / "logs")
    handle = submit_sweep(CFG, path=path, shards=2, executor=ex, wait=False, **GRID)
    assert handle.shards == ["1/2"]
    _assert_same(handle.wait(), reference)
    assert sorted(os.listdir(tmp_path)) == ["logs", "scan.nc"]
    again = submit_sweep(CFG, path=path, shards=2, executor=ex, wait=False, **GRID)
    assert again.jobs == []
    _assert_same(again.wait(), reference)
    with pytest.raises(ValueError, match="different sweep"):  # a finished file of another grid
        submit_sweep(CFG, path=path, shards=2, executor=ex, **{**GRID, "seeds": [5]})


def test_bad_input(tmp_path):
    path = str(tmp_path / "scan.nc")
    ex = submitit.DebugExecutor(folder=tmp_path / "logs")
    with pytest.raises(ValueError, match="path is required"):
        submit_sweep(CFG, shards=2, executor=ex, **GRID)
    for bad in (None, 0, -1, 2.5, True, "4"):
        with pytest.raises(ValueError, match="shards must be a positive integer"):
            submit_sweep(CFG, path=path, shards=bad, executor=ex, **GRID)
    with pytest.raises(ValueError, match="max_requeues must be an integer >= 0"):
        submit_sweep(CFG, path=path, shards=2, executor=ex, max_requeues=-1, **GRID)
    with pytest.raises(ValueError, match="shard is set by submit_sweep"):
        submit_sweep(CFG, path=path, shards=2, executor=ex, shard="0/2", **GRID)
    with pytest.raises(ValueError, match="empty grid: gamma"):
        submit_sweep(CFG, path=path, shards=2, executor=ex, **{**GRID, "gamma": []})
    with pytest.raises(ValueError, match="slurm_options must be a dict"):
        submit_sweep(CFG, path=path, shards=2, executor=ex, slurm_options=["partition=gpu"],
                     **GRID)
    with pytest.raises(ValueError, match="folder is used only when executor is None"):
        submit_sweep(CFG, path=path, shards=2, executor=ex, folder=str(tmp_path), **GRID)
    with pytest.raises(ValueError, match="executor must be a submitit executor"):
        submit_sweep(CFG, path=path, shards=2, executor="slurm", **GRID)
    with pytest.raises(IsADirectoryError):
        submit_sweep(CFG, path=str(tmp_path), shards=2, executor=ex, **GRID)
    # the default executor (AutoExecutor; local here): submitit checks Slurm option names
    with pytest.raises(ValueError, match=r"slurm_options .*submitit rejects.*'partitionn'"):
        submit_sweep(CFG, path=path, shards=2, slurm_options={"partitionn": "gpu"}, **GRID)
    ok = _slurm._make_executor(submitit, None, {"partition": "gpu", "time": 60,
                                                "gpus_per_node": 1, "slurm_qos": "high"},
                               None, path)
    assert isinstance(ok, submitit.AutoExecutor) and str(ok.folder).endswith("scan.nc.slurm-logs")
    assert not os.path.exists(path)  # nothing was submitted


def test_submitit_is_optional(tmp_path, monkeypatch):
    """Importing the module needs no submitit (no top-level import); calling it without
    submitit says how to install it."""
    tree = ast.parse(pathlib.Path(_slurm.__file__).read_text())
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    names = [a.name for n in top for a in n.names] + [getattr(n, "module", None) or "" for n in top]
    assert not any("submitit" in n for n in names)
    monkeypatch.setitem(sys.modules, "submitit", None)
    with pytest.raises(ImportError, match=r"pip install submitit \(or pip install "
                                          r"lazyrich\[slurm\]\)"):
        submit_sweep(CFG, path=str(tmp_path / "scan.nc"), shards=2, **GRID)


def test_cli_slurm_runs_the_array_and_merges(tmp_path, capsys):
    """``lazyrich sweep --slurm --shards 2``: the shards run as one array (here submitit's
    local fallback: no Slurm on this machine), are merged into --out, and the file equals the
    sweep run directly (cells are independent: only the reduction order may differ, rtol 1e-10);
    the shard files are gone and ``--shards`` without ``--slurm`` is a usage error."""
    import xarray as xr

    from lazyrich.cli import main

    cfile = tmp_path / "c.toml"
    cfile.write_text('model = "mlp"\ndepth = 2\nwidth = 8\ninput_dim = 4\n'
                     'task = "single-index"\nbatch_size = 8\nnum_steps = 20\nlog_every = 5\n'
                     'dtype = "float64"\n[grid]\ngamma = [0.1, 10.0]\neta = [0.05]\n'
                     'seed = [0, 1]\n')
    out = str(tmp_path / "scan.nc")
    assert main(["sweep", "--config", str(cfile), "--out", out, "--slurm", "--shards", "2",
                 "--slurm-option", "timeout_min=10", "--no-progress"]) == 0, (
        capsys.readouterr().err)
    got = xr.open_dataset(out, engine="h5netcdf").load()
    ref = sims.sweep(CFG, gamma=[0.1, 10.0], eta=[0.05], seeds=[0, 1])
    xr.testing.assert_allclose(got[["loss", "test_loss"]], ref[["loss", "test_loss"]], rtol=1e-10)
    assert not list(tmp_path.glob("scan.shard-*"))
    assert main(["sweep", "--config", str(cfile), "--out", out, "--shards", "2"]) == 2
    assert "go with --slurm" in capsys.readouterr().err
