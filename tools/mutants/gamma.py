"""Planted bugs in the γ-scaled centred network and the (γ, η) landscape its claims check."""

from tools.mutants import Mutant

MUTANTS = [
    Mutant("gamma/mup-step-times-gamma", "lazyrich/sims/_param.py",
           'return 1.0 / a, 1.0, b\n    if parametrization == "dmft"',
           'return 1.0 / a, 1.0, b * a\n    if parametrization == "dmft"',
           ("gamma/C3-lazy-eta-star-slope", "gamma/C4-lazy-eta-max-slope"),
           "the μP step N·η·γ instead of N·η: the lazy law becomes η* ∝ γ; η* and η_max leave "
           "the s(γ) grid and N·η_max·λ_max = 2/γ"),
    Mutant("gamma/mup-output-scale-gamma-squared", "lazyrich/sims/_param.py",
           'return 1.0 / a, 1.0, b\n    if parametrization == "dmft"',
           'return 1.0 / (a * a), 1.0, b\n    if parametrization == "dmft"',
           ("gamma/C1-init-scale-identity", "gamma/C2-init-hessian-scaling"),
           "a wrong parametrisation map: the μP output divided by γ² instead of γ"),
    Mutant("gamma/centring-dropped", "lazyrich/sims/_engine.py",
           "return out_scale * (apply(p, x) - g0)", "return out_scale * apply(p, x)",
           ("gamma/C19-lazy-collapse", "gamma/C2-init-hessian-scaling"),
           "g(x; θ₀) not subtracted: f₀ = g₀/γ is huge in the lazy regime"),
    Mutant("gamma/readout-1-over-sqrt-N", "lazyrich/sims/_models.py",
           'return 1.0 / fan_in if self.readout == "mup" else 1.0 / math.sqrt(fan_in)',
           'return 1.0 / math.sqrt(fan_in) if self.readout == "mup" else 1.0 / fan_in',
           ("gamma/C3-lazy-eta-star-slope", "gamma/C4-lazy-eta-max-slope"),
           "the μP readout 1/√N instead of 1/N: the NTK grows by N, η* and η_max fall by N"),
    Mutant("gamma/eta-scale-lazy-gamma-dropped", "lazyrich/sims/_param.py",
           "return g**2 / (1.0 + g ** (2.0 - 2.0 / depth))",
           "return g / (1.0 + g ** (2.0 - 2.0 / depth))",
           ("gamma/C3-lazy-eta-star-slope",),
           "the normalised rate's scale s(γ) with γ for γ²: the lazy grid no longer follows "
           "η*, whose optimum leaves the grid"),
]
