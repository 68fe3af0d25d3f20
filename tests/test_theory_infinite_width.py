"""Infinite-width NNGP/NTK of MLPs and the empirical NTK (Jacot et al. 2018; docs: Kernel theory).

Validation ladder: closed forms against independent quadrature to 1e-10 (float64), then
seed-averaged empirical NTKs of finite networks against the closed form, with the error falling
as width^(-1/2) (test the slope). Every named activation is checked against high-precision
mpmath integration (1-D, or 2-D in polar form) or a published closed form, including large
variances, correlations near ±1 and zero input rows.
"""

import functools

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
from scipy import integrate, special, stats

from lazyrich.metrics import empirical_ntk, ntk_moments
from lazyrich.sims import MLP
from lazyrich.theory import ACTIVATIONS, ABReLU, kernel_distance, mlp_kernels, two_layer_ntk


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
# every activation against mpmath: large variance, rho near ±1, zero rows
# ---------------------------------------------------------------------------------------------

# (phi, phi') in mpmath; phi'(0) is the autodiff convention of the library's callables
MP_ACTS = {
    "tanh": (mp.tanh, lambda t: mp.sech(t) ** 2),
    "softplus": (lambda t: mp.log1p(mp.exp(t)), lambda t: 1 / (1 + mp.exp(-t))),
    "gelu": (lambda t: t * mp.ncdf(t), lambda t: mp.ncdf(t) + t * mp.npdf(t)),
}


def _mp_abrelu(lo, hi):
    return (lambda t: hi * t if t > 0 else lo * t), (lambda t: hi if t > 0 else lo)


def _mp_1d(f, a):
    """E[f(u)], u ~ N(0, a), split at the kink u = 0 and at the activation's scale |u| = 1."""
    sa = mp.sqrt(a)
    return mp.quad(lambda z: f(sa * z) * mp.npdf(z), [-mp.inf, -1 / sa, 0, 1 / sa, mp.inf])


def _mp_inner(kind, mu, s2):
    """E[phi(X)], E[phi'(X)] for X ~ N(mu, s2) in closed form (Stein's identity for GELU:
    E[X Phi(X)] = mu Phi(mu/t) + s2 phi(mu/t)/t, E[X phi(X)] = mu phi(mu/t)/t^3, t² = 1 + s2;
    ReLU pieces: E[relu X] = mu Phi(mu/s) + s phi(mu/s))."""
    if kind[0] == "gelu":
        t = mp.sqrt(1 + s2)
        z = mu / t
        return mu * mp.ncdf(z) + s2 / t * mp.npdf(z), mp.ncdf(z) + mu * mp.npdf(z) / t**3
    lo, hi = kind[1], kind[2]
    s = mp.sqrt(s2)
    z = mu / s
    pos = mu * mp.ncdf(z) + s * mp.npdf(z)
    neg = -mu * mp.ncdf(-z) + s * mp.npdf(z)
    return hi * pos - lo * neg, hi * mp.ncdf(z) + lo * mp.ncdf(-z)


def _mp_polar(f, g, a, b, c):
    """E[f(u)g(v)] = (1/2π)∫dψ∫ r e^{-r²/2} f(√a r cosψ) g(√b r cos(ψ-θ)) dr by mpmath's adaptive
    2-D Gauss–Legendre, the circle cut where u = 0 or v = 0 (dps 15: error estimate ~1e-19 for
    these integrands, far below the 1e-8 tolerance it checks)."""
    with mp.workdps(15):
        a, b, c = mp.mpf(a), mp.mpf(b), mp.mpf(c)
        sa, sb = mp.sqrt(a), mp.sqrt(b)
        th = mp.acos(c / (sa * sb))
        quarter = mp.pi / 2
        cuts = sorted({quarter, 3 * quarter, th + quarter, (th + 3 * quarter) % (2 * mp.pi)})

        def h(psi, r):
            return (f(r * sa * mp.cos(psi)) * g(r * sb * mp.cos(psi - th)) * r
                    * mp.exp(-r * r / 2))

        radii = [0, 1, 12]  # r e^{-r²/2} < 1e-29 beyond 12
        return mp.quad(h, [mp.mpf(0), *cuts, 2 * mp.pi], radii, method="gauss-legendre") / (
            2 * mp.pi)


@functools.cache
def mp_expect(kind, a, b, c):
    """Reference E[phi(u)phi(v)], E[phi'(u)phi'(v)] for (u, v) ~ N(0, [[a, c], [c, b]])."""
    f, df = _mp_abrelu(*kind[1:]) if kind[0] == "abrelu" else MP_ACTS[kind[0]]
    with mp.workdps(20):
        if a == 0 or b == 0:  # u ≡ 0: E[phi(0) phi(v)] = phi(0) E[phi(v)]
            v = max(a, b)
            if v == 0:
                return float(f(0) ** 2), float(df(0) ** 2)
            return float(f(0) * _mp_1d(f, v)), float(df(0) * _mp_1d(df, v))
        if c * c >= a * b:  # rho = ±1 (the diagonal): v = ±sqrt(b/a) u
            k = mp.sign(c) * mp.sqrt(mp.mpf(b) / a)
            return (float(_mp_1d(lambda u: f(u) * f(k * u), a)),
                    float(_mp_1d(lambda u: df(u) * df(k * u), a)))
        if kind[0] in ("gelu", "abrelu"):  # 1-D over u, v | u ~ N(cu/a, b - c²/a) exactly
            s2 = mp.mpf(b) - mp.mpf(c) ** 2 / a
            pp = _mp_1d(lambda u: f(u) * _mp_inner(kind, c * u / a, s2)[0], a)
            dd = _mp_1d(lambda u: df(u) * _mp_inner(kind, c * u / a, s2)[1], a)
            return float(pp), float(dd)
    return float(_mp_polar(f, f, a, b, c)), float(_mp_polar(df, df, a, b, c))


def mp_kernels(x, depth, kind):
    """NumPy recursion (zero bias, unit weights) with the mpmath expectations, pairs i <= j."""
    n, D = x.shape
    K = x @ x.T / D
    T = K.copy()
    for _ in range(depth - 1):
        E = np.empty_like(K)
        Ed = np.empty_like(K)
        for i in range(n):
            for j in range(i, n):
                c = K[i, i] if i == j else K[i, j]
                E[i, j], Ed[i, j] = mp_expect(kind, float(K[i, i]), float(K[j, j]), float(c))
                E[j, i], Ed[j, i] = E[i, j], Ed[i, j]
        K = E
        T = K + T * Ed
    return K, T


# a zero row, a unit-scale row and a row of variance ~34 nearly parallel to it (rho = 0.998);
# X_HARD4 adds a row of variance ~27 nearly antiparallel to the last (rho = -0.9985)
X_HARD = np.array([[0.0, 0.0, 0.0], [0.8, -1.1, 0.4], [6.0, -7.5, 3.0]])
X_HARD4 = np.concatenate([X_HARD, [[-5.0, 7.0, -2.5]]])
KINDS = {"gelu": ("gelu",), "leaky_relu": ("abrelu", 0.01, 1.0), "tanh": ("tanh",),
         "softplus": ("softplus",)}


def _rel_err(k, K, T):
    scale_k, scale_t = np.max(np.abs(K)), np.max(np.abs(T))
    return (np.max(np.abs(np.asarray(k.nngp) - K)) / scale_k,
            np.max(np.abs(np.asarray(k.ntk) - T)) / scale_t)


@pytest.mark.parametrize("name", ["gelu", "leaky_relu"])
def test_new_closed_forms_vs_mpmath_depth3(name):
    """GELU and leaky-ReLU closed forms (depth 3) against mpmath 1-D integrals over u of
    phi(u) E[phi(v)|u], whose inner Gaussian expectation is a standard identity, at dps 20: the
    reference is exact to ~1e-18, so 1e-10 bounds only float64 round-off (arcsin and sqrt of
    well-conditioned arguments, ~1e-15 per layer)."""
    K, T = mp_kernels(X_HARD4, 3, KINDS[name])
    for act in (name, ACTIVATIONS[name]):  # the name and its callable both use the closed form
        ek, et = _rel_err(mlp_kernels(X_HARD4, depth=3, activation=act), K, T)
        assert ek < 1e-10 and et < 1e-10, (ek, et)


def test_abrelu_closed_form_vs_mpmath():
    """ABReLU(-0.5, 2) = 2 relu(u) + 0.5 relu(-u) (a non-monotone kink), depth 3, against the
    mpmath reference; also its quadrature path (1e-8: the order-48 rule, measured ~1e-14)."""
    K, T = mp_kernels(X_HARD4, 3, ("abrelu", -0.5, 2.0))
    for method, tol in (("closed", 1e-10), ("quadrature", 1e-8)):
        ek, et = _rel_err(mlp_kernels(X_HARD4, depth=3, activation=ABReLU(-0.5, 2.0),
                                      method=method), K, T)
        assert ek < tol and et < tol, (method, ek, et)


@pytest.mark.parametrize("name", ["tanh", "softplus"])
def test_quadrature_activations_vs_mpmath(name):
    """Activations without closed form (polar quadrature path), depth 2, against mpmath's 2-D
    adaptive integration (the 2.0 pair: variances 0.67 and 33.75, rho = 0.998) and 1-D
    integrals (diagonal; the zero row, where E[phi(0)phi(v)] = phi(0)E[phi(v)] and softplus(0)
    = log 2 != 0). 1e-8 is the accuracy promised for quadrature paths (measured ~1e-14)."""
    K, T = mp_kernels(X_HARD, 2, KINDS[name])
    ek, et = _rel_err(mlp_kernels(X_HARD, depth=2, activation=name), K, T)
    assert ek < 1e-8 and et < 1e-8, (ek, et)


def _design(a, b, rho):
    """Two rows with first-layer covariance [[a, rho sqrt(ab)], [., b]] (D = 2, no bias)."""
    return np.array([[np.sqrt(2 * a), 0.0],
                     [np.sqrt(2 * b) * rho, np.sqrt(2 * b * (1 - rho * rho))]])


def _erf_kernels(x, depth):
    """Williams' arcsine closed form (published), recursion in NumPy."""
    K = x @ x.T / x.shape[1]
    T = K.copy()
    for _ in range(depth - 1):
        d = 1 + 2 * np.diag(K)
        E = 2 / np.pi * np.arcsin(np.clip(2 * K / np.sqrt(np.outer(d, d)), -1, 1))
        Ed = 4 / np.pi / np.sqrt(np.outer(d, d) - 4 * K * K)
        K, T = E, E + T * Ed
    return K, T


@pytest.mark.parametrize("a,b,rho", [(5.5, 5.5, 0.6), (50.0, 50.0, 0.998), (50.0, 0.5, -0.999),
                                     (1e4, 1e4, 0.9999)])
def test_quadrature_is_scale_independent(a, b, rho):
    """erf as an anonymous callable (so the quadrature path runs) against Williams' closed form.
    The old Gauss–Hermite rule was 4e-5 off on the NTK diagonal at variance 5.5 and 2.4 off at
    50; the sinh-graded polar rule is accurate at any variance: 1e-8 relative (measured <1e-11
    up to variance 1e4)."""
    x = _design(a, b, rho)
    k = mlp_kernels(x, depth=2, activation=lambda u: jax.scipy.special.erf(u))
    ek, et = _rel_err(k, *_erf_kernels(x, 2))
    assert ek < 1e-8 and et < 1e-8, (ek, et)


def test_quadratic_and_all_closed_forms_match_quadrature():
    """Closed forms against the polar quadrature on the hard inputs, depth 3 (1e-8, the
    quadrature's promised accuracy; measured ~1e-13): a kink (relu; ABReLU and leaky ReLU are
    checked above), smooth saturating (erf), smooth growing (gelu, quadratic). quadratic is also
    checked against Isserlis' theorem E[u²v²] = ab + 2c², E[2u 2v] = 4c recursed in NumPy
    (round-off, 1e-12)."""
    for name in ("relu", "erf", "gelu", "quadratic"):
        closed = mlp_kernels(X_HARD4, depth=3, activation=name)
        quad = mlp_kernels(X_HARD4, depth=3, activation=name, method="quadrature")
        ek, et = _rel_err(quad, np.asarray(closed.nngp), np.asarray(closed.ntk))
        assert ek < 1e-8 and et < 1e-8, (name, ek, et)
    K = X_HARD @ X_HARD.T / 3
    T = K.copy()
    for _ in range(2):
        d = np.diag(K)
        K, T = np.outer(d, d) + 2 * K * K, np.outer(d, d) + 2 * K * K + T * 4 * K
    ek, et = _rel_err(mlp_kernels(X_HARD, depth=3, activation="quadratic"), K, T)
    assert ek < 1e-12 and et < 1e-12, (ek, et)


@pytest.mark.parametrize("method", ["auto", "quadrature"])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_zero_row_is_the_exact_limit(name, method):
    """A zero input row without bias (rho = 0/0 used to give NaN). The kernels must be finite and
    equal the limit of a row eps -> 0: the NNGP/NTK are Lipschitz in the row (phi Lipschitz),
    so eps = 1e-9 moves them by O(1e-9); tolerance 1e-7 relative."""
    x = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, -1.0], [0.5, -1.0, 2.0]])
    k = mlp_kernels(x, depth=3, activation=name, method=method)
    assert np.all(np.isfinite(k.nngp)) and np.all(np.isfinite(k.ntk))
    x_eps = x.copy()
    x_eps[0, 0] = 1e-9
    k_eps = mlp_kernels(x_eps, depth=3, activation=name, method=method)
    ek, et = _rel_err(k, np.asarray(k_eps.nngp), np.asarray(k_eps.ntk))
    assert ek < 1e-7 and et < 1e-7, (ek, et)


def test_kinked_callable_converges_geometrically():
    """An anonymous kinked callable (not recognised as ABReLU, so quadrature) against the closed
    form. Cutting the circle at the kinks makes the integrand smooth on each sector, so the error
    falls geometrically: each doubling of quad_order must shrink the error by a factor at least
    10x larger than the previous doubling did (an algebraic rate n^-p gives a constant factor
    2^-p). Measured errors 1.3e-1, 1.4e-2, 7e-6, 3e-13 at orders 4, 8, 16, 32."""
    x = _design(5.5, 5.5, 0.95)
    ref = np.asarray(mlp_kernels(x, depth=2, activation=ABReLU(-0.5, 2.0)).ntk)
    kink = lambda u: jnp.where(u > 0, 2.0 * u, -0.5 * u)  # noqa: E731
    errs = [np.max(np.abs(np.asarray(mlp_kernels(x, depth=2, activation=kink,
                                                  quad_order=n).ntk) - ref)) / np.max(ref)
            for n in (4, 8, 16, 32)]
    ratios = np.array(errs[1:]) / np.array(errs[:-1])
    assert np.all(ratios[1:] < ratios[:-1] / 10), errs
    assert errs[-1] < 1e-10, errs


def test_large_quad_order_is_correct():
    """quad_order 400 (Gauss–Hermite weights overflowed to NaN from ~380) matches order 64 to
    1e-10: both are converged for tanh (error ~1e-15), so the difference is round-off."""
    x = np.random.default_rng(0).standard_normal((3, 4))
    k64 = mlp_kernels(x, depth=2, activation="tanh", quad_order=64)
    k400 = mlp_kernels(x, depth=2, activation="tanh", quad_order=400)
    np.testing.assert_allclose(np.asarray(k400.ntk), np.asarray(k64.ntk), rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.asarray(k400.nngp), np.asarray(k64.nngp), rtol=0, atol=1e-10)


def test_cross_kernels_are_blocks_quadrature():
    """The quadrature path with x2 given computes the same pair integrals as the joint kernel
    (same rule, same 1-D diagonals), so the blocks agree to round-off (1e-13)."""
    rng = np.random.default_rng(2)
    xa, xb = rng.standard_normal((3, 3)), 3 * rng.standard_normal((2, 3))
    joint = mlp_kernels(np.concatenate([xa, xb]), depth=3, activation="softplus")
    cross = mlp_kernels(xa, xb, depth=3, activation="softplus")
    for a, b in ((cross.nngp, joint.nngp), (cross.ntk, joint.ntk)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b)[:3, 3:], rtol=0, atol=1e-13)


def test_integer_inputs_are_cast_to_float():
    """Integer and bool inputs give the float64 kernels exactly (the cast happens before any
    arithmetic, so 50000² does not overflow int32)."""
    xi = np.array([[50000, 0, 0], [1, 2, 3], [0, 1, 1]], np.int32)
    for act in ("relu", "tanh"):
        ki = mlp_kernels(xi, depth=2, activation=act)
        kf = mlp_kernels(xi.astype(np.float64), depth=2, activation=act)
        assert ki.ntk.dtype == jnp.float64
        np.testing.assert_array_equal(np.asarray(ki.ntk), np.asarray(kf.ntk))
    xb = np.array([[True, False], [True, True]])
    np.testing.assert_array_equal(np.asarray(mlp_kernels(xb, depth=2).nngp),
                                  np.asarray(mlp_kernels(xb.astype(float), depth=2).nngp))


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
    model = MLP(depth=3, hidden=16, input_dim=3, output_dim=2, readout="ntk")
    p0 = model.init(jax.random.key(0), jnp.float64)
    p1 = jax.tree.map(lambda a: a + 0.3 * jnp.asarray(rng.standard_normal(a.shape)), p0)
    apply = model.apply
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

    Weights are drawn with NumPy (N(0,1), the :class:`lazyrich.sims.MLP` convention) and
    stacked over seeds, so each width costs one compilation of the vmapped empirical NTK and no
    RNG compilation. The network is the engine's MLP with the NTK readout 1/√N."""
    rng = np.random.default_rng(11)
    out = []
    for N in widths:
        apply = MLP(depth=depth, hidden=N, input_dim=x.shape[1], readout="ntk").apply
        ntks = jax.jit(lambda ps, apply=apply: jax.lax.map(
            lambda p: empirical_ntk(apply, p, x), ps, batch_size=chunk))
        sizes = (x.shape[1],) + (N,) * (depth - 1) + (1,)
        ps = {"w": tuple(jnp.asarray(rng.standard_normal((seeds, a, b)))
                         for a, b in zip(sizes[:-1], sizes[1:], strict=True))}
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
    """μP-γ (docs: Conventions): with step Nη, f = (g - g₀)/γ moves by -η·N·Θ_emp(f)·∇ℓ, and
    N·Θ_emp(f) → Θ^L/γ² as N → ∞. One width-4096 network: relative error ~0.03 (the RMS of the
    width-rate test at 4096), tolerance 0.1."""
    x = np.random.default_rng(5).standard_normal((6, 4))
    gamma, N = 0.3, 4096
    model = MLP(depth=2, hidden=N, input_dim=4)  # μP readout 1/N
    p0 = model.init(jax.random.key(3), jnp.float64)

    def f(p, xb):
        return (model.apply(p, xb) - model.apply(p0, xb)) / gamma

    emp = N * np.asarray(empirical_ntk(f, p0, x))
    theory = np.asarray(mlp_kernels(x, depth=2, parametrization="mup", gamma=gamma).ntk)
    assert np.linalg.norm(emp - theory) / np.linalg.norm(theory) < 0.1
