"""Closed-form two-layer linear dynamics vs scipy's DOP853 on the same problem (issue 2).

One run prints: the time to evaluate P(T) at 1000 times for a (50, 50, 50) λ-balanced network
with the closed form, and with ``solve_ivp`` (DOP853, rtol = atol = 1e-10); the speed ratio; and
both errors against a tighter reference (DOP853, rtol = atol = 1e-13). Ratios, not absolute
times, are the result: the machine is shared and noisy.

Run: ``.venv/bin/python benchmarks/closed_form.py``.
"""

import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from lazyrich.sims import ode_two_layer  # noqa: E402
from lazyrich.theory import lambda_balanced_init, random_task, two_layer_linear  # noqa: E402

N, N_T, T_END, LAM = 50, 1000, 20.0, 1.0


def best_of(fn, repeats):
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run(sigma, label):
    key = jax.random.key(0)
    W1, W2 = lambda_balanced_init(key, LAM, N, N, N, sigma=sigma)
    S = random_task(jax.random.key(1), N, N, np.geomspace(2.0, 0.2, N))
    t = jnp.linspace(0.0, T_END, N_T)

    closed = jax.jit(lambda a, b, s, tt: two_layer_linear(a, b, s, tt, method="stable").P)
    closed(W1, W2, S, t).block_until_ready()  # compile once; sweeps reuse the compiled function
    t_cf, P_cf = best_of(lambda: closed(W1, W2, S, t).block_until_ready(), 5)
    t_auto, _ = best_of(lambda: two_layer_linear(W1, W2, S, t).P.block_until_ready(), 3)

    t_ode, tr = best_of(lambda: ode_two_layer(W1, W2, S, np.asarray(t), rtol=1e-10, atol=1e-10), 1)
    ref = ode_two_layer(W1, W2, S, np.asarray(t), rtol=1e-13, atol=1e-13)
    scale = np.abs(ref.P).max()
    err_cf = np.abs(np.asarray(P_cf) - ref.P).max() / scale
    err_ode = np.abs(tr.P - ref.P).max() / scale

    print(f"== {label}: network ({N}, {N}, {N}), λ = {LAM}, σ = {sigma:.3g}, {N_T} times in [0, {T_END}]")
    print(f"closed form (jitted, stable §2.4)   {t_cf * 1e3:9.2f} ms   rel. error {err_cf:.2e}")
    print(f"closed form (auto, with checks)     {t_auto * 1e3:9.2f} ms")
    print(f"solve_ivp DOP853 rtol 1e-10         {t_ode * 1e3:9.2f} ms   rel. error {err_ode:.2e}")
    print(f"speed ratio (DOP853 / closed form)  {t_ode / t_cf:9.1f}x   "
          f"[target >= 100x at <= 1e-9 error]")
    print(f"speed ratio (DOP853 / auto)         {t_ode / t_auto:9.1f}x")


def main():
    # The paper's Algorithm 1 default: W0 a product of two N(0, σ² = 1) matrices (a large init).
    run(1.0, "paper default init")
    # A small init (σ = N^{-1/2}): slow, smooth dynamics, the easiest case for the ODE solver.
    run(N**-0.5, "small init")


if __name__ == "__main__":
    main()
