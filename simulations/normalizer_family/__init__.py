"""Measurements of the normalizer family (THEORY §4): batch dependence, Proxy Norm by depth,
and the references the identities between the normalizers are checked against.

* :mod:`~simulations.normalizer_family.batch_dependence` (C22) -- how much a sample's output
  depends on the rest of its batch, per normalizer, with the exact laws of the batch-dependent
  ones;
* :mod:`~simulations.normalizer_family.depth_profile` (C18) -- channel normalization and
  expressivity of a deep plain ReLU network by depth, with and without Proxy Norm;
* :mod:`~simulations.normalizer_family.references` (C19, C20) -- independent computations of
  Proxy Norm's moments and of KernelNorm;
* :mod:`~simulations.normalizer_family.analysis` -- mean and standard error per group.

The claims checks C14, C17-C22 are :mod:`simulations.checks.normalizer_family`.

Backends: :func:`batch_dependence_noise` (C22) and :func:`proxy_norm_depth_profile` (C18)
take ``backend=`` (draws made on its device, layers run there, a few numbers per task
crossing to the host). The references (C19, C20) are NumPy-only on purpose: they are
independent host computations (SciPy quadrature of Proxy Norm's moments, a window-by-window
loop for KernelNorm) that the layers are checked against, so they must not share the
layers' array code; :func:`bn_noise_exact`, :func:`noise_prediction`,
:func:`brn_clip_probability` and :func:`sn_noise_factor` are closed forms of scalars.
"""

from .analysis import summarize
from .batch_dependence import (
    BATCH_DEPENDENT,
    BATCH_NORMALIZERS,
    BRN_CLIPS,
    GHOST_BATCH,
    MIN_CLIP_EVENTS,
    NOISE_EPS,
    ROUNDING_NOISE,
    SAMPLE_SHAPE,
    batch_dependence_noise,
    bn_noise_exact,
    brn_clip_probability,
    noise_prediction,
    sn_noise_factor,
)
from .depth_profile import (
    DEPTH_BLOCKS,
    DEPTH_METRICS,
    GN_GROUPS,
    ZERO_BY_CONSTRUCTION,
    block_layers,
    proxy_norm_depth_profile,
)
from .references import kernel_norm_reference, relu_moments_by_quadrature

__all__ = [
    "BATCH_DEPENDENT",
    "BATCH_NORMALIZERS",
    "BRN_CLIPS",
    "DEPTH_BLOCKS",
    "DEPTH_METRICS",
    "GHOST_BATCH",
    "GN_GROUPS",
    "MIN_CLIP_EVENTS",
    "NOISE_EPS",
    "ROUNDING_NOISE",
    "SAMPLE_SHAPE",
    "ZERO_BY_CONSTRUCTION",
    "batch_dependence_noise",
    "block_layers",
    "bn_noise_exact",
    "brn_clip_probability",
    "kernel_norm_reference",
    "noise_prediction",
    "proxy_norm_depth_profile",
    "relu_moments_by_quadrature",
    "sn_noise_factor",
    "summarize",
]
