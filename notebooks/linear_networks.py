# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exact learning dynamics of two-layer linear networks, from lazy to rich
#
# A λ-balanced network ($W_2^\top W_2 - W_1W_1^\top = \lambda I$) trained by gradient flow on a
# whitened task has an exact solution (Dominé et al. 2025; docs: Linear networks). Here we
# compare it with plain gradient descent for $\lambda \in \{-50, 0, 50\}$: the loss, the kernel
# distance
# $S(t) = 1 - \langle K_0, K_t\rangle / \|K_0\|\|K_t\|$ and the two representations
# $W_1^\top W_1$ and $W_2W_2^\top$. Lines are theory; markers are GD with $T = \eta\cdot$steps.

# %%
import os

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import lazyrich
from lazyrich.sims import gd_two_layer
from lazyrich.theory import (
    kernel_distance,
    lambda_balanced_init,
    ntk_from_reps,
    random_task,
    two_layer_linear,
    two_layer_loss,
)

lazyrich.set_precision("float64")
FAST = os.environ.get("LAZYRICH_FAST") == "1"

# %% [markdown]
# ## Setup: a 4×4×4 network, whitened inputs, a task with singular values 3, 2, 1, 0.5

# %%
n = 4
S = random_task(jax.random.key(0), n, n, [3.0, 2.0, 1.0, 0.5])
X = np.sqrt(8) * np.linalg.qr(np.random.default_rng(0).normal(size=(8, n)))[0].T  # XXᵀ/P = I
lams = [-50.0, 0.0, 50.0]
T_end = 6.0
t = jnp.linspace(0.0, T_end, 200)

runs = {}
for lam in lams:
    # small init: rich steps at λ = 0
    W1, W2 = lambda_balanced_init(jax.random.key(1), lam, n, n, n, sigma=0.15)
    if lam == 0 and np.linalg.det(np.asarray(W2 @ W1)) * np.linalg.det(np.asarray(S)) < 0:
        W2 = W2.at[0].multiply(-1.0)  # λ = 0 with det(W0)det(Σ) < 0 is a saddle (B singular)
    sol = two_layer_linear(W1, W2, S, t)
    k_max = max(float(np.linalg.norm(np.asarray(S), 2)), abs(lam) / 2)
    steps = int(T_end * k_max / (1e-2 if FAST else 2e-3))  # η·k_max
    steps -= steps % 20
    gd = gd_two_layer(W1, W2, S, T_end / steps, steps, save_every=steps // 20)
    runs[lam] = (sol, gd)
    print(f"λ = {lam:+5.0f}: method {sol.method}, {steps} GD steps, "
          f"max |W_GD − W_theory| = "
          f"{float(jnp.abs(gd.W - two_layer_linear(W1, W2, S, gd.t).W).max()):.1e}")

# %% [markdown]
# ## Loss, kernel distance and representations over time

# %%
fig, axes = plt.subplots(3, 3, figsize=(11, 8.5), sharex=True)
for j, lam in enumerate(lams):
    sol, gd = runs[lam]
    K = ntk_from_reps(sol.input_rep, sol.output_rep, X)
    Kg = ntk_from_reps(gd.input_rep, gd.output_rep, X)
    ax = axes[0, j]
    ax.plot(sol.t, two_layer_loss(sol.W, S), "k-", label="theory")
    ax.plot(gd.t, two_layer_loss(gd.W, S), "o", mfc="none", color="C3", label="GD")
    ax.set_title(f"λ = {lam:g}")
    axes[1, j].plot(sol.t, kernel_distance(K[0], K), "k-")
    axes[1, j].plot(gd.t, kernel_distance(Kg[0], Kg), "o", mfc="none", color="C3")
    for i, (rep, rg, lab) in enumerate([(sol.input_rep, gd.input_rep, "‖W1ᵀW1‖"),
                                        (sol.output_rep, gd.output_rep, "‖W2W2ᵀ‖")]):
        axes[2, j].plot(sol.t, jnp.linalg.norm(rep, axis=(1, 2)), "-", color=f"C{i}", label=lab)
        axes[2, j].plot(gd.t, jnp.linalg.norm(rg, axis=(1, 2)), "o", mfc="none", color=f"C{i}")
    axes[2, j].set_yscale("log")
    axes[2, j].set_xlabel("T = η · steps")
axes[0, 0].set_ylabel("excess loss")
axes[1, 0].set_ylabel("kernel distance S(T)")
axes[2, 0].set_ylabel("representation norm")
axes[0, 0].legend(frameon=False)
axes[2, 0].legend(frameon=False)
fig.tight_layout()
if os.environ.get("LAZYRICH_FIGDIR"):
    fig.savefig(os.path.join(os.environ["LAZYRICH_FIGDIR"], "linear_dynamics.png"), dpi=100)

# %% [markdown]
# At $\lambda = 0$ (rich) the loss falls in sigmoidal steps, one per singular value, and the
# kernel moves by $O(1)$. At $|\lambda| = 50$ (lazy) the network behaves like a shallow one with
# rate $|\lambda|$, the kernel barely moves, and — for a square network — $\lambda$ and $-\lambda$
# give the same $W(t)$ and loss while the two representations swap roles: the function's own
# flow depends on $\lambda$ only through $\lambda^2$
# (docs: Linear networks, "Limits and symmetries").

# %%
sol_p, sol_m = runs[50.0][0], runs[-50.0][0]
print("max |W(λ=50) − W(λ=−50)| =", float(jnp.abs(sol_p.W - sol_m.W).max()))
print("final kernel distance:", {lam: float(kernel_distance(
    ntk_from_reps(runs[lam][0].input_rep[0], runs[lam][0].output_rep[0], X),
    ntk_from_reps(runs[lam][0].input_rep[-1], runs[lam][0].output_rep[-1], X))) for lam in lams})
