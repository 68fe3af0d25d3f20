r"""The deep-network capacity pipeline (Chou et al. 2025, section 4.6): VGG-11 or ResNet-18
(:func:`lazyrich.sims.cifar_model`) trained on CIFAR-10 by the sweep engine, then capacity and
effective geometry of the penultimate layer over training."""

import jax
import numpy as np


def cifar_capacity_sweep(data_dir: str, arch: str = "vgg11", *, alphas=(1.0, 10.0, 100.0),
                         eta0: float | None = None, num_steps: int = 2500, log_points: int = 12,
                         width_factor: float = 1.0, per_class: int = 50, seeds=(7,),
                         n_t: int = 200, batch_size: int = 100, test_size: int | None = None,
                         schedule: bool = True, clip_norm: float | None = 1.0,
                         augment: bool = True, path: str | None = None, steps=None,
                         **capacity_options):
    r"""The paper's deep-network pipeline on the sweep engine, then geometry over it.

    CIFAR-10 from local files (``data_dir``: the python-version directory or archive, or the
    binary version; per-channel standardised), VGG-11 or ResNet-18
    (:func:`lazyrich.sims.cifar_model`), centred Chizat scaling with ``gamma`` = :math:`\alpha`
    (``parametrization="chizat"``), MSE on one-hot targets, batch 100, float64, and the paper's
    optimizer as one optax chain before the engine's step :math:`\eta_0`: gradient-norm clipping
    at ``clip_norm`` (``None``: off), SGD momentum 0.9 and (``schedule``) the per-epoch rate
    :math:`\eta_0/(1+(e-1)/3)` for epoch :math:`e = 1, 2, \dots`; with ``augment`` every
    training batch is randomly cropped (padding 4) and flipped (:func:`lazyrich.sims.crop_flip`).
    Default step :math:`\eta_0` = 1.0 for VGG-11, 0.2 for ResNet-18. Capacity, geometry and the
    weight/kernel metrics of ``per_class`` test images per class (penultimate layer) at
    ``log_points`` log-spaced steps (:func:`geometry_over_sweep`).

    ``steps`` is the deprecated old name of ``num_steps``.

    Returns:
        ``(geometry dataset, sweep dataset)``.
    """
    import warnings

    import optax

    from lazyrich import sims

    if steps is not None:  # the deprecated old name of num_steps
        warnings.warn("cifar_capacity_sweep(steps=...) is deprecated and will be removed in the "
                      "next release; use num_steps", DeprecationWarning, stacklevel=2)
        num_steps = steps

    from ._capacity_sweep import balanced_probe, geometry_over_sweep, probe_hooks, resolve_model

    if clip_norm is not None and not (np.isfinite(clip_norm) and clip_norm > 0):
        raise ValueError(f"clip_norm must be finite and > 0 (or None: no clipping), got "
                         f"{clip_norm!r}")
    m = sims.cifar_model(arch, width_factor=width_factor)
    eta0 = (1.0 if arch == "vgg11" else 0.2) if eta0 is None else eta0
    opts = {"data_dir": str(data_dir), "image": True}
    if test_size is not None:
        opts["test_size"] = int(test_size)
    probe_cfg = sims.SweepConfig(model=m.model, task="cifar10", task_options=opts,
                                 parametrization="chizat", batch_size=batch_size,
                                 num_steps=num_steps, loss="mse", dtype="float64")
    _, task = resolve_model(probe_cfg)
    data = task.build(probe_cfg.data_seed, np.float64)
    per_epoch = max(1, data["train_x"].shape[0] // batch_size)
    chain = [optax.clip_by_global_norm(float(clip_norm))] if clip_norm is not None else []
    chain.append(optax.trace(decay=0.9))
    if schedule:
        chain.append(optax.scale_by_schedule(lambda t: 1.0 / (1.0 + (t // per_epoch) / 3.0)))
    label = (f"clip{clip_norm}-momentum0.9" + (f"-epoch/3 schedule ({per_epoch} steps/epoch)"
                                               if schedule else ""))
    cfg = probe_cfg.replace(optimizer=optax.chain(*chain), mup_steps="sgd",
                            optimizer_label=label, log_points=log_points,
                            augment=sims.crop_flip(4) if augment else None)
    xp, yp = balanced_probe(jax.random.key(0), data["test_x"], data["test_y"], per_class)
    ds = sims.sweep(cfg, gamma=list(alphas), eta=[eta0], seeds=list(seeds), path=path,
                    metrics=probe_hooks(cfg, xp, feature_fn=m.features))
    geo = geometry_over_sweep(jax.random.key(1), ds, "features", yp, n_t=n_t,
                              **capacity_options)
    return geo, ds
