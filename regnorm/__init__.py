"""regnorm: the theory of normalization layers, computed and checked.

Closed forms for the noise that batch statistics add (and the "gamma decay" it amounts to),
random-matrix learning curves of the teacher-student model, and reference implementations of
the normalizer family (BN, LN, IN, GN, WN, Switchable Norm, Proxy Norm, KernelNorm), each claim
of ``THEORY.md`` checked against Monte-Carlo by :mod:`regnorm.claims`.

Subpackages and modules
-----------------------
backend             array-API backends and devices (NumPy default, CuPy, array-api-strict)
seeding             the one seed rule: ``seed_sequence(root, *key)``
estimates           estimates and their statistics (mean, s.e., t interval, paired difference)
validation          the argument checks every public function uses
sweeps              parameter sweeps with reproducible seeds, executors and resumable stores
claims              the claims (ids C1..C22 of THEORY.md): records, verdicts, checks
report              REPORT.md, the findings table, comparing two runs (imported on use)
batch_noise         exact and asymptotic noise of batch statistics (C1-C3)
gamma_decay         the gamma-decay coefficient zeta of BN = PN + zeta gamma^2 (C4)
pn_wn_equivalence   population normalization = weight normalization for Gaussian input (C13)
marchenko_pastur    Marchenko-Pastur law and its Stieltjes transform (C6)
learning_curves     teacher-student generalization errors eps_sgd, eps_wn, optimal zeta (C5-C7)
normalizers         BN, PN, LN, IN, GN, WN, Switchable, Proxy and Kernel Norm layers (C14-C22)

From Python
-----------
Everything is usable right after ``import regnorm``: the claims checks (the lists
``simulations.checks.CHECKS`` and ``derivations.checks.CHECKS``) are declared as entry points
of the group ``regnorm.checks``, which :func:`regnorm.claims.load_checks` reads when
:func:`run_claims` is called; ``run_claims(ids, checks=[...])`` runs checks of one's own.
The command line (``regnorm verify``, ``regnorm reproduce``) is :mod:`figures.cli`.

>>> import regnorm
>>> records = regnorm.run_claims("C13", quick=True, progress=False)  # doctest: +SKIP
>>> regnorm.claims.records_to_frame(records)[["id", "verdict"]]       # doctest: +SKIP

The notebooks in ``notebooks/`` (one per claim family) and the documentation site in
``docs/`` (``sphinx-build docs docs/_build``) walk through each family.
"""

from . import (
    backend,
    batch_noise,
    claims,
    estimates,
    gamma_decay,
    learning_curves,
    marchenko_pastur,
    normalizers,
    pn_wn_equivalence,
    seeding,
    sweeps,
    validation,
)
from .backend import get_namespace, resolve_backend, to_numpy
from .claims import run_claims
from .sweeps import sweep

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "backend",
    "batch_noise",
    "claims",
    "estimates",
    "gamma_decay",
    "get_namespace",
    "learning_curves",
    "marchenko_pastur",
    "normalizers",
    "pn_wn_equivalence",
    "resolve_backend",
    "run_claims",
    "seeding",
    "sweep",
    "sweeps",
    "to_numpy",
    "validation",
]
