r"""Loss-curve analysis: plateau/escape times, staircase steps, time alignment
(docs: Gamma scaling, "Plateaus and trajectory collapse")."""

import numpy as np


def _frac(name, v, *, closed=False):
    ok = (not isinstance(v, bool) and isinstance(v, int | float | np.floating)
          and ((0 <= v <= 1) if closed else (0 < v < 1)))
    if not ok:
        raise ValueError(f"{name} must be a number in {'[0, 1]' if closed else '(0, 1)'}, "
                         f"got {v!r}")
    return float(v)


def _as_curves(t, loss):
    t = np.asarray(t, dtype=float)
    loss = np.asarray(loss, dtype=float)
    if t.ndim != 1 or loss.ndim < 1 or loss.shape[-1] != t.shape[0]:
        raise ValueError(f"loss must have the time axis last, of length len(t) = "
                         f"{t.shape[0] if t.ndim == 1 else t.shape}; got t {t.shape}, "
                         f"loss {loss.shape}")
    if t.size < 2:
        raise ValueError(f"t must hold at least 2 times, got {t.size}")
    if not np.all(np.isfinite(t)):
        raise ValueError("t must be finite")
    if np.any(np.diff(t) <= 0):
        raise ValueError("t must be strictly increasing")
    if np.any(loss < 0) or np.any(np.isinf(loss)):  # NaN (a diverged run) is allowed
        raise ValueError("loss must be finite and >= 0 (NaN marks a diverged run), got "
                         f"a minimum of {np.nanmin(loss):.3g} and {int(np.isinf(loss).sum())} "
                         f"infinite entries")
    return t, loss


def drop_time(t, loss, frac: float = 0.5):
    r"""First time the loss falls to :math:`(1-\text{frac})\,\mathcal L(0)`, interpolated linearly
    in :math:`\log\mathcal L` between logged points; NaN if it never does.

    With ``frac = 0.5`` this is the plateau length :math:`t_{1/2}` of the ultra-rich
    regime, :math:`\propto \gamma/\eta` steps (times :math:`\ln\gamma` for L = 2; Atanasov et
    al. 2025; docs: Gamma scaling, "Plateaus and trajectory collapse").
    Leading axes of ``loss`` are batch axes.
    """
    frac = _frac("frac", frac)
    t, loss = _as_curves(t, loss)
    flat = loss.reshape(-1, t.shape[0])
    out = np.full(flat.shape[0], np.nan)
    for i, c in enumerate(flat):
        target = (1 - frac) * c[0]
        below = np.nonzero(c <= target)[0]
        if below.size == 0 or not np.isfinite(c[0]):
            continue
        k = below[0]
        if k == 0:
            out[i] = t[0]
            continue
        if target <= 0:  # L(0) = 0: nothing to drop from
            continue
        with np.errstate(divide="ignore"):  # a loss of exactly 0 at step k: log -> -inf, w = 0
            y0, y1 = np.log(c[k - 1]), np.log(c[k])
            w = (y0 - np.log(target)) / (y0 - y1) if y0 != y1 else 1.0
        out[i] = t[k - 1] + w * (t[k] - t[k - 1])
    return out.reshape(loss.shape[:-1]) if loss.ndim > 1 else float(out[0])


def staircase_steps(t, loss, *, min_drop: float = 0.05):
    r"""Times and sizes of the steps of a staircase loss curve (saddle-to-saddle dynamics).

    Candidate steps are the local maxima of the descent rate :math:`-d\mathcal L/d\log t`; each
    one's size is the loss drop between the rate's minima on either side of it. Steps smaller than
    ``min_drop`` × the total drop are discarded. For well-separated modes the α-th step sits at
    the mode's learning time :math:`t_\alpha` and drops by :math:`\tfrac12 s_\alpha^2`
    (Saxe et al. 2014; docs: Gamma scaling, "Deep linear networks").

    Returns:
        ``(times, drops)``, in time order.
    """
    from scipy.signal import argrelextrema

    min_drop = _frac("min_drop", min_drop, closed=True)
    t, loss = _as_curves(t, loss)
    if loss.ndim != 1:
        raise ValueError(f"staircase_steps takes one curve (loss of shape (n_t,)), got "
                         f"{loss.shape}")
    if not np.all(np.isfinite(loss)):
        raise ValueError("loss must be finite for staircase_steps (a diverged curve has no steps)")
    if t[0] <= 0:
        t, loss = t[1:], loss[1:]
    if t.size < 3:
        raise ValueError(f"staircase_steps needs at least 3 times > 0, got {t.size}")
    rate = -np.gradient(loss, np.log(t))
    total = loss[0] - np.min(loss)
    peaks = argrelextrema(rate, np.greater_equal, order=1)[0]
    peaks = peaks[(peaks > 0) & (peaks < len(t) - 1) & (rate[peaks] > 0)]
    if total <= 0 or peaks.size == 0:
        return np.array([]), np.array([])
    # boundaries: the rate's minimum between consecutive peaks, and the curve's ends
    inner = [p + int(np.argmin(rate[p:q + 1])) for p, q in zip(peaks[:-1], peaks[1:], strict=True)]
    bounds = [0] + inner + [len(t) - 1]
    drops = np.array([loss[bounds[k]] - loss[bounds[k + 1]] for k in range(len(peaks))])
    keep = drops >= min_drop * total
    return t[peaks[keep]], drops[keep]


def align_by_drop(t, losses, frac: float = 0.5):
    """Shift each curve's time axis so its :func:`drop_time` is 0 (trajectory
    collapse: large-γ runs follow similar trajectories up to a reparametrisation of time,
    Atanasov et al. 2025).

    Returns ``(shifts, shifted_times)`` with ``shifted_times[i] = t - shifts[i]``.
    """
    t, losses = _as_curves(t, losses)
    shifts = np.atleast_1d(drop_time(t, losses, frac))
    return shifts, t[None, :] - shifts[:, None]


def collapse_error(t, losses, frac: float = 0.5, n_grid: int = 200):
    r"""How well curves collapse after :func:`align_by_drop` (trajectory collapse;
    docs: Gamma scaling, "Plateaus and trajectory collapse").

    Each curve is shifted so its :math:`t_{\rm frac}` is 0, interpolated (in :math:`\log\mathcal L`)
    onto ``n_grid`` points of the time window common to all shifted curves, and compared with
    the first curve. Returns ``(mean, max)`` of :math:`|\Delta\ln\mathcal L|` over the other curves
    and the window.
    """
    if isinstance(n_grid, bool) or not isinstance(n_grid, int | np.integer) or n_grid < 2:
        raise ValueError(f"n_grid must be an integer >= 2, got {n_grid!r}")
    t, losses = _as_curves(t, losses)
    if losses.ndim != 2 or losses.shape[0] < 2:
        raise ValueError(f"losses must be (n_curves >= 2, n_t), got {losses.shape}")
    if not np.all(np.isfinite(losses) & (losses > 0)):
        raise ValueError("losses must be finite and > 0 to compare them in log scale")
    shifts, _ = align_by_drop(t, losses, frac)
    if not np.all(np.isfinite(shifts)):
        raise ValueError(f"a curve never drops by {frac}: cannot align (shifts {shifts})")
    lo = np.max(t[0] - shifts)
    hi = np.min(t[-1] - shifts)
    if not hi > lo:
        raise ValueError("the aligned curves have no common time window")
    grid = np.linspace(lo, hi, n_grid)
    logs = np.stack([np.interp(grid + s, t, np.log(c))
                     for s, c in zip(shifts, losses, strict=True)])
    d = np.abs(logs[1:] - logs[0])
    return float(np.mean(d)), float(np.max(d))
