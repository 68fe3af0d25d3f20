# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Richness: $\mathcal D_{LR}$ and the eigen-curves across γ and through grokking
#
# $\mathcal D_{LR} = 1 - \mathrm{CKA}(T, T_{MP})$ compares the feature operator of the last hidden
# layer with the minimal projection onto the span of the network's own outputs
# (Nam et al. 2026; docs: Richness). 0 is maximally rich, $1-\sqrt{r/p}$ is isotropic random
# features with outputs of rank $r$.
# We measure it (i) across the output scale γ of a μP MLP on digits, from lazy to rich, and
# (ii) through grokking on modular addition, next to accuracy and the comparison metrics
# (NC1, the kernel distance $S_{init}$ from initialisation, the parameter change).
#
# Training uses the toolkit's one training stack, `lazyrich.sims` (`run_cells` for the γ sweep,
# `train` with an `optax` AdamW for grokking). Set `LAZYRICH_FAST=1` for a CPU-sized run.

# %%
import os

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
from sklearn.datasets import load_digits

import lazyrich
from lazyrich import sims
from lazyrich.analysis import plot_dlr_trajectory, plot_eigencurves
from lazyrich.metrics import (
    dlr_report,
    eigencurves,
    feature_kernel_distance,
    nc1,
    param_change,
)

lazyrich.set_precision("float64")
FAST = os.environ.get("LAZYRICH_FAST", "0") == "1"

# %% [markdown]
# ## 1. Lazy → rich on digits
#
# MLP 64 → N → N → 10 in the μP-γ parametrisation, centred output
# $f = (g_\theta-g_{\theta_0})/\gamma$,
# MSE on one-hot labels, full-batch SGD with step $N\eta$, $\eta = \hat\eta\,s(\gamma)$,
# $s(\gamma) = \gamma^2/(1+\gamma^{2-2/L})$ (docs: Conventions): the conventions of the
# engine's `model="mlp"`. All γ run as the cells of one vmapped `sims.run_cells` call with one
# seed, hence one initialisation $\theta_0$; `keep_params=True` returns $\theta$ at the logged
# steps (here 0 and T).

# %%
X, y = load_digits(return_X_y=True)
X = (X - X.mean(0)) / (X.std(0) + 1e-8)
perm = np.random.default_rng(0).permutation(len(y))
tr, te = perm[:600], perm[600:]
L, N = 3, (64 if FAST else 128)
steps = 200 if FAST else 1000
gammas = np.array([0.01, 0.1, 1.0, 3.0] if FAST else [0.01, 0.03, 0.1, 0.3, 1.0, 3.0])
digits = sims.array_task(X[tr], y[tr], X[te], y[te])  # integer labels: one-hot targets
cfg = sims.SweepConfig(model="mlp", depth=L, width=N, task=digits, loss="mse", full_batch=True,
                       num_steps=steps, log_every=steps, dtype="float32")
model, _ = sims.resolve(cfg)
s = gammas**2 / (1 + gammas ** (2 - 2 / L))
out = sims.run_cells(cfg, gamma=gammas, eta=s, seed=0, keep_params=True)
assert not out["diverged"].any()

# %%
rows, curves = [], []
xs = jnp.asarray(X, jnp.float32)
for i, g in enumerate(gammas):
    p0, params = (jax.tree.map(lambda a, i=i, t=t: jnp.asarray(a[i, t]), out["params_log"])
                  for t in (0, -1))
    # the readout's input φ(h^{L-1}) and the centred output f = (g_θ - g_θ0)/γ that was trained
    phi, phi0 = (np.asarray(model.features(p, xs), np.float64) for p in (params, p0))
    f = np.asarray((model.apply(params, xs) - model.apply(p0, xs)) / g, np.float64)
    rows.append({
        "gamma": g,
        "D_LR train (E1)": dlr_report(phi[tr], f[tr], "cka", split="train").value,
        "D_LR train (E2)": dlr_report(phi[tr], f[tr], "projection", split="train").value,
        "D_LR test (E1)": dlr_report(phi[te], f[te], "cka", split="test").value,
        "test acc": float(np.mean(f[te].argmax(1) == y[te])),
        "NC1": nc1(phi[tr], y[tr]),
        "S_init": feature_kernel_distance(phi0[tr], phi[tr]),
        "|Δθ|/|θ0|": param_change(params, p0),
    })
    curves.append(eigencurves(phi[tr], f[tr], y[tr], k_max=40))

header = list(rows[0])
print("  ".join(f"{h:>15}" for h in header))
for r in rows:
    print("  ".join(f"{r[h]:>15.4g}" for h in header))

# %% [markdown]
# The paper's three panels (docs: Richness): a rich network (large γ) puts all of its output
# into the first ~C eigenfunctions (Π̂ saturates at k ≈ 10) with a spectral cliff after them;
# the lazy ones rise slowly over a smoothly decaying spectrum.

# %%
axes = plot_eigencurves(curves, [f"γ = {g:g}" for g in gammas])
axes[0].figure.suptitle("digits, train inputs, uncentred features")

fig, ax = plt.subplots(figsize=(5, 3.4), constrained_layout=True)
for key in ("D_LR train (E1)", "D_LR train (E2)", "D_LR test (E1)", "S_init"):
    ax.semilogx(gammas, [r[key] for r in rows], "-o", label=key)
ax.set_xlabel("γ")
ax.legend(fontsize="small")

# %% [markdown]
# ## 2. Grokking: D_LR falls before test accuracy rises
#
# Addition mod 31, half the table for training, one hidden layer of 256 quadratic units
# ($\Phi = h^2$), CE, AdamW (lr 1e-3, β₂ 0.98, weight decay 1), full batch, first-layer init
# scale 3 (Power et al. 2022 for grokking; docs: Richness). D_LR is logged on the training and
# the held-out inputs: they behave differently.
#
# This network is in the *standard* parametrisation (all multipliers 1, the scales in the
# initial weights, as in PyTorch): we hand the engine its `apply`/`init` with `sims.from_apply`,
# the uncentred output $f = g$ (`centred=False`, γ = 1), and AdamW as an `optax` chain whose
# step is η itself (`mup_steps="none"`): $\theta \leftarrow \theta - \eta\,(\hat m/(\sqrt{\hat v}
# +\epsilon) + \lambda\theta)$, the update of `optax.adamw(η, b1=0.9, b2=0.98, weight_decay=λ)`.

# %%
P, width, every = 31, 256, 100
gsteps = 2000 if FAST else 3000


def features(p, x):  # Φ = h², h = x W⁰
    return (x @ p["w"][0]) ** 2


def apply(p, x):
    return features(p, x) @ p["w"][1]


def init(key, dtype):  # W⁰ ~ N(0, 9/D), W¹ ~ N(0, 1/N)
    k0, k1 = jax.random.split(key)
    return {"w": (jax.random.normal(k0, (2 * P, width), dtype) * (3 / np.sqrt(2 * P)),
                  jax.random.normal(k1, (width, P), dtype) / np.sqrt(width))}


adamw = optax.chain(optax.scale_by_adam(b1=0.9, b2=0.98), optax.add_decayed_weights(1.0))
gcfg = sims.SweepConfig(model=sims.from_apply(apply, init, depth=2, name="quadratic-mlp"), depth=2,
                        task="modular", task_options={"modulus": P, "train_fraction": 0.5},
                        loss="xent", full_batch=True, num_steps=gsteps, log_every=every,
                        optimizer=adamw, mup_steps="none", optimizer_label="adamw(wd=1)",
                        centred=False, dtype="float32")
gr = sims.train(gcfg, gamma=1.0, eta=1e-3, seed=0, keep_params=True)
assert not gr.diverged
gapply = jax.jit(lambda p, x: (features(p, x), apply(p, x)))
# all inputs of the addition table, the training half first
gdata = sims.resolve(gcfg)[1].build(gcfg.data_seed, np.float32)
Xg = np.concatenate([gdata["train_x"], gdata["test_x"]])
yg = np.argmax(np.concatenate([gdata["train_y"], gdata["test_y"]]), axis=1)
gtr, gte = np.arange(len(gdata["train_x"])), np.arange(len(gdata["train_x"]), len(Xg))

# %%
log = {"step": [], "D train": [], "D test": [], "test acc": []}
snapshots = {}
for i, step in enumerate(gr.steps):
    p = jax.tree.map(lambda a, i=i: jnp.asarray(a[i]), gr.params_log)
    phi, f = (np.asarray(v, np.float64) for v in gapply(p, jnp.asarray(Xg, jnp.float32)))
    log["step"].append(int(step))
    log["D train"].append(dlr_report(phi[gtr], f[gtr], split="train").value)
    log["D test"].append(dlr_report(phi[gte], f[gte], split="test").value)
    log["test acc"].append(float(np.mean(f[gte].argmax(1) == yg[gte])))
    if step in (200, 1000, gsteps):
        snapshots[int(step)] = eigencurves(phi[gtr], f[gtr], yg[gtr], k_max=80)

ax = plot_dlr_trajectory(log["step"],
                         {"train inputs": log["D train"], "test inputs": log["D test"]},
                         log["test acc"])
ax.set_title("grokking, mod 31")
for k in (0, 2, 10, len(log["step"]) - 1):
    if k < len(log["step"]):
        print(f"step {log['step'][k]:>5}: D_LR train {log['D train'][k]:.3f}, "
              f"test {log['D test'][k]:.3f}, test acc {log['test acc'][k]:.3f}")

# %%
axes = plot_eigencurves(list(snapshots.values()), [f"step {s}" for s in snapshots])
axes[0].figure.suptitle("grokking: eigen-curves on the training inputs")
