"""Planted bugs in the manifold-capacity estimators, their effective geometry, the synthetic
manifolds with known geometry and the classical formulas (docs: Manifold capacity)."""

from tools.mutants import Mutant

_MF = "lazyrich/geometry/_capacity_mf.py"
_MAN = "lazyrich/geometry/_manifolds.py"
_TH = "lazyrich/theory/_capacity.py"
_SIM = "lazyrich/geometry/_capacity_sim.py"
_C3 = ("capacity/C3-C9-identities",)

MUTANTS = [
    Mutant("capacity/center-policy-swapped", _MF,
           'if policy == "all":', 'if policy == "active":', _C3,
           "the two center policies swapped: 'all' averages anchors over active samples only and "
           "drops inactive rows from b, c (capacity unchanged, R_eff and D_eff wrong)"),
    Mutant("capacity/centers-never-subtracted", _MF,
           "S1 = (S - S0[None]) * rowsf[:, :, None]\n"
           "    SS = S @ np.swapaxes(S, 1, 2)\n"
           "    St = np.einsum(\"kpm,kpm->kp\", W, u)\n"
           "    a_anchor = _pinv_form(SS, St, rcond)\n"
           "    G0 = S0 @ S0.T\n"
           "    Dw = W - C[None]",
           "S1 = S * rowsf[:, :, None]\n"
           "    SS = S @ np.swapaxes(S, 1, 2)\n"
           "    St = np.einsum(\"kpm,kpm->kp\", W, u)\n"
           "    a_anchor = _pinv_form(SS, St, rcond)\n"
           "    G0 = S0 @ S0.T\n"
           "    Dw = W", _C3,
           "axes taken as the anchors themselves, not anchor minus center (the C9 identity still "
           "holds for any b, c)"),
    Mutant("capacity/dimension-drops-1-over-P", _MF,
           "dimension = Eb / P", "dimension = Eb", _C3,
           "D_eff = E[b] instead of E[b]/P"),
    Mutant("capacity/anchors-signed", _MF,
           "W = np.where(act[:, :, None], L / np.where(act, m, 1.0)[:, :, None], 0.0)",
           "W = np.where(act[:, :, None], Y[:, :, None] * L / np.where(act, m, 1.0)[:, :, None], "
           "0.0)", _C3,
           "anchors built from the signed points y x instead of the points x: a is unchanged "
           "(the sign cancels in (St)^T (SS^T)^+ St) but the centers average to ~0"),
    Mutant("capacity/field-sign-flip", _MF,
           "u = Z @ B.T  # (n_t, PM)", "u = -Z @ B.T  # (n_t, PM)",
           ("capacity/C1-points-mean-field",) + _C3,
           "field projections u = <x, t> taken with the wrong sign against the solved anchors"),
    Mutant("capacity/radius-not-square-rooted", _MF,
           "radius = float(np.sqrt(Ec / gap))", "radius = float(Ec / gap)", _C3,
           "wrong normalisation of R_eff: R^2 reported as R"),
    Mutant("capacity/cloud-radius-drops-1-over-sqrt-D", _MAN,
           "(R / np.sqrt(D)) * jnp.einsum(\"pmd,pdn->pmn\", z, F[:, 1:, :])",
           "R * jnp.einsum(\"pmd,pdn->pmn\", z, F[:, 1:, :])", _C3,
           "Gaussian clouds of RMS radius R sqrt(D) instead of R (the 1/sqrt(D) dropped)"),
    Mutant("capacity/sphere-radius-unnormalised", _MAN,
           "s = s / jnp.linalg.norm(s, axis=-1, keepdims=True)",
           "s = s / jnp.sqrt(D)", ("capacity/C5-spheres-to-ball",),
           "sphere points drawn as Gaussians of RMS radius R, not on the sphere of radius R"),
    Mutant("capacity/ball-formula-drops-1-plus-R2", _TH,
           "/ (1.0 + R * R)", "/ (1.0 + R)", ("capacity/C4-ball-formula",),
           "touching term of the ball formula divided by 1 + R instead of 1 + R^2"),
    Mutant("capacity/cover-off-by-one", _TH,
           "stats.binom.cdf(m - 1, int(P) - 1, 0.5)", "stats.binom.cdf(m, int(P) - 1, 0.5)",
           ("capacity/C2-cover-curve",),
           "Cover's count summed to n instead of n - 1"),
    Mutant("capacity/critical-dim-off-by-one", _SIM,
           "    return float(hi)", "    return float(lo)", ("capacity/C2-cover-curve",),
           "bisection returns the largest non-separable projection dimension instead of the "
           "smallest separable one: every n*_k one too small"),
]
