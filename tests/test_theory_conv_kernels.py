"""Infinite-width NNGP/NTK of convolutional networks (``lazyrich.theory._conv_kernels``).

Validation ladder, each rung against a reference independent of the code under test:

1. one hidden conv layer: the recursion is exact *in expectation at any width* (its
   pre-activations are exactly Gaussian), so Monte-Carlo means over many random networks written
   here with ``lax.conv_general_dilated`` and ``jax.jacrev`` must match within their standard
   errors (z-scores), in SAME/VALID, ReLU/erf/tanh, Z = k² and Z = 1, pooling, Flatten and GAP
   readouts; the same means are far (z ≫ 10) from the kernel with the readout swapped;
2. the project's ConvNet (deep): empirical NTKs of wide networks approach ``convnet_kernels``
   with the per-seed error falling as width^(-1/2) (fitted slope);
3. 1×1 images and filters: the identity to ``mlp_kernels`` to round-off;
4. structure: symmetry, PSD, the band trick equal to the full tensor, block-size independence.
5. bad input refused with messages naming the argument.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich.metrics import empirical_ntk
from lazyrich.sims import ConvNet
from lazyrich.theory import ABReLU, get_activation, mlp_kernels
from lazyrich.theory._conv_kernels import (
    Activation,
    AvgPool,
    Conv,
    Dense,
    Flatten,
    GlobalAvgPool,
    _kernels,
    _plan,
    cnn_kernels,
    convnet_kernels,
    convnet_layers,
)


def _digits(n, start=0):
    """scikit-learn digits as (n, 8, 8, 1) images, each scaled to mean square 1."""
    from sklearn.datasets import load_digits

    x = load_digits().images[start:start + n, :, :, None].astype(np.float64)
    return x / np.sqrt((x * x).mean(axis=(1, 2, 3), keepdims=True))


def _rel(a, b):
    """max |a - b| relative to max |b|."""
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(np.asarray(b))))


# ---------------------------------------------------------------------------------------------
# 1. One hidden conv layer: exact in expectation at any width (Monte Carlo)
# ---------------------------------------------------------------------------------------------

# (activation, padding, k, fan_in, pool window (0: none), readout, sigma_w, sigma_b)
ONE_LAYER = {
    "relu-SAME-k2-pool3-flatten": ("relu", "SAME", 3, "standard", 3, "flatten", 1.0, 0.0),
    "relu-VALID-Z1-gap-bias": ("relu", "VALID", 3, "channels", 0, "gap", 1.5, 0.3),
    "erf-SAME-5x5-Z1-flatten-bias": ("erf", "SAME", 5, "channels", 0, "flatten", 1.0, 0.5),
    "erf-VALID-k2-pool-gap": ("erf", "VALID", 3, "standard", 2, "gap", 1.0, 0.0),
    "tanh-SAME-k2-flatten-bias": ("tanh", "SAME", 3, "standard", 0, "flatten", 1.2, 0.1),
    "relu-VALID-5x5-Z1-flatten": ("relu", "VALID", 5, "channels", 0, "flatten", 1.0, 0.0),
}


def _one_layer_layers(cfg, readout=None):
    act, pad, k, fan_in, pool, ro, sw, sb = cfg
    layers = [Conv(k, pad, fan_in, sw, sb), Activation(act)]
    if pool:
        layers.append(AvgPool(pool))
    layers.append(Flatten() if (readout or ro) == "flatten" else GlobalAvgPool())
    return layers + [Dense(sw, sb)]


def _one_layer_monte_carlo(cfg, x, width, samples, key):
    """Per-network NNGP estimate (the readout's input kernel σ_w² f·f'/F + σ_b², whose mean over
    the conv weights is the NNGP) and empirical NTK (jacrev over every parameter) of
    ``samples`` random networks conv -> φ -> (pool) -> flatten/GAP -> dense, written here with
    lax.conv_general_dilated (independent of the kernel code)."""
    act, pad, k, fan_in, pool, readout, sw, sb = cfg
    phi = get_activation(act)
    n, H, W, C = x.shape
    Z = k * k if fan_in == "standard" else 1

    def apply(p):
        h = jax.lax.conv_general_dilated(x, p["w"], (1, 1), pad,
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        a = phi(h * (sw / math.sqrt(Z * C)) + sb * p["b"][None, None, None, :])
        if pool:
            _, Ha, Wa, N = a.shape
            a = a[:, :Ha // pool * pool, :Wa // pool * pool]
            a = a.reshape(n, Ha // pool, pool, Wa // pool, pool, N).mean(axis=(2, 4))
        f = a.reshape(n, -1) if readout == "flatten" else a.mean(axis=(1, 2))
        return f @ p["v"] * (sw / math.sqrt(f.shape[1])) + sb * p["c"], f

    Ho = H - k + 1 if pad == "VALID" else H
    Ho = Ho // pool if pool else Ho
    F = Ho * Ho * width if readout == "flatten" else width

    def one(key):
        k1, k2, k3, k4 = jax.random.split(key, 4)
        p = {"w": jax.random.normal(k1, (k, k, C, width)), "b": jax.random.normal(k2, (width,)),
             "v": jax.random.normal(k3, (F,)), "c": jax.random.normal(k4, ())}
        f = apply(p)[1]
        J = jax.jacrev(lambda q: apply(q)[0])(p)
        ntk = sum(jnp.einsum("i...,j...->ij", J[name], J[name]) for name in J)
        return sw**2 * (f @ f.T) / F + sb**2, ntk

    return jax.jit(jax.vmap(one))(jax.random.split(key, samples))


@pytest.mark.parametrize("cfg", list(ONE_LAYER.values()), ids=list(ONE_LAYER))
def test_one_hidden_conv_layer_exact_in_expectation(cfg):
    """Mean over S = 400 networks of width N = 16 against the kernel, every entry (self pairs
    from the self pass, off-diagonal pairs from the pair pass). The pre-activations are exactly
    Gaussian at any width, so the only error is Monte Carlo: z = (mean - kernel)/(sd/√S) is
    ~N(0, 1) (S = 400: Student-t ≈ normal). 12 correlated z-scores per case; measured over 6
    keys per case (72 case × key × kernel maxima): max |z| 2.9, typically 1–2; bound 3.5
    (per z, P ≈ 5e-4). Power: the same means against the kernel with Flatten and GAP swapped
    (a percent-level error) give max |z| ≥ 25 (measured, every key), bound 10.
    The tanh case goes through the quadrature (order 16: error far below the ~1% MC standard
    error; its power check is skipped, the swapped GAP kernel needing every pixel pair)."""
    x = np.random.default_rng(0).standard_normal((3, 7, 7, 2))
    S = 400
    key = jax.random.key(sorted(ONE_LAYER.values()).index(cfg))
    est_nngp, est_ntk = _one_layer_monte_carlo(cfg, jnp.asarray(x), 16, S, key)
    theory = cnn_kernels(x, layers=_one_layer_layers(cfg), quad_order=16)
    swapped = None
    if cfg[0] != "tanh":  # the GAP of the swapped check needs every pixel pair: costly quadrature
        swapped = cnn_kernels(x, layers=_one_layer_layers(
            cfg, readout="gap" if cfg[5] == "flatten" else "flatten"))
    iu = np.triu_indices(3)
    for j, (est, ref) in enumerate(((est_nngp, theory.nngp), (est_ntk, theory.ntk))):
        est = np.asarray(est)
        se = est.std(axis=0, ddof=1) / np.sqrt(S)
        z = (est.mean(axis=0) - np.asarray(ref)) / se
        assert np.max(np.abs(z[iu])) < 3.5, z
        if swapped is not None:
            wrong = (swapped.nngp, swapped.ntk)[j]
            z_wrong = (est.mean(axis=0) - np.asarray(wrong)) / se
            assert np.max(np.abs(z_wrong[iu])) > 10, z_wrong


# ---------------------------------------------------------------------------------------------
# 2. Deep: the project's ConvNet against empirical NTKs of wide networks
# ---------------------------------------------------------------------------------------------


CONVNET_SEEDS = {16: 128, 32: 96, 64: 64, 128: 32}  # width: networks (cost ∝ width)


def _convnet_estimates(x, width, seeds, base_key, activation="relu"):
    """8N·Θ̂_μP (the empirical NTK in the NTK parametrisation) and the readout-input kernel
    f·f'/(8N) of ``seeds`` random ``sims.ConvNet`` of width N, each ``(seeds, n, n)``."""
    model = ConvNet(x.shape[1:], width, output_dim=1, padding="SAME", activation=activation)
    xj = jnp.asarray(x)

    @jax.jit
    def one(key):
        params = model.init(key, jnp.float64)
        f = model.features(params, xj)
        return 8 * width * empirical_ntk(model.apply, params, xj), f @ f.T / (8 * width)

    out = [one(key) for key in jax.random.split(jax.random.fold_in(base_key, width), seeds)]
    return np.stack([np.asarray(o[0]) for o in out]), np.stack([np.asarray(o[1]) for o in out])


def convnet_convergence(base_key):
    """Per width of ``CONVNET_SEEDS``: the root-mean-square over seeds of the per-seed relative
    Frobenius error, and the relative error of the seed mean, for (NTK, NNGP); plus the
    fitted log–log slopes of the former, the last width's seed means and the kernels."""
    x = _digits(4)
    theory = convnet_kernels(x, padding="SAME")
    widths = np.array(list(CONVNET_SEEDS))
    rms, mean_err = [], []
    for n, s in CONVNET_SEEDS.items():
        est = _convnet_estimates(x, int(n), s, base_key)
        refs = (np.asarray(theory.ntk), np.asarray(theory.nngp))
        err = [np.linalg.norm(e - r, axis=(1, 2)) / np.linalg.norm(r)
               for e, r in zip(est, refs, strict=True)]
        rms.append([np.sqrt(np.mean(v**2)) for v in err])
        mean_err.append([np.linalg.norm(e.mean(0) - r) / np.linalg.norm(r)
                         for e, r in zip(est, refs, strict=True)])
    rms = np.array(rms)
    slopes = np.array([np.polyfit(np.log(widths), np.log(rms[:, j]), 1)[0] for j in range(2)])
    return slopes, rms, np.array(mean_err), [e.mean(0) for e in est], refs


def test_convnet_kernels_match_wide_convnets():
    """``sims.ConvNet`` has the μP readout 1/(8N); with the same weights g_μP = g_NTK/√(8N),
    so the empirical NTK of the NTK-parametrised net is 8N·Θ̂_μP, and its NNGP estimate is the
    readout-input kernel f·f'/(8N). Both approach ``convnet_kernels(padding="SAME")`` on 8×8
    digits with a per-seed error ∝ N^(-1/2): the root-mean-square over seeds of the per-seed
    relative Frobenius error, fitted in log–log over N = 16…128 (``CONVNET_SEEDS`` networks).
    A per-seed error is dominated by one or two modes (the overall scale), so it is heavy-tailed
    and needs many seeds. Measured over 8 independent seed sets (keys 0–7): slope −0.53 ± 0.06
    (NTK, range −0.61…−0.42) and −0.50 ± 0.07 (NNGP, range −0.59…−0.43); bound −½ ± 0.2, ≥ 0.09
    beyond the worst draw (key 0, used here: −0.52, −0.53).

    That the kernel itself is right, not only the rate: the seed mean of the 32 networks at
    N = 128 is within 0.1 of it (its error is ~RMS/√32 plus an O(1/N) bias; measured
    0.007–0.052 over the 8 keys), and at least twice as close to it as to the kernels of the
    two conventions that are easy to get wrong — a GlobalAvgPool readout in place of Flatten
    (21–27% from the right kernel) and Z = 9, standard fan-in (99%): measured over the 8 keys,
    distances from the seed mean ≥ 0.16 of the kernel's norm and ratios ≥ 3.1 (key 0: ≥ 15)."""
    slopes, rms, mean_err, means, refs = convnet_convergence(jax.random.key(0))
    assert np.all(np.abs(slopes + 0.5) < 0.2), (slopes, rms)
    assert np.all(mean_err[-1] < 0.1), mean_err
    x = _digits(4)
    layers = list(convnet_layers("SAME"))
    wrong = [layers[:6] + [GlobalAvgPool()] + layers[7:],
             [Conv(3, "SAME", "standard") if isinstance(v, Conv) else v for v in layers]]
    for w in wrong:
        k = cnn_kernels(x, layers=w)
        for est, right, bad in zip(means, refs, (k.ntk, k.nngp), strict=True):
            assert np.linalg.norm(est - bad) > 2 * np.linalg.norm(est - right)


def test_smooth_convnet_kernels_match_wide_convnets():
    """``ConvNet(activation="erf")`` against ``convnet_kernels(activation="erf")``: the seed
    mean of 32 networks at N = 64 is within 0.08 of the kernel (measured over keys 0–4: NTK
    0.017–0.039, NNGP 0.004–0.018, i.e. RMS/√32 plus the O(1/N) bias; 2× the worst draw), and at
    least 4× closer to it than to the kernel of the nearest other activation, tanh (the wrong-φ
    distance is 9–25× the right one for tanh networks against the erf kernel; ReLU ≥ 240×)."""
    x = _digits(4)
    right = convnet_kernels(x, padding="SAME", activation="erf")
    est = _convnet_estimates(x, 64, 32, jax.random.key(0), activation="erf")
    for name in ("tanh", "relu"):
        wrong = convnet_kernels(x, padding="SAME", activation=name)
        for e, r, b in zip(est, (right.ntk, right.nngp), (wrong.ntk, wrong.nngp), strict=True):
            m, r, b = e.mean(0), np.asarray(r), np.asarray(b)
            assert np.linalg.norm(m - r) < 0.08 * np.linalg.norm(r)
            assert np.linalg.norm(m - b) > 4 * np.linalg.norm(m - r), name


# ---------------------------------------------------------------------------------------------
# 3. 1×1 images and filters: the MLP recursion
# ---------------------------------------------------------------------------------------------


def _mlp_case(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((5, 1, 1, 4)), rng.standard_normal((3, 1, 1, 4)), 1.3, 0.2


def _flat(x):
    return None if x is None else x.reshape(len(x), -1)


@pytest.mark.parametrize("activation", ["relu", "erf", "gelu", "tanh", ABReLU(-0.3, 1.2)],
                         ids=["relu", "erf", "gelu", "tanh-quadrature", "abrelu"])
def test_reduces_to_mlp_kernels_on_one_pixel(activation):
    """On 1×1 images a 1×1 conv is a dense layer (Z = 1 either way) and Flatten is the
    identity, so conv-φ-conv-φ-flatten-dense equals ``mlp_kernels(depth=3)`` (same closed forms,
    same quadrature rule; the tanh case at quad_order 16 in both). Only the summation order of
    the input inner product and the association of σ_w² differ: measured ≤ 5e-16 relative;
    bound 1e-14 (≈ 50 ulp; correlations are far from ±1, so no arccos amplification)."""
    x, x2, sw, sb = _mlp_case()
    layers = [Conv(1, "VALID", "channels", sw, sb), Activation(activation),
              Conv(1, "SAME", "standard", sw, sb), Activation(activation), Flatten(),
              Dense(sw, sb)]
    for a, b in ((x, None), (x, x2)):
        ref = mlp_kernels(_flat(a), _flat(b), depth=3, activation=activation, weight_std=sw,
                          bias_std=sb, quad_order=16)
        got = cnn_kernels(a, b, layers=layers, quad_order=16)
        assert _rel(got.nngp, ref.nngp) < 1e-14
        assert _rel(got.ntk, ref.ntk) < 1e-14


def test_one_pixel_readouts_and_dense_tail_equal_mlp():
    """The same identity through GlobalAvgPool (all pixel pairs of a single pixel) and through
    flatten-dense-φ-dense-φ-dense (Dense layers on vectors), depth 4; bound as above."""
    x, _, sw, sb = _mlp_case(seed=1)
    ref = mlp_kernels(_flat(x), depth=4, activation="erf", weight_std=sw, bias_std=sb)
    convs = [Conv(1, "SAME", "standard", sw, sb)]
    convs += [Activation("erf"), Conv(1, "SAME", "standard", sw, sb)] * 2
    nets = [convs + [Activation("erf"), GlobalAvgPool(), Dense(sw, sb)],
            [Flatten(), Dense(sw, sb)] + [Activation("erf"), Dense(sw, sb)] * 3]
    for layers in nets:
        got = cnn_kernels(x, layers=layers)
        assert _rel(got.nngp, ref.nngp) < 1e-14
        assert _rel(got.ntk, ref.ntk) < 1e-14


# ---------------------------------------------------------------------------------------------
# 4. Structure: symmetry, PSD, band = full, blocks
# ---------------------------------------------------------------------------------------------

GAP_NET = [Conv(3, "SAME", "standard", 1.2, 0.3), Activation("erf"), AvgPool(2),
           Conv(3, "VALID", "channels", 1.0, 0.1), Activation("relu"), GlobalAvgPool(), Dense()]


@pytest.mark.parametrize("net", ["convnet-SAME", "convnet-VALID", "gap"])
def test_symmetric_psd_and_consistent(net):
    """K(x1, x2) = K(x2, x1)ᵀ (the closed forms are symmetric in the two variances; the swap
    only reorders sums: measured ≤ 3e-16 relative; bound 1e-14); the Gram on x (x2 omitted) is
    PSD (eigenvalues ≥ -1e-12 λ_max, round-off; measured λ_min/λ_max ≥ 2.5e-3); x2 omitted
    equals x2 = x1 off the diagonal (measured ≤ 4e-16; bound 1e-13), and on the diagonal to
    1e-6: there x2 = x1 goes through arccos at correlation 1 - O(eps), an O(√eps) error
    (measured 6e-9 for erf, 0 for ReLU) that the exact self-pair rule avoids."""
    rng = np.random.default_rng(1)
    if net == "convnet-SAME":
        x, y = _digits(5), _digits(5, start=10)
        run = lambda a, b: convnet_kernels(a, b, padding="SAME")  # noqa: E731
    elif net == "convnet-VALID":
        x, y = rng.standard_normal((5, 10, 11, 2)), rng.standard_normal((5, 10, 11, 2))
        run = lambda a, b: convnet_kernels(a, b, padding="VALID")  # noqa: E731
    else:
        x, y = rng.standard_normal((5, 7, 6, 3)), rng.standard_normal((5, 7, 6, 3))
        run = lambda a, b: cnn_kernels(a, b, layers=GAP_NET)  # noqa: E731
    xy, yx, xx, xx_explicit = run(x, y), run(y, x), run(x, None), run(x, x)
    for name in ("nngp", "ntk"):
        a, b = np.asarray(getattr(xy, name)), np.asarray(getattr(yx, name))
        assert a.shape == (len(x), len(y))
        assert _rel(a, b.T) < 1e-14
        g, ge = np.asarray(getattr(xx, name)), np.asarray(getattr(xx_explicit, name))
        assert np.array_equal(g, g.T)
        lam = np.linalg.eigvalsh(g)
        assert lam[0] > -1e-12 * lam[-1], lam
        off = ~np.eye(len(x), dtype=bool)
        assert _rel(g[off], ge[off]) < 1e-13
        assert _rel(np.diag(g), np.diag(ge)) < 1e-6


def test_quadrature_path_equals_closed_forms():
    """``method="quadrature"`` (the polar rule of ``mlp_kernels``, applied to every stored pixel
    pair of a banded state, and the 1-D rule on the self-pair diagonal) against the closed
    forms, through erf, 2×2 pooling (band radius 1) and ReLU (kinks: the sector split):
    measured 1.1e-14 relative at order 32; bound 1e-12 (the rule's error at order 32 is ~1e-14
    per layer for activations smooth on each half-line)."""
    x = np.random.default_rng(3).standard_normal((3, 6, 6, 2))
    layers = [Conv(3, "SAME", bias_std=0.2), Activation("erf"), AvgPool(2),
              Conv(3, "SAME", "channels"), Activation("relu"), Flatten(), Dense()]
    closed = cnn_kernels(x, layers=layers)
    quad = cnn_kernels(x, layers=layers, method="quadrature", quad_order=32)
    assert _rel(quad.nngp, closed.nngp) < 1e-12
    assert _rel(quad.ntk, closed.ntk) < 1e-12


def test_band_equals_full_tensor():
    """The offset band (input radius 3 for the ConvNet: Flatten r = 0, each 2×2 pool r -> 2r+1)
    reproduces the full pixel-pair tensor to round-off (measured: bitwise; bound 1e-14),
    SAME on 8×8 and VALID on 11×10 (radii capped at the shrinking grid), and without pooling
    (r = 0). Cutting the input band to radius 2 changes the result by > 1e-3 relative (it
    drops pixel pairs the second pool needs), so the equality is not vacuous."""
    x = _digits(4)
    xv = np.random.default_rng(2).standard_normal((3, 11, 10, 2))
    no_pool = [Conv(3, "SAME"), Activation("relu"), Conv(3, "VALID", "channels"),
               Activation("erf"), Flatten(), Dense()]
    cases = [(x, convnet_layers("SAME")), (xv, convnet_layers("VALID")), (x, no_pool)]
    for images, layers in cases:
        band = cnn_kernels(images, layers=layers)
        full = cnn_kernels(images, layers=layers, band=False)
        assert _rel(band.nngp, full.nngp) < 1e-14
        assert _rel(band.ntk, full.ntk) < 1e-14
    plan = _plan(convnet_layers("SAME"), (8, 8), "auto", True)
    assert plan.r0 == (3, 3)
    assert _plan(no_pool, (8, 8), "auto", True).r0 == (0, 0)
    cut = _plan(convnet_layers("SAME"), (8, 8), "auto", True, cut=(2, 2))
    ref = cnn_kernels(x, layers=convnet_layers("SAME"))
    short = _kernels(x, None, cut, 48, 2**30, None, jnp.dtype(jnp.float64))
    assert _rel(short.ntk, ref.ntk) > 1e-3


def test_blocks_dtype_and_mup_scaling():
    """Results do not depend on the block size (one pair per block vs the default: same
    arithmetic per pair, measured bitwise; bound 1e-15 relative); ``"mup"`` is ρΘ/γ² with
    ρ = 1/8 (exact scaling); float32 agrees with float64 to 1e-5 (float32 round-off through a
    few layers)."""
    x = _digits(4)
    ref = convnet_kernels(x, padding="SAME")
    one = convnet_kernels(x, padding="SAME", block_size=1)
    assert _rel(one.ntk, ref.ntk) < 1e-15 and _rel(one.nngp, ref.nngp) < 1e-15
    mup = convnet_kernels(x, padding="SAME", parametrization="mup", gamma=0.5)
    np.testing.assert_allclose(mup.ntk, np.asarray(ref.ntk) / (8 * 0.25), rtol=1e-15)
    np.testing.assert_array_equal(mup.nngp, ref.nngp)
    f32 = convnet_kernels(x, padding="SAME", dtype=jnp.float32)
    assert f32.ntk.dtype == jnp.float32
    assert _rel(f32.ntk, ref.ntk) < 1e-5


# ---------------------------------------------------------------------------------------------
# 5. Bad input
# ---------------------------------------------------------------------------------------------

X = np.random.default_rng(0).standard_normal((3, 6, 6, 2))
NET = [Conv(3), Activation("relu"), Flatten(), Dense()]


def _cnn(**kw):
    args = dict(x1=X, layers=NET)
    args.update(kw)
    return cnn_kernels(args.pop("x1"), **args)


BAD = {
    # images
    "x1 3-D": (lambda: _cnn(x1=np.ones((3, 6, 6))), ValueError,
               r"x1 must be 4-D \(images of shape \(n, H, W, C\)"),
    "x2 2-D": (lambda: _cnn(x2=np.ones((3, 6))), ValueError, r"x2 must be 4-D"),
    "x1 complex": (lambda: _cnn(x1=X + 1j), TypeError,
                   r"x1 must hold real numbers .*complex128"),
    "x1 strings": (lambda: _cnn(x1=np.full((1, 2, 2, 1), "a")), TypeError,
                   r"x1 must hold real numbers"),
    "x1 empty": (lambda: _cnn(x1=np.ones((0, 6, 6, 2))), ValueError,
                 r"x1 must have at least one image, pixel and channel"),
    "x1 NaN": (lambda: _cnn(x1=np.where(X > 1, np.nan, X)), ValueError,
               r"x1 must be finite, got \d+ non-finite"),
    "x2 shape": (lambda: _cnn(x2=np.ones((2, 6, 5, 2))), ValueError,
                 r"x1 and x2 must have the same image shape"),
    # layers
    "layers empty": (lambda: _cnn(layers=[]), ValueError, r"layers must be a non-empty list"),
    "layers not a list": (lambda: _cnn(layers=Conv()), ValueError,
                          r"layers must be a non-empty list"),
    "not a layer": (lambda: _cnn(layers=[Conv(), "relu", Flatten()]), TypeError,
                    r"layers\[1\] = 'relu' is not a layer"),
    "even filter": (lambda: Conv(2), ValueError,
                    r"Conv filter_shape must be an odd positive integer .*got 2"),
    "filter triple": (lambda: Conv((3, 3, 3)), ValueError, r"Conv filter_shape must be"),
    "padding": (lambda: Conv(3, "same"), ValueError,
                r"Conv padding must be 'SAME' or 'VALID', got 'same'"),
    "fan_in": (lambda: Conv(3, fan_in="fan"), ValueError, r"Conv fan_in must be 'standard'"),
    "weight_std 0": (lambda: Conv(weight_std=0.0), ValueError,
                     r"Conv weight_std must be finite and > 0"),
    "bias_std < 0": (lambda: Dense(bias_std=-1.0), ValueError,
                     r"Dense bias_std must be finite and >= 0"),
    "weight_std str": (lambda: Dense(weight_std="1"), TypeError,
                       r"Dense weight_std must be a real number"),
    "pool window 0": (lambda: AvgPool(0), ValueError,
                      r"AvgPool window must be a positive integer"),
    "unknown activation": (lambda: Activation("swish"), ValueError,
                           r"activation must be a callable or one of"),
    "Dense on image": (lambda: _cnn(layers=[Conv(), Dense()]), ValueError,
                       r"layers\[1\] = Dense.* needs a vector: put Flatten\(\)"),
    "Conv after Flatten": (lambda: _cnn(layers=[Flatten(), Conv(), Dense()]), ValueError,
                           r"layers\[1\] = Conv.* needs an image"),
    "activation first": (lambda: _cnn(layers=[Activation(), Conv(), Flatten()]), ValueError,
                         r"layers\[0\] = Activation.* needs Gaussian pre-activations"),
    "two activations": (lambda: _cnn(layers=[Conv(), Activation(), Activation(), Flatten()]),
                        ValueError, r"layers\[2\] = Activation.* needs Gaussian"),
    "no readout": (lambda: _cnn(layers=[Conv(), Activation()]), ValueError,
                   r"layers must reduce the image to a vector"),
    "VALID too big": (lambda: _cnn(layers=[Conv(7, "VALID"), Flatten()]), ValueError,
                      r"needs an input of at least 7x7 pixels with padding='VALID', got 6x6"),
    "pool too big": (lambda: _cnn(layers=[AvgPool(4), AvgPool(2), Flatten()]), ValueError,
                     r"layers\[1\] = AvgPool.* needs an input of at least 2x2 pixels, got 1x1"),
    # options
    "band": (lambda: _cnn(band=1), TypeError, r"band must be True or False"),
    "method": (lambda: _cnn(method="exact"), ValueError, r"method must be 'auto', 'closed'"),
    "closed without form": (lambda: _cnn(layers=[Conv(), Activation("tanh"), Flatten()],
                                         method="closed"), ValueError,
                            r"method='closed' but there is no closed form for activation 'tanh'"),
    "quad_order": (lambda: _cnn(quad_order=1), ValueError,
                   r"quad_order must be an integer in \[2, 512\], got 1"),
    "memory_budget": (lambda: _cnn(memory_budget=0), ValueError,
                      r"memory_budget must be a positive integer \(bytes\)"),
    "block_size": (lambda: _cnn(block_size=2.5), ValueError,
                   r"block_size must be a positive integer"),
    "dtype": (lambda: _cnn(dtype=jnp.int32), ValueError,
              r"dtype must be jnp.float32 or jnp.float64"),
    "over budget": (lambda: _cnn(layers=[Conv(), Activation(), GlobalAvgPool()],
                                 memory_budget=10_000), ValueError,
                    r"one pair of images needs about .* MiB .*above memory_budget=10000"),
    # convnet_kernels
    "convnet padding": (lambda: convnet_kernels(_digits(2), padding="same"), ValueError,
                        r"padding must be 'VALID' or 'SAME', got 'same'"),
    "convnet VALID 8x8": (lambda: convnet_kernels(_digits(2)), ValueError,
                          r"images of shape \(8, 8, 1\) are too small for two 3x3 VALID"),
    "convnet parametrization": (lambda: convnet_kernels(_digits(2), padding="SAME",
                                                        parametrization="sp"), ValueError,
                                r"parametrization must be 'ntk' or 'mup', got 'sp'"),
    "convnet gamma": (lambda: convnet_kernels(_digits(2), padding="SAME", gamma=0.0),
                      ValueError, r"gamma must be finite and > 0"),
    "convnet x1": (lambda: convnet_kernels(np.ones((8, 8, 1)), padding="SAME"), ValueError,
                   r"x1 must be 4-D"),
}


@pytest.mark.parametrize("case", list(BAD.values()), ids=list(BAD))
def test_bad_input_refused(case):
    fn, exc, match = case
    with pytest.raises(exc, match=match):
        fn()
