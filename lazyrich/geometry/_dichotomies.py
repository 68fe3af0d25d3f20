r"""Dichotomy ensembles shared by the simulated and mean-field capacity
(docs: Manifold capacity, "Setting").

* ``"balanced"``: exactly :math:`\lfloor P/2\rfloor` manifolds labelled +1, chosen uniformly
  (the recommended default for generic capacity);
* ``"iid"``: independent fair :math:`\pm1` labels;
* ``"one_vs_rest"``: one manifold chosen uniformly against all others, with a random overall
  sign (the GLUE-precursor default);
* ``"fixed"``: the task labels ``labels`` (the "retained" ensemble: the capacity of the task's
  own dichotomy), every sample.

The ensemble matters only for data that are not symmetric about the origin (uncentered, e.g.
ReLU features); for centered symmetric data all ensembles give nearly the same capacity.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

ENSEMBLES = ("balanced", "iid", "one_vs_rest", "fixed")


def check_ensemble(ensemble: str, labels, P: int) -> np.ndarray | None:
    """Validate ``ensemble``/``labels``; return the fixed labels as float64 ``(P,)`` or None."""
    if ensemble not in ENSEMBLES:
        raise ValueError(f"ensemble must be one of {ENSEMBLES}, got {ensemble!r}")
    if ensemble != "fixed":
        if labels is not None:
            raise ValueError("labels are only used with ensemble='fixed'")
        return None
    if labels is None:
        raise ValueError("ensemble='fixed' needs labels: a (P,) array of +1/-1")
    y = np.asarray(labels, dtype=np.float64)
    if y.shape != (P,) or not np.all(np.abs(y) == 1.0):
        raise ValueError(f"labels must be a ({P},) array of +1/-1 (one per manifold), got "
                         f"{np.asarray(labels)!r}")
    return y


def draw_dichotomies(key, P: int, n: int, ensemble: str = "balanced", labels=None) -> np.ndarray:
    """``n`` dichotomies of ``P`` manifolds from ``ensemble``: float64 array ``(n, P)`` of ±1."""
    fixed = check_ensemble(ensemble, labels, P)
    if ensemble == "fixed":
        return np.broadcast_to(fixed, (n, P)).copy()
    return np.asarray(_draw(key, int(P), int(n), ensemble), dtype=np.float64)


@functools.partial(jax.jit, static_argnames=("P", "n", "ensemble"))
def _draw(key, P, n, ensemble):
    ks = jax.random.split(key, n)
    if ensemble == "balanced":
        base = jnp.where(jnp.arange(P) < P // 2, 1.0, -1.0).astype(jnp.float64)
        y = jax.vmap(lambda k: jax.random.permutation(k, base))(ks)
    elif ensemble == "iid":
        y = jnp.where(jax.random.bernoulli(key, 0.5, (n, P)), 1.0, -1.0)
    else:  # one_vs_rest
        kc, ks_ = jax.random.split(key)
        c = jax.random.randint(kc, (n,), 0, P)
        sign = jnp.where(jax.random.bernoulli(ks_, 0.5, (n,)), 1.0, -1.0)
        y = jnp.where(jnp.arange(P)[None, :] == c[:, None], 1.0, -1.0) * sign[:, None]
    return y.astype(jnp.float64)
