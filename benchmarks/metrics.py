"""Benchmark: D_LR and the empirical NTK on up to 10^5 samples, streamed vs dense.

Streamed D_LR accumulates p×p / C×p / C×C float64 statistics batch by batch
(lazyrich.metrics.stats_from_apply); the dense baseline forms the n×n double-centred Grams
(the operator definition; docs: Richness). The streamed NTK statistics
(lazyrich.metrics.ntk_moments: kernel distance from initialisation and kernel–target alignment
through P×P moments) are compared with the dense n×n empirical NTK + theory.kernel_distance.

Each case runs in a fresh subprocess so that peak resident memory (ru_maxrss, minus the
process's footprint after imports and data generation) is attributable to it. Times exclude
compilation (one warm-up call on the same shapes).

Usage: ``python benchmarks/metrics.py [--quick]``.
"""

import json
import os
import resource
import subprocess
import sys
import time

P_FEAT, C_OUT, D_IN = 256, 10, 32


def _rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _features_model():
    import jax
    import jax.numpy as jnp

    k1, k2 = jax.random.split(jax.random.key(0))
    W = jax.random.normal(k1, (D_IN, P_FEAT), jnp.float32) / jnp.sqrt(jnp.float32(D_IN))
    V = jax.random.normal(k2, (P_FEAT, C_OUT), jnp.float32) / jnp.sqrt(jnp.float32(P_FEAT))

    def apply(params, x):
        phi = jax.nn.relu(x @ params[0])
        return phi, phi @ params[1]

    return apply, (W, V)


def _ntk_model():
    import jax
    import jax.numpy as jnp

    from lazyrich.sims import MLP

    # the engine's MLP 8 → 24 → 24 → 1, weights N(0,1), multipliers 1/√fan-in (NTK readout)
    model = MLP(depth=3, hidden=24, input_dim=8, output_dim=1, readout="ntk")
    p0 = model.init(jax.random.key(0), jnp.float64)
    noise = model.init(jax.random.key(1), jnp.float64)
    p1 = jax.tree.map(lambda a, b: a + 0.3 * b, p0, noise)  # a "trained" point
    return model.apply, p0, p1


def case(kind, n):
    import jax
    import jax.numpy as jnp
    import numpy as np

    jax.config.update("jax_enable_x64", True)
    from lazyrich.metrics import dlr_report, empirical_ntk, ntk_moments, stats_from_apply
    from lazyrich.theory import kernel_distance

    rng = np.random.default_rng(0)
    if kind.startswith("dlr"):
        apply, params = _features_model()
        x = jnp.asarray(rng.standard_normal((n, D_IN)), jnp.float32)
    else:
        apply, p0, p1 = _ntk_model()
        x = jnp.asarray(rng.standard_normal((n, 8)))
        y = jnp.asarray(rng.standard_normal(n))
    jax.block_until_ready(x)
    base = _rss_mb()

    if kind == "dlr_streamed":
        def run():
            return dlr_report(stats=stats_from_apply(apply, params, x, batch_size=4096)).value
    elif kind == "dlr_dense":
        def run():
            phi, f = (a.astype(jnp.float64) for a in apply(params, x))
            phi = phi - phi.mean(0)
            f = f - f.mean(0)
            K = phi @ phi.T
            L = f @ f.T
            return float(1 - jnp.sum(K * L) / (jnp.linalg.norm(K) * jnp.linalg.norm(L)))
    elif kind == "ntk_streamed":
        def run():
            m = ntk_moments(apply, p1, x, params0=p0, targets=y, batch_size=2048)
            return float(m.distance_from_init), float(m.target_alignment)
    elif kind == "ntk_dense":
        def run():
            K0 = empirical_ntk(apply, p0, x, batch_size=2048)
            K1 = empirical_ntk(apply, p1, x, batch_size=2048)
            kta = float(y @ K1 @ y / (jnp.linalg.norm(K1) * (y @ y)))
            return float(kernel_distance(K0, K1)), kta
    else:
        raise ValueError(kind)

    t0 = time.perf_counter()
    run()  # compile + first run
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    val = run()
    t = time.perf_counter() - t0
    return {"kind": kind, "n": n, "seconds": t, "first_call_s": t_first,
            "peak_mb": _rss_mb() - base, "value": val}


def _spawn(kind, n, timeout=900):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, __file__, "--case", kind, str(n)], capture_output=True,
                         text=True, timeout=timeout, env=env)
    if out.returncode:
        return {"kind": kind, "n": n, "error": out.stderr.strip().splitlines()[-1][:200]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(quick):
    ns_stream = [1_000, 10_000] + ([] if quick else [100_000])
    ns_dense = [1_000, 4_000]
    rows = []
    for family in ("dlr", "ntk"):
        dense = {n: _spawn(f"{family}_dense", n) for n in ns_dense}
        stream = {n: _spawn(f"{family}_streamed", n) for n in ns_stream + [4_000]}
        for n in sorted(set(ns_dense) | set(ns_stream)):
            for r in (dense.get(n), stream.get(n)):
                if r is not None:
                    rows.append(r)
        common = 4_000
        if "error" not in dense[common] and "error" not in stream[common]:
            dv = np.asarray(dense[common]["value"], float)
            sv = np.asarray(stream[common]["value"], float)
            t_ratio = dense[common]["seconds"] / stream[common]["seconds"]
            m_ratio = dense[common]["peak_mb"] / max(stream[common]["peak_mb"], 1e-3)
            print(f"{family}: |streamed - dense| at n={common}: {np.max(np.abs(dv - sv)):.2e}; "
                  f"time ratio dense/streamed {t_ratio:.2f}, peak-memory ratio {m_ratio:.1f}")
    print(f"{'case':<14}{'n':>9}{'time s':>10}{'1st call s':>12}{'peak MB':>10}  value")
    for r in rows:
        if "error" in r:
            print(f"{r['kind']:<14}{r['n']:>9}  error: {r['error']}")
        else:
            print(f"{r['kind']:<14}{r['n']:>9}{r['seconds']:>10.3f}{r['first_call_s']:>12.2f}"
                  f"{r['peak_mb']:>10.1f}  {r['value']}")
    print("dense at n = 1e5 would need n² doubles = 80 GB per n×n matrix: not run.")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--case":
        print(json.dumps(case(sys.argv[2], int(sys.argv[3]))))
    else:
        import numpy as np

        main("--quick" in sys.argv)
