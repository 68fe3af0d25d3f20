r"""A small MLP and a one-run trainer for the richness demonstrations (private).

Temporary: this is the minimal trainer the richness claims need until the sweep engine exists;
it should move onto the sweep engine then. Conventions follow gamma-scaling.md §1.2–1.3:

.. math::
    h^1 = \frac{\sigma_w}{\sqrt D}W^0x + \sigma_b b^0,\quad
    h^{\ell+1} = \frac{\sigma_w}{\sqrt N}W^\ell\phi(h^\ell) + \sigma_b b^\ell,\quad
    g = m_L\,W^{L-1}\phi(h^{L-1}),

with all weights :math:`\mathcal N(0,1)` (times ``init_scale``), readout multiplier
:math:`m_L = \sigma_w/\sqrt N` (``"ntk"``) or :math:`1/N` (``"mup"``) (``"standard"``: every
multiplier is 1 and the scales live in the initial weights, as in PyTorch), and the centred,
γ-scaled output :math:`f = (g_\theta - g_{\theta_0})/\gamma` when ``centred``. SGD takes the step
:math:`N\eta` in ``"mup"`` (μP-correct, §1.3) and :math:`\eta` otherwise; AdamW uses ``eta``.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lazyrich.theory._infinite_width import get_activation


def mlp_init(key, widths, *, bias: bool = False, init_scale=1.0, dtype=jnp.float64):
    """Parameters ``[{"w": (fan_in, fan_out)[, "b": (fan_out,)]}, ...]``, weights N(0, s_l²).

    ``init_scale``: one scale for every layer, or one per weight matrix.
    """
    widths = tuple(int(w) for w in widths)
    if len(widths) < 3 or min(widths) < 1:
        raise ValueError(f"widths must be (D, N_1, ..., C) with at least one hidden layer, "
                         f"got {widths}")
    scales = np.broadcast_to(np.asarray(init_scale, float), (len(widths) - 1,))
    keys = jax.random.split(key, len(widths) - 1)
    params = []
    for k, s, (a, b) in zip(keys, scales, zip(widths[:-1], widths[1:], strict=True), strict=True):
        layer = {"w": float(s) * jax.random.normal(k, (a, b), dtype)}
        if bias:
            layer["b"] = jnp.zeros(b, dtype)
        params.append(layer)
    return params


def mlp_apply(params, x, *, activation="relu", parametrization: str = "ntk",
              weight_std: float = 1.0, bias_std: float = 1.0):
    r"""Forward pass; returns ``(phi, g)``: the last hidden post-activation (the input of the last
    linear layer, shape ``(B, N)``) and the readout ``(B, C)``."""
    act = get_activation(activation)
    std = parametrization == "standard"  # multipliers live in the initial weights instead
    h = x
    for i, layer in enumerate(params[:-1]):
        m = 1.0 if std else float(weight_std / np.sqrt(layer["w"].shape[0]))
        h = (act(h) if i else h) @ layer["w"] * m
        if "b" in layer:
            h = h + bias_std * layer["b"][None, :]
    phi = act(h)
    w = params[-1]["w"]
    m = float({"ntk": weight_std / np.sqrt(w.shape[0]), "mup": 1.0 / w.shape[0],
               "standard": 1.0}[parametrization])
    g = phi @ w * m
    if "b" in params[-1]:
        g = g + bias_std * params[-1]["b"][None, :]
    return phi, g


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["eta", "gamma", "weight_decay"],
                   meta_fields=["steps", "log_every", "optimizer", "loss", "batch_size",
                                "readout_only", "centred", "activation", "parametrization"])
@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One run. ``eta``, ``gamma``, ``weight_decay`` are data (vmap over them); the rest static.

    Attributes:
        eta: learning rate (SGD step :math:`N\\eta` under ``"mup"``). gamma: output scale γ.
        weight_decay: decoupled (AdamW) or L2-gradient (SGD) decay.
        steps, log_every: number of steps; parameters are saved every ``log_every`` steps.
        optimizer: ``"sgd"`` or ``"adamw"`` (β = (0.9, 0.98)). loss: ``"mse"`` (mean over batch
        and outputs, no ½) or ``"ce"``. batch_size: ``None`` for full batch.
        readout_only: train only the last layer (a random-feature / lazy control).
        centred: output :math:`(g_\\theta - g_{\\theta_0})/\\gamma`; else :math:`g_\\theta/\\gamma`.
    """

    eta: float
    gamma: float = 1.0
    weight_decay: float = 0.0
    steps: int = 1000
    log_every: int = 100
    optimizer: str = "sgd"
    loss: str = "mse"
    batch_size: int | None = None
    readout_only: bool = False
    centred: bool = True
    activation: str = "relu"
    parametrization: str = "mup"


def model_fn(cfg: TrainConfig, params0):
    """``apply(params, x) -> (phi, f)`` with the γ-scaled (centred) output of ``cfg``."""
    def apply(params, x):
        phi, g = mlp_apply(params, x, activation=cfg.activation,
                           parametrization=cfg.parametrization)
        if cfg.centred:
            g = g - mlp_apply(params0, x, activation=cfg.activation,
                              parametrization=cfg.parametrization)[1]
        return phi, g / cfg.gamma
    return apply


def _loss(cfg, f, y):
    if cfg.loss == "mse":
        return jnp.mean((f - y) ** 2)
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(f, y))


@functools.partial(jax.jit, static_argnames=())
def train(key, cfg: TrainConfig, params0, x, y):
    r"""Train one network; returns ``(params_log, loss_log)``.

    ``params_log`` stacks the parameters at steps ``0, log_every, …, steps`` on a leading axis;
    ``loss_log`` holds the full-batch training loss at those steps. One ``lax.scan`` over logs
    wraps one over steps, so ``jax.vmap`` over ``cfg``'s data fields or ``key`` batches runs.
    """
    if cfg.steps % cfg.log_every:
        raise ValueError(f"steps={cfg.steps} must be a multiple of log_every={cfg.log_every}")
    if cfg.optimizer not in ("sgd", "adamw") or cfg.loss not in ("mse", "ce"):
        raise ValueError(f"optimizer must be sgd|adamw and loss mse|ce, got {cfg.optimizer}, "
                         f"{cfg.loss}")
    apply = model_fn(cfg, params0)
    n_hidden = params0[-1]["w"].shape[0]
    if cfg.optimizer == "sgd":
        lr = cfg.eta * float(n_hidden if cfg.parametrization == "mup" else 1)
        opt = optax.chain(optax.add_decayed_weights(cfg.weight_decay), optax.sgd(lr))
    else:
        opt = optax.adamw(cfg.eta, b1=0.9, b2=0.98, weight_decay=cfg.weight_decay)
    n = x.shape[0]

    def loss_fn(p, xb, yb):
        return _loss(cfg, apply(p, xb)[1], yb)

    def step(carry, k):
        p, s = carry
        if cfg.batch_size is None:
            xb, yb = x, y
        else:
            idx = jax.random.randint(k, (cfg.batch_size,), 0, n)
            xb, yb = x[idx], y[idx]
        g = jax.grad(loss_fn)(p, xb, yb)
        if cfg.readout_only:
            g = [jax.tree.map(jnp.zeros_like, layer) for layer in g[:-1]] + [g[-1]]
        upd, s = opt.update(g, s, p)
        return (optax.apply_updates(p, upd), s), None

    def block(carry, k):
        carry, _ = jax.lax.scan(step, carry, jax.random.split(k, cfg.log_every))
        return carry, (carry[0], loss_fn(carry[0], x, y))

    carry = (params0, opt.init(params0))
    _, (plog, llog) = jax.lax.scan(block, carry, jax.random.split(key, cfg.steps // cfg.log_every))
    plog = jax.tree.map(lambda a0, a: jnp.concatenate([a0[None], a]), params0, plog)
    return plog, jnp.concatenate([loss_fn(params0, x, y)[None], llog])


def checkpoint(params_log, i):
    """The parameters saved at log index ``i``."""
    return jax.tree.map(lambda a: a[i], params_log)
