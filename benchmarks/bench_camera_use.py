"""Does a model use the camera? Its training loss with the true, the identity and a shuffled camera.

Held-out object pairs (``SyntheticPairs`` seeds from ``--first-seed``, 2x2 rays a pixel) are noised at
fixed timesteps with fixed noise, and the epsilon loss of the model (no dropout) is measured with the
true, the identity, a shuffled and the mirrored camera, and without the input view
(``zeronvs_training.camera_probes``). The percentage by which the shuffled camera raises the loss over
the true one measures how much the model relies on the camera; the mirrored one, whether it knows which
way the camera turns. Much cheaper than ``bench_mini_quality.py`` (no sampling), so it can follow a
training run checkpoint by
checkpoint:

    python benchmarks/bench_camera_use.py --model runs/mini_cam/checkpoints/step_0002000/model.safetensors
"""

from __future__ import annotations

import argparse

from zeronvs_core.data.pairs import collate_pairs
from zeronvs_core.data.synthetic_pairs import SyntheticPairs
from zeronvs_core.model import load_zeronvs
from zeronvs_training.camera_probes import ROWS, camera_losses, relative_gain

TIMESTEPS = (50, 200, 400, 600, 800, 950)


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
    print("   t" + "".join(f"{name:>15}" for name in ROWS))
    for t, row in losses.items():
        print(f"{t:>4}" + "".join(f"{row[name]:>15.5f}" for name in ROWS))
    print(f"camera_use_percent: {100 * relative_gain(losses, 'shuffled'):.2f} (mean over t of shuffled vs true)")
    print(f"direction_use_percent: {100 * relative_gain(losses, 'mirrored'):.2f} (mean over t of mirrored vs true)")


if __name__ == "__main__":
    main()
