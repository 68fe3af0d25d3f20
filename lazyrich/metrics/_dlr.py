r"""The low-rank richness measure :math:`\mathcal D_{LR}` (Nam et al. 2026; docs: Richness).

Split the network into features :math:`\Phi(x)\in\mathbb R^p` (the input of the last linear layer)
and outputs :math:`\hat f(x) = W\Phi(x) + b\in\mathbb R^C`. With the feature operator
:math:`T` (kernel :math:`\Phi(x)\cdot\Phi(x')`) and the minimum-projection operator
:math:`T_{MP} = a_1|1\rangle\langle 1| + a_2 P_{\hat H}`,
:math:`\hat H = \mathrm{span}\{\hat f_c\}`,

.. math:: \mathcal D_{LR} = 1 - \mathrm{CKA}(T, T_{MP}) \in [0, 1],

0 for maximally rich (features reduced to the span of the outputs, isotropically) and close to
:math:`1-\sqrt{r/p}` for isotropic random features with outputs of rank :math:`r`, not 1.

Everything is computed from the centred second moments

.. math:: \bar\Sigma = \bar\Phi^\top\bar\Phi,\quad G = \bar F^\top\bar\Phi,\quad
          \Omega = \bar F^\top\bar F,

accumulated in float64 over batches with Chan's pairwise update (no catastrophic cancellation
for features with a large mean), so no :math:`n\times n` matrix is ever formed.

Estimators, selected by ``variant``:

* ``"cka"`` (E1, default): :math:`1 - \|G\|_F^2/(\|\bar\Sigma\|_F\|\Omega\|_F)`, linear CKA between
  features and outputs; equals the operator definition when the output Gram is isotropic on
  its range (check with the isotropy diagnostic :math:`\iota`).
* ``"projection"`` (E2): whiten the centred outputs on their top ``r`` directions,
  :math:`1 - \|\Lambda_r^{-1/2}Q_r^\top G\|_F^2/(\sqrt r\,\|\bar\Sigma\|_F)`; invariant to any
  invertible map of the outputs but discontinuous in ``r``.
* ``"literal"`` (E3): projection on the *uncentred* output span, then double centring; not
  invariant to constant output offsets (zero-sum logits on collapsed features give E3 > 0,
  an offset brings it to 0). For completeness only.
"""

import dataclasses
import functools
import warnings
from collections.abc import Callable, Iterable
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich._checks import require_finite, require_ndim, require_real

Variant = Literal["cka", "projection", "literal"]
VARIANTS = ("cka", "projection", "literal")

#: Relative eigenvalue threshold below which an output direction counts as exactly zero.
_NULL_TOL = 1e-10


class IsotropyWarning(UserWarning):
    """The centred output Gram is far from isotropic: E1 (``"cka"``) and E2 may disagree."""


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["n", "mean_phi", "mean_f", "c_pp", "c_fp", "c_ff"], meta_fields=[])
@dataclasses.dataclass(frozen=True)
class DLRStats:
    r"""Sufficient statistics of :math:`\mathcal D_{LR}` over ``n`` samples.

    Attributes:
        n: number of samples (a float so that weighted/padded batches work).
        mean_phi: :math:`\mu_\Phi`, shape ``(p,)``. mean_f: :math:`\mu_F`, shape ``(C,)``.
        c_pp: :math:`\bar\Phi^\top\bar\Phi`, ``(p, p)``. c_fp: :math:`\bar F^\top\bar\Phi`,
        ``(C, p)``. c_ff: :math:`\bar F^\top\bar F`, ``(C, C)`` (co-moment sums, not divided by n).

    Memory is :math:`O(p^2 + pC + C^2)` whatever ``n``. Combine two with :meth:`merge` (Chan
    et al.'s pairwise update, exact in exact arithmetic and stable in floating point).
    """

    n: jax.Array
    mean_phi: jax.Array
    mean_f: jax.Array
    c_pp: jax.Array
    c_fp: jax.Array
    c_ff: jax.Array

    @property
    def num_features(self) -> int:
        return int(np.shape(self.mean_phi)[-1])

    @property
    def num_outputs(self) -> int:
        return int(np.shape(self.mean_f)[-1])

    @staticmethod
    def from_batch(features, outputs, weights=None) -> "DLRStats":
        """Statistics of one batch; ``weights`` (0/1 per sample) mask padding. Traceable."""
        phi = jnp.asarray(features)
        f = jnp.asarray(outputs)
        dt = jnp.float64 if jnp.float64 in (phi.dtype, f.dtype) else jnp.float32
        phi = phi.astype(dt)
        f = f.astype(dt)
        w = jnp.ones(phi.shape[0], dt) if weights is None else jnp.asarray(weights, dt)
        n = jnp.sum(w)
        safe = jnp.maximum(n, jnp.ones((), dt))
        mp = (w @ phi) / safe
        mf = (w @ f) / safe
        dp = (phi - mp[None, :]) * w[:, None]
        df = f - mf[None, :]
        return DLRStats(n, mp, mf, dp.T @ (phi - mp[None, :]), df.T @ dp, (df * w[:, None]).T @ df)

    def merge(self, other: "DLRStats") -> "DLRStats":
        """Statistics of the union of two disjoint sample sets (pairwise update). Traceable."""
        n = self.n + other.n
        safe = jnp.maximum(n, jnp.ones((), n.dtype))
        dp = other.mean_phi - self.mean_phi
        df = other.mean_f - self.mean_f
        c = self.n * other.n / safe
        return DLRStats(
            n,
            self.mean_phi + dp * (other.n / safe),
            self.mean_f + df * (other.n / safe),
            self.c_pp + other.c_pp + c * (dp[:, None] * dp[None, :]),
            self.c_fp + other.c_fp + c * (df[:, None] * dp[None, :]),
            self.c_ff + other.c_ff + c * (df[:, None] * df[None, :]),
        )

    @staticmethod
    def zeros(num_features: int, num_outputs: int, dtype=jnp.float64) -> "DLRStats":
        p, C = int(num_features), int(num_outputs)
        return DLRStats(jnp.zeros((), dtype), jnp.zeros(p, dtype), jnp.zeros(C, dtype),
                        jnp.zeros((p, p), dtype), jnp.zeros((C, p), dtype),
                        jnp.zeros((C, C), dtype))


def accumulate_stats(batches: Iterable[tuple]) -> DLRStats:
    """Stream ``(features, outputs)`` batches into float64 :class:`DLRStats`.

    Each batch is cast to float64 before its moments are taken, whatever its own dtype, so a
    float32 network measured on :math:`10^5` samples loses nothing in the sums.
    """
    total = None
    with jax.enable_x64(True):
        for i, (phi, f) in enumerate(batches):
            _check_pair(phi, f, f"batch {i}: ")
            s = _batch_stats64(jnp.asarray(phi, jnp.float64), jnp.asarray(f, jnp.float64))
            shape = (s.num_features, s.num_outputs)
            if total is not None and shape != (total.num_features, total.num_outputs):
                raise ValueError(f"batch {i} has (p, C) = {shape}, earlier batches had "
                                 f"{(total.num_features, total.num_outputs)}")
            total = s if total is None else _merge64(total, s)
    if total is None:
        raise ValueError("accumulate_stats needs at least one (features, outputs) batch")
    return total


_batch_stats64 = jax.jit(DLRStats.from_batch)
_merge64 = jax.jit(DLRStats.merge)


def stats_from_apply(apply: Callable, params, inputs, *, batch_size: int = 1024) -> DLRStats:
    r"""Stream a model over ``inputs`` in batches and accumulate :class:`DLRStats`.

    Args:
        apply: ``apply(params, x) -> (features, outputs)`` with shapes ``(B, p)`` and ``(B, C)``.
        params: the parameters of one checkpoint (features and outputs from the same weights).
        inputs: array with samples on the leading axis.
        batch_size: samples per forward pass; the last batch is zero-padded and masked.

    Memory is one batch of activations plus :math:`O(p^2)`; the loop is one ``lax.scan`` inside
    ``jit``. Moments are accumulated in float64 when x64 is enabled (the forward pass keeps the
    model's own dtype); otherwise use :func:`accumulate_stats`, which forces float64.
    """
    x = jnp.asarray(inputs)
    n = int(np.shape(x)[0])
    if n < 2:
        raise ValueError(f"inputs must hold at least 2 samples, got {n}")
    if not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    b = int(min(batch_size, n))
    nb = -(-n // b)
    pad = nb * b - n
    xp = jnp.concatenate([x, jnp.zeros((pad, *x.shape[1:]), x.dtype)]) if pad else x
    w = jnp.concatenate([jnp.ones(n), jnp.zeros(pad)]) if pad else jnp.ones(n)
    phi0, f0 = jax.eval_shape(apply, params, xp[:b])
    if len(phi0.shape) != 2 or len(f0.shape) != 2:
        raise ValueError(f"apply must return (features (B, p), outputs (B, C)), got shapes "
                         f"{phi0.shape} and {f0.shape}")
    acc = jnp.result_type(float)  # float64 under x64, float32 otherwise
    return _scan_stats(apply, params, xp.reshape(nb, b, *x.shape[1:]), w.reshape(nb, b).astype(acc),
                       int(phi0.shape[1]), int(f0.shape[1]))


@functools.partial(jax.jit, static_argnames=("apply", "p", "C"))
def _scan_stats(apply, params, xb, wb, p, C):
    def body(tot, xw):
        phi, f = apply(params, xw[0])
        s = DLRStats.from_batch(phi.astype(wb.dtype), f.astype(wb.dtype), xw[1])
        return tot.merge(s), None

    tot, _ = jax.lax.scan(body, DLRStats.zeros(p, C, wb.dtype), (xb, wb))
    return tot


# ----------------------------------------------------------------------------------------------
# From statistics to D (traceable core)
# ----------------------------------------------------------------------------------------------


def _kept_mask(lam, rank, rank_tol):
    """Mask of kept output directions (eigh order: ascending) and their count r: the numerical
    rank, minus one when the smallest kept singular value is below ``rank_tol`` of the largest."""
    C = lam.shape[0]
    lam_max = lam[-1]
    idx = jnp.arange(C)
    r_num = jnp.sum(lam > _NULL_TOL * lam_max)
    if rank is None:
        smallest = lam[jnp.clip(C - r_num, 0, C - 1)]
        drop = (r_num > 1) & (smallest < rank_tol**2 * lam_max)
        r = r_num - drop.astype(r_num.dtype)
    else:
        r = jnp.asarray(rank, r_num.dtype)
    return idx >= C - r, r


def _isotropy(lam, mask, r):
    kept = jnp.where(mask, lam, 0.0)
    return jnp.sum(kept) / (jnp.sqrt(r.astype(lam.dtype)) * jnp.sqrt(jnp.sum(lam * lam)))


def dlr_from_stats(stats: DLRStats, variant: Variant = "cka", *, rank: int | None = None,
                   rank_tol: float = 0.05):
    r""":math:`\mathcal D_{LR}` from :class:`DLRStats`; traceable (``jit``/``vmap``).

    Returns ``(D, r, iota)``: the value, the output rank :math:`r` used by the projection
    (for ``"cka"`` the rank of the isotropy diagnostic) and the output-isotropy diagnostic
    :math:`\iota = \sum_{i\le r}\lambda_i/(\sqrt r\,\|\lambda\|_2)` of the centred output Gram
    (:math:`\iota = 1` iff it is isotropic on its top-:math:`r` range; then E1 = E2).
    No checks and no clipping: use :func:`dlr` or :func:`dlr_report` for those.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    c_pp, c_fp, c_ff = stats.c_pp, stats.c_fp, stats.c_ff
    norm_pp = jnp.sqrt(jnp.sum(c_pp * c_pp))
    lam, Q = jnp.linalg.eigh(c_ff)
    mask, r = _kept_mask(lam, rank, rank_tol)
    iota = _isotropy(lam, mask, r)
    M = c_fp @ c_fp.T  # (C, C): ‖A^T G‖² = Σ_i (Q^T M Q)_ii / λ_i without a p-sized product
    if variant == "cka":
        d = 1.0 - jnp.sum(c_fp * c_fp) / (norm_pp * jnp.sqrt(jnp.sum(c_ff * c_ff)))
    elif variant == "projection":
        qmq = jnp.sum(Q * (M @ Q), axis=0)
        inv = jnp.where(mask, 1.0 / jnp.where(mask, lam, 1.0), 0.0)
        d = 1.0 - jnp.sum(qmq * inv) / (jnp.sqrt(r.astype(lam.dtype)) * norm_pp)
    else:  # literal (E3): uncentred output span, then double centring
        m_ff = c_ff + stats.n * (stats.mean_f[:, None] * stats.mean_f[None, :])
        lam0, Q0 = jnp.linalg.eigh(m_ff)
        keep0 = lam0 > _NULL_TOL * lam0[-1]
        A0 = Q0 * jnp.where(keep0, 1.0 / jnp.sqrt(jnp.where(keep0, lam0, 1.0)), 0.0)[None, :]
        num = jnp.sum(A0 * (M @ A0))
        hu = A0.T @ c_ff @ A0  # (H U_0)^T (H U_0)
        d = 1.0 - num / (norm_pp * jnp.sqrt(jnp.sum(hu * hu)))
    return d, r, iota


# ----------------------------------------------------------------------------------------------
# Eager, checked front ends
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DLRReport:
    """One :math:`\\mathcal D_{LR}` measurement with what is needed to read it.

    Attributes:
        value: :math:`\\mathcal D_{LR}\\in[0,1]`. variant: the estimator. rank: output rank r used.
        isotropy: :math:`\\iota`; below 0.95 the isotropic-target assumption is violated.
        n, p, C: samples, features, outputs. split: which inputs were used (``"train"``,
        ``"test"``, or ``None`` when not stated).
    """

    value: float
    variant: str
    rank: int
    isotropy: float
    n: int
    p: int
    C: int
    split: str | None = None

    @property
    def isotropic(self) -> bool:
        return self.isotropy >= 0.95


def _check_pair(features, outputs, where=""):
    require_ndim(f"{where}features", features, 2,
                 "shape (n, p): the input of the last linear layer")
    require_ndim(f"{where}outputs", outputs, 2,
                 "shape (n, C); use outputs[:, None] for a scalar output")
    n, n_f = np.shape(features)[0], np.shape(outputs)[0]
    if n != n_f:
        raise ValueError(f"{where}features and outputs must have the same number of samples, "
                         f"got {n} (features {np.shape(features)}) and {n_f} "
                         f"(outputs {np.shape(outputs)})")
    require_real(f"{where}features", features)
    require_real(f"{where}outputs", outputs)
    require_finite(f"{where}features", features)
    require_finite(f"{where}outputs", outputs)


def _check_stats(stats: DLRStats, variant, rank):
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    n = float(stats.n)
    C = stats.num_outputs
    if n < 2:
        raise ValueError(f"D_LR needs at least 2 samples, got n = {n:g}")
    if n < C:
        raise ValueError(f"fewer samples (n = {n:g}) than outputs/classes (C = {C}): the centred "
                         f"outputs cannot span their {C} directions; measure on more samples")
    scale_p = np.sqrt(np.sum(np.asarray(stats.c_pp) ** 2))
    ref_p = n * max(float(np.max(np.abs(np.asarray(stats.mean_phi)), initial=0.0)) ** 2, 1e-300)
    if scale_p == 0.0 or scale_p <= 1e-28 * ref_p:
        raise ValueError("features are constant over the samples (zero centred covariance): "
                         "D_LR is undefined; check that the feature map is not dead "
                         "(e.g. all-zero ReLUs)")
    lam = np.linalg.eigvalsh(np.asarray(stats.c_ff))
    if lam[-1] <= 0.0:
        raise ValueError("outputs are constant over the samples (zero centred covariance): "
                         "D_LR is undefined")
    if rank is not None:
        if variant != "projection":
            raise ValueError(f"rank is only used by variant='projection', not {variant!r}")
        if not isinstance(rank, int | np.integer) or isinstance(rank, bool):
            raise TypeError(f"rank must be an int, got {type(rank).__name__}")
        r_num = int(np.sum(lam > _NULL_TOL * lam[-1]))
        if not 1 <= rank <= r_num:
            raise ValueError(f"rank must be in [1, {r_num}] (the numerical rank of the centred "
                             f"outputs; C = {C}), got {rank}")


def dlr_report(features=None, outputs=None, variant: Variant = "cka", *,
               stats: DLRStats | None = None, rank: int | None = None, rank_tol: float = 0.05,
               split: str | None = None, batch_size: int | None = None) -> DLRReport:
    """:func:`dlr` with its diagnostics: rank used, isotropy :math:`\\iota`, sizes, split.

    Give either ``features`` and ``outputs`` (arrays, streamed in ``batch_size`` chunks if
    given) or precomputed ``stats``. Never warns; inspect ``report.isotropic``.
    """
    if stats is None:
        if features is None or outputs is None:
            raise ValueError("give features and outputs, or stats")
        _check_pair(features, outputs)
        n = np.shape(features)[0]
        b = n if batch_size is None else int(batch_size)
        if b < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        stats = accumulate_stats((features[i:i + b], outputs[i:i + b]) for i in range(0, n, b))
    elif features is not None or outputs is not None:
        raise ValueError("give either features and outputs, or stats, not both")
    _check_stats(stats, variant, rank)
    if not 0.0 < rank_tol < 1.0:
        raise ValueError(f"rank_tol must be in (0, 1), got {rank_tol!r}")
    with jax.enable_x64(True):
        s64 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), stats)
        d, r, iota = _dlr_jit(s64, variant, rank is None, jnp.asarray(0 if rank is None else rank),
                              jnp.asarray(rank_tol, jnp.float64))
        d, r, iota = float(d), int(r), float(iota)
    # Cauchy–Schwarz bounds D to [0, 1]; outside by more than round-off means a bug.
    if not -1e-6 <= d <= 1.0 + 1e-6:
        raise FloatingPointError(f"D_LR = {d!r} is outside [0, 1] beyond round-off "
                                 f"(variant {variant})")
    return DLRReport(min(max(d, 0.0), 1.0), variant, r, iota, int(round(float(stats.n))),
                     stats.num_features, stats.num_outputs, split)


@functools.partial(jax.jit, static_argnames=("variant", "auto"))
def _dlr_jit(stats, variant, auto, rank, rank_tol):
    # rank and rank_tol traced: one compilation per (shapes, variant, auto)
    return dlr_from_stats(stats, variant, rank=None if auto else rank, rank_tol=rank_tol)


def dlr(features, outputs, variant: Variant = "cka", *, rank: int | None = None,
        rank_tol: float = 0.05, batch_size: int | None = None, warn: bool = True) -> float:
    r"""Low-rank richness :math:`\mathcal D_{LR} = 1-\mathrm{CKA}(T, T_{MP})\in[0,1]`.

    0 is maximally rich (the centred features span exactly the outputs, isotropically);
    isotropic random features give :math:`1-\sqrt{r/p}`.

    Args:
        features: :math:`\Phi`, shape ``(n, p)``: the input of the last linear layer.
        outputs: :math:`\hat F`, shape ``(n, C)``: the network outputs (logits or regression
            outputs) from the same weights.
        variant: ``"cka"`` (E1, default), ``"projection"`` (E2) or ``"literal"`` (E3); see the
            module docstring (docs: Richness).
        rank: for ``"projection"`` only, the number of output directions :math:`r\in[1, C]` to
            whiten. Default: the numerical rank, minus one when the smallest kept singular value
            is below ``rank_tol`` times the largest (the near-constraint :math:`\sum_c\hat f_c
            \approx` const of MSE one-hot fits or CE logits: whitening that direction adds
            noise, and on collapsed features raises D by exactly :math:`1-\sqrt{(C-1)/C}`).
        batch_size: stream the samples in chunks of this size (memory :math:`O(p^2)`).
        warn: emit :class:`IsotropyWarning` for ``"cka"`` when :math:`\iota < 0.95`.

    Which inputs to pass is the caller's explicit choice: the training inputs by convention;
    during grokking the test-input value behaves differently.

    Raises:
        ValueError: mismatched sample counts, fewer samples than outputs, constant features or
            outputs, non-finite values, an unknown variant, or ``rank`` out of range.
    """
    rep = dlr_report(features, outputs, variant, rank=rank, rank_tol=rank_tol,
                     batch_size=batch_size)
    if warn and variant == "cka" and not rep.isotropic:
        warnings.warn(f"output Gram is anisotropic (iota = {rep.isotropy:.3f} < 0.95): the 'cka' "
                      f"estimator differs from the projection definition; compare "
                      f"variant='projection'", IsotropyWarning, stacklevel=2)
    return rep.value


def output_isotropy(outputs, *, rank: int | None = None, rank_tol: float = 0.05) -> float:
    r"""Output-isotropy diagnostic :math:`\iota = \mathrm{CKA}(\hat F, U)\in(0,1]`.

    :math:`U` is an orthonormal basis of the top-:math:`r` centred output directions (rank rule
    of :func:`dlr`). :math:`\iota = 1` iff :math:`\bar F^\top\bar F` is isotropic on that range,
    which is when ``"cka"`` and ``"projection"`` coincide.
    """
    require_ndim("outputs", outputs, 2, "shape (n, C)")
    f = np.asarray(outputs, np.float64)
    phi = f  # any non-constant features will do: iota depends on the outputs only
    return dlr_report(phi, f, "projection", rank=rank, rank_tol=rank_tol).isotropy


def dlr_stability(features, outputs, variant: Variant = "cka", *, fractions=(0.25, 0.5, 1.0),
                  seed: int = 0, **kw) -> dict:
    """D on nested random subsamples: require |ΔD| < 0.01 between n/2 and n before reporting.

    Returns ``{"n": [...], "dlr": [...], "delta_half": |D(n/2) - D(n)|, "stable": bool}``.
    """
    _check_pair(features, outputs)
    n = np.shape(features)[0]
    perm = np.random.default_rng(seed).permutation(n)
    fr = sorted(float(x) for x in fractions)
    if not fr or fr[0] <= 0 or fr[-1] > 1:
        raise ValueError(f"fractions must lie in (0, 1], got {fractions!r}")
    ns = [max(int(round(q * n)), 2) for q in fr]
    phi = np.asarray(features)
    f = np.asarray(outputs)
    vals = [dlr_report(phi[perm[:m]], f[perm[:m]], variant, **kw).value for m in ns]
    out = {"n": ns, "dlr": vals}
    if 0.5 in fr and 1.0 in fr:
        out["delta_half"] = abs(vals[fr.index(0.5)] - vals[fr.index(1.0)])
        out["stable"] = out["delta_half"] < 0.01
    return out


def dlr_splits(apply: Callable, params, splits: dict, variant: Variant = "cka", *,
               batch_size: int = 1024, **kw) -> dict[str, DLRReport]:
    """Measure D_LR of one checkpoint on several named input sets, e.g. ``{"train": x, "test": x}``.

    The split is explicit: each report carries its name.
    """
    if not isinstance(splits, dict) or not splits:
        raise ValueError("splits must be a non-empty dict {name: inputs}")
    return {name: dlr_report(stats=stats_from_apply(apply, params, x, batch_size=batch_size),
                             variant=variant, split=name, **kw)
            for name, x in splits.items()}
