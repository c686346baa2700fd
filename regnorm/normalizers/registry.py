"""One vocabulary for the normalizers: canonical names, display labels, classes, constructors.

Every family, grid and command line names a normalizer by its canonical snake_case name
(``"batch_norm"``, ``"layer_norm"``, ...); records and figures may show its short label
(``"BN"``, ``"LN"``, ...). :func:`canonical_name` accepts the canonical name, the label or
the class name, in any case (``"BN"``, ``"bn"``, ``"BatchNorm"`` and ``"batch_norm"`` are
all ``"batch_norm"``), and refuses anything else with a ``ValueError`` that lists the names.

=======================  =========  ==================  =====================================
name                     label      class               fixed arguments
=======================  =========  ==================  =====================================
``none``                 none       (no layer)
``batch_norm``           BN         BatchNorm
``batch_norm_mean``      BN-mean    BatchNorm           ``center=True, scale=False``
``batch_norm_variance``  BN-var     BatchNorm           ``center=False, scale=True``
``population_norm``      PN         PopulationNorm
``layer_norm``           LN         LayerNorm
``instance_norm``        IN         InstanceNorm
``group_norm``           GN         GroupNorm           (``num_groups=`` required)
``weight_norm``          WN         WeightNorm          (``out_channels`` default ``C``)
``switchable_norm``      SN         SwitchableNorm
``proxy_norm``           ProxyNorm  ProxyNorm
``kernel_norm``          KN         KernelNorm          (``kernel_size=`` required)
``kn_conv``              KNConv     KNConv              (``kernel_size=`` required,
                                                        ``out_channels`` default ``C``)
``ghost_batch_norm``     GhostBN    GhostBatchNorm      (``virtual_batch_size=`` required)
``sync_batch_norm``      SyncBN     SyncBatchNorm
``batch_renorm``         BRN        BatchRenorm
``rms_norm``             RMSNorm    RMSNorm
=======================  =========  ==================  =====================================

``"batch_norm_mean"`` subtracts the batch mean only (``z = h - mu_B``) and
``"batch_norm_variance"`` divides by the batch scale only (``z = h / sqrt(sigma_B^2 + eps)``,
with the centred ``sigma_B``): the "WN + mean-only BN" and "WN + variance-only BN" students
of C10. ``"PN"`` is population normalization (C13), not Proxy Norm, whose label is its class
name.

Examples
--------
>>> canonical_name("BN"), canonical_name("BatchNorm"), label("group_norm")
('batch_norm', 'batch_norm', 'GN')
>>> layer = make_normalizer("batch_norm_mean", 3)
>>> layer.center, layer.scale
(True, False)
>>> make_normalizer("none", 3) is None
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .base import Normalizer
from .batch_norm import BatchNorm
from .batch_renorm import BatchRenorm
from .ghost_batch_norm import GhostBatchNorm
from .group_norm import GroupNorm
from .instance_norm import InstanceNorm
from .kernel_norm import KernelNorm, KNConv
from .layer_norm import LayerNorm
from .population_norm import PopulationNorm
from .proxy_norm import ProxyNorm
from .rms_norm import RMSNorm
from .switchable_norm import SwitchableNorm
from .sync_batch_norm import SyncBatchNorm
from .weight_norm import WeightNorm

__all__ = [
    "NORMALIZER_NAMES",
    "canonical_name",
    "label",
    "make_normalizer",
    "normalizer_class",
]


# Constructors ``(C, **kwargs)`` for the classes whose signature does not start with ``C``.
# WeightNorm and KNConv are maps C_in -> C_out; as normalizers they keep the channel count.
def _group_norm(num_channels: Any, **kwargs: Any) -> Normalizer:
    return GroupNorm(kwargs.pop("num_groups"), num_channels, **kwargs)


def _weight_norm(num_channels: Any, **kwargs: Any) -> Normalizer:
    return WeightNorm(num_channels, kwargs.pop("out_channels", num_channels), **kwargs)


def _kernel_norm(num_channels: Any, **kwargs: Any) -> Normalizer:
    return KernelNorm(kwargs.pop("kernel_size"), num_channels=num_channels, **kwargs)


def _kn_conv(num_channels: Any, **kwargs: Any) -> Normalizer:
    out_channels = kwargs.pop("out_channels", num_channels)
    return KNConv(num_channels, out_channels, kwargs.pop("kernel_size"), **kwargs)


@dataclass(frozen=True)
class _Entry:
    label: str
    cls: type[Normalizer] | None
    # constructor arguments that define the name (a BN variant is BatchNorm with flags set)
    fixed: Mapping[str, Any] = field(default_factory=dict)
    # keyword arguments make_normalizer needs for this layer
    required: tuple[str, ...] = ()
    build: Callable[..., Normalizer] | None = None  # (C, **kwargs) -> layer; None: cls(C, ...)


_ENTRIES: dict[str, _Entry] = {
    "none": _Entry("none", None),
    "batch_norm": _Entry("BN", BatchNorm),
    "batch_norm_mean": _Entry("BN-mean", BatchNorm, {"center": True, "scale": False}),
    "batch_norm_variance": _Entry("BN-var", BatchNorm, {"center": False, "scale": True}),
    "population_norm": _Entry("PN", PopulationNorm),
    "layer_norm": _Entry("LN", LayerNorm),
    "instance_norm": _Entry("IN", InstanceNorm),
    "group_norm": _Entry("GN", GroupNorm, required=("num_groups",), build=_group_norm),
    "weight_norm": _Entry("WN", WeightNorm, build=_weight_norm),
    "switchable_norm": _Entry("SN", SwitchableNorm),
    "proxy_norm": _Entry("ProxyNorm", ProxyNorm),
    "kernel_norm": _Entry("KN", KernelNorm, required=("kernel_size",), build=_kernel_norm),
    "kn_conv": _Entry("KNConv", KNConv, required=("kernel_size",), build=_kn_conv),
    "ghost_batch_norm": _Entry("GhostBN", GhostBatchNorm, required=("virtual_batch_size",)),
    "sync_batch_norm": _Entry("SyncBN", SyncBatchNorm),
    "batch_renorm": _Entry("BRN", BatchRenorm),
    "rms_norm": _Entry("RMSNorm", RMSNorm),
}

#: The canonical names, in the order of the module's table.
NORMALIZER_NAMES: tuple[str, ...] = tuple(_ENTRIES)


def _aliases() -> Mapping[str, str]:
    """Lower-cased canonical name, label and class name -> canonical name.

    A class shared by several names (BatchNorm) stands for the first one listed, the plain
    layer.
    """
    table: dict[str, str] = {}
    for name, entry in _ENTRIES.items():
        for spelling in (name, entry.label):
            if table.setdefault(spelling.lower(), name) != name:  # pragma: no cover - a typo
                raise AssertionError(f"normalizer alias {spelling!r} names two normalizers")
    for name, entry in _ENTRIES.items():
        if entry.cls is not None:
            table.setdefault(entry.cls.__name__.lower(), name)
    return MappingProxyType(table)


_ALIASES = _aliases()


def canonical_name(name: str, *, parameter: str = "normalizer") -> str:
    """The canonical snake_case name of a normalizer given by name, label or class name.

    Parameters
    ----------
    name : str
        A canonical name (``"batch_norm"``), a label (``"BN"``) or a class name
        (``"BatchNorm"``), in any case.
    parameter : str
        The name of the caller's parameter, used in the error message.

    Returns
    -------
    str
        One of :data:`NORMALIZER_NAMES`.

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    ValueError
        If ``name`` names no normalizer; the message lists the canonical names.
    """
    if not isinstance(name, str):
        raise TypeError(
            f"{parameter} must be a normalizer name (a str), got {type(name).__name__} {name!r}"
        )
    canonical = _ALIASES.get(name.lower())
    if canonical is None:
        allowed = ", ".join(repr(n) for n in NORMALIZER_NAMES)
        raise ValueError(
            f"{parameter}={name!r} is not a normalizer; choose one of {allowed} (or its label "
            "or class name, in any case)"
        )
    return canonical


def label(name: str) -> str:
    """The short display label of a normalizer (``"batch_norm"`` -> ``"BN"``).

    ``name`` is anything :func:`canonical_name` accepts.
    """
    return _ENTRIES[canonical_name(name)].label


def normalizer_class(name: str) -> type[Normalizer] | None:
    """The layer class of a normalizer (``None`` for ``"none"``).

    The BN variants share :class:`~regnorm.normalizers.batch_norm.BatchNorm`: build them
    with :func:`make_normalizer`, which sets their flags.
    """
    return _ENTRIES[canonical_name(name)].cls


def make_normalizer(name: str, num_channels: int | None, **kwargs: Any) -> Normalizer | None:
    """Build the layer of a normalizer on ``num_channels`` channels.

    Parameters
    ----------
    name : str
        Anything :func:`canonical_name` accepts.
    num_channels : int or None
        ``C`` of the input (``in_channels`` of WeightNorm and KNConv; ``None`` only for
        KernelNorm, which then takes any channel count).
    **kwargs
        Keyword arguments of the layer's class (``eps``, ``xp``, ``dtype`` ...). GroupNorm
        needs ``num_groups``, KernelNorm and KNConv ``kernel_size``, GhostBatchNorm
        ``virtual_batch_size``; WeightNorm and KNConv take ``out_channels``, default
        ``num_channels`` (a normalizer keeps the channel count).

    Returns
    -------
    Normalizer or None
        A fresh layer; ``None`` for ``"none"`` (no layer: the keyword arguments are not used).

    Raises
    ------
    ValueError
        If ``name`` names no normalizer, or a keyword argument contradicts one that the name
        fixes (``scale=True`` for ``"batch_norm_mean"``).
    TypeError
        If a required keyword argument is missing, or one the class does not take is given.
    """
    canonical = canonical_name(name, parameter="name")
    entry = _ENTRIES[canonical]
    if entry.cls is None:
        return None
    for key, value in entry.fixed.items():
        if key in kwargs and kwargs[key] != value:
            raise ValueError(
                f"{key}={kwargs[key]!r} contradicts normalizer {canonical!r}, which is "
                f"{entry.cls.__name__} with {key}={value!r}"
            )
    missing = [k for k in entry.required if k not in kwargs]
    if missing:
        needed = ", ".join(f"{k}=" for k in missing)
        raise TypeError(f"make_normalizer({canonical!r}, ...) needs {needed}")
    kwargs = {**entry.fixed, **kwargs}  # the caller's equal value, so the class checks its type
    if entry.build is None:
        return entry.cls(num_channels, **kwargs)
    return entry.build(num_channels, **kwargs)
