"""Bad input to the infinite-width kernels (`mlp_kernels`, `get_activation`, `ABReLU`).

Each case is one distinct mistake; the exception type is asserted, and the regex checks that the
message names the argument and the value or range that was expected.
"""

import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich.theory import ABReLU, get_activation, mlp_kernels

X = np.random.default_rng(0).standard_normal((4, 3))


def _with(**kw):
    """mlp_kernels on good inputs, with the given arguments replaced."""
    args = dict(x1=X, depth=2)
    args.update(kw)
    x1 = args.pop("x1")
    return mlp_kernels(x1, **args)


BAD = {
    # shapes and contents of the inputs
    "x1 1-D": (dict(x1=np.ones(3)), ValueError, r"x1 must be 2-D \(shape \(n1, D\)"),
    "x1 3-D": (dict(x1=np.ones((2, 2, 2))), ValueError, r"x1 must be 2-D .*got shape \(2, 2, 2\)"),
    "x2 1-D": (dict(x2=np.ones(3)), ValueError, r"x2 must be 2-D \(shape \(n2, D\)"),
    "feature dims differ": (dict(x2=np.ones((2, 2))), ValueError,
                            r"x1 and x2 must have the same input dimension, got \(4, 3\) and "
                            r"\(2, 2\)"),
    "x1 no rows": (dict(x1=np.ones((0, 3))), ValueError,
                   r"x1 must have at least one row and one column"),
    "x1 no columns": (dict(x1=np.ones((3, 0))), ValueError,
                      r"x1 must have at least one row and one column"),
    "x1 complex": (dict(x1=X + 1j), TypeError,
                   r"x1 must hold real numbers \(bool, integer or floating dtype\), got dtype "
                   r"complex128"),
    "x1 strings": (dict(x1=np.array([["a", "b"]])), TypeError, r"x1 must hold real numbers"),
    "x1 NaN": (dict(x1=np.where(X > 1, np.nan, X)), ValueError,
               r"x1 must be finite, got \d+ non-finite value"),
    "x2 inf": (dict(x2=np.array([[np.inf, 0.0, 0.0]])), ValueError,
               r"x2 must be finite, got 1 non-finite value"),
    # network hyperparameters
    "depth 0": (dict(depth=0), ValueError, r"depth must be an integer >= 1.*got 0"),
    "depth float": (dict(depth=2.5), ValueError, r"depth must be an integer >= 1.*got 2.5"),
    "depth bool": (dict(depth=True), ValueError, r"depth must be an integer >= 1.*got True"),
    "depth str": (dict(depth="2"), ValueError, r"depth must be an integer >= 1.*got '2'"),
    "weight_std negative": (dict(weight_std=-1.0), ValueError,
                            r"weight_std must be finite and > 0\.0, got -1\.0"),
    "weight_std zero": (dict(weight_std=0.0), ValueError,
                        r"weight_std must be finite and > 0\.0, got 0\.0"),
    "weight_std NaN": (dict(weight_std=float("nan")), ValueError,
                       r"weight_std must be finite and > 0\.0, got nan"),
    "weight_std str": (dict(weight_std="1"), TypeError, r"weight_std must be a real number"),
    "bias_std negative": (dict(bias_std=-0.1), ValueError,
                          r"bias_std must be finite and >= 0\.0, got -0\.1"),
    "bias_std NaN": (dict(bias_std=float("nan")), ValueError,
                     r"bias_std must be finite and >= 0\.0, got nan"),
    "bias_std inf": (dict(bias_std=float("inf")), ValueError,
                     r"bias_std must be finite and >= 0\.0, got inf"),
    "bias_std array": (dict(bias_std=np.ones(2)), TypeError, r"bias_std must be a real number"),
    "parametrization": (dict(parametrization="standard"), ValueError,
                        r"parametrization must be 'ntk' or 'mup', got 'standard'"),
    "gamma zero": (dict(parametrization="mup", gamma=0.0), ValueError,
                   r"gamma must be finite and > 0\.0, got 0\.0"),
    "gamma NaN": (dict(parametrization="mup", gamma=float("nan")), ValueError,
                  r"gamma must be finite and > 0\.0, got nan"),
    "mup with bias": (dict(parametrization="mup", bias_std=1.0), ValueError,
                      r"mup parametrisation .*need weight_std=1 and bias_std=0, got 1\.0, 1\.0"),
    # activation, method, quadrature order, dtype
    "unknown activation": (dict(activation="swishy"), ValueError,
                           r"activation must be a callable or one of \[.*'gelu'.*'leaky_relu'.*"
                           r"'relu'.*'tanh'\], got 'swishy'"),
    "activation int": (dict(activation=3), TypeError,
                       r"activation must be a callable or one of \[.*'relu'.*\], got int 3"),
    "method": (dict(method="exact"), ValueError,
               r"method must be 'auto', 'closed' or 'quadrature', got 'exact'"),
    "closed without closed form": (dict(activation="tanh", method="closed"), ValueError,
                                   r"method='closed' but there is no closed form for activation "
                                   r"'tanh'; closed forms: \('relu'.*ABReLU"),
    "quad_order 1": (dict(quad_order=1), ValueError,
                     r"quad_order must be an integer in \[2, 512\], got 1"),
    "quad_order 513": (dict(quad_order=513), ValueError,
                       r"quad_order must be an integer in \[2, 512\], got 513"),
    "quad_order float": (dict(quad_order=48.0), ValueError,
                         r"quad_order must be an integer in \[2, 512\], got 48\.0"),
    "dtype int": (dict(dtype=jnp.int32), ValueError,
                  r"dtype must be jnp\.float32 or jnp\.float64, got int32"),
    "dtype float16": (dict(dtype=jnp.float16), ValueError,
                      r"dtype must be jnp\.float32 or jnp\.float64, got float16"),
    "dtype nonsense": (dict(dtype="banana"), TypeError,
                       r"dtype must be jnp\.float32 or jnp\.float64, got 'banana'"),
    # results that cannot be computed are refused, not returned
    "overflowing inputs": (dict(x1=np.full((2, 3), 1e200)), ValueError,
                           r"kernels are not finite .*inputs x1/x2 are too large"),
    "activation gives NaN": (dict(activation=lambda u: jnp.log(u)), ValueError,
                             r"kernels are not finite .*activation returned NaN/inf"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_mlp_kernels_bad_input(case):
    kw, exc, msg = BAD[case]
    with pytest.raises(exc, match=msg):
        _with(**kw)


@pytest.mark.parametrize("bad,exc,msg", [
    ("swishy", ValueError, r"activation must be a callable or one of \[.*'relu'.*\], got 'swishy'"),
    ("ReLU", ValueError, r"activation must be a callable or one of \[.*'relu'.*\], got 'ReLU'"),
    (42, TypeError, r"activation must be a callable or one of \[.*'relu'.*\], got int 42"),
    (None, TypeError, r"activation must be a callable or one of \[.*'relu'.*\], got NoneType"),
])
def test_get_activation_bad_input(bad, exc, msg):
    with pytest.raises(exc, match=msg):
        get_activation(bad)


@pytest.mark.parametrize("a,b,exc,msg", [
    (float("nan"), 1.0, ValueError, r"ABReLU slope a must be finite, got nan"),
    (0.0, float("inf"), ValueError, r"ABReLU slope b must be finite, got inf"),
    ("0.1", 1.0, TypeError, r"ABReLU slope a must be a real number, got '0\.1'"),
    (0.1, None, TypeError, r"ABReLU slope b must be a real number, got None"),
])
def test_abrelu_bad_slopes(a, b, exc, msg):
    with pytest.raises(exc, match=msg):
        ABReLU(a, b)
