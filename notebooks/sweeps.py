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
# # A (γ, η) sweep with the vmapped engine
#
# The centred μP network $f = (g_\theta - g_{\theta_0})/\gamma$ trained by online SGD with step
# $N\eta$ (Atanasov et al., ICLR 2025; docs: Gamma scaling), on the single-index teacher
# $y = \tanh(2\beta\cdot x) + \tfrac12\beta\cdot x$. Every (γ, η, seed) cell is one lane of a
# single `jit(vmap(...))`; all cells see the same data stream.
#
# We sweep the normalised rate $\hat\eta = \eta/s(\gamma)$ with
# $s(\gamma) = \gamma^2/(1+\gamma^{2-2/L})$ (docs: Gamma scaling), so that the window of useful
# rates is the same at every γ: lazy ($\eta\propto\gamma^2$) below γ ≈ 1, ultra-rich
# ($\eta\propto\gamma^{2/L}$) above.
#
# Set `LAZYRICH_FAST=1` for a seconds-long version.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from lazyrich import sims

FAST = os.environ.get("LAZYRICH_FAST") == "1"
L = 3
cfg = sims.SweepConfig(model="mlp", depth=L, width=32 if FAST else 128, input_dim=16,
                       task="single-index", batch_size=32, num_steps=200 if FAST else 1000,
                       log_points=30, optimizer="sgd")
gammas = np.logspace(-1, 2, 4 if FAST else 13)
eta_hats = np.logspace(-2, 1, 5 if FAST else 13)
seeds = [0, 1] if FAST else [0, 1, 2]

(ds := sims.sweep(cfg, gamma=gammas, eta_hat=eta_hats, seeds=seeds))

# %% [markdown]
# `ds["loss"]` has dims (gamma, eta_hat, seed, step); `ds["eta"]` holds the actual η of each
# (γ, η̂) pair. Diverged cells (non-finite loss, or a 20-step mean above twice the initial loss)
# are frozen and flagged in `ds["diverged"]`; their values are NaN after the divergence.

# %%
final = ds["test_loss"].isel(step=-1).mean("seed")   # NaN where any seed diverged
frac_div = ds["diverged"].mean("seed")
print("diverged cells:", int(ds["diverged"].sum()), "of", ds["diverged"].size)

# %% [markdown]
# ## Loss curves at the best η̂ for each γ

# %%
fig, ax = plt.subplots(figsize=(5, 3.5))
for g in ds["gamma"].values[:: max(1, len(gammas) // 5)]:
    col = final.sel(gamma=g)
    if np.all(np.isnan(col)):
        continue
    best = col.idxmin("eta_hat").item()
    curve = ds["test_loss"].sel(gamma=g, eta_hat=best).mean("seed")
    ax.plot(ds["step"][1:], curve[1:], label=f"γ={g:.3g}, η̂*={best:.2g}")
ax.set(xscale="log", yscale="log", xlabel="step", ylabel="test loss")
ax.legend(fontsize=7)
fig.tight_layout()

# %% [markdown]
# ## Final test loss over the (γ, η) plane
#
# Plotted against the actual η. Reference lines: the lazy law η ∝ γ² and the ultra-rich law
# η ∝ γ^{2/L}. White: at least one seed diverged.

# %%
eta = ds["eta"].values                                   # (gamma, eta_hat): actual η per cell
gam = np.broadcast_to(ds["gamma"].values[:, None], eta.shape)
fig, ax = plt.subplots(figsize=(5.5, 4))
pc = ax.scatter(gam.ravel(), eta.ravel(), c=np.log10(final.values).ravel(), marker="s",
                s=900 / len(gammas), cmap="viridis")
fig.colorbar(pc, ax=ax, label="log10 final test loss")
gg = np.logspace(np.log10(gammas[0]), np.log10(gammas[-1]), 50)
ax.plot(gg, gg**2, "w--", lw=1, label="η ∝ γ²")
ax.plot(gg, gg ** (2 / L), "w:", lw=1, label=f"η ∝ γ^(2/{L})")
ax.set(xscale="log", yscale="log", xlabel="γ", ylabel="η", title="final test loss")
ax.legend(fontsize=7, loc="lower right")
fig.tight_layout()

# %% [markdown]
# The bright band follows η ∝ γ² on the lazy side and bends towards γ^{2/L} past γ ≈ 1; at
# the largest γ the T-step budget is eaten by the plateau (the window closes:
# the no-training edge rises as γ/T, faster than the divergence edge γ^{2/L} when L ≥ 3).

# %%
best_per_gamma = final.min("eta_hat")
print(best_per_gamma.to_series().to_string())
plt.close("all")
