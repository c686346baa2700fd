"""Switchable Norm's learned weights against the batch size on a convolutional student (C15, C16).

Article 000 reads SN's learned importance weights off ImageNet ResNets: the BN weight falls
as the batch shrinks (C15), and at small batch BN's variance gets a smaller weight than its
mean (C16). Here the same is measured on a synthetic teacher-student problem of 1x1
convolutions (:mod:`.model`: images with per-image contrast and brightness, Gaussian or
heavy-tailed pixel noise), with the student
``conv1x1 -> SN -> ReLU -> conv1x1 -> SN -> ReLU -> average pool -> linear`` trained by
minibatch SGD with squared loss (:mod:`.protocol`); :mod:`.analysis` holds the comparisons
the claims are judged on, and :mod:`simulations.checks.switchable_weights` the checks.
"""

from .analysis import bn_in_statistics_gap, c15_comparisons, c16_comparisons, settings_params
from .model import (
    IN_CHANNELS,
    INPUT_NOISE,
    TEACHER_HIDDEN,
    ImageTeacher,
    SNConvStudent,
    sample_images,
)
from .protocol import DELTA2, SN_SIZES, SNProtocol, switchable_weights, train_sn_student

__all__ = [
    "DELTA2",
    "INPUT_NOISE",
    "IN_CHANNELS",
    "ImageTeacher",
    "SNConvStudent",
    "SN_SIZES",
    "SNProtocol",
    "TEACHER_HIDDEN",
    "bn_in_statistics_gap",
    "c15_comparisons",
    "c16_comparisons",
    "sample_images",
    "settings_params",
    "switchable_weights",
    "train_sn_student",
]
