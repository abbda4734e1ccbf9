"""Figures of the Triton hash grid against the plain-PyTorch one (the oracle, always on the CPU).

Run as a script, in its own process (``tests/nerf/test_hash_grid_triton.py`` does), because ``TRITON_INTERPRET=1``
must be set before triton is imported: ``python tests/nerf/hash_grid_triton_checks.py [MODE]`` prints one JSON
object with, per grid configuration, the index-parity counts and the maximum relative error of every quantity, the
outcome of ``gradcheck``/``gradgradcheck`` in float64, the bytes kept for backward per field sample by each
backend, and which backend each ``ZERONVS_HASH_GRID`` setting picked. The test asserts on them. Modes:

* none: the kernels on CPU tensors in Triton's interpreter;
* ``cuda``: the same checks with the kernels on the GPU (no interpreter);
* ``compile`` / ``compile-all``: compile the kernels for CUDA sm_80 and sm_90 with Triton's bundled ptxas (no GPU
  needed): float32 with 2 features a level, or every dtype and feature count.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict

MODE = sys.argv[1] if len(sys.argv) > 1 else "interpreter"
if MODE not in ("interpreter", "cuda", "compile", "compile-all"):
    raise SystemExit(f"unknown mode {MODE!r}: give none, cuda, compile or compile-all")
if MODE == "interpreter":
    os.environ["TRITON_INTERPRET"] = "1"  # before anything imports triton
DEVICE = "cuda" if MODE == "cuda" else "cpu"

import numpy as np  # noqa: E402
import torch  # noqa: E402

from zeronvs_core.nerf import hash_grid_triton  # noqa: E402
from zeronvs_core.nerf.field import FieldConfig, RadianceField  # noqa: E402
from zeronvs_core.nerf.graph_memory import count_saved_bytes  # noqa: E402
from zeronvs_core.nerf.hash_grid import BACKEND_ENV, HashGrid  # noqa: E402

_FIELD = FieldConfig()
CONFIGS = {
    "field": asdict(_FIELD.grid),  # 16 levels 16..4096, 2**19 rows: 5 dense and 11 hashed levels
    "proposal": asdict(_FIELD.proposal_grid),  # 5 levels 16..128, 2**17 rows: 3 dense, 2 hashed
    "cpu_smoke_field": {"n_levels": 8, "log2_hashmap_size": 14, "base_resolution": 8, "per_level_scale": 1.5},
    "cpu_smoke_proposal": {"n_levels": 4, "log2_hashmap_size": 12, "base_resolution": 8, "per_level_scale": 1.5},
    "four_features": {
        "n_levels": 4,
        "n_features_per_level": 4,
        "log2_hashmap_size": 8,
        "base_resolution": 3,
        "per_level_scale": 2.0,
    },
    "eight_features_dense": {
        "n_levels": 3,
        "n_features_per_level": 8,
        "log2_hashmap_size": 12,
        "base_resolution": 4,
        "per_level_scale": 1.5,
    },
    "one_feature_hashed": {
        "n_levels": 2,
        "n_features_per_level": 1,
        "log2_hashmap_size": 5,
        "base_resolution": 5,
        "per_level_scale": 1.3,
    },
}
# Tiny grids for gradcheck: level 0 dense (scale 1, 8 rows), level 1 hashed (scale 3, 64 vertices in 16 rows).
TINY = {"n_levels": 2, "n_features_per_level": 2, "log2_hashmap_size": 4, "base_resolution": 2, "per_level_scale": 2.0}
TINY_ONE_FEATURE = {**TINY, "n_features_per_level": 1}


def run_backend(name: str, function, *args):
    previous = os.environ.get(BACKEND_ENV)
    os.environ[BACKEND_ENV] = name
    try:
        return function(*args)
    finally:
        os.environ.pop(BACKEND_ENV) if previous is None else os.environ.__setitem__(BACKEND_ENV, previous)


def relative_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    """``max |value - reference| / max |reference|``."""
    value = value.to(reference.device)
    return ((value - reference).abs().max() / reference.abs().max()).item()


def vertex_points(grid: HashGrid, per_level: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Float32 points on lattice vertices of one level each (``float32(x * scale + 0.5)`` an exact integer on every
    axis), vertex coordinates from -3 to resolution + 3 (so some points lie outside [0, 1]^3); and their levels."""
    rng = np.random.default_rng(seed)
    points, levels = [], []
    for level, (scale, resolution) in enumerate(zip(grid.scales, grid.resolutions, strict=True)):
        targets = rng.integers(-3, resolution + 4, size=(per_level, 3))
        targets[:4] = [[0, 0, 0], [resolution - 1, resolution, 1], [-1, 2, resolution + 1], [-3, -2, resolution]]
        guess = ((targets - 0.5) / scale).astype(np.float32)
        steps = np.arange(-256, 257, dtype=np.int32)
        candidates = (guess.view(np.int32)[..., None] + steps).view(np.float32)  # float32 neighbours
        pos = (candidates.astype(np.float64) * float(np.float32(scale)) + 0.5).astype(np.float32)
        hit = pos == targets[..., None]
        found = hit.any(-1).all(-1)
        chosen = np.take_along_axis(candidates, hit.argmax(-1)[..., None], -1)[..., 0]
        points.append(chosen[found])
        levels += [level] * int(found.sum())
    return torch.from_numpy(np.concatenate(points)), torch.tensor(levels)


def index_parity(config: dict) -> dict:
    """Table filled with ``row * F + feature``; outputs at lattice vertices compared bitwise per level."""
    grid = HashGrid(**config)
    n_features = grid.n_features_per_level
    with torch.no_grad():
        grid.params.copy_(torch.arange(grid.params.numel(), dtype=torch.float32).reshape(grid.params.shape))
    points, levels = vertex_points(grid, per_level=24, seed=0)
    with torch.no_grad():
        reference = run_backend("torch", grid, points).reshape(len(points), grid.n_levels, n_features)
        kernel = run_backend("triton", grid.to(DEVICE), points.to(DEVICE)).cpu()
    kernel = kernel.reshape(len(points), grid.n_levels, n_features)
    rows = torch.arange(len(points))
    kernel, reference = kernel[rows, levels], reference[rows, levels]  # each point's own level
    outside = ((points < 0) | (points > 1)).any(dim=1)
    # Huge coordinates: every cell saturates to int32's ends (the upper one, 2**31 - 1, is not a float32) and
    # ``frac`` is 0, so each level's output is one table row, compared bitwise at every level.
    huge = torch.tensor([[1e9, -1e9, 3e9], [-2e10, 5e9, -4e9]])
    with torch.no_grad():
        huge_reference = run_backend("torch", grid, huge)
        huge_kernel = run_backend("triton", grid.to(DEVICE), huge.to(DEVICE)).cpu()
    return {
        "saturated_mismatches": int((huge_kernel != huge_reference).sum()),
        "points": len(points),
        "points_outside_unit_cube": int(outside.sum()),
        "levels_covered": len(set(levels.tolist())),
        "hashed_levels": sum(grid.hashed),
        "dense_levels": grid.n_levels - sum(grid.hashed),
        "on_vertices": bool((reference == reference.round()).all()),  # weight exactly 1 on one corner
        "distinct_rows": len(set((reference[:, 0] // n_features).long().tolist())),
        "bitwise_mismatches": int((kernel != reference).any(dim=1).sum()),
    }


def gradients(grid: HashGrid, x: torch.Tensor, upstream: torch.Tensor, direction: torch.Tensor) -> dict:
    """The forward, the first-order gradients of ``sum(y * upstream)`` and the second-order ones of the loss
    ``sum(d sum(y * upstream) / dx * direction)`` (analytic normals' pattern: a loss on the input gradient)."""
    grid.zero_grad(set_to_none=True)
    device = grid.params.device
    x = x.to(device).requires_grad_(True)
    upstream = upstream.to(device).requires_grad_(True)
    direction = direction.to(device)
    y = grid(x)
    dtable, dx = torch.autograd.grad((y * upstream).sum(), (grid.params, x), create_graph=True)
    (dx * direction).sum().backward()
    return {
        "forward": y.detach(),
        "table_grad": dtable.detach(),
        "input_grad": dx.detach(),
        "double_table_grad": grid.params.grad,
        "double_input_grad": x.grad,
        "double_upstream_grad": upstream.grad,
    }


def value_parity(config: dict, n_points: int = 256, n_outside: int = 32) -> dict:
    grid = HashGrid(**config)
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        grid.params.uniform_(-1.0, 1.0, generator=generator)
    inside = torch.rand(n_points - n_outside, 3, generator=generator)
    outside = torch.rand(n_outside, 3, generator=generator) * 1.6 - 0.3  # in [-0.3, 1.3]^3
    x = torch.cat((inside, outside))
    upstream = torch.randn(n_points, grid.output_dim, generator=generator)
    direction = torch.randn(n_points, 3, generator=generator)
    reference = run_backend("torch", gradients, grid, x, upstream, direction)
    kernel = run_backend("triton", gradients, grid.to(DEVICE), x, upstream, direction)
    return {name: relative_error(kernel[name], reference[name]) for name in reference}


def float64_checks(config: dict) -> dict:
    """``gradcheck`` and ``gradgradcheck`` of the kernels' maths in float64 (points away from cell boundaries)."""
    grid = HashGrid(**config).double()
    generator = torch.Generator().manual_seed(4)
    with torch.no_grad():
        grid.params.uniform_(-1.0, 1.0, generator=generator)
    grid.to(DEVICE)
    layout = hash_grid_triton.grid_layout(grid)
    x = torch.tensor([[0.3, 0.7, 0.1], [0.62, 0.4, 0.9], [0.27, 0.05, 0.58]], dtype=torch.float64)
    scales = torch.tensor(grid.scales, dtype=torch.float64)[:, None, None]
    distance = ((x * scales + 0.5) - (x * scales + 0.5).round()).abs()
    assert distance.min() > 1e-3, "a check point lies on a cell boundary"
    x = x.to(DEVICE).requires_grad_(True)
    table = grid.params.detach().clone().requires_grad_(True)

    def encode(points, features):
        return hash_grid_triton.encode(points, features, layout)

    outcome = {}
    for name, check in (("gradcheck", torch.autograd.gradcheck), ("gradgradcheck", torch.autograd.gradgradcheck)):
        try:
            outcome[name] = bool(check(encode, (x, table), eps=1e-6, atol=1e-8, rtol=1e-6, fast_mode=True))
        except Exception as error:  # reported to the test, which prints it
            outcome[name] = f"{type(error).__name__}: {error}"[:2000]
    return outcome


def saved_bytes_per_sample(backend: str, n_points: int = 512) -> float:
    """Bytes autograd keeps per sample for ``RadianceField.density_and_normals`` (the graph ready for backward),
    parameters and buffers excluded."""
    torch.manual_seed(0)
    field = RadianceField().to(DEVICE)
    points = (torch.rand(n_points, 3, generator=torch.Generator().manual_seed(5)) * 4.0 - 2.0).to(DEVICE)
    exclude = [*field.parameters(), *field.buffers()]
    saved, _ = run_backend(backend, count_saved_bytes, lambda: field.density_and_normals(points), exclude)
    return saved / n_points


def partial_blocks(config: dict) -> dict:
    """Value parity with the CUDA block size (``32 // F`` points a program) on a point count that leaves the last
    block partly empty."""
    settings = hash_grid_triton._BLOCK_INTERPRETER
    hash_grid_triton._BLOCK_INTERPRETER = hash_grid_triton._TILE_CUDA // (8 * config.get("n_features_per_level", 2))
    try:
        return value_parity(config, n_points=20, n_outside=4)
    finally:
        hash_grid_triton._BLOCK_INTERPRETER = settings


def compile_for_cuda(everything: bool) -> dict:
    """Compile each kernel for CUDA targets (Triton's ASTSource and bundled ptxas; no GPU involved)."""
    import triton
    import triton.language as tl
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    layout = {"scale_ptr": "*fp32", "mult_ptr": "*i64", "rows_ptr": "*i64", "offset_ptr": "*i64"}
    integers = {"n_points", "n_levels", "n_dense"}
    variants = [("fp32", "fp32", 2)]
    if everything:
        variants += [("fp32", "fp16", 2), ("fp32", "bf16", 2), ("fp64", "fp64", 2)]
        variants += [("fp32", "fp32", features) for features in (1, 4, 8)]
    outcome = {}
    for points, table, features in variants:
        accumulator = "fp64" if table == "fp64" else "fp32"
        constants = {
            "F": features,
            "BLOCK": hash_grid_triton._TILE_CUDA // (8 * features),
            "POS_F64": points == "fp64",
            "ACC": tl.float64 if table == "fp64" else tl.float32,
        }
        pointers = {
            "x_ptr": points,
            "ggx_ptr": points,
            "dx_ptr": points,
            "table_ptr": table,
            "out_ptr": table,
            "grad_ptr": table,
            "dgrad_ptr": table,
            "dtable_ptr": accumulator,
        }
        flags = {"NEED_TABLE": True, "NEED_X": True, "NEED_GRAD": True}
        for kernel in (
            hash_grid_triton._encode_kernel,
            hash_grid_triton._backward_kernel,
            hash_grid_triton._double_backward_kernel,
        ):
            signature, constexprs = {}, {}
            for name in kernel.arg_names:
                if name in layout or name in pointers:
                    signature[name] = layout.get(name) or "*" + pointers[name]
                elif name in integers:
                    signature[name] = "i32"
                else:
                    signature[name] = "constexpr"
                    constexprs[name] = constants.get(name, flags.get(name))
            for capability in (80, 90):
                key = f"{kernel.__name__} sm_{capability} x {points} table {table} F={features}"
                try:
                    compiled = triton.compile(
                        ASTSource(kernel, signature, constexprs), target=GPUTarget("cuda", capability, 32)
                    )
                    outcome[key] = "ok" if compiled.asm.get("cubin") else "no cubin"
                except Exception as error:
                    outcome[key] = f"{type(error).__name__}: {error}"[:2000]
    return outcome


def dispatch() -> dict:
    """Which path each setting takes on CPU tensors (the output's autograd node names it)."""
    grid = HashGrid(**CONFIGS["one_feature_hashed"]).to(DEVICE)
    x = torch.rand(4, 3, device=DEVICE)
    picked = {}
    for setting in ("", "torch", "triton"):
        picked[setting or "unset"] = type(run_backend(setting, grid, x).grad_fn).__name__
    return picked


def main() -> None:
    report = {"triton": hash_grid_triton.triton.__version__, "mode": MODE}
    if MODE.startswith("compile"):
        report["compile"] = compile_for_cuda(everything=MODE == "compile-all")
        print(json.dumps(report))
        return
    report["index_parity"] = {name: index_parity(config) for name, config in CONFIGS.items()}
    report["value_parity"] = {name: value_parity(config) for name, config in CONFIGS.items()}
    if MODE == "interpreter":  # on a GPU every point count leaves partial blocks anyway
        report["partial_blocks"] = partial_blocks(CONFIGS["cpu_smoke_proposal"])
    report["float64"] = {"tiny": float64_checks(TINY), "tiny_one_feature": float64_checks(TINY_ONE_FEATURE)}
    report["saved_bytes_per_sample"] = {name: saved_bytes_per_sample(name) for name in ("torch", "triton")}
    report["dispatch"] = dispatch()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
