"""The CNN-on-digits stand-in for the paper's deep-network runs (manifold-capacity.md §4.6, C12)."""

import numpy as np

from lazyrich.metrics._claims_capacity import _cnn_digits


def test_cnn_rich_raises_capacity_lazy_keeps_it():
    """Quick size of the claim: rich (gamma=5) capacity gain >= 15% (measured ~+35%), gamma=1 in
    between (~+28%), lazy (gamma=0.01) |gain| <= 2% (measured ~0.1%: weights move ~0.2%).
    Same estimator draws at every (cell, step), so the gains are not Monte-Carlo noise."""
    out = _cnn_digits(True)
    d = out.details
    assert out.passed, d
    assert d["gain_gamma_5"] > d["gain_gamma_1"] > 0.15 > 0.02 >= abs(d["gain_gamma_0.01"]), d
    # lazy moves its weights O(gamma) less: ratio of weight changes >> 10 for gamma 0.01 vs 1
    assert d["weight_change_gamma_1"] > 30 * d["weight_change_gamma_0.01"], d
    assert d["kkt_max"] < 1e-3
    lazy = np.asarray(out.plot.series[0].y)
    assert np.all(np.abs(lazy / lazy[0] - 1) <= 0.02), lazy  # flat at every logged step
