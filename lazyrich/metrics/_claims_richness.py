"""Claims ``richness/…``: D_LR identities, infinite-width kernels and training demonstrations.

Spec: richness-metric.md §5–§6, §9; engineering.md §2.2.
"""

import numpy as np

from lazyrich.verify import Outcome, Plot, Series, claim


def _whitened(rng, n, p):
    z = rng.standard_normal((n, p))
    z -= z.mean(0)
    q, _ = np.linalg.qr(z)
    return np.sqrt(n) * q


@claim("richness/isotropic-random-features",
       statement="isotropic (random) features with outputs of rank r give D_LR = 1 - sqrt(r/p), not 1",
       measure="max over r = 1..p of |D_E2 - (1 - sqrt(r/p))| for exactly whitened features "
               "(Phi^T Phi = n I), p = 24, n = 200",
       why="an exact identity: the only error is float64 round-off of p×p eigen/norm computations",
       spec="richness-metric.md §6 item 5")
def _isotropic(quick: bool) -> Outcome:
    from lazyrich.metrics import dlr_report

    rng = np.random.default_rng(1)
    n, p = 200, 24
    phi = _whitened(rng, n, p)
    rs = np.arange(1, p + 1)
    meas = []
    Q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    for r in rs:  # C = p outputs of rank r (one compilation); the default rank rule must find r
        rep = dlr_report(phi, phi @ Q[:, :r] @ Q[:, :r].T, "projection")
        if rep.rank != r:
            raise AssertionError(f"rank rule found {rep.rank}, expected {r}")
        meas.append(rep.value)
    theory = 1 - np.sqrt(rs / p)
    err = float(np.max(np.abs(np.asarray(meas) - theory)))
    plot = Plot([Series(rs, theory, "1 - sqrt(r/p)"), Series(rs, meas, "D_LR (E2)", kind="sim")],
                xlabel="output rank r", ylabel="D_LR")
    return Outcome.error_below(err, 1e-12, plot=plot, details={"n": n, "p": p})


@claim("richness/nc-bridge",
       statement="with the labels as outputs, D_LR = 1 - tr Σ_B / (sqrt(C-1) ||Σ_B + Σ_W||_F) "
                 "(balanced or not); under weak NC1 it factorises into an ETF and a within-class factor",
       measure="max |D_E2(Phi, one-hot) - closed form| over Gaussian mixtures with within-class "
               "noise 0..2 and unbalanced classes, plus NC1 for the same features",
       why="exact identity; float64 round-off only",
       spec="richness-metric.md §2.4, §6 item 4")
def _bridge(quick: bool) -> Outcome:
    from lazyrich.metrics import dlr_labels, dlr_report, nc1

    rng = np.random.default_rng(2)
    C, p = 6, 20
    y = np.repeat(np.arange(C), [8, 10, 12, 14, 16, 18])
    means = 2.0 * rng.standard_normal((C, p))
    noises = np.linspace(0.0, 2.0, 9)
    d_est, d_cf, ncs = [], [], []
    for s in noises:
        phi = means[y] + s * rng.standard_normal((len(y), p))
        d_est.append(dlr_report(phi, np.eye(C)[y], "projection").value)
        d_cf.append(dlr_labels(phi, y))
        ncs.append(nc1(phi, y) if s > 0 else 0.0)
    err = float(np.max(np.abs(np.subtract(d_est, d_cf))))
    plot = Plot([Series(noises, d_cf, "closed form"), Series(noises, d_est, "D_LR(Phi, labels)", kind="sim")],
                xlabel="within-class noise", ylabel="D_LR")
    return Outcome.error_below(err, 1e-12, plot=plot,
                               details={"nc1": [round(v, 4) for v in ncs], "dlr": [round(v, 4) for v in d_cf]})


@claim("richness/collapse-zero-and-rank-jump",
       statement="exactly collapsed features give D_E2 = 0 for any rank-(C-1) readout with bias; "
                 "whitening one extra near-null output direction raises D_E2 by exactly 1 - sqrt((C-1)/C)",
       measure="D_E2 at rank C-1, and D_E2(rank C) - (1 - sqrt((C-1)/C)), C = 10, for outputs "
               "Y + eps·z·1^T with z ⊥ class indicators",
       why="both are exact identities; float64 round-off only",
       spec="richness-metric.md §1.5, §6 items 3 and 8")
def _rank_jump(quick: bool) -> Outcome:
    from lazyrich.metrics import dlr_report

    rng = np.random.default_rng(3)
    C, p, k = 10, 30, 5
    R, _ = np.linalg.qr(rng.standard_normal((p, C)))
    y = np.repeat(np.arange(C), k)
    phi = (2.0 * (np.eye(C) - 1 / C) @ R.T)[y] + rng.standard_normal(p)[None, :]
    Y = np.eye(C)[y]
    z = rng.standard_normal(len(y))
    z -= Y @ (Y.T @ z / k)
    eps = np.array([1e-3, 1e-2, 1e-1])
    jump = 1 - np.sqrt((C - 1) / C)
    full, drop = [], []
    for e in eps:
        F = Y + e * z[:, None] * np.ones(C)[None, :]
        full.append(dlr_report(phi, F, "projection", rank=C).value)
        drop.append(dlr_report(phi, F, "projection", rank=C - 1).value)
    err = max(float(np.max(np.abs(np.asarray(full) - jump))), float(np.max(np.abs(drop))))
    plot = Plot([Series(eps, np.full(3, jump), "1 - sqrt((C-1)/C)"),
                 Series(eps, full, "D_E2, rank C", kind="sim"), Series(eps, drop, "D_E2, rank C-1", kind="sim")],
                xlabel="eps", ylabel="D_LR", xscale="log")
    return Outcome.error_below(err, 1e-10, plot=plot, details={"jump": jump})
