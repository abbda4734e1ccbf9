"""Time and peak memory per point of the hash-grid encoding, per backend (plain PyTorch, Triton) and device.

Three passes over ``--points`` random points in ``[0, 1]^3`` for each grid (ZeroNVS's field grid and proposal
grid, ``FieldConfig`` defaults):

* ``forward``: the encoding without a graph;
* ``forward+backward``: the encoding, then the gradients of ``sum(y * upstream)`` w.r.t. the table and the points;
* ``forward+normals+double``: the analytic-normals pattern of ``RadianceField.density_and_normals`` with a linear
  density head ``density = y @ head``: ``normals = d density / dx`` with ``create_graph=True``, then the gradient
  of ``sum(density) + sum(normals ** 2)`` w.r.t. the table and the points (the double backward).

Each pass is timed (median of ``--repeats`` after one warm-up; CUDA synchronised) and its peak memory taken above
what was allocated before it (the grid, its table gradient slot and the inputs): on CUDA
``torch.cuda.max_memory_allocated``, on the CPU the process's peak resident memory (``VmHWM``, reset through
``/proc/self/clear_refs``), which also counts the table gradient's first allocation. Both are printed per point.
Then the bytes that autograd keeps per sample of ``RadianceField.density_and_normals`` (the full field with its
MLPs; ``zeronvs_core.nerf.graph_memory.count_saved_bytes``, parameters excluded) for each backend.

On the CPU the Triton backend runs only in Triton's interpreter (the script sets ``TRITON_INTERPRET=1``), which is
orders of magnitude slower than compiled code: its figures there are for checking, at ``--triton-points``.

    python benchmarks/bench_hash_grid.py --device cuda            # 4 M points (4,194,304)
    python benchmarks/bench_hash_grid.py --device cpu --points 65536 --triton-points 2048
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch


def _rss_kib(field: str) -> int | None:
    status = Path("/proc/self/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def _return_free_memory() -> None:
    """glibc's ``malloc_trim(0)``: hand freed heap memory back, so that the next peak starts from live memory."""
    name = ctypes.util.find_library("c")
    if name:
        libc = ctypes.CDLL(name)
        if hasattr(libc, "malloc_trim"):
            libc.malloc_trim(0)


class PeakMemory:
    """Peak bytes allocated above the level at entry: CUDA allocator statistics, or the CPU's peak RSS."""

    def __init__(self, device: torch.device):
        self.device = device
        self.peak: int | None = None

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start = torch.cuda.memory_allocated()
        else:
            _return_free_memory()
            try:
                Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
                self.start = _rss_kib("VmRSS")
            except OSError:
                self.start = None
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated() - self.start
        elif self.start is not None:
            self.peak = 1024 * (_rss_kib("VmHWM") - self.start)


def passes(grid: torch.nn.Module, x: torch.Tensor) -> dict[str, Callable[[], None]]:
    generator = torch.Generator(device=x.device).manual_seed(1)
    upstream = torch.randn(x.shape[0], grid.output_dim, generator=generator, device=x.device)
    head = torch.randn(grid.output_dim, generator=generator, device=x.device)

    def forward():
        with torch.no_grad():
            grid(x)

    def forward_backward():
        points = x.detach().requires_grad_(True)
        (grid(points) * upstream).sum().backward()

    def forward_normals_double():
        points = x.detach().requires_grad_(True)
        density = grid(points) @ head
        (normals,) = torch.autograd.grad(density.sum(), points, create_graph=True)
        (density.sum() + normals.square().sum()).backward()

    return {"forward": forward, "forward+backward": forward_backward, "forward+normals+double": forward_normals_double}


def measure(run: Callable[[], None], grid: torch.nn.Module, device: torch.device, repeats: int) -> tuple[float, int]:
    """Median seconds of ``run`` and its peak bytes (from the last repeat)."""
    times, peak = [], None
    for repeat in range(repeats + 1):  # the first run compiles the kernels (CUDA) and is not timed
        grid.zero_grad(set_to_none=True)
        with PeakMemory(device) as memory:
            start = time.perf_counter()
            run()
            if device.type == "cuda":
                torch.cuda.synchronize()
            elapsed = time.perf_counter() - start
        if repeat:
            times.append(elapsed)
            peak = memory.peak
    return statistics.median(times), peak


def saved_bytes_per_sample(device: torch.device, n_points: int) -> float:
    from zeronvs_core.nerf.field import RadianceField
    from zeronvs_core.nerf.graph_memory import count_saved_bytes

    torch.manual_seed(0)
    field = RadianceField().to(device)
    points = torch.rand(n_points, 3, generator=torch.Generator().manual_seed(5)).mul(4.0).sub(2.0).to(device)
    saved, _ = count_saved_bytes(lambda: field.density_and_normals(points), [*field.parameters(), *field.buffers()])
    return saved / n_points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--points", type=int, default=None, help="points per pass (default: 4 M on CUDA, 64 k CPU)")
    parser.add_argument("--triton-points", type=int, default=None, help="for Triton on the CPU (default: 2048)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per pass (default: 5 CUDA, 3 CPU)")
    parser.add_argument("--grids", default="field,proposal", help="comma-separated: field, proposal")
    parser.add_argument("--backends", default="torch,triton", help="comma-separated: torch, triton")
    parser.add_argument("--saved-points", type=int, default=None, help="for the saved-bytes count (default 512)")
    args = parser.parse_args()
    device = torch.device(args.device)
    on_cuda = device.type == "cuda"
    if not on_cuda:
        os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is first imported (lazily, by HashGrid)

    from zeronvs_core.nerf.field import FieldConfig
    from zeronvs_core.nerf.hash_grid import BACKEND_ENV, HashGrid

    points = args.points or (4 * 2**20 if on_cuda else 65536)
    triton_points = points if on_cuda else (args.triton_points or 2048)
    repeats = args.repeats or (5 if on_cuda else 3)
    config = FieldConfig()
    grids = {"field": config.grid, "proposal": config.proposal_grid}
    name = torch.cuda.get_device_name(device) if on_cuda else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}, torch {torch.__version__}")
    print("grid      backend  points     pass                      ms/pass  ns/point  peak bytes/point")
    for grid_name in args.grids.split(","):
        grid = HashGrid(**asdict(grids[grid_name])).to(device)
        for backend in args.backends.split(","):
            os.environ[BACKEND_ENV] = backend
            count = triton_points if backend == "triton" else points
            x = torch.rand(count, 3, generator=torch.Generator().manual_seed(0)).to(device)
            for pass_name, run in passes(grid, x).items():
                seconds, peak = measure(run, grid, device, repeats)
                peak_text = "n/a" if peak is None else f"{peak / count:.0f}"
                print(
                    f"{grid_name:9} {backend:8} {count:<10} {pass_name:24} {1e3 * seconds:8.1f}"
                    f"  {1e9 * seconds / count:8.0f}  {peak_text:>8}"
                )
        del grid
    saved_points = args.saved_points or 512
    for backend in args.backends.split(","):
        os.environ[BACKEND_ENV] = backend
        saved = saved_bytes_per_sample(device, saved_points)
        print(f"bytes kept for backward per field sample with normals ({backend}, {saved_points} points): {saved:.0f}")


if __name__ == "__main__":
    main()
