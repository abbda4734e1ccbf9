"""SDS distillation of a ZeroNVS model into a ``Scene`` (spec section 5), with optional anchoring.

- ``config``: ``DistillConfig``, ``PRESETS`` and ``preset(name, steps=None, **overrides)``, the one way a
  caller turns a preset name into a config;
- ``losses``: the SDS loss and the regularisers, with their weights as one mapping (``loss_weights``);
- ``checkpoint``: the checkpoint file (format ``zeronvs-distill-2``) and its photo and model fingerprints;
- ``run``: the state of one distillation and its training step; ``loop``: ``distill``, which drives it.

Every name the single module ``distill.py`` had is imported from here as before (``ProgressCallback`` is
``progress.ProgressCallback``, the callback shape of every loop).
"""

from ..progress import ProgressCallback
from .checkpoint import CHECKPOINT_NAME
from .config import OFFICIAL, PRESETS, DistillConfig, preset, with_steps
from .loop import distill
from .losses import loss_weights, sds_loss
from .run import GRAPH_OVERHEAD, READBACK_EVERY, DistillResult

__all__ = [
    "CHECKPOINT_NAME",
    "GRAPH_OVERHEAD",
    "OFFICIAL",
    "PRESETS",
    "READBACK_EVERY",
    "DistillConfig",
    "DistillResult",
    "ProgressCallback",
    "distill",
    "loss_weights",
    "preset",
    "sds_loss",
    "with_steps",
]
