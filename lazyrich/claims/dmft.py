"""Claims of the dynamical mean field theory (DMFT) of the centred μP-γ network: the rich
infinite-width limit at fixed γ (Bordelon & Pehlevan, NeurIPS 2022, arXiv:2205.09653; finite-width
fluctuations: Bordelon & Pehlevan, NeurIPS 2023, arXiv:2304.03408; docs: Dynamical mean field
theory). Every claim puts a DMFT trajectory against something computed without it: the lazy kernel
dynamics, networks trained by the sweep engine at several widths, or the exact aligned-mode
solution of two-layer linear networks (Dominé et al. 2025; docs: Linear networks)."""

import functools

import numpy as np

from lazyrich.verify import Outcome, Plot, Series, claim

_SRC = "Bordelon & Pehlevan 2022; docs: Dynamical mean field theory"


def _x64():
    import jax

    return jax.enable_x64(True)


def _task(P: int, D: int, seed: int = 0, orthogonal: bool = False):
    r"""P inputs in D dimensions with :math:`|x|^2 = D` (so :math:`K^x_{\mu\mu} = 1`) and targets
    :math:`\tanh(2\beta\cdot x) + \tfrac12\beta\cdot x` (a single-index teacher); with
    ``orthogonal`` the inputs are :math:`\sqrt D` times orthonormal rows (:math:`K^x = I`)."""
    rng = np.random.default_rng(seed)
    if orthogonal:
        q, _ = np.linalg.qr(rng.standard_normal((D, D)))
        X = np.sqrt(D) * q[:P]
    else:
        X = rng.standard_normal((P, D))
        X *= np.sqrt(D) / np.linalg.norm(X, axis=1, keepdims=True)
    beta = rng.standard_normal(D) / np.sqrt(D)
    z = X @ beta
    return X, np.tanh(2 * z) + 0.5 * z


def _slope(x, y) -> float:
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


def _two_layer_cfg(X, y, width: int, steps: int, activation: str = "linear"):
    from lazyrich import sims

    return sims.SweepConfig(model="mlp", depth=2, width=width, activation=activation,
                            task=sims.array_task(X, y), full_batch=True, dtype="float64",
                            num_steps=steps, log_every=1)


# ------------------------------------------------------------------------- γ → 0: the NTK
GAMMAS_SMALL = (1e-1, 1e-2, 1e-3)


@claim("dmft/gamma-to-zero-kernel-dynamics",
       reference="theory.kernel_dynamics (eigendecomposition closed form) with the NTK of "
                 "theory.mlp_kernels (the infinite-width recursion)",
       statement="As γ → 0 at fixed η/γ², the DMFT is kernel dynamics with the infinite-width "
                 "NTK, f ← f + (2η/(Pγ²))Θ(y − f) per step, with a correction O(γ²) (the "
                 "equations are even in γ): two-layer and three-layer linear networks exactly, "
                 "erf networks by Monte Carlo",
       measure="P = 6 train + 2 test points, D = 8, η = 0.1γ², 30 steps, γ ∈ {1e-1, 1e-2, 1e-3}; "
               "gap = max over steps and points of |f_DMFT − f_kernel|; measured = fitted "
               "log-log slope of the two-layer linear gap; details: the depth-3 slope "
               "(dmft_deep_linear) and the erf Monte Carlo slope (4000 samples, one replica with "
               "the same key at every γ, against kernel dynamics with the samples' own initial "
               "NTK) and its gap to the exact Θ at γ = 1e-2 in replica standard errors (16 "
               "replicas of 2000)",
       why="deterministic solvers: slope 2 ± 0.05 (the O(γ⁴) next term bends the fit by "
           "< 0.01 over these decades; measured 1.995) and the gap at γ = 1e-3 below 1e-5. Monte "
           "Carlo: slope 2 ± 0.2 (sampling noise of the O(γ²) term), |gap to Θ| < 4 s.e. at "
           "γ = 1e-2",
       source=_SRC)
def _gamma_to_zero(quick: bool) -> Outcome:
    import jax

    from lazyrich.theory import (
        dmft_deep_linear,
        dmft_two_layer,
        dmft_two_layer_linear,
        kernel_dynamics,
        mlp_kernels,
    )

    X, y = _task(8, 8, seed=1)
    xtr, xte, ytr = X[:6], X[6:], y[:6]
    steps = 30
    k = np.arange(steps + 1)
    gaps = {"L=2": [], "L=3": [], "erf": []}
    with _x64():
        for depth in (2, 3):
            K = np.asarray(mlp_kernels(xtr, depth=depth, activation="linear").ntk)
            Ks = np.asarray(mlp_kernels(xte, xtr, depth=depth, activation="linear").ntk)
            for g in GAMMAS_SMALL:
                kd = kernel_dynamics(K, ytr, steps=k, eta=0.1 * g * g, gamma=g, k_test_train=Ks)
                if depth == 2:
                    sol = dmft_two_layer_linear(xtr, ytr, xte, gamma=g, eta=0.1 * g * g,
                                                steps=steps)
                else:
                    sol = dmft_deep_linear(xtr, ytr, xte, depth=3, gamma=g, eta=0.1 * g * g,
                                           steps=steps, tol=1e-14)
                gaps[f"L={depth}"].append(max(
                    np.max(np.abs(np.asarray(sol.f_train) - np.asarray(kd.train))),
                    np.max(np.abs(np.asarray(sol.f_test) - np.asarray(kd.test)))))
        for g in GAMMAS_SMALL:
            # one replica, the same key at every γ (common random numbers): the trajectory is
            # kernel dynamics with the samples' own initial NTK plus O(γ²)
            sol = dmft_two_layer(jax.random.key(7), xtr, ytr, activation="erf", gamma=g,
                                 eta=0.1 * g * g, steps=steps, samples=4000, replicas=1)
            K0 = np.asarray(sol.ntk[0])
            kd = kernel_dynamics(K0, ytr, steps=k, eta=0.1 * g * g, gamma=g)
            gaps["erf"].append(np.max(np.abs(np.asarray(sol.f_train) - np.asarray(kd.train))))
        g = 1e-2  # against the exact Θ the gap is the Monte Carlo error: in replica s.e.
        sol = dmft_two_layer(jax.random.key(8), xtr, ytr, activation="erf", gamma=g,
                             eta=0.1 * g * g, steps=steps, samples=2000, replicas=16)
        Th = np.asarray(mlp_kernels(xtr, depth=2, activation="erf").ntk)
        kd_exact = kernel_dynamics(Th, ytr, steps=k, eta=0.1 * g * g, gamma=g)
        z = (np.asarray(sol.f_train) - np.asarray(kd_exact.train))[1:] / np.asarray(
            sol.f_train_se)[1:]
        z_theta = float(np.max(np.abs(z)))
    slopes = {name: _slope(GAMMAS_SMALL, v) for name, v in gaps.items()}
    ok = (abs(slopes["L=2"] - 2) <= 0.05 and abs(slopes["L=3"] - 2) <= 0.05
          and gaps["L=2"][-1] < 1e-5 and gaps["L=3"][-1] < 1e-5
          and abs(slopes["erf"] - 2) <= 0.2 and z_theta < 4.0)
    plot = Plot([Series(GAMMAS_SMALL, v, name, kind="sim") for name, v in gaps.items()]
                + [Series(GAMMAS_SMALL, gaps["L=2"][0] * (np.asarray(GAMMAS_SMALL) / 0.1) ** 2,
                          "∝ γ²")],
                xlabel="γ", ylabel="max |f_DMFT − f_kernel|", xscale="log", yscale="log",
                title="γ → 0: DMFT → kernel dynamics with the NTK")
    return Outcome(2.0, slopes["L=2"], 0.05, bool(ok), plot=plot,
                   details={"slope L=2": slopes["L=2"], "slope L=3": slopes["L=3"],
                            "slope erf (Monte Carlo)": slopes["erf"],
                            "gaps L=2": gaps["L=2"], "gaps L=3": gaps["L=3"],
                            "gaps erf": gaps["erf"],
                            "erf vs exact Θ at γ=1e-2 (max |z|)": z_theta})


# ------------------------------------------------------------- the aligned-mode bridge
@claim("dmft/aligned-mode-bridge",
       reference="theory.aligned_mode: Dominé et al.'s exact λ-balanced mode solution (gradient "
                 "flow), a formula derived without the DMFT",
       statement="For a two-layer linear network on orthogonal inputs (Kˣ = I) the infinite-width "
                 "DMFT is one aligned mode of a λ-balanced linear network: f = a(t)·ŷ with "
                 "a = aligned_mode(s = |y|, λ = 2/γ, a₀ = 0, t = 2T/(Pγ)), T = η·steps; discrete "
                 "GD approaches it at rate O(η)",
       measure="P = 4, D = 4, orthonormal inputs scaled to |x|² = D, γ ∈ {0.5, 1, 2}, T = 6, "
               "η ∈ {0.02, 0.01, 0.005}·γ: max over steps of |f_DMFT − a·ŷ| "
               "(dmft_two_layer_linear); measured = the error ratio per halving of η farthest "
               "from 2 (first order); details: the errors, the Richardson-extrapolated gap "
               "2e(η/2) − e(η), and dmft_deep_linear(depth = 2) against the two-layer solver "
               "(< 1e-12, the same equations by another route)",
       why="the DMFT is discrete GD of the flow that the mode solves: its error is first order "
           "in η, so each halving divides it by 2 (± 0.15: second-order terms at these η, "
           "measured 2.00–2.11); the extrapolated gap removes the O(η) term and must be 10× "
           "smaller than the finest gap",
       source="Bordelon & Pehlevan 2022; Dominé et al. 2025; docs: Dynamical mean field theory")
def _bridge(quick: bool) -> Outcome:
    from lazyrich.theory import aligned_mode, dmft_deep_linear, dmft_two_layer_linear

    P, D = 4, 4
    X, y = _task(P, D, seed=2, orthogonal=True)
    s = float(np.linalg.norm(y))
    yhat = y / s
    worst, det, series = 0.0, {}, []
    extrap_ok = True
    deep_gap = 0.0
    with _x64():
        for g in (0.5, 1.0, 2.0):
            e = []
            for c in (0.02, 0.01, 0.005):
                eta = c * g
                steps = int(round(6.0 / eta))
                T = eta * np.arange(steps + 1)
                a = np.asarray(aligned_mode(s, 2.0 / g, 0.0, 2.0 * T / (P * g)))
                sol = dmft_two_layer_linear(X, y, gamma=g, eta=eta, steps=steps)
                e.append(float(np.max(np.abs(np.asarray(sol.f_train) - a[:, None] * yhat))))
                if c == 0.02:  # the deep-linear solver at depth 2: the same trajectory
                    deep = dmft_deep_linear(X, y, depth=2, gamma=g, eta=eta, steps=steps)
                    deep_gap = max(deep_gap, float(np.max(np.abs(
                        np.asarray(deep.f_train) - np.asarray(sol.f_train)))))
                if g == 1.0 and c == 0.005:
                    series += [Series(T, a, "aligned mode a(2T/(Pγ)), λ = 2/γ"),
                               Series(T[::20], np.asarray(sol.f_train)[::20] @ yhat,
                                      "DMFT f·ŷ (γ = 1, η = 0.005)", kind="sim")]
            ratios = [e[0] / e[1], e[1] / e[2]]
            worst = max(worst, max(abs(r - 2.0) for r in ratios))
            extrap = abs(2 * e[2] - e[1])
            extrap_ok &= extrap < 0.1 * e[2]
            det[f"γ={g:g} errors"] = e
            det[f"γ={g:g} ratios"] = ratios
            det[f"γ={g:g} extrapolated gap"] = extrap
    det["dmft_deep_linear(depth=2) vs dmft_two_layer_linear"] = deep_gap
    plot = Plot(series, xlabel="T = η·steps", ylabel="f along ŷ",
                title="two-layer linear DMFT = λ-balanced aligned mode, λ = 2/γ")
    ok = worst <= 0.15 and extrap_ok and deep_gap < 1e-12
    return Outcome(2.0, 2.0 + worst, 0.15, bool(ok), plot=plot, details=det)


# ---------------------------------------------------------------- width sweeps → DMFT
WIDTH_GAMMAS = (0.5, 1.0, 2.0)


def _initial_moments(cfg, X, seeds):
    r"""Each seed's empirical moments :math:`C_N(0) = \frac1N\sum_i s_is_i^\top`,
    :math:`s_i = (a_i, h_i(x_1),\dots,h_i(x_P))`, from the engine's own θ₀ (``(S, P+1, P+1)``):
    the control variates (their expectation, diag(1, Kˣ), is known exactly)."""
    from lazyrich import sims

    p0 = sims.initial_params(cfg, seeds)
    W0 = np.asarray(p0["w"][0])  # (S, D, N)
    w = np.asarray(p0["w"][1])[..., 0]  # (S, N)
    h = np.einsum("pd,sdn->spn", X, W0) / np.sqrt(X.shape[1])
    s = np.concatenate([w[:, None, :], h], axis=1)
    return np.einsum("sin,sjn->sij", s, s) / cfg.width


def control_variate_mean(values, controls):
    r"""Mean of ``values`` (S,) with control variates ``controls`` (S, k) of known mean 0: the
    intercept of the least-squares fit values ≈ β₀ + controls·β and its standard error (the OLS
    one, with the residual variance on S − k − 1 degrees of freedom). It removes the part of the
    seed-to-seed spread that is linear in the controls, here the O(N^{-1/2}) part."""
    S = values.shape[0]
    A = np.concatenate([np.ones((S, 1)), controls], axis=1)
    coef, *_ = np.linalg.lstsq(A, values, rcond=None)
    resid = values - A @ coef
    dof = S - A.shape[1]
    if dof < 4:
        raise ValueError(f"control_variate_mean: {S} samples for {A.shape[1]} coefficients")
    cov = np.linalg.pinv(A.T @ A) * (resid @ resid / dof)
    return float(coef[0]), float(np.sqrt(cov[0, 0]))


@functools.lru_cache(maxsize=2)
def _width_runs(quick: bool):
    from lazyrich import sims
    from lazyrich.theory import dmft_two_layer_linear

    P, D, steps = 4, 8, 60
    X, y = _task(P, D, seed=0)
    Kx = X @ X.T / D
    widths = (128, 256, 512, 1024, 2048) if quick else (128, 256, 512, 1024, 2048, 4096)
    S = 64 if quick else 128
    C0 = np.zeros((P + 1, P + 1))
    C0[0, 0], C0[1:, 1:] = 1.0, Kx
    iu = np.triu_indices(P + 1)
    lam = np.linalg.eigvalsh(2 * Kx).max()
    out = {}
    with _x64():
        for g in WIDTH_GAMMAS:
            eta = 0.25 * P * g * g / (2 * lam)  # a·λ_max = 0.25 in the lazy limit
            ref = np.asarray(dmft_two_layer_linear(X, y, gamma=g, eta=eta, steps=steps).loss)
            rows = []
            for N in widths:
                cfg = _two_layer_cfg(X, y, N, steps)
                seeds = np.arange(S)
                run = sims.run_cells(cfg, gamma=np.full(S, g), eta=np.full(S, eta), seed=seeds)
                loss = run["test_loss"]  # the training set is the test set: the full loss
                Z = (_initial_moments(cfg, X, seeds) - C0)[:, iu[0], iu[1]]
                rows.append((N, loss, Z))
            out[g] = (ref, rows, eta)
    return widths, steps, out


@claim("dmft/width-convergence",
       reference="two-layer linear networks trained by the sweep engine at N = 128…2048 (full: "
                 "…4096), 64 (128) seeds per width",
       statement="Finite networks converge to the DMFT: the seed mean of the loss curve deviates "
                 "by O(1/N) and the seed spread by O(N^{-1/2}) (Bordelon & Pehlevan 2023), at "
                 "γ ∈ {0.5, 1, 2}",
       measure="P = 4, D = 8, 60 full-batch steps (a·λ_max = 0.25 at γ → 0), float64; observable "
               "= the loss at step 20 (mid-learning); mean gap = control-variate estimate of "
               "E[loss_N] − loss_DMFT (regression on the 15 entries of each seed's initial "
               "moments C_N(0) − diag(1, Kˣ), whose mean is exactly 0); spread = seed s.d.; "
               "measured = worst |slope − prediction| over the 6 fitted slopes",
       why="tolerance ±0.2 on each slope (the O(N^{-2}) and O(N^{-3/2}) next terms bend the fits "
           "at N = 128; measured mean slopes −1.15…−1.17 and spread −0.64 at the final step "
           "over N = 128…4096 in a 64-seed trial). Without control variates the mean is "
           "unresolved past N ≈ 512 (its seed noise ~ N^{-1/2}/√S exceeds the 1/N shift)",
       source="Bordelon & Pehlevan 2023; docs: Dynamical mean field theory")
def _width(quick: bool) -> Outcome:
    widths, steps, out = _width_runs(quick)
    k = 20
    worst, det, series = 0.0, {}, []
    for g, (ref, rows, _eta) in out.items():
        gaps, ses, sds = [], [], []
        for _N, loss, Z in rows:
            m, se = control_variate_mean(loss[:, k], Z)
            gaps.append(m - ref[k])
            ses.append(se)
            sds.append(float(np.std(loss[:, k], ddof=1)))
        gaps = np.asarray(gaps)
        positive = bool(np.all(gaps > 2 * np.asarray(ses)))  # resolved at every width
        mean_slope = _slope(widths, np.abs(gaps)) if positive else float("nan")
        spread_slope = _slope(widths, sds)
        worst = max(worst, abs(mean_slope + 1.0) if positive else np.inf,
                    abs(spread_slope + 0.5))
        det[f"γ={g:g} mean-gap slope"] = mean_slope
        det[f"γ={g:g} spread slope"] = spread_slope
        det[f"γ={g:g} mean gaps"] = gaps.tolist()
        det[f"γ={g:g} mean-gap s.e."] = ses
        det[f"γ={g:g} mean gap resolved (> 2 s.e.) at every N"] = positive
        series += [Series(widths, np.abs(gaps), f"|mean gap| γ={g:g}", kind="sim"),
                   Series(widths, sds, f"spread γ={g:g}", kind="reference")]
    w = np.asarray(widths, float)
    series += [Series(w, det[f"γ={WIDTH_GAMMAS[0]:g} mean gaps"][0] * (w / w[0]) ** -1.0, "∝ 1/N"),
               Series(w, series[1].y[0] * (w / w[0]) ** -0.5, "∝ N^(-1/2)")]
    plot = Plot(series, xlabel="width N", ylabel="loss at step 20: |mean − DMFT|, seed s.d.",
                xscale="log", yscale="log", title="finite networks → DMFT")
    return Outcome("slopes −1 (mean), −1/2 (spread)", worst, 0.2, bool(worst <= 0.2), plot=plot,
                   details=det)


# ------------------------------------------------------------- depth 3 vs networks
@functools.lru_cache(maxsize=2)
def _deep_runs(quick: bool):
    from lazyrich import sims
    from lazyrich.theory import dmft_deep_linear

    P, D, steps, g = 4, 8, 30, 2.0
    X, y = _task(P, D, seed=3)
    widths = (256, 512, 1024, 2048)
    S = 8 if quick else 16
    eta = 0.05 * g  # the rich side of the crossover for L = 3
    with _x64():
        ref = np.asarray(dmft_deep_linear(X, y, depth=3, gamma=g, eta=eta, steps=steps,
                                          tol=1e-13).f_train)
        nets = {}
        for N in widths:
            cfg = sims.SweepConfig(model="deep-linear", depth=3, width=N, task=sims.array_task(
                X, y), full_batch=True, dtype="float64", num_steps=steps, log_every=1)
            run = sims.run_cells(cfg, metrics={"f": _f_train}, gamma=np.full(S, g),
                                 eta=np.full(S, eta), seed=np.arange(S))
            nets[N] = run["f"][..., 0]  # (S, steps + 1, P)
    return widths, ref, nets, eta, g


def _f_train(c):
    """Metric hook: the centred γ-scaled outputs on the (test = training) points."""
    return c.f(c.params, c.x_test)


@claim("dmft/deep-linear-vs-networks",
       reference="three-layer linear networks (sims, model 'deep-linear') trained by the sweep "
                 "engine at N = 256…2048, 8 (full: 16) seeds",
       statement="The deep-linear DMFT (with the response functions of the reused hidden matrix) "
                 "is the infinite-width limit of three-layer linear networks at γ = 2: the "
                 "per-seed gap falls as N^{-1/2}",
       measure="P = 4, D = 8, γ = 2, η = 0.1, 30 full-batch steps, float64; gap = RMS over steps "
               "and points of f_network − f_DMFT per seed, then RMS over seeds; measured = the "
               "fitted slope in N; details: the seed-mean gap in standard errors at the "
               "largest N",
       why="tolerance ±0.25 (8 seeds; the O(1/N) mean "
           "shift adds to the N^{-1/2} spread at small N); a missing response would leave an O(1) "
           "gap and a slope near 0",
       source=_SRC)
def _deep(quick: bool) -> Outcome:
    widths, ref, nets, eta, g = _deep_runs(quick)
    rms = []
    for N in widths:
        d = nets[N] - ref[None]
        rms.append(float(np.sqrt(np.mean(d ** 2))))
    slope = _slope(widths, rms)
    d = nets[widths[-1]] - ref[None]
    z = float(np.max(np.abs(d.mean(0)) / (d.std(0, ddof=1) / np.sqrt(d.shape[0]) + 1e-300)))
    w = np.asarray(widths, float)
    plot = Plot([Series(widths, rms, "per-seed RMS gap to the DMFT", kind="sim"),
                 Series(w, rms[0] * (w / w[0]) ** -0.5, "∝ N^(-1/2)")],
                xlabel="width N", ylabel="RMS |f_N − f_DMFT|", xscale="log", yscale="log",
                title="three-layer linear networks → deep-linear DMFT (γ = 2)")
    return Outcome.close_to(-0.5, slope, atol=0.25, plot=plot,
                            details={"rms gaps": rms, "seed-mean max |z| at largest N": z,
                                     "eta": eta, "gamma": g})


# ------------------------------------------------------- feature-kernel alignment vs γ
ALIGN_GAMMAS = (0.1, 1.0, 10.0)


@claim("dmft/alignment-grows-with-gamma",
       reference="the hidden features φ(h) of two-layer networks trained by the sweep engine at "
                 "N = 4096 (full: 8192), 16 seeds",
       statement="The DMFT's feature kernel Φ(t,t) aligns with the targets more the richer the "
                 "training: final alignment increasing in γ, and equal to the networks' (linear "
                 "and erf)",
       measure="P = 8, D = 8, γ ∈ {0.1, 1, 10}, η = s(γ)/2 (s the smooth scale, "
               "docs: Gamma scaling), 200 full-batch steps; alignment yᵀΦy/(|y|²‖Φ‖_F) "
               "(metrics.kernel_alignment, uncentred) of Φ = E[φ(h)φ(h)ᵀ] "
               "(DMFT: dmft_two_layer_linear, and dmft_two_layer for erf with 16000 samples × 8 "
               "replicas) and of φ(h)φ(h)ᵀ/N from each network's final first layer; measured = "
               "the worst |network mean − DMFT| in standard errors (network seeds and DMFT "
               "replicas combined)",
       why="4 s.e.: the alignment is a ratio of quadratic forms, so both sides carry an O(1/N) "
           "(networks) or O(1/M) (Monte Carlo) bias; at N = 4096, M = 16000 it is below the "
           "seed s.e. (a check at γ = 0.1 with 64000 samples × 4 and 32 networks: 0.6448 ± "
           "0.0007 vs 0.6447 ± 0.0010); the increase in γ must exceed 0.05 per step of the γ "
           "grid",
       source=_SRC)
def _alignment(quick: bool) -> Outcome:
    import jax

    from lazyrich import sims
    from lazyrich.metrics import kernel_alignment
    from lazyrich.theory import dmft_two_layer, dmft_two_layer_linear, get_activation

    P, D, steps = 8, 8, 200
    X, y = _task(P, D, seed=0)
    N = 4096 if quick else 8192
    S, R = 16, 8  # network seeds, DMFT replicas
    worst_z, det, increasing = 0.0, {}, True
    series = []
    with _x64():
        for act in ("linear", "erf"):
            dm, nm = [], []
            for g in ALIGN_GAMMAS:
                eta = 0.5 * float(sims.eta_scale(g, 2, "smooth"))
                if act == "linear":
                    sol = dmft_two_layer_linear(X, y, gamma=g, eta=eta, steps=steps)
                    a_dm, se_dm = kernel_alignment(np.asarray(sol.feature_kernel)[0, -1], y), 0.0
                else:
                    # one replica per call: the alignment (a ratio) of each replica's own Φ
                    # gives its spread; the alignment of the replica-mean Φ would not
                    reps = [dmft_two_layer(jax.random.key(11 + r), X, y, activation=act,
                                           gamma=g, eta=eta, steps=steps, samples=16000,
                                           replicas=1) for r in range(R)]
                    al = [kernel_alignment(np.asarray(s.feature_kernel)[0, -1], y) for s in reps]
                    a_dm, se_dm = float(np.mean(al)), float(np.std(al, ddof=1) / np.sqrt(R))
                cfg = _two_layer_cfg(X, y, N, steps, activation=act).replace(log_every=steps)
                run = sims.run_cells(cfg, gamma=np.full(S, g), eta=np.full(S, eta),
                                     seed=np.arange(S), return_params=True)
                W0 = np.asarray(run["params"]["w"][0])  # (S, D, N)
                phi = get_activation(act)
                feats = phi(np.einsum("pd,sdn->spn", X, W0) / np.sqrt(D))
                al_net = [kernel_alignment(f @ f.T / N, y) for f in feats]
                m, se = float(np.mean(al_net)), float(np.std(al_net, ddof=1) / np.sqrt(S))
                z = abs(m - a_dm) / np.hypot(se, se_dm)
                worst_z = max(worst_z, z)
                dm.append(a_dm)
                nm.append(m)
                det[f"{act} γ={g:g}: DMFT, network mean, z"] = [a_dm, m, z]
            increasing &= bool(np.all(np.diff(dm) > 0.05) and np.all(np.diff(nm) > 0.05))
            series += [Series(ALIGN_GAMMAS, dm, f"DMFT ({act})"),
                       Series(ALIGN_GAMMAS, nm, f"networks N={N} ({act})", kind="sim")]
    plot = Plot(series, xlabel="γ", ylabel="final alignment of Φ with yyᵀ", xscale="log",
                title="richer training, more aligned features")
    return Outcome(0.0, worst_z, 4.0, bool(worst_z <= 4.0 and increasing), plot=plot,
                   details={**det, "increasing in γ (DMFT and networks)": increasing})


# ------------------------------------------------------- deep nonlinear: the responses
@claim("dmft/deep-erf-vs-networks",
       reference="three-layer erf networks trained by the sweep engine at N = 2048 (full: "
                 "4096), 16 seeds",
       statement="The deep nonlinear DMFT (sources, responses R and Q including the equal-time "
                 "Q(t,t)) is the infinite-width limit of three-layer erf networks at γ ∈ {1, 3}; "
                 "without the response functions (the gradient-independence approximation) it "
                 "is not",
       measure="P = 4, D = 8, 12 full-batch steps (η = 0.3γ), float64; dmft_deep with 4 "
               "replicas × 4000 paths, responses 'full', 'no-equal-time', 'none'; ratio = max "
               "over steps and points of |seed mean − DMFT| / (s.e. of the seed mean + the "
               "DMFT's replica s.e.); measured = the worst ratio of the full DMFT; details: the "
               "ablations' ratios and the lazy kernel prediction's",
       why="3 combined s.e. (the finite-width mean shift is O(1/N), below the seed-mean s.e. "
           "~ N^{-1/2}/4 at N = 2048); the no-response ablation must miss by more than 10 (it "
           "drops O(γ²) terms; measured 13.1 here, 26-27 on the solver tests' task). Dropping "
           "only Q(t,t) moves f by ~0.015, 2-6 s.e.: reported, not asserted",
       source=_SRC)
def _deep_erf(quick: bool) -> Outcome:
    import jax

    from lazyrich import sims
    from lazyrich.theory import dmft_deep, kernel_dynamics, mlp_kernels

    P, D, steps = 4, 8, 12
    X, y = _task(P, D, seed=4)
    S, N = 16, (2048 if quick else 4096)
    cells = ((1.0, 0.3), (3.0, 0.9))
    with _x64():
        cfg = sims.SweepConfig(model="mlp", depth=3, width=N, activation="erf",
                               task=sims.array_task(X, y), full_batch=True, dtype="float64",
                               num_steps=steps, log_every=1)
        f_all = sims.run_cells(cfg, metrics={"f": _f_train},
                               gamma=np.repeat([c[0] for c in cells], S),
                               eta=np.repeat([c[1] for c in cells], S),
                               seed=np.tile(np.arange(S), len(cells)))["f"][..., 0]
        K = np.asarray(mlp_kernels(X, depth=3, activation="erf").ntk)
        worst, det, series = 0.0, {}, []
        ok = True
        for i, (g, eta) in enumerate(cells):
            f = f_all[i * S:(i + 1) * S]
            fm, fse = f.mean(0), f.std(0, ddof=1) / np.sqrt(S)
            ratio = {}
            for mode in ("full", "no-equal-time", "none"):
                sol = dmft_deep(jax.random.key(21), X, y, depth=3, activation="erf", gamma=g,
                                eta=eta, steps=steps, samples=4000, replicas=4, responses=mode)
                d, dse = np.asarray(sol.f_train), np.asarray(sol.f_train_se)
                ratio[mode] = float(np.max(np.abs(fm - d)[1:] / (fse + dse)[1:]))
                if g == 3.0 and mode != "no-equal-time":
                    series.append(Series(np.arange(steps + 1), d[:, 0],
                                         f"DMFT ({mode}), γ = 3"))
            lazy = np.asarray(kernel_dynamics(K, y, steps=np.arange(steps + 1), eta=eta,
                                              gamma=g).train)
            ratio["lazy kernel"] = float(np.max(np.abs(fm - lazy)[1:] / fse[1:]))
            worst = max(worst, ratio["full"])
            ok &= ratio["none"] > 10.0
            det[f"γ={g:g} ratios (full, no-equal-time, none, lazy kernel)"] = [
                ratio["full"], ratio["no-equal-time"], ratio["none"], ratio["lazy kernel"]]
            if g == 3.0:
                series.append(Series(np.arange(steps + 1), fm[:, 0], f"networks N = {N}, γ = 3",
                                     kind="sim"))
    plot = Plot(series, xlabel="step", ylabel="f(x₁)",
                title="three-layer erf: DMFT with and without responses vs networks")
    return Outcome(0.0, worst, 3.0, bool(worst < 3.0 and ok), plot=plot, details=det)
