r"""The coord check and the η*(N) transfer test: is a parametrisation width-consistent?

**Coord check** (Yang & Hu, "Tensor Programs IV/V", the ``mup`` package's ``get_coord_data``):
train MLPs of several widths N for a few steps of SGD on one fixed batch and record, for every
layer's pre-activation :math:`h^\ell` (and the readout :math:`g`), the coordinate size of
:math:`h^\ell_t` and of its change :math:`h^\ell_t - h^\ell_0` against N. A width exponent is the
slope of log size on log N. The change is the sharper test: an O(1) initial value masks an
O(N^{-1/2}) update in :math:`h_t`, not in :math:`h_t - h_0`. Expected exponents of the change
after one update (three-layer MLP, fixed input dimension):

==================== ====== ====== ======
change of            SP     NTK    μP-γ
==================== ====== ====== ======
first layer h¹       −½     −½     0
deeper h^ℓ, ℓ ≥ 2    +½     −½     0
output g             +1     0      0
==================== ====== ====== ======

Each parametrisation is defined by the *actual* step of its weights (docs: Conventions):
μP-γ is the engine's default (N(0,1) weights, 1/√fan-in hidden multipliers, readout 1/N, step
Nη); NTK has 1/√fan-in on every layer including the readout and the step η on the N(0,1)
weights (``parametrization="ntk"``, ``mup_steps="none"``); SP (PyTorch's default) has weights
N(0, 1/fan-in) and the step η on them, which is the same network with the NTK multipliers and
per-layer steps equal to the fan-in (``mup_steps="sp"``). In SP the exponents compound after
the first update (the output's O(N) growth feeds the next gradient): only the first update's
exponents are a clean prediction there; NTK and μP are stable in t.

**η*(N)** (:func:`eta_star_width_exponent`): from a width sweep, the slope of log η* on log N
with a bootstrap CI over seeds, in the parametrisation's own learning-rate variable: flat (0)
under μP (hyperparameter transfer), negative under SP.
"""

import numpy as np
import xarray as xr

from ._phase import SlopeFit, eta_star, fit_slope

#: The parametrisations of the coord check: (engine parametrization, mup_steps).
COORD_PARAMETRIZATIONS = {"mup": ("mup", None), "ntk": ("ntk", "none"), "sp": ("ntk", "sp")}
#: Expected width exponents of the change after one update, (first layer, deeper, output).
COORD_EXPONENTS = {"sp": (-0.5, 0.5, 1.0), "ntk": (-0.5, -0.5, 0.0), "mup": (0.0, 0.0, 0.0)}


def _positive_ints(name, v, at_least=1):
    arr = np.atleast_1d(np.asarray(v, dtype=object))
    if arr.ndim != 1 or arr.size < at_least or not all(
            isinstance(x, int | np.integer) and not isinstance(x, bool) and x >= 1 for x in arr):
        raise ValueError(f"{name} must be a list of at least {at_least} positive integers, "
                         f"got {v!r}")
    if np.unique(arr.astype(np.int64)).size != arr.size:
        raise ValueError(f"{name} has repeated values: {list(arr)}")
    return np.sort(arr.astype(np.int64))


def coord_check(widths, *, parametrizations=("sp", "ntk", "mup"), eta=None, depth: int = 3,
                input_dim: int = 16, batch_size: int = 16, num_steps: int = 3, seeds=(0, 1, 2, 3),
                activation: str = "relu", task: str = "single-index",
                data_seed: int = 0) -> xr.Dataset:
    r"""Coordinate sizes of every layer's pre-activation over the first ``num_steps`` SGD steps
    on one fixed batch, for each width and parametrisation.

    Args:
        widths: at least 3 hidden widths N (e.g. 256 … 4096).
        parametrizations: names among ``"sp"``, ``"ntk"``, ``"mup"`` (module docstring).
        eta: the learning rate in each parametrisation's own variable (a number for all, or
            ``{name: eta}``): the actual step for SP and NTK, the engine's η (step Nη) for μP.
            Default 0.1 for each.
        depth: L weight layers; input_dim: D; batch_size: the fixed batch (the task's first
            ``batch_size`` training points, from ``data_seed``); activation: of the MLP.
        num_steps: updates after the initial point (t = 0 … num_steps).
        seeds: initialisations (each width and parametrisation uses the same ones).

    Returns:
        Dataset with ``size`` (mean |h_t|) and ``change`` (mean |h_t − h_0|) over
        ``(parametrization, width, seed, step, layer)``; ``layer`` runs 1 … L (L = the readout
        g). Uncentred outputs (γ = 1), float64. Fit exponents with :func:`coord_exponents`.
    """
    from lazyrich import sims

    ws = _positive_ints("widths", widths, at_least=3)
    if isinstance(parametrizations, str):
        parametrizations = (parametrizations,)
    bad = [p for p in parametrizations if p not in COORD_PARAMETRIZATIONS]
    if bad or not parametrizations:
        raise ValueError(f"parametrizations must be names among {tuple(COORD_PARAMETRIZATIONS)}, "
                         f"got {parametrizations!r}")
    etas = eta if isinstance(eta, dict) else {p: (0.1 if eta is None else eta)
                                              for p in parametrizations}
    for p in parametrizations:
        e = etas.get(p)
        if isinstance(e, bool) or not isinstance(e, int | float | np.floating) or not (
                np.isfinite(e) and e > 0):
            raise ValueError(f"eta for {p!r} must be a finite number > 0, got {e!r}")
    seeds = [int(s) for s in np.atleast_1d(np.asarray(seeds))]  # run_cells checks the range
    if len(seeds) < 2:
        raise ValueError(f"seeds must hold at least 2 seeds (the exponents' CI is a bootstrap "
                         f"over seeds), got {seeds!r}")
    import jax

    base = sims.make_task(task, input_dim=input_dim, train_size=batch_size)
    with jax.enable_x64(True):
        data = base.build(data_seed, np.float64)
    x, y = np.asarray(data["train_x"]), np.asarray(data["train_y"])
    fixed = sims.array_task(x, y)
    size = np.zeros((len(parametrizations), ws.size, len(seeds), num_steps + 1, depth))
    change = np.zeros_like(size)
    for a, p in enumerate(parametrizations):
        par, rule = COORD_PARAMETRIZATIONS[p]
        for b, N in enumerate(ws):
            cfg = sims.SweepConfig(model="mlp", depth=depth, width=int(N), task=fixed,
                                   activation=activation, full_batch=True, num_steps=num_steps,
                                   log_every=1, centred=False, parametrization=par,
                                   mup_steps=rule, dtype="float64",
                                   # SP's output grows like N by design: only a non-finite
                                   # value is a divergence here
                                   divergence_factor=1e300)
            out = sims.run_cells(cfg, gamma=1.0, eta=float(etas[p]), seed=seeds,
                                 keep_params=True)
            if out["diverged"].any():
                raise ValueError(f"coord check: {p} at width {N} overflowed (non-finite values) "
                                 f"within {num_steps} steps at eta={etas[p]}; use a smaller eta")
            model, _ = sims.resolve(cfg)
            for c in range(len(seeds)):
                hs = [model.preactivations({"w": tuple(w[c, t] for w in out["params_log"]["w"])},
                                           x) for t in range(num_steps + 1)]
                for t in range(num_steps + 1):
                    for ell in range(depth):
                        h, h0 = np.asarray(hs[t][ell]), np.asarray(hs[0][ell])
                        size[a, b, c, t, ell] = np.mean(np.abs(h))
                        change[a, b, c, t, ell] = np.mean(np.abs(h - h0))
    dims = ("parametrization", "width", "seed", "step", "layer")
    coords = {"parametrization": list(parametrizations), "width": ws, "seed": seeds,
              "step": np.arange(num_steps + 1), "layer": np.arange(1, depth + 1)}
    return xr.Dataset({"size": (dims, size), "change": (dims, change)}, coords=coords,
                      attrs={"eta": repr({p: etas[p] for p in parametrizations}),
                             "activation": activation, "batch_size": batch_size})


def coord_exponents(result: xr.Dataset, *, n_boot: int = 1000, ci: float = 0.95) -> xr.Dataset:
    r"""Width exponents of a :func:`coord_check`: for every parametrisation, quantity
    (``size``, ``change``), step and layer, the pooled OLS slope of log size on log N with a
    bootstrap CI over seeds (:func:`fit_slope`). Entries that are exactly 0 (the change at
    t = 0) give NaN."""
    if not isinstance(result, xr.Dataset) or "change" not in result:
        raise TypeError("result must be the dataset returned by coord_check")
    ws = result["width"].values.astype(float)
    out = {k: np.full((result.sizes["parametrization"], 2, result.sizes["step"],
                       result.sizes["layer"]), np.nan) for k in ("exponent", "ci_low", "ci_high")}
    for a in range(result.sizes["parametrization"]):
        for q, name in enumerate(("size", "change")):
            v = result[name].values[a]  # (width, seed, step, layer)
            for t in range(v.shape[2]):
                for ell in range(v.shape[3]):
                    y = v[:, :, t, ell]
                    if not np.all(y > 0):
                        continue
                    f: SlopeFit = fit_slope(ws, y, n_boot=n_boot, ci=ci)
                    out["exponent"][a, q, t, ell] = f.slope
                    out["ci_low"][a, q, t, ell] = f.ci_low
                    out["ci_high"][a, q, t, ell] = f.ci_high
    dims = ("parametrization", "quantity", "step", "layer")
    coords = {"parametrization": result["parametrization"].values, "quantity": ["size", "change"],
              "step": result["step"].values, "layer": result["layer"].values}
    return xr.Dataset({k: (dims, v) for k, v in out.items()}, coords=coords)


def eta_star_width_exponent(ds: xr.Dataset, var: str = "loss", window: int = 20,
                            *, n_boot: int = 1000) -> xr.Dataset:
    r"""The η*(N) test: for each γ of a width sweep (``sims.sweep(..., width=[...])``), the
    slope of log η* on log N with a bootstrap CI over seeds, in the sweep's own learning-rate
    variable (the engine's η for μP: flat under μP, negative under SP). Returns ``slope``,
    ``ci_low``, ``ci_high`` over ``gamma``."""
    if not isinstance(ds, xr.Dataset) or "width" not in ds.dims:
        raise ValueError("ds must be a width sweep: sims.sweep(..., width=[...]) has a 'width' "
                         "dimension")
    if ds.sizes["width"] < 3:
        raise ValueError(f"the η*(N) slope needs at least 3 widths, got {ds.sizes['width']}")
    es = eta_star(ds, var, window).transpose("width", "gamma", "seed")
    ws = ds["width"].values.astype(float)
    res = {k: [] for k in ("slope", "ci_low", "ci_high")}
    for g in range(es.sizes["gamma"]):
        f = fit_slope(ws, es.values[:, g, :], n_boot=n_boot)
        res["slope"].append(f.slope)
        res["ci_low"].append(f.ci_low)
        res["ci_high"].append(f.ci_high)
    return xr.Dataset({k: (("gamma",), np.asarray(v)) for k, v in res.items()},
                      coords={"gamma": es["gamma"].values})
