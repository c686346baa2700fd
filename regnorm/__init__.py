"""regnorm: the theory of normalization layers, computed and checked.

Closed forms for the noise that batch statistics add (and the "gamma decay" it amounts to),
random-matrix learning curves of the teacher-student model, and reference implementations of
the normalizer family (BN, LN, IN, GN, WN, Switchable Norm, Proxy Norm, KernelNorm), each claim
of ``THEORY.md`` checked against Monte-Carlo by :mod:`regnorm.claims`.

Subpackages and modules
-----------------------
backend   array-API namespaces (NumPy default, CuPy, array-api-strict)
sweeps    parameter sweeps with reproducible seeds, executors and resumable stores
claims    the claims registry (ids C1..C22 of THEORY.md) and verdicts
normalizers  BN, PN, LN, IN, GN, WN, Switchable, Proxy and Kernel Norm layers (issue 6)
"""

from . import backend, batch_noise, claims, gamma_decay, normalizers, pn_wn_equivalence, sweeps
from .backend import get_namespace, to_numpy
from .claims import run_claims
from .sweeps import sweep

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "backend",
    "batch_noise",
    "claims",
    "gamma_decay",
    "get_namespace",
    "normalizers",
    "pn_wn_equivalence",
    "run_claims",
    "sweep",
    "sweeps",
    "to_numpy",
]
