"""Distillation checkpoints (format ``zeronvs-distill-2``): one ``torch.save`` file, read back with
``weights_only=True``, that records the config, the camera settings and the SHA-256 of the photo
(``fingerprint.photo_sha256``) and of the model's weights (``fingerprint.weights_sha256``) beside the run's
state, so a resume with anything else is refused with a message naming what differs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_NAME", "read_checkpoint", "write_checkpoint"]

CHECKPOINT_NAME = "last.ckpt"
CHECKPOINT_FORMAT = "zeronvs-distill-2"


def write_checkpoint(path: Path, config_json: str, inputs: dict[str, float], fingerprints: dict[str, str], state):
    """Write ``state`` (a dict of tensors, numbers, strings and ``state_dict``s) with the format, the config
    (``DistillConfig.to_json``), the camera settings ``inputs`` and the ``fingerprints`` to ``path``,
    atomically (through a temporary file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "format": CHECKPOINT_FORMAT,
        "config": config_json,
        "inputs": json.dumps(inputs),
        "fingerprints": json.dumps(fingerprints),
        **state,
    }
    temporary = path.with_suffix(".tmp")
    torch.save(record, temporary)
    temporary.replace(path)


def read_checkpoint(path: Path, device, config_json: str, inputs: dict[str, float], fingerprints: dict[str, str]):
    """The state dict written by ``write_checkpoint`` (tensors on ``device``), after checking it was written
    with this config, these camera settings, this photo and this model.

    Raises:
        ValueError: not a checkpoint of this format, or another config, camera, photo or model (named).
    """
    state = torch.load(path, map_location=device, weights_only=True)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a distillation checkpoint of this version")
    if state["config"] != config_json:
        raise ValueError(f"{path} was written with another distillation config; resume with the same one")
    recorded = json.loads(state["inputs"])
    if any(not math.isclose(recorded[key], inputs[key]) for key in inputs):
        raise ValueError(f"{path} was written for other camera settings {recorded}; resume with the same ones")
    _check_fingerprints(path, json.loads(state["fingerprints"]), fingerprints)
    return state


def _check_fingerprints(path: Path, recorded: dict[str, str], mine: dict[str, str]) -> None:
    """Raise unless the checkpoint at ``path`` was written for this photo and this model."""
    what = {"photo_sha256": "photo (its pixels differ)", "model_sha256": "model (its weights differ)"}
    for key, description in what.items():
        if recorded[key] != mine[key]:
            raise ValueError(
                f"{path} was written for another {description}: sha256 {recorded[key][:12]}... then, "
                f"{mine[key][:12]}... now; resume with the same one, or start afresh"
            )
