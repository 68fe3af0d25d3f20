"""Closed-form two-layer linear dynamics vs scipy's DOP853 on the same problems (issue 2).

Prints, in one run, for a (50, 50, 50) λ-balanced network:

A. the issue's case: P(T) at 1000 times in [0, 20], λ = 1 — closed form vs ``solve_ivp``
   (DOP853, rtol = atol = 1e-10), both errors against a tighter DOP853 (rtol = atol = 1e-13);
   for a small init and for the paper's Algorithm-1 init (σ = 1);
B. a lazy, stiff, long-horizon case: λ = 50, 1000 times in [0, 200] (explicit solvers are limited
   to steps ~ 1/|λ| whatever the accuracy asked);
C. a batch: 16 initialisations (λ from −8 to 8) × 100 times, one vmapped closed-form call vs 16
   ODE solves.

Ratios, not absolute times, are the result: the machine is shared and noisy.
Run: ``.venv/bin/python benchmarks/closed_form.py``.
"""

import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from lazyrich.sims import ode_two_layer  # noqa: E402
from lazyrich.theory import lambda_balanced_init, random_task, two_layer_linear  # noqa: E402

N = 50
S = random_task(jax.random.key(1), N, N, np.geomspace(2.0, 0.2, N))
closed = jax.jit(lambda a, b, s, tt: two_layer_linear(a, b, s, tt, method="stable").P)


def best_of(fn, repeats):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def compare(label, lam, sigma, t_end, n_t=1000):
    W1, W2 = lambda_balanced_init(jax.random.key(0), lam, N, N, N, sigma=sigma)
    t = jnp.linspace(0.0, t_end, n_t)
    closed(W1, W2, S, t).block_until_ready()  # compile once; later calls reuse it
    t_cf, P_cf = best_of(lambda: closed(W1, W2, S, t).block_until_ready(), 5)
    t_ode, tr = best_of(lambda: ode_two_layer(W1, W2, S, np.asarray(t), rtol=1e-10, atol=1e-10), 1)
    t_ref, ref = best_of(lambda: ode_two_layer(W1, W2, S, np.asarray(t), rtol=1e-13, atol=1e-13), 1)
    scale = np.abs(ref.P).max()
    err_cf = np.abs(np.asarray(P_cf) - ref.P).max() / scale
    err_ode = np.abs(tr.P - ref.P).max() / scale
    print(f"== {label}: λ = {lam}, σ = {sigma:.3g}, {n_t} times in [0, {t_end}]")
    print(f"   closed form (jitted, stable) {t_cf * 1e3:9.1f} ms   rel. error {err_cf:.1e}")
    print(f"   DOP853 rtol 1e-10            {t_ode * 1e3:9.1f} ms   rel. error {err_ode:.1e}")
    print(f"   DOP853 rtol 1e-13 (ref)      {t_ref * 1e3:9.1f} ms")
    print(f"   speed ratio DOP853/closed    {t_ode / t_cf:9.1f}x   (vs the 1e-13 reference: "
          f"{t_ref / t_cf:.1f}x)")


def batched(n_init=16, n_t=100, t_end=20.0):
    lams = jnp.linspace(-8.0, 8.0, n_init)
    keys = jax.random.split(jax.random.key(2), n_init)
    inits = [lambda_balanced_init(k, float(lam), N, N, N, sigma=N**-0.5)
             for k, lam in zip(keys, lams, strict=True)]
    W1s = jnp.stack([w[0] for w in inits])
    W2s = jnp.stack([w[1] for w in inits])
    t = jnp.linspace(0.0, t_end, n_t)
    f = jax.jit(jax.vmap(lambda a, b: two_layer_linear(a, b, S, t, method="stable").P))
    f(W1s, W2s).block_until_ready()
    t_cf, P = best_of(lambda: f(W1s, W2s).block_until_ready(), 3)
    t_ode, refs = best_of(lambda: [ode_two_layer(a, b, S, np.asarray(t), rtol=1e-10, atol=1e-10)
                                   for a, b in zip(W1s, W2s, strict=True)], 1)
    err = max(np.abs(np.asarray(P[i]) - refs[i].P).max() / np.abs(refs[i].P).max()
              for i in range(n_init))
    print(f"== C. batch of {n_init} inits (λ ∈ [−8, 8]) × {n_t} times in [0, {t_end}]")
    print(f"   closed form (vmap, one call) {t_cf * 1e3:9.1f} ms   "
          f"max rel. diff to DOP853 1e-10: {err:.1e}")
    print(f"   DOP853 rtol 1e-10, a loop    {t_ode * 1e3:9.1f} ms")
    print(f"   speed ratio                  {t_ode / t_cf:9.1f}x")


def main():
    print(f"network ({N}, {N}, {N}); target: >= 100x faster than DOP853 at <= 1e-9 relative error")
    compare("A1. issue case, small init", 1.0, N**-0.5, 20.0)
    compare("A2. issue case, paper init (Algorithm 1, σ = 1)", 1.0, 1.0, 20.0)
    compare("B. lazy, stiff, long horizon", 50.0, N**-0.5, 200.0)
    batched()


if __name__ == "__main__":
    main()
