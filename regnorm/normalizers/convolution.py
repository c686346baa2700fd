"""Zero padding, kernel windows and 2-D convolution in array-API operations only.

The array API standard has neither ``pad`` nor ``as_strided``/``im2col``, so windows are
taken with ``k*k`` strided slices (one per kernel offset ``(i, j)``), each vectorized over the
batch, channels and window positions. For window position ``(a, b)`` with stride ``s`` and
offset ``(i, j)`` the element is ``x_pad[n, c, a s + i, b s + j]``; the slice
``x_pad[:, :, i : i + s (OH-1) + 1 : s, j : j + s (OW-1) + 1 : s]`` collects it for every
``(a, b)`` at once. Used by :mod:`regnorm.normalizers.kernel_norm` (C20, C21).
"""

from __future__ import annotations

from typing import Any

from ..backend import array_namespace, device_of
from ..validation import check_integer

__all__ = [
    "conv2d",
    "conv2d_channels_last",
    "extract_windows",
    "fold_windows",
    "output_size",
    "pad2d",
]


def pad2d(x: Any, padding: int) -> Any:
    """Zero-pad the last two axes of ``x`` by ``padding`` on each side."""
    if padding == 0:
        return x
    xp = array_namespace(x)
    n, c, h, w = x.shape
    out = xp.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=x.dtype, device=device_of(x))
    out[:, :, padding : padding + h, padding : padding + w] = x
    return out


def output_size(
    size: tuple[int, int], kernel_size: int, stride: int, padding: int
) -> tuple[int, int]:
    """``(OH, OW)`` = ``((H + 2 p - k) // s + 1, (W + 2 p - k) // s + 1)``.

    Raises ``ValueError`` naming ``kernel_size`` when the kernel is larger than the padded
    input.
    """
    h, w = size
    hp, wp = h + 2 * padding, w + 2 * padding
    if kernel_size > hp or kernel_size > wp:
        raise ValueError(
            f"kernel_size={kernel_size} is larger than the padded input "
            f"({hp}, {wp}) = input ({h}, {w}) + 2*padding={padding}"
        )
    return (hp - kernel_size) // stride + 1, (wp - kernel_size) // stride + 1


def _window_slice(i: int, j: int, stride: int, oh: int, ow: int) -> tuple[slice, slice]:
    return (
        slice(i, i + stride * (oh - 1) + 1, stride),
        slice(j, j + stride * (ow - 1) + 1, stride),
    )


def extract_windows(x_pad: Any, kernel_size: int, stride: int) -> Any:
    """The windows of a padded ``(N, C, Hp, Wp)`` array as ``(N, C, k, k, OH, OW)``."""
    xp = array_namespace(x_pad)
    k = kernel_size
    oh, ow = output_size(tuple(x_pad.shape[2:]), k, stride, 0)
    rows = []
    for i in range(k):
        cols = []
        for j in range(k):
            si, sj = _window_slice(i, j, stride, oh, ow)
            cols.append(x_pad[:, :, si, sj])
        rows.append(xp.stack(cols, axis=2))
    return xp.stack(rows, axis=2)


def fold_windows(u: Any, padded_size: tuple[int, int], stride: int) -> Any:
    """Adjoint of :func:`extract_windows`: sum window elements back into ``(N, C, Hp, Wp)``."""
    xp = array_namespace(u)
    n, c, k, _, oh, ow = u.shape
    out = xp.zeros((n, c) + tuple(padded_size), dtype=u.dtype, device=device_of(u))
    for i in range(k):
        for j in range(k):
            si, sj = _window_slice(i, j, stride, oh, ow)
            out[:, :, si, sj] = out[:, :, si, sj] + u[:, :, i, j, :, :]
    return out


def conv2d(x: Any, weight: Any, *, stride: int = 1, padding: int = 0) -> Any:
    """2-D cross-correlation (deep-learning "convolution") without bias.

    .. math::

        y_{n,o,a,b} = \\sum_{c,i,j} W_{o,c,i,j}\\, x^{pad}_{n,c,a s+i,b s+j}

    Parameters
    ----------
    x : array (N, C, H, W)
    weight : array (C_out, C, k, k)
    stride, padding : int

    Returns
    -------
    y : array (N, C_out, OH, OW)

    Computed as ``k*k`` matrix products of channels-last slices with ``W[:, :, i, j]``, with no
    ``k*k``-times larger im2col buffer.
    """
    xp = array_namespace(x, weight)
    stride = check_integer("stride", stride, minimum=1)
    padding = check_integer("padding", padding, minimum=0)
    return xp.permute_dims(conv2d_channels_last(pad2d(x, padding), weight, stride), (0, 3, 1, 2))


def conv2d_channels_last(x_pad: Any, weight: Any, stride: int) -> Any:
    """:func:`conv2d` of an already padded input, returned channels-last ``(N, OH, OW, C_out)``
    (a fresh array that callers may update in place)."""
    xp = array_namespace(x_pad, weight)
    k = weight.shape[2]
    oh, ow = output_size(tuple(x_pad.shape[2:]), k, stride, 0)
    xcl = xp.permute_dims(x_pad, (0, 2, 3, 1))  # (N, Hp, Wp, C)
    acc = None
    for i in range(k):
        for j in range(k):
            si, sj = _window_slice(i, j, stride, oh, ow)
            term = xcl[:, si, sj, :] @ xp.matrix_transpose(weight[:, :, i, j])
            if acc is None:
                acc = term
            else:
                acc += term
    return acc
