"""Mean-field capacity: lazyrich vs one generic QP solve per sample (cvxpy), same samples.

Size of the DNN analysis of Chou et al. 2025: P = 10 classes, M = 50 points, N = 512 features,
n_t = 200 Gaussian samples. Users run one such analysis per checkpoint, seed and subsample, so
the per-analysis time matters (docs: Manifold capacity).

Baseline (the common approach, as in the GLUE precursor / MFTMA codes): for every sample build
nothing new but solve, with cvxpy's default QP solver, the primal projection problem in feature
space  min_V ||V - t||^2  s.t.  y_mu <V, x_mu_i> <= 0  (P*M constraints, N variables), compiled
once as a parametrized problem (DPP), so the baseline is not charged for re-canonicalization.
The two runs use identical samples: lazyrich draws u = <x, t> in Gram space and reports them;
the baseline uses t = A^+ u, which has the same projection onto the cone (the cone lies in the
span of the data). Printed: wall times, speed ratio, relative capacity difference, and the
largest per-sample difference of a = ||Pi_C(t)||^2.

Run: python benchmarks/capacity.py [--ipm] [--n-t 200] [--no-baseline]. `--ipm` also times the JAX
interior-point backend (the accelerator path; slow on CPU, fast batched on a GPU);
`--no-baseline` skips cvxpy (benchmarks/gpu.sh).
"""

import argparse
import time

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

from lazyrich.geometry import gaussian_clouds, mean_field_capacity  # noqa: E402


def baseline_cvxpy(A, labels, T, M):
    import cvxpy as cp

    PM, N = A.shape
    V = cp.Variable(N)
    t = cp.Parameter(N)
    G = cp.Parameter((PM, N))
    prob = cp.Problem(cp.Minimize(cp.sum_squares(V - t)), [G @ V <= 0])
    a = np.empty(len(T))
    for k, (y, tk) in enumerate(zip(labels, T, strict=True)):
        G.value = np.repeat(y, M)[:, None] * A
        t.value = tk
        prob.solve()
        if prob.status not in ("optimal", "optimal_inaccurate"):
            raise RuntimeError(f"cvxpy status {prob.status}")
        a[k] = float(np.sum((V.value - tk) ** 2))
    return a, prob.solver_stats.solver_name


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--P", type=int, default=10)
    ap.add_argument("--M", type=int, default=50)
    ap.add_argument("--N", type=int, default=512)
    ap.add_argument("--n-t", type=int, default=200)
    ap.add_argument("--ipm", action="store_true", help="also time the JAX interior point")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip the cvxpy baseline (benchmarks/gpu.sh; cvxpy is not on the GPU "
                         "image)")
    args = ap.parse_args()
    P, M, N, n_t = args.P, args.M, args.N, args.n_t
    print(f"backend {jax.default_backend()}; P={P} M={M} N={N} n_t={n_t}")

    # Class-like manifolds: Gaussian clouds with correlated-ish geometry (D = 20, R = 1.5).
    X = np.asarray(gaussian_clouds(jax.random.key(0), P, M, N, 20, 1.5))
    key = jax.random.key(1)
    t0 = time.perf_counter()
    mean_field_capacity(key, X, n_t=n_t, solver="nnls")
    t_cold = time.perf_counter() - t0
    print(f"lazyrich first call (includes JAX compiles of the samplers): {t_cold:.2f} s")
    # Steady state: what every further analysis of a training run costs (same shapes).
    t0 = time.perf_counter()
    r = mean_field_capacity(key, X, n_t=n_t, solver="nnls")
    t_ours = time.perf_counter() - t0
    print(f"lazyrich nnls (capacity + full geometry): {t_ours:7.2f} s  "
          f"({n_t / t_ours:6.1f} samples/s)  alpha = {r.capacity:.6f}")

    if args.ipm:
        mean_field_capacity(key, X, n_t=8, solver="ipm", ipm_batch=8)  # compile
        t0 = time.perf_counter()
        ri = mean_field_capacity(key, X, n_t=n_t, solver="ipm", ipm_batch=min(64, n_t))
        t_ipm = time.perf_counter() - t0
        print(f"lazyrich ipm  (JAX, batched):              {t_ipm:7.2f} s  "
              f"({n_t / t_ipm:6.1f} samples/s)  alpha = {ri.capacity:.6f}  "
              f"rel.diff vs nnls {abs(ri.capacity / r.capacity - 1):.1e}")

    if args.no_baseline:
        return
    A = X.reshape(P * M, N)
    u = r.samples["u"].reshape(n_t, P * M)
    T = np.linalg.lstsq(A, u.T, rcond=None)[0].T  # t = A^+ u: same projections onto the cone
    t0 = time.perf_counter()
    a_base, solver = baseline_cvxpy(A, r.samples["labels"], T, M)
    t_base = time.perf_counter() - t0
    alpha_base = P / a_base.mean()
    print(f"cvxpy ({solver}), one QP per sample:      {t_base:7.2f} s  "
          f"({n_t / t_base:6.1f} samples/s)  alpha = {alpha_base:.6f}")
    rel = abs(r.capacity / alpha_base - 1)
    per = np.max(np.abs(r.samples["a"] - a_base) / np.maximum(a_base, 1e-12))
    print(f"speed ratio (cvxpy / lazyrich): {t_base / t_ours:.1f}x   "
          f"capacity rel. difference: {rel:.2e}   max per-sample rel. diff of a: {per:.2e}")
    print(f"target: >= 20x at < 1% difference -> "
          f"{'MET' if t_base / t_ours >= 20 and rel < 0.01 else 'NOT MET'}")


if __name__ == "__main__":
    main()
