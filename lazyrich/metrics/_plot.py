"""Figures for the richness measures.

engineering.md §6.3: ``ax=None``, return the axes, never ``plt.show()``.
"""

import numpy as np


def plot_eigencurves(curves, labels=None, axes=None, *, k_max: int | None = None,
                     logx: bool = False):
    r"""The paper's three-panel figure (richness-metric.md §3) for one or several models.

    Panels: cumulative quality :math:`\Pi^*(k)` (skipped lines when a model has no targets),
    cumulative utilisation :math:`\hat\Pi(k)`, relative eigenvalue :math:`\rho_k/\rho_1` (log).

    Args:
        curves: one :class:`~lazyrich.metrics.EigenCurves` or a sequence of them.
        labels: one label per model (default "model i").
        axes: three matplotlib axes; a new ``1×3`` figure if ``None``.
        k_max: truncate the x-axis. logx: logarithmic mode axis.

    Returns:
        The three axes.
    """
    import matplotlib.pyplot as plt

    if not isinstance(curves, list | tuple):
        curves = [curves]
    if not curves:
        raise ValueError("need at least one EigenCurves")
    labels = [f"model {i}" for i in range(len(curves))] if labels is None else list(labels)
    if len(labels) != len(curves):
        raise ValueError(f"got {len(labels)} labels for {len(curves)} models")
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(12, 3.4), constrained_layout=True)
    if len(axes) != 3:
        raise ValueError(f"axes must hold 3 axes, got {len(axes)}")
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, len(curves)))
    for c, lab, col in zip(curves, labels, colors, strict=True):
        sl = slice(None) if k_max is None else slice(0, k_max)
        if c.pi_star is not None:
            axes[0].plot(c.k[sl], c.pi_star[sl], "-o", ms=2.5, color=col, label=lab)
        axes[1].plot(c.k[sl], c.pi_hat[sl], "-o", ms=2.5, color=col, label=lab)
        axes[2].semilogy(c.k[sl], c.rel_eig[sl], "-o", ms=2.5, color=col, label=lab)
    for ax, yl in zip(axes, [r"quality $\Pi^*(k)$", r"utilisation $\hat\Pi(k)$",
                             r"relative eigenvalue $\rho_k/\rho_1$"], strict=True):
        ax.set_xlabel("eigen-index k")
        ax.set_ylabel(yl)
        if logx:
            ax.set_xscale("log")
    axes[0].set_ylim(-0.02, 1.02)
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].legend(fontsize="small")
    return axes


def plot_dlr_trajectory(steps, dlr_values, accuracy=None, ax=None, *,
                        labels=("D_LR", "test accuracy")):
    """D_LR against training step, with accuracy on a twin axis (e.g. through grokking).

    ``dlr_values`` may be a dict ``{name: values}`` (e.g. train and test splits). Returns the
    D_LR axes (the twin is ``ax.accuracy_axis`` when accuracy is given).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.4), constrained_layout=True)
    series = dlr_values if isinstance(dlr_values, dict) else {labels[0]: dlr_values}
    for name, v in series.items():
        if len(v) != len(steps):
            raise ValueError(f"{name}: {len(v)} values for {len(steps)} steps")
        ax.plot(steps, v, "-", label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("D_LR")
    ax.set_ylim(0, 1)
    if accuracy is not None:
        tw = ax.twinx()
        tw.plot(steps, accuracy, "--", color="k", label=labels[1])
        tw.set_ylabel(labels[1])
        tw.set_ylim(0, 1.02)
        ax.accuracy_axis = tw
    ax.legend(loc="center left", fontsize="small")
    return ax
