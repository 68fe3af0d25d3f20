"""The GPU tier of the (γ, η) landscape (Atanasov et al. 2025, Fig. 1; docs: Gamma scaling) at the
paper's sizes, with wall times. Needs an accelerator; on CPU it only says so (``make bench`` stays
fast). ``--full`` runs every width and depth (N ∈ {64, 256, 1024}, L ∈ {2, 3, 4}, 5 seeds);
the default is the quick GPU tier (N = 256, L ∈ {2, 3}, 3 seeds). Paste the printed table into
benchmarks/README.md."""

import sys
import time

import jax


def main(argv):
    force = "--force" in argv
    if jax.default_backend() == "cpu" and not force:
        print("landscape_gpu: no accelerator (jax backend 'cpu'); skipped. --force runs it anyway.")
        return 0
    import lazyrich
    from lazyrich.claims import gamma as C

    lazyrich.set_precision("float64")  # float64 for γ < 1e-2 (docs: Conventions); float32 above
    quick = "--full" not in argv
    t0 = time.perf_counter()
    out = C._figure1_outcome(quick)
    wall = time.perf_counter() - t0
    print(f"device: {jax.devices()[0].device_kind}; tier: {'quick' if quick else 'full'}; "
          f"wall {wall:.0f} s; passed: {out.passed}")
    print("| N, L | fit | slope | 95% CI | prediction |")
    print("|---|---|---|---|---|")
    for key, r in out.details["fits"].items():
        for name, v in r.items():
            if v:
                ci = v.get("ci", [float("nan")] * 2)
                print(f"| {key} | {name} | {v['slope']:.3f} | [{ci[0]:.3f}, {ci[1]:.3f}] | "
                      f"{v['prediction']:.3f} |")
    print(f"max |log10 η*(N) − log10 η*(N')| over γ: {out.details['max_width_log10_deviation']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
