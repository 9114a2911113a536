"""Per-channel int8 tensors of the weights format (src/model/weights/FORMAT.md, "int8 tensors"): the channels are the
indices of a run of contiguous axes `axes`; the stored bytes are one float32 scale per channel, then one int8 value
per element; a value is q · scale. Mirror of src/model/weights/int8.ts (which also writes them)."""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np


def channel_layout(shape: Sequence[int], axes: Sequence[int]) -> Tuple[int, int, int]:
    """(outer, channels, inner): the tensor seen as [outer, channels, inner] around its channel axes."""
    axes = list(axes)
    if not axes or any(not isinstance(a, int) or not 0 <= a < len(shape) for a in axes):
        raise ValueError(f'int8 axes must be integers in [0, {len(shape) - 1}] for shape {list(shape)}, got {axes}')
    if any(b != a + 1 for a, b in zip(axes, axes[1:])):
        raise ValueError(f'int8 axes must be contiguous and increasing, got {axes}')
    first, last = axes[0], axes[-1]
    return int(np.prod(shape[:first])), int(np.prod(shape[first : last + 1])), int(np.prod(shape[last + 1 :]))


def int8_bytes(shape: Sequence[int], axes: Sequence[int]) -> int:
    """Bytes of an int8 tensor: its float32 scales, then one byte per value."""
    return 4 * channel_layout(shape, axes)[1] + int(np.prod(shape))


def decode_int8(buf: bytes, offset: int, shape: Sequence[int], axes: Sequence[int]) -> np.ndarray:
    """The float32 values of the int8 tensor stored at buf[offset:]."""
    outer, channels, inner = channel_layout(shape, axes)
    n = outer * channels * inner
    if offset + 4 * channels + n > len(buf):
        raise ValueError(f'int8 tensor of shape {list(shape)}: the data end before it does (truncated weights)')
    scales = np.frombuffer(buf, '<f4', channels, offset)
    q = np.frombuffer(buf, np.int8, n, offset + 4 * channels).reshape(outer, channels, inner)
    return (q.astype(np.float32) * scales[None, :, None]).reshape(shape)
