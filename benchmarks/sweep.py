"""Sweep engine vs a Python loop of jitted runs vs the field's usual eager PyTorch loop.

One 64-cell grid (4 γ × 4 η × 4 seeds) of an L = 3 bias-free ReLU MLP in the μP form of
docs: Conventions (N = 128, D = 16, B = 32, T = 1000 online SGD steps, single-index
teacher, test loss on 1024 points every 100 steps), float32, run three ways in this process:

1. ``lazyrich.sims.sweep``: one jit of vmap over all cells;
2. a Python loop over cells calling a jitted single-run ``lax.scan`` (the same cell function);
3. an eager PyTorch loop over cells and steps, logging ``loss.item()`` every step, as the
   authors' code does (torch is a benchmark-only extra), on one thread (its fastest setting
   here).

The engine shards cells over one XLA CPU device per core (``jax_num_cpu_devices``), which is
how it uses a multi-core CPU; the jitted loop runs one cell at a time.

Then the engine's achieved FLOP/s at N = 512 against a plain ``jnp.matmul`` (512×512×512)
measured here (the best of five rounds). FLOPs are counted analytically: per step and cell,
two forwards (θ and the centring θ₀) of 2B(DN + N² + NC), weight gradients of the same size,
and the input gradients of layers 2..L; plus one test-set forward per log point. Times
exclude compilation (each compiled function is run once before timing); the best of
``REPEATS`` runs is reported.

Usage: ``python benchmarks/sweep.py`` (``LAZYRICH_FAST=1``: T = 100; ``LAZYRICH_BENCH_SMOKE=1``:
an 8-cell grid of 20 steps, to test that it runs).
"""

import math
import os
import time

import jax

# The engine shards the cell axis over all local devices; on a CPU that means one XLA device
# per core (set before JAX starts). The jitted loop runs one cell at a time on one device.
jax.config.update("jax_num_cpu_devices", os.cpu_count() or 1)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from lazyrich import sims  # noqa: E402

FAST = os.environ.get("LAZYRICH_FAST") == "1"
SMOKE = os.environ.get("LAZYRICH_BENCH_SMOKE") == "1"  # benchmarks/gpu.sh --small: runs, no figures
L, N, D, B, T = 3, 128, 16, 32, (20 if SMOKE else 100 if FAST else 1000)
GAMMA = [0.1, 1.0, 10.0, 100.0][: 2 if SMOKE else 4]
ETA = [0.01, 0.03, 0.1, 0.3][: 2 if SMOKE else 4]
SEEDS = [0, 1, 2, 3][: 2 if SMOKE else 4]
LOG_EVERY = T // 10
N_TEST = 256 if SMOKE else 1024
REPEATS = 1 if FAST or SMOKE else 3


def cfg_for(width, steps):
    return sims.SweepConfig(model="mlp", depth=L, width=width, input_dim=D, task="single-index",
                            batch_size=B, num_steps=steps, log_every=steps // 10, dtype="float32",
                            task_options={"test_size": N_TEST})


def flops(width, steps, cells):
    fwd = 2 * B * (D * width + (L - 2) * width * width + width * 1)
    step = 3 * fwd + 2 * B * ((L - 2) * width * width + width * 1)
    test = 2 * N_TEST * (D * width + (L - 2) * width * width + width) * (steps // (steps // 10) + 1)
    return cells * (steps * step + test)


def best(fn, repeats=REPEATS):
    fn()  # warm-up / compile
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts)


def engine(cfg):
    def run():
        ds = sims.sweep(cfg, gamma=GAMMA, eta=ETA, seeds=SEEDS)
        return float(ds["loss"].values.sum())
    return run


def jitted_loop(cfg):
    eng = sims.Engine(cfg, "float32")
    fn = jax.jit(eng.run_cell)
    data = eng.data
    cells = [(g, e, s) for g in GAMMA for e in ETA for s in SEEDS]

    def run():
        out = []
        for g, e, s in cells:
            _, logs = fn(eng.cast_hyper({"gamma": g, "eta": e, "seed": s}), data)
            out.append(logs["loss"])
        return float(np.sum([np.asarray(o) for o in out]))
    return run


def torch_loop(device="cpu"):
    import torch

    torch.manual_seed(0)
    beta = torch.full((D,), 1.0 / math.sqrt(D), device=device)
    xt = torch.randn(N_TEST, D, device=device)
    zt = xt @ beta
    yt = (torch.tanh(2 * zt) + 0.5 * zt)[:, None]

    def one(gamma, eta, seed):
        g = torch.Generator(device=device).manual_seed(seed)
        dims = [D] + [N] * (L - 1) + [1]
        ws = [torch.randn(a, b, generator=g, device=device)
              for a, b in zip(dims[:-1], dims[1:], strict=True)]
        w0 = [w.clone() for w in ws]
        for w in ws:
            w.requires_grad_(True)

        def net(params, x):
            h = x
            for i, w in enumerate(params):
                if i > 0:
                    h = torch.relu(h)
                h = h @ w / (w.shape[0] if i == L - 1 else math.sqrt(w.shape[0]))
            return h

        dg = torch.Generator(device=device).manual_seed(1234)
        losses, tests = [], []
        for t in range(T):
            x = torch.randn(B, D, generator=dg, device=device)
            z = x @ beta
            y = (torch.tanh(2 * z) + 0.5 * z)[:, None]
            if t % LOG_EVERY == 0:
                with torch.no_grad():
                    tests.append(float(((net(ws, xt) - net(w0, xt)) / gamma - yt).pow(2).mean()))
            with torch.no_grad():
                g0 = net(w0, x)
            f = (net(ws, x) - g0) / gamma
            loss = ((f - y) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                for w in ws:
                    w -= N * eta * w.grad
                    w.grad = None
            losses.append(loss.item())
            if not math.isfinite(losses[-1]):
                break
        return losses, tests

    def run():
        for ga in GAMMA:
            for e in ETA:
                for s in SEEDS:
                    one(ga, e, s)
    return run


def matmul_flops(n=512, reps=20, rounds=5):
    """``jnp.matmul`` FLOP/s at n³, the best of ``rounds`` rounds of ``reps`` products: the
    reference is the machine's peak, so a round slowed by another job must not lower it (one
    round of 20 read 110 to 197 GFLOP/s on this shared machine)."""
    a = jax.random.normal(jax.random.key(0), (n, n), dtype=jnp.float32)
    b = jax.random.normal(jax.random.key(1), (n, n), dtype=jnp.float32)
    mm = jax.jit(jnp.matmul)
    mm(a, b).block_until_ready()
    best = 0.0
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(reps):
            c = mm(a, b)
        c.block_until_ready()
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - t))
    return best


def main():
    cells = len(GAMMA) * len(ETA) * len(SEEDS)
    cfg = cfg_for(N, T)
    print(f"grid: {cells} cells, L={L} MLP, N={N}, D={D}, B={B}, T={T}, float32, "
          f"{jax.device_count()} device(s) ({jax.devices()[0].device_kind}), {os.cpu_count()} cpus")
    t_eng = best(engine(cfg))
    gf = flops(N, T, cells) / t_eng / 1e9
    print(f"engine (sims.sweep)         {t_eng:8.2f} s   {gf:6.1f} GFLOP/s")
    t_jit = best(jitted_loop(cfg))
    print(f"python loop of jitted runs  {t_jit:8.2f} s   ratio {t_jit / t_eng:5.2f}x")
    t_torch = None
    try:
        import torch

        # torch's best setting for these tiny ops: one thread (two threads measured ~10x slower
        # on this shared 2-core machine, from thread contention); the GPU when it sees one
        torch.set_num_threads(1)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        t_torch = best(torch_loop(device), repeats=1)
        where = "1 thread" if device == "cpu" else torch.cuda.get_device_name()
        print(f"eager PyTorch loop ({torch.__version__}, {where})  {t_torch:8.2f} s   "
              f"ratio {t_torch / t_eng:5.2f}x")
    except ImportError:
        print("eager PyTorch loop: skipped (pip install '.[bench]')")
    # achieved FLOP/s at N = 512 against a plain matmul measured now
    n_big, t_big = 512, (10 if SMOKE else 50 if FAST else 200)
    cfg_big = cfg_for(n_big, t_big)
    t_b = best(engine(cfg_big))
    f_eng = flops(n_big, t_big, cells) / t_b
    f_mm = matmul_flops(n_big)
    print(f"N=512, T={t_big}: engine {f_eng / 1e9:6.1f} GFLOP/s, jnp.matmul(512x512x512) "
          f"{f_mm / 1e9:6.1f} GFLOP/s -> {100 * f_eng / f_mm:5.1f}% of matmul")
    if not (FAST or SMOKE):  # the targets are stated for the full grid
        verdict = lambda ok: "PASS" if ok else "FAIL"  # noqa: E731
        torch_ok = "n/a" if t_torch is None else verdict(t_torch / t_eng >= 12)
        print(f"targets (issue 14): >= 2.5x jitted loop {verdict(t_jit / t_eng >= 2.5)}, "
              f">= 12x PyTorch {torch_ok}, "
              f">= 60% of matmul at N=512 {verdict(f_eng / f_mm >= 0.6)}")


if __name__ == "__main__":
    main()
