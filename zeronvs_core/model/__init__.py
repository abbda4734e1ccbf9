"""The ZeroNVS diffusion model: ``ZeroNVSModel``, its config, and checkpoint loading and saving."""

from .config import ZeroNVSConfig
from .files import CheckpointError
from .loading import load_zeronvs, save_zeronvs
from .zeronvs import ZeroNVSModel

__all__ = ["CheckpointError", "ZeroNVSConfig", "ZeroNVSModel", "load_zeronvs", "save_zeronvs"]
