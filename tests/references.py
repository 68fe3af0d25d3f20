r"""Independent reference systems shared by tests: plain NumPy, no JAX, no lazyrich.

Each reference is written from the formulas in its docstring, not from the code it checks, so
agreement to round-off is evidence that the library implements those formulas.
"""

import numpy as np


def _activation(name: str):
    """``(sigma, sigma')`` for the activations the references support."""
    if name == "relu":
        return (lambda z: np.maximum(z, 0.0)), (lambda z: (z > 0).astype(z.dtype))
    if name == "tanh":
        return np.tanh, (lambda z: 1.0 - np.tanh(z) ** 2)
    raise ValueError(f"activation must be 'relu' or 'tanh', got {name!r}")


def chizat_two_layer_gd(W0, W1, X, Y, *, alpha: float, lr: float, num_steps: int,
                        activation: str = "relu"):
    r"""Full-batch gradient descent on the Chizat-scaled two-layer network, by hand.

    The network in the NTK parametrisation (Chizat, Oyallon & Bach, "On Lazy Training in
    Differentiable Programming", NeurIPS 2019, section 2), with first layer
    :math:`W_0\in\mathbb R^{d\times m}` and readout :math:`W_1\in\mathbb R^{m\times C}`:

    .. math::
        f(x;\theta) = \frac{1}{\sqrt m}\,\sigma\!\Big(\frac{x W_0}{\sqrt d}\Big) W_1,\qquad
        h_\alpha(x) = \alpha\,\big(f(x;\theta) - f(x;\theta_0)\big),

    .. math::
        L_\alpha(\theta) = \frac{1}{\alpha^2}\,\frac{1}{2n}\sum_{i=1}^n
            \|h_\alpha(x_i) - y_i\|^2,\qquad \theta \leftarrow \theta - \mathrm{lr}\,
            \nabla_\theta L_\alpha .

    The gradient is written out (backpropagation by hand): with :math:`Z = XW_0/\sqrt d`,
    :math:`A = \sigma(Z)` and :math:`R = (h_\alpha - Y)/(\alpha n)` (the derivative of
    :math:`L_\alpha` with respect to :math:`f`),

    .. math::
        \nabla_{W_1} L = A^\top R/\sqrt m,\qquad
        \nabla_{W_0} L = X^\top\big[(R W_1^\top/\sqrt m)\odot\sigma'(Z)\big]/\sqrt d .

    Args:
        W0: ``(d, m)``; W1: ``(m, C)``: the initial weights (float64 copies are made).
        X: ``(n, d)``; Y: ``(n, C)`` targets.
        alpha, lr, num_steps: the scale :math:`\alpha`, the step and the number of steps.
        activation: ``"relu"`` (with :math:`\sigma'(0) = 0`, as JAX) or ``"tanh"``.

    Returns:
        ``(W0s, W1s, losses)``: the weights after 0..num_steps steps, ``(num_steps+1, d, m)`` and
        ``(num_steps+1, m, C)``, and :math:`L_\alpha` before each step, ``(num_steps,)``.
    """
    sigma, dsigma = _activation(activation)
    W0 = np.array(W0, dtype=np.float64)
    W1 = np.array(W1, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    n, d = X.shape
    m = W0.shape[1]

    def forward(W0, W1):
        Z = X @ W0 / np.sqrt(d)
        A = sigma(Z)
        return Z, A, A @ W1 / np.sqrt(m)

    f0 = forward(W0, W1)[2]
    W0s, W1s, losses = [W0.copy()], [W1.copy()], []
    for _ in range(num_steps):
        Z, A, f = forward(W0, W1)
        h = alpha * (f - f0)
        losses.append(0.5 * np.sum((h - Y) ** 2) / (n * alpha**2))
        R = (h - Y) / (alpha * n)
        g1 = A.T @ R / np.sqrt(m)
        g0 = X.T @ ((R @ W1.T / np.sqrt(m)) * dsigma(Z)) / np.sqrt(d)
        W0 = W0 - lr * g0
        W1 = W1 - lr * g1
        W0s.append(W0.copy())
        W1s.append(W1.copy())
    return np.stack(W0s), np.stack(W1s), np.asarray(losses)


def two_layer_ntk(W0, W1, X, activation: str = "relu"):
    r"""The full empirical NTK :math:`JJ^\top` (``(nC, nC)``, rows ordered sample-major) of
    :math:`f(x) = \sigma(xW_0/\sqrt d)W_1/\sqrt m` at :math:`(W_0, W_1)`, from the Jacobian
    written out by hand:

    .. math::
        \frac{\partial f_c(x)}{\partial (W_1)_{jc'}} = \delta_{cc'}\,\frac{\sigma(z_j)}{\sqrt m},
        \qquad
        \frac{\partial f_c(x)}{\partial (W_0)_{kj}} = \frac{(W_1)_{jc}\,\sigma'(z_j)\,x_k}
        {\sqrt{m d}},\qquad z = xW_0/\sqrt d .
    """
    sigma, dsigma = _activation(activation)
    W0, W1, X = (np.asarray(a, dtype=np.float64) for a in (W0, W1, X))
    n, d = X.shape
    m, C = W1.shape
    Z = X @ W0 / np.sqrt(d)
    A, S = sigma(Z), dsigma(Z)
    J0 = np.einsum("jc,nj,nk->nckj", W1, S, X) / np.sqrt(m * d)  # (n, C, d, m)
    J1 = np.einsum("cq,nj->ncjq", np.eye(C), A) / np.sqrt(m)  # (n, C, m, C)
    J = np.concatenate([J0.reshape(n * C, -1), J1.reshape(n * C, -1)], axis=1)
    return J @ J.T


def smooth_task(P: int, Q: int, D: int, seed: int = 0):
    r"""P training and Q test inputs in D dimensions with :math:`|x|^2 = D` (the engine's
    convention: :math:`K^x_{\mu\mu} = 1`) and smooth single-index targets
    :math:`\tanh(2\beta\cdot x) + \tfrac12\beta\cdot x` on the training inputs (the DMFT tests'
    problem). Returns ``(x_train, x_test, y_train)``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(P + Q, D))
    x *= np.sqrt(D) / np.linalg.norm(x, axis=1, keepdims=True)
    beta = rng.normal(size=D) / np.sqrt(D)
    y = np.tanh(2 * x[:P] @ beta) + 0.5 * x[:P] @ beta
    return x[:P], x[P:], y


def make_closed_form_late(monkeypatch, rel: float) -> None:
    """Replace ``lazyrich.theory.two_layer_linear`` (the linear claims import it at call time)
    by the closed form evaluated at T(1 + rel): a unit bug of known size, which every closed-form
    claim checked against the weight ODE must reject."""
    import jax.numpy as jnp

    import lazyrich.theory as T

    exact = T.two_layer_linear
    monkeypatch.setattr(T, "two_layer_linear", lambda W1, W2, S, t, **kw: exact(
        W1, W2, S, jnp.asarray(t) * (1.0 + rel), **kw))
