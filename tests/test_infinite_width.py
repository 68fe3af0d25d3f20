"""Infinite-width NNGP/NTK of MLPs (engineering.md §2.2(b)) and the empirical NTK (§2.2(a)).

Validation ladder: closed forms against independent quadrature to 1e-10 (float64), then
seed-averaged empirical NTKs of finite networks against the closed form, with the error falling
as width^(-1/2) (test the slope).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special, stats

from lazyrich.metrics import empirical_ntk, ntk_moments
from lazyrich.metrics._demo_training import mlp_apply, mlp_init
from lazyrich.theory import kernel_distance, mlp_kernels, two_layer_ntk


def relu_expectations_scipy(a, b, c):
    """E[relu(u)relu(v)], E[1(u>0)1(v>0)]: adaptive 1-D quadrature of a conditional closed form."""
    rho = c / np.sqrt(a * b)
    s = np.sqrt(b * max(1 - rho * rho, 0.0))

    def inner_relu(z):  # E[relu(m + s Z)], m = sqrt(b) rho z
        m = np.sqrt(b) * rho * z
        if s == 0:
            return max(m, 0.0)
        return m * stats.norm.cdf(m / s) + s * stats.norm.pdf(m / s)

    def inner_step(z):
        m = np.sqrt(b) * rho * z
        return float(m > 0) if s == 0 else stats.norm.cdf(m / s)

    kw = dict(epsabs=1e-15, epsrel=1e-13, limit=200)
    e_pp = integrate.quad(lambda z: stats.norm.pdf(z) * np.sqrt(a) * z * inner_relu(z), 0, np.inf,
                          **kw)[0]
    e_dd = integrate.quad(lambda z: stats.norm.pdf(z) * inner_step(z), 0, np.inf, **kw)[0]
    return e_pp, e_dd


def erf_expectations_gh(a, b, c, order=200):
    """E[erf(u)erf(v)], E[erf'(u)erf'(v)] by a NumPy Gauss–Hermite rule on the Cholesky factor."""
    z, w = np.polynomial.hermite_e.hermegauss(order)
    w = w / np.sqrt(2 * np.pi)
    lam, V = np.linalg.eigh(np.array([[a, c], [c, b]]))
    L = V * np.sqrt(np.maximum(lam, 0.0))[None, :]  # symmetric factor: works at rho = 1
    Z1, Z2 = np.meshgrid(z, z, indexing="ij")
    W = np.outer(w, w)
    u = L[0, 0] * Z1 + L[0, 1] * Z2
    v = L[1, 0] * Z1 + L[1, 1] * Z2
    d = lambda t: 2 / np.sqrt(np.pi) * np.exp(-t * t)  # noqa: E731
    return np.sum(W * special.erf(u) * special.erf(v)), np.sum(W * d(u) * d(v))


def reference_kernels(x, depth, expect, sw2=1.0, sb2=0.0):
    """Entrywise NumPy reference of the NNGP/NTK recursion with a given expectation routine."""
    n, D = x.shape
    K = sw2 * x @ x.T / D + sb2
    T = K.copy()
    for _ in range(depth - 1):
        Kn = np.empty_like(K)
        Kd = np.empty_like(K)
        for i in range(n):
            for j in range(n):
                c = K[i, i] if i == j else K[i, j]
                Kn[i, j], Kd[i, j] = expect(K[i, i], K[j, j], c)
        K = sw2 * Kn + sb2
        T = K + T * sw2 * Kd
    return K, T


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(0).standard_normal((4, 3))


def test_relu_closed_form_vs_scipy(x):
    ker = mlp_kernels(x, depth=3, activation="relu", weight_std=1.3, bias_std=0.2)
    K, T = reference_kernels(x, 3, relu_expectations_scipy, sw2=1.69, sb2=0.04)
    assert np.max(np.abs(np.asarray(ker.nngp) - K)) < 1e-10 * np.max(np.abs(K))
    assert np.max(np.abs(np.asarray(ker.ntk) - T)) < 1e-10 * np.max(np.abs(T))


def test_erf_closed_form_vs_quadrature(x):
    ker = mlp_kernels(x, depth=3, activation="erf", bias_std=0.5)
    K, T = reference_kernels(x, 3, erf_expectations_gh, sb2=0.25)
    assert np.max(np.abs(np.asarray(ker.nngp) - K)) < 1e-10
    assert np.max(np.abs(np.asarray(ker.ntk) - T)) < 1e-10
    # the library's own Gauss–Hermite fallback, same tolerance at order 128 (smooth integrand)
    q = mlp_kernels(x, depth=3, activation="erf", bias_std=0.5, method="quadrature", quad_order=128)
    assert np.max(np.abs(np.asarray(q.ntk) - T)) < 1e-10


def test_linear_and_cross_kernels(x):
    # deep linear: Sigma^L = x x'/D and Theta^L = L x x'/D exactly
    ker = mlp_kernels(x, depth=4, activation="linear")
    G = x @ x.T / 3
    np.testing.assert_allclose(np.asarray(ker.nngp), G, rtol=0, atol=1e-14)
    np.testing.assert_allclose(np.asarray(ker.ntk), 4 * G, rtol=0, atol=1e-14)
    # cross kernels are blocks of the joint kernel
    x2 = np.random.default_rng(1).standard_normal((3, 3))
    joint = mlp_kernels(np.concatenate([x, x2]), depth=3, activation="relu")
    cross = mlp_kernels(x, x2, depth=3, activation="relu")
    np.testing.assert_allclose(np.asarray(cross.ntk), np.asarray(joint.ntk)[:4, 4:], rtol=0,
                               atol=1e-12)


def test_quadrature_any_activation_psd_and_mup(x):
    t = mlp_kernels(x, depth=3, activation="tanh")  # quadrature fallback
    assert np.min(np.linalg.eigvalsh(np.asarray(t.ntk))) > 0
    np.testing.assert_allclose(np.asarray(t.ntk), np.asarray(t.ntk).T, atol=1e-13)
    ntk = mlp_kernels(x, depth=3)
    mup = mlp_kernels(x, depth=3, parametrization="mup", gamma=0.5)
    np.testing.assert_allclose(np.asarray(mup.ntk), 4 * np.asarray(ntk.ntk), rtol=1e-14)


def test_bad_input(x):
    with pytest.raises(ValueError, match="depth must be"):
        mlp_kernels(x, depth=0)
    with pytest.raises(ValueError, match="activation must be"):
        mlp_kernels(x, depth=2, activation="swishy")
    with pytest.raises(ValueError, match="no closed form"):
        mlp_kernels(x, depth=2, activation="tanh", method="closed")
    with pytest.raises(ValueError, match="same input dimension"):
        mlp_kernels(x, x[:, :2], depth=2)
    with pytest.raises(ValueError, match="mup parametrisation"):
        mlp_kernels(x, depth=2, parametrization="mup", bias_std=1.0)
    with pytest.raises(ValueError, match="gamma must be"):
        mlp_kernels(x, depth=2, parametrization="mup", gamma=0.0)
    with pytest.raises(ValueError, match="non-finite"):
        mlp_kernels(np.full((2, 3), np.nan), depth=2)


# ---------------------------------------------------------------------------------------------
# empirical NTK
# ---------------------------------------------------------------------------------------------

def test_empirical_ntk_linear_models(rng):
    # f = W2 W1 x: the existing closed form two_layer_ntk (kron ordering, output-major)
    W1 = rng.standard_normal((5, 3))
    W2 = rng.standard_normal((2, 5))
    X = rng.standard_normal((3, 4))  # columns are samples in two_layer_ntk

    def apply(p, xb):
        return xb @ p[0].T @ p[1].T

    K = empirical_ntk(apply, (jnp.asarray(W1), jnp.asarray(W2)), X.T, trace_outputs=False,
                      batch_size=3)
    K = np.transpose(np.asarray(K), (1, 0, 3, 2)).reshape(8, 8)  # (o, i, o', j) output-major
    ref = np.asarray(two_layer_ntk(W1, W2, X))
    np.testing.assert_allclose(K, ref, rtol=0, atol=1e-12)


def test_ntk_moments_match_dense(rng):
    widths = (3, 16, 16, 2)
    p0 = mlp_init(jax.random.key(0), widths)
    p1 = jax.tree.map(lambda a: a + 0.3 * jnp.asarray(rng.standard_normal(a.shape)), p0)
    apply = lambda p, xb: mlp_apply(p, xb)[1]  # noqa: E731
    x = jnp.asarray(rng.standard_normal((37, 3)))
    y = rng.standard_normal((37, 2))
    m = ntk_moments(apply, p1, x, params0=p0, targets=y, batch_size=8)
    K0 = np.asarray(empirical_ntk(apply, p0, x, trace_outputs=False)).reshape(74, 74)
    K1 = np.asarray(empirical_ntk(apply, p1, x, trace_outputs=False)).reshape(74, 74)
    assert abs(float(m.distance_from_init) - float(kernel_distance(K0, K1))) < 1e-12
    yf = y.reshape(-1)
    kta = yf @ K1 @ yf / (np.linalg.norm(K1) * yf @ yf)
    assert abs(float(m.target_alignment) - kta) < 1e-12
    assert float(m.n) == 37.0


def _relative_errors(widths, seeds, x, theory, depth, chunk=8):
    """RMS over seeds of ||Θ_N - Θ||/||Θ||, and the error of the seed-averaged kernel.

    Weights are drawn with NumPy (N(0,1), the mlp_init convention) and stacked over seeds, so
    each width costs one compilation of the vmapped empirical NTK and no RNG compilation."""
    apply = lambda p, xb: mlp_apply(p, xb, parametrization="ntk")[1]  # noqa: E731
    rng = np.random.default_rng(11)
    ntks = jax.jit(lambda ps: jax.lax.map(lambda p: empirical_ntk(apply, p, x), ps,
                                          batch_size=chunk))
    out = []
    for N in widths:
        sizes = (x.shape[1],) + (N,) * (depth - 1) + (1,)
        ps = [{"w": jnp.asarray(rng.standard_normal((seeds, a, b)))}
              for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        Ks = np.asarray(ntks(ps))
        errs = [np.linalg.norm(K - theory) / np.linalg.norm(theory) for K in Ks]
        mean_err = np.linalg.norm(np.mean(Ks, axis=0) - theory) / np.linalg.norm(theory)
        out.append((np.sqrt(np.mean(np.square(errs))), mean_err))
    return np.asarray(out)


def test_empirical_ntk_converges_at_width_rate():
    """Depth 2 (one hidden ReLU layer): each NTK entry is a mean of N iid terms, so the
    empirical NTK is unbiased and its RMS relative error is exactly c/sqrt(N). With 64 seeds the
    RMS has ~10% relative noise per width; over widths 64, 512, 4096 that gives a slope
    standard error of ~0.035, tolerance ±0.1. Unbiasedness: E||mean - Θ||² = E||Θ_N - Θ||²/seeds,
    so the     seed-averaged error must be of order RMS/sqrt(seeds): checked one-sided at 3x."""
    x = np.random.default_rng(5).standard_normal((6, 4))
    theory = np.asarray(mlp_kernels(x, depth=2, activation="relu").ntk)
    widths = [64, 512, 4096]
    seeds = 64
    err = _relative_errors(widths, seeds, x, theory, depth=2)
    slope = np.polyfit(np.log(widths), np.log(err[:, 0]), 1)[0]
    assert abs(slope + 0.5) < 0.1, (slope, err)
    assert np.all(err[:, 1] < 3 * err[:, 0] / np.sqrt(seeds)), err


@pytest.mark.slow
def test_empirical_ntk_converges_at_width_rate_depth3():
    """Depth 3: fluctuations O(N^(-1/2)) plus an O(1/N) mean bias that steepens the slope at small
    N (measured -0.58 over 64..1024 with 24 seeds); tolerance ±0.15 over 128..2048, 32 seeds."""
    x = np.random.default_rng(5).standard_normal((6, 4))
    theory = np.asarray(mlp_kernels(x, depth=3, activation="relu").ntk)
    widths = [128, 256, 512, 1024, 2048]
    err = _relative_errors(widths, 32, x, theory, depth=3, chunk=2)
    slope = np.polyfit(np.log(widths), np.log(err[:, 0]), 1)[0]
    assert abs(slope + 0.5) < 0.15, (slope, err)


def test_mup_gamma_kernel_matches_network():
    """μP-γ (gamma-scaling.md §1.2–1.3): with step Nη, f = (g - g₀)/γ moves by -η·N·Θ_emp(f)·∇ℓ, and
    N·Θ_emp(f) → Θ^L/γ² as N → ∞. One width-4096 network: relative error ~0.03 (the RMS of the
    width-rate test at 4096), tolerance 0.1."""
    x = np.random.default_rng(5).standard_normal((6, 4))
    gamma, N = 0.3, 4096
    p0 = mlp_init(jax.random.key(3), (4, N, 1))

    def f(p, xb):
        g = mlp_apply(p, xb, parametrization="mup")[1] - mlp_apply(p0, xb, parametrization="mup")[1]
        return g / gamma

    emp = N * np.asarray(empirical_ntk(f, p0, x))
    theory = np.asarray(mlp_kernels(x, depth=2, parametrization="mup", gamma=gamma).ntk)
    assert np.linalg.norm(emp - theory) / np.linalg.norm(theory) < 0.1
