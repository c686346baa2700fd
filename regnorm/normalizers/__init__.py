"""Reference implementations of the normalizer family (THEORY §4, claims C13-C22).

Every layer follows the protocol of :mod:`regnorm.normalizers.base`: ``params``, ``grads``,
``state``, ``forward(x, *, training=True)`` and ``backward(dy)``, on ``(N, C)`` and
``(N, C, H, W)`` inputs, with array-API (NumPy, CuPy, array-api-strict) arrays.

=================  ==========================================================
BatchNorm          statistics over (N, H, W) per channel; running averages
PopulationNorm     given population statistics
LayerNorm          statistics over (C, H, W) per sample
InstanceNorm       statistics over (H, W) per sample and channel
GroupNorm          statistics over (C/G, H, W) per sample and group
WeightNorm         normalized weight rows of a linear (1x1) map
SwitchableNorm     softmax mix of IN, LN, BN statistics (C14)
ProxyNorm          activation normalized by a Gaussian proxy's moments (C19)
KernelNorm         normalization over C x k x k kernel windows, with dropout (C20)
KNConv             KernelNorm + convolution, fused (C21)
GhostBatchNorm     BN over virtual batches of a fixed size
SyncBatchNorm      BN with the statistics of all shards (devices) of a batch
BatchRenorm        BN corrected towards the running statistics (Ioffe 2017)
RMSNorm            division by the root mean square over (C, H, W) per sample
=================  ==========================================================

Names: :mod:`regnorm.normalizers.registry` is the one vocabulary (``"batch_norm"``,
``"layer_norm"``, ... with labels ``"BN"``, ``"LN"``, ...): :func:`canonical_name`,
:func:`label`, :func:`normalizer_class` and :func:`make_normalizer`.
"""

# The submodules stay attributes of the package (``regnorm.normalizers.base`` is the layer
# protocol), but they are modules, not layers: __all__ lists the layers and functions only.
from . import base as base
from . import convolution as convolution
from . import registry as registry
from . import standardization as standardization
from .base import Normalizer
from .batch_norm import BatchNorm
from .batch_renorm import BatchRenorm
from .ghost_batch_norm import GhostBatchNorm
from .group_norm import GroupNorm
from .instance_norm import InstanceNorm
from .kernel_norm import KernelNorm, KNConv
from .layer_norm import LayerNorm
from .population_norm import PopulationNorm
from .proxy_norm import ProxyNorm, gaussian_quantiles, relu_gaussian_moments
from .registry import (
    NORMALIZER_NAMES,
    canonical_name,
    label,
    make_normalizer,
    normalizer_class,
)
from .rms_norm import RMSNorm
from .switchable_norm import SwitchableNorm
from .sync_batch_norm import SyncBatchNorm
from .weight_norm import WeightNorm

__all__ = [
    "BatchNorm",
    "BatchRenorm",
    "GhostBatchNorm",
    "GroupNorm",
    "InstanceNorm",
    "KNConv",
    "KernelNorm",
    "LayerNorm",
    "NORMALIZER_NAMES",
    "Normalizer",
    "PopulationNorm",
    "ProxyNorm",
    "RMSNorm",
    "SwitchableNorm",
    "SyncBatchNorm",
    "WeightNorm",
    "canonical_name",
    "gaussian_quantiles",
    "label",
    "make_normalizer",
    "normalizer_class",
    "relu_gaussian_moments",
]
