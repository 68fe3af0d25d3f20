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
# # Manifold capacity and effective geometry, from lazy to rich training
#
# After Chou, Le, Wang & Chung (ICML 2025); the theory and its formulas are on the
# documentation page (docs: Manifold capacity). Part 1 checks the two capacity estimators on
# data whose answer is known: points (Cover: $\alpha = 2$) and spheres (the ball formula
# $\alpha_B(R, D)$), and compares the simulated capacity $\alpha_\text{sim} = P/N_c$ (random
# projections) with the mean-field capacity $\alpha_\text{MF} = P/\mathbb E\|\Pi_{C_y}(t)\|^2$
# (projection of a Gaussian field onto the cone of signed points).
# Part 2 trains a 2-layer network on Gaussian-cloud classification with the Chizat scaling
# $h = \alpha(f - f_0)$ (Chizat, Oyallon & Bach 2019) and follows the capacity, effective
# radius $R_\text{eff}$, dimension $D_\text{eff}$ and the alignments of the hidden
# representation over training.
# Set `LAZYRICH_FAST=1` for a quick run.

# %%
import os
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np

import lazyrich
from lazyrich import sims
from lazyrich.analysis import plot_geometry_over_training
from lazyrich.geometry import (
    cloud_task,
    geometry_over_training,
    mean_field_capacity,
    ntk_sharpness,
    point_manifolds,
    simulated_capacity,
    sphere_manifolds,
)
from lazyrich.theory import ball_capacity, cover_separability

lazyrich.set_precision("float64")
FAST = os.environ.get("LAZYRICH_FAST") == "1"
FIGDIR = Path(os.environ.get("LAZYRICH_FIGDIR", "."))
N_T = 60 if FAST else 300

# %% [markdown]
# ## 1. Points: Cover's curve, and $\alpha = 2$ from both estimators

# %%
P = 20
X = point_manifolds(jax.random.key(0), P, 200, orthonormal=True)
sim = simulated_capacity(jax.random.key(1), X, n_rep=40 if FAST else 300, n_boot=100)
mf = mean_field_capacity(jax.random.key(1), X, n_t=N_T)
print(f"points: alpha_sim = {sim.capacity:.3f} (95% CI {sim.capacity_ci[0]:.3f}-"
      f"{sim.capacity_ci[1]:.3f}), alpha_MF = {mf.capacity:.3f} +- {mf.capacity_stderr:.3f}")

fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(sim.n, cover_separability(P, sim.n), "-", label="Cover")
ax.plot(sim.n, sim.separability, "o", ms=3, label="simulated")
ax.axvline(P / mf.capacity, color="k", ls=":", label="mean-field $N_c = P/\\alpha$")
ax.set(xlabel="projection dimension n", ylabel="P(separable)", xlim=(0, P))
ax.legend()
fig.savefig(FIGDIR / "capacity_points.png", dpi=100)

# %% [markdown]
# ## 2. Spheres approach the ball capacity from above as M grows
# With M points a $D$-sphere's convex hull under-fills the ball, so $\alpha_\text{MF}$ is biased
# up; it converges to $\alpha_B(R, D)$ (dotted lines) as $M\to\infty$.

# %%
Ms = (10, 30) if FAST else (10, 25, 50, 100, 200)
P_S, N_S = (8, 200) if FAST else (16, 600)
fig, ax = plt.subplots(figsize=(5, 3.5))
for D, R in ((3, 2.0),) if FAST else ((3, 2.0), (5, 1.0)):
    caps = [mean_field_capacity(jax.random.key(1),
                                sphere_manifolds(jax.random.key(0), P_S, M, N_S, D, R),
                                n_t=N_T).capacity for M in Ms]
    line, = ax.plot(Ms, caps, "o-", label=f"D={D}, R={R:g}")
    ax.axhline(float(ball_capacity(R, D)), color=line.get_color(), ls=":")
    print(f"D={D} R={R}: alpha_MF(M) = {np.round(caps, 3)}, alpha_B = {ball_capacity(R, D):.4f}")
ax.set(xscale="log", xlabel="points per manifold M", ylabel="capacity")
ax.legend()
fig.savefig(FIGDIR / "capacity_spheres.png", dpi=100)

# %% [markdown]
# ## 3. Lazy vs rich training of a 2-layer network
# The network of Chizat, Oyallon & Bach (2019), $f(x) = a^\top\sigma(Wx/\sqrt d)/\sqrt m$,
# centred and scaled, $h_\alpha = \alpha(f - f_0)$, trained by full-batch gradient descent on
# $L_\alpha = \frac{1}{\alpha^2}\frac{1}{2n}\sum_i\|h_\alpha(x_i) - y_i\|^2$ with step
# $\mathrm{lr}$. In the sweep engine this is the two-layer MLP in the NTK parametrisation with
# $\gamma_\text{NTK} = 1/\alpha$ and $\eta = \mathrm{lr}\,C/(2\alpha^2 m)$ (the engine's loss
# is the mean of $(f-y)^2$ over samples and the $C$ outputs, its step $m\eta$). Same
# initialisation (seed) for every $\alpha$; $\mathrm{lr} = 0.5/\lambda$, a quarter of the
# stability edge $2/\lambda$ of the NTK at initialisation, which does not depend on $\alpha$.
# Capacity is measured on held-out points of each class with the same estimator draws at every
# step (common random numbers).

# %%
Xtr, Ytr, Xte = cloud_task(jax.random.key(0), n_train=10 if FAST else 20,
                           n_test=20 if FAST else 30)
width, steps = (64, 300) if FAST else (256, 3000)
C = Ytr.shape[1]
cfg2 = sims.SweepConfig(model="mlp", depth=2, width=width, parametrization="ntk",
                        task=sims.array_task(np.asarray(Xtr), np.argmax(np.asarray(Ytr), axis=1)),
                        full_batch=True, loss="mse", dtype="float64", num_steps=steps,
                        log_points=3 if FAST else 8, seed=1)
model2, _ = sims.resolve(cfg2)
theta0 = sims.train(cfg2.replace(num_steps=1, log_points=1)).params0  # this seed's init
lr = 0.5 / ntk_sharpness(model2, theta0, Xtr)
alphas = (0.1, 1.0, 100.0) if FAST else (0.1, 0.3, 1.0, 3.0, 100.0)
results = {}
for alpha in alphas:
    run = sims.train(cfg2, gamma=1 / alpha, eta=lr * C / (2 * alpha**2 * width),
                     keep_params=True)
    g = geometry_over_training(jax.random.key(2), run, model2, Xte, n_t=N_T)
    results[f"alpha={alpha:g}"] = g
    loss = run.loss[-1] * C / (2 * alpha**2)  # L_alpha from the engine's mean (f - y)^2
    print(f"alpha={alpha:>6g}: loss {loss:.2e}  capacity {g['capacity'][0]:.3f} -> "
          f"{g['capacity'][-1]:.3f}  R_eff {g['radius'][0]:.2f} -> {g['radius'][-1]:.2f}  "
          f"D_eff {g['dimension'][0]:.2f} -> {g['dimension'][-1]:.2f}  "
          f"|dtheta|/|theta0| {g['weight_change'][-1]:.4f}")
fig = plot_geometry_over_training(results)
fig.savefig(FIGDIR / "geometry_over_training.png", dpi=100)

# %% [markdown]
# ### Strategies in the $(R_\text{eff}, D_\text{eff})$ plane
# Iso-capacity contours of the paper's approximation $\alpha \approx (1 + R^{-2})/D$ with each
# run's trajectory: rich runs move to higher capacity by shrinking both radius and dimension;
# the lazy run stays where it started.

# %%
fig, ax = plt.subplots(figsize=(5, 4))
Rg, Dg = np.meshgrid(np.linspace(0.6, 1.1, 100), np.linspace(2.5, 6.5, 100))
cs = ax.contour(Rg, Dg, (1 + Rg**-2) / Dg, levels=8, colors="0.7", linewidths=0.8)
ax.clabel(cs, fontsize=7)
for label, g in results.items():
    ax.plot(g["radius"], g["dimension"], "o-", ms=3, label=label)
    ax.plot(g["radius"][-1], g["dimension"][-1], "k*", ms=7)
ax.set(xlabel="$R_{eff}$", ylabel="$D_{eff}$")
ax.legend(fontsize=8)
fig.savefig(FIGDIR / "geometry_strategies.png", dpi=100)
gain = {k: g["capacity"][-1] / g["capacity"][0] - 1 for k, g in results.items()}
print("capacity gain:", {k: round(float(v), 3) for k, v in gain.items()})

# %% [markdown]
# ## 4. Through the sweep engine: a CNN on digits, every γ at once
# The CPU stand-in for the paper's VGG/ResNet runs on CIFAR-10. `lazyrich.sims.sweep` trains the
# γ-scaled ConvNet for all γ in one vmapped call; metric hooks record the penultimate features
# (and raw outputs, weight change) of a fixed class-balanced probe set at each logged step;
# `geometry_over_sweep` then computes capacity, geometry, $\mathcal D_{LR}$, CKA to the initial
# features and the representation–label alignment for every (γ, seed, step). Small γ is lazy,
# large γ rich; the learning rate is $\eta = \hat\eta\, s(\gamma)$ (same normalised rate).
# The same path runs VGG-11/ResNet-18 on CIFAR-10 files with `geometry.cifar_capacity_sweep`.

# %%
from lazyrich import geometry  # noqa: E402

cfg = sims.SweepConfig(model="convnet", task="digits", padding="SAME", width=8, depth=4,
                       num_steps=300 if FAST else 1500, batch_size=32,
                       log_points=3 if FAST else 10, loss="mse", dtype="float64")
_, digits = sims.resolve(cfg)
data = digits.build(cfg.data_seed, np.float64)
x_probe, y_probe = geometry.balanced_probe(jax.random.key(0), data["test_x"], data["test_y"],
                                           20 if FAST else 30)
gammas = [0.01, 1.0, 5.0]
ds = sims.sweep(cfg, gamma=gammas, eta_hat=[3.0], seeds=[0],
                metrics=geometry.probe_hooks(cfg, x_probe))
geo = geometry.geometry_over_sweep(jax.random.key(1), ds, "features", y_probe,
                                   n_t=60 if FAST else 200)
geo1 = geo.isel(eta_hat=0, seed=0)

fig, axes = plt.subplots(2, 3, figsize=(11, 6), constrained_layout=True)
for ax, var in zip(axes.ravel(), ["capacity", "radius", "dimension", "dlr", "cka_to_init",
                                  "accuracy"], strict=True):
    for g in gammas:
        ax.plot(np.maximum(geo1["step"], 0.5), geo1[var].sel(gamma=g), "o-", ms=3,
                label=f"gamma={g:g}")
    ax.set(xscale="log", xlabel="SGD step", title=var)
axes[0, 0].legend(fontsize=8)
fig.savefig(FIGDIR / "geometry_over_sweep.png", dpi=100)
sweep_gain = (geo1["capacity"].isel(step=-1) / geo1["capacity"].isel(step=0) - 1).values
print("sweep capacity gain:", {f"gamma={g:g}": round(float(v), 3)
                               for g, v in zip(gammas, sweep_gain, strict=True)})
