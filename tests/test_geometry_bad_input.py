"""Bad input to the capacity and representation metrics: a clear error naming the argument and
the value expected, never a NaN, a silent default or a traceback from inside NumPy or JAX."""

import jax
import numpy as np
import pytest

from lazyrich import geometry as g
from lazyrich import metrics as m

X = np.random.default_rng(0).standard_normal((4, 5, 6))
F = np.random.default_rng(1).standard_normal((20, 6))
Y = np.random.default_rng(2).standard_normal((20, 3))
LAB = np.repeat(np.arange(4), 5)
KEY = jax.random.key(0)

CASES = [
    # (id, call, exception, regex naming the argument and what is expected)
    ("mf-n_t-fraction", lambda: g.mean_field_capacity(KEY, X, n_t=2.5), ValueError,
     r"n_t must be an integer >= 2, got 2\.5"),
    ("mf-n_t-bool", lambda: g.mean_field_capacity(KEY, X, n_t=True), ValueError,
     r"n_t must be an integer >= 2, got True"),
    ("mf-kkt_tol-zero", lambda: g.mean_field_capacity(KEY, X, kkt_tol=0.0), ValueError,
     r"kkt_tol must be a positive finite number, got 0\.0"),
    ("mf-kkt_tol-nan", lambda: g.mean_field_capacity(KEY, X, kkt_tol=float("nan")), ValueError,
     r"kkt_tol must be a positive finite number, got nan"),
    ("mf-rcond", lambda: g.mean_field_capacity(KEY, X, rcond=2.0), ValueError,
     r"rcond must be in \(0, 1\), got 2\.0"),
    ("mf-ipm_iters", lambda: g.mean_field_capacity(KEY, X, ipm_iters=0), ValueError,
     r"ipm_iters must be an integer >= 1, got 0"),
    ("mf-ipm_batch", lambda: g.mean_field_capacity(KEY, X, ipm_batch=1.5), ValueError,
     r"ipm_batch must be an integer >= 1, got 1\.5"),
    ("mf-blas_threads", lambda: g.mean_field_capacity(KEY, X, blas_threads=0), ValueError,
     r"blas_threads must be an integer >= 1, got 0"),
    ("mf-ensemble", lambda: g.mean_field_capacity(KEY, X, ensemble="all"), ValueError,
     r"ensemble must be one of \('balanced', 'iid', 'one_vs_rest', 'fixed'\), got 'all'"),
    ("mf-labels-not-signs",
     lambda: g.mean_field_capacity(KEY, X, ensemble="fixed", labels=[1, 0, 1, 0]), ValueError,
     r"labels must be a \(4,\) array of \+1/-1"),
    ("mf-key-int", lambda: g.mean_field_capacity(0, X), TypeError,
     r"key must be a JAX PRNG key such as jax\.random\.key\(0\), got 0"),
    ("mf-X-2d", lambda: g.mean_field_capacity(KEY, X[0]), ValueError,
     r"X must be 3-D with shape \(P manifolds, M points, N features\), got shape \(5, 6\)"),
    ("mf-X-complex", lambda: g.mean_field_capacity(KEY, X.astype(complex)), TypeError,
     r"X must be a real numeric array of shape \(P, M, N\), got dtype complex128"),
    ("mf-X-string", lambda: g.mean_field_capacity(KEY, "abc"), TypeError,
     r"X must be a real numeric array"),
    ("sim-n_rep", lambda: g.simulated_capacity(KEY, X, n_rep=0), ValueError,
     r"n_rep must be a positive integer, got 0"),
    ("sim-n_boot", lambda: g.simulated_capacity(KEY, X, n_boot=-1), ValueError,
     r"n_boot must be an integer >= 0 .*got -1"),
    ("sim-n_max", lambda: g.simulated_capacity(KEY, X, n_max=100), ValueError,
     r"1 <= n_min <= n_max <= N = 6, got n_min = 1, n_max = 100"),
    ("sim-key-none", lambda: g.simulated_capacity(None, X), TypeError,
     r"key must be a JAX PRNG key .*got None"),
    ("probe-M", lambda: g.probe_manifolds(F, LAB, M=0), ValueError,
     r"M must be in \[1, 5\] \(the smallest class\), got 0"),
    ("probe-labels", lambda: g.probe_manifolds(F, LAB[:5]), ValueError,
     r"features must be \(n, N\) and labels \(n,\), got \(20, 6\) and \(5,\)"),
    ("balanced-per_class", lambda: g.balanced_probe(KEY, F, LAB, 0), ValueError,
     r"per_class must be a positive integer, got 0"),
    ("balanced-too-many", lambda: g.balanced_probe(KEY, F, LAB, 6), ValueError,
     r"has 5 points, fewer than per_class = 6"),
    ("clouds-P", lambda: g.gaussian_clouds(KEY, 0, 5, 10, 2, 1.0), ValueError,
     r"P must be a positive integer, got 0"),
    ("clouds-R", lambda: g.gaussian_clouds(KEY, 4, 5, 10, 2, -1.0), ValueError,
     r"R must be finite and >= 0, got -1\.0"),
    ("spheres-N", lambda: g.sphere_manifolds(KEY, 4, 5, 3, 10, 1.0), ValueError,
     r"N = 3 must be at least D \+ 1 = 11"),
    ("points-N", lambda: g.point_manifolds(KEY, 4, 0), ValueError,
     r"N must be a positive integer, got 0"),
    ("points-key", lambda: g.point_manifolds(7, 4, 3), TypeError,
     r"key must be a JAX PRNG key .*got 7"),
    ("dlr-samples", lambda: m.dlr(F, Y[:10]), ValueError,
     r"same number of samples, got 20 .* and 10"),
    ("dlr-nan", lambda: m.dlr(np.where(F > 2, np.nan, F), Y), ValueError,
     r"features contains \d+ non-finite value"),
    ("dlr-complex", lambda: m.dlr(F.astype(complex), Y), TypeError,
     r"features must hold real numbers"),
    ("cka-constant", lambda: m.linear_cka(np.zeros_like(F), Y), ValueError,
     r"X is constant over the samples: CKA is undefined"),
    ("alignment-square", lambda: m.kernel_alignment(np.zeros((20, 10)), Y), ValueError,
     r"K must be square \(n, n\), got \(20, 10\)"),
    ("nc1-one-class", lambda: m.nc1(F, np.zeros(20, int)), ValueError,
     r"need at least 2 classes, got 1"),
]


@pytest.mark.parametrize(("call", "exc", "match"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_is_named(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_generators_are_float64_whatever_the_global_precision():
    """The synthetic manifolds feed the float64 capacity path: they are float64 (and the same
    draws) with jax_enable_x64 off, as the estimators are."""
    ref = np.asarray(g.gaussian_clouds(KEY, 3, 4, 8, 2, 0.5))
    with jax.enable_x64(False):
        off = g.gaussian_clouds(KEY, 3, 4, 8, 2, 0.5)
    assert off.dtype == np.float64
    np.testing.assert_array_equal(np.asarray(off), ref)
