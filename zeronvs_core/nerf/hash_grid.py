"""Multiresolution hash encoding in plain PyTorch, with tiny-cuda-nn's ``HashGrid`` semantics.

This reproduces the encoding that threestudio/ZeroNVS build with ``tcnn.Encoding(3, {"otype": "HashGrid",
...})``: tiny-cuda-nn's ``GridEncodingTemplated`` with ``GridType::Hash``, ``HashType::CoherentPrime`` and
``InterpolationType::Linear`` for 3-D inputs (NVlabs/tiny-cuda-nn, ``include/tiny-cuda-nn/encodings/grid.h``
and ``include/tiny-cuda-nn/common_device.h``: ``grid_scale``, ``grid_resolution``, ``pos_fract``,
``grid_index``, ``coherent_prime_hash``, ``kernel_grid``). Every operation is an ordinary differentiable torch
op, so gradients flow to the feature table and to the input points, including second order (analytic
normals whose losses are back-propagated).

Conventions, per level ``l`` (0-based) of ``n_levels``; all float arithmetic is float32 as in tcnn:

* ``scale_l = exp2(l * log2(per_level_scale)) * base_resolution - 1`` (``grid_scale``) and
  ``resolution_l = ceil(scale_l) + 1`` vertices per axis (``grid_resolution``).
* Table rows of the level: ``min(next_multiple_of_8(resolution_l ** 3), 2 ** log2_hashmap_size)``. A level is
  *dense* (row-major index ``x + y * res + z * res**2``, x fastest) when that is at least ``resolution_l ** 3``,
  otherwise *hashed* (``x * 1 ^ y * 2654435761 ^ z * 805459861`` in uint32); either index is taken modulo the
  level's row count. All levels' rows are stacked, level 0 first, in one ``[rows, n_features_per_level]``
  parameter ``params``: tcnn's flat float32 ``params`` vector reshaped to ``(-1, n_features_per_level)`` is
  exactly this table.
* A point ``x`` in ``[0, 1]^3`` maps to ``pos = fma(scale_l, x, 0.5)`` per axis, ``cell = floor(pos)``,
  ``frac = pos - cell``; its feature is the trilinear blend of the 8 vertices ``cell + {0, 1}^3`` with weights
  ``prod(frac if bit else 1 - frac)``. Vertex coordinates are not clamped: like tcnn they are taken as uint32
  (negative ones wrap around) and the modulo by the row count keeps every index in the table, so points
  outside ``[0, 1]^3`` are encoded too (they alias onto other vertices).

Backends: this module's plain-PyTorch graph (the CPU path, the fallback where Triton is missing, and the oracle
of the tests), or the fused Triton kernels of ``hash_grid_triton`` (tiny-cuda-nn's way: the forward saves only the
points, the backward scatters into the table with atomics, and the backward-of-backward of analytic normals is
its own kernel), which compute the same table rows and the same values to float32 rounding. ``HashGrid.forward``
chooses Triton when the input is on CUDA and ``triton`` imports; the environment variable ``ZERONVS_HASH_GRID``
(``torch`` or ``triton``, read at every call) forces one. Forced ``triton`` on CPU tensors runs the kernels in
Triton's interpreter, which needs ``TRITON_INTERPRET=1`` set before ``triton`` is imported.
"""

from __future__ import annotations

import functools
import math
import operator
import os
from types import ModuleType

import numpy as np
import torch
from torch import nn

__all__ = ["BACKEND_ENV", "HashGrid", "tcnn_grid_scale"]

BACKEND_ENV = "ZERONVS_HASH_GRID"
"""Environment variable that forces the backend of every ``HashGrid``: ``torch`` or ``triton`` (unset: automatic)."""

_UINT32_MASK = 0xFFFFFFFF
# tiny-cuda-nn's ``coherent_prime_hash`` factors for the first three dimensions.
_PRIMES = (1, 2654435761, 805459861)
# tiny-cuda-nn's supported ``n_features_per_level`` values and its ``MAX_N_LEVELS``.
_FEATURES_PER_LEVEL = (1, 2, 4, 8)
_MAX_LEVELS = 128


def tcnn_grid_scale(level: int, per_level_scale: float, base_resolution: int) -> float:
    """tiny-cuda-nn's ``grid_scale`` in float32: ``exp2f(level * log2(per_level_scale)) * base_resolution - 1``.

    ``per_level_scale`` is first rounded to float32 (tcnn keeps it as a ``float``), its ``log2`` and the
    product with ``level`` are rounded to float32, ``exp2`` is correctly rounded to float32 (tcnn's host-side
    ``exp2f``; its device ``exp2f`` may differ by 1-2 float32 ulps), and ``* base_resolution - 1`` is rounded
    once, as the fused multiply-add that nvcc contracts it to on the device (the same as two roundings for
    power-of-two bases such as ZeroNVS's 16, where the product is exact).

    Returns:
        The scale as a Python float holding a float32 value: grid cells per unit of input.
    """
    log2_scale = np.float32(math.log2(float(np.float32(per_level_scale))))
    exponent = np.float32(np.float32(level) * log2_scale)
    factor = np.float32(2.0 ** float(exponent))
    return float(np.float32(float(factor) * float(base_resolution) - 1.0))


def _positive_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return value


@functools.cache
def _triton_backend() -> ModuleType | None:
    """``hash_grid_triton``, or ``None`` where Triton does not import (Windows, macOS, CPU-only installs)."""
    try:
        from . import hash_grid_triton
    except ImportError:
        return None
    return hash_grid_triton


def _uses_triton(x: torch.Tensor) -> bool:
    """Whether ``x`` is encoded by the Triton kernels: ``BACKEND_ENV`` if set, else when ``x`` is on CUDA."""
    choice = os.environ.get(BACKEND_ENV, "").strip().lower()
    if choice not in ("", "torch", "triton"):
        raise ValueError(f"{BACKEND_ENV} must be 'torch', 'triton' or unset, got {os.environ[BACKEND_ENV]!r}")
    if choice == "torch":
        return False
    if choice == "triton":
        if _triton_backend() is None:
            raise RuntimeError(f"{BACKEND_ENV}=triton, but triton does not import here (pip install triton; Linux)")
        return True
    return x.is_cuda and _triton_backend() is not None


def _mul_mod_2_32(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(a * b) mod 2**32`` for int64 tensors with values in ``[0, 2**32)``, without int64 overflow."""
    low = (a & 0xFFFF) * b
    high = ((a >> 16) * b) & 0xFFFF
    return (low + (high << 16)) & _UINT32_MASK


class HashGrid(nn.Module):
    """tiny-cuda-nn ``HashGrid`` encoding of 3-D points (linear interpolation, coherent prime hash).

    Args:
        n_levels: number of resolution levels (1..128, tcnn's ``MAX_N_LEVELS``).
        n_features_per_level: features stored per table row (1, 2, 4 or 8, as tcnn supports).
        log2_hashmap_size: log2 of the maximum rows per level (1..31).
        base_resolution: vertices per axis of level 0 (``>= 1``); level 0 has ``base_resolution - 1``
            cells across the unit cube.
        per_level_scale: growth factor of the resolution per level (finite, ``>= 1``). ZeroNVS's field uses
            ``1.447269237440378`` (``256 ** (1 / 15)``: levels 16 to 4096), its proposal network
            ``1.681792830507429`` (``2 ** (3 / 4)``: levels 16 to 128).

    Attributes:
        output_dim: ``n_levels * n_features_per_level``.
        params: the feature table ``[sum(table_sizes), n_features_per_level]`` float32, initialised uniform in
            ``[-1e-4, 1e-4]`` (tcnn's initialisation); rows ``offsets[l] : offsets[l] + table_sizes[l]``
            belong to level ``l``.
        scales, resolutions, table_sizes, offsets, hashed: per-level Python lists (see the module docstring);
            ``hashed[l]`` tells whether level ``l`` is indexed by the hash rather than densely.

    Input ``[N, 3]`` floating point, nominally in ``[0, 1]`` (cast to float32 like tcnn); output
    ``[N, output_dim]`` in the table's dtype, level-major (the ``n_features_per_level`` features of level 0
    first). Differentiable with respect to the input and the table: to any order with the plain-PyTorch backend, to
    second order (analytic normals and their losses) with the Triton kernels, which ``forward`` picks on CUDA
    (see the module docstring; ``ZERONVS_HASH_GRID`` forces a backend).
    """

    def __init__(
        self,
        n_levels: int = 16,
        n_features_per_level: int = 2,
        log2_hashmap_size: int = 19,
        base_resolution: int = 16,
        per_level_scale: float = 1.447269237440378,
    ):
        super().__init__()
        n_levels = _positive_int("n_levels", n_levels, 1, _MAX_LEVELS)
        if isinstance(n_features_per_level, bool) or n_features_per_level not in _FEATURES_PER_LEVEL:
            raise ValueError(f"n_features_per_level must be one of {_FEATURES_PER_LEVEL}, got {n_features_per_level!r}")
        n_features_per_level = int(n_features_per_level)
        log2_hashmap_size = _positive_int("log2_hashmap_size", log2_hashmap_size, 1, 31)
        base_resolution = _positive_int("base_resolution", base_resolution, 1, 2**24)
        try:
            per_level_scale = float(per_level_scale)
        except (TypeError, ValueError):
            raise ValueError(f"per_level_scale must be a real number, got {per_level_scale!r}") from None
        if not (math.isfinite(per_level_scale) and per_level_scale >= 1.0):
            raise ValueError(f"per_level_scale must be finite and >= 1, got {per_level_scale}")

        self.n_levels = n_levels
        self.n_features_per_level = n_features_per_level
        self.log2_hashmap_size = log2_hashmap_size
        self.base_resolution = base_resolution
        self.per_level_scale = per_level_scale
        self.output_dim = n_levels * n_features_per_level

        hashmap_size = 1 << log2_hashmap_size
        self.scales: list[float] = []
        self.resolutions: list[int] = []
        self.table_sizes: list[int] = []
        self.offsets: list[int] = []
        self.hashed: list[bool] = []
        offset = 0
        for level in range(n_levels):
            scale = tcnn_grid_scale(level, per_level_scale, base_resolution)
            # Beyond 2**24 float32 has no fractional part left; far beyond, tcnn's int conversions overflow.
            if not scale < 2.0**24:
                raise ValueError(
                    f"per_level_scale={per_level_scale} with base_resolution={base_resolution} and "
                    f"n_levels={n_levels} gives level {level} a scale of {scale}, above 2**24"
                )
            resolution = math.ceil(scale) + 1
            dense_rows = resolution**3
            rows = min(-(-min(dense_rows, 2**31 - 1) // 8) * 8, hashmap_size)
            self.scales.append(scale)
            self.resolutions.append(resolution)
            self.table_sizes.append(rows)
            self.offsets.append(offset)
            # tcnn's grid_index: hashed when the level's rows are fewer than its dense vertex count.
            self.hashed.append(rows < dense_rows)
            offset += rows
        # Resolutions never decrease with the level, so the dense levels come first.
        self._n_dense = self.hashed.index(True) if any(self.hashed) else n_levels
        if any(not hashed for hashed in self.hashed[self._n_dense :]):
            raise AssertionError("dense levels must precede hashed levels")

        self.params = nn.Parameter(torch.empty(offset, n_features_per_level, dtype=torch.float32))
        self.reset_parameters()

        # Per level: the float32 scale, kept as its bit pattern so that Module.half() or .to(dtype) cannot round
        # it; per axis, the multiplier of the vertex coordinate in the index (dense stride res**axis, or the
        # hash prime); row count and first row.
        scale_bits = torch.from_numpy(np.array(self.scales, dtype=np.float32).view(np.int32))
        self.register_buffer("_scale_bits", scale_bits, persistent=False)
        multipliers = [
            list(_PRIMES) if hashed else [1, resolution, resolution**2]
            for hashed, resolution in zip(self.hashed, self.resolutions, strict=True)
        ]
        self.register_buffer("_multiplier", torch.tensor(multipliers, dtype=torch.int64), persistent=False)
        self.register_buffer("_rows", torch.tensor(self.table_sizes, dtype=torch.int64), persistent=False)
        self.register_buffer("_offset", torch.tensor(self.offsets, dtype=torch.int64), persistent=False)

    def reset_parameters(self) -> None:
        """Re-initialise the table uniform in ``[-1e-4, 1e-4]`` (tiny-cuda-nn's ``initialize_params``)."""
        with torch.no_grad():
            self.params.uniform_(-1e-4, 1e-4)

    @property
    def n_params(self) -> int:
        """Number of scalar parameters (``params.numel()``), as tcnn's ``n_params``."""
        return self.params.numel()

    def extra_repr(self) -> str:
        return (
            f"n_levels={self.n_levels}, n_features_per_level={self.n_features_per_level}, "
            f"log2_hashmap_size={self.log2_hashmap_size}, base_resolution={self.base_resolution}, "
            f"per_level_scale={self.per_level_scale}, dense_levels={self._n_dense}"
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode points.

        Args:
            x: ``[N, 3]`` floating point, nominally in ``[0, 1]^3`` (outside, the vertices wrap as in tcnn).

        Returns:
            ``[N, n_levels * n_features_per_level]``: level ``l``'s features in columns
            ``l * n_features_per_level`` onwards.

        Raises:
            ValueError: ``x`` is not a floating ``[N, 3]`` tensor, or ``ZERONVS_HASH_GRID`` has another value.
            RuntimeError: ``ZERONVS_HASH_GRID=triton`` where triton does not import, or on CPU tensors outside
                Triton's interpreter.
        """
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != 3:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be a tensor of shape [N, 3], got {shape}")
        if not x.is_floating_point():
            raise ValueError(f"x must be floating point, got {x.dtype}")
        if _uses_triton(x):
            backend = _triton_backend()
            return backend.encode(x.float(), self.params, backend.grid_layout(self))
        n_points = x.shape[0]
        n_levels, n_features = self.n_levels, self.n_features_per_level

        # tcnn's pos_fract: pos = fmaf(scale, x, 0.5f). The float32 product is exact in float64 and so is the
        # sum whenever |scale * x| >= 2**-6, so one rounding to float32 reproduces the fused multiply-add.
        x32 = x.float()
        scale = self._scale_bits.view(torch.float32).double()
        pos = (x32.double()[:, None, :] * scale[None, :, None] + 0.5).float()  # [N, L, 3]
        cell = torch.floor(pos.detach())
        frac = pos - cell  # exact in float32; d frac / d x = scale
        # (uint32_t)(int)floorf(pos): CUDA's float-to-int conversion saturates to [-2**31, 2**31 - 1] (NaN gives
        # 0); then uint32. 2**31 - 1 is not a float32, so the upper end is clamped after the conversion to int64.
        cell = torch.nan_to_num(cell, nan=0.0).clamp_(-(2.0**31), 2.0**31).long().clamp_(max=2**31 - 1) & _UINT32_MASK
        corners = torch.stack((cell, (cell + 1) & _UINT32_MASK), dim=-1)  # [N, L, 3, 2]
        terms = _mul_mod_2_32(corners, self._multiplier[None, :, :, None])  # [N, L, 3, 2]
        # Corner k = bx + 2 by + 4 bz as in tcnn's kernel_grid: dims ordered (z, y, x) below.
        tx = terms[:, :, 0, None, None, :]
        ty = terms[:, :, 1, None, :, None]
        tz = terms[:, :, 2, :, None, None]
        nd = self._n_dense
        parts = []
        if nd > 0:
            parts.append((tx[:, :nd] + ty[:, :nd] + tz[:, :nd]) & _UINT32_MASK)
        if nd < n_levels:
            parts.append(tx[:, nd:] ^ ty[:, nd:] ^ tz[:, nd:])
        index = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        del parts, tx, ty, tz, terms, corners, cell
        index = index.reshape(n_points, n_levels, 8)
        index %= self._rows[:, None]
        index += self._offset[:, None]
        # int64 indices: on the CPU the backward (index_add_) is about 8x slower with int32 ones.
        features = self.params.index_select(0, index.reshape(-1)).reshape(n_points, n_levels, 8, n_features)

        # Trilinear weights, multiplied in tcnn's order (x, then y, then z).
        wx, wy, wz = torch.stack((1.0 - frac, frac), dim=-1).unbind(dim=2)  # each [N, L, 2]
        weights = (wx[:, :, None, None, :] * wy[:, :, None, :, None]) * wz[:, :, :, None, None]
        weights = weights.reshape(n_points, n_levels, 8, 1).to(features.dtype)
        return (features * weights).sum(dim=2).reshape(n_points, n_levels * n_features)
