"""Planted bugs in the DMFT solvers (lazyrich/theory/_dmft.py) that the dmft/ claims must catch."""

from tools.mutants import Mutant

_DMFT = "lazyrich/theory/_dmft.py"

MUTANTS = [
    Mutant("dmft/two-layer-step-halved", _DMFT,
           "M = eye + kappa * A", "M = eye + 0.5 * kappa * A",
           ("dmft/gamma-to-zero-kernel-dynamics", "dmft/aligned-mode-bridge",
            "dmft/width-convergence"),
           "the moment recursion's step κ = 2η/(Pγ) without its 2 (the loss's ½ convention)"),
    Mutant("dmft/two-layer-input-kernel-dropped", _DMFT,
           ".at[1:, 0].set(Kx @ delta)", ".at[1:, 0].set(delta)",
           ("dmft/gamma-to-zero-kernel-dynamics", "dmft/width-convergence"),
           "the first-layer field increment without the input kernel Kˣ (right only for Kˣ = I)"),
    Mutant("dmft/mc-backward-field-without-derivative", _DMFT,
           "b = a[:, None] * dp  ", "b = a[:, None] * p   ",
           ("dmft/gamma-to-zero-kernel-dynamics", "dmft/alignment-grows-with-gamma"),
           "the Monte Carlo backward field a·φ(h) instead of a·φ'(h)"),
    Mutant("dmft/deep-response-dropped", _DMFT,
           "    R = C @ Y", "    R = 0.0 * C @ Y",
           ("dmft/deep-linear-vs-networks",),
           "the response of h to the backward source (reuse of the hidden matrix) dropped: the "
           "gradient-independence approximation"),
    Mutant("dmft/deep-acausal-sum", _DMFT,
           "past = (t_of[:, None] > jnp.arange(n)[None, :]).astype(_F64)",
           "past = (t_of[:, None] >= jnp.arange(n)[None, :]).astype(_F64)",
           ("dmft/gamma-to-zero-kernel-dynamics", "dmft/deep-linear-vs-networks"),
           "the field at step t fed by the update of the same step (s ≤ t instead of s < t)"),
    Mutant("dmft/deep-nonlinear-forward-response-dropped", "lazyrich/theory/_dmft_deep.py",
           "if k <= L - 3 and mode != 2:", "if k <= L - 3 and mode == 99:",
           ("dmft/deep-erf-vs-networks",),
           "the nonlinear solver's forward response R (h's dependence on the backward source) "
           "dropped in the full mode"),
]
