"""Deep linear theory (docs: Gamma scaling, "Deep linear networks") and Lanczos sharpness,
against exact references."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from lazyrich.metrics import gauss_newton_top, hessian_extremes, lanczos_extremes
from lazyrich.sims import chain_gd
from lazyrich.theory import (
    chain_eta_max_lazy,
    chain_eta_max_rich,
    chain_plateau_time,
    deep_linear_final_ntk,
    mode_learning_time,
)


@pytest.mark.parametrize("L", [2, 3])
def test_chain_edges_bracket_divergence(L):
    """GD on the chain converges at 0.9× the predicted edge and fails at 1.1× (lazy and rich)."""
    for gamma, edge_fn, steps in [(1e-2, lambda g: chain_eta_max_lazy(g, L), 400),
                                  (1e3, lambda g: chain_eta_max_rich(g, L), 60000)]:
        e = float(edge_fn(gamma))
        below, _ = chain_gd(gamma, 0.9 * e, L, steps)
        above, _ = chain_gd(gamma, 1.1 * e, L, steps)
        assert float(below[-1]) < 1e-12  # converged (linear rate 1 − ηK bounded away from 1)
        assert not float(above[-1]) < 1e-3  # oscillates or diverges past the edge


def test_chain_ntk_at_init_and_edge_exponents():
    _, K = chain_gd(1e-2, 1e-6, 3, 2)
    assert abs(float(K[0]) - 3 / 1e-4) < 1e-6 * 3e4  # K₀ = L/γ² exactly
    g = np.logspace(2, 6, 5)
    slope = np.polyfit(np.log(g), np.log(np.asarray(chain_eta_max_rich(g, 3))), 1)[0]
    assert abs(slope - 2 / 3) < 0.01  # → γ^{2/L}, corrections O(1/(γ y*))


def test_chain_plateau_time_matches_simulation():
    """L = 3, γ = 1e3: the escape takes ≈ γ/((L−2) y* η) steps (small-f approximation)."""
    gamma, L = 1e3, 3
    eta = 0.2 * gamma ** (2 / L)
    loss, _ = chain_gd(gamma, eta, L, 20000)
    t_half = int(np.argmax(np.asarray(loss) < 0.5 * float(loss[0])))
    pred = float(chain_plateau_time(gamma, L, eta))
    # the prediction is the blow-up time of the linearised escape; the half-loss time comes
    # slightly before it: within 15%
    assert abs(t_half - pred) / pred < 0.15


def test_mode_learning_time_saxe_and_quadrature():
    s, u0 = 1.5, 1e-3
    saxe = 1 / (2 * s) * np.log(0.5 * (s - u0) / (u0 * 0.5))
    assert abs(mode_learning_time(s, u0, 2) - saxe) < 1e-10  # L = 2 is Saxe's closed form
    # L = 3 against a direct ODE integration of du/dτ = L u^{4/3}(s − u)
    from scipy.integrate import solve_ivp

    ev = lambda t, u: u[0] - 0.5 * s  # noqa: E731
    ev.terminal = True
    sol = solve_ivp(lambda t, u: 3 * u ** (4 / 3) * (s - u), (0, 1e4), [u0], events=ev,
                    rtol=1e-12, atol=1e-15)
    assert abs(mode_learning_time(s, u0, 3) - sol.t_events[0][0]) < 1e-7 * sol.t_events[0][0]
    with pytest.raises(ValueError, match="0 < u0 < frac"):
        mode_learning_time(1.0, 0.9, 3)


def test_final_ntk_spectrum():
    b = jnp.array([3.0, 0.0, 4.0, 0.0])
    for L in (2, 3, 4):
        ev = np.linalg.eigvalsh(np.asarray(deep_linear_final_ntk(b, L)))
        iso = 5.0 ** (2 * (L - 1) / L)
        np.testing.assert_allclose(ev, [iso, iso, iso, L * iso], rtol=1e-13)  # L× along β̂
    with pytest.raises(ValueError, match="integer >= 2"):
        deep_linear_final_ntk(b, 1)


def test_lanczos_extremes_known_spectrum(rng):
    n = 150
    Q = np.linalg.qr(rng.normal(size=(n, n)))[0]
    lam = np.concatenate([[-4.0], rng.uniform(-1, 1, n - 2), [6.0]])
    A = jnp.asarray(Q @ np.diag(lam) @ Q.T)
    lo, hi = lanczos_extremes(jax.tree_util.Partial(lambda v, A: A @ v, A=A),
                              jnp.asarray(rng.normal(size=n)), 40)
    # gaps of 3 and 5 to the bulk: 40 Lanczos steps converge far below 1e-10
    assert abs(float(lo) + 4) < 1e-10 and abs(float(hi) - 6) < 1e-10


def test_hessian_and_gauss_newton_match_dense(rng):
    X = jnp.asarray(rng.normal(size=(16, 3)))
    Y = jnp.asarray(rng.normal(size=(16, 2)))
    p = {"W": jnp.asarray(rng.normal(size=(3, 6))), "V": jnp.asarray(rng.normal(size=(6, 2))) / 6}
    f = lambda q: jnp.tanh(X @ q["W"]) @ q["V"]  # noqa: E731
    loss = lambda q: jnp.mean((f(q) - Y) ** 2)  # noqa: E731
    flat, unravel = ravel_pytree(p)
    ev = np.linalg.eigvalsh(np.asarray(jax.hessian(lambda q: loss(unravel(q)))(flat)))
    lo, hi = hessian_extremes(jax.random.key(0), loss, p, num_iters=flat.size)
    np.testing.assert_allclose([lo, hi], [ev[0], ev[-1]], rtol=1e-9)  # full Krylov space: exact
    J = np.asarray(jax.jacobian(lambda q: f(unravel(q)).reshape(-1))(flat))
    gn = np.linalg.eigvalsh(2 / 32 * J.T @ J)[-1]
    np.testing.assert_allclose(gauss_newton_top(jax.random.key(1), f, p, 32), gn, rtol=1e-9)


def test_chain_gd_moved_to_sims_with_a_deprecated_alias():
    """chain_gd is a simulator: it lives in lazyrich.sims; lazyrich.theory.chain_gd warns and
    returns the same function for one release."""
    import lazyrich.sims
    import lazyrich.theory

    with pytest.warns(DeprecationWarning, match=r"lazyrich\.theory\.chain_gd is deprecated .* "
                                                r"lazyrich\.sims\.chain_gd"):
        assert lazyrich.theory.chain_gd is lazyrich.sims.chain_gd
    assert "chain_gd" not in lazyrich.theory.__all__
