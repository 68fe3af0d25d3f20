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
# # The kernel regime: the lazy limit, its distance to a network, and the coord check
#
# At γ → 0 the centred μP network trained by full-batch GD is kernel regression with its
# infinite-width NTK Θ (Jacot et al. 2018; Lee et al. 2019). In the engine's units (loss
# $\frac1{PC}\sum(f-y)^2$ without ½, step $N\eta$) the residual follows
# $r_{k+1} = (I - a\Theta)\,r_k$ with $a = 2\rho\eta/(PC\gamma^2)$ ($\rho = 1$ for the MLP):
# `theory.kernel_dynamics` evaluates it exactly, train and test, at any step or time.
#
# 1. a small-γ run on top of its kernel prediction;
# 2. the distance to the prediction across γ and width N;
# 3. the coord check: which parametrisation keeps every layer's update width-independent.
#
# Set `LAZYRICH_FAST=1` for a short version.

# %%
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import lazyrich
from lazyrich import analysis, sims, theory

lazyrich.set_precision("float64")
FAST = os.environ.get("LAZYRICH_FAST") == "1"
FIGDIR = Path(os.environ.get("LAZYRICH_FIGDIR", "."))

rng = np.random.default_rng(1)
D, P, Q = 16, 8, 4
x = rng.normal(size=(P + Q, D))
x *= np.sqrt(D) / np.linalg.norm(x, axis=1, keepdims=True)
beta = rng.normal(size=D) / np.sqrt(D)
y = (np.tanh(2 * x @ beta) + 0.5 * x @ beta)[:, None]
task = sims.array_task(x[:P], y[:P], x[P:], y[P:])
K = theory.mlp_kernels(x[:P], depth=2, activation="erf").ntk
Kst = theory.mlp_kernels(x[P:], x[:P], depth=2, activation="erf").ntk
n_steps = 40


def centred_outputs(cfg, out, gamma):
    """f = (g(θ_t) − g(θ_0))/γ on all points, for every seed and logged step."""
    model, _ = sims.resolve(cfg)
    g = jax.vmap(jax.vmap(model.apply, in_axes=(0, None)), in_axes=(0, None))(
        {"w": out["params_log"]["w"]}, jnp.asarray(x))
    g = np.asarray(g)
    return (g - g[:, :1]) / gamma


# %% [markdown]
# ## 1. A small-γ run on its kernel prediction

# %%
gamma = 1e-3
eta = 0.25 * float(theory.kernel_eta_max(K, gamma=gamma))  # a·λ_max = 0.5
steps = np.arange(n_steps + 1)
pred = theory.kernel_dynamics(K, y[:P], steps=steps, eta=eta, gamma=gamma, k_test_train=Kst)
N = 512 if FAST else 4096
cfg = sims.SweepConfig(model="mlp", depth=2, width=N, activation="erf", task=task,
                       full_batch=True, num_steps=n_steps, log_every=1, dtype="float64")
out = sims.run_cells(cfg, gamma=gamma, eta=eta, seed=[0, 1, 2], keep_params=True)
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(steps, np.asarray(pred.loss), "k-", label="kernel dynamics (N = ∞)")
for s in range(3):
    ax.plot(steps, out["loss"][s], "o", ms=3, alpha=0.6,
            label=f"network N = {N}, seed {s}")
ax.set_xlabel("step")
ax.set_ylabel("training loss")
ax.set_yscale("log")
ax.legend(fontsize=8)
fig.savefig(FIGDIR / "kernel_overlay.png", dpi=100)
f = centred_outputs(cfg, out, gamma)
both = np.concatenate([np.asarray(pred.train), np.asarray(pred.test)], axis=1)
print(f"N = {N}: RMS gap to the kernel prediction {np.sqrt(np.mean((f - both) ** 2)):.3g}")

# %% [markdown]
# ## 2. Distance to the kernel prediction across γ and N
#
# Per seed, the gap to the *infinite-width* prediction has an O(N^{-1/2}) floor (the kernel
# fluctuates at initialisation) and grows with γ once feature learning sets in (its first
# correction is O(γ²) at infinite width).

# %%
widths = [128, 512] if FAST else [256, 1024, 4096]
gammas = np.array([1e-3, 1e-2, 1e-1, 0.3])
etas = np.array([0.25 * float(theory.kernel_eta_max(K, gamma=float(g))) for g in gammas])
refs = []
for g, e in zip(gammas, etas, strict=True):
    p_ = theory.kernel_dynamics(K, y[:P], steps=steps, eta=e, gamma=float(g), k_test_train=Kst)
    refs.append(np.concatenate([np.asarray(p_.train), np.asarray(p_.test)], axis=1))
gap = np.zeros((len(widths), gammas.size))
for i, N in enumerate(widths):  # one compiled call per width: every (γ, seed) cell vmapped
    cfg_n = cfg.replace(width=N)
    G, S = np.meshgrid(np.arange(gammas.size), [0, 1], indexing="ij")
    o = sims.run_cells(cfg_n, gamma=gammas[G.ravel()], eta=etas[G.ravel()], seed=S.ravel(),
                       keep_params=True)
    model, _ = sims.resolve(cfg_n)
    g0 = np.asarray(jax.vmap(jax.vmap(model.apply, in_axes=(0, None)), in_axes=(0, None))(
        {"w": o["params_log"]["w"]}, jnp.asarray(x)))
    fb = (g0 - g0[:, :1]) / gammas[G.ravel()][:, None, None, None]
    for j in range(gammas.size):
        sel = G.ravel() == j
        gap[i, j] = np.sqrt(np.mean((fb[sel] - refs[j][None]) ** 2))
fig, ax = plt.subplots(figsize=(5, 3.5))
for i, N in enumerate(widths):
    ax.loglog(gammas, gap[i], "o-", label=f"N = {N}")
ax.set_xlabel("γ")
ax.set_ylabel("RMS gap to kernel dynamics")
ax.legend(fontsize=8)
fig.savefig(FIGDIR / "kernel_gap.png", dpi=100)
print("gap at the smallest gamma:", ", ".join(f"N={N}: {v:.3g}"
                                              for N, v in zip(widths, gap[:, 0], strict=True)))
print("gap grows with gamma at the widest N:", bool(gap[-1, -1] > gap[-1, 0]))

# %% [markdown]
# ## 3. The coord check
#
# The size of every layer's change after one SGD step against width: flat under μP-γ, shrinking
# (first layer) and growing (deeper layers, output) under the standard parametrisation.

# %%
res = analysis.coord_check([128, 256, 512] if FAST else [256, 512, 1024, 2048],
                           seeds=range(3 if FAST else 4), num_steps=2,
                           eta={"sp": 0.05, "ntk": 0.5, "mup": 0.05})
axes = analysis.plot_coord_check(res)
axes[0].figure.savefig(FIGDIR / "coord_check.png", dpi=100)
ex = analysis.coord_exponents(res, n_boot=200)["exponent"].sel(quantity="change", step=1)
for p in res["parametrization"].values:
    print(f"coord exponents {p}: " + ", ".join(f"{v:+.2f}" for v in ex.sel(parametrization=p)))
