"""NTK and sharpness diagnostics live in lazyrich.metrics (one implementation each, traceable and
validated when eager); their old names in lazyrich.analysis warn and forward for one release."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lazyrich.analysis as an
import lazyrich.metrics as lm

MOVED = {"NTK_STATS": "NTK_STATS", "SHARPNESS_STATS": "SHARPNESS_STATS",
         "entropy_rank": "entropy_rank", "ntk_gram": "ntk_gram", "ntk_hooks": "ntk_hooks",
         "ntk_stats": "ntk_stats", "ntk_vp": "ntk_vp",
         "participation_ratio": "participation_ratio", "sharpness_hooks": "sharpness_hooks",
         "target_alignment": "kernel_alignment"}


@pytest.mark.parametrize(("old", "new"), MOVED.items(), ids=list(MOVED))
def test_old_analysis_name_warns_and_returns_the_metrics_object(old, new):
    msg = rf"lazyrich\.analysis\.{old} is deprecated .* lazyrich\.metrics\.{new}"
    with pytest.warns(DeprecationWarning, match=msg):
        obj = getattr(an, old)
    assert obj is getattr(lm, new)
    assert old not in an.__all__


def test_unknown_analysis_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'ntk_grams'"):
        an.ntk_grams  # noqa: B018


def _normalised(p, x):
    """A network with no derivative at x = 0 (x/‖x‖): zero padding used to poison the moments."""
    return (x / jnp.linalg.norm(x, axis=-1, keepdims=True)) @ p


def test_ntk_moments_with_a_ragged_last_block_match_the_dense_kernel():
    x = jax.random.normal(jax.random.key(0), (10, 3), jnp.float64)
    p = jnp.asarray([1.0, -0.5, 2.0])
    y = jnp.arange(10.0)
    m = lm.ntk_moments(_normalised, p, x, targets=y, batch_size=4)  # blocks 4, 4, 2 (+2 padding)
    K = np.asarray(lm.empirical_ntk(_normalised, p, x))
    # moments and dense kernel are the same sums in another order: round-off only
    assert abs(float(m.target_alignment) - lm.kernel_alignment(K, np.asarray(y))) < 1e-12
    np.testing.assert_allclose(lm.ntk_gram(_normalised, p, x, chunk=4), K, rtol=1e-13)


def test_ntk_stats_against_numpy():
    rng = np.random.default_rng(2)
    A = rng.normal(size=(9, 5))
    K = A @ A.T                       # rank 5 of 9: the clipped zero eigenvalues drop out
    y = rng.normal(size=9)
    lam = np.clip(np.linalg.eigvalsh(K), 0, None)
    pr = lam.sum() ** 2 / (lam**2).sum()
    q = lam[lam > 1e-10 * lam.max()] / lam.sum()
    want = [lm.kernel_alignment(K, y), lm.kernel_alignment(K, y, centered=True),
            np.linalg.norm(K), pr, np.exp(-np.sum(q * np.log(q)))]
    # eager and traced agree with the NumPy spectrum to float64 round-off (eigvalsh ~ 1e-15 rel.)
    np.testing.assert_allclose(lm.ntk_stats(jnp.asarray(K), jnp.asarray(y)), want, rtol=1e-12)
    traced = jax.jit(lm.ntk_stats)(jnp.asarray(K), jnp.asarray(y))
    np.testing.assert_allclose(traced, want, rtol=1e-12)


def test_zero_gram_is_nan_under_jit_not_a_number():
    """Under jit nothing can be raised; an undefined alignment must not look like a value."""
    a = jax.jit(lm.kernel_alignment)(jnp.zeros((4, 4)), jnp.ones(4))
    assert np.isnan(float(a))


_K = np.diag([3.0, 2.0, 1.0, 1.0])
BAD = {
    "align-K-zero": (lambda: lm.kernel_alignment(np.zeros((4, 4)), np.ones(4)), ValueError,
                     r"K is zero to round-off .*n\*eps"),
    "align-K-constant-centred": (lambda: lm.kernel_alignment(np.ones((4, 4)), np.arange(4.0),
                                                             centered=True),
                                 ValueError, r"K is zero after centring to round-off"),
    "align-targets-constant-centred": (lambda: lm.kernel_alignment(_K, np.ones(4),
                                                                   centered=True),
                                       ValueError, r"targets is zero after centring to round-off"),
    "align-targets-rows": (lambda: lm.kernel_alignment(_K, np.ones(3)), ValueError,
                           r"targets must have shape \(4,\) or \(4, C\) to match K, got \(3,\)"),
    "align-K-nan": (lambda: lm.kernel_alignment(np.where(_K > 2, np.nan, _K), np.ones(4)),
                    ValueError, r"K contains 1 non-finite value.*K must be finite"),
    "align-targets-bool": (lambda: lm.kernel_alignment(_K, np.ones(4, bool)), TypeError,
                           r"targets must hold real numbers"),
    "pr-not-square": (lambda: lm.participation_ratio(np.ones((3, 4))), ValueError,
                      r"K must be square \(n, n\), got \(3, 4\)"),
    "pr-1d": (lambda: lm.participation_ratio(np.ones(4)), ValueError,
              r"K must be 2-D \(an \(n, n\) kernel\)"),
    "pr-zero": (lambda: lm.participation_ratio(np.zeros((4, 4))), ValueError,
                r"K has no positive eigenvalue"),
    "entropy-zero": (lambda: lm.entropy_rank(np.zeros((4, 4))), ValueError,
                     r"K has no positive eigenvalue"),
    "entropy-nan": (lambda: lm.entropy_rank(np.full((3, 3), np.nan)), ValueError,
                    r"K contains 9 non-finite value.*K must be finite"),
    "gram-chunk-zero": (lambda: lm.ntk_gram(_normalised, jnp.ones(3), jnp.ones((4, 3)), chunk=0),
                        ValueError, r"chunk must be a positive integer .* or None, got 0"),
    "gram-chunk-bool": (lambda: lm.ntk_gram(_normalised, jnp.ones(3), jnp.ones((4, 3)),
                                            chunk=True),
                        ValueError, r"chunk must be a positive integer .* or None, got True"),
    "ntk-batch-float": (lambda: lm.empirical_ntk(_normalised, jnp.ones(3), jnp.ones((4, 3)),
                                                 batch_size=2.0),
                        ValueError, r"batch_size must be a positive integer .* got 2\.0"),
    "moments-batch-zero": (lambda: lm.ntk_moments(_normalised, jnp.ones(3), jnp.ones((4, 3)),
                                                  batch_size=0),
                           ValueError, r"batch_size must be a positive integer .* got 0"),
}


@pytest.mark.parametrize(("call", "exc", "match"), BAD.values(), ids=list(BAD))
def test_bad_input_is_named(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
