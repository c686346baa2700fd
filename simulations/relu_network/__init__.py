"""Teacher-student ReLU networks with a normalization layer, many replicates trained at once.

The trainable network family of THEORY.md §3 (claims C9-C12): a fixed two-layer ReLU
*teacher* on Gaussian input labels the data, and a *student* multilayer perceptron whose
hidden layers carry any regnorm normalizer (by its registry name) is trained on a finite
training set by minibatch SGD. All replicates (teacher, data, initialization, minibatch order,
dropout masks) are trained together: every array carries a leading replicate axis ``S`` and
the linear maps are batched matrix products over it.

Modules: :mod:`~simulations.relu_network.teacher` (the teacher and the per-replicate
streams), :mod:`~simulations.relu_network.network` (the student's configuration and model),
:mod:`~simulations.relu_network.population` (PN statistics and C4's zeta) and
:mod:`~simulations.relu_network.training` (the SGD protocol).
"""

from .network import (
    NORMALIZER_NAMES,
    REFUSED_NORMALIZERS,
    WEIGHT_PARAMETRIZATIONS,
    ReLUNetwork,
    StudentConfig,
)
from .population import ZETA_CURVATURES, set_population_statistics
from .teacher import ReLUTeacher, replicate_generators, replicate_sequences
from .training import (
    TrainingProtocol,
    TrainingResult,
    sgd_step,
    train_relu_students,
)

__all__ = [
    "NORMALIZER_NAMES",
    "REFUSED_NORMALIZERS",
    "WEIGHT_PARAMETRIZATIONS",
    "ZETA_CURVATURES",
    "ReLUNetwork",
    "ReLUTeacher",
    "StudentConfig",
    "TrainingProtocol",
    "TrainingResult",
    "replicate_generators",
    "replicate_sequences",
    "set_population_statistics",
    "sgd_step",
    "train_relu_students",
]
