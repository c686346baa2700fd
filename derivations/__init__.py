"""Symbolic (sympy) derivations of regnorm's closed forms.

Each module derives expressions from first principles and returns them from a cached
``derive()``; the tests prove that the numeric functions of :mod:`regnorm` equal them. This
package imports :mod:`regnorm` only. Modules do no sympy work at import (loading the claims
checks imports them).

Modules
-------
batch_noise   C1: exact batch-standardization errors and their 1/M series
gamma_decay   C2-C4: the BN-vs-PN error expansion, zeta and its special cases
krogh_hertz   C5-C7: Marchenko-Pastur branch, eps_wn, its limits and minimizer
mean_only_bn  C8: mean-only BN on its own batches is c_M x centred least squares (zeta_eff = 0)
proxy_norm    C19: moments of relu(a z + b) for Gaussian z
catalogue     the registry: name -> derive(); ``regnorm derive NAME``
checks        the claims checks of the derivations (C5, C7 by sympy): ``CHECKS``
docs          writes docs/derivations.md (``python -m derivations.docs``)
"""

from .catalogue import available, derive, render

__all__ = ["available", "derive", "render"]
