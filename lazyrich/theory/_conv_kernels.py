r"""Infinite-width NNGP and NTK of convolutional networks, without neural-tangents.

A network is a sequence of layers — :class:`Conv`, :class:`Activation`, :class:`AvgPool`,
:class:`Flatten`, :class:`GlobalAvgPool`, :class:`Dense` — and :func:`cnn_kernels` returns the
NNGP :math:`K` and the NTK :math:`\Theta` of its output, per output channel, in the NTK
parametrisation (Jacot et al. 2018), for images ``x1`` of shape ``(n1, H, W, C)`` and ``x2`` of
shape ``(n2, H, W, C)``. :func:`convnet_kernels` is the project's ConvNet
(:class:`lazyrich.sims.ConvNet`).

**State.** All weights are :math:`\mathcal N(0,1)` with explicit multipliers. As the number of
channels goes to infinity, every channel of a layer is an independent copy of one Gaussian process
over (image, pixel) (Novak et al. 2019, "Bayesian deep convolutional networks with many channels
are Gaussian processes"; Garriga-Alonso, Rasmussen & Aitchison 2019). A layer is therefore
described, for a pair of images :math:`(x, x')`, by :math:`K(p, p')` and :math:`\Theta(p, p')`
over pairs of pixels :math:`p = (i, j)`, :math:`p'`, plus each image's own variances
:math:`K_{xx}(p, p)` (needed by the nonlinearities). The recursion (Novak et al. 2019; Arora et
al. 2019, "On exact computation with an infinitely wide neural net", for the NTK):

* input: :math:`K^0(p,p') = \frac1{C_0}\sum_c x_c(p)\,x'_c(p')`, :math:`\Theta^0 = 0`;
* :class:`Conv` (filter :math:`k_h\times k_w`, stride 1, multiplier
  :math:`\sigma_w/\sqrt{Z\,C_{in}}`, bias :math:`\sigma_b b`):

  .. math::
      K(p,p') = \frac{\sigma_w^2}{Z}\sum_{\delta\in\text{window}} K_{in}(p+\delta, p'+\delta)
      + \sigma_b^2,\qquad
      \Theta(p,p') = K(p,p') + \frac{\sigma_w^2}{Z}\sum_{\delta}\Theta_{in}(p+\delta,p'+\delta),

  with :math:`Z = k_hk_w` (``fan_in="standard"``: fan-in :math:`C_{in}k_hk_w`, as
  neural-tangents) or :math:`Z = 1` (``fan_in="channels"``: fan-in :math:`C_{in}`, as the
  project's ConvNet, so each of its convolutions carries a factor :math:`k_hk_w` relative to the
  standard convention). Pixels outside the grid are zero padding and contribute 0; the division is
  still by :math:`Z`. ``"SAME"``: :math:`\delta\in\{-\frac{k-1}2,\dots,\frac{k-1}2\}^2` and the
  grid is kept (odd filters only: for even ones centred and ``lax`` SAME padding differ, so they
  are refused); ``"VALID"``: :math:`\delta\in\{0,\dots,k-1\}^2`, grid
  :math:`(H-k_h+1)\times(W-k_w+1)`;
* :class:`Activation`: with :math:`(u,v)\sim\mathcal N\bigl(0,
  [[K_{xx}(p,p), K(p,p')], [K(p,p'), K_{x'x'}(p',p')]]\bigr)`,
  :math:`K\leftarrow\mathbb E[\phi(u)\phi(v)]` and
  :math:`\Theta\leftarrow\Theta\odot\mathbb E[\phi'(u)\phi'(v)]` — the same closed forms
  (arc-cosine for ReLU, arcsine for erf, …) and polar quadrature as
  :func:`lazyrich.theory.mlp_kernels`, whose code this module calls; on the self-pair diagonal
  (:math:`x = x'`, :math:`p = p'`) the correlation is exactly 1 (no :math:`\sqrt\epsilon` loss
  from :math:`\arccos` at :math:`\rho\to 1`). An activation needs Gaussian inputs: a
  :class:`Conv` or :class:`Dense` (possibly followed by pooling or :class:`Flatten`) before it;
* :class:`AvgPool` (:math:`s\times s`, stride :math:`s`, VALID: the grid is cropped to
  :math:`\lfloor H/s\rfloor s`), linear and parameter-free, the same map on :math:`K` and
  :math:`\Theta`:
  :math:`K(P,P') = s^{-4}\sum_{a,b\in\{0..s-1\}^2}K_{in}(sP+a, sP'+b)`;
* :class:`Flatten`: the flattened features :math:`(p, c)` have kernels :math:`K(p,p)` — only the
  same-pixel terms survive, since different pixels meet different weights of the next layer. A
  following :class:`Dense` (multiplier :math:`\sigma_w/\sqrt{HWC}`) gives
  :math:`K = \sigma_w^2\frac1{HW}\sum_pK(p,p) + \sigma_b^2`,
  :math:`\Theta = K + \sigma_w^2\frac1{HW}\sum_p\Theta(p,p)`; a network that ends with
  :class:`Flatten` returns the feature average :math:`\frac1{HW}\sum_pK(p,p)`;
* :class:`GlobalAvgPool`: :math:`K = \frac1{(HW)^2}\sum_{p,p'}K(p,p')`, the same for
  :math:`\Theta` — all pixel pairs;
* :class:`Dense` (after :class:`Flatten` or :class:`GlobalAvgPool`, multiplier
  :math:`\sigma_w/\sqrt{\text{fan-in}}`): :math:`K\leftarrow\sigma_w^2K + \sigma_b^2`,
  :math:`\Theta\leftarrow K + \sigma_w^2\Theta`.

**Offset band** (Novak et al. 2019; Arora et al. 2019). The state is stored by offset,
:math:`K[\Delta, p] = K(p, p+\Delta)` for :math:`|\Delta_h|\le r_h`, :math:`|\Delta_w|\le r_w`.
Convolutions and nonlinearities keep offsets (:math:`K_{out}(p,p+\Delta)` depends only on
:math:`K_{in}(\cdot,\cdot+\Delta)`); an :math:`s\times s` pool maps output offset
:math:`\Delta'` to input offsets :math:`s\Delta' + \{-(s-1),\dots,s-1\}`. The radius needed is
therefore propagated backwards from the readout: :class:`Flatten` needs :math:`r = 0`, a pool
:math:`r_{in} = s\,r_{out} + s - 1`, :class:`GlobalAvgPool` the full radius
:math:`(H-1, W-1)`; every radius is capped at the grid. For the project's ConvNet the input
radius is 3: :math:`7^2 HW` numbers per kernel per pair instead of :math:`(HW)^2`; without
pooling a :class:`Flatten` readout needs the diagonal :math:`p = p'` only (the CNN-GP without
pooling is the locally connected network's GP, Novak et al. 2019). The band is exact — the same
result as the full tensor to round-off, not an approximation; ``band=False`` stores the full
:math:`(2H-1)(2W-1)HW` offsets (for checking).

**Memory and batching.** Per pair of images the state holds
:math:`S = \max_\ell (2r_h+1)(2r_w+1)H_\ell W_\ell` numbers per kernel; a pair is estimated to
need :math:`8(16S + (2r_h+1)(2r_w+1)HWC_0)` bytes (kernels, variances, expectations and
temporaries; the second term is the input layer's patch gather). The self-variances of every
image are computed once (a pass over single images); the pairs (only :math:`i<j` when ``x2`` is
omitted, the diagonal from the self pass) are then mapped (``lax.map``) in blocks of
``block_size`` pairs, chosen so that a block fits ``memory_budget``; a problem whose single pair
exceeds the budget is refused with the size it needs. Quadrature activations add a fixed
:math:`\approx 2^{21}` evaluation points of workspace. Only the ``(n1, n2)`` results are stored.
Cost per pair per convolution: :math:`O(S\,k_hk_w)` (closed forms) or
:math:`O(S\cdot 8q^2)` activation evaluations per activation layer with quadrature order
:math:`q`.

**The lazy μP-γ kernel** (docs: Conventions). The engine's networks have the readout multiplier
:math:`1/F_{ro}` (:math:`F_{ro} = 8N` for the ConvNet) and the SGD step :math:`N\eta`; with the
same weights, :math:`g_{\mu P} = g_{NTK}/\sqrt{F_{ro}}`, so :math:`N\,\hat\Theta_{\mu P} =
\rho\,\hat\Theta_{NTK}` with :math:`\rho = N/F_{ro}` (1/8 for the ConvNet), and the centred
output :math:`f = (g - g_0)/\gamma` follows, in the lazy limit, the function-space kernel
:math:`\rho\Theta/\gamma^2` per unit engine time :math:`T = \eta\cdot\text{steps}`
(Lee et al. 2019).
"""

import dataclasses
import functools
import numbers
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich._checks import dtype_of

from ._infinite_width import (
    CLOSED_FORMS,
    QUAD_ORDER_RANGE,
    _closed_diag,
    _closed_form,
    _closed_key,
    _expect_diag,
    _float_dtype,
    _quadrature,
    _real,
    _require_finite_input,
    _require_finite_kernels,
    get_activation,
)

CONVNET_RHO = 1.0 / 8.0
"""ρ = N/F_ro of the project's ConvNet: SGD step Nη, readout fan-in 8N."""
DEFAULT_MEMORY_BUDGET = 2**30
"""Default bytes for one block of input pairs (1 GiB)."""
_TEMPS = 16  # state-sized arrays alive at once per pair (K, Θ, variances, expectations, masks, …)


# ---------------------------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------------------------


def _pair(name, v, *, odd):
    """A positive int or a pair of them (odd if ``odd``), as a 2-tuple of ints."""
    vals = tuple(v) if isinstance(v, tuple | list) else (v, v)
    ok = len(vals) == 2 and all(not isinstance(s, bool) and isinstance(s, int | np.integer)
                                and s >= 1 and (not odd or s % 2 == 1) for s in vals)
    if not ok:
        what = "odd positive" if odd else "positive"
        raise ValueError(f"{name} must be {'an' if odd else 'a'} {what} integer or a pair of "
                         f"{what} integers, got {v!r}")
    return int(vals[0]), int(vals[1])


@dataclasses.dataclass(frozen=True)
class Conv:
    r"""Convolution with stride 1: :math:`h = \frac{\sigma_w}{\sqrt{Z C_{in}}}W*x + \sigma_b b`.

    Args:
        filter_shape: :math:`k` or :math:`(k_h, k_w)`, odd (SAME padding is centred).
        padding: ``"SAME"`` (zero padding, grid kept) or ``"VALID"`` (grid shrinks by k - 1).
        fan_in: ``"standard"`` (:math:`Z = k_hk_w`, fan-in :math:`C_{in}k_hk_w`, as
            neural-tangents) or ``"channels"`` (:math:`Z = 1`, fan-in :math:`C_{in}`, as the
            project's ConvNet).
        weight_std, bias_std: :math:`\sigma_w > 0`, :math:`\sigma_b\ge 0`.
    """

    filter_shape: int | tuple = 3
    padding: str = "SAME"
    fan_in: str = "standard"
    weight_std: float = 1.0
    bias_std: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "filter_shape", _pair("Conv filter_shape", self.filter_shape,
                                                       odd=True))
        if self.padding not in ("SAME", "VALID"):
            raise ValueError(f"Conv padding must be 'SAME' or 'VALID', got {self.padding!r}")
        if self.fan_in not in ("standard", "channels"):
            raise ValueError(f"Conv fan_in must be 'standard' (Z = k_h k_w) or 'channels' "
                             f"(Z = 1, the project's ConvNet), got {self.fan_in!r}")
        object.__setattr__(self, "weight_std", _real("Conv weight_std", self.weight_std, low=0.0,
                                                     strict=True))
        object.__setattr__(self, "bias_std", _real("Conv bias_std", self.bias_std, low=0.0,
                                                   strict=False))

    @property
    def z(self) -> int:
        """Z: the filter's share of the fan-in (:math:`k_hk_w` or 1)."""
        return self.filter_shape[0] * self.filter_shape[1] if self.fan_in == "standard" else 1


@dataclasses.dataclass(frozen=True)
class Activation:
    """Elementwise nonlinearity: a name of :data:`lazyrich.theory.ACTIVATIONS`, an
    :class:`lazyrich.theory.ABReLU` or any elementwise callable (quadrature)."""

    fn: str | Callable = "relu"

    def __post_init__(self):
        get_activation(self.fn)


@dataclasses.dataclass(frozen=True)
class AvgPool:
    """Average pooling :math:`s\\times s` with stride :math:`s`, VALID (``window``: s or
    (s_h, s_w)); the grid is cropped to a multiple of s, as the project's ConvNet."""

    window: int | tuple = 2

    def __post_init__(self):
        object.__setattr__(self, "window", _pair("AvgPool window", self.window, odd=False))


@dataclasses.dataclass(frozen=True)
class Flatten:
    """Flatten an image to a vector (features (pixel, channel)); only same-pixel terms
    survive."""


@dataclasses.dataclass(frozen=True)
class GlobalAvgPool:
    """Mean over all pixels, per channel; all pixel pairs enter the kernel."""


@dataclasses.dataclass(frozen=True)
class Dense:
    r"""Fully connected layer after :class:`Flatten` or :class:`GlobalAvgPool`:
    :math:`h = \frac{\sigma_w}{\sqrt{\text{fan-in}}}Wx + \sigma_b b`."""

    weight_std: float = 1.0
    bias_std: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "weight_std", _real("Dense weight_std", self.weight_std,
                                                     low=0.0, strict=True))
        object.__setattr__(self, "bias_std", _real("Dense bias_std", self.bias_std, low=0.0,
                                                   strict=False))


LAYERS = (Conv, Activation, AvgPool, Flatten, GlobalAvgPool, Dense)


@functools.partial(jax.tree_util.register_dataclass, data_fields=["nngp", "ntk"], meta_fields=[])
@dataclasses.dataclass(frozen=True)
class CNNKernels:
    """Infinite-width kernels of a network's output between two image sets, each
    ``(n1, n2)``."""

    nngp: jax.Array
    ntk: jax.Array


def convnet_layers(padding: str = "VALID", activation: str = "relu") -> tuple:
    r"""The project's ConvNet (:class:`lazyrich.sims.ConvNet`) as layers, NTK parametrisation:
    conv3×3 (:math:`Z = 1`) → φ → avgpool 2 → conv3×3 (:math:`Z = 1`) → φ → avgpool 2 →
    flatten → dense → φ → dense (readout, multiplier :math:`1/\sqrt{8N}`); φ = ``activation``
    (ReLU by default, as the ConvNet's)."""
    if padding not in ("VALID", "SAME"):
        raise ValueError(f"padding must be 'VALID' or 'SAME', got {padding!r}")
    conv, phi = Conv(3, padding, "channels"), Activation(activation)
    return (conv, phi, AvgPool(2), conv, phi, AvgPool(2), Flatten(), Dense(), phi, Dense())


# ---------------------------------------------------------------------------------------------
# The plan: shapes and band radii of every layer (static)
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Step:
    layer: object
    state: str          # the input state: "spatial", "flat" (after Flatten) or "vector"
    grid_in: tuple      # (H, W) of the input (spatial and flat states)
    grid_out: tuple
    r_in: tuple         # band radii (r_h, r_w) of the input and output (spatial states)
    r_out: tuple
    form: tuple | None = None   # activations: the closed form, or None for quadrature
    phi: Callable | None = None


@dataclasses.dataclass(frozen=True)
class _Plan:
    grid: tuple
    r0: tuple
    steps: tuple
    cut: tuple | None   # test hook: zero input offsets beyond this radius (None: keep all)

    @property
    def activations(self) -> int:
        return sum(isinstance(s.layer, Activation) for s in self.steps)

    def entries(self) -> int:
        """Largest spatial state, in numbers per kernel per pair."""
        best = _band_size(self.r0) * self.grid[0] * self.grid[1]
        for s in self.steps:
            if s.state in ("spatial", "flat"):
                best = max(best, _band_size(s.r_in) * s.grid_in[0] * s.grid_in[1])
        return best


def _band_size(r):
    return (2 * r[0] + 1) * (2 * r[1] + 1)


def _plan(layers, grid, method, band, cut=None) -> _Plan:
    """Validate the layer sequence on images of size ``grid`` and compute the band radii."""
    if not isinstance(layers, tuple | list) or len(layers) == 0:
        names = ", ".join(c.__name__ for c in LAYERS)
        raise ValueError(f"layers must be a non-empty list of layers ({names}), got {layers!r}")
    state, g, gaussian = "spatial", tuple(grid), False
    shapes = []
    for i, layer in enumerate(layers):
        where = f"layers[{i}] = {layer!r}"
        if not isinstance(layer, LAYERS):
            raise TypeError(f"{where} is not a layer; expected one of "
                            f"{', '.join(c.__name__ for c in LAYERS)}")
        g_in, st = g, state
        if isinstance(layer, Conv | AvgPool | Flatten | GlobalAvgPool) and state != "spatial":
            raise ValueError(f"{where} needs an image, but the network has already been "
                             f"reduced to a vector by a Flatten or GlobalAvgPool before it")
        if isinstance(layer, Conv):
            k = layer.filter_shape
            if layer.padding == "VALID":
                if g[0] < k[0] or g[1] < k[1]:
                    raise ValueError(f"{where} needs an input of at least {k[0]}x{k[1]} pixels "
                                     f"with padding='VALID', got {g[0]}x{g[1]}; use smaller "
                                     f"filters, padding='SAME' or larger images")
                g = (g[0] - k[0] + 1, g[1] - k[1] + 1)
            gaussian = True
        elif isinstance(layer, Activation):
            if not gaussian:
                raise ValueError(f"{where} needs Gaussian pre-activations: put a Conv or Dense "
                                 f"before it (two activations in a row, or an activation on the "
                                 f"raw inputs, have no Gaussian limit)")
            gaussian = False
        elif isinstance(layer, AvgPool):
            s = layer.window
            if g[0] < s[0] or g[1] < s[1]:
                raise ValueError(f"{where} needs an input of at least {s[0]}x{s[1]} pixels, got "
                                 f"{g[0]}x{g[1]}")
            g = (g[0] // s[0], g[1] // s[1])
        elif isinstance(layer, Flatten):
            state = "flat"
        elif isinstance(layer, GlobalAvgPool):
            state, g = "vector", ()
        else:  # Dense
            if state == "spatial":
                raise ValueError(f"{where} needs a vector: put Flatten() or GlobalAvgPool() "
                                 f"before it (use Conv on images)")
            state, g, gaussian = "vector", (), True
        shapes.append((layer, st, g_in, g))
    if state == "spatial":
        raise ValueError("layers must reduce the image to a vector: end with Flatten() or "
                         "GlobalAvgPool() (and Dense() readouts)")
    # band radii, backwards from the readout
    radii = [None] * len(shapes)
    need = None  # radius needed at the output of the current layer
    for i in range(len(shapes) - 1, -1, -1):
        layer, st, g_in, g_out = shapes[i]
        if st != "spatial":
            radii[i] = ((0, 0), (0, 0))
            continue
        full = (g_in[0] - 1, g_in[1] - 1)
        if isinstance(layer, Flatten):
            r_in, r_out = (0, 0), (0, 0)
        elif isinstance(layer, GlobalAvgPool):
            r_in, r_out = full, (0, 0)
        elif isinstance(layer, AvgPool):
            s = layer.window
            r_out = need
            r_in = (s[0] * need[0] + s[0] - 1, s[1] * need[1] + s[1] - 1)
        else:  # Conv, Activation
            r_out = need
            r_in = need
        if not band:
            r_in = full
        r_in = (min(r_in[0], full[0]), min(r_in[1], full[1]))
        radii[i] = (r_in, r_out)
        need = r_in
    steps = []
    for (layer, st, g_in, g_out), (r_in, r_out) in zip(shapes, radii, strict=True):
        form = phi = None
        if isinstance(layer, Activation):
            form = None if method == "quadrature" else _closed_key(layer.fn)
            if method == "closed" and form is None:
                raise ValueError(f"method='closed' but there is no closed form for activation "
                                 f"{layer.fn!r}; closed forms: {CLOSED_FORMS} or an ABReLU(a, b)")
            phi = None if form is not None else get_activation(layer.fn)
        steps.append(_Step(layer, st, g_in, g_out, r_in, r_out, form, phi))
    r0 = radii[0][0]
    return _Plan(tuple(grid), r0, tuple(steps), cut)


# ---------------------------------------------------------------------------------------------
# One block of pairs: the recursion on arrays (B, 2r_h+1, 2r_w+1, H, W)
# ---------------------------------------------------------------------------------------------


def _valid(r, grid):
    """Static mask of stored entries whose second pixel p + Δ lies in the grid."""
    dh = np.arange(-r[0], r[0] + 1)[:, None, None, None]
    dw = np.arange(-r[1], r[1] + 1)[None, :, None, None]
    ph = np.arange(grid[0])[None, None, :, None]
    pw = np.arange(grid[1])[None, None, None, :]
    return (ph + dh >= 0) & (ph + dh < grid[0]) & (pw + dw >= 0) & (pw + dw < grid[1])


def _shift_gather(v, r, pad_value):
    """``v[b, p + Δ, ...]`` for every stored offset: (B, H, W, ...) -> (B, Dh, Dw, H, W, ...),
    positions outside the grid read ``pad_value``."""
    H, W = v.shape[1], v.shape[2]
    pads = ((0, 0), (r[0], r[0]), (r[1], r[1])) + ((0, 0),) * (v.ndim - 3)
    vp = jnp.pad(v, pads, constant_values=pad_value)
    ih = np.arange(H)[None, :] + np.arange(2 * r[0] + 1)[:, None]  # (Dh, H) into the padded axis
    iw = np.arange(W)[None, :] + np.arange(2 * r[1] + 1)[:, None]
    return vp[:, ih[:, None, :, None], iw[None, :, None, :]]


def _mask(x, valid):
    return jnp.where(valid[None], x, jnp.zeros((), x.dtype))


def _expect(step, a, b, c, valid, diag, order):
    """E[φφ], E[φ'φ'] for (B, M) variances a, b and covariances c; ``valid``/``diag`` (M,)
    static masks of entries to compute and of self pairs (correlation exactly 1)."""
    form, phi = step.form, step.phi
    zero = jnp.zeros((), c.dtype)
    if form is not None:
        e_pp, e_dd = _closed_form(form, a, b, c)
        if diag.any():
            d_pp, d_dd = _closed_diag(form, a)
            e_pp = jnp.where(diag[None], d_pp, e_pp)
            e_dd = jnp.where(diag[None], d_dd, e_dd)
        return jnp.where(valid[None], e_pp, zero), jnp.where(valid[None], e_dd, zero)
    B = c.shape[0]
    e_pp = jnp.zeros_like(c)
    e_dd = jnp.zeros_like(c)
    pairs = np.flatnonzero(valid & ~diag)
    if pairs.size:
        p_pp, p_dd = _quadrature(phi, a[:, pairs].ravel(), b[:, pairs].ravel(),
                                 c[:, pairs].ravel(), order)
        e_pp = e_pp.at[:, pairs].set(p_pp.reshape(B, -1))
        e_dd = e_dd.at[:, pairs].set(p_dd.reshape(B, -1))
    self_pairs = np.flatnonzero(valid & diag)
    if self_pairs.size:
        d_pp, d_dd = _expect_diag(phi, a[:, self_pairs].ravel(), order)
        e_pp = e_pp.at[:, self_pairs].set(d_pp.reshape(B, -1))
        e_dd = e_dd.at[:, self_pairs].set(d_dd.reshape(B, -1))
    return e_pp, e_dd


def _pool_axis(x, s, r_in, r_out, n_out, off_axis, pos_axis):
    """Sum over a, b in {0..s-1} of x[off = r_in + sΔ' + b - a, pos = sP + a], divided by s²."""
    acc = None
    for a in range(s):
        for b in range(s):
            start = r_in - s * r_out + b - a
            t = jax.lax.slice_in_dim(x, start, start + 2 * s * r_out + 1, stride=s,
                                     axis=off_axis)
            t = jax.lax.slice_in_dim(t, a, a + s * (n_out - 1) + 1, stride=s, axis=pos_axis)
            acc = t if acc is None else acc + t
    return acc / (s * s)


def _run(plan, order, x1, x2, d1=None, d2=None):
    """The recursion for a block of B image pairs (x1[b], x2[b]).

    Self mode (``d1 is None``, x2 = x1): returns (K, Θ, variances at each activation).
    Pair mode: ``d1``/``d2`` are those variances of x1/x2; returns (K, Θ, ())."""
    self_mode = d1 is None
    r = plan.r0
    H, W = plan.grid
    C = x1.shape[-1]
    K = jnp.einsum("bhwc,bdehwc->bdehw", x1, _shift_gather(x2, r, 0.0)) / C
    if plan.cut is not None:
        far = ((np.abs(np.arange(-r[0], r[0] + 1)) > plan.cut[0])[:, None]
               | (np.abs(np.arange(-r[1], r[1] + 1)) > plan.cut[1])[None, :])
        K = jnp.where(jnp.asarray(far)[None, :, :, None, None], jnp.zeros((), K.dtype), K)
    T = None  # Θ⁰ = 0, kept symbolic until the first affine layer (no folding of zeros)
    B = K.shape[0]
    recorded = []
    ia = 0
    for st in plan.steps:
        layer = st.layer
        if isinstance(layer, Conv):
            kh, kw = layer.filter_shape
            if layer.padding == "SAME":
                pads = ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2)
            else:
                pads = (0, 0), (0, 0)
            ch, cw = st.r_in[0] - st.r_out[0], st.r_in[1] - st.r_out[1]

            def box(v, kh=kh, kw=kw, pads=pads, ch=ch, cw=cw, st=st):
                s = jax.lax.reduce_window(v, jnp.zeros((), v.dtype), jax.lax.add,
                                          (1, 1, 1, kh, kw), (1, 1, 1, 1, 1),
                                          ((0, 0), (0, 0), (0, 0)) + pads)
                return s[:, ch:ch + 2 * st.r_out[0] + 1, cw:cw + 2 * st.r_out[1] + 1]

            valid = _valid(st.r_out, st.grid_out)
            scale = layer.weight_std ** 2 / layer.z
            K = _mask(scale * box(K) + layer.bias_std ** 2, valid)
            T = K if T is None else _mask(K + scale * box(T), valid)
        elif isinstance(layer, AvgPool):
            (sh, sw), (Ho, Wo) = layer.window, st.grid_out

            def pool(v, sh=sh, sw=sw, Ho=Ho, Wo=Wo, st=st):
                v = _pool_axis(v, sh, st.r_in[0], st.r_out[0], Ho, 1, 3)
                return _pool_axis(v, sw, st.r_in[1], st.r_out[1], Wo, 2, 4)

            valid = _valid(st.r_out, st.grid_out)
            K, T = _mask(pool(K), valid), None if T is None else _mask(pool(T), valid)
        elif isinstance(layer, Flatten):
            K = K[:, st.r_in[0], st.r_in[1]]
            T = None if T is None else T[:, st.r_in[0], st.r_in[1]]
        elif isinstance(layer, GlobalAvgPool):
            n = float(st.grid_in[0] * st.grid_in[1]) ** 2
            K = K.sum(axis=(1, 2, 3, 4)) / n
            T = None if T is None else T.sum(axis=(1, 2, 3, 4)) / n
        elif isinstance(layer, Dense):
            if st.state == "flat":
                K = K.mean(axis=(1, 2))
                T = None if T is None else T.mean(axis=(1, 2))
            sw2 = layer.weight_std ** 2
            K = sw2 * K + layer.bias_std ** 2
            T = K if T is None else K + sw2 * T
        else:  # Activation
            shape = K.shape
            if st.state == "spatial":
                own = K[:, st.r_in[0], st.r_in[1]] if self_mode else d1[ia]
                other = own if self_mode else d2[ia]
                a = jnp.broadcast_to(own[:, None, None], shape)
                b = _shift_gather(other, st.r_in, 1.0)
                valid = _valid(st.r_in, st.grid_in)
                diag = np.zeros_like(valid)
                if self_mode:
                    diag[st.r_in[0], st.r_in[1]] = True
            else:  # flat (B, H, W) or vector (B,): every entry is a same-pixel pair
                own = K if self_mode else d1[ia]
                a = own
                b = own if self_mode else d2[ia]
                valid = np.ones(shape[1:], dtype=bool)
                diag = np.full(shape[1:], self_mode)
            if self_mode:
                recorded.append(own)
            e_pp, e_dd = _expect(st, a.reshape(B, -1), b.reshape(B, -1), K.reshape(B, -1),
                                 valid.ravel(), diag.ravel(), order)
            K = e_pp.reshape(shape)
            T = None if T is None else T * e_dd.reshape(shape)
            ia += 1
    if T is None:  # no affine layer at all: a kernel of the fixed inputs
        T = jnp.zeros_like(K)
    if K.ndim == 3:  # ends with Flatten (or an activation after it): the feature average
        K, T = K.mean(axis=(1, 2)), T.mean(axis=(1, 2))
    return K, T, tuple(recorded)


def _blocks(n, block):
    """Indices 0..n-1 as (n_blocks, block), the last block padded with index n - 1."""
    nb = -(-n // block)
    idx = np.minimum(np.arange(nb * block), n - 1)
    return idx.reshape(nb, block)


def _unblock(v, n):
    return v.reshape((-1,) + v.shape[2:])[:n]


@functools.partial(jax.jit, static_argnames=("plan", "order", "same", "block"))
def _compute(x1, x2, plan, order, same, block):
    n1 = x1.shape[0]
    xs = x1 if same else jnp.concatenate([x1, x2])
    n = xs.shape[0]

    def self_block(i):
        xb = xs[i]
        return _run(plan, order, xb, xb)

    ks, ts, diags = jax.lax.map(self_block, jnp.asarray(_blocks(n, min(block, n))))
    ks, ts = _unblock(ks, n), _unblock(ts, n)
    diags = tuple(_unblock(d, n) for d in diags)
    if same:
        ii, jj = np.triu_indices(n1, 1)
    else:
        n2 = n - n1
        ii, jj = (v.ravel() for v in np.indices((n1, n2)))
        jj = jj + n1
    npairs = ii.size
    if npairs:
        sel = _blocks(npairs, min(block, npairs))

        def pair_block(s):
            i, j = jnp.asarray(ii)[s], jnp.asarray(jj)[s]
            k, t, _ = _run(plan, order, xs[i], xs[j], tuple(d[i] for d in diags),
                           tuple(d[j] for d in diags))
            return k, t

        kp, tp = jax.lax.map(pair_block, jnp.asarray(sel))
        kp, tp = _unblock(kp, npairs), _unblock(tp, npairs)
    if same:
        ar = np.arange(n1)
        out = []
        for self_v, pair_v in ((ks, kp if npairs else None), (ts, tp if npairs else None)):
            m = jnp.zeros((n1, n1), self_v.dtype).at[ar, ar].set(self_v)
            if npairs:
                m = m.at[ii, jj].set(pair_v).at[jj, ii].set(pair_v)
            out.append(m)
        return out[0], out[1]
    return kp.reshape(n1, n - n1), tp.reshape(n1, n - n1)


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------


def _images(name, x):
    """A real, finite image batch of shape (n, H, W, C) with every size >= 1."""
    if np.ndim(x) != 4:
        raise ValueError(f"{name} must be 4-D (images of shape (n, H, W, C), NHWC), got shape "
                         f"{np.shape(x)}")
    try:
        dt = dtype_of(x)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must hold real numbers, got {type(x).__name__}") from None
    if dt.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers (bool, integer or floating dtype), got "
                        f"dtype {dt}")
    if min(np.shape(x)) < 1:
        raise ValueError(f"{name} must have at least one image, pixel and channel (shape "
                         f"(n, H, W, C)), got shape {np.shape(x)}")
    _require_finite_input(name, x)


def _positive_int(name, v, meaning):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
        raise ValueError(f"{name} must be a positive integer ({meaning}), got {v!r}")
    return int(v)


def cnn_kernels(x1, x2=None, *, layers, band: bool = True, method: str = "auto",
                quad_order: int = 48, memory_budget: int = DEFAULT_MEMORY_BUDGET,
                block_size: int | None = None, dtype=jnp.float64) -> CNNKernels:
    r"""Infinite-width NNGP and NTK of a convolutional network's output (module docstring).

    Example (a CNN with global average pooling, standard fan-in)::

        layers = [Conv(3, "SAME"), Activation("erf"), AvgPool(2), Conv(3, "SAME"),
                  Activation("relu"), GlobalAvgPool(), Dense()]
        k = cnn_kernels(x1, x2, layers=layers)   # k.nngp, k.ntk: (n1, n2)

    Args:
        x1: images ``(n1, H, W, C)`` (NHWC; integer or bool inputs are cast to ``dtype``).
        x2: images ``(n2, H, W, C)``; default ``x1`` (then only pairs :math:`i<j` are computed,
            the result is exactly symmetric and its diagonal has correlation exactly 1).
        layers: a sequence of :class:`Conv`, :class:`Activation`, :class:`AvgPool`,
            :class:`Flatten`, :class:`GlobalAvgPool`, :class:`Dense`. It must reduce the image
            with :class:`Flatten` or :class:`GlobalAvgPool`; :class:`Dense` comes after that,
            :class:`Conv` and pooling before; an activation needs a :class:`Conv` or
            :class:`Dense` before it.
        band: store only the offsets the readout needs (exact; module docstring). ``False``
            stores the full pixel-pair tensor, for checking.
        method: ``"auto"`` (closed form when there is one), ``"closed"`` or ``"quadrature"``,
            as :func:`lazyrich.theory.mlp_kernels`.
        quad_order: Gauss–Legendre order of the polar rule, in ``QUAD_ORDER_RANGE``
            (:func:`lazyrich.theory.mlp_kernels`).
        memory_budget: bytes one block of pairs may use (estimate in the module docstring); a
            network whose single pair needs more is refused.
        block_size: pairs per block; default: as many as ``memory_budget`` allows.
        dtype: ``jnp.float64`` (default, for theory) or ``jnp.float32``.

    Returns:
        :class:`CNNKernels` with ``nngp`` and ``ntk`` of shape ``(n1, n2)``: per output channel,
        NTK parametrisation.
    """
    same = x2 is None
    _images("x1", x1)
    if not same:
        _images("x2", x2)
        if np.shape(x2)[1:] != np.shape(x1)[1:]:
            raise ValueError(f"x1 and x2 must have the same image shape (H, W, C), got "
                             f"{np.shape(x1)} and {np.shape(x2)}")
    if not isinstance(band, bool | np.bool_):
        raise TypeError(f"band must be True or False, got {band!r}")
    if method not in ("auto", "closed", "quadrature"):
        raise ValueError(f"method must be 'auto', 'closed' or 'quadrature', got {method!r}")
    lo, hi = QUAD_ORDER_RANGE
    if (isinstance(quad_order, bool) or not isinstance(quad_order, numbers.Integral)
            or not lo <= quad_order <= hi):
        raise ValueError(f"quad_order must be an integer in [{lo}, {hi}], got {quad_order!r}")
    budget = _positive_int("memory_budget", memory_budget, "bytes")
    if block_size is not None:
        block_size = _positive_int("block_size", block_size, "pairs of images per block")
    dt = _float_dtype(dtype)
    _, H, W, C = np.shape(x1)
    plan = _plan(layers, (H, W), method, bool(band))
    return _kernels(x1, x2, plan, int(quad_order), budget, block_size, dt)


def _pair_bytes(plan, channels):
    """Estimated bytes one pair of images needs (module docstring)."""
    gather = _band_size(plan.r0) * plan.grid[0] * plan.grid[1] * channels
    return 8 * (_TEMPS * plan.entries() + gather)


def _kernels(x1, x2, plan, order, budget, block_size, dt):
    channels = np.shape(x1)[3]
    per_pair = _pair_bytes(plan, channels)
    if per_pair > budget:
        raise ValueError(
            f"one pair of images needs about {per_pair / 2**20:.1f} MiB (a state of "
            f"{plan.entries()} numbers per kernel; band radius {plan.r0} at the input), above "
            f"memory_budget={budget} bytes; raise memory_budget, use smaller images, or a "
            f"Flatten readout with band=True (a GlobalAvgPool readout needs every pixel pair)")
    block = block_size if block_size is not None else max(1, min(4096, budget // per_pair))
    same = x2 is None
    a = jnp.asarray(x1).astype(dt)
    b = a if same else jnp.asarray(x2).astype(dt)
    nngp, ntk = _compute(a, b, plan, order, same, block)
    _require_finite_kernels(dt, nngp, ntk)
    return CNNKernels(nngp, ntk)


def convnet_kernels(x1, x2=None, *, padding: str = "VALID", activation: str = "relu",
                    parametrization: str = "ntk", gamma: float = 1.0, band: bool = True,
                    memory_budget: int = DEFAULT_MEMORY_BUDGET, block_size: int | None = None,
                    dtype=jnp.float64) -> CNNKernels:
    r"""Infinite-width NNGP and NTK of the project's ConvNet (:class:`lazyrich.sims.ConvNet`).

    The recursion of :func:`cnn_kernels` for :func:`convnet_layers`: all weights
    :math:`\mathcal N(0,1)`, no biases, :math:`Z = 1` (each convolution divided by
    :math:`\sqrt{C_{in}}` only),

    .. math::
        K^0 = \tfrac1C x\cdot x' \to \text{conv}_{3\times3} \to \phi \to
        \text{pool}_2 \to \text{conv}_{3\times3} \to \phi \to \text{pool}_2 \to
        \text{flatten} + \text{dense} \to \phi \to \text{readout},

    the readout giving :math:`K_{ro} = \mathbb E[\phi\phi]`,
    :math:`\Theta_{ro} = K_{ro} + \Theta\odot\mathbb E[\phi'\phi']`. The widths
    (N, 2N, 8N channels) do not enter: kernels are channel averages. With the offset band the
    input state has radius 3 (``band=True``; exact).

    Parametrisations:

    * ``"ntk"`` (default): the ConvNet with readout multiplier :math:`1/\sqrt{8N}`; returns
      :math:`(K_{ro}, \Theta_{ro})`, the limits of :math:`g(x)g(x')` averaged over weights and
      of the empirical NTK. The engine's ConvNet (readout :math:`1/(8N)`) has
      :math:`g_{\mu P} = g_{NTK}/\sqrt{8N}` with the same weights, so
      :math:`8N\,\hat\Theta_{\mu P}\to\Theta_{ro}`.
    * ``"mup"``: the centred μP-γ ConvNet the engine trains (step :math:`N\eta`, output
      :math:`f = (g - g_0)/\gamma`): returns :math:`(K_{ro}, \rho\Theta_{ro}/\gamma^2)` with
      :math:`\rho = N/(8N) = 1/8` — its lazy (:math:`\gamma\to0`) function-space kernel per unit
      engine time (docs: Conventions; Lee et al. 2019).

    Args:
        x1, x2: images ``(n, H, W, C)``; ``x2`` defaults to ``x1``.
        padding: ``"VALID"`` (the authors' choice; needs H, W >= 10) or ``"SAME"`` (8x8 digits).
        activation: φ, as ``sims.ConvNet(activation=...)`` (default ``"relu"``).
        parametrization: ``"ntk"`` or ``"mup"``; gamma: γ > 0 (``"mup"`` only divides by γ²).
        band, memory_budget, block_size, dtype: as :func:`cnn_kernels`.

    Returns:
        :class:`CNNKernels`, each ``(n1, n2)``.
    """
    layers = convnet_layers(padding, activation)
    if parametrization not in ("ntk", "mup"):
        raise ValueError(f"parametrization must be 'ntk' or 'mup', got {parametrization!r}")
    g = _real("gamma", gamma, low=0.0, strict=True)
    _images("x1", x1)
    H, W = np.shape(x1)[1:3]
    k = 2 if padding == "VALID" else 0
    h, w = (H - k) // 2, (W - k) // 2
    h, w = (h - k) // 2, (w - k) // 2
    if min(h, w) < 1:
        raise ValueError(f"images of shape {np.shape(x1)[1:]} are too small for two 3x3 "
                         f"{padding} convolutions and 2x2 poolings; use padding='SAME'")
    out = cnn_kernels(x1, x2, layers=layers, band=band, memory_budget=memory_budget,
                      block_size=block_size, dtype=dtype)
    if parametrization == "mup":
        dt = out.ntk.dtype
        return CNNKernels(out.nngp, out.ntk * jnp.asarray(CONVNET_RHO / (g * g), dt))
    return out
