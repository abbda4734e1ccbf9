"""Write a random-weight checkpoint of the released ZeroNVS architecture in the official key layout (no EMA).

For the KSampler-vs-Sampler check in a real ComfyUI (README status table): ComfyUI's Zero-1-to-3 model
class recognises only the released architecture, and the released weights are not on this machine.
Key names and shapes come from ``tests/fixtures/zeronvs_full_manifest.json``; weights are N(0, 0.02), norm
scales 1, biases 0, the noise-schedule buffers the official scaled-linear ones. float16, 2.6 GB.

Usage: python benchmarks/random_full_checkpoint.py OUT.safetensors
Then put OUT into ComfyUI's models/checkpoints and models/zeronvs, and run workflows/api/ksampler_views.json
with a ZeroNVS Sampler (eta 0, same steps, guidance and seed) beside KSampler.
"""

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

MANIFEST = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "zeronvs_full_manifest.json"


def schedule() -> dict[str, torch.Tensor]:
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
    cumprod = torch.cumprod(1 - betas, 0)
    return {
        "betas": betas,
        "alphas_cumprod": cumprod,
        "alphas_cumprod_prev": torch.cat([torch.ones(1, dtype=torch.float64), cumprod[:-1]]),
        "sqrt_alphas_cumprod": cumprod.sqrt(),
        "sqrt_one_minus_alphas_cumprod": (1 - cumprod).sqrt(),
        "log_one_minus_alphas_cumprod": (1 - cumprod).log(),
        "sqrt_recip_alphas_cumprod": (1 / cumprod).sqrt(),
        "sqrt_recipm1_alphas_cumprod": (1 / cumprod - 1).sqrt(),
    }


def main(out: str) -> None:
    keys = json.loads(MANIFEST.read_text())["keys"]
    generator = torch.Generator().manual_seed(0)
    buffers = schedule()
    state = {}
    for key, info in keys.items():
        shape = info["shape"]
        is_norm = any(part in key for part in ("norm", "ln_")) and key.endswith("weight") and len(shape) == 1
        if key.startswith("model_ema."):
            continue
        if key in buffers:
            state[key] = buffers[key].float()
        elif is_norm:
            state[key] = torch.ones(shape)
        elif key.endswith("bias") or key.startswith("posterior_") or len(shape) == 0:
            state[key] = torch.zeros(shape)
        else:
            state[key] = torch.randn(shape, generator=generator) * 0.02
    save_file({key: value.half().contiguous() for key, value in state.items()}, out)
    print(f"wrote {out}: {len(state)} tensors, {sum(v.numel() for v in state.values()) / 1e6:.0f} M parameters")


if __name__ == "__main__":
    main(sys.argv[1])
