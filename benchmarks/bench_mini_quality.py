"""Does a model use the camera? Novel views of held-out synthetic scenes against ground truth.

For held-out ``object`` scenes (seeds never used in training: ``--first-seed`` past the training
ones), the input is the first view of the scene's orbit; the targets are the same camera turned by 30,
60 and 90 degrees of azimuth about the scene's centre (vertical axis), rendered exactly for ground
truth. Each target is scored (PSNR, SSIM; scikit-image semantics) for three predictions:

- ``model``: DDIM novel views (``sample_views``; ``--guidance`` 3 and ``--eta`` 1 by default) with the true
  relative camera;
- ``copy``: the input view itself;
- ``identity camera``: the same model asked for the input camera (camera vector of the identity pose).

Views are rendered with ``--supersample`` x ``--supersample`` rays a pixel, as the demo model's training
data (``training/configs/mini_finetune.yaml``).

``--references`` adds two rows that are not predictions but put the figures in scale (they do not enter
the margin): ``blurred copy``, the input under a Gaussian blur of ``--blur`` pixels (PSNR rewards blur on
these high-contrast textures), and ``true layout, input detail``, the truth's blurred layout plus the
input's own detail above that blur: roughly what a model that gets the layout of the view right from the
camera, and invents its fine texture, can score.

The first figure is **camera discrimination** (issue 27): for each scene and angle ``a`` the model is
asked for the camera turned by ``+a`` and by ``-a`` from the same initial and per-step noise (two
``sample_views`` calls with equally seeded generators, so element ``i`` of both batches draws the same
numbers); a sample for ``+a`` is right when its PSNR to the true ``+a`` view is above its PSNR to the true
``-a`` view, and the same for ``-a``. A copy of the input or a model that ignores the camera's direction
scores 50 %. Beside it the **own-target advantage**: the mean of PSNR(own truth) - PSNR(mirrored truth),
dB. The PSNR table follows as a secondary figure: it rewards hedging (the average of the ``+a`` and
``-a`` truths scores above any single right answer on these scenes); ``--discrimination-only`` leaves it
out, which saves the identity-camera sampling (a third of the time).

    python benchmarks/bench_mini_quality.py --model runs/mini/checkpoints/step_0020000/model.safetensors
"""

from __future__ import annotations

import argparse
import math

import torch
import torch.nn.functional as F

from zeronvs_core.data.synthetic import camera_path, make_scene
from zeronvs_core.metrics import psnr, ssim
from zeronvs_core.model import load_zeronvs
from zeronvs_core.sampling import sample_views
from zeronvs_core.scene_scale import viewer_scale

ANGLES = (30.0, 60.0, 90.0)


def turned(c2w: torch.Tensor, centre, degrees: float) -> torch.Tensor:
    """``c2w [4,4]`` rotated by ``degrees`` about the vertical axis through ``centre``."""
    angle = math.radians(degrees)
    rotation = torch.eye(4)
    rotation[:2, :2] = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    shift = torch.eye(4)
    shift[:3, 3] = torch.as_tensor(centre, dtype=torch.float32)
    return shift @ rotation @ torch.linalg.inv(shift) @ c2w


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """``images [B,C,H,W]`` blurred by a separable Gaussian of ``sigma`` pixels (edges replicated)."""
    radius = int(3 * sigma) + 1
    kernel = torch.exp(-(torch.arange(-radius, radius + 1, dtype=images.dtype) ** 2) / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).expand(images.shape[1], 1, -1)
    padded = F.pad(images, (radius,) * 4, mode="replicate")
    rows = F.conv2d(padded, kernel[:, :, None, :], groups=images.shape[1])
    return F.conv2d(rows, kernel[:, :, :, None], groups=images.shape[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--config", default=None, help="LDM yaml for an official-layout file")
    parser.add_argument("--scenes", type=int, default=16)
    parser.add_argument("--first-seed", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--guidance", type=float, default=3.0)
    parser.add_argument("--eta", type=float, default=1.0)
    parser.add_argument("--supersample", type=int, default=2, help="rays per pixel side of the rendered views")
    parser.add_argument("--references", action="store_true", help="also print the two reference rows")
    parser.add_argument("--blur", type=float, default=4.0, help="sigma of the reference rows' blur, pixels")
    parser.add_argument(
        "--discrimination-only", action="store_true", help="skip the PSNR table (and its identity-camera sampling)"
    )
    args = parser.parse_args()
    model = load_zeronvs(args.model, config=args.config)
    size = model.config.resolution
    names = ["model", "copy", "identity camera"]
    names += ["blurred copy", "true layout, input detail"] if args.references else []
    scores = {name: {angle: [] for angle in ANGLES} for name in names}
    discrimination = {angle: [] for angle in ANGLES}
    sampling = {"steps": args.steps, "guidance_scale": args.guidance, "eta": args.eta}
    for seed in range(args.first_seed, args.first_seed + args.scenes):
        scene = make_scene("object", seed)
        cond_c2w = camera_path(scene, 8, seed)[0]
        cond = scene.render(cond_c2w, scene.fov_deg, size, args.supersample)[0]
        scale = viewer_scale(cond.depth[None])[0].item()
        image = cond.image[None]

        def sample(target_c2w: torch.Tensor, image=image, cond_c2w=cond_c2w, fov=scene.fov_deg, scale=scale, seed=seed):
            """Views for ``target_c2w``, every call from the same initial and per-step noise."""
            generator = torch.Generator().manual_seed(seed)
            views = sample_views(model, image, cond_c2w, target_c2w, fov, scale, **sampling, generator=generator)
            return views.cpu()

        targets = {sign: torch.stack([turned(cond_c2w, scene.target, sign * a) for a in ANGLES]) for sign in (1, -1)}
        truths = {
            sign: torch.stack([view.image for view in scene.render(c2w, scene.fov_deg, size, args.supersample)])
            for sign, c2w in targets.items()
        }
        samples = {sign: sample(c2w) for sign, c2w in targets.items()}
        for sign in (1, -1):
            for index, angle in enumerate(ANGLES):
                view = samples[sign][index : index + 1]
                own = psnr(view, truths[sign][index : index + 1]).item()
                mirrored = psnr(view, truths[-sign][index : index + 1]).item()
                discrimination[angle].append((own > mirrored, own - mirrored))
        if args.discrimination_only:
            continue
        truth = truths[1]
        predictions = {
            "model": samples[1],
            "copy": image.expand(len(ANGLES), -1, -1, -1),
            "identity camera": sample(cond_c2w.expand(len(ANGLES), 4, 4)),
        }
        if args.references:
            copies = predictions["copy"]
            predictions["blurred copy"] = gaussian_blur(copies, args.blur)
            layout = gaussian_blur(truth, args.blur) + copies - predictions["blurred copy"]
            predictions["true layout, input detail"] = layout.clamp(0, 1)
        for name, views in predictions.items():
            for index, angle in enumerate(ANGLES):
                pair = (views[index : index + 1].cpu(), truth[index : index + 1])
                scores[name][angle].append((psnr(*pair).item(), ssim(*pair).item()))
    print(
        f"model: {args.model}, {args.scenes} held-out object scenes from seed {args.first_seed}, "
        f"{args.steps} DDIM steps (guidance {args.guidance}, eta {args.eta}), {size}x{size}, "
        f"{args.supersample}x{args.supersample} rays a pixel"
    )
    print("angle  camera discrimination  own-target advantage")
    for angle in [*ANGLES, None]:
        rows = [row for a in ANGLES if angle in (None, a) for row in discrimination[a]]
        right = sum(row[0] for row in rows) / len(rows)
        advantage = sum(row[1] for row in rows) / len(rows)
        label = "all" if angle is None else f"{int(angle)} deg"
        print(f"{label:>6}  {100 * right:20.1f} %  {advantage:+17.2f} dB")
    print("(goal at 60 and 90 deg: discrimination >= 90 %, advantage >= +1.5 dB; chance is 50 %)")
    if args.discrimination_only:
        return
    width = max(len(name) for name in names)
    print(f"{'prediction':<{width}} " + "  ".join(f"{int(a):>2} deg PSNR / SSIM" for a in ANGLES) + "   mean PSNR")
    means = {}
    for name, by_angle in scores.items():
        cells, total = [], []
        for angle in ANGLES:
            values = torch.tensor(by_angle[angle])
            cells.append(f"{values[:, 0].mean():8.2f} / {values[:, 1].mean():.3f}")
            total.append(values[:, 0].mean().item())
        means[name] = sum(total) / len(total)
        print(f"{name:<{width}} " + "  ".join(f"{cell:>19}" for cell in cells) + f"   {means[name]:8.2f}")
    margin = means["model"] - max(means["copy"], means["identity camera"])
    print(f"model_margin_db: {margin:.2f} (secondary: PSNR over the copy and identity-camera baselines)")


if __name__ == "__main__":
    main()
