"""The ZeroNVS diffusion model: ``ZeroNVSModel``, its config, and checkpoint loading and saving."""

from ..tensor_files import CheckpointError
from .config import ZeroNVSConfig
from .demo import DEMO_MODEL_NAME, demo_model_path, resolve_model_path
from .loading import inference_dtype, load_zeronvs, save_zeronvs
from .zeronvs import ZeroNVSModel

__all__ = [
    "DEMO_MODEL_NAME",
    "CheckpointError",
    "ZeroNVSConfig",
    "ZeroNVSModel",
    "demo_model_path",
    "inference_dtype",
    "load_zeronvs",
    "resolve_model_path",
    "save_zeronvs",
]
