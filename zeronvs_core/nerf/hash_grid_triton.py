"""Fused hash-grid encoding in Triton: forward, backward and the backward-of-backward of analytic normals.

The same encoding as ``hash_grid.HashGrid`` (its module docstring gives the table layout, the index and the
rounding rules, which are kept bit for bit: positions ``float32(float64(x) * scale + 0.5)``, the float-to-int
conversion of the cell, uint32 index arithmetic, the modulo by the level's rows), computed the way tiny-cuda-nn
computes it (NVlabs/tiny-cuda-nn, ``include/tiny-cuda-nn/encodings/grid.h``) instead of as a graph of torch ops.
Each program of every kernel takes a block of points and loops over the levels, with the 8 corners of each
point's cell as a second tile axis (corner ``k = bx + 2 by + 4 bz``, as in tcnn's ``kernel_grid``), so only the
table gradients need atomics; the forward saves nothing but the points (and a reference to the table):

* ``_encode_kernel`` (tcnn ``kernel_grid``): ``y[n, l, f] = sum_k w_k T[row_k, f]`` over the 8 corners ``k`` of
  the point's cell at level ``l``, ``w_k = (w_x * w_y) * w_z`` with ``w = frac`` or ``1 - frac`` per axis.
* ``_backward_kernel`` (tcnn ``kernel_grid_backward`` and ``kernel_grid_backward_input``): given ``g = dL/dy``,
  ``dL/dT[row_k, f] += w_k g[f]`` (atomics) and ``dL/dx_d = sum_l scale_l sum_k (+-1)_d w_k^(-d) (g . T_k)``,
  where ``w_k^(-d)`` is the product of the two other axes' weights and ``(+-1)_d`` is ``+1`` on the high side.
* ``_double_backward_kernel`` (tcnn ``kernel_grid_backward_input_backward_grid``, ``..._backward_input`` and
  ``..._backward_dLdoutput``): given ``h = dL/d(dL/dx)`` and the saved ``g``, with per-corner coefficients
  ``c_k = scale * sum_d h_d (+-1)_d w_k^(-d)``: the table gradient ``dL/dT[row_k, f] += c_k g[f]`` (atomics),
  the upstream term ``dL/dg[f] = sum_k c_k T[row_k, f]`` and the Hessian-vector term
  ``dL/dx_e = scale^2 sum_{d != e} h_d sum_k (+-1)_d (+-1)_e w_k^(-d,-e) (g . T_k)``: trilinear interpolation
  is linear along each axis, so the Hessian has off-diagonal terms only.

When the first backward's table gradient is itself differentiated (``torch.autograd.gradcheck`` does, analytic
normals do not), its terms reuse the first two kernels with that gradient as the table.

Precision: positions and weights in the points' dtype, sums in float32 (float64 for a float64 table; a float16
or bfloat16 table is read and summed in float32, more precisely than the plain path's half-precision sums). Table
gradients are accumulated in that dtype and cast to the table's; with atomics their summation order, and so their
last bits, vary from run to run on CUDA. With float64 points *and* a float64 table, positions are float64 too (not
rounded to float32): the path ``torch.autograd.gradcheck`` checks. The kernels run on CUDA, or on CPU tensors
under Triton's interpreter (``TRITON_INTERPRET=1`` set before ``triton`` is imported). Measured against the plain
grid: ``tests/nerf/test_hash_grid_triton.py``; speed and memory: ``benchmarks/bench_hash_grid.py``. One module for
the three kernels and their autograd Functions, over the usual 400 lines: they share the level geometry and make
sense only together.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import triton
import triton.language as tl
from torch.autograd.function import once_differentiable
from triton.runtime.interpreter import InterpretedFunction

__all__ = ["GridLayout", "encode", "grid_layout"]

if int(triton.__version__.split(".")[0]) < 3:
    raise ImportError(f"the Triton hash grid needs triton >= 3.0, found {triton.__version__}")

# Points per program. On a GPU, 32 // F: a [points, 8 corners, F] tile of 256 values over the 128 threads of 4
# warps, about one corner per thread as in tcnn (ptxas for sm_90: 40-96 registers, no spills, for F = 1..8). In the
# interpreter, where each program is a Python-level run, as many as fit.
_TILE_CUDA = 256
_BLOCK_INTERPRETER = 1024


class GridLayout(NamedTuple):
    """Per-level constants of a ``HashGrid``, on the table's device (see ``grid_layout``)."""

    scales: torch.Tensor
    """``[L]`` float32: grid cells per unit of input (tcnn ``grid_scale``)."""
    multipliers: torch.Tensor
    """``[L, 3]`` int64 in ``[0, 2**32)``: per axis, the factor of the vertex coordinate in the index (dense
    strides ``1, res, res**2``, or the hash primes)."""
    rows: torch.Tensor
    """``[L]`` int64: rows of the level's part of the table (the index is taken modulo this)."""
    offsets: torch.Tensor
    """``[L]`` int64: the level's first row in the stacked table."""
    n_dense: int
    """The first ``n_dense`` levels are dense (index a sum), the others hashed (index a xor)."""


def grid_layout(grid: torch.nn.Module) -> GridLayout:
    """The ``GridLayout`` of a ``hash_grid.HashGrid`` (its buffers, no copy)."""
    return GridLayout(grid._scale_bits.view(torch.float32), grid._multiplier, grid._rows, grid._offset, grid._n_dense)


# ---------------------------------------------------------------------------------------------------------------
# Kernels. Tiles are [points, 8 corners] (corner k = bx + 2 by + 4 bz, as tcnn's kernel_grid), and
# [points, 8 corners, F features] for table rows.


@triton.jit
def _axis(x, scale, multiplier, high, POS_F64: tl.constexpr, ACC: tl.constexpr):
    """One axis at one level: per corner, the interpolation weight and the vertex's term of the index."""
    pos = x.to(tl.float64) * scale.to(tl.float64) + 0.5  # tcnn pos_fract: fmaf(scale, x, 0.5f)
    if not POS_F64:
        pos = pos.to(tl.float32)
    cell = tl.floor(pos)
    frac = (pos - cell)[:, None]
    # (uint32_t)(int)floorf(pos) as HashGrid computes it: NaN to 0, clamp, int64, low 32 bits.
    cell = tl.where(cell == cell, cell, 0.0)
    cell = tl.minimum(tl.maximum(cell, -2147483648.0), 2147483648.0)
    low = tl.minimum(cell.to(tl.int64), 2147483647).to(tl.uint32)[:, None]  # int32's upper end, not a float32
    weight = tl.where(high, frac, 1.0 - frac).to(ACC)
    return weight, tl.where(high, low + 1, low) * multiplier


@triton.jit
def _level(
    x0, x1, x2, level, scale_ptr, mult_ptr, rows_ptr, offset_ptr, n_dense, POS_F64: tl.constexpr, ACC: tl.constexpr
):
    """The points' cells at one level: ``(scale, rows [B, 8], per-axis weights [B, 8], per-axis signs [1, 8])``;
    the sign is ``+1`` where the corner is on the high side of the axis (the derivative of its weight)."""
    corner = tl.arange(0, 8)[None, :]
    high0 = (corner & 1) != 0
    high1 = (corner & 2) != 0
    high2 = (corner & 4) != 0
    scale = tl.load(scale_ptr + level)
    w0, t0 = _axis(x0, scale, tl.load(mult_ptr + 3 * level).to(tl.uint32), high0, POS_F64, ACC)
    w1, t1 = _axis(x1, scale, tl.load(mult_ptr + 3 * level + 1).to(tl.uint32), high1, POS_F64, ACC)
    w2, t2 = _axis(x2, scale, tl.load(mult_ptr + 3 * level + 2).to(tl.uint32), high2, POS_F64, ACC)
    index = tl.where(level >= n_dense, t0 ^ t1 ^ t2, t0 + t1 + t2)  # tcnn grid_index: hashed, or dense
    row = (index % tl.load(rows_ptr + level).to(tl.uint32)).to(tl.int64) + tl.load(offset_ptr + level)
    sign0 = tl.where(high0, 1.0, -1.0).to(ACC)
    sign1 = tl.where(high1, 1.0, -1.0).to(ACC)
    sign2 = tl.where(high2, 1.0, -1.0).to(ACC)
    return scale.to(ACC), row, w0, w1, w2, sign0, sign1, sign2


@triton.jit
def _load_points(x_ptr, n_points, BLOCK: tl.constexpr):
    points = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = points < n_points
    x0 = tl.load(x_ptr + 3 * points, mask=inside, other=0.0)
    x1 = tl.load(x_ptr + 3 * points + 1, mask=inside, other=0.0)
    x2 = tl.load(x_ptr + 3 * points + 2, mask=inside, other=0.0)
    return points, inside, x0, x1, x2


@triton.jit
def _store_points(dx_ptr, points, inside, dx0, dx1, dx2):
    out_ty = dx_ptr.dtype.element_ty
    tl.store(dx_ptr + 3 * points, dx0.to(out_ty), mask=inside)
    tl.store(dx_ptr + 3 * points + 1, dx1.to(out_ty), mask=inside)
    tl.store(dx_ptr + 3 * points + 2, dx2.to(out_ty), mask=inside)


@triton.jit
def _encode_kernel(
    x_ptr,
    table_ptr,
    out_ptr,
    scale_ptr,
    mult_ptr,
    rows_ptr,
    offset_ptr,
    n_points,
    n_levels,
    n_dense,
    F: tl.constexpr,
    BLOCK: tl.constexpr,
    POS_F64: tl.constexpr,
    ACC: tl.constexpr,
):
    points, inside, x0, x1, x2 = _load_points(x_ptr, n_points, BLOCK)
    feature = tl.arange(0, F)
    out_at = points[:, None] * (n_levels * F) + feature[None, :]
    for level in range(n_levels):
        _, row, w0, w1, w2, _, _, _ = _level(
            x0, x1, x2, level, scale_ptr, mult_ptr, rows_ptr, offset_ptr, n_dense, POS_F64, ACC
        )
        at = row[:, :, None] * F + feature[None, None, :]
        values = tl.load(table_ptr + at, mask=inside[:, None, None], other=0.0).to(ACC)
        encoded = tl.sum(((w0 * w1) * w2)[:, :, None] * values, axis=1)
        tl.store(out_ptr + out_at + level * F, encoded.to(out_ptr.dtype.element_ty), mask=inside[:, None])


@triton.jit
def _backward_kernel(
    x_ptr,
    table_ptr,
    grad_ptr,
    dtable_ptr,
    dx_ptr,
    scale_ptr,
    mult_ptr,
    rows_ptr,
    offset_ptr,
    n_points,
    n_levels,
    n_dense,
    F: tl.constexpr,
    BLOCK: tl.constexpr,
    POS_F64: tl.constexpr,
    ACC: tl.constexpr,
    NEED_TABLE: tl.constexpr,
    NEED_X: tl.constexpr,
):
    points, inside, x0, x1, x2 = _load_points(x_ptr, n_points, BLOCK)
    feature = tl.arange(0, F)
    grad_at = points[:, None] * (n_levels * F) + feature[None, :]
    dx0 = tl.zeros((BLOCK,), ACC)
    dx1 = tl.zeros((BLOCK,), ACC)
    dx2 = tl.zeros((BLOCK,), ACC)
    for level in range(n_levels):
        scale, row, w0, w1, w2, sign0, sign1, sign2 = _level(
            x0, x1, x2, level, scale_ptr, mult_ptr, rows_ptr, offset_ptr, n_dense, POS_F64, ACC
        )
        at = row[:, :, None] * F + feature[None, None, :]
        grad = tl.load(grad_ptr + grad_at + level * F, mask=inside[:, None], other=0.0).to(ACC)[:, None, :]
        if NEED_TABLE:
            tl.atomic_add(dtable_ptr + at, ((w0 * w1) * w2)[:, :, None] * grad, mask=inside[:, None, None])
        if NEED_X:
            values = tl.load(table_ptr + at, mask=inside[:, None, None], other=0.0).to(ACC)
            projected = tl.sum(values * grad, axis=2)  # g . T_k
            dx0 += scale * tl.sum(sign0 * w1 * w2 * projected, axis=1)
            dx1 += scale * tl.sum(sign1 * w0 * w2 * projected, axis=1)
            dx2 += scale * tl.sum(sign2 * w0 * w1 * projected, axis=1)
    if NEED_X:
        _store_points(dx_ptr, points, inside, dx0, dx1, dx2)


@triton.jit
def _double_backward_kernel(
    x_ptr,
    table_ptr,
    grad_ptr,
    ggx_ptr,
    dtable_ptr,
    dx_ptr,
    dgrad_ptr,
    scale_ptr,
    mult_ptr,
    rows_ptr,
    offset_ptr,
    n_points,
    n_levels,
    n_dense,
    F: tl.constexpr,
    BLOCK: tl.constexpr,
    POS_F64: tl.constexpr,
    ACC: tl.constexpr,
    NEED_TABLE: tl.constexpr,
    NEED_X: tl.constexpr,
    NEED_GRAD: tl.constexpr,
):
    points, inside, x0, x1, x2 = _load_points(x_ptr, n_points, BLOCK)
    feature = tl.arange(0, F)
    grad_at = points[:, None] * (n_levels * F) + feature[None, :]
    h0 = tl.load(ggx_ptr + 3 * points, mask=inside, other=0.0).to(ACC)[:, None]
    h1 = tl.load(ggx_ptr + 3 * points + 1, mask=inside, other=0.0).to(ACC)[:, None]
    h2 = tl.load(ggx_ptr + 3 * points + 2, mask=inside, other=0.0).to(ACC)[:, None]
    dx0 = tl.zeros((BLOCK,), ACC)
    dx1 = tl.zeros((BLOCK,), ACC)
    dx2 = tl.zeros((BLOCK,), ACC)
    for level in range(n_levels):
        scale, row, w0, w1, w2, sign0, sign1, sign2 = _level(
            x0, x1, x2, level, scale_ptr, mult_ptr, rows_ptr, offset_ptr, n_dense, POS_F64, ACC
        )
        at = row[:, :, None] * F + feature[None, None, :]
        # dL/d(dL/dfrac_d) = scale * h_d, signed per corner: the derivative of the corner's weight along d.
        s0 = sign0 * (scale * h0)
        s1 = sign1 * (scale * h1)
        s2 = sign2 * (scale * h2)
        coefficient = s0 * w1 * w2 + s1 * w0 * w2 + s2 * w0 * w1  # c_k, [B, 8]
        grad = tl.zeros((BLOCK, 1, F), ACC)
        if NEED_TABLE or NEED_X:
            grad = tl.load(grad_ptr + grad_at + level * F, mask=inside[:, None], other=0.0).to(ACC)[:, None, :]
        if NEED_TABLE:
            tl.atomic_add(dtable_ptr + at, coefficient[:, :, None] * grad, mask=inside[:, None, None])
        if NEED_X or NEED_GRAD:
            values = tl.load(table_ptr + at, mask=inside[:, None, None], other=0.0).to(ACC)
            if NEED_GRAD:
                dgrad = tl.sum(coefficient[:, :, None] * values, axis=1)
                tl.store(dgrad_ptr + grad_at + level * F, dgrad.to(dgrad_ptr.dtype.element_ty), mask=inside[:, None])
            if NEED_X:
                # Off-diagonal Hessian of the blend: d2 w_k / dfrac_d dfrac_e = sign_d sign_e w_k^(-d,-e).
                projected = tl.sum(values * grad, axis=2)
                dx0 += scale * tl.sum(sign0 * (s1 * w2 + s2 * w1) * projected, axis=1)
                dx1 += scale * tl.sum(sign1 * (s0 * w2 + s2 * w0) * projected, axis=1)
                dx2 += scale * tl.sum(sign2 * (s0 * w1 + s1 * w0) * projected, axis=1)
    if NEED_X:
        _store_points(dx_ptr, points, inside, dx0, dx1, dx2)


# ---------------------------------------------------------------------------------------------------------------
# Launchers


def _launch_settings(x: torch.Tensor, table: torch.Tensor, layout: GridLayout) -> dict:
    if x.device.type != "cuda" and not isinstance(_encode_kernel, InterpretedFunction):
        raise RuntimeError(
            f"the Triton hash grid got {x.device.type} tensors: Triton runs on CUDA, or on the CPU only in its "
            "interpreter (set TRITON_INTERPRET=1 before triton is imported, or use ZERONVS_HASH_GRID=torch)"
        )
    return {
        "n_points": x.shape[0],
        "n_levels": layout.rows.shape[0],
        "n_dense": layout.n_dense,
        "F": table.shape[1],
        "BLOCK": _TILE_CUDA // (8 * table.shape[1]) if x.device.type == "cuda" else _BLOCK_INTERPRETER,
        "POS_F64": x.dtype == torch.float64,
        "ACC": tl.float64 if table.dtype == torch.float64 else tl.float32,
    }


def _layout_args(layout: GridLayout) -> tuple[torch.Tensor, ...]:
    return layout.scales, layout.multipliers, layout.rows, layout.offsets


def _programs(settings: dict) -> tuple[int]:
    return (triton.cdiv(settings["n_points"], settings["BLOCK"]),)


def _accumulator_like(table: torch.Tensor) -> torch.Tensor:
    dtype = torch.float64 if table.dtype == torch.float64 else torch.float32
    return torch.zeros(table.shape, dtype=dtype, device=table.device)


def _run_encode(x: torch.Tensor, table: torch.Tensor, layout: GridLayout) -> torch.Tensor:
    settings = _launch_settings(x, table, layout)
    out = torch.empty(x.shape[0], settings["n_levels"] * table.shape[1], dtype=table.dtype, device=x.device)
    if x.shape[0]:
        _encode_kernel[_programs(settings)](x, table, out, *_layout_args(layout), **settings)
    return out


def _run_backward(
    x: torch.Tensor, table: torch.Tensor, grad: torch.Tensor, layout: GridLayout, need_x: bool, need_table: bool
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """``(dL/dx, dL/dtable)`` (each ``None`` unless asked for) from ``grad = dL/dy``."""
    settings = _launch_settings(x, table, layout)
    dx = torch.empty_like(x) if need_x else None
    dtable = _accumulator_like(table) if need_table else None
    if x.shape[0] and (need_x or need_table):
        _backward_kernel[_programs(settings)](
            x, table, grad, dtable, dx, *_layout_args(layout), **settings, NEED_TABLE=need_table, NEED_X=need_x
        )
    return dx, None if dtable is None else dtable.to(table.dtype)


def _run_double_backward(
    x: torch.Tensor,
    table: torch.Tensor,
    grad: torch.Tensor,
    grad_of_dx: torch.Tensor,
    layout: GridLayout,
    needs: tuple[bool, bool, bool],
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """``(dL/dgrad, dL/dx, dL/dtable)`` from ``grad_of_dx = dL/d(dL/dx)``; ``needs`` says which, in that order."""
    need_grad, need_x, need_table = needs
    settings = _launch_settings(x, table, layout)
    dgrad = torch.empty_like(grad) if need_grad else None
    dx = torch.empty_like(x) if need_x else None
    dtable = _accumulator_like(table) if need_table else None
    if x.shape[0] and any(needs):
        _double_backward_kernel[_programs(settings)](
            x,
            table,
            grad,
            grad_of_dx.contiguous(),
            dtable,
            dx,
            dgrad,
            *_layout_args(layout),
            **settings,
            NEED_TABLE=need_table,
            NEED_X=need_x,
            NEED_GRAD=need_grad,
        )
    return dgrad, dx, None if dtable is None else dtable.to(table.dtype)


# ---------------------------------------------------------------------------------------------------------------
# Autograd


class _Encode(torch.autograd.Function):
    """``y = encode(x, table)``; saves ``x`` and the table, whose backward is ``_Backward`` (differentiable)."""

    @staticmethod
    def forward(ctx, x, table, layout):
        ctx.layout = layout  # the grid's buffers, not saved activations
        ctx.save_for_backward(x, table)
        return _run_encode(x, table, layout)

    @staticmethod
    def backward(ctx, grad):
        x, table = ctx.saved_tensors
        dx, dtable = _Backward.apply(grad, x, table, ctx.layout, *ctx.needs_input_grad[:2])
        return dx, dtable, None


class _Backward(torch.autograd.Function):
    """``(dL/dx, dL/dtable)`` from ``grad = dL/dy``; its own backward is the backward-of-backward."""

    @staticmethod
    def forward(ctx, grad, x, table, layout, need_x, need_table):
        ctx.set_materialize_grads(False)
        grad = grad.contiguous()
        ctx.layout = layout
        ctx.save_for_backward(grad, x, table)
        return _run_backward(x, table, grad, layout, need_x, need_table)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_of_dx, grad_of_dtable):
        grad, x, table = ctx.saved_tensors
        need_grad, need_x, need_table = ctx.needs_input_grad[:3]
        dgrad = dx = dtable = None
        if grad_of_dx is not None:
            dgrad, dx, dtable = _run_double_backward(
                x, table, grad, grad_of_dx, ctx.layout, (need_grad, need_x, need_table)
            )
        if grad_of_dtable is not None:
            # dL/dtable of the first backward is linear in grad and independent of the table: its terms are the
            # encoding of grad_of_dtable (for grad) and that encoding's input gradient (for x).
            grad_of_dtable = grad_of_dtable.contiguous()
            if need_grad:
                encoded = _run_encode(x, grad_of_dtable, ctx.layout).to(grad.dtype)
                dgrad = encoded if dgrad is None else dgrad + encoded
            if need_x:
                dx_term, _ = _run_backward(x, grad_of_dtable, grad, ctx.layout, True, False)
                dx = dx_term if dx is None else dx + dx_term
        return dgrad, dx, dtable, None, None, None


def encode(x: torch.Tensor, table: torch.Tensor, layout: GridLayout) -> torch.Tensor:
    """Hash-grid encoding of points by the Triton kernels, differentiable to second order.

    Args:
        x: ``[N, 3]`` float32 points, nominally in ``[0, 1]^3`` (``HashGrid.forward`` casts to float32 first), or
            float64 with a float64 table (positions then stay float64: the gradcheck path).
        table: ``[rows, F]`` feature table (``HashGrid.params``), float16, bfloat16, float32 or float64, on
            ``x``'s device.
        layout: the grid's per-level constants (``grid_layout(grid)``), on ``x``'s device.

    Returns:
        ``[N, L * F]`` in the table's dtype, level-major, as ``HashGrid.forward``. Gradients flow to ``x`` and
        ``table``, and the gradient with respect to ``x`` is itself differentiable (analytic normals); a third
        derivative raises.

    Raises:
        ValueError: on a shape, device or dtype mismatch.
        RuntimeError: on CPU tensors outside Triton's interpreter.
    """
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"x must have shape [N, 3], got {tuple(x.shape)}")
    if table.ndim != 2 or table.shape[1] not in (1, 2, 4, 8):
        raise ValueError(f"the table must have shape [rows, F] with F in 1, 2, 4, 8, got {tuple(table.shape)}")
    if table.device != x.device or layout.rows.device != x.device:
        raise ValueError(
            f"x ({x.device}), the table ({table.device}) and the grid layout ({layout.rows.device}) must share a device"
        )
    if not (x.dtype == torch.float32 or (x.dtype == torch.float64 and table.dtype == torch.float64)):
        raise ValueError(f"x must be float32 (or float64 with a float64 table), got {x.dtype} and {table.dtype}")
    if table.dtype not in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        raise ValueError(f"the table must be float16, bfloat16, float32 or float64, got {table.dtype}")
    return _Encode.apply(x.contiguous(), table.contiguous(), layout)
