"""Train or fine-tune a ZeroNVS diffusion model (spec section 7) with ``accelerate``.

    python training/train.py --config training/configs/mini_synthetic.yaml --output runs/mini
    accelerate launch training/train.py --config training/configs/official_finetune.yaml --output runs/ft

The recipe is the official one by default: AdamW (lr 1e-4, weight decay 0.01), ``cc_projection`` at 10x,
a 100-step linear warm-up, conditioning dropout 5%/5%/5% with the camera never dropped, an EMA of the
UNet (0.9999), the epsilon loss. The UNet and ``cc_projection`` train; the VAE and CLIP stay frozen.

Every ``checkpoint_every`` steps ``<output>/checkpoints/step_<N>/`` gets ``model.safetensors`` (the
project's format with the EMA UNet: ``load_zeronvs`` reads it) and ``training_state.pt`` (live weights,
optimiser, EMA, step, random state); ``--resume`` continues from the newest one. ``<output>/log.jsonl``
holds the loss per step and, on held-out pairs, the validation PSNR of DDIM novel views and two camera
probes (the loss with a shuffled and with a mirrored camera, ``camera_probes.py``; a resume drops
the records of steps done after the checkpoint it starts from). ``lr_decay_steps`` adds a half-cosine
decay of the LR to 0 over the last steps, which the official recipe does not have.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from zeronvs_core.data.pairs import collate_pairs
from zeronvs_core.data.synthetic_pairs import SyntheticPairs
from zeronvs_core.metrics import psnr
from zeronvs_core.model import ZeroNVSModel, load_zeronvs
from zeronvs_core.model.config import config_from_ldm, read_ldm_config
from zeronvs_core.sampling import sample_latents
from zeronvs_training.autoencoder import load_autoencoder
from zeronvs_training.camera_probes import camera_losses, relative_gain
from zeronvs_training.objective import EMA, batch_conditioning, cosine_decay_factor, diffusion_loss, warmup_factor
from zeronvs_training.run_dir import append_log, latest_checkpoint, resume_run, save_checkpoint, truncate_log, with_ema

PROBE_TIMESTEPS = (200, 500, 800)

__all__ = ["TrainConfig", "build_model", "load_config", "main", "train"]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training settings (official values where the spec gives them)."""

    datasets: tuple[dict[str, Any], ...] = ({"kind": "synthetic", "probability": 1.0, "n_scenes": 1000},)
    """Mixture: ``kind`` (synthetic, co3d, realestate10k, acid), ``probability``, reader arguments."""
    init: str | None = None
    """Checkpoint to fine-tune from (official ``.ckpt``/``.safetensors`` or the project's format)."""
    ldm_config: Any = None
    """LDM yaml (path or dict) of ``init`` or, without ``init``, of the architecture trained from scratch."""
    image_encoder: dict[str, Any] | None = None
    """``CLIPVisionConfig`` arguments of a from-scratch model (default: ViT-L/14)."""
    autoencoder: str | None = None
    """VAE of a from-scratch model, trained by ``training/autoencoder.py`` (its ``scale_factor`` replaces
    the config's); without it a from-scratch model keeps a random VAE."""
    batch_size: int = 48
    """Pairs per micro-batch and process."""
    gradient_accumulation: int = 1
    """Micro-batches per optimiser step (official: 4, for 48 x 8 GPUs x 4 = 1536 pairs a step)."""
    lr: float = 1e-4
    cc_projection_lr_scale: float = 10.0
    weight_decay: float = 0.01
    camera_film: bool = False
    """Give the model the extra camera path ``ZeroNVSConfig.camera_film`` (not ZeroNVS; issue 27), zero at
    start when ``init`` lacks it; it trains with ``cc_projection``'s LR and weight decay."""
    cc_projection_weight_decay: float | None = None
    """AdamW weight decay of ``cc_projection`` (``None``: ``weight_decay``). 0 stops the decay from holding
    down the camera columns whose gradient is weak (issue 27: the direction of the turn)."""
    direction_pairs: bool = False
    """Each micro-batch is ``batch_size / 2`` pairs and their twins (``SyntheticPairs.twin``: the same input,
    the target on the other side), twins with the same timestep, noise and dropout (``diffusion_loss``'s
    ``paired``); synthetic datasets only."""
    warmup_steps: int = 100
    lr_decay_steps: int = 0
    """Final steps (up to ``max_steps``) over which the LR falls to 0 along a half cosine; 0 keeps it constant
    after the warm-up, as the official recipe does."""
    dropout: float = 0.05
    snr_gamma: float | None = None
    """Min-SNR loss weighting (``diffusion_loss``); the official recipe has none."""
    x0_weight_cap: float | None = None
    """Truncated-SNR loss weighting ``min(1 / SNR(t), cap)`` (``diffusion_loss``); exclusive with
    ``snr_gamma``; the official recipe has none."""
    ema_decay: float = 0.9999
    max_steps: int = 25000
    checkpoint_every: int = 2500
    validate_every: int = 2500
    validation_pairs: int = 8
    """Held-out synthetic pairs (seeds after the training ones) scored by DDIM PSNR."""
    validation_ddim_steps: int = 50
    log_every: int = 10
    mixed_precision: str = "no"
    seed: int = 42

    def __post_init__(self):
        if self.snr_gamma is not None and self.x0_weight_cap is not None:
            raise ValueError("snr_gamma and x0_weight_cap are two loss weightings: give one")
        if self.direction_pairs and self.batch_size % 2:
            raise ValueError(f"direction_pairs needs an even batch_size, got {self.batch_size}")
        if not 0 <= self.lr_decay_steps <= self.max_steps:
            raise ValueError(
                f"lr_decay_steps must be between 0 and max_steps ({self.max_steps}), got {self.lr_decay_steps}"
            )


def load_config(path: str | Path, **overrides) -> TrainConfig:
    """A ``TrainConfig`` from a yaml file, with keyword overrides; unknown keys are an error."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    data.update({key: value for key, value in overrides.items() if value is not None})
    known = {field.name for field in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown training settings {unknown}; known: {sorted(known)}")
    if "datasets" in data:
        data["datasets"] = tuple(data["datasets"])
    for key in ("ldm_config", "autoencoder", "init"):
        if isinstance(data.get(key), str):
            data[key] = os.path.normpath(Path(path).parent.absolute() / data[key])
    try:
        return TrainConfig(**data)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def build_model(config: TrainConfig) -> ZeroNVSModel:
    """The model to train: loaded from ``init`` (a Zero-1-to-3 ``cc_projection`` is widened to the camera
    vector of ``ldm_config``'s mode), or built from ``ldm_config`` with the official ``cc_projection``
    initialisation (identity on the CLIP block, zero bias). ``autoencoder``, when given, replaces the VAE
    and its ``scale_factor`` in either case (e.g. to fine-tune a model onto a retrained VAE)."""
    if config.init is not None:
        if not Path(config.init).is_file():
            raise FileNotFoundError(
                f"init: no weight file at {config.init} (the checkpoint this config fine-tunes; the model card "
                "says which earlier stage's run writes it)"
            )
        model = load_zeronvs(config.init, config=config.ldm_config, widen_camera_projection=True)
    else:
        model = _from_scratch(config)
    if config.autoencoder is not None:
        vae_weights, scale_factor = load_autoencoder(config.autoencoder)
        model.vae.load_state_dict(vae_weights)
        model.config = dataclasses.replace(model.config, scale_factor=scale_factor)
    if config.camera_film and not model.config.camera_film:
        model = _with_camera_film(model)
    return model


def _with_camera_film(model: ZeroNVSModel) -> ZeroNVSModel:
    """``model`` with a zero ``camera_film`` added (``ZeroNVSConfig.camera_film``): the same outputs."""
    widened = ZeroNVSModel(dataclasses.replace(model.config, camera_film=True))
    missing, unexpected = widened.load_state_dict(model.state_dict(), strict=False)
    if unexpected or sorted(missing) != ["camera_film.bias", "camera_film.weight"]:
        raise RuntimeError(f"adding camera_film: unexpected keys {unexpected}, missing {missing}")
    return widened


def _from_scratch(config: TrainConfig) -> ZeroNVSModel:
    """A random model of ``ldm_config`` (and ``image_encoder``) with the official ``cc_projection`` init."""
    model_config = config_from_ldm(read_ldm_config(config.ldm_config))
    if config.image_encoder is not None:
        model_config = dataclasses.replace(
            model_config, image_encoder={**model_config.image_encoder, **config.image_encoder}
        )
    model = ZeroNVSModel(model_config)
    with torch.no_grad():
        width = model_config.clip_dim
        model.cc_projection.weight[:, :width] = torch.eye(model_config.context_dim, width)
        model.cc_projection.bias.zero_()
    return model


def _datasets(config: TrainConfig, size: int) -> tuple[list, torch.Tensor]:
    datasets, weights = [], []
    for spec in config.datasets:
        spec = dict(spec)
        kind, probability = spec.pop("kind"), float(spec.pop("probability"))
        if kind == "synthetic":
            datasets.append(SyntheticPairs(size=size, **spec))
        elif kind == "co3d":
            from zeronvs_core.data.co3d import CO3DPairs

            datasets.append(CO3DPairs(size=size, **spec))
        elif kind in ("realestate10k", "acid"):
            from zeronvs_core.data.realestate10k import RealEstate10KPairs

            datasets.append(RealEstate10KPairs(size=size, **spec))
        else:
            raise ValueError(f"unknown dataset kind {kind!r}; expected synthetic, co3d, realestate10k or acid")
        weights.append(probability)
    return datasets, torch.tensor(weights, dtype=torch.float64)


def _sample_batch(
    datasets, weights, batch_size: int, generator: torch.Generator, paired: bool = False
) -> dict[str, torch.Tensor]:
    """A batch whose every element draws its dataset by ``weights``, then a uniform item of it. ``paired``:
    ``batch_size / 2`` such items (redrawn until they have a twin) followed by their twins (``twin``)."""
    choices = torch.multinomial(weights, batch_size // 2 if paired else batch_size, True, generator=generator)
    pairs, twins = [], []
    for choice in choices.tolist():
        dataset = datasets[choice]
        if paired and not hasattr(dataset, "twin"):
            raise ValueError(f"direction_pairs needs synthetic datasets, got {type(dataset).__name__}")
        while True:
            index = int(torch.randint(len(dataset), (1,), generator=generator))
            twin = dataset.twin(index) if paired else None
            if not paired or twin is not None:
                break
        pairs.append(dataset[index])
        twins += [twin] if paired else []
    return collate_pairs(pairs + twins)


def _validation(model: ZeroNVSModel, pairs: list, steps: int) -> dict[str, float]:
    """The validation record of held-out ``pairs``: ``val_psnr``, the mean PSNR of DDIM novel views
    (guidance 3, eta 1, fixed seed) against the targets, and two camera probes
    (``camera_probes.camera_losses`` at t = 200, 500, 800): ``val_camera_use``, the relative rise of the
    epsilon loss with a shuffled camera, and ``val_direction_use``, with the mirrored camera (the same
    |angle|, the other direction)."""
    batch = collate_pairs(pairs)
    losses = camera_losses(model, batch, PROBE_TIMESTEPS)
    return {
        "val_psnr": _validation_psnr(model, batch, steps),
        "val_camera_use": relative_gain(losses, "shuffled"),
        "val_direction_use": relative_gain(losses, "mirrored"),
    }


def _validation_psnr(model: ZeroNVSModel, batch: dict[str, torch.Tensor], steps: int) -> float:
    """Mean PSNR of DDIM novel views (guidance 3, eta 1, fixed seed) against the batch's target images."""
    clip, concat, camera = batch_conditioning(model, batch)
    with torch.no_grad():
        context = model.context(clip, camera)
        latents = sample_latents(
            model, context, concat, steps=steps, guidance_scale=3.0, eta=1.0, generator=torch.Generator().manual_seed(0)
        )
        views = (model.decode(latents) * 0.5 + 0.5).clamp(0, 1).cpu()
    return psnr(views, batch["target_image"]).mean().item()


def train(config: TrainConfig, output: str | Path, resume: bool = False, log=print) -> Path:
    """Run training; returns the directory of the last checkpoint written."""
    from accelerate import Accelerator

    output = Path(output)
    accelerator = Accelerator(mixed_precision=config.mixed_precision, cpu=not torch.cuda.is_available())
    model = build_model(config).to(accelerator.device).train()
    model.requires_grad_(False)
    model.unet.requires_grad_(True)
    model.cc_projection.requires_grad_(True)
    if model.config.camera_film:
        model.camera_film.requires_grad_(True)
    optimizer = _optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: (
            warmup_factor(step, config.warmup_steps)
            * cosine_decay_factor(step, config.max_steps, config.lr_decay_steps)
        ),
    )
    ema = EMA(model.unet, config.ema_decay)
    generator = torch.Generator().manual_seed(config.seed + accelerator.process_index)
    datasets, weights = _datasets(config, model.config.resolution)
    validation = _validation_set(config, model.config.resolution)
    step = 0
    if resume:
        step = resume_run(output, model, optimizer, scheduler, ema, generator, log)
        if accelerator.is_main_process:
            truncate_log(output, step)
    forward, optimizer = accelerator.prepare(model, optimizer)
    last = None
    while step < config.max_steps:
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = torch.zeros((), device=accelerator.device)
        for _ in range(config.gradient_accumulation):
            batch = _sample_batch(datasets, weights, config.batch_size, generator, config.direction_pairs)
            micro = diffusion_loss(
                model,
                batch,
                generator,
                config.dropout,
                forward=forward,
                snr_gamma=config.snr_gamma,
                x0_weight_cap=config.x0_weight_cap,
                paired=config.direction_pairs,
            )
            accelerator.backward(micro / config.gradient_accumulation)
            loss = loss + micro.detach() / config.gradient_accumulation
        optimizer.step()
        scheduler.step()
        ema.update(model.unet)
        step += 1
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"the loss became {loss.item()} at step {step}")
        record = {
            "step": step,
            "loss": loss.item(),
            "lr": scheduler.get_last_lr()[0],
            "seconds": time.perf_counter() - start,
        }
        if validation and (step % config.validate_every == 0 or step == config.max_steps):
            record.update(with_ema(model, ema, lambda: _validation(model, validation, config.validation_ddim_steps)))
        if accelerator.is_main_process:
            append_log(output, record)
            if step % config.log_every == 0 or "val_psnr" in record:
                log(json.dumps(record))
            if step % config.checkpoint_every == 0 or step == config.max_steps:
                last = save_checkpoint(output, step, model, optimizer, scheduler, ema, generator)
    return last if last is not None else latest_checkpoint(output)


def _optimizer(model: ZeroNVSModel, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW over the UNet (``lr``) and the camera layers, ``cc_projection`` and ``camera_film`` when the
    model has it (``lr x cc_projection_lr_scale``, their own weight decay when
    ``cc_projection_weight_decay`` is set)."""
    decay = config.weight_decay if config.cc_projection_weight_decay is None else config.cc_projection_weight_decay
    camera_layers = [*model.cc_projection.parameters()]
    if model.config.camera_film:
        camera_layers += model.camera_film.parameters()
    return torch.optim.AdamW(
        [
            {"params": model.unet.parameters(), "lr": config.lr},
            {
                "params": camera_layers,
                "lr": config.lr * config.cc_projection_lr_scale,
                "weight_decay": decay,
            },
        ],
        lr=config.lr,
        weight_decay=config.weight_decay,
    )


def _validation_set(config: TrainConfig, size: int) -> list:
    synthetic = [spec for spec in config.datasets if spec["kind"] == "synthetic"]
    if not synthetic or config.validation_pairs < 1:
        return []
    spec = synthetic[0]
    first_unused = spec.get("first_seed", 0) + spec["n_scenes"] + 1000
    shape = {key: spec[key] for key in ("kinds", "views_per_scene", "supersample") if key in spec}
    held_out = SyntheticPairs(config.validation_pairs, first_seed=first_unused, size=size, pairs_per_scene=1, **shape)
    return [held_out[i] for i in range(len(held_out))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train or fine-tune a ZeroNVS diffusion model.")
    parser.add_argument("--config", required=True, help="training yaml (see training/configs/)")
    parser.add_argument("--output", required=True, help="run directory: log.jsonl and checkpoints/")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --output")
    parser.add_argument("--max-steps", type=int, default=None, help="override max_steps")
    parser.add_argument("--batch-size", type=int, default=None, help="override batch_size")
    parser.add_argument("--init", default=None, help="override init (checkpoint to fine-tune from)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, max_steps=args.max_steps, batch_size=args.batch_size, init=args.init)
        last = train(config, args.output, resume=args.resume)
    except (FileNotFoundError, ValueError) as error:
        print(f"train.py: error: {error}", file=sys.stderr)
        return 2
    print(f"last checkpoint: {last}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
