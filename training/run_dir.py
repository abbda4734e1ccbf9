"""A training run's directory: ``log.jsonl`` (one JSON record per step) and ``checkpoints/step_NNNNNNN/``
with ``model.safetensors`` (the EMA weights, loadable by ``load_zeronvs``) and ``training_state.pt`` (trained
weights, optimiser, LR scheduler, EMA and generator state, read back with ``weights_only=True``)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from zeronvs_core.model import ZeroNVSModel, save_zeronvs
from zeronvs_training.objective import EMA

__all__ = ["append_log", "latest_checkpoint", "resume_run", "save_checkpoint", "truncate_log", "with_ema"]


def with_ema(model: ZeroNVSModel, ema: EMA, function):
    """Run ``function`` with the EMA weights in the UNet, then put the live ones back."""
    live = {name: p.detach().clone() for name, p in model.unet.named_parameters()}
    ema.copy_to(model.unet)
    model.eval()
    try:
        return function()
    finally:
        model.train()
        with torch.no_grad():
            for name, parameter in model.unet.named_parameters():
                parameter.copy_(live[name])


def append_log(output: Path, record: dict) -> None:
    """Append ``record`` as one JSON line to ``output/log.jsonl``."""
    output.mkdir(parents=True, exist_ok=True)
    with (output / "log.jsonl").open("a") as stream:
        stream.write(json.dumps(record) + "\n")


def save_checkpoint(output: Path, step: int, model, optimizer, scheduler, ema, generator) -> Path:
    """Write ``checkpoints/step_NNNNNNN/`` for ``step`` (layout in the module docstring); returns that folder."""
    directory = output / "checkpoints" / f"step_{step:07d}"
    directory.mkdir(parents=True, exist_ok=True)
    trained = {
        name: value.detach().clone()
        for name, value in model.state_dict().items()
        if name.startswith(("unet.", "cc_projection."))
    }
    with_ema(model, ema, lambda: save_zeronvs(model, directory / "model.safetensors", dtype=torch.float32))
    torch.save(
        {
            "step": step,
            "trained": trained,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "ema": ema.state_dict(),
            "generator": generator.get_state(),
        },
        directory / "training_state.pt",
    )
    return directory


def latest_checkpoint(output: Path) -> Path | None:
    """The newest ``checkpoints/step_*`` folder holding a ``training_state.pt``, or None."""
    found = sorted((output / "checkpoints").glob("step_*/training_state.pt"))
    return found[-1].parent if found else None


def resume_run(output: Path, model, optimizer, scheduler, ema, generator, log) -> int:
    """Load the newest checkpoint's state into the given objects; returns its step (0 when there is none)."""
    directory = latest_checkpoint(output)
    if directory is None:
        log(f"no checkpoint under {output / 'checkpoints'}: starting from step 0")
        return 0
    state = torch.load(directory / "training_state.pt", map_location=model.device, weights_only=True)
    model.load_state_dict(state["trained"], strict=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    ema.load_state_dict(state["ema"])
    generator.set_state(state["generator"].cpu())
    log(f"resumed from {directory} at step {state['step']}")
    return int(state["step"])


def truncate_log(output: Path, step: int) -> None:
    """Drop the log records after ``step``: those of steps that a stopped run did after its last checkpoint,
    which the resumed run does again."""
    path = output / "log.jsonl"
    if path.exists():
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join(line for line in lines if json.loads(line)["step"] <= step))
