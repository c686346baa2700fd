"""Teacher-student simulations of the linear committee machine (THEORY C5-C8, article 001 §2).

Teacher ``y = w*^T x + eps``, ``x ~ N(0, I_N)``, ``||w*|| = 1``, ``eps ~ N(0, delta2)``,
``P = alpha N`` training samples; the generalization error of a linear predictor ``v^T x`` is
``||v - w*||^2``. One module per kind of thing:

* :mod:`.data` — the model: :func:`teacher` draws data sets (:class:`TeacherData`, which
  caches its decomposition), :func:`spectral_view` rotates one into the eigenbasis of
  ``X^T X``;
* :mod:`.ridge` — exact ridge students (WN + gamma decay, C6; the pseudo-inverse at
  ``zeta = 0``, C5): :func:`ridge_path` for many ``zeta`` from one decomposition, and matching
  a trained student to them (:func:`paired_zeta`, :func:`matched_zeta`);
* :mod:`.sgd` — the normalized students (:data:`VARIANTS`) trained by minibatch SGD,
  :func:`train_students` (compiled kernels in :mod:`.fused`);
* :mod:`.protocol` — the experiments: the training protocol of one data set
  (:func:`learning_curve_point`, a sweep task), its sweep (:func:`bn_sweep`) and the ridge
  Monte-Carlo of C5-C7 (:func:`ridge_errors`);
* :mod:`.finite_size` — the finite-size study of C6 and C8 at several ``N``
  (:func:`finite_size_study`, meant for a GPU);
* :mod:`.analysis` — the C8 analysis of a sweep (:func:`c8_summary`), which reads ``M`` and
  ``delta2`` from the sweep's table, and the trend in ``N`` of the finite-size study
  (:func:`finite_size_analysis`).

Every entry point takes ``backend=`` (a spec or Backend of
:func:`regnorm.backend.resolve_backend`; default NumPy): the data, the minibatch permutations
and every draw are made on the backend's device (:func:`regnorm.backend.random_generator`),
the students train there, and results cross to the host once, at the edge.

The closed forms they are compared with live in :mod:`regnorm.learning_curves`; the claims
checks in :mod:`simulations.checks.teacher_student`.
"""

from .analysis import (
    FINITE_SIZE_QUANTITIES,
    FiniteSizeAnalysis,
    c8_summary,
    finite_size_analysis,
    sweep_setting,
)
from .data import SpectralView, TeacherData, spectral_view, teacher
from .finite_size import FINITE_SIZE_COLUMNS, finite_size_study
from .protocol import (
    DEFAULT_VARIANTS,
    DELTA2_PAPER,
    M_PAPER,
    bn_sweep,
    learning_curve_point,
    ridge_errors,
)
from .ridge import (
    matched_zeta,
    paired_zeta,
    ridge_path,
    ridge_path_derivative,
    ridge_weights,
    shrunk_pseudo_inverse_error,
)
from .sgd import DEGENERATE_START_RTOL, VARIANTS, train_students

__all__ = [
    "DEFAULT_VARIANTS",
    "DEGENERATE_START_RTOL",
    "DELTA2_PAPER",
    "FINITE_SIZE_COLUMNS",
    "FINITE_SIZE_QUANTITIES",
    "FiniteSizeAnalysis",
    "M_PAPER",
    "SpectralView",
    "TeacherData",
    "VARIANTS",
    "bn_sweep",
    "c8_summary",
    "finite_size_analysis",
    "finite_size_study",
    "learning_curve_point",
    "matched_zeta",
    "paired_zeta",
    "ridge_errors",
    "ridge_path",
    "ridge_path_derivative",
    "ridge_weights",
    "shrunk_pseudo_inverse_error",
    "spectral_view",
    "sweep_setting",
    "teacher",
    "train_students",
]
