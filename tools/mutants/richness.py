"""Planted bugs in the richness area: the infinite-width NTK recursion and its arc-cosine closed
form (lazyrich.theory), the D_LR estimators and the neural-collapse scatter (lazyrich.metrics)."""

from tools.mutants import Mutant

_NTK = ("richness/ntk-closed-form-vs-quadrature", "richness/ntk-width-rate")
_IW = "lazyrich/theory/_infinite_width.py"

MUTANTS = [
    Mutant("richness/ntk-sigma-w2-dropped", _IW,
           "theta = k12 + theta * (sw2 * e_dd)", "theta = k12 + theta * e_dd", _NTK,
           "σ_w² dropped from the derivative kernel of the NTK recursion (shared by the closed "
           "form and the quadrature): invisible at σ_w = 1"),
    Mutant("richness/nngp-sigma-b2-dropped", _IW,
           "k12 = sw2 * e_pp + sb2", "k12 = sw2 * e_pp", _NTK,
           "σ_b² dropped from the hidden layers' covariance (shared by both evaluation methods)"),
    Mutant("richness/arccos-j1-pi", _IW,
           "(jnp.pi - th) * rho) / (2 * jnp.pi)", "(jnp.pi - th) * rho) / jnp.pi",
           _NTK, "the order-1 arc-cosine kernel's 1/(2π) written 1/π (off-diagonal ReLU NNGP)"),
    Mutant("richness/arccos-j0-pi", _IW,
           "j0 = (jnp.pi - th) / (2 * jnp.pi)", "j0 = (jnp.pi - th) / jnp.pi", _NTK,
           "the order-0 arc-cosine kernel's 1/(2π) written 1/π (ReLU derivative kernel)"),
    Mutant("richness/dlr-outputs-uncentred", "lazyrich/metrics/_dlr.py",
           "df = f - mf[None, :]", "df = f",
           ("richness/isotropic-random-features", "richness/nc-bridge",
            "richness/collapse-zero-and-rank-jump"),
           "the outputs' mean not removed: Ω = F^T F instead of the centred Gram (D_LR must be "
           "invariant to constant output offsets)"),
    Mutant("richness/dlr-projection-r-not-sqrt-r", "lazyrich/metrics/_dlr.py",
           "d = 1.0 - jnp.sum(qmq * inv) / (jnp.sqrt(r.astype(lam.dtype)) * norm_pp)",
           "d = 1.0 - jnp.sum(qmq * inv) / (r.astype(lam.dtype) * norm_pp)",
           ("richness/isotropic-random-features", "richness/collapse-zero-and-rank-jump"),
           "E2 normalised by r instead of √r = ‖P_r‖_F"),
    Mutant("richness/dlr-cka-trace-norm", "lazyrich/metrics/_dlr.py",
           "d = 1.0 - jnp.sum(c_fp * c_fp) / (norm_pp * jnp.sqrt(jnp.sum(c_ff * c_ff)))",
           "d = 1.0 - jnp.sum(c_fp * c_fp) / (norm_pp * jnp.trace(c_ff))",
           ("richness/isotropic-random-features",),
           "E1 (CKA) normalised by tr Ω instead of ‖Ω‖_F"),
    Mutant("richness/nc1-total-covariance", "lazyrich/metrics/_collapse.py",
           'quad = np.einsum("pi,pq,qi->i", V, s.sigma_w, V)',
           'quad = np.einsum("pi,pq,qi->i", V, s.sigma_t, V)',
           ("richness/nc-bridge",),
           "NC1 = tr(Σ_T Σ_B^†)/C: the total instead of the within-class covariance"),
    Mutant("richness/nc-between-unweighted", "lazyrich/metrics/_collapse.py",
           "sigma_b = (dm * pi[:, None]).T @ dm", "sigma_b = dm.T @ dm / len(counts)",
           ("richness/nc-bridge",),
           "Σ_B averaged over classes without the class frequencies π_c (wrong when unbalanced)"),
]
