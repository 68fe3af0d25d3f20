"""Property search over infinite-width kernel inputs: every input the API accepts gives a kernel
that is finite, symmetric and positive semi-definite, with Θ ⪰ Σ on the diagonal; nothing escapes
as NaN. Covers zero rows, large scales and near-duplicate rows, where 0/0 and arccos(1 + ε) hide.
"""

import jax.numpy as jnp
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from lazyrich.theory import mlp_kernels

ACTS = ["relu", "erf", "linear", "tanh", "gelu", "leaky_relu"]


@st.composite
def inputs(draw):
    n = draw(st.integers(1, 4))
    d = draw(st.integers(1, 3))
    vals = draw(st.lists(st.sampled_from([0.0, 1e-3, -0.5, 1.0, 2.5, -7.0, 30.0]),
                         min_size=n * d, max_size=n * d))
    x = np.asarray(vals, dtype=np.float64).reshape(n, d)
    if draw(st.booleans()) and n > 1:  # a near-duplicate row: rho -> 1
        x[-1] = x[0] * (1 + 1e-9)
    return x


@given(x=inputs(), act=st.sampled_from(ACTS), depth=st.integers(1, 3),
       bias=st.sampled_from([0.0, 0.3]))
def test_kernels_finite_symmetric_psd(x, act, depth, bias):
    ker = mlp_kernels(x, depth=depth, activation=act, bias_std=bias, dtype=jnp.float64)
    for K in (np.asarray(ker.nngp), np.asarray(ker.ntk)):
        assert np.all(np.isfinite(K))
        np.testing.assert_allclose(K, K.T, rtol=1e-12, atol=1e-300)
        scale = max(float(np.max(np.abs(K))), 1e-300)
        # a Gram matrix of features: eigenvalues >= 0 up to round-off of its largest entry
        assert np.min(np.linalg.eigvalsh(K)) >= -1e-9 * scale
    # Θ^L = Σ^L + Θ^{L-1} Σ̇^L with Σ̇ >= 0 on the diagonal
    assert np.all(np.diag(np.asarray(ker.ntk)) >= np.diag(np.asarray(ker.nngp)) * (1 - 1e-12))
