"""Throughput of encode_camera and viewer_scale on this machine (CPU unless CUDA is available).

Prints cameras per second for a few batch sizes. Run: ``python benchmarks/bench_conditioning.py``.
"""

import time
from functools import partial

import torch

from zeronvs_core.cameras import orbit_camera
from zeronvs_core.conditioning import encode_camera
from zeronvs_core.scene_scale import viewer_scale


def _best_seconds(function, repeats: int = 20) -> float:
    function()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"device: {device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    for batch in (1, 6, 120, 4096):
        azimuth = torch.linspace(0, 360, batch)
        target = orbit_camera(torch.full((batch,), 20.0), azimuth, torch.full((batch,), 1.2)).to(device)
        cond = orbit_camera(31.0, 0.0, 1.0).expand(batch, 4, 4).to(device)
        seconds = _best_seconds(partial(encode_camera, target, cond, 52.55, scale=0.7))
        print(f"encode_camera  B={batch:5d}: {seconds * 1e3:8.3f} ms  ({batch / seconds:12.0f} cameras/s)")
    depth = 0.5 + torch.rand(48, 256, 256, device=device)
    disparity = 1 / depth + 0.1 * torch.rand_like(depth)
    seconds = _best_seconds(partial(viewer_scale, depth, disparity), repeats=5)
    print(f"viewer_scale   B=   48 at 256x256: {seconds * 1e3:8.3f} ms  ({48 / seconds:8.0f} images/s)")


if __name__ == "__main__":
    main()
