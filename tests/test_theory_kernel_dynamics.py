r"""Kernel (lazy-limit) dynamics: :func:`kernel_dynamics`, :func:`kernel_ensemble`,
:func:`kernel_eta_max`.

Every closed form is checked against an independent float64 reference: the explicit iteration
:math:`f \leftarrow f - a\Theta(f - y)` in NumPy, ``scipy.linalg.expm`` (with Van Loan's block
exponential for the test-set integral, no inverse), ``scipy.integrate.solve_ivp`` (DOP853),
Cholesky / least-squares kernel regression, neural-tangents' ``gradient_descent_mse`` formula
re-implemented in NumPy, a network trained by the engine, and Monte Carlo over initial
functions. Units are the engine's (docs: Conventions): loss mean over P and C without ½,
:math:`a = 2\rho\eta/(PC\gamma^2)`, :math:`b = 2\rho/(PC\gamma^2)`, :math:`T = \eta\cdot` steps.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg as sla
from scipy.integrate import solve_ivp

from lazyrich import sims
from lazyrich.theory import (
    KernelDynamics,
    KernelEnsemble,
    kernel_dynamics,
    kernel_ensemble,
    kernel_eta_max,
    mlp_kernels,
)

EPS = np.finfo(np.float64).eps


# ---------------------------------------------------------------------------------------------
# Problems and NumPy references
# ---------------------------------------------------------------------------------------------


def _inputs(rng, n, D=16):
    """Gaussian inputs normalised to |x|^2 = D (the engine's synthetic convention)."""
    x = rng.normal(size=(n, D))
    return x * np.sqrt(D) / np.linalg.norm(x, axis=1, keepdims=True)


def mlp_problem(seed=0, P=8, Q=4, C=2, depth=2, activation="erf", D=16):
    """Θ, Σ on train and test inputs from ``mlp_kernels`` (a joint PSD pair), targets, f0."""
    rng = np.random.default_rng(seed)
    x = _inputs(rng, P + Q, D)
    ntk = np.asarray(mlp_kernels(x, depth=depth, activation=activation).ntk)
    nngp = np.asarray(mlp_kernels(x, depth=depth, activation=activation).nngp)
    y = rng.normal(size=(P, C))
    f0 = 0.3 * rng.normal(size=(P + Q, C))
    return dict(K=ntk[:P, :P], Kst=ntk[P:, :P], Kss=ntk[P:, P:], S=nngp[:P, :P],
                Sst=nngp[P:, :P], Sss=nngp[P:, P:], y=y, f0=f0[:P], f0s=f0[P:], x=x)


def lowrank_problem(seed=0, P=8, Q=4, C=2, rank=5):
    """A joint kernel J Jᵀ/m of rank ``rank`` < P on the training set: a null space."""
    rng = np.random.default_rng(seed)
    J = rng.normal(size=(P + Q, rank))
    K = J @ J.T / rank
    y = rng.normal(size=(P, C))
    f0 = 0.3 * rng.normal(size=(P + Q, C))
    return dict(K=K[:P, :P], Kst=K[P:, :P], y=y, f0=f0[:P], f0s=f0[P:], J=J[:P], Jst=J[P:],
                rank=rank)


def iterate(K, Kst, y, f0, f0s, a, k_max):
    """Explicit GD on the linear model, train and test: f ← f − aΘ(f − y), f* ← f* − aΘ*X(f − y)."""
    f, fs = f0.copy(), f0s.copy()
    train, test = [f.copy()], [fs.copy()]
    for _ in range(k_max):
        r = f - y
        f = f - a * (K @ r)
        fs = fs - a * (Kst @ r)
        train.append(f.copy())
        test.append(fs.copy())
    return np.array(train), np.array(test)


def eta_for(K, a_lmax, C, gamma=1.0, rho=1.0):
    """The engine's η at which a·λ_max = ``a_lmax`` (a = 2ρη/(PCγ²))."""
    P = K.shape[0]
    return a_lmax * P * C * gamma**2 / (2 * rho * np.linalg.eigvalsh(K)[-1])


# ---------------------------------------------------------------------------------------------
# 1. discrete GD = explicit iteration
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["mlp", "lowrank"])
@pytest.mark.parametrize("a_lmax", [0.3, 0.999, 1.5, 1.95])
def test_discrete_equals_explicit_iteration(kind, a_lmax):
    r"""Train/test predictions and the loss at k = 0…200 equal the explicit iteration.

    Regimes: all aλ < 1 (monotone), aλ_max just below 1, 1 < aλ_max < 2 (the top modes flip
    sign every step and still converge; at 1.95 the top mode decays only as 0.95^k), and a
    rank-3-deficient kernel (null space: d = 1, ψ = ak). γ = 0.3, ρ = 0.5, C = 2 exercise the
    rate a = 2ρη/(PCγ²). Tolerance: both sides are float64 evaluations of the same linear maps
    with every factor |1 − aλ| ≤ 1, so the loop accumulates ≲ k·ε·‖r‖·‖Θ‖a ≈ 200·2e-16 and the
    spectral form ≈ P·ε·(‖Θ‖/gap); measured max error ≤ 4e-14 (train 7e-15) over the eight
    cases: tolerance 1e-12 (absolute, |y| = O(1)).
    """
    prob = mlp_problem(1) if kind == "mlp" else lowrank_problem(1)
    K, Kst, y, f0, f0s = (prob[k] for k in ("K", "Kst", "y", "f0", "f0s"))
    gamma, rho, C = 0.3, 0.5, y.shape[1]
    eta = eta_for(K, a_lmax, C, gamma, rho)
    steps = np.arange(201)
    r = kernel_dynamics(K, y, steps=steps, eta=eta, gamma=gamma, rho=rho, k_test_train=Kst,
                        f0_train=f0, f0_test=f0s)
    a = 2 * rho * eta / (K.shape[0] * C * gamma**2)
    assert float(r.rate) == pytest.approx(a, rel=1e-15)
    assert not bool(r.diverges)
    train, test = iterate(K, Kst, y, f0, f0s, a, 200)
    np.testing.assert_allclose(r.train, train, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.test, test, rtol=0, atol=1e-12)
    # the loss is quadratic in the residual: an error δ ≤ 1e-12 per entry moves it by at most
    # 2·sqrt(ℓ)·δ + δ² (late losses ~1e-10 make a relative tolerance meaningless)
    loss = np.mean((train - y) ** 2, axis=(1, 2))
    assert np.all(np.abs(np.asarray(r.loss) - loss) <= 2 * np.sqrt(loss) * 1e-12 + 1e-24)
    if a_lmax > 1:  # the top mode's residual alternates in sign, in the reference and here
        v = np.linalg.eigh(K)[1][:, -1]
        top = np.einsum("p,kpc->kc", v, np.asarray(r.train) - y)[:, 0]
        s = np.sign(top[:40])
        assert np.all(s[1:] == -s[:-1])
    if kind == "lowrank":  # the null-space part of r0 never moves
        Pn = np.eye(K.shape[0]) - prob["J"] @ np.linalg.pinv(prob["J"])
        np.testing.assert_allclose(Pn @ (np.asarray(r.train[-1]) - y), Pn @ (f0 - y),
                                   atol=1e-12)


def test_exact_unit_step_and_step_zero():
    """aλ = 1 exactly (a diagonal kernel has exact eigenvalues): one step removes that mode,
    further steps keep it at 0; k = 0 returns f0 (no 0·log 0). Exact arithmetic: 1e-15."""
    K = np.diag([2.0, 1.0, 0.5, 0.0])
    y = np.array([1.0, -2.0, 3.0, 0.5])
    f0 = np.array([0.5, 0.5, 0.5, 0.5])
    r = kernel_dynamics(K, y, steps=np.arange(4), rate=0.5, f0_train=f0)
    ref, _ = iterate(K, K[:1], y, f0, f0[:1], 0.5, 3)
    np.testing.assert_allclose(r.train, ref, rtol=0, atol=1e-15)
    assert r.train[1][0] == y[0] and r.train[0][0] == f0[0]
    assert r.train[3][3] == f0[3]  # the zero eigenvalue: never learned


# ---------------------------------------------------------------------------------------------
# 2. gradient flow = expm = solve_ivp
# ---------------------------------------------------------------------------------------------


def test_flow_equals_expm_and_solve_ivp():
    r"""Gradient flow at T ∈ {0, 0.2, 1, 4, 15}·(1/(bλ_max)) against two references.

    (i) ``scipy.linalg.expm``: :math:`f(X) = y + e^{-b\Theta T}r_0` and, without any inverse,
    :math:`f(X_*) = f_0(X_*) - b\Theta_{*X}G(T)r_0` with :math:`G(T) = \int_0^Te^{-b\Theta s}ds`
    the top-right block of :math:`\exp\bigl(T[[-b\Theta, I], [0, 0]]\bigr)` (Van Loan 1978).
    Padé with scaling and squaring is accurate to ~1e-15 relative per entry here (‖bΘT‖ ≤ 15;
    measured max difference 1.1e-14): tolerance 1e-12. (ii) DOP853 on the joint ODE at
    rtol = atol = 1e-13: global error ≲ 1e-12 (measured 4e-14): tolerance 1e-10.
    """
    p = mlp_problem(2, C=3)
    K, Kst, y, f0, f0s = (p[k] for k in ("K", "Kst", "y", "f0", "f0s"))
    P, C = y.shape
    gamma, rho = 0.5, 1.0 / 8.0
    b = 2 * rho / (P * C * gamma**2)
    lmax = np.linalg.eigvalsh(K)[-1]
    T = np.array([0.0, 0.2, 1.0, 4.0, 15.0]) / (b * lmax)
    r = kernel_dynamics(K, y, times=T, gamma=gamma, rho=rho, k_test_train=Kst, f0_train=f0,
                        f0_test=f0s)
    assert float(r.rate) == pytest.approx(b, rel=1e-15)
    r0 = f0 - y
    Z = np.zeros((P, P))
    for i, t in enumerate(T):
        train = y + sla.expm(-b * K * t) @ r0
        G = sla.expm(t * np.block([[-b * K, np.eye(P)], [Z, Z]]))[:P, P:]
        test = f0s - b * Kst @ G @ r0
        np.testing.assert_allclose(r.train[i], train, rtol=0, atol=1e-12)
        np.testing.assert_allclose(r.test[i], test, rtol=0, atol=1e-12)
        assert float(r.loss[i]) == pytest.approx(np.mean((train - y) ** 2), rel=1e-11)

    Q = Kst.shape[0]

    def rhs(_, z):
        f = z[:P * C].reshape(P, C)
        res = f - y
        return np.concatenate([(-b * K @ res).ravel(), (-b * Kst @ res).ravel()])

    sol = solve_ivp(rhs, (0.0, T[-1]), np.concatenate([f0.ravel(), f0s.ravel()]),
                    method="DOP853", t_eval=T, rtol=1e-13, atol=1e-13)
    assert sol.success
    ode_train = sol.y[:P * C].T.reshape(len(T), P, C)
    ode_test = sol.y[P * C:].T.reshape(len(T), Q, C)
    np.testing.assert_allclose(r.train, ode_train, rtol=0, atol=1e-10)
    np.testing.assert_allclose(r.test, ode_test, rtol=0, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# 3. T = ∞: kernel regression; the null space keeps its part of r0
# ---------------------------------------------------------------------------------------------


def test_infinite_time_is_kernel_regression():
    r""":math:`f_\infty(X) = y` and :math:`f_\infty(X_*) = f_0(X_*) - \Theta_{*X}\Theta^{-1}r_0`
    (Cholesky). Both solve the same SPD system; the error bound is ~ε·cond(Θ)·‖Θ*X‖‖r0‖/λ_min:
    tolerance 1e3·ε·cond(Θ) relative to the largest entry (cond(Θ) ≈ 630, asserted in range;
    measured difference 5e-14 against a tolerance of 3e-10)."""
    p = mlp_problem(3, D=3)          # inputs in 3 dimensions: correlated, cond(Θ) ≈ 630
    K, Kst, y, f0, f0s = (p[k] for k in ("K", "Kst", "y", "f0", "f0s"))
    r = kernel_dynamics(K, y, times=np.array([np.inf]), k_test_train=Kst, f0_train=f0,
                        f0_test=f0s)
    cond = np.linalg.cond(K)
    assert 100 < cond < 1e6, cond  # a non-trivial but solvable system
    ref = f0s - Kst @ sla.cho_solve(sla.cho_factor(K), f0 - y)
    tol = 1e3 * EPS * cond * np.abs(ref).max()
    np.testing.assert_allclose(r.test[0], ref, rtol=0, atol=tol)
    np.testing.assert_allclose(r.train[0], y, rtol=0, atol=1e3 * EPS * cond)
    assert float(r.loss[0]) == 0.0  # every mode decayed: d(λ > 0, ∞) = 0 exactly
    # continuity at ∞: a finite time where e^{-bλ_min T} < 1e-30 gives the same numbers
    lmin = np.linalg.eigvalsh(K)[0]
    b = 2.0 / (K.shape[0] * y.shape[1])          # γ = ρ = 1
    late = kernel_dynamics(K, y, times=70.0 / (b * lmin), k_test_train=Kst, f0_train=f0,
                           f0_test=f0s)
    np.testing.assert_allclose(late.test, r.test[0], rtol=0, atol=tol)


def test_infinite_time_with_null_space_is_least_squares():
    r"""Rank-deficient :math:`\Theta = JJ^\top/m` (J: P×m, m < P) with the joint test kernel
    :math:`J_*J^\top/m`. At T = ∞ the training residual is the null-space part of r0,
    :math:`(I - JJ^+)r_0`, and :math:`f_\infty(X_*) = f_0(X_*) - J_*J^+r_0` (``lstsq``'s
    minimum-norm solution; :math:`J^\top(JJ^\top)^+ = J^+`). Well-conditioned J (cond 2.4):
    round-off ~1e-15; tolerance 1e-12."""
    p = lowrank_problem(4, P=9, rank=4)
    K, Kst, y, f0, f0s, J, Jst = (p[k] for k in ("K", "Kst", "y", "f0", "f0s", "J", "Jst"))
    r0 = f0 - y
    r = kernel_dynamics(K, y, times=np.inf, k_test_train=Kst, f0_train=f0, f0_test=f0s)
    coef = np.linalg.lstsq(J, r0, rcond=None)[0]
    null_part = r0 - J @ coef
    assert np.abs(null_part).max() > 0.1  # the null space carries a real part of r0
    np.testing.assert_allclose(r.train, y + null_part, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.test, f0s - Jst @ coef, rtol=0, atol=1e-12)
    assert float(r.loss) == pytest.approx(np.mean(null_part**2), rel=1e-12)


# ---------------------------------------------------------------------------------------------
# 4. flow = lim discrete (η → 0 at fixed T)
# ---------------------------------------------------------------------------------------------


def test_flow_is_the_small_eta_limit_of_discrete():
    r"""At fixed engine time T = η·k, discrete GD → gradient flow with a gap ∝ η:
    :math:`k\log(1 - a\lambda) = -b\lambda T(1 + a\lambda/2 + O(a^2))`. The fitted slope of
    log(max gap) against log η over η = T/k, k = 25…800, is 1 within 0.1 (measured 1.00)."""
    p = mlp_problem(5)
    K, Kst, y = p["K"], p["Kst"], p["y"]
    P, C = y.shape
    gamma = 0.2
    b = 2.0 / (P * C * gamma**2)
    T = 2.0 / (b * np.linalg.eigvalsh(K)[-1])     # bλ_max T = 2: every mode mid-decay
    flow = kernel_dynamics(K, y, times=T, gamma=gamma, k_test_train=Kst)
    ks = np.array([25, 50, 100, 200, 400, 800])
    gaps = []
    for k in ks:
        d = kernel_dynamics(K, y, steps=int(k), eta=T / k, gamma=gamma, k_test_train=Kst)
        gaps.append(max(np.abs(d.train - flow.train).max(), np.abs(d.test - flow.test).max()))
    slope = np.polyfit(np.log(T / ks), np.log(gaps), 1)[0]
    assert slope == pytest.approx(1.0, abs=0.1), (slope, gaps)
    assert gaps[-1] < 1e-2 * np.abs(y).max()


# ---------------------------------------------------------------------------------------------
# 5. neural-tangents' gradient_descent_mse, re-implemented in NumPy
# ---------------------------------------------------------------------------------------------


def nt_gradient_descent_mse(k_train_train, y_train, learning_rate):
    """neural-tangents ``predict.gradient_descent_mse`` (gradient flow on 0.5·mean((f − y)²) in
    time lr·t; ``trace_axes=(-1,)``: a P×P kernel shared by the outputs), in NumPy: its
    ``expm1(−max(λ,0)·lr·t/y.size)`` and ``expm1(…)/|λ|`` for the test set."""
    evals, evecs = np.linalg.eigh(k_train_train)
    size = y_train.size

    def predict(t, fx_train_0, fx_test_0, k_test_train):
        e = np.expm1(-np.maximum(evals, 0.0) * learning_rate * t / size)
        proj = evecs.T @ (fx_train_0 - y_train)
        fx_train = fx_train_0 + evecs @ (e[:, None] * proj)
        fx_test = fx_test_0 + k_test_train @ evecs @ ((e / np.abs(evals))[:, None] * proj)
        return fx_train, fx_test

    return predict


def test_neural_tangents_map():
    r"""NT's flow with ``learning_rate = 2ρη/γ²`` at ``t = steps`` is this module's flow at
    :math:`T = \eta\cdot\text{steps}` (:math:`\mathrm{lr}\cdot t/(PC) = bT`), to 1e-13 (both
    are float64 spectral evaluations of the same matrix functions; cond(Θ) ≈ 7; measured 3e-16).
    NT's stability edge ``2·size/λ_max`` maps to :func:`kernel_eta_max`."""
    p = mlp_problem(6, C=2)
    K, Kst, y, f0, f0s = (p[k] for k in ("K", "Kst", "y", "f0", "f0s"))
    P, C = y.shape
    gamma, rho, eta = 0.25, 0.125, 3e-3
    lr = 2 * rho * eta / gamma**2
    nt = nt_gradient_descent_mse(K, y, lr)
    steps = np.array([0, 1, 10, 100, 1000, 10000])
    r = kernel_dynamics(K, y, times=eta * steps, gamma=gamma, rho=rho, k_test_train=Kst,
                        f0_train=f0, f0_test=f0s)
    for i, s in enumerate(steps):
        tr, te = nt(s, f0, f0s, Kst)
        np.testing.assert_allclose(r.train[i], tr, rtol=0, atol=1e-13)
        np.testing.assert_allclose(r.test[i], te, rtol=0, atol=1e-13)
    nt_max_lr = 2 * y.size / np.linalg.eigvalsh(K)[-1]
    eta_max = float(kernel_eta_max(K, gamma=gamma, rho=rho, num_outputs=C))
    assert eta_max == pytest.approx(nt_max_lr * gamma**2 / (2 * rho), rel=1e-13)
    assert eta_max == pytest.approx(P * C * gamma**2 / (rho * np.linalg.eigvalsh(K)[-1]),
                                    rel=1e-13)


# ---------------------------------------------------------------------------------------------
# 6. the engine: a wide centred μP MLP at small γ follows kernel_dynamics(mlp_kernels.ntk)
# ---------------------------------------------------------------------------------------------


def test_engine_follows_kernel_dynamics():
    r"""Full-batch GD of the centred μP erf MLP (L = 2, P = 8 train and 4 test points, float64,
    γ = 1e-3, aλ_max = 0.5, 40 steps) against ``kernel_dynamics(mlp_kernels(...).ntk)``.

    At γ = 1e-3 the lazy corrections (O(γ²), O(γN^{-1/2})) are negligible and the per-seed gap
    to the infinite-width prediction is the kernel's fluctuation at init, ∝ N^{-1/2}. The RMS
    gap over 16 seeds at N = 256, 1024, 4096 has a fitted slope of −0.5 ± 0.2 (measured −0.54,
    −0.46, −0.43, −0.47, −0.49 on five disjoint sets of 16 seeds: spread ≈ 0.04) and
    RMS gaps 0.069, 0.024, 0.015 for seeds 0–15 (slope −0.54), gap·√N = 0.8–1.1 (bounded by 2).
    The same formula without the factor 2 of the loss (η/2) misses the N = 4096 runs by 0.195
    (12.6× their gap; asserted > 8×) and the gradient-flow formula (an O(aλ) discretisation
    error at this step) by 0.042 (2.7×; asserted > 2×).
    """
    rng = np.random.default_rng(1)
    D, P, Q = 16, 8, 4
    x = _inputs(rng, P + Q, D)
    beta = rng.normal(size=D) / np.sqrt(D)
    yall = np.tanh(2 * x @ beta) + 0.5 * x @ beta
    xtr, xte, ytr, yte = x[:P], x[P:], yall[:P, None], yall[P:, None]
    K = mlp_kernels(xtr, depth=2, activation="erf").ntk
    Kst = mlp_kernels(xte, xtr, depth=2, activation="erf").ntk
    gamma, n_steps = 1e-3, 40
    eta = 0.25 * float(kernel_eta_max(K, gamma=gamma))   # a·λ_max = 0.5
    steps = np.arange(n_steps + 1)
    pred = kernel_dynamics(K, ytr, steps=steps, eta=eta, gamma=gamma, k_test_train=Kst)
    half = kernel_dynamics(K, ytr, steps=steps, eta=eta / 2, gamma=gamma, k_test_train=Kst)
    flow = kernel_dynamics(K, ytr, times=eta * steps, gamma=gamma, k_test_train=Kst)

    def both(r):
        return np.concatenate([np.asarray(r.train), np.asarray(r.test)], axis=1)

    task = sims.array_task(xtr, ytr, xte, yte)
    xs = jnp.asarray(x)
    widths, rms = (256, 1024, 4096), []
    for N in widths:
        cfg = sims.SweepConfig(model="mlp", depth=2, width=N, activation="erf", task=task,
                               full_batch=True, num_steps=n_steps, log_every=1, dtype="float64")
        model, _ = sims.resolve(cfg)
        apply = jax.jit(jax.vmap(model.apply, in_axes=(0, None)))
        gaps, other = [], []
        for seed in range(16):
            r = sims.train(cfg, gamma=gamma, eta=eta, seed=seed, keep_params=True)
            g = np.asarray(apply({"w": r.params_log["w"]}, xs))
            f = (g - g[0]) / gamma                       # the centred output at every step
            np.testing.assert_allclose(r.test_loss, np.mean((f[:, P:] - yte) ** 2, axis=(1, 2)),
                                       rtol=1e-12)      # f is what the engine trains
            gaps.append(np.sqrt(np.mean((f - both(pred)) ** 2)))
            other.append([np.sqrt(np.mean((f - both(r)) ** 2)) for r in (half, flow)])
        rms.append(np.sqrt(np.mean(np.square(gaps))))
    slope = np.polyfit(np.log(widths), np.log(rms), 1)[0]
    assert slope == pytest.approx(-0.5, abs=0.2), (slope, rms)
    assert max(g * np.sqrt(N) for g, N in zip(rms, widths, strict=True)) < 2.0, rms
    miss_half, miss_flow = np.sqrt(np.mean(np.square(other), axis=0))   # N = 4096
    assert miss_half > 8 * rms[-1] and miss_flow > 2 * rms[-1], (miss_half, miss_flow, rms)


# ---------------------------------------------------------------------------------------------
# 7. ensembles (Lee et al. 2019): exact propagation and Monte Carlo
# ---------------------------------------------------------------------------------------------


def propagate_moments(Kt, Ktst, S_joint, y, a, k_max, s2):
    """Mean and covariance of the joint (train, test) state under the affine GD map, propagated
    exactly: z ← M z + c with M = [[I − aΘ, 0], [−aΘ*X, I]], c = a[Θ; Θ*X] y."""
    P, Q = Kt.shape[0], Ktst.shape[0]
    M = np.block([[np.eye(P) - a * Kt, np.zeros((P, Q))], [-a * Ktst, np.eye(Q)]])
    c = a * np.concatenate([Kt, Ktst]) @ y
    mean, cov = np.zeros((P + Q, y.shape[1])), s2 * S_joint
    out = [(mean, cov)]
    for _ in range(k_max):
        mean, cov = M @ mean + c, M @ cov @ M.T
        out.append((mean, cov))
    return out


@pytest.mark.parametrize("trainable", ["all", "readout"])
def test_ensemble_equals_exact_moment_propagation(trainable):
    """Mean and covariance equal the exactly propagated moments of the affine GD map (an
    independent, inverse-free reference), at k = 0…60 with aλ_max = 1.4 (oscillating top mode).
    Float64 products of matrices with norm ≤ 1: tolerance 1e-12."""
    p = mlp_problem(7, P=7, Q=3, depth=3, activation="relu")
    S_joint = np.block([[p["S"], p["Sst"].T], [p["Sst"], p["Sss"]]])
    Kt, Ktst = (p["K"], p["Kst"]) if trainable == "all" else (p["S"], p["Sst"])
    y, s2, gamma = p["y"], 0.7, 0.5
    C = y.shape[1]
    eta = eta_for(Kt, 1.4, C, gamma)
    kw = dict(ntk_train_train=p["K"], ntk_test_train=p["Kst"]) if trainable == "all" else {}
    e = kernel_ensemble(p["S"], y, init_variance=s2, trainable=trainable, steps=np.arange(61),
                        eta=eta, gamma=gamma, nngp_test_train=p["Sst"], nngp_test_test=p["Sss"],
                        **kw)
    assert isinstance(e, KernelEnsemble) and e.trainable == trainable
    P = y.shape[0]
    a = 2 * eta / (P * C * gamma**2)                  # the engine's rate, ρ = 1
    assert float(e.rate) == pytest.approx(a, rel=1e-15)
    ref = propagate_moments(Kt, Ktst, S_joint, y, a, 60, s2)
    for k in (0, 1, 7, 60):
        mean, cov = ref[k]
        np.testing.assert_allclose(e.train_mean[k], mean[:P], rtol=0, atol=1e-12)
        np.testing.assert_allclose(e.test_mean[k], mean[P:], rtol=0, atol=1e-12)
        np.testing.assert_allclose(e.train_cov[k], cov[:P, :P], rtol=0, atol=1e-12)
        np.testing.assert_allclose(e.test_cov[k], cov[P:, P:], rtol=0, atol=1e-12)
        expected_loss = (np.sum((mean[:P] - y) ** 2) + C * np.trace(cov[:P, :P])) / (P * C)
        assert float(e.loss_mean[k]) == pytest.approx(expected_loss, rel=1e-11)
    # the readout form tends to the GP posterior: Σ** − Σ*X Σ⁻¹ Σ_X*
    if trainable == "readout":
        inf = kernel_ensemble(p["S"], y, init_variance=s2, trainable="readout", times=np.inf,
                              nngp_test_train=p["Sst"], nngp_test_test=p["Sss"])
        post = p["Sss"] - p["Sst"] @ np.linalg.solve(p["S"], p["Sst"].T)
        np.testing.assert_allclose(inf.test_cov, s2 * post, rtol=0,
                                   atol=1e3 * EPS * np.linalg.cond(p["S"]))


@pytest.mark.parametrize("trainable", ["all", "readout"])
def test_ensemble_monte_carlo(trainable):
    r"""Monte Carlo over S = 4000 initial functions per output (C = 2: 8000 draws)
    :math:`f_0\sim\mathcal N(0, s_0^2\Sigma)` on train ∪ test, each trained by the explicit
    iteration (gradient flow is checked elsewhere; here discrete, aλ_max = 0.8, k = 0, 3, 25).

    z-scores: means :math:`(\hat m - m)/\sqrt{\mathrm{Var}/S}`; covariance entries
    :math:`(\hat c_{ij} - c_{ij})/\sqrt{(c_{ii}c_{jj} + c_{ij}^2)/S}` (Gaussian sampling
    variance). Max |z| over the 216 entries (3 steps × 2 outputs × (9 means + 27 covariances of
    the returned blocks)), measured over 8 seeds of the draws: 2.3–3.4 for either form, so the
    bound 5 is 1.6 above the worst draw. An s0² wrong by 10% already gives 5.8–7.1.
    """
    p = mlp_problem(8, P=6, Q=3, depth=2, activation="relu")
    P, Q, C = 6, 3, 2
    y = p["y"]
    S_joint = np.block([[p["S"], p["Sst"].T], [p["Sst"], p["Sss"]]])
    Kt, Ktst = (p["K"], p["Kst"]) if trainable == "all" else (p["S"], p["Sst"])
    s2, n = 1.3, 4000
    eta = eta_for(Kt, 0.8, C)
    kw = dict(ntk_train_train=p["K"], ntk_test_train=p["Kst"]) if trainable == "all" else {}
    ks = np.array([0, 3, 25])
    e = kernel_ensemble(p["S"], y, init_variance=s2, trainable=trainable, steps=ks, eta=eta,
                        nngp_test_train=p["Sst"], nngp_test_test=p["Sss"], **kw)
    a = 2 * eta / (P * C)                             # γ = ρ = 1
    assert float(e.rate) == pytest.approx(a, rel=1e-15)
    rng = np.random.default_rng(11)
    L = np.linalg.cholesky(s2 * S_joint + 1e-14 * np.eye(P + Q))
    z0 = L @ rng.normal(size=(P + Q, C * n))                      # (P+Q, C·n) draws
    f, fs = z0[:P].copy(), z0[P:].copy()
    Y = np.repeat(y, n, axis=1)                                    # column c·n + s: output c
    states = {}
    for k in range(ks[-1] + 1):
        if k in ks:
            states[k] = (f.copy(), fs.copy())
        r = f - Y
        f, fs = f - a * Kt @ r, fs - a * Ktst @ r
    zmax = 0.0
    for i, k in enumerate(ks):
        f, fs = states[k]
        for c in range(C):
            block = np.concatenate([f, fs])[:, c * n:(c + 1) * n]
            m = np.concatenate([e.train_mean[i][:, c], e.test_mean[i][:, c]])
            cov = np.zeros((P + Q, P + Q))
            cov[:P, :P], cov[P:, P:] = e.train_cov[i], e.test_cov[i]
            mh = block.mean(axis=1)
            zm = (mh - m) / np.sqrt(np.diag(cov) / n)
            ch = np.cov(block)
            iu = np.triu_indices(P + Q)
            mask = np.zeros((P + Q, P + Q), bool)
            mask[:P, :P] = mask[P:, P:] = True  # blocks the ensemble returns
            sel = mask[iu]
            se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)[iu][sel]
            zc = (ch[iu][sel] - cov[iu][sel]) / se
            zmax = max(zmax, np.abs(zm).max(), np.abs(zc).max())
    assert zmax < 5.0, zmax


def test_ensemble_centred_and_readout_special_cases():
    """init_variance = 0 (the centred engine): zero covariance and the mean equals
    kernel_dynamics from f0 = 0; 1-D targets and scalar times drop those axes."""
    p = mlp_problem(9)
    y = p["y"]
    e = kernel_ensemble(p["S"], y, init_variance=0.0, ntk_train_train=p["K"],
                        ntk_test_train=p["Kst"], nngp_test_train=p["Sst"],
                        nngp_test_test=p["Sss"], times=np.array([0.5, np.inf]), gamma=0.5)
    d = kernel_dynamics(p["K"], y, times=np.array([0.5, np.inf]), gamma=0.5,
                        k_test_train=p["Kst"])
    assert np.all(np.asarray(e.train_cov) == 0) and np.all(np.asarray(e.test_cov) == 0)
    np.testing.assert_allclose(e.train_mean, d.train, atol=1e-14)
    np.testing.assert_allclose(e.test_mean, d.test, atol=1e-14)
    np.testing.assert_allclose(e.loss_mean, d.loss, rtol=1e-12, atol=1e-300)
    e1 = kernel_ensemble(p["S"], y[:, 0], init_variance=1.0, trainable="readout", times=2.0)
    assert e1.train_mean.shape == (8,) and e1.train_cov.shape == (8, 8)
    assert e1.test_mean is None and e1.test_cov is None


# ---------------------------------------------------------------------------------------------
# 8. stability edge and bad input
# ---------------------------------------------------------------------------------------------


def test_stability_edge():
    """aλ_max = 1.9 converges (with the top mode flipping sign); 2.1 is refused naming eta and
    eta_max; check=False and traced calls return the exact growing iterates, flagged; the edge
    itself is kernel_eta_max to the last digits (0.999 passes, 1.001 is refused)."""
    p = mlp_problem(10, C=1)
    K, y = p["K"], p["y"]
    gamma, rho = 0.5, 0.125
    edge = float(kernel_eta_max(K, gamma=gamma, rho=rho))
    ok = kernel_dynamics(K, y, steps=np.array([0, 1, 2, 3000]), eta=0.95 * edge, gamma=gamma,
                         rho=rho)
    assert float(ok.loss[-1]) < 1e-20 * float(ok.loss[0]) and not bool(ok.diverges)
    kernel_dynamics(K, y, steps=5, eta=0.999 * edge, gamma=gamma, rho=rho)
    with pytest.raises(ValueError, match=r"eta = .* stability edge .*eta_max = .* = "
                                         + f"{edge:.6g}".replace(".", r"\.")):
        kernel_dynamics(K, y, steps=5, eta=1.05 * edge, gamma=gamma, rho=rho)
    with pytest.raises(ValueError, match="eta_max"):
        kernel_dynamics(K, y, steps=5, eta=1.001 * edge, gamma=gamma, rho=rho)
    with pytest.raises(ValueError, match=r"rate = .*rate_max = 2/lambda_max"):
        kernel_dynamics(K, y, steps=5, rate=2.1 / np.linalg.eigvalsh(K)[-1])
    bad = kernel_dynamics(K, y, steps=np.array([0, 100, 200]), eta=1.05 * edge, gamma=gamma,
                          rho=rho, check=False)
    assert bool(bad.diverges) and np.all(np.isfinite(bad.train))
    assert bad.loss[2] > bad.loss[1] > bad.loss[0]
    a = 2 * rho * 1.05 * edge / (K.shape[0] * gamma**2)
    ref, _ = iterate(K, K[:1], y, np.zeros_like(y), np.zeros((1, 1)), a, 200)
    # the growing mode (|1 − aλ| = 1.1) amplifies round-off and signal alike: relative k·ε
    np.testing.assert_allclose(bad.train, ref[[0, 100, 200]], rtol=1e-11)
    flags = jax.vmap(lambda e: kernel_dynamics(K, y, steps=3, eta=e, gamma=gamma,
                                               rho=rho).diverges)(jnp.array([0.9, 1.1]) * edge)
    assert flags.tolist() == [False, True]


def test_kernel_eta_max_values():
    """η_max = PCγ²/(ρλ_max); a zero kernel never diverges (inf)."""
    K = np.diag([4.0, 1.0, 0.0])
    assert float(kernel_eta_max(K, gamma=0.5, rho=0.5, num_outputs=2)) == pytest.approx(
        3 * 2 * 0.25 / (0.5 * 4.0), rel=1e-15)
    assert float(kernel_eta_max(np.zeros((3, 3)))) == np.inf


_K = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.2], [0.1, 0.2, 1.5]])
_Y = np.array([1.0, -1.0, 0.5])
_KST = np.ones((2, 3))
_BAD = [
    (dict(k_train_train=np.ones((3, 2))), ValueError, "k_train_train must be square"),
    (dict(k_train_train=np.ones(3)), ValueError, r"k_train_train must have shape \(n, n\)"),
    (dict(k_train_train=_K + np.triu(np.ones((3, 3)), 1) * 1e-6), ValueError,
     "k_train_train must be symmetric"),
    (dict(k_train_train=np.diag([1.0, -0.1, 1.0])), ValueError,
     "k_train_train is not positive semi-definite"),
    (dict(k_train_train=np.where(np.eye(3) > 0, np.nan, _K)), ValueError,
     "k_train_train contains 3 non-finite"),
    (dict(k_train_train=_K.astype(complex)), TypeError, "k_train_train must hold real numbers"),
    (dict(y_train=np.ones(4)), ValueError, r"y_train must have shape \(3,\)"),
    (dict(y_train=np.ones((3, 1, 1))), ValueError, r"y_train must have shape \(P,\) or"),
    (dict(y_train=np.array([1.0, np.inf, 0.0])), ValueError, "y_train contains 1 non-finite"),
    (dict(f0_train=np.ones((3, 1))), ValueError, r"f0_train must have shape \(3,\)"),
    (dict(k_test_train=np.ones((2, 4))), ValueError, r"k_test_train must have shape \(n, 3\)"),
    (dict(k_test_train=_KST, f0_test=np.ones(3)), ValueError, r"f0_test must have shape \(2,\)"),
    (dict(f0_test=np.ones(2)), ValueError, "f0_test needs k_test_train"),
    (dict(steps=np.array([0.0, 1.0])), TypeError, "steps must be non-negative integers"),
    (dict(steps=1.5), TypeError, "steps must be non-negative integers"),
    (dict(steps=np.array([0, -1])), ValueError, "steps must be non-negative integers, got min"),
    (dict(steps=np.ones((2, 2), int)), ValueError, "steps must be a scalar or 1-D"),
    (dict(steps=None, times=np.array([0.0, -1.0])), ValueError, "times must be non-negative"),
    (dict(steps=None, times=np.array([np.nan])), ValueError, "times must be non-negative"),
    (dict(steps=None, times=np.array([1.0]), eta=None, gamma=0.1), None, None),
    (dict(steps=None), ValueError, "give exactly one of steps"),
    (dict(times=np.array([1.0])), ValueError, "give exactly one of steps"),
    (dict(eta=None), ValueError, "discrete GD .* needs eta"),
    (dict(steps=None, times=1.0), ValueError, "gradient flow .* takes no eta"),
    (dict(eta=0.0), ValueError, "eta must be finite and > 0"),
    (dict(eta=np.array([0.1, 0.2])), ValueError, "eta must be a scalar"),
    (dict(eta="0.1"), TypeError, "eta must be a real number"),
    (dict(gamma=-1.0), ValueError, "gamma must be finite and > 0"),
    (dict(rho=np.inf), ValueError, "rho must be finite and > 0"),
    (dict(rate=0.1), ValueError, "give either rate .* not both"),
    (dict(eta=None, rate=-0.1), ValueError, "rate must be finite and > 0"),
    (dict(check=1), TypeError, "check must be True or False"),
]


@pytest.mark.parametrize("kwargs, exc, match", _BAD)
def test_bad_input_is_refused(kwargs, exc, match):
    args = dict(k_train_train=_K, y_train=_Y, steps=np.arange(3), eta=0.1)
    args.update(kwargs)
    if exc is None:  # the control: a valid call next to the invalid ones
        assert isinstance(kernel_dynamics(**args), KernelDynamics)
        return
    with pytest.raises(exc, match=match):
        kernel_dynamics(**args)


_S = np.array([[1.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 1.0]])
_BAD_ENS = [
    (dict(init_variance=-1.0), ValueError, "init_variance must be finite and >= 0"),
    (dict(trainable="hidden"), ValueError, "trainable must be one of"),
    (dict(ntk_train_train=None), ValueError, "trainable='all' needs ntk_train_train"),
    (dict(trainable="readout"), ValueError, "trainable='readout' .* would be ignored"),
    (dict(nngp_test_train=np.ones((2, 3))), ValueError, "test predictions need all of"),
    (dict(ntk_train_train=np.ones((2, 2))), ValueError,
     r"ntk_train_train must have shape \(3, 3\)"),
    (dict(nngp_train_train=np.diag([1.0, 1.0, -0.5])), ValueError,
     "nngp_train_train is not positive semi-definite"),
    (dict(nngp_test_train=np.ones((2, 3)), nngp_test_test=np.eye(3),
          ntk_test_train=np.ones((2, 3))), ValueError, r"nngp_test_test must have shape \(2, 2\)"),
]


@pytest.mark.parametrize("kwargs, exc, match", _BAD_ENS)
def test_bad_ensemble_input_is_refused(kwargs, exc, match):
    args = dict(nngp_train_train=_S, y_train=_Y, init_variance=1.0, ntk_train_train=_K,
                steps=np.arange(3), eta=0.1)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        kernel_ensemble(**args)


# ---------------------------------------------------------------------------------------------
# 9. vmap, jit, gradients; float64 whatever the global flag
# ---------------------------------------------------------------------------------------------


def test_vmap_and_jit_match_loops():
    """vmap over η and over times, and jit, give the eager numbers (same float64 arithmetic up
    to XLA fusion: 1e-13)."""
    p = mlp_problem(12)
    K, Kst, y = p["K"], p["Kst"], p["y"]
    edge = float(kernel_eta_max(K, num_outputs=2))
    etas = jnp.array([0.1, 0.5, 0.9]) * edge
    steps = np.arange(0, 60, 7)
    vm = jax.vmap(lambda e: kernel_dynamics(K, y, steps=steps, eta=e, k_test_train=Kst))(etas)
    for i, e in enumerate(etas):
        one = kernel_dynamics(K, y, steps=steps, eta=float(e), k_test_train=Kst)
        np.testing.assert_allclose(vm.train[i], one.train, rtol=0, atol=1e-13)
        np.testing.assert_allclose(vm.test[i], one.test, rtol=0, atol=1e-13)
        np.testing.assert_allclose(vm.loss[i], one.loss, rtol=1e-12)
    ts = jnp.array([0.0, 1.0, 10.0, jnp.inf])
    vt = jax.vmap(lambda t: kernel_dynamics(K, y, times=t, k_test_train=Kst).test)(ts)
    np.testing.assert_allclose(vt, kernel_dynamics(K, y, times=ts, k_test_train=Kst).test,
                               rtol=0, atol=1e-13)
    jt = jax.jit(lambda g: kernel_dynamics(K, y, times=ts, gamma=g).loss)(0.7)
    np.testing.assert_allclose(jt, kernel_dynamics(K, y, times=ts, gamma=0.7).loss, rtol=1e-12)


def _fd(fun, x, h):
    return (fun(x + h) - fun(x - h)) / (2 * h)


def test_gradients_match_finite_differences():
    r"""jax.grad w.r.t. η, γ, ρ, y, f0 (one reverse pass), T, the kernel and Θ*X equals
    central finite differences. Float64, relative step h = 1e-5: truncation ~h²·|f‴| ~ 1e-10,
    round-off ~ε/h ~ 2e-11: tolerance 1e-7 relative (1e-6 for the kernels, h = 1e-6). The
    gradient at T = ∞ is finite (0 in T)."""
    p = mlp_problem(13)
    K, Kst, y, f0 = p["K"], p["Kst"], p["y"], p["f0"]
    edge = float(kernel_eta_max(K, gamma=0.6, num_outputs=2))
    x0 = (0.6 * edge, 0.6, 1.0, y, f0)

    def disc(eta, gamma, rho, y, f0):
        r = kernel_dynamics(K, y, steps=np.array([3, 17]), eta=eta, gamma=gamma, rho=rho,
                            k_test_train=Kst, f0_train=f0)
        return jnp.sum(r.loss) + jnp.sum(r.test ** 2)

    grads = jax.grad(disc, argnums=(0, 1, 2, 3, 4))(*(jnp.asarray(v) for v in x0))
    rng = np.random.default_rng(0)
    for i, g in enumerate(grads):
        u = 1.0 if i < 3 else rng.normal(size=np.shape(x0[i]))
        h = 1e-5 * (x0[i] if i < 3 else 1.0)

        def along(s, i=i, u=u):
            return disc(*(v + s * u if j == i else v for j, v in enumerate(x0)))

        assert np.all(np.isfinite(g))
        assert float(np.sum(np.asarray(g) * u)) == pytest.approx(float(_fd(along, 0.0, h)),
                                                                 rel=1e-7), i

    def flow(T, Kx, Kstx):
        r = kernel_dynamics(Kx, y, times=T, gamma=0.6, k_test_train=Kstx, f0_train=f0)
        return jnp.sum(r.loss) + jnp.sum(r.test ** 2)

    gT, gK, gS = jax.grad(flow, argnums=(0, 1, 2))(2.0, jnp.asarray(K), jnp.asarray(Kst))
    assert float(gT) == pytest.approx(float(_fd(lambda t: flow(t, K, Kst), 2.0, 2e-5)),
                                      rel=1e-7)
    U, W = rng.normal(size=K.shape), rng.normal(size=Kst.shape)
    U = U + U.T
    fd = float(_fd(lambda s: flow(2.0, K + s * U, Kst + s * W), 0.0, 1e-6))
    assert float(np.sum(np.asarray(gK) * U) + np.sum(np.asarray(gS) * W)) == pytest.approx(
        fd, rel=1e-6)
    assert float(jax.grad(flow)(jnp.inf, K, Kst)) == 0.0


def test_gradients_with_a_null_space():
    """A rank-deficient kernel (a 4-fold zero eigenvalue: degenerate) held fixed: gradients
    w.r.t. the rate, the times and y stay finite and equal finite differences (the null-space
    branch ψ = ak, bT carries its own derivative; no NaN leaks from the unused branches), for
    discrete GD, the flow and T = ∞. Tolerance as above: 1e-7 relative."""
    p = lowrank_problem(16, P=8, rank=4)
    K, Kst, y = p["K"], p["Kst"], p["y"]
    u = np.random.default_rng(1).normal(size=y.shape)

    def obj(rate, yv, steps=None, times=None):
        r = kernel_dynamics(K, yv, steps=steps, times=times, rate=rate, k_test_train=Kst)
        return jnp.sum(r.loss) + jnp.sum(r.test ** 2)

    for kw in (dict(steps=np.array([0, 5, 40])), dict(times=np.array([0.0, 3.0, 30.0])),
               dict(times=np.array([np.inf]))):
        g, gy = jax.grad(lambda a, v, kw=kw: obj(a, v, **kw), argnums=(0, 1))(0.05,
                                                                           jnp.asarray(y))
        fd = float(_fd(lambda v, kw=kw: obj(v, y, **kw), 0.05, 5e-7))
        assert np.isfinite(g) and float(g) == pytest.approx(fd, rel=1e-7, abs=1e-12), kw
        fdy = float(_fd(lambda s, kw=kw: obj(0.05, y + s * u, **kw), 0.0, 1e-5))
        assert np.all(np.isfinite(gy)) and float(np.sum(gy * u)) == pytest.approx(fdy, rel=1e-7)
    gt = float(jax.grad(lambda t: obj(0.05, y, times=t))(3.0))
    assert gt == pytest.approx(float(_fd(lambda t: obj(0.05, y, times=t), 3.0, 3e-5)), rel=1e-7)


def _orthogonal(rng, n):
    return np.linalg.qr(rng.normal(size=(n, n)))[0]


@pytest.mark.parametrize("clock", ["discrete", "flow", "inf"])
def test_kernel_gradient_with_repeated_eigenvalues(clock):
    r"""The derivative w.r.t. the training kernel is the Daleckii–Krein formula, correct where
    ``eigh``'s own derivative is not: a spectrum (2, 2, 1, 1, 1, 0.5) repeated to round-off
    (eigh's eigenvector derivative divides by gaps ~1e-16). Checked against central finite
    differences along a random symmetric direction (the kernel stays positive definite), for
    discrete GD in the oscillating regime (aλ_max = 1.6), the flow and T = ∞. h = 1e-6:
    truncation ~h² and round-off ~ε/h ~ 2e-10 relative: tolerance 1e-6."""
    rng = np.random.default_rng(17)
    P, Q = 6, 3
    Qm = _orthogonal(rng, P)
    K = (Qm * np.array([2.0, 2.0, 1.0, 1.0, 1.0, 0.5])) @ Qm.T
    K = 0.5 * (K + K.T)
    Kst = rng.normal(size=(Q, P))
    y = rng.normal(size=(P, 2))
    U = rng.normal(size=(P, P))
    U = U + U.T
    kw = {"discrete": dict(steps=np.array([0, 1, 7, 40]), rate=0.8),
          "flow": dict(times=np.array([0.0, 0.5, 3.0]), rate=0.8),
          "inf": dict(times=np.inf, rate=0.8)}[clock]

    def obj(Kx):
        r = kernel_dynamics(Kx, y, k_test_train=Kst, **kw)
        return jnp.sum(r.loss) + jnp.sum(r.test ** 2) + jnp.sum(r.train ** 3)

    g = np.asarray(jax.grad(obj)(jnp.asarray(K)))
    assert np.all(np.isfinite(g))
    fd = float(_fd(lambda s: obj(K + s * U), 0.0, 1e-6))
    assert float(np.sum(g * U)) == pytest.approx(fd, rel=1e-6)


@pytest.mark.parametrize("clock", ["discrete", "flow"])
def test_kernel_gradient_on_a_null_space(clock):
    r"""A rank-4 kernel of 8 points (a 4-fold zero eigenvalue). At finite t the dynamics are a
    smooth matrix function of Θ, so the derivative exists in every direction, including a
    positive one that lifts the null space (there :math:`g'(0) = -ak` for d, and
    :math:`-a^2k(k-1)/2`, :math:`-b^2T^2/2` for ψ). Reference: second-order one-sided finite
    differences :math:`(-3f_0 + 4f_h - f_{2h})/(2h)` along :math:`WW^\top` (PSD), and central
    ones along the rank-preserving path :math:`(J + sA)(J + sA)^\top/m`; h = 1e-5 and 1e-6:
    tolerance 1e-6 relative."""
    rng = np.random.default_rng(118)   # not the problem's own stream
    p = lowrank_problem(18, P=8, rank=4)
    K, Kst, y, J = p["K"], p["Kst"], p["y"], p["J"]
    kw = (dict(steps=np.array([0, 3, 25]), rate=0.3) if clock == "discrete"
          else dict(times=np.array([0.0, 1.0, 6.0]), rate=0.3))

    def obj(Kx):
        r = kernel_dynamics(Kx, y, k_test_train=Kst, **kw)
        return jnp.sum(r.loss) + jnp.sum(r.test ** 2) + jnp.sum(r.train ** 3)

    g = np.asarray(jax.grad(obj)(jnp.asarray(K)))
    W = rng.normal(size=(8, 2))
    U = W @ W.T
    h = 1e-5
    fd = (-3 * float(obj(K)) + 4 * float(obj(K + h * U)) - float(obj(K + 2 * h * U))) / (2 * h)
    assert float(np.sum(g * U)) == pytest.approx(fd, rel=1e-6)
    A = rng.normal(size=J.shape)
    m = J.shape[1]
    along = (A @ J.T + J @ A.T) / m
    fd = float(_fd(lambda s: obj((J + s * A) @ (J + s * A).T / m), 0.0, 1e-6))
    assert float(np.sum(g * along)) == pytest.approx(fd, rel=1e-6)


def test_kernel_gradient_pseudo_inverse_at_infinity():
    r"""At T = ∞ with a null space the result uses the pseudo-inverse, differentiable along
    perturbations that keep the rank; the derivative there is the pseudo-inverse's
    (:math:`-\Theta^+d\Theta\Theta^+ + \dots`). Central differences along
    :math:`(J + sA)(J + sA)^\top/m`, h = 1e-6: tolerance 1e-6 relative."""
    rng = np.random.default_rng(119)   # not the problem's own stream
    p = lowrank_problem(19, P=8, rank=4)
    K, Kst, y, J = p["K"], p["Kst"], p["y"], p["J"]
    Jst = p["Jst"]
    m = J.shape[1]

    def obj(Kx, Kstx):
        r = kernel_dynamics(Kx, y, times=np.inf, k_test_train=Kstx)
        return jnp.sum(r.test ** 2) + jnp.sum(r.train ** 3)

    gK, gS = jax.grad(obj, argnums=(0, 1))(jnp.asarray(K), jnp.asarray(Kst))
    A, B = rng.normal(size=J.shape), rng.normal(size=Jst.shape)
    dK = (A @ J.T + J @ A.T) / m
    dS = (B @ J.T + Jst @ A.T) / m                # the test kernel moves with the features
    fd = float(_fd(lambda s: obj((J + s * A) @ (J + s * A).T / m,
                                 (Jst + s * B) @ (J + s * A).T / m), 0.0, 1e-6))
    assert float(np.sum(np.asarray(gK) * dK) + np.sum(np.asarray(gS) * dS)) == pytest.approx(
        fd, rel=1e-6)


def test_ensemble_kernel_gradients():
    """Gradients of the ensemble's moments w.r.t. Θ and Σ (repeated eigenvalues in Θ) equal
    central finite differences (h = 1e-6, tolerance 1e-6 relative)."""
    rng = np.random.default_rng(20)
    p = mlp_problem(20, P=6, Q=3)
    Qm = _orthogonal(rng, 6)
    K = (Qm * np.array([1.5, 1.5, 1.0, 1.0, 0.3, 0.3])) @ Qm.T
    K = 0.5 * (K + K.T)

    def obj(Kx, Sx):
        e = kernel_ensemble(Sx, p["y"], init_variance=0.8, ntk_train_train=Kx,
                            ntk_test_train=p["Kst"], nngp_test_train=p["Sst"],
                            nngp_test_test=p["Sss"], times=np.array([0.4, 3.0]), rate=0.5)
        return (jnp.sum(e.test_cov ** 2) + jnp.sum(e.train_cov ** 2)
                + jnp.sum(e.test_mean ** 2) + jnp.sum(e.loss_mean))

    gK, gS = jax.grad(obj, argnums=(0, 1))(jnp.asarray(K), jnp.asarray(p["S"]))
    U, W = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    U, W = U + U.T, W + W.T
    fd = float(_fd(lambda s: obj(K + s * U, p["S"] + s * W), 0.0, 1e-6))
    got = float(np.sum(np.asarray(gK) * U) + np.sum(np.asarray(gS) * W))
    assert got == pytest.approx(fd, rel=1e-6)


def test_float64_when_x64_is_off():
    """With jax_enable_x64 off, float32 inputs are computed in float64 all the same (NumPy
    float64 results equal to the x64 run to 1e-15: the same float64 arithmetic on the same
    float32-representable inputs); traced inputs are refused with a message."""
    p = mlp_problem(14)
    K32, Kst32, y32 = (p[k].astype(np.float32) for k in ("K", "Kst", "y"))
    on = kernel_dynamics(K32, y32, steps=np.arange(5), eta=0.1, k_test_train=Kst32)
    with jax.enable_x64(False):
        off = kernel_dynamics(K32, y32, steps=np.arange(5), eta=0.1, k_test_train=Kst32)
        assert isinstance(off.train, np.ndarray) and off.train.dtype == np.float64
        with pytest.raises(ValueError, match="need float64 and jax_enable_x64 is off"):
            jax.jit(lambda e: kernel_dynamics(K32, y32, steps=3, eta=e).loss)(0.1)
    np.testing.assert_allclose(off.train, on.train, rtol=0, atol=1e-15)
    np.testing.assert_allclose(off.test, on.test, rtol=0, atol=1e-15)
    assert np.asarray(on.train).dtype == np.float64


def test_outputs_are_independent_columns_and_shapes():
    """C outputs share the kernel and the rate a = 2ρη/(PCγ²): a 2-column run equals two
    1-column runs at the same rate, bit for bit up to BLAS order (1e-15); scalar steps and 1-D
    targets drop the time and output axes."""
    p = mlp_problem(15)
    K, Kst, y = p["K"], p["Kst"], p["y"]
    both = kernel_dynamics(K, y, steps=np.arange(20), rate=0.05, k_test_train=Kst)
    for c in range(2):
        one = kernel_dynamics(K, y[:, c], steps=np.arange(20), rate=0.05, k_test_train=Kst)
        assert one.train.shape == (20, 8) and one.test.shape == (20, 4)
        np.testing.assert_allclose(one.train, both.train[..., c], rtol=0, atol=1e-15)
        np.testing.assert_allclose(one.test, both.test[..., c], rtol=0, atol=1e-15)
    s = kernel_dynamics(K, y[:, 0], steps=7, rate=0.05)
    assert s.train.shape == (8,) and s.loss.shape == () and s.test is None
    np.testing.assert_allclose(s.train, kernel_dynamics(K, y[:, 0], steps=np.arange(8),
                                                        rate=0.05).train[7], atol=1e-15)
    # the engine's C: a = 2ρη/(PCγ²) counts the outputs
    r = kernel_dynamics(K, y, steps=1, eta=0.2, gamma=0.5, rho=0.25)
    assert float(r.rate) == pytest.approx(2 * 0.25 * 0.2 / (8 * 2 * 0.25), rel=1e-15)
