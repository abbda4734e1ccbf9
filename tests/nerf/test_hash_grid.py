"""HashGrid against an independent per-point, per-level, per-corner reference of tiny-cuda-nn's grid encoding."""

import math
import struct

import numpy as np
import pytest
import torch

from zeronvs_core.nerf.hash_grid import HashGrid

DEFAULT = {}  # the field's grid: 16 levels, 2**19 rows, 16 .. 4096
PROPOSAL = {"n_levels": 5, "log2_hashmap_size": 17, "base_resolution": 16, "per_level_scale": 1.681792830507429}
# Scales 2, 5, 11, 23 (exact in float32); rows 32 (27 vertices), 216, then hashed into 256 rows.
TINY = {"n_levels": 4, "n_features_per_level": 4, "log2_hashmap_size": 8, "base_resolution": 3, "per_level_scale": 2.0}
ALL_DENSE = {
    "n_levels": 3,
    "n_features_per_level": 8,
    "log2_hashmap_size": 12,
    "base_resolution": 4,
    "per_level_scale": 1.5,
}
ALL_HASHED = {
    "n_levels": 2,
    "n_features_per_level": 1,
    "log2_hashmap_size": 5,
    "base_resolution": 5,
    "per_level_scale": 1.3,
}


# ---------------------------------------------------------------------------------------------------------------
# Reference: a transcription of tcnn's grid_scale / grid_resolution / pos_fract / grid_index / kernel_grid with
# Python ints (uint32 arithmetic by masking) and floats rounded to float32 through struct.


def f32(value: float) -> float:
    return struct.unpack("<f", struct.pack("<f", value))[0]


def u32(value: int) -> int:
    return value & 0xFFFFFFFF


def ref_levels(
    n_levels=16, n_features_per_level=2, log2_hashmap_size=19, base_resolution=16, per_level_scale=1.447269237440378
):
    """Per level: (scale, resolution, rows, first row), as GridEncodingTemplated's constructor."""
    log2_scale = f32(math.log2(f32(per_level_scale)))
    levels, offset = [], 0
    for level in range(n_levels):
        scale = f32(f32(2.0 ** f32(level * log2_scale)) * base_resolution - 1.0)
        resolution = math.ceil(scale) + 1
        rows = resolution**3
        rows = (rows + 7) // 8 * 8
        rows = min(rows, 2**log2_hashmap_size)
        levels.append((scale, resolution, rows, offset))
        offset += rows
    return levels


def ref_grid_index(hashmap_size: int, resolution: int, pos_grid: list[int]) -> int:
    """tcnn's grid_index<3, CoherentPrime> for GridType::Hash."""
    stride, index = 1, 0
    if resolution <= 0x659:
        for dim in range(3):
            index = u32(index + u32(pos_grid[dim] * stride))
            stride = u32(stride * resolution)
    else:
        stride = 0xFFFFFFFF
    if hashmap_size < stride:
        index = 0
        for dim, prime in enumerate((1, 2654435761, 805459861)):
            index ^= u32(pos_grid[dim] * prime)
    return index % hashmap_size


def ref_encode(params: np.ndarray, levels, point) -> list[float]:
    out = []
    for scale, resolution, rows, offset in levels:
        pos, pos_grid = [], []
        for dim in range(3):
            p = f32(scale * f32(point[dim]) + 0.5)  # fmaf: the product is exact in double here
            cell = math.floor(p)
            pos.append(p - cell)
            pos_grid.append(u32(min(max(cell, -(2**31)), 2**31 - 1)))  # (uint32_t)(int)floorf: CUDA saturates
        result = [0.0] * params.shape[1]
        for idx in range(8):
            weight, local = 1.0, []
            for dim in range(3):
                if idx & (1 << dim) == 0:
                    weight *= 1 - pos[dim]
                    local.append(pos_grid[dim])
                else:
                    weight *= pos[dim]
                    local.append(u32(pos_grid[dim] + 1))
            row = offset + ref_grid_index(rows, resolution, local)
            for f in range(params.shape[1]):
                result[f] += weight * float(params[row, f])
        out += result
    return out


def random_grid(config: dict, seed: int = 0) -> HashGrid:
    grid = HashGrid(**config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        grid.params.uniform_(-1.0, 1.0, generator=generator)
    return grid


def probe_points(scales: list[float]) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    points = [torch.rand(12, 3, generator=generator)]
    points.append(torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.5], [0.5, 0.5, 0.5], [1.0, 0.0, 0.25]]))
    # Points where scale * x + 0.5 rounds to (or is exactly) an integer: vertices of each level.
    vertices = []
    for index, scale in enumerate(scales):
        k = 1 + index % 3
        vertices.append([(k - 0.5) / scale, (2 * k + 0.5) / scale, 0.3])
    points.append(torch.tensor(vertices))
    # Outside the unit cube: negative vertices wrap around as uint32.
    points.append(torch.tensor([[-0.3, 1.7, 0.5], [2.25, -1.0, -0.01], [-0.01, 0.0, 1.01]]))
    return torch.cat(points).float()


@pytest.mark.parametrize(
    "config",
    [DEFAULT, PROPOSAL, TINY, ALL_DENSE, ALL_HASHED],
    ids=["default", "proposal", "tiny", "all_dense", "all_hashed"],
)
def test_matches_reference(config):
    grid = random_grid(config)
    levels = ref_levels(**config)
    assert grid.scales == [level[0] for level in levels]
    assert grid.resolutions == [level[1] for level in levels]
    assert grid.table_sizes == [level[2] for level in levels]
    assert grid.offsets == [level[3] for level in levels]
    assert grid.params.shape == (sum(level[2] for level in levels), grid.n_features_per_level)
    assert grid.hashed == [level[2] < level[1] ** 3 for level in levels]

    points = probe_points(grid.scales)
    with torch.no_grad():
        out = grid(points)
    params = grid.params.detach().numpy()
    expected = torch.tensor([ref_encode(params, levels, point.tolist()) for point in points], dtype=torch.float64)
    torch.testing.assert_close(out.double(), expected, atol=1e-6, rtol=0)


def test_tiny_config_has_dense_and_hashed_levels():
    grid = HashGrid(**TINY)
    assert grid.scales == [2.0, 5.0, 11.0, 23.0]
    assert grid.resolutions == [3, 6, 12, 24]
    assert grid.table_sizes == [32, 216, 256, 256]
    assert grid.hashed == [False, False, True, True]


def test_default_config_levels():
    grid = HashGrid()
    assert grid.output_dim == 32
    assert grid.resolutions == [16, 24, 34, 49, 71, 102, 148, 213, 308, 446, 646, 934, 1352, 1956, 2831, 4096]
    # Dense levels round 16**3 .. 71**3 up to multiples of 8; from 102**3 > 2**19 on, levels are hashed.
    assert grid.table_sizes[:5] == [4096, 13824, 39304, 117656, 357912]
    assert grid.table_sizes[5:] == [2**19] * 11
    assert grid.hashed == [False] * 5 + [True] * 11
    assert grid.scales[0] == 15.0
    assert grid.scales[15] == pytest.approx(4095.0, abs=2e-3)  # float32: 4094.9985
    assert grid.params.shape == (6299960, 2)
    assert grid.params.dtype == torch.float32
    assert grid.params.abs().max() <= 1e-4
    assert grid.params.min() < -9e-5 and grid.params.max() > 9e-5
    assert list(grid.state_dict()) == ["params"]  # level metadata is not saved


def test_proposal_config_levels():
    grid = HashGrid(**PROPOSAL)
    assert grid.output_dim == 10
    assert grid.resolutions == [16, 27, 46, 77, 128]
    assert grid.table_sizes == [4096, 19688, 97336, 2**17, 2**17]
    assert grid.hashed == [False, False, False, True, True]


def test_level_that_exactly_fits_is_dense():
    # 8**3 = 512 vertices: dense in 2**9 rows, hashed into 2**8.
    assert HashGrid(n_levels=1, base_resolution=8, log2_hashmap_size=9).hashed == [False]
    assert HashGrid(n_levels=1, base_resolution=8, log2_hashmap_size=8).hashed == [True]


def test_output_shape_dtype_and_level_major_layout():
    grid = HashGrid(**TINY)
    assert grid(torch.rand(7, 3)).shape == (7, 16)
    assert grid(torch.rand(0, 3)).shape == (0, 16)
    assert grid(torch.rand(5, 3, dtype=torch.float64)).dtype == torch.float32
    # Only level 2's rows set: only level 2's columns are non-zero.
    with torch.no_grad():
        grid.params.zero_()
        grid.params[grid.offsets[2] : grid.offsets[2] + grid.table_sizes[2]] = 1.0
    out = grid(torch.rand(9, 3))
    torch.testing.assert_close(out[:, 8:12], torch.ones(9, 4))
    assert out[:, :8].abs().max() == 0 and out[:, 12:].abs().max() == 0


def test_half_precision_table_keeps_float32_scales():
    grid = random_grid(PROPOSAL)  # scales such as 75.10925 are not float16 numbers
    points = torch.rand(6, 3, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = grid(points)
        grid.half()
        out = grid(points)
    assert out.dtype == torch.float16
    torch.testing.assert_close(out.float(), expected, atol=5e-3, rtol=0)


def test_continuous_across_cell_boundaries():
    grid = random_grid(DEFAULT)
    # x = 0.5 is a vertex of level 0 (15 * 0.5 + 0.5 = 8) and of every level with an odd integer scale.
    eps = 1e-5
    points = torch.tensor([[0.5 - eps, 0.3, 0.7], [0.5, 0.3, 0.7], [0.5 + eps, 0.3, 0.7]])
    with torch.no_grad():
        out = grid(points).reshape(3, 16, 2)
    # Trilinear interpolation is Lipschitz with constant scale * max|v_right - v_left| <= 2 * scale per axis.
    # A jump would be of the order of the table values (uniform in [-1, 1]).
    bound = torch.tensor(grid.scales)[:, None] * 2 * eps * 1.05 + 1e-3
    assert ((out[0] - out[1]).abs() <= bound).all()
    assert ((out[2] - out[1]).abs() <= bound).all()


def test_gradient_wrt_input_and_double_backward():
    grid = random_grid(TINY)
    x = torch.tensor([[0.31, 0.62, 0.47], [0.83, 0.12, 0.58]], requires_grad=True)
    # Finite differences are exact for trilinear cells if x +- eps stays in the same cell at every level.
    eps = 1e-3
    scales = torch.tensor(grid.scales, dtype=torch.float64)[None, :, None]
    cells = [torch.floor((x.detach().double()[:, None, :] + d) * scales + 0.5) for d in (-eps, eps)]
    assert torch.equal(cells[0], cells[1])

    out = grid(x)
    (gradient,) = torch.autograd.grad(out[:, 5].sum(), x, create_graph=True)
    for dim in range(3):
        step = torch.zeros(1, 3)
        step[0, dim] = eps
        with torch.no_grad():
            numeric = (grid(x + step)[:, 5] - grid(x - step)[:, 5]) / (2 * eps)
        torch.testing.assert_close(gradient[:, dim].detach(), numeric, atol=2e-3, rtol=1e-3)

    # Second order: d2/dx2 of a trilinear blend vanishes, d2/dxdy does not; the table gets gradients.
    (hessian_row,) = torch.autograd.grad(gradient[:, 0].sum(), x, create_graph=True)
    assert hessian_row[:, 0].abs().max() < 1e-6
    assert hessian_row[:, 1].abs().max() > 1.0
    hessian_row.sum().backward()
    assert grid.params.grad is not None and grid.params.grad.abs().sum() > 0


def test_analytic_normals_backward():
    grid = HashGrid()
    x = torch.rand(64, 3, requires_grad=True)
    (normals,) = torch.autograd.grad(grid(x).sum(), x, create_graph=True)
    normals.square().sum().backward()
    assert torch.isfinite(grid.params.grad).all() and grid.params.grad.abs().sum() > 0


def test_extreme_inputs_row_by_row():
    """Huge finite points wrap onto table vertices (finite features, as tcnn); an infinite or NaN coordinate
    gives ``frac = inf - inf = NaN`` and so an all-NaN row (as tcnn) without an out-of-range index; every
    row is encoded on its own, so ordinary points beside them are untouched."""
    grid = random_grid(TINY)
    inf, nan = float("inf"), float("nan")
    points = torch.tensor([[1e9, -1e9, 0.5], [inf, 0.0, 0.0], [-inf, 0.5, 0.5], [nan, 0.0, 0.0], [0.25, 0.5, 0.75]])
    with torch.no_grad():
        out = grid(points)
    assert out.shape == (5, grid.output_dim)
    # the huge row: cells saturated to int32's ends, then taken as uint32 (tcnn's (uint32_t)(int)floorf)
    params, levels = grid.params.detach().numpy(), ref_levels(**TINY)
    for row in (0, 4):
        expected = torch.tensor(ref_encode(params, levels, points[row].tolist()), dtype=torch.float64)
        torch.testing.assert_close(out[row].double(), expected, atol=1e-6, rtol=0)
    assert torch.isnan(out[1]).all() and torch.isnan(out[2]).all() and torch.isnan(out[3]).all()
    with torch.no_grad():
        torch.testing.assert_close(out[0], grid(points[:1])[0], rtol=0, atol=0)
        torch.testing.assert_close(out[4], grid(points[4:])[0], rtol=0, atol=0)


@pytest.mark.parametrize("shape", [(3,), (4, 2), (4, 3, 1), (4, 4)])
def test_bad_input_shapes_raise(shape):
    with pytest.raises(ValueError, match="x must"):
        HashGrid(**TINY)(torch.rand(shape))


def test_integer_input_raises():
    with pytest.raises(ValueError, match="floating point"):
        HashGrid(**TINY)(torch.zeros(4, 3, dtype=torch.int64))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_levels": 0}, "n_levels"),
        ({"n_levels": 129}, "n_levels"),
        ({"n_levels": 2.5}, "n_levels"),
        ({"n_features_per_level": 3}, "n_features_per_level"),
        ({"log2_hashmap_size": 0}, "log2_hashmap_size"),
        ({"log2_hashmap_size": 32}, "log2_hashmap_size"),
        ({"base_resolution": 0}, "base_resolution"),
        ({"base_resolution": True}, "base_resolution"),
        ({"per_level_scale": 0.9}, "per_level_scale"),
        ({"per_level_scale": float("nan")}, "per_level_scale"),
        ({"per_level_scale": 4.0, "n_levels": 20}, "per_level_scale"),
    ],
)
def test_bad_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        HashGrid(**{"log2_hashmap_size": 8, **kwargs})
