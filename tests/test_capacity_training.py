"""Chizat-scaled 2-layer training and geometry over training (manifold-capacity.md §4.1, §4.3,
claims C12, C16)."""

import dataclasses

import jax
import numpy as np
import pytest

from lazyrich.geometry._geometry_training import (
    ChizatTwoLayer,
    cloud_task,
    geometry_over_training,
    ntk_sharpness,
    plot_geometry_over_training,
    train_two_layer,
)


@pytest.fixture(scope="module")
def task():
    Xtr, Ytr, Xte = cloud_task(jax.random.key(0), n_train=10, n_test=20)
    lr = 1.0 / ntk_sharpness(jax.random.key(1), Xtr, 64, 8)
    return Xtr, Ytr, Xte, lr


def _run(task, alpha, steps=300, logs=None):
    Xtr, Ytr, _, lr = task
    hp = ChizatTwoLayer(alpha=alpha, lr=lr, width=64, num_steps=steps,
                        log_steps=logs or (0, steps))
    return train_two_layer(jax.random.key(1), hp, Xtr, Ytr)


def test_centered_start_and_descent(task):
    """h = alpha (f - f0) is exactly 0 at init: L_alpha(0) = mean ||y||^2 / (2 alpha^2) = 1/(2a^2)
    for one-hot targets; GD below the stability limit decreases the loss monotonically."""
    for alpha in (0.3, 30.0):
        run = _run(task, alpha, steps=100)
        assert abs(float(run.loss[0]) * alpha**2 - 0.5) < 1e-12
        assert np.all(np.diff(np.asarray(run.loss)) <= 1e-12 * float(run.loss[0]))
        np.testing.assert_array_equal(run.steps, (0, 100))


def test_lazy_limit_parameter_change_scales_as_one_over_alpha(task):
    """C16: parameters move O(1/alpha) while the function moves O(1); fit the log-log slope of
    ||theta_t - theta_0||/||theta_0|| against alpha over {10, 100, 1000}: -1 up to O(1/alpha)
    corrections (tolerance 0.05 on the slope)."""
    alphas = np.array([10.0, 100.0, 1000.0])
    ch = []
    for a in alphas:
        run = _run(task, a, steps=200)
        W, A = np.asarray(run.W), np.asarray(run.a)
        ch.append(np.sqrt(np.sum((W[1] - W[0]) ** 2) + np.sum((A[1] - A[0]) ** 2))
                  / np.sqrt(np.sum(W[0] ** 2) + np.sum(A[0] ** 2)))
    slope = np.polyfit(np.log(alphas), np.log(ch), 1)[0]
    assert abs(slope + 1) < 0.05, (slope, ch)


def test_rich_raises_capacity_lazy_keeps_it(task):
    """C12 at test size: the richest run gains >= 15% capacity, the lazy one changes < 2%
    (parameters move ~0.5%), and the gain is ordered by richness. Same estimator draws at every
    step (common random numbers), so the gains are precise beyond the ~2% s.e. of each value."""
    _, _, Xte, _ = task
    res = {}
    for a in (0.1, 1.0, 100.0):
        res[a] = geometry_over_training(_run(task, a, logs=(0, 300)), Xte, jax.random.key(2),
                                        n_t=150)
    gain = [res[a]["capacity"][-1] / res[a]["capacity"][0] - 1 for a in (0.1, 1.0, 100.0)]
    assert gain[0] >= 0.15 and gain[0] > gain[1] > gain[2], gain
    assert abs(gain[2]) <= 0.02, gain
    # identical start: every run begins from the same features
    assert len({round(float(r["capacity"][0]), 12) for r in res.values()}) == 1
    assert res[0.1]["radius"][-1] < res[0.1]["radius"][0]  # rich: manifolds shrink
    fig = plot_geometry_over_training({f"alpha={a:g}": r for a, r in res.items()})
    assert len(fig.axes) == 6


def test_training_bad_input(task):
    Xtr, Ytr, _, lr = task
    hp = ChizatTwoLayer(alpha=1.0, lr=lr, width=16, num_steps=10, log_steps=(0, 11))
    with pytest.raises(ValueError, match="log_steps must be sorted, distinct and within"):
        train_two_layer(jax.random.key(0), hp, Xtr, Ytr)
    with pytest.raises(ValueError, match="activation must be 'relu' or 'tanh'"):
        train_two_layer(jax.random.key(0), dataclasses.replace(hp, log_steps=(0, 10),
                                                               activation="gelu"), Xtr, Ytr)
    with pytest.raises(ValueError, match=r"X must be \(n, d\) and Y \(n, C\)"):
        train_two_layer(jax.random.key(0), dataclasses.replace(hp, log_steps=(0, 10)),
                        Xtr, Ytr[:-1])
