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
# # Dynamical mean field theory: the infinite-width rich trajectory on top of width sweeps
#
# At fixed feature-learning strength γ and width $N\to\infty$ the centred μP network trained by
# full-batch GD is not a kernel method: its feature and gradient kernels evolve by the
# self-consistent equations of Bordelon & Pehlevan, "Self-Consistent Dynamical Field Theory of
# Kernel Evolution in Wide Neural Networks" (NeurIPS 2022). `lazyrich.theory` solves them in
# the engine's own units (docs: Dynamical mean field theory; docs: Conventions): loss
# $\frac1P\sum_\mu(f_\mu-y_\mu)^2$ without ½, step $N\eta$, centred output
# $f = (g_\theta - g_{\theta_0})/\gamma$. A DMFT trajectory therefore sits on top of
# `sims.run_cells` networks with no rescaling, and finite networks fluctuate around it by
# $O(N^{-1/2})$ (with an $O(N^{-1})$ shift of the mean).
#
# 1. two-layer **linear** networks at γ ∈ {0.5, 1, 2}, $\eta = \eta_0\gamma^2$: the exact DMFT
#    loss curve against networks of growing width, and the lazy kernel prediction for contrast;
# 2. the same for **erf** networks, with the Monte Carlo DMFT and its standard error;
# 3. **feature learning**: the alignment of the feature kernel Φ(t,t) with $yy^\top$ over time
#    at γ ∈ {0.1, 1, 10}, DMFT against a wide network;
# 4. a **deep linear** (three-layer) network, where the DMFT has response (Onsager) terms.
#
# Set `LAZYRICH_FAST=1` for a short version; figures go to `LAZYRICH_FIGDIR` (default: here).

# %%
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import lazyrich
from lazyrich import metrics, sims, theory

lazyrich.set_precision("float64")
FAST = os.environ.get("LAZYRICH_FAST") == "1"
FIGDIR = Path(os.environ.get("LAZYRICH_FIGDIR", "."))

rng = np.random.default_rng(0)
D, P = 8, 8
x = rng.normal(size=(P, D))
x *= np.sqrt(D) / np.linalg.norm(x, axis=1, keepdims=True)     # |x|^2 = D
beta = rng.normal(size=D) / np.sqrt(D)
y = np.tanh(2 * x @ beta) + 0.5 * x @ beta
task = sims.array_task(x, y)

widths = [64, 4096] if FAST else [64, 256, 1024, 4096]
seeds = np.arange(24 if FAST else 64)
gammas = np.array([0.5, 1.0, 2.0])
eta0 = 0.15                                                    # η = η0 γ²
n_steps = 60 if FAST else 100
steps = np.arange(n_steps + 1)


def network_losses(cfg, gammas, etas):
    """Training loss of every (γ, seed) at every width: {N: array (γ, seed, step)}.
    One compiled call per width, all (γ, seed) cells vmapped."""
    G, S = np.meshgrid(np.arange(len(gammas)), seeds, indexing="ij")
    out = {}
    for N in widths:
        o = sims.run_cells(cfg.replace(width=N), gamma=np.asarray(gammas)[G.ravel()],
                           eta=np.asarray(etas)[G.ravel()], seed=S.ravel())
        out[N] = o["loss"].reshape(len(gammas), seeds.size, -1)
    return out


def report(name, gammas, nets, ref, lazy):
    """Print, per γ, the max gap over steps of the seed-mean loss to the DMFT and to the kernel
    prediction at each width, and the seed spread (max over steps of the seed std)."""
    def fmt(vals):
        return ", ".join(f"N={N}: {v:.3g}" for N, v in zip(widths, vals, strict=True))

    for i, g in enumerate(gammas):
        mean_gap = [np.max(np.abs(nets[N][i].mean(0) - ref[i])) for N in widths]
        lazy_gap = [np.max(np.abs(nets[N][i].mean(0) - lazy[i])) for N in widths]
        spread = [np.max(nets[N][i].std(0, ddof=1)) for N in widths]
        print(f"{name} gamma={g:g}: gap to DMFT {fmt(mean_gap)}")
        print(f"{name} gamma={g:g}: gap to kernel {fmt(lazy_gap)}")
        print(f"{name} gamma={g:g}: seed spread {fmt(spread)}")
        print(f"{name} gamma={g:g}: DMFT vs kernel {np.max(np.abs(ref[i] - lazy[i])):.3g}")


def overlay(nets, ref, lazy, gammas, ref_se=None):
    """One panel per γ: DMFT (black), kernel prediction (dashed), seed mean ± std per width."""
    fig, axes = plt.subplots(1, len(gammas), figsize=(4.2 * len(gammas), 3.5), squeeze=False)
    for i, (g, ax) in enumerate(zip(gammas, axes[0], strict=True)):
        for N in widths:
            m, s = nets[N][i].mean(0), nets[N][i].std(0, ddof=1)
            (line,) = ax.plot(steps, m, lw=1, label=f"N = {N} (mean ± std)")
            ax.fill_between(steps, m - s, m + s, color=line.get_color(), alpha=0.15)
        ax.plot(steps, ref[i], "k-", lw=2, label="DMFT (N = ∞)")
        if ref_se is not None:
            ax.fill_between(steps, ref[i] - 2 * ref_se[i], ref[i] + 2 * ref_se[i], color="k",
                            alpha=0.3)
        ax.plot(steps, lazy[i], "k--", lw=1, label="kernel dynamics (lazy)")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_title(f"γ = {g:g}")
    axes[0, 0].set_ylabel("training loss")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


# %% [markdown]
# ## 1. Two-layer linear networks: DMFT against width
#
# For φ(u) = u the DMFT is an exact $(P+1)\times(P+1)$ moment recursion
# (`theory.dmft_two_layer_linear`). The lazy reference is `theory.kernel_dynamics` with the
# infinite-width NTK $\Theta = 2K^x$ (`mlp_kernels(..., depth=2, activation="linear").ntk`): it
# is the γ → 0 limit of the DMFT at fixed $\eta_0$, and the two part as γ grows. The seed mean of
# the networks approaches the DMFT as N grows: its gap is the $O(N^{-1})$ shift of the mean
# (about 0.01 in the loss at N = 64 here) plus the seed average of the $O(N^{-1/2})$ spread,
# std$/\sqrt S$, and both shrink with N. At γ = 2 the kernel prediction is far off at every
# width: the networks follow the DMFT, not the lazy limit.

# %%
etas = eta0 * gammas**2
K_lin = theory.mlp_kernels(x, depth=2, activation="linear").ntk
dmft_lin = np.stack([np.asarray(theory.dmft_two_layer_linear(x, y, gamma=g, eta=e,
                                                             steps=n_steps).loss)
                     for g, e in zip(gammas, etas, strict=True)])
lazy_lin = np.stack([np.asarray(theory.kernel_dynamics(K_lin, y, steps=steps, eta=e,
                                                       gamma=g).loss)
                     for g, e in zip(gammas, etas, strict=True)])
cfg = sims.SweepConfig(model="mlp", depth=2, width=widths[0], activation="linear", task=task,
                       full_batch=True, num_steps=n_steps, log_every=1, dtype="float64")
nets_lin = network_losses(cfg, gammas, etas)
overlay(nets_lin, dmft_lin, lazy_lin, gammas).savefig(FIGDIR / "dmft_width.png", dpi=100)
report("linear", gammas, nets_lin, dmft_lin, lazy_lin)

# %% [markdown]
# The gaps against N: the seed mean's gap to the DMFT and the seed spread fall together with
# the $N^{-1/2}$ guide, while the gap to the kernel prediction levels off at the DMFT's own
# distance to it.

# %%
fig, axes = plt.subplots(1, len(gammas), figsize=(4.2 * len(gammas), 3.3), sharey=True)
for i, (g, ax) in enumerate(zip(gammas, axes, strict=True)):
    ax.loglog(widths, [np.max(np.abs(nets_lin[N][i].mean(0) - dmft_lin[i])) for N in widths],
              "o-", label="|seed mean − DMFT|")
    ax.loglog(widths, [np.max(np.abs(nets_lin[N][i].mean(0) - lazy_lin[i])) for N in widths],
              "s--", label="|seed mean − kernel|")
    ax.loglog(widths, [np.max(nets_lin[N][i].std(0, ddof=1)) for N in widths], "^:",
              label="seed std")
    w = np.asarray(widths, float)
    ax.loglog(w, np.max(nets_lin[widths[0]][i].std(0, ddof=1)) * (w / w[0]) ** -0.5, "k:",
              lw=0.8, label="∝ N^(-1/2)")
    ax.set_xlabel("width N")
    ax.set_title(f"γ = {g:g}")
axes[0].set_ylabel("max over steps (loss)")
axes[0].legend(fontsize=7)
fig.tight_layout()
fig.savefig(FIGDIR / "dmft_gap.png", dpi=100)

# %% [markdown]
# ## 2. Two-layer erf networks: the Monte Carlo DMFT
#
# For a nonlinear φ the single-site process is sampled (`theory.dmft_two_layer`): `replicas`
# independent populations of `samples` sites; the band is ± 2 standard errors of the replica
# mean (`loss_se`). The lazy reference uses the erf NTK.

# %%
gam_erf = np.array([1.0, 2.0]) if not FAST else np.array([2.0])
eta_erf = eta0 * gam_erf**2
K_erf = theory.mlp_kernels(x, depth=2, activation="erf").ntk
sols = [theory.dmft_two_layer(jax.random.key(1), x, y, activation="erf", gamma=g, eta=e,
                              steps=n_steps, samples=4000 if FAST else 16000, replicas=8)
        for g, e in zip(gam_erf, eta_erf, strict=True)]
dmft_erf = np.stack([np.asarray(s.loss) for s in sols])
dmft_erf_se = np.stack([np.asarray(s.loss_se) for s in sols])
lazy_erf = np.stack([np.asarray(theory.kernel_dynamics(K_erf, y, steps=steps, eta=e,
                                                       gamma=g).loss)
                     for g, e in zip(gam_erf, eta_erf, strict=True)])
nets_erf = network_losses(cfg.replace(activation="erf"), gam_erf, eta_erf)
overlay(nets_erf, dmft_erf, lazy_erf, gam_erf, dmft_erf_se).savefig(FIGDIR / "dmft_erf.png",
                                                                    dpi=100)
report("erf", gam_erf, nets_erf, dmft_erf, lazy_erf)
for g, se in zip(gam_erf, dmft_erf_se, strict=True):
    print(f"erf gamma={g:g}: DMFT Monte Carlo s.e. (max over steps) {np.max(se):.3g}")

# %% [markdown]
# ## 3. Feature learning: the feature kernel aligns with the task
#
# The uncentred kernel–target alignment $A(t) = y^\top\Phi(t,t)y/(|y|^2\lVert\Phi\rVert_F)$
# (`metrics.kernel_alignment`) of the hidden-layer feature kernel, in the DMFT
# (`DMFTSolution.feature_kernel`) and in a wide network (its features $\phi(h)$ logged by a
# metric hook). The rate follows the normalised rate $\eta = \hat\eta\,s(\gamma)$
# (`sims.eta_from_hat`, docs: Gamma scaling) so that γ = 10 is stable. At γ = 0.1 the kernel
# barely moves (lazy); the richer the training, the more Φ turns towards $yy^\top$.

# %%
gam_al = np.array([0.1, 1.0, 10.0])
eta_al = np.array([float(sims.eta_from_hat(0.3, g, depth=2)) for g in gam_al])
N_al = 1024 if FAST else 4096
seeds_al = np.arange(2 if FAST else 4)
align_dmft = []
for g, e in zip(gam_al, eta_al, strict=True):
    Phi = np.asarray(theory.dmft_two_layer_linear(x, y, gamma=g, eta=e,
                                                  steps=n_steps).feature_kernel)[0]
    align_dmft.append([metrics.kernel_alignment(P_t, y) for P_t in Phi])
align_dmft = np.asarray(align_dmft)
cfg_al = cfg.replace(width=N_al)
model, _ = sims.resolve(cfg_al)
xj, yj = jnp.asarray(x), jnp.asarray(y)


def feature_alignment(ctx):
    F = model.features(ctx.params, xj)
    return metrics.kernel_alignment(F @ F.T / F.shape[1], yj)


G, S = np.meshgrid(np.arange(gam_al.size), seeds_al, indexing="ij")
o = sims.run_cells(cfg_al, metrics={"align": feature_alignment}, gamma=gam_al[G.ravel()],
                   eta=eta_al[G.ravel()], seed=S.ravel())
align_net = o["align"].reshape(gam_al.size, seeds_al.size, -1)
fig, ax = plt.subplots(figsize=(5, 3.5))
for i, g in enumerate(gam_al):
    (line,) = ax.plot(steps, align_dmft[i], lw=2, label=f"DMFT γ = {g:g}")
    for s in range(seeds_al.size):
        ax.plot(steps[::5], align_net[i, s, ::5], "o", ms=3, alpha=0.5, color=line.get_color())
ax.set_xlabel("step")
ax.set_ylabel("alignment of Φ(t,t) with yyᵀ")
ax.set_title(f"DMFT (lines) and networks N = {N_al} (dots)")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(FIGDIR / "dmft_alignment.png", dpi=100)
print("initial alignment:", f"{align_dmft[0, 0]:.3f}")
print("final alignment DMFT:",
      ", ".join(f"gamma={g:g}: {a:.3f}" for g, a in zip(gam_al, align_dmft[:, -1], strict=True)))
print(f"final alignment network N={N_al}:",
      ", ".join(f"gamma={g:g}: {a:.3f}"
                for g, a in zip(gam_al, align_net[:, :, -1].mean(1), strict=True)))

# %% [markdown]
# ## 4. A deep linear network (L = 3)
#
# With a hidden N×N matrix the initial weights are reused by the forward and backward passes, and
# the DMFT gains response terms; `theory.dmft_deep_linear` solves the matrix equations by a
# damped fixed point (its residual trace is returned). Networks: the engine's
# `model="deep-linear"`.

# %%
g_deep = 2.0
eta_deep = float(sims.eta_from_hat(0.2, g_deep, depth=3))
n_deep = 30 if FAST else 40
widths_deep = [128, 512] if FAST else [128, 512, 1024]
seeds_deep = seeds[:12 if FAST else 32]
sol = theory.dmft_deep_linear(x, y, depth=3, gamma=g_deep, eta=eta_deep, steps=n_deep)
K3 = theory.mlp_kernels(x, depth=3, activation="linear").ntk
lazy3 = np.asarray(theory.kernel_dynamics(K3, y, steps=np.arange(n_deep + 1), eta=eta_deep,
                                          gamma=g_deep).loss)
cfg3 = sims.SweepConfig(model="deep-linear", depth=3, width=128, task=task, full_batch=True,
                        num_steps=n_deep, log_every=1, dtype="float64")
fig, ax = plt.subplots(figsize=(5, 3.5))
gaps3 = []
for N in widths_deep:
    loss3 = sims.run_cells(cfg3.replace(width=N), gamma=g_deep, eta=eta_deep,
                           seed=seeds_deep)["loss"]
    m, s = loss3.mean(0), loss3.std(0, ddof=1)
    (line,) = ax.plot(np.arange(n_deep + 1), m, lw=1, label=f"N = {N} (mean ± std)")
    ax.fill_between(np.arange(n_deep + 1), m - s, m + s, color=line.get_color(), alpha=0.15)
    gaps3.append(np.max(np.abs(m - np.asarray(sol.loss))))
ax.plot(np.arange(n_deep + 1), np.asarray(sol.loss), "k-", lw=2, label="DMFT (N = ∞)")
ax.plot(np.arange(n_deep + 1), lazy3, "k--", lw=1, label="kernel dynamics (lazy)")
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel("training loss")
ax.set_title(f"deep linear, L = 3, γ = {g_deep:g}")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(FIGDIR / "dmft_deep.png", dpi=100)
print(f"deep linear: {sol.residuals.size} sweeps to residual {sol.residuals[-1]:.2g}")
print("deep linear gap to DMFT:",
      ", ".join(f"N={N}: {v:.3g}" for N, v in zip(widths_deep, gaps3, strict=True)))
print(f"deep linear DMFT vs kernel {np.max(np.abs(np.asarray(sol.loss) - lazy3)):.3g}")
