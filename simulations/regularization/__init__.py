"""Regularization experiments of article 001 §2.4 on a teacher-student ReLU network (C9-C12).

The article runs these on a CIFAR-10 CNN; here the same comparisons run on the synthetic
teacher-student problem of :mod:`simulations.relu_network` (ground truth known, CPU-sized):

* C9  -- BN against PN + gamma decay (zeta of C4 estimated from 10k unlabeled samples) and
  PN without gamma decay, against the batch size: train loss, test loss, generalization gap.
* C10 -- generalization gap of plain SGD, WN, WN + mean-only BN, WN + variance-only BN, BN.
* C11 -- BN opened one hidden layer at a time (the other layer plain): the layer's learned
  ``gamma^2`` and the test loss against the batch size.
* C12 -- dropout after BN (0.125) at large batch, dropout before BN, WN + dropout (0.25).

Every method of one experiment is trained on the same replicates: replicate ``r`` fixes the
teacher, the data, the initial weights and the minibatch order, so methods are compared by
*paired* differences over replicates, with a 95% Student-t confidence interval. A difference
is called a difference only when its interval excludes zero; otherwise the claim's record is
``not resolved``. "At least as well as" (C9, one comparison of C12) holds only when the
interval lies below a stated margin (:data:`AS_GOOD_MARGIN` of the comparator's loss).

Modules: :mod:`.protocol` (methods, sizes, the paired runs and the four experiments),
:mod:`.analysis` (the comparisons each claim is judged on); the claims checks are
:mod:`simulations.checks.regularization`.
"""

from .analysis import (
    AS_GOOD_MARGIN,
    Comparison,
    c9_comparisons,
    c10_comparisons,
    c11_comparisons,
    c12_comparisons,
    log2_slopes,
    replicate_values,
    settings_params,
)
from .protocol import (
    C9_METHODS,
    C10_METHODS,
    C11_OPEN,
    DELTA2,
    METHODS,
    SIZES,
    TEACHER_HIDDEN,
    batch_size_gamma,
    bn_vs_pn,
    dropout_experiment,
    mean_variance_noise,
    run_methods,
)

__all__ = [
    "AS_GOOD_MARGIN",
    "C10_METHODS",
    "C11_OPEN",
    "C9_METHODS",
    "Comparison",
    "DELTA2",
    "METHODS",
    "SIZES",
    "TEACHER_HIDDEN",
    "batch_size_gamma",
    "bn_vs_pn",
    "c10_comparisons",
    "c11_comparisons",
    "c12_comparisons",
    "c9_comparisons",
    "dropout_experiment",
    "log2_slopes",
    "mean_variance_noise",
    "replicate_values",
    "run_methods",
    "settings_params",
]
