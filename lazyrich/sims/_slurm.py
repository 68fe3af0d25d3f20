r"""Sweeps as Slurm job arrays, through submitit (an optional dependency).

:func:`submit_sweep` cuts a sweep into N shards (:func:`~lazyrich.sims.shard_cells`), submits
them as one job array, requeues preempted or failed tasks, and merges the shard files into the
result. On a cluster (``pip install lazyrich[slurm]``)::

    import numpy as np
    from lazyrich import sims

    cfg = sims.SweepConfig(model="mlp", width=1024, task="single-index", num_steps=20_000)
    ds = sims.submit_sweep(cfg, path="scan.nc", shards=16,
                           slurm_options={"partition": "gpu", "time": 60, "gpus_per_node": 1},
                           gamma=np.logspace(-2, 2, 17), eta=[0.01, 0.1], seeds=range(8))

or from the shell (``--no-wait`` submits and returns: once the jobs have finished, rerun
without it to merge)::

    lazyrich sweep --config scan.toml --out scan.nc --slurm --slurm-option partition=gpu \
        --slurm-option time=60 --shards 16

Task ``i`` runs ``sims.sweep(cfg, path="scan.shard-i-of-16.nc", shard="i/16", **grid)``, the
file ``lazyrich sweep --shard i/16 --out scan.nc`` writes, so shards can also be run or merged
by hand (``lazyrich merge``). The submitting process waits (``wait=True``), resubmits a task
that failed (an exception, a node failure, a kill) up to ``max_requeues`` times, merges the N
files into ``path`` with :func:`~lazyrich.sims.merge` and deletes them; submitit's logs stay in
``folder`` (default ``path + ".slurm-logs"``).

**Preemption and time limits.** Each task is a submitit checkpointable callable: when Slurm
preempts it or its time limit nears, submitit's signal (``USR2``, ``signal_delay_s`` before the
end) makes it requeue itself (``scontrol requeue``; at most ``max_num_timeout`` times, 3 by
default, for time limits). A requeued or resubmitted task resumes from its shard's finished
chunks (``<shard file>.parts``, written atomically after each compiled chunk), so it loses at
most the chunk it was computing; a finished shard file is never recomputed, and calling
``submit_sweep`` again after a crash of the submitting process submits only the shards whose
files are missing (let the old jobs finish or cancel them first: a shard run twice at once only
wastes work). ``memory_budget``/``chunk_size`` bound the work lost.

Without Slurm, ``executor=None`` falls back to submitit's local executor (every shard a local
process); tests pass ``submitit.LocalExecutor`` or ``submitit.DebugExecutor``. On several hosts
without a scheduler, launch ``sims.sweep`` under ``jax.distributed`` instead: each process runs
its own slice and process 0 merges.
"""

import os
import time
import warnings

from ._sweep import _check_path, make_grid, merge, shard_path, sweep

#: Options of ``sims.sweep`` that are not grid axes (passed to every task as they are).
_RUN_OPTIONS = ("chunk_size", "memory_budget", "devices", "metrics", "progress")

#: Test-only: ``hook(task)`` is called in the job at the start of every attempt (pickled with
#: each task when it is submitted). Never set outside tests.
_task_hook = None


def _submitit():
    try:
        import submitit
    except ImportError as e:
        raise ImportError("submit_sweep needs submitit, an optional dependency: "
                          "pip install submitit (or pip install lazyrich[slurm])") from e
    return submitit


def _why(err) -> str:
    """The last line of a job's error (its exception, out of submitit's framed traceback)."""
    text = str(err)
    framed = text.split("-" * 22)
    if len(framed) >= 3:  # FailedJobError: "...trace:\n-----\n<traceback>\n-----\nYou can..."
        text = framed[1]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().strip("-")]
    return lines[-1] if lines else type(err).__name__


class _ShardTask:
    """One array task: ``sweep`` on one shard, writing its shard file. Checkpointable: on
    preemption/timeout submitit calls :meth:`checkpoint` and requeues the returned submission,
    which resumes from the shard's finished chunks."""

    def __init__(self, cfg, path, shard, kwargs, hook=None):
        self.cfg = cfg
        self.path = path  # the shard file
        self.shard = shard  # "i/N"
        self.kwargs = kwargs
        self.hook = hook
        self.resubmission = 0  # set by the submitting process when it resubmits a failed task
        self.preemptions = 0  # counted in the job, by checkpoint()

    def __call__(self):
        if self.hook is not None:
            self.hook(self)
        ds = sweep(self.cfg, path=self.path, shard=self.shard, **self.kwargs)
        return {"shard": self.shard, "path": self.path, "cells": int(ds.sizes["cell"]),
                "preemptions": self.preemptions, "resubmission": self.resubmission}

    def checkpoint(self, *args, **kwargs):
        from submitit.helpers import DelayedSubmission

        self.preemptions += 1
        return DelayedSubmission(self, *args, **kwargs)

    def __repr__(self):
        return f"lazyrich sweep shard {self.shard} -> {self.path}"


class SlurmSweep:
    """A submitted sweep: ``jobs`` (the submitit jobs, one per submitted shard, in the order of
    ``shards``; a resubmission replaces its entry), :meth:`status`, :meth:`wait`, :meth:`cancel`.
    ``resubmissions`` and ``preemptions`` count, per shard, the resubmissions after failures and
    the requeues after preemption/timeout (of the attempt that finished)."""

    def __init__(self, executor, cfg, path, kwargs, n_shards, tasks, jobs, max_requeues,
                 folder):
        self.executor = executor
        self.path = path
        self.folder = folder
        self.max_requeues = max_requeues
        self.shards = [t.shard for t in tasks]
        self.jobs = list(jobs)
        self.resubmissions = {s: 0 for s in self.shards}
        self.preemptions = {}
        self.poll_s = 0.5 if _is_local(executor) else 15.0
        self._cfg, self._kwargs, self._n = cfg, kwargs, n_shards
        self._tasks = list(tasks)
        self._done = set()
        self._result = None

    def __repr__(self):
        return (f"SlurmSweep({self.path!r}: {self._n} shards, {len(self.jobs)} submitted, "
                f"{len(self._done)} finished)")

    def status(self) -> dict:
        """``{"i/N": {"job_id", "state", "resubmissions", "log"}}`` for the submitted shards
        (``state`` as submitit reports it; ``"finished"`` once its shard file is written)."""
        out = {}
        for k, (shard, job, task) in enumerate(zip(self.shards, self.jobs, self._tasks,
                                                   strict=True)):
            finished = k in self._done or os.path.exists(task.path)
            state = "finished" if finished else str(job.state)
            out[shard] = {"job_id": job.job_id, "state": state,
                          "resubmissions": self.resubmissions[shard],
                          "log": str(job.paths.stderr)}
        return out

    def cancel(self) -> None:
        """Cancel the unfinished jobs (finished chunks and shard files are kept)."""
        for k, job in enumerate(self.jobs):
            if k not in self._done:
                job.cancel(check=False)

    def wait(self):
        """Wait for every shard, resubmitting a failed one up to ``max_requeues`` times (with a
        ``RuntimeWarning`` naming it), merge the shard files into ``path`` and return the
        dataset (as ``sims.sweep(cfg, path=path, ...)`` would)."""
        if self._result is not None:
            return self._result
        pending = [k for k in range(len(self.jobs)) if k not in self._done]
        while pending:
            failed = []
            for k in pending:
                job = self.jobs[k]
                if not job.done():
                    continue
                err = job.exception()
                if err is None:
                    info = job.result()
                    self.preemptions[self.shards[k]] = int(info.get("preemptions", 0))
                    self._done.add(k)
                else:
                    failed.append((k, err))
            for k, err in failed:
                self._resubmit_or_raise(k, err)
            pending = [k for k in pending if k not in self._done]
            if pending:
                time.sleep(self.poll_s)
        self._result = self._merge()
        return self._result

    def _resubmit_or_raise(self, k, err):
        shard, job, task = self.shards[k], self.jobs[k], self._tasks[k]
        n = self.resubmissions[shard]
        why = _why(err)
        log = job.paths.stderr
        if n >= self.max_requeues:
            raise RuntimeError(
                f"shard {shard} of the sweep to {self.path!r} failed {n + 1} time(s) (max_requeues"
                f"={self.max_requeues} resubmissions): {why}. Log: {log} (stdout: "
                f"{job.paths.stdout}). Other shards are not cancelled and finished shard files "
                f"are kept: fix the cause and call submit_sweep again to run only the missing "
                f"shards")
        warnings.warn(f"shard {shard} of the sweep to {self.path!r} failed ({why}; log: {log}); "
                      f"resubmitting it ({n + 1} of max_requeues={self.max_requeues})",
                      RuntimeWarning, stacklevel=3)
        task.resubmission = n + 1
        self.resubmissions[shard] = n + 1
        self.jobs[k] = self.executor.submit(task)

    def _merge(self):
        if os.path.exists(self.path):  # merged before (or by an earlier run)
            return sweep(self._cfg, path=self.path, **self._kwargs)
        parts = [shard_path(self.path, (i, self._n)) for i in range(self._n)]
        ds = merge(parts, out=self.path)
        for p in parts:
            os.remove(p)
        return ds


def _is_local(executor) -> bool:
    name = type(executor).__name__
    if name == "AutoExecutor":
        return getattr(executor, "cluster", "") in ("local", "debug")
    return name in ("LocalExecutor", "DebugExecutor")


def _make_executor(submitit, executor, slurm_options, folder, path):
    """The executor, with ``slurm_options`` applied (bare Slurm names such as ``partition`` or
    ``time`` are prefixed ``slurm_`` for an ``AutoExecutor``); submitit's own complaint about an
    option becomes a ``ValueError`` naming it."""
    if slurm_options is None:
        slurm_options = {}
    if not isinstance(slurm_options, dict) or not all(isinstance(k, str) for k in slurm_options):
        raise ValueError(f"slurm_options must be a dict of submitit update_parameters options "
                         f"(e.g. {{'partition': 'gpu', 'time': 60}}), got {slurm_options!r}")
    if executor is None:
        folder = path + ".slurm-logs" if folder is None else os.fspath(folder)
        executor = submitit.AutoExecutor(folder=folder)
        opts = {"name": "lazyrich-sweep"}
        known = ("slurm_", "local_", "debug_")
        generic = set(submitit.AutoExecutor._valid_parameters())
        for k, v in slurm_options.items():
            opts[k if k in generic or k.startswith(known) else "slurm_" + k] = v
    else:
        if folder is not None:
            raise ValueError("folder is used only when executor is None (an executor has its "
                             "own folder); give one or the other")
        if not hasattr(executor, "submit_array"):
            raise ValueError(f"executor must be a submitit executor (AutoExecutor, "
                             f"SlurmExecutor, LocalExecutor, DebugExecutor), got "
                             f"{type(executor).__name__}")
        opts = dict(slurm_options)
    try:
        executor.update_parameters(**opts)
    except (NameError, ValueError, TypeError, AssertionError) as e:
        raise ValueError(f"slurm_options {slurm_options!r}: submitit rejects them: "
                         f"{' '.join(str(e).split())}") from None
    return executor


def submit_sweep(cfg, *, path=None, shards=None, executor=None, slurm_options=None, folder=None,
                 wait=True, max_requeues=3, **grid):
    r"""Run ``sims.sweep(cfg, path=path, **grid)`` as a Slurm job array of ``shards`` tasks.

    Args:
        cfg: the :class:`SweepConfig`.
        path: the merged netCDF file (required). Shard ``i`` writes
            ``<path without .nc>.shard-i-of-N.nc``, merged into ``path`` and deleted at the end.
        shards: number of array tasks N >= 1 (each runs one contiguous slice of cells).
        executor: a submitit executor; default ``submitit.AutoExecutor(folder=folder)``
            (Slurm when ``srun`` is found, else local processes).
        slurm_options: ``executor.update_parameters`` options, e.g. ``{"partition": "gpu",
            "time": 60, "gpus_per_node": 1, "mem_gb": 32, "array_parallelism": 64}``; for the
            default executor, Slurm names are prefixed ``slurm_`` for you.
        folder: submitit's folder (logs, pickles), default ``path + ".slurm-logs"``.
        wait: wait, resubmit failures, merge and return the dataset; ``False`` returns a
            :class:`SlurmSweep` handle at once (its ``wait()`` does the rest).
        max_requeues: resubmissions of a task that failed (exception, node failure, kill)
            before giving up with a ``RuntimeError`` naming the shard and its log. Preemption
            requeues are submitit's and do not count.
        **grid: the grid and options of :func:`~lazyrich.sims.sweep` (``gamma``, ``eta`` or
            ``eta_hat``, ``seeds``, sweepable fields, shape axes, ``chunk_size``,
            ``memory_budget``, ``devices``, ``metrics``, ``progress``), passed to every task.

    Returns:
        The merged dataset (``wait=True``; identical to ``sims.sweep`` run directly) or the
        :class:`SlurmSweep` handle. When ``path`` exists already, its content (checked to
        belong to this sweep) without submitting anything; shard files that exist are checked
        and not resubmitted.

    See the module docstring (:mod:`lazyrich.sims._slurm`) for the cluster commands and how
    preemption and resuming work.
    """
    if path is None:
        raise ValueError("path is required: the file the shards are merged into (e.g. "
                         "'scan.nc'); each task writes its shard file next to it")
    path = _check_path("path", path)
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise ValueError(f"shards must be a positive integer (the number of array tasks), got "
                         f"{shards!r}")
    if isinstance(max_requeues, bool) or not isinstance(max_requeues, int) or max_requeues < 0:
        raise ValueError(f"max_requeues must be an integer >= 0 (resubmissions of a failed "
                         f"task), got {max_requeues!r}")
    if "shard" in grid:
        raise ValueError("shard is set by submit_sweep for each task (i/shards); remove it")
    submitit = _submitit()
    # the grid is checked here, before anything reaches the cluster
    make_grid(cfg, **{k: v for k, v in grid.items() if k not in _RUN_OPTIONS})
    executor = _make_executor(submitit, executor, slurm_options, folder, path)
    folder = str(getattr(executor, "folder", folder))

    if os.path.exists(path):
        tasks, jobs = [], []
    else:
        tasks = []
        for i in range(shards):
            task = _ShardTask(cfg, shard_path(path, (i, shards)), f"{i}/{shards}", dict(grid),
                              _task_hook)
            if os.path.exists(task.path):  # finished by an earlier run: check it is ours
                sweep(cfg, path=task.path, shard=task.shard, **grid)
                continue
            tasks.append(task)
        jobs = executor.submit_array(tasks) if tasks else []
    handle = SlurmSweep(executor, cfg, path, dict(grid), shards, tasks, jobs, max_requeues,
                        folder)
    return handle.wait() if wait else handle
