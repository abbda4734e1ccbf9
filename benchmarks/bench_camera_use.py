"""Does a model use the camera? Its training loss with the true, the identity and a shuffled camera.

Held-out object pairs (``SyntheticPairs`` seeds from ``--first-seed``, 2x2 rays a pixel) are noised at
fixed timesteps with fixed noise, and the epsilon loss of the model (no dropout) is measured with:

- ``true``: the camera vector of the target relative to the input view;
- ``identity``: the camera vector of the input view itself (no motion);
- ``shuffled``: the camera vector of another pair of the batch;
- ``no input view``: the true camera, but the concat latent zeroed (for scale: what the input view is worth).

A model that ignores the camera scores the same on the first three rows; the percentage by which the
shuffled camera raises the loss over the true one measures how much it relies on the camera. Much
cheaper than ``bench_mini_quality.py`` (no sampling), so it can follow a training run checkpoint by
checkpoint:

    python benchmarks/bench_camera_use.py --model runs/mini_cam/checkpoints/step_0002000/model.safetensors
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from zeronvs_core.data.pairs import collate_pairs
from zeronvs_core.data.synthetic_pairs import SyntheticPairs
from zeronvs_core.model import load_zeronvs
from zeronvs_core.noise_schedule import add_noise, alphas_cumprod
from zeronvs_training.objective import batch_conditioning

TIMESTEPS = (50, 200, 400, 600, 800, 950)


@torch.no_grad()
def camera_losses(model, batch: dict[str, torch.Tensor], timesteps, seed: int = 0) -> dict[int, dict[str, float]]:
    """``{t: {row: loss}}``: the epsilon loss at timestep ``t`` of each row of the module docstring."""
    clip, concat, camera = batch_conditioning(model, batch)
    _, _, identity = batch_conditioning(model, {**batch, "target_c2w": batch["cond_c2w"]})
    generator = torch.Generator().manual_seed(seed)
    latents = model.encode(batch["target_image"].to(model.device) * 2.0 - 1.0, generator=generator)
    alphas = alphas_cumprod(model.config).to(model.device)
    losses = {}
    for t in timesteps:
        noise = torch.randn(latents.shape, generator=generator).to(model.device)
        noisy = add_noise(latents, noise, alphas[t])
        steps = torch.full((len(latents),), t, device=model.device)
        rows = {"true": (camera, concat), "identity": (identity, concat), "shuffled": (camera.roll(1, 0), concat)}
        rows["no input view"] = (camera, torch.zeros_like(concat))
        losses[t] = {
            name: F.mse_loss(model(noisy, steps, clip, cam, view), noise).item() for name, (cam, view) in rows.items()
        }
    return losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--config", default=None, help="LDM yaml for an official-layout file")
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--first-seed", type=int, default=1_000_000)
    args = parser.parse_args()
    model = load_zeronvs(args.model, config=args.config).eval()
    pairs = SyntheticPairs(
        args.pairs,
        size=model.config.resolution,
        first_seed=args.first_seed,
        kinds=("object",),
        views_per_scene=24,
        pairs_per_scene=1,
        supersample=2,
    )
    losses = camera_losses(model, collate_pairs([pairs[i] for i in range(len(pairs))]), TIMESTEPS)
    print(f"model: {args.model}, {args.pairs} held-out object pairs from seed {args.first_seed}")
    print("   t       true   identity   shuffled   no input view   shuffled vs true")
    gains = []
    for t, row in losses.items():
        gains.append(row["shuffled"] / row["true"] - 1.0)
        cells = "".join(f"{row[name]:>11.5f}" for name in ("true", "identity", "shuffled"))
        print(f"{t:>4} {cells} {row['no input view']:>15.5f} {100 * gains[-1]:>+17.2f} %")
    print(f"camera_use_percent: {100 * sum(gains) / len(gains):.2f} (mean over t of shuffled vs true)")


if __name__ == "__main__":
    main()
