"""The one place where test tolerances live, each with its reason.

* Deterministic identities are compared to rounding error: a few ulps of the dtype, scaled by
  the size of the computation (``rounding_rtol``).
* Statistical comparisons assert a z-score bound (``Z_BOUND``) using the estimator's own
  standard error, never a tolerance picked to make a test pass.
"""

from __future__ import annotations

import math

import numpy as np

#: |z| bound for statistical tests with fixed seeds. A correct estimator fails with
#: probability ~6e-7 per assertion; a negative control (a wrong formula) must exceed it.
Z_BOUND = 5.0

#: Relative tolerance for results computed by numerical quadrature (fixed high-order
#: Gauss rules or adaptive quad) against exact values: their truncation error is ~1e-12 for
#: smooth integrands, so 1e-10 still rejects any formula error of practical size.
QUADRATURE_RTOL = 1e-10

#: Relative tolerance per dtype for results of O(1)..O(100) floating-point operations:
#: about 4500 ulps in float64 and 84 in float32. float16 results here are computed in
#: float32 and rounded once to float16 (half an ulp, 4.9e-4 relative), so 2 ulps suffice.
ROUNDING_RTOL = {
    np.dtype("float64"): 1e-12,
    np.dtype("float32"): 1e-5,
    np.dtype("float16"): 2e-3,
}


def unit_roundoff(dtype) -> float:
    """``u = eps / 2``, the relative error bound of one rounding in ``dtype``."""
    return float(np.finfo(dtype).eps) / 2


def summation_bound(dtype, m: int) -> float:
    """``2 (log2(m) + 1) u``: rounding bound of a pairwise sum (or mean) of ``m`` terms,
    relative to the sum of their magnitudes, with a factor 2 for the second pass of a
    two-pass statistic."""
    return 2.0 * (math.log2(max(m, 1)) + 1.0) * unit_roundoff(dtype)


def rounding_rtol(dtype=np.float64, ops: int = 1) -> float:
    """Relative tolerance for a deterministic identity after about ``ops`` roundings.

    ``ops`` scales the error like sqrt(ops) (random-walk accumulation of rounding errors).
    """
    return ROUNDING_RTOL[np.dtype(dtype)] * max(1.0, math.sqrt(ops))


def z_score(estimate: float, stderr: float, expected: float) -> float:
    if not stderr > 0:
        raise ValueError(f"stderr must be positive, got {stderr}")
    return (float(estimate) - float(expected)) / float(stderr)


def assert_z_within(estimate: float, stderr: float, expected: float, bound: float = Z_BOUND):
    """Assert ``|estimate - expected| / stderr <= bound`` and return the z-score."""
    z = z_score(estimate, stderr, expected)
    assert abs(z) <= bound, (
        f"estimate {estimate:.6g} +- {stderr:.2g} vs expected {expected:.6g}: z = {z:.2f}"
    )
    return z


def assert_z_exceeds(estimate: float, stderr: float, wrong: float, bound: float = Z_BOUND):
    """Negative control: a wrong prediction must be rejected (|z| > bound)."""
    z = z_score(estimate, stderr, wrong)
    assert abs(z) > bound, (
        f"negative control not rejected: estimate {estimate:.6g} +- {stderr:.2g} is "
        f"compatible with the wrong value {wrong:.6g} (z = {z:.2f})"
    )
    return z


def assert_allclose_rounding(actual, desired, dtype=np.float64, ops: int = 1, atol=0.0):
    """Deterministic comparison to rounding error."""
    np.testing.assert_allclose(
        np.asarray(actual), np.asarray(desired), rtol=rounding_rtol(dtype, ops), atol=atol
    )


def assert_close_normwise(actual, desired, dtype, ops: int = 1):
    """``max |actual - desired| <= rounding_rtol(dtype, ops) * max |desired|``.

    For a low-precision result against a float64 reference of the same computation, where
    entries near zero have no relative accuracy of their own (gradients, centred outputs).
    """
    actual = np.asarray(actual, dtype=np.float64)
    desired = np.asarray(desired, dtype=np.float64)
    assert actual.shape == desired.shape, (actual.shape, desired.shape)
    scale = float(np.max(np.abs(desired)))
    err = float(np.max(np.abs(actual - desired)))
    tol = rounding_rtol(dtype, ops) * scale
    assert err <= tol, f"max error {err:.3g} > {tol:.3g} ({np.dtype(dtype)}, scale {scale:.3g})"
    return err / scale if scale > 0 else err


def assert_allclose_quadrature(actual, desired, atol=0.0):
    """Comparison of a quadrature result with an exact value (``QUADRATURE_RTOL``)."""
    np.testing.assert_allclose(
        np.asarray(actual), np.asarray(desired), rtol=QUADRATURE_RTOL, atol=atol
    )
