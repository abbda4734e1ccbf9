"""Train the VAE of a from-scratch model before its diffusion training (the first stage of an LDM).

The released ZeroNVS inherits Stable Diffusion's trained VAE; a model trained from scratch (the demo
model ``zeronvs-mini``) needs its own, or the diffusion model learns to generate latents that decode to
nothing like the scene. The recipe is LDM's first stage without the adversarial and perceptual terms:
L1 + squared error of the reconstruction of a posterior sample, plus ``kl_weight`` x the KL term, on
synthetic views.

    python training/autoencoder.py --ldm-config training/configs/mini_ldm.yaml --output runs/mini_vae

``<output>/autoencoder.safetensors`` holds the VAE weights (diffusers ``AutoencoderKL`` keys) and, in its
metadata, ``scale_factor``: 1 / the standard deviation of posterior samples of held-out views, LDM's
``scale_by_std`` rule, so that diffusion latents have unit variance. ``train.py`` takes the file as the
``autoencoder`` setting. ``<output>/autoencoder_state.pt`` lets ``--resume`` continue.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL
from safetensors.torch import load_file, safe_open
from tqdm import tqdm

from zeronvs_core.data.synthetic_pairs import SyntheticPairs
from zeronvs_core.metrics import psnr
from zeronvs_core.model.config import config_from_ldm, read_ldm_config
from zeronvs_core.tensor_files import save_tensors

__all__ = ["load_autoencoder", "main", "train_autoencoder"]

WEIGHTS = "autoencoder.safetensors"
STATE = "autoencoder_state.pt"


def _views(dataset: SyntheticPairs, indices: torch.Tensor) -> torch.Tensor:
    """Both views of the given pairs, ``[2N,3,S,S]`` in [-1,1]."""
    pairs = [dataset[int(i)] for i in indices]
    images = torch.stack([p.cond_image for p in pairs] + [p.target_image for p in pairs])
    return images * 2.0 - 1.0


def train_autoencoder(
    ldm_config,
    output: str | Path,
    steps: int = 3000,
    batch_size: int = 16,
    lr: float = 4.5e-4,
    kl_weight: float = 1e-6,
    n_scenes: int = 4000,
    seed: int = 0,
    checkpoint_every: int = 500,
    supersample: int = 1,
    init: str | Path | None = None,
    resume: bool = False,
    log=print,
) -> Path:
    """Train the VAE of ``ldm_config`` (a path or dict) on synthetic views; returns the weights file.

    A step draws ``batch_size`` pairs (``2 * batch_size`` images at the config's resolution) of
    ``n_scenes`` scenes, rendered with ``supersample`` (see ``SyntheticPairs``; each scene's views are
    cached after their first use). ``init`` starts from the weights of an earlier ``autoencoder.safetensors``
    instead of random ones. Held-out views (seeds after the training ones) give the reconstruction PSNR
    in the log and the scale factor."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    config = config_from_ldm(read_ldm_config(ldm_config))
    vae = AutoencoderKL(**config.vae).train()
    if init is not None:
        vae.load_state_dict(load_autoencoder(init)[0])
    optimizer = torch.optim.Adam(vae.parameters(), lr=lr, betas=(0.5, 0.9))
    generator = torch.Generator().manual_seed(seed)
    training = SyntheticPairs(n_scenes, size=config.resolution, supersample=supersample, cache=True)
    held_out_pairs = SyntheticPairs(
        16, first_seed=n_scenes + 1000, size=config.resolution, pairs_per_scene=1, supersample=supersample
    )
    held_out = _views(held_out_pairs, range(16))
    step = 0
    if resume and (output / STATE).exists():
        state = torch.load(output / STATE, weights_only=True)
        vae.load_state_dict(state["vae"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        step = int(state["step"])
        log(f"resumed from {output / STATE} at step {step}")
    bar = tqdm(total=steps, initial=step, desc="autoencoder", unit="step")
    while step < steps:
        start = time.perf_counter()
        images = _views(training, torch.randint(len(training), (batch_size,), generator=generator))
        posterior = vae.encode(images).latent_dist
        reconstruction = vae.decode(posterior.sample(generator=generator)).sample
        loss = (
            F.l1_loss(reconstruction, images) + F.mse_loss(reconstruction, images) + kl_weight * posterior.kl().mean()
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        bar.update()
        record = {"step": step, "loss": loss.item(), "seconds": time.perf_counter() - start}
        if step % checkpoint_every == 0 or step == steps:
            record.update(_evaluate(vae, held_out))
            torch.save(
                {
                    "step": step,
                    "vae": vae.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "generator": generator.get_state(),
                },
                output / STATE,
            )
            _save_weights(vae, output / WEIGHTS, record["scale_factor"])
            log(json.dumps(record))
        with (output / "autoencoder_log.jsonl").open("a") as stream:
            stream.write(json.dumps(record) + "\n")
    bar.close()
    return output / WEIGHTS


@torch.no_grad()
def _evaluate(vae: AutoencoderKL, images: torch.Tensor) -> dict[str, float]:
    """Held-out reconstruction PSNR (posterior mode) and ``scale_factor`` = 1 / std of posterior samples."""
    vae.eval()
    try:
        posterior = vae.encode(images).latent_dist
        reconstruction = vae.decode(posterior.mode()).sample
        samples = posterior.sample(generator=torch.Generator().manual_seed(0))
    finally:
        vae.train()
    value = psnr((reconstruction * 0.5 + 0.5).clamp(0, 1), images * 0.5 + 0.5).mean().item()
    return {"val_psnr": value, "scale_factor": 1.0 / samples.std().item()}


def _save_weights(vae: AutoencoderKL, path: Path, scale_factor: float) -> None:
    tensors = {name: value.detach().contiguous() for name, value in vae.state_dict().items()}
    save_tensors(tensors, path, {"format": "zeronvs-autoencoder", "scale_factor": repr(scale_factor)})


def load_autoencoder(path: str | Path) -> tuple[dict[str, torch.Tensor], float]:
    """``(state_dict, scale_factor)`` of a file written by ``train_autoencoder``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"autoencoder file {path} does not exist; train one with training/autoencoder.py")
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    if metadata.get("format") != "zeronvs-autoencoder":
        raise ValueError(f"{path} is not an autoencoder written by training/autoencoder.py")
    return load_file(str(path)), float(metadata["scale_factor"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the VAE of a from-scratch ZeroNVS model.")
    parser.add_argument("--ldm-config", required=True, help="LDM yaml of the architecture")
    parser.add_argument("--output", required=True, help="directory for autoencoder.safetensors")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=16, help="pairs per step (two images each)")
    parser.add_argument("--lr", type=float, default=4.5e-4)
    parser.add_argument("--scenes", type=int, default=4000, help="number of training scenes")
    parser.add_argument("--supersample", type=int, default=1, help="rays per pixel side (anti-aliasing)")
    parser.add_argument("--init", default=None, help="start from this autoencoder.safetensors")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    try:
        path = train_autoencoder(
            args.ldm_config,
            args.output,
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            n_scenes=args.scenes,
            supersample=args.supersample,
            init=args.init,
            resume=args.resume,
        )
    except (FileNotFoundError, ValueError) as error:
        print(f"autoencoder.py: error: {error}", file=sys.stderr)
        return 2
    print(f"autoencoder: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
