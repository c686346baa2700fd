"""Mean-only BN trained on its own batches has no effective ridge term (C8, article 001 §2.3).

The mean-only student predicts ``phi(x) = u^T (x - mu_B)`` on a batch ``B`` of ``M`` samples
(``mu_B`` the batch mean of the inputs, each training sample inside its own batch) with the
squared loss ``L_B = (1/M) sum_{i in B} (y_i - phi(x_i))^2``. With the residuals
``r_i = y_i - u^T x_i``, ``y_i - phi(x_i) = (r_i - rbar_B) + ybar_B``, so

    ``L_B = (1/M) sum_{i in B} (r_i - rbar_B)^2 + ybar_B^2``

(the cross term sums to zero). For a batch drawn uniformly without replacement from ``P``
training samples (each batch of a random permutation cut into batches is one), the inclusion
probabilities ``M/P`` (one sample) and ``M(M-1)/(P(P-1))`` (a pair) give

    ``E_B[L_B] = c_M (1/P) sum_i (r_i - rbar)^2 + E_B[ybar_B^2]``,
    ``c_M = (M-1) P / (M (P-1))``:

the batch-averaged loss is ``c_M`` times the centred least-squares loss plus a term free of
``u``. Its minimizer is the unregularized centred least-squares solution: ``zeta_eff = 0``
exactly, at every ``M`` and ``P``.

The population version shows where C4's ``mu_B`` term goes. For one eigendirection of the
input covariance (mean-zero input of variance ``s2``; the quadratic forms decouple in the
eigenbasis) and a teacher ``y = w x + noise`` (variance ``delta2``), a batch mean *independent* of the sample
adds the penalty ``s2 u^2 / M`` (the ``mu_A''/(2M)`` term of C4, ``A'' = 2``), a ridge
``zeta = s2/M``. With the sample inside its batch, the self-inclusion cross term
``2 E[r_i u x_i]/M = 2 s2 (u w - u^2)/M``, which C4's expansion drops, cancels it: the loss is
``(1 - 1/M) s2 (u - w)^2 + const``, minimized at ``u = w``. So the centred candidates of C8
(``3/(2M)`` and ``3 alpha/(2M)``, which add the ``1/M`` of the ``mu_B`` term to the
``1/(2M)`` of ``sigma_B``) count a term that in-batch training does not have.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

__all__ = ["EXPLANATIONS", "derive"]

M = sp.Symbol("M", positive=True, integer=True)
P = sp.Symbol("P", positive=True, integer=True)
#: Sums over the P training samples: of the residuals r_i, their squares, the targets y_i
#: and their squares.
R1, R2, Y1, Y2 = sp.symbols("R1 R2 Y1 Y2", real=True)

EXPLANATIONS = {
    "c_M": "The factor of the centred least-squares loss: (M-1)P/(M(P-1)).",
    "within_batch_average": "E_B[(1/M) sum_B (r_i - rbar_B)^2] from the inclusion "
    "probabilities M/P and M(M-1)/(P(P-1)); R1 = sum r_i, R2 = sum r_i^2.",
    "centred_loss": "(1/P) sum (r_i - rbar)^2, the centred least-squares loss.",
    "within_minus_c_M_centred": "within_batch_average - c_M centred_loss (simplifies to 0).",
    "constant_term": "E_B[ybar_B^2], free of the weights u (Y1 = sum y_i, Y2 = sum y_i^2).",
    "loss_batch_mean_outside": "Population loss per direction with a batch mean independent "
    "of the sample: the residual loss plus the mu_B penalty s2 u^2/M.",
    "self_inclusion_cross_term": "2 E[r_i u x_i]/M, the term C4's expansion drops.",
    "loss_batch_mean_inside": "Population loss with the sample inside its batch.",
    "inside_minus_shrunk_square": "loss_inside - (1 - 1/M) s2 (u - w)^2: free of u.",
    "argmin_outside": "Minimizer with the outside batch mean: ridge shrinkage M/(M+1).",
    "argmin_inside": "Minimizer with the sample inside its batch: the teacher w.",
    "zeta_eff_outside": "Ridge parameter of the outside minimizer (s2/M: C4's mu_B term).",
    "zeta_eff_inside": "Ridge parameter of the inside minimizer: 0.",
}


def _ridge_zeta(argmin: sp.Expr, w: sp.Symbol, s2: sp.Symbol) -> sp.Expr:
    """The ``zeta`` with ``argmin = s2 w / (s2 + zeta)`` (ridge in one direction)."""
    zeta = sp.Symbol("zeta")
    return sp.simplify(sp.solve(sp.Eq(argmin, s2 * w / (s2 + zeta)), zeta)[0])


@lru_cache(maxsize=1)
def derive() -> dict[str, sp.Expr]:
    """The mean-only BN derivation: finite training set and population.

    Returns
    -------
    dict of str to sympy expression, in ``M``, ``P`` and the sums ``R1, R2, Y1, Y2`` (finite
    set) or in ``u, w, s2, delta2`` (population, one eigendirection).
    """
    one = M / P
    pair = M * (M - 1) / (P * (P - 1))
    # E[sum_B r_i^2] = (M/P) R2; E[(sum_B r_i)^2] = (M/P) R2 + pair (R1^2 - R2)
    within = (one * R2 - (one * R2 + pair * (R1**2 - R2)) / M) / M
    centred = R2 / P - R1**2 / P**2
    c_M = (M - 1) * P / (M * (P - 1))
    constant = (one * Y2 + pair * (Y1**2 - Y2)) / M**2

    u, w = sp.symbols("u w", real=True)
    s2, delta2 = sp.symbols("s2 delta2", positive=True)
    residual = s2 * (u - w) ** 2 + delta2  # E[r^2] with r = y - u x
    outside = residual + s2 * u**2 / M
    cross = 2 * s2 * (u * w - u**2) / M
    inside = sp.expand(outside + cross)
    argmin_out = sp.solve(sp.diff(outside, u), u)[0]
    argmin_in = sp.solve(sp.diff(inside, u), u)[0]
    return {
        "c_M": c_M,
        "within_batch_average": sp.factor(within),
        "centred_loss": centred,
        "within_minus_c_M_centred": sp.simplify(within - c_M * centred),
        "constant_term": sp.factor(constant),
        "loss_batch_mean_outside": outside,
        "self_inclusion_cross_term": cross,
        "loss_batch_mean_inside": inside,
        "inside_minus_shrunk_square": sp.factor(
            sp.expand(inside - (1 - 1 / M) * s2 * (u - w) ** 2)
        ),
        "argmin_outside": sp.simplify(argmin_out),
        "argmin_inside": sp.simplify(argmin_in),
        "zeta_eff_outside": _ridge_zeta(argmin_out, w, s2),
        "zeta_eff_inside": _ridge_zeta(argmin_in, w, s2),
    }
