"""Width, depth and batch size as dataset dimensions: one compiled engine per shape, one
dataset, the same numbers as a single-shape sweep, sharded and merged like any sweep, and the
phase-map analysis per shape."""

import numpy as np
import pytest

from lazyrich import analysis, sims

CFG = sims.SweepConfig(depth=2, width=16, input_dim=8, num_steps=40, batch_size=16, log_every=10,
                       dtype="float64", task_options={"test_size": 64})
GRID = dict(gamma=[0.5, 2.0], eta=[0.05, 0.2, 0.8], seeds=[0, 1])


@pytest.fixture(scope="module")
def by_width():
    return sims.sweep(CFG, width=[8, 32], **GRID)


def test_width_is_a_leading_dimension_with_single_width_numbers(by_width):
    """Each width slice is the sweep of that width alone (independent cells; only reduction
    order may differ with the chunking: float64 round-off, 1e-12)."""
    assert by_width["test_loss"].dims == ("width", "gamma", "eta", "seed", "step")
    assert by_width["width"].values.tolist() == [8, 32]
    for w in (8, 32):
        alone = sims.sweep(CFG.replace(width=w), **GRID)
        np.testing.assert_allclose(by_width["test_loss"].sel(width=w).values,
                                   alone["test_loss"].values, rtol=1e-12)
        np.testing.assert_array_equal(by_width["diverged"].sel(width=w).values,
                                      alone["diverged"].values)
        # the phase-map analysis runs per width and gives that width's answer
        np.testing.assert_array_equal(
            analysis.eta_star(by_width, window=2).sel(width=w).values,
            analysis.eta_star(alone, window=2).values)
    assert analysis.eta_max(by_width).dims == ("width", "gamma", "seed")
    # widths really differ (the axis is not a copy of one run)
    assert not np.allclose(by_width["test_loss"].sel(width=8), by_width["test_loss"].sel(width=32))


def test_shards_span_shapes_and_merge(by_width, tmp_path):
    """Shards slice the global cell index (across widths); merging them gives the sweep."""
    parts = [str(tmp_path / f"s{i}.nc") for i in range(3)]
    for i, p in enumerate(parts):
        sims.sweep(CFG, width=[8, 32], shard=(i, 3), path=p, **GRID)
    merged = sims.merge(parts)
    np.testing.assert_allclose(merged["test_loss"].values, by_width["test_loss"].values,
                               rtol=1e-12)
    # a resumed run reads the finished file (same fingerprint, shape axes included)
    path = str(tmp_path / "full.nc")
    first = sims.sweep(CFG, width=[8, 32], path=path, **GRID)
    again = sims.sweep(CFG, width=[8, 32], path=path, **GRID)
    np.testing.assert_array_equal(first["loss"].values, again["loss"].values)
    with pytest.raises(ValueError, match="belongs to a different sweep"):
        sims.sweep(CFG, width=[8, 16], path=path, **GRID)


def test_depth_axis_uses_each_depth_in_eta_hat():
    """eta_hat = eta/s(gamma; L): with a depth axis the eta coordinate is (depth, gamma, eta_hat)
    and each cell uses its own L (checked against sims.eta_from_hat)."""
    ds = sims.sweep(CFG.replace(num_steps=10), gamma=[0.5, 4.0], eta_hat=[0.1, 1.0], seeds=[0],
                    depth=[2, 3])
    assert ds["eta"].dims == ("depth", "gamma", "eta_hat")
    for L in (2, 3):
        want = sims.eta_from_hat(np.array([[0.1, 1.0]]), np.array([[0.5], [4.0]]), L)
        np.testing.assert_allclose(ds["eta"].sel(depth=L).values, want, rtol=1e-15)
    # depth 3 at gamma=4 is not depth 2: s(gamma) differs
    assert not np.isclose(float(ds["eta"].sel(depth=2, gamma=4.0, eta_hat=1.0)),
                          float(ds["eta"].sel(depth=3, gamma=4.0, eta_hat=1.0)))


def test_batch_size_axis():
    ds = sims.sweep(CFG.replace(num_steps=10), gamma=[1.0], eta=[0.1], batch_size=[4, 16])
    assert ds["loss"].dims[0] == "batch_size" and ds.sizes["batch_size"] == 2


@pytest.mark.parametrize("kw, cfg, match", [
    ({"width": [8, 8]}, CFG, r"width has repeated values"),
    ({"width": [8.5]}, CFG, r"width must be positive integers"),
    ({"width": []}, CFG, r"width must be a non-empty"),
    ({"depth": [2]}, CFG.replace(model="convnet", task="digits", depth=4, num_steps=5,
                                 padding="SAME", task_options={}, input_dim=None),
     r"convnet' has 4 weight layers"),
    ({"batch_size": [4]}, CFG.replace(full_batch=True, task_options={"train_size": 16}),
     r"batch_size axis has no effect with full_batch"),
    ({"width": [8]}, CFG.replace(model=sims.from_apply(lambda p, x: x @ p,
                                                       lambda k, d: np.ones((8, 1))),
                                 input_dim=None),
     r"a width axis needs a built-in model"),
])
def test_bad_shape_axes(kw, cfg, match):
    with pytest.raises(ValueError, match=match):
        sims.sweep(cfg, gamma=[1.0], eta=[0.1], **kw)
