"""Cost of one guided UNet step and of DDIM sampling with the full-size released architecture.

Builds the released ZeroNVS architecture (SD-1.x UNet with 8 input channels, SD VAE, CLIP ViT-L/14 image
tower; about 1.25 B parameters) with random weights, loading no file, and prints:

- the machine's measured matmul peak (best of ``--repeats`` square matmuls, 2 n^3 FLOPs each);
- the median time of one ``model.eps`` call with guidance at 256 x 256 (32 x 32 latents, one view, so
  the UNet runs on a batch of 2), its FLOPs (``FlopCounterMode``, with the CPU flash-attention kernel
  added to its table, which lacks it) and the achieved fraction of the matmul peak;
- peak memory (CPU: process peak RSS and the weights' size; CUDA: ``max_memory_allocated``);
- on CUDA only, views per second for 50-step DDIM sampling of 1, 8 and 32 views (latents only, no VAE
  decode; one UNet call per step for all views).

Run: ``python benchmarks/bench_sampling.py [--device auto|cpu|cuda] [--dtype ...] [--repeats 5]
[--threads N]``. On CPU the model takes a while to build and each step takes seconds; nothing asserts on time.
"""

import argparse
import resource
import statistics
import time
from functools import partial
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from zeronvs_core.model.config import RELEASED_LDM_CONFIG, config_from_ldm
from zeronvs_core.model.zeronvs import ZeroNVSModel
from zeronvs_core.sampling import sample_latents

# FlopCounterMode counts the CUDA attention kernels but not the one SDPA uses on CPU.
_CPU_SDPA = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: lambda q, k, v, *args, out_shape=None, **kwargs: (
        sdpa_flop_count(q, k, v)
    )
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _times(function, device: torch.device, repeats: int) -> list[float]:
    """Seconds of each of ``repeats`` calls after one warm-up call."""
    function()
    _sync(device)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        _sync(device)
        seconds.append(time.perf_counter() - start)
    return seconds


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument(
        "--dtype",
        choices=("float32", "bfloat16", "float16"),
        default=None,
        help="weights' dtype (default float32 on CPU, bfloat16 on CUDA)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats after one warm-up")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype or ("bfloat16" if device.type == "cuda" else "float32"))
    print(
        f"device: {device.type} ({_device_name(device)}), torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}, dtype {str(dtype).removeprefix('torch.')}"
    )

    n = 8192 if device.type == "cuda" else 4096
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    best = min(_times(partial(torch.matmul, a, b), device, max(args.repeats, 3)))
    peak_gflops = 2 * n**3 / best / 1e9
    print(f"matmul_n: {n}")
    print(f"matmul_peak_gflops: {peak_gflops:.1f}")
    del a, b

    start = time.perf_counter()
    model = ZeroNVSModel(config_from_ldm(RELEASED_LDM_CONFIG)).eval().requires_grad_(False)
    model.to(device, dtype)
    print(f"build_s: {time.perf_counter() - start:.1f}")
    tensors = [*model.parameters(), *model.buffers()]
    print(f"parameters_m: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}")
    print(f"weights_mib: {sum(t.numel() * t.element_size() for t in tensors) / 2**20:.0f}")

    size, context_dim = model.config.latent_size, model.config.context_dim
    generator = torch.Generator(device).manual_seed(0)
    latents = torch.randn(1, 4, size, size, device=device, generator=generator)
    context = torch.randn(1, 1, context_dim, device=device, generator=generator)
    concat = torch.randn(1, 4, size, size, device=device, generator=generator)
    t = torch.tensor(500, device=device)

    def step():
        return model.eps(latents, t, context, concat, guidance_scale=3.0)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with torch.no_grad():
        seconds = statistics.median(_times(step, device, args.repeats))
        with FlopCounterMode(display=False, custom_mapping=_CPU_SDPA) as counter:
            step()
    flops = counter.get_total_flops()
    print(f"unet_step_ms_batch2: {seconds * 1e3:.1f}")
    print(f"unet_step_gflop_batch2: {flops / 1e9:.1f}")
    print(f"unet_step_gflops_achieved: {flops / seconds / 1e9:.1f}")
    print(f"unet_step_fraction_of_matmul_peak: {flops / seconds / 1e9 / peak_gflops:.3f}")
    if device.type == "cuda":
        print(f"cuda_max_allocated_mib: {torch.cuda.max_memory_allocated(device) / 2**20:.0f}")
    else:
        print(f"peak_rss_mib: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")

    if device.type != "cuda":
        print("sampling: skipped (50-step sampling of 1/8/32 views is measured on CUDA only)")
        return
    for views in (1, 8, 32):
        context_n = torch.randn(views, 1, context_dim, device=device, generator=generator)
        concat_n = torch.randn(views, 4, size, size, device=device, generator=generator)
        sample = partial(sample_latents, model, context_n, concat_n, guidance_scale=3.0, eta=1.0, batch_size=views)

        sample(steps=2, generator=generator)  # warm-up
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        start = time.perf_counter()
        sample(steps=50, generator=generator)
        torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
        print(f"sample50_views{views}_s: {seconds:.2f}  (no decode)")
        print(f"sample50_views{views}_views_per_s: {views / seconds:.2f}")
        print(f"sample50_views{views}_cuda_max_allocated_mib: {torch.cuda.max_memory_allocated(device) / 2**20:.0f}")


if __name__ == "__main__":
    main()
