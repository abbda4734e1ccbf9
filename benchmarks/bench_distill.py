"""Time of SDS distillation per step, split into render, prior, backward and optimiser.

Runs ``distill`` with a preset on a model and prints the mean seconds per step of each phase (from
``DistillResult.timings``), the total, and the time 1000 steps would take at that rate. The default is
the ``cpu_smoke`` preset on the tiny official fixture model (random weights: the time is what counts,
not the result). On a GPU, pass ``--model zeronvs.ckpt --preset official`` (or ``fast``).

    python benchmarks/bench_distill.py [--preset cpu_smoke] [--steps N] [--model PATH --config YAML]
        [--memory-budget-gib X|auto|none]

Phases are timed with CUDA events on a GPU (read back every ``READBACK_EVERY`` steps) and with
``perf_counter`` on the CPU. Memory: peak allocated and reserved GiB on CUDA, peak resident set on the CPU.

``--steps N`` runs the preset shortened to N steps with every schedule scaled (``preset``), so the
mix of small and large renders, and the mean time per step, stay those of the full run.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import torch

from zeronvs_core.distill import PRESETS, distill, preset
from zeronvs_core.model import inference_dtype, load_zeronvs

TINY = Path(__file__).parents[1] / "tests" / "fixtures" / "tiny_official"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu_smoke")
    parser.add_argument(
        "--steps", type=int, default=None, help="steps to run, every schedule scaled (default: the preset's)"
    )
    parser.add_argument("--model", default=str(TINY / "model.safetensors"))
    parser.add_argument("--config", default=None, help="LDM yaml of --model (default: the tiny fixture's)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default=None)
    parser.add_argument(
        "--memory-budget-gib",
        default="auto",
        help="DistillConfig.memory_budget_gib: GiB for a step's graph, 'auto' or 'none' (single pass)",
    )
    parser.add_argument("--compile-unet", action="store_true", help="ZeroNVSModel.compile_unet() (CUDA graphs on CUDA)")
    args = parser.parse_args()
    budget = {"auto": "auto", "none": None}.get(args.memory_budget_gib.lower(), None)
    if args.memory_budget_gib.lower() not in ("auto", "none"):
        budget = float(args.memory_budget_gib)
    config_path = args.config or (str(TINY / "config.yaml") if args.model.startswith(str(TINY)) else None)
    dtype = getattr(torch, args.dtype) if args.dtype else inference_dtype(args.device)
    model = load_zeronvs(args.model, config=config_path, device=args.device, dtype=dtype)
    if args.compile_unet:
        model.compile_unet()
    config = preset(args.preset, args.steps, memory_budget_gib=budget)
    image = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    result = distill(model, image, 52.55, 31.0, 0.7, config, phase_timing=True)
    total = time.perf_counter() - start
    name = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}, torch {torch.__version__}, {args.model} ({dtype})")
    print(f"preset: {args.preset}, steps: {result.step}, render sizes {config.render_sizes}, budget {budget} GiB")
    for phase, seconds in result.timings.items():
        print(f"{phase}_ms_per_step: {1000 * seconds / result.step:.1f}")
    print(f"total_ms_per_step: {1000 * total / result.step:.1f}")
    print(f"total_s: {total:.1f}")
    print(f"projected_s_per_1000_steps: {total / result.step * 1000:.0f}")
    print(f"projected_s_for_{PRESETS[args.preset].steps}_steps: {total / result.step * PRESETS[args.preset].steps:.0f}")
    print(f"peak_rss_gib: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f}")
    if args.device == "cuda":
        print(f"peak_cuda_allocated_gib: {torch.cuda.max_memory_allocated() / 2**30:.2f}")
        print(f"peak_cuda_reserved_gib: {torch.cuda.max_memory_reserved() / 2**30:.2f}")


if __name__ == "__main__":
    main()
