"""Planted bugs in the kernel theory (kernel dynamics, infinite-width and convolutional
kernels) and in the engine and analysis paths the kernels claims check."""

from tools.mutants import Mutant

_KD = "lazyrich/theory/_kernel_dynamics.py"
_CONV = "lazyrich/theory/_conv_kernels.py"

MUTANTS = [
    Mutant("kernels/loss-factor-2-dropped", _KD,
           "out = 2.0 * r / (P * C * g * g)", "out = r / (P * C * g * g)",
           ("kernels/lazy-mlp-kernel-dynamics",),
           "the MSE gradient's factor 2: the kernel dynamics run at half speed"),
    Mutant("kernels/ensemble-mean-with-nngp", _KD,
           'A = jnp.einsum("qp,tpr->tqr", Kst, Psi)',
           'A = jnp.einsum("qp,tpr->tqr", Sst, Psi)',
           ("kernels/ensemble-mean-covariance",),
           "the all-layer ensemble mean propagated with the NNGP Σ_*X instead of the NTK Θ_*X"),
    Mutant("kernels/erf-derivative-kernel-halved", "lazyrich/theory/_infinite_width.py",
           "(4.0 / jnp.pi) / jnp.sqrt(1.0 + 2.0 * (a + b) + 4.0 * delta)",
           "(2.0 / jnp.pi) / jnp.sqrt(1.0 + 2.0 * (a + b) + 4.0 * delta)",
           ("kernels/lazy-mlp-kernel-dynamics",),
           "E[erf'(u) erf'(v)] with 2/π for 4/π: the erf NTK too small, the NNGP unchanged"),
    Mutant("kernels/pool-divides-by-s", _CONV,
           "    return acc / (s * s)", "    return acc / s",
           ("kernels/convnet-kernels-vs-wide-networks",),
           "average pooling of a kernel divided by s instead of s² (pixel pairs, not pixels)"),
    Mutant("kernels/same-padding-uncentred", _CONV,
           "pads = ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2)",
           "pads = (0, kh - 1), (0, kw - 1)",
           ("kernels/convnet-kernels-vs-wide-networks",),
           "SAME convolution windows anchored at the corner instead of centred"),
    Mutant("kernels/linearize-at-current-params", "lazyrich/sims/_engine.py",
           "g0x, lin = jax.linearize(lambda q: apply(q, x), params0)",
           "g0x, lin = jax.linearize(lambda q: apply(q, x), p)",
           ("kernels/lazy-mlp-gamma-expansion",),
           "the linearised network re-linearised at the current parameters (not a linear model)"),
    Mutant("kernels/coord-change-is-size", "lazyrich/analysis/_coord.py",
           "change[a, b, c, t, ell] = np.mean(np.abs(h - h0))",
           "change[a, b, c, t, ell] = np.mean(np.abs(h))",
           ("kernels/coord-check-exponents",),
           "the coord check's update size measured as the activation size"),
]
