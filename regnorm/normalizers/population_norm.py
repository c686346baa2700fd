"""Population normalization (PN): normalize with given population statistics (THEORY C13, C22).

.. math::

    \\bar h = \\gamma \\frac{h - \\mu_P}{\\sqrt{\\sigma_P^2 + \\epsilon}} + \\beta .

The statistics are fixed (not computed from the batch), so a sample's output does not depend on
the rest of the batch; PN is BN with its statistics replaced by the population's (article 001
§1.2). ``eps`` is kept (> 0) so that PN with BN's running statistics is exactly BN in
evaluation mode.
"""

from __future__ import annotations

from typing import Any

from ..validation import check_real_array
from .base import AffineNormalizer

__all__ = ["PopulationNorm"]


class PopulationNorm(AffineNormalizer):
    """Normalize each channel with the population mean and variance in ``state``.

    Parameters
    ----------
    num_channels, eps, affine, xp, dtype, check_finite
        As for :class:`~regnorm.normalizers.base.AffineNormalizer`.
    mean, var : array of shape (C,), optional
        Population mean ``mu_P`` (default zeros) and variance ``sigma_P^2`` (default ones,
        must be >= 0). Stored as ``state["mean"]`` and ``state["var"]``.
    """

    def __init__(
        self,
        num_channels: int,
        *,
        mean: Any = None,
        var: Any = None,
        eps: float = 1e-5,
        affine: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(num_channels, eps=eps, affine=affine, **options)
        xp = self.xp
        self.state["mean"] = self._stat("mean", mean, 0.0)
        self.state["var"] = self._stat("var", var, 1.0)
        if bool(xp.any(self.state["var"] < 0)):
            raise ValueError("var must be >= 0 (a variance), got a negative entry")

    def _stat(self, name: str, value: Any, default: float) -> Any:
        xp = self.xp
        if value is None:
            return xp.full(self.num_channels, default, dtype=self.param_dtype, device=self.device)
        arr = self.backend.asarray(check_real_array(name, value), dtype=self.param_dtype)
        if tuple(arr.shape) != (self.num_channels,):
            raise ValueError(
                f"{name} must have shape (num_channels,) = ({self.num_channels},), "
                f"got {tuple(arr.shape)}"
            )
        if not bool(xp.all(xp.isfinite(arr))):
            raise ValueError(f"{name} must be finite")
        return arr

    def _param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: (self.num_channels,) for k in list(self.params) + list(self.state)}

    def _normalize(self, x: Any, training: bool) -> tuple[Any, Any]:
        inv_std = 1.0 / self.xp.sqrt(self._channel(self.state["var"]) + self.eps)
        self._cache = inv_std
        return x - self._channel(self.state["mean"]), inv_std

    def _normalize_backward(self, dz: Any) -> Any:
        return dz * self._cache
