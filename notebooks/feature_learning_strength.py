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
# # Feature-learning strength γ: lazy, rich and ultra-rich training
#
# The centred μP network $f = (g_\theta - g_{\theta_0})/\gamma$ trained by SGD at step $N\eta$
# (Atanasov et al., ICLR 2025; docs: Gamma scaling). Four views of the (γ, η) landscape:
#
# 1. the **phase map** (Figure 1 of Atanasov et al., ICLR 2025) on a single-index task, with
#    the reference lines η ∝ γ², γ^(2/L) and γ;
# 2. **loss curves across γ**: collapse at fixed η/γ² in the lazy regime, long plateaus in the
#    ultra-rich regime;
# 3. **silent alignment**: the NTK aligns with the task while the loss is flat and ‖K‖ tiny;
# 4. the **staircase** of a deep linear network against the decoupled-mode prediction.
#
# `LAZYRICH_FAST=1` shrinks every size (CI); figures go to `LAZYRICH_FIGDIR` (default: here).

# %%
import os

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from scipy.integrate import solve_ivp

import lazyrich
from lazyrich import analysis as an
from lazyrich import metrics, sims

lazyrich.set_precision("float64")
FAST = os.environ.get("LAZYRICH_FAST") == "1"
FIGDIR = os.environ.get("LAZYRICH_FIGDIR", ".")

# %% [markdown]
# ## 1. The phase map
#
# One vmapped sweep over γ and the normalised rate $\hat\eta = \eta/s(\gamma)$ with
# $s(\gamma) = \gamma^2/(1+\gamma^{2-2/L})$ (docs: Gamma scaling), so every γ column covers its
# own window $[10^{-2}, 10^{1}]\cdot s(\gamma)$. Grey cells diverged; white dots are the sub-grid
# refined η*.

# %%
L = 2
cfg = sims.SweepConfig(depth=L, width=64, num_steps=200 if FAST else 300, batch_size=32,
                       dtype="float64", log_every=10, task_options={"test_size": 256})
gammas = 10.0 ** np.arange(-3, 3.01, 1.0 if FAST else 0.5)
eta_hat = 10.0 ** np.arange(-2, 1.01, 0.5 if FAST else 0.25)
ds = sims.sweep(cfg, gamma=gammas, eta_hat=eta_hat, seeds=range(1 if FAST else 3))
fig, ax = plt.subplots(figsize=(6, 4.5))
an.plot_phase_map(ds, "test_loss", ax=ax)
ax.set_title(f"MLP L = {L}, N = 64, T = {cfg.num_steps}: final test loss")
fig.savefig(os.path.join(FIGDIR, "phase_map.png"), dpi=120, bbox_inches="tight")

es = an.eta_star(ds, "test_loss", 3)
lazy, rich = gammas <= 1e-2, gammas >= 10
print("lazy η* slope:", an.fit_slope(gammas[lazy], es.values[lazy]), "(theory 2)")
print("ultra-rich η* slope:", an.fit_slope(gammas[rich], es.values[rich]),
      f"(theory 2/L = {2 / L:.3g})")

# %% [markdown]
# ## 2. Loss curves across γ
#
# **Lazy:** at fixed η/γ² the dynamics depend on η/γ² only, so the curves for
# γ = 10⁻⁴…10⁻² coincide. **Ultra-rich** (L = 3, η = 0.2γ^(2/3)): a plateau whose length
# grows as γ^(1−2/L) = γ^(1/3), then a drop along the same path (trajectory collapse).

# %%
g_lazy = np.array([1e-4, 1e-3, 1e-2])
out_lazy = sims.run_cells(cfg, gamma=g_lazy, eta=0.3 * g_lazy**2, seed=0)
cfg3 = sims.SweepConfig(depth=3, width=64, num_steps=800 if FAST else 3000, batch_size=32,
                        dtype="float64", log_every=5, task_options={"test_size": 256})
g_rich = np.array([10.0, 100.0, 1e3] if FAST else [10.0, 100.0, 1e3, 1e4])
out_rich = sims.run_cells(cfg3, gamma=g_rich, eta=0.2 * g_rich ** (2 / 3), seed=0)

fig, axs = plt.subplots(1, 2, figsize=(10, 3.6))
for g, c in zip(g_lazy, out_lazy["test_loss"], strict=True):
    axs[0].plot(out_lazy["steps"], c, label=f"γ = {g:.0e}")
axs[0].set(title="lazy: η = 0.3γ²", xlabel="step", ylabel="test loss", yscale="log")
for g, c in zip(g_rich, out_rich["test_loss"], strict=True):
    axs[1].plot(out_rich["steps"][1:], c[1:], label=f"γ = {g:.0e}")
axs[1].set(title="ultra-rich, L = 3: η = 0.2γ^(2/3)", xlabel="step", xscale="log", yscale="log")
for a in axs:
    a.legend(fontsize=8)
fig.savefig(os.path.join(FIGDIR, "loss_curves.png"), dpi=120, bbox_inches="tight")
rel = np.max(np.abs(out_lazy["test_loss"][0] / out_lazy["test_loss"][2] - 1))
print(f"lazy collapse: max relative difference γ = 1e-4 vs 1e-2: {rel:.2e} (O(γ))")
t_half = an.drop_time(out_rich["steps"], out_rich["test_loss"], 0.5)
print("ultra-rich t_1/2:", np.round(t_half, 1), "slope:",
      round(an.fit_slope(g_rich, t_half).slope, 3), "(theory 1/3)")

# %% [markdown]
# ## 3. Silent alignment
#
# A two-layer ReLU network on exactly whitened data, full-batch GD at η = 0.03γ. The metric hooks
# of `lazyrich.metrics.ntk_hooks` record the kernel–target alignment and ‖K‖ on the training
# set inside the compiled run. At γ = 10³ the alignment saturates while the loss is still at
# its initial value and ‖K‖ is a tiny fraction of its final value
# (Atanasov, Bordelon & Pehlevan, ICLR 2022).

# %%
P = 48 if FAST else 128
cfg_sa = sims.SweepConfig(depth=2, width=P, num_steps=800 if FAST else 2000, full_batch=True,
                          dtype="float64", log_every=10,
                          task_options={"train_size": P, "whiten": True, "test_size": 64})
data = sims.make_task("single-index", train_size=P, whiten=True, test_size=64).build(0, jnp.float64)
hooks = metrics.ntk_hooks(data["train_x"], data["train_y"],
                          which=("align", "align_centered", "ntk_norm"))
gamma_sa = 1e3
sa = sims.run_cells(cfg_sa, metrics=hooks, gamma=gamma_sa, eta=0.03 * gamma_sa, seed=0)
t = sa["steps"]
fig, ax = plt.subplots(figsize=(6, 3.8))
ax.plot(t, sa["loss"][0] / sa["loss"][0][0], label="loss / L₀")
ax.plot(t, sa["align"][0], label="alignment A(t)")
ax.plot(t, sa["align_centered"][0], label="centred alignment")
ax.plot(t, sa["ntk_norm"][0] / sa["ntk_norm"][0][-1], label="‖K‖ / ‖K_final‖")
ax.set(xlabel="step", title=f"silent alignment, γ = {gamma_sa:.0e}")
ax.legend(fontsize=8)
fig.savefig(os.path.join(FIGDIR, "silent_alignment.png"), dpi=120, bbox_inches="tight")
a = sa["align"][0]
k90 = int(np.argmax(a >= a[0] + 0.9 * (a.max() - a[0])))
print(f"at t_align90 = {t[k90]}: loss/L0 = {sa['loss'][0][k90] / sa['loss'][0][0]:.4f}, "
      f"|K|/|K_final| = {sa['ntk_norm'][0][k90] / sa['ntk_norm'][0][-1]:.2e}")

# %% [markdown]
# ## 4. The staircase of a deep linear network
#
# Target $B^* = U\,\mathrm{diag}(3, 1, 0.3)\,V^\top$, L = 3, whitened inputs, a small near-decoupled
# balanced initialisation. Each mode obeys $\dot u = L u^{2-2/L}(s_\alpha - u)$
# (Saxe et al. 2014): the loss falls in steps, largest singular value first, at
# $t_\alpha \propto 1/s_\alpha$.

# %%
Ld, s = 3, np.array([3.0, 1.0, 0.3])
C, D, N = 3, 8, 32
rng = np.random.default_rng(5)
U = np.linalg.qr(rng.normal(size=(C, C)))[0]
V = np.linalg.qr(rng.normal(size=(D, C)))[0]
Bstar = jnp.asarray(U @ np.diag(s) @ V.T)
a0 = 0.05
bases = [V] + [np.linalg.qr(rng.normal(size=(N, C)))[0] for _ in range(Ld - 1)] + [U]
Ws = tuple(jnp.asarray(a0 * bases[i + 1] @ bases[i].T
                       + 1e-2 * a0 / np.sqrt(bases[i].shape[0])
                       * rng.normal(size=(bases[i + 1].shape[0], bases[i].shape[0])))
           for i in range(Ld))


def product(Ws):
    B = Ws[0]
    for W in Ws[1:]:
        B = W @ B
    return B


eta_d, steps = 0.005, 4000 if FAST else 20000
grad = jax.jit(jax.grad(lambda Ws: 0.5 * jnp.sum((product(Ws) - Bstar) ** 2)))


@jax.jit
def run(Ws):
    def step(Ws, _):
        Ws = jax.tree.map(lambda w, g: w - eta_d * g, Ws, grad(Ws))
        return Ws, 0.5 * jnp.sum((product(Ws) - Bstar) ** 2)
    return jax.lax.scan(step, Ws, None, length=steps)


_, loss_d = run(Ws)
tau = eta_d * np.arange(1, steps + 1)
u0 = a0**Ld
ode = solve_ivp(lambda _, u: Ld * u ** (2 - 2 / Ld) * (s - u), (0, tau[-1]), np.full(3, u0),
                t_eval=tau, rtol=1e-10, atol=1e-14, method="DOP853")
loss_theory = 0.5 * np.sum((s[:, None] - ode.y) ** 2, axis=0)
fig, ax = plt.subplots(figsize=(6, 3.8))
ax.plot(tau, np.asarray(loss_d), label="GD, width-32 deep linear net")
ax.plot(tau, loss_theory, "--", label="decoupled modes (theory)")
for sa_ in s:
    ax.axvline(lazyrich.theory.mode_learning_time(sa_, u0, Ld), color="0.7", lw=0.8)
ax.set(xscale="log", yscale="log", xlabel="τ = η·step", ylabel="loss", title="staircase, L = 3")
ax.legend(fontsize=8)
fig.savefig(os.path.join(FIGDIR, "staircase.png"), dpi=120, bbox_inches="tight")
times, drops = an.staircase_steps(tau, np.asarray(loss_d), min_drop=0.005)
print("step times:", np.round(times, 2), " t_α·s_α:", np.round(times * s[: len(times)], 2))
print("step drops:", np.round(drops, 3), " theory ½s²:", 0.5 * s**2)
